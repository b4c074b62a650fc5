output "profile_arns" {
  description = "Tenant id -> model short name -> application inference profile ARN."
  value = {
    for tenant_id, tenant in var.tenants : tenant_id => {
      for model in tenant.models : model => aws_bedrock_inference_profile.this["${tenant_id}/${model}"].arn
    }
  }
}

output "profile_ids" {
  description = "Tenant id -> model short name -> profile id (the last part of the ARN; the ModelId dimension of AWS/Bedrock metrics for calls through the profile)."
  value = {
    for tenant_id, tenant in var.tenants : tenant_id => {
      for model in tenant.models : model => element(split("/", aws_bedrock_inference_profile.this["${tenant_id}/${model}"].arn), 1)
    }
  }
}

output "underlying_model_arns" {
  description = "Tenant id -> ARNs behind the tenant's profiles (system profiles and foundation models) that IAM must also allow; use only with a bedrock:InferenceProfileArn condition."
  value = {
    for tenant_id, tenant in var.tenants : tenant_id => sort(distinct(flatten([
      for model in tenant.models : lookup(local.underlying_arns, model, [])
    ])))
  }
}

output "profile_keys" {
  description = "The stable `<tenant>/<model>` keys of the profiles (what the tests count)."
  value       = sort(keys(aws_bedrock_inference_profile.this))
}
