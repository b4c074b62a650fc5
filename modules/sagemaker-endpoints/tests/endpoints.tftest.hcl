# Dedicated endpoints carry their tenant's cost allocation tags; shared ones are marked shared and hand
# the gateway their rates and tenants.

variables {
  name_prefix = "cs"
  account_id  = "111111111111"
  region      = "us-east-1"
  tenants = {
    sales    = { application_id = "sales-assistant", cost_center = "sales", environment = "prod" }
    services = { application_id = "services-copilot", cost_center = "services", environment = "prod" }
  }
  dedicated_endpoints = {
    forecaster = { tenant = "sales", model_name = "sales-forecaster", instance_type = "ml.m5.large" }
  }
  shared_endpoints = {
    "shared-llm" = {
      model_name             = "llama-3-1-8b"
      instance_type          = "ml.g5.xlarge"
      tenants                = ["services", "sales"]
      input_per_million_usd  = "0.20"
      output_per_million_usd = "0.80"
      max_output_tokens      = 2048
    }
  }
}

run "dedicated_endpoints_are_tagged_like_the_tenants_profiles" {
  command = plan

  assert {
    condition     = aws_sagemaker_endpoint.this["forecaster"].name == "cs-sales-forecaster" && aws_sagemaker_endpoint.this["forecaster"].tags["applicationId"] == "sales-assistant" && aws_sagemaker_endpoint.this["forecaster"].tags["costCenter"] == "sales" && aws_sagemaker_endpoint.this["forecaster"].tags["environment"] == "prod"
    error_message = "A dedicated endpoint carries its tenant's applicationId, costCenter and environment."
  }

  assert {
    condition     = aws_sagemaker_endpoint_configuration.this["forecaster"].tags["applicationId"] == "sales-assistant" && aws_sagemaker_endpoint_configuration.this["forecaster"].production_variants[0].instance_type == "ml.m5.large"
    error_message = "Its configuration is tagged the same way."
  }

  assert {
    condition     = aws_sagemaker_endpoint.this["shared-llm"].tags["costSentryShared"] == "shared-llm" && !contains(keys(aws_sagemaker_endpoint.this["shared-llm"].tags), "applicationId")
    error_message = "A shared endpoint is marked shared and belongs to no single tenant."
  }

  assert {
    condition = jsonencode(output.gateway_shared_endpoints["shared-llm"]) == jsonencode({
      endpoint_name          = "cs-shared-shared-llm"
      endpoint_arn           = "arn:aws:sagemaker:us-east-1:111111111111:endpoint/cs-shared-shared-llm"
      input_per_million_usd  = "0.20"
      output_per_million_usd = "0.80"
      max_output_tokens      = 2048
      tenants                = ["sales", "services"]
      served_model           = null
    })
    error_message = "The gateway gets the endpoint's name, ARN, rates and tenants."
  }
}

run "an_unknown_tenant_is_refused" {
  command = plan

  variables {
    dedicated_endpoints = { x = { tenant = "legal", model_name = "m", instance_type = "ml.m5.large" } }
  }

  expect_failures = [var.dedicated_endpoints]
}

run "a_float_rate_is_refused" {
  command = plan

  variables {
    shared_endpoints = { s = { model_name = "m", instance_type = "ml.g5.xlarge", tenants = ["sales"], input_per_million_usd = "cheap", output_per_million_usd = "1", max_output_tokens = 10 } }
  }

  expect_failures = [var.shared_endpoints]
}
