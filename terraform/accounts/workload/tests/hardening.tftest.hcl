# The workload root's switches: invocation logging and the audit trail on by default, private access off;
# private access on makes the API PRIVATE and puts the functions in the VPC. Needs build/lambda (make lambda-zip).

run "logging_on_private_access_off_by_default" {
  command = plan

  assert {
    condition     = length(module.invocation_logging) == 1 && length(module.private_access) == 0 && output.invocation_logs.prefix == "bedrock/AWSLogs/111111111111/BedrockModelInvocationLogs/us-east-1"
    error_message = "The example account logs invocations (S3) and has a public REGIONAL API."
  }
}

run "private_access_switches_on" {
  command = plan

  variables {
    private_access = {
      vpc_id             = "vpc-123"
      subnet_ids         = ["subnet-a", "subnet-b"]
      route_table_ids    = ["rtb-a"]
      client_cidr_blocks = ["10.20.0.0/16"]
    }
    invocation_logging = { enabled = false }
  }

  assert {
    condition     = length(module.private_access) == 1 && length(module.invocation_logging) == 0 && output.invocation_logs == null
    error_message = "private_access creates the endpoints; invocation logging switches off per account."
  }
}

run "a_shared_sagemaker_endpoint_reaches_the_gateway" {
  command = plan

  variables {
    sagemaker = {
      shared_endpoints = {
        "shared-llm" = {
          model_name             = "llama-3-1-8b"
          instance_type          = "ml.g5.xlarge"
          tenants                = ["sales", "services"]
          input_per_million_usd  = "0.20"
          output_per_million_usd = "0.80"
          max_output_tokens      = 2048
        }
      }
    }
  }

  assert {
    condition     = module.sagemaker_endpoints.endpoint_arns["shared-llm"] == "arn:aws:sagemaker:us-east-1:111111111111:endpoint/cost-sentry-shared-shared-llm"
    error_message = "The shared endpoint is created, named for the account, and handed to the gateway."
  }
}
