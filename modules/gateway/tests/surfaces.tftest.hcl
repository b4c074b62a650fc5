# The SDK surfaces: routes under /model/{modelId} and /v1, one authorizer for every route (the key from
# x-api-key or Bearer, checked by API Gateway against the tenants' keys and usage plans), streaming
# integrations to the streaming function, which runs as the gateway's role.

variables {
  name_prefix        = "cs"
  known_models       = ["claude-3-haiku", "claude-3-5-haiku", "nova-lite", "nova-micro", "claude-sonnet-4"]
  account_id         = "111111111111"
  region             = "us-east-1"
  environment        = "prod"
  budget_name_prefix = "cs"
  budget_topic_arn   = "arn:aws:sns:us-east-1:111111111111:cs-budget-alerts"
  lambda_package = {
    filename         = "cost_sentry.zip"
    source_code_hash = "0d+WDTW+XEECHEOW5iZZeh/d5OWuPbTvD6y6tcJUvkI="
  }
  tenants = {
    sales = {
      application_id = "sales-assistant"
      cost_center    = "sales"
      models         = ["claude-3-haiku", "nova-micro"]
      budget         = { limit_usd = 0.5 }
      limits         = { requests_per_minute = 600 }
    }
    services = {
      application_id = "services-copilot"
      cost_center    = "services"
      models         = ["claude-3-haiku", "claude-3-5-haiku", "nova-lite"]
      model_aliases  = { fast = "nova-lite" }
      budget         = { limit_usd = 1 }
    }
    support = {
      application_id = "support-bot"
      cost_center    = "support"
      environment    = "staging"
      models         = ["nova-micro", "nova-lite"]
      budget         = { limit_usd = 0.25, period = "DAILY", block_at_actual = 100 }
      limits         = { requests_per_minute = 300, tokens_per_period = 400000 }
    }
  }
  profile_arns = {
    sales = {
      "claude-3-haiku" = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/sales1"
      "nova-micro"     = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/sales2"
    }
    services = {
      "claude-3-haiku"   = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/svc1"
      "claude-3-5-haiku" = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/svc2"
      "nova-lite"        = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/svc3"
    }
    support = {
      "nova-micro" = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/sup1"
      "nova-lite"  = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/sup2"
    }
    legal = {
      "claude-sonnet-4" = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/legal1"
    }
  }
  underlying_model_arns = {
    sales    = ["arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0"]
    services = ["arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", "arn:aws:bedrock:*::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0", "arn:aws:bedrock:us-east-1:111111111111:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"]
    support  = ["arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"]
    legal    = ["arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0"]
  }
}

# The tenants come normalized from modules/tenants, as in gateway.tftest.hcl.
run "contract" {
  command = plan

  module {
    source = "../tenants"
  }
}

run "surfaces_stream_through_one_authorizer" {
  command = plan

  variables {
    tenants = run.contract.tenants
  }

  assert {
    condition     = aws_api_gateway_rest_api.this.api_key_source == "AUTHORIZER"
    error_message = "The key must come from the authorizer, so Bearer keys reach the usage plans too."
  }

  assert {
    condition     = sort(keys(aws_api_gateway_method.surface)) == sort(["anthropic_messages", "bedrock_converse", "bedrock_converse_stream", "bedrock_invoke", "bedrock_invoke_stream", "openai_chat", "openai_models"])
    error_message = "Every SDK surface needs its route."
  }

  assert {
    condition     = alltrue([for method in values(aws_api_gateway_method.surface) : method.authorization == "CUSTOM" && method.api_key_required]) && alltrue([for method in values(aws_api_gateway_method.route) : method.authorization == "CUSTOM" && method.api_key_required])
    error_message = "Every route, the seed's included, must go through the authorizer and require the key."
  }

  assert {
    condition     = alltrue([for integration in values(aws_api_gateway_integration.surface) : integration.response_transfer_mode == "STREAM" && integration.type == "AWS_PROXY"])
    error_message = "The SDK surfaces must stream their responses."
  }

  assert {
    condition     = aws_api_gateway_integration.route["converse_stream"].response_transfer_mode == "STREAM" && aws_api_gateway_integration.route["converse"].response_transfer_mode == "BUFFERED" && aws_api_gateway_integration.route["budget"].response_transfer_mode == "BUFFERED"
    error_message = "The seed's /v1/converse-stream streams too; /v1/converse and /v1/budget answer in one body."
  }

  assert {
    condition     = aws_lambda_function.stream.environment[0].variables["AWS_LAMBDA_EXEC_WRAPPER"] == "/var/task/cost_sentry/handlers/stream_bootstrap.sh" && aws_lambda_function.stream.environment[0].variables["LEDGER_TABLE"] == aws_lambda_function.this["gateway"].environment[0].variables["LEDGER_TABLE"]
    error_message = "The streaming function must run the streaming runtime loop over the same tables."
  }

  assert {
    condition     = aws_api_gateway_resource.model_id.path_part == "{modelId}" && aws_api_gateway_resource.model_action["converse_stream"].path_part == "converse-stream" && aws_api_gateway_resource.chat_completions.path_part == "completions"
    error_message = "The native Bedrock and OpenAI paths must be exactly the SDKs' own."
  }

  assert {
    condition     = aws_api_gateway_authorizer.this.type == "REQUEST" && aws_api_gateway_authorizer.this.authorizer_result_ttl_in_seconds == 0 && aws_lambda_function.authorizer.handler == "cost_sentry.handlers.authorizer.handler"
    error_message = "One uncached REQUEST authorizer reads the key for every surface."
  }

  assert {
    condition     = strcontains(aws_api_gateway_gateway_response.unauthorized.response_templates["application/json"], "authentication_error") && strcontains(aws_api_gateway_gateway_response.unauthorized.response_templates["application/json"], "UnrecognizedClientException") && aws_api_gateway_gateway_response.unauthorized.status_code == "401"
    error_message = "A wrong or missing key must be a 401 in each surface's shape."
  }
}

run "stream_concurrency_is_validated" {
  command = plan

  variables {
    tenants                     = run.contract.tenants
    stream_reserved_concurrency = 0.5
  }

  expect_failures = [var.stream_reserved_concurrency]
}
