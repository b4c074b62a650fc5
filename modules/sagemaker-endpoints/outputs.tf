output "endpoint_names" {
  description = "Short name -> SageMaker endpoint name."
  value       = { for key, endpoint in aws_sagemaker_endpoint.this : key => endpoint.name }
}

output "endpoint_arns" {
  description = "Short name -> endpoint ARN."
  value       = local.endpoint_arns
}

output "endpoint_tags" {
  description = "Short name -> the cost allocation tags of the endpoint (a tenant's, or costSentryShared)."
  value       = local.endpoint_tags
}

output "gateway_shared_endpoints" {
  description = "The gateway module's sagemaker_shared_endpoints (SAGEMAKER_ENDPOINTS of the gateway function)."
  value = {
    for key, e in var.shared_endpoints : key => {
      endpoint_name          = local.endpoints[key].name
      endpoint_arn           = local.endpoint_arns[key]
      input_per_million_usd  = e.input_per_million_usd
      output_per_million_usd = e.output_per_million_usd
      max_output_tokens      = e.max_output_tokens
      tenants                = sort(e.tenants)
      served_model           = e.served_model
    }
  }
}
