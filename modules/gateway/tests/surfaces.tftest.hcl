# The SDK surfaces: routes under /model/{modelId} and /v1, one authorizer for every route (the key from
# x-api-key or Bearer, checked by API Gateway against the tenants' keys and usage plans), streaming
# integrations to the streaming function, which runs as the gateway's role.

# Variables: tests/terraform.tfvars (shared by the module's test files). The tenants come normalized
# from modules/tenants, as in gateway.tftest.hcl.
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
    condition     = aws_api_gateway_integration.route["converse_stream"].response_transfer_mode == "STREAM" && aws_api_gateway_integration.route["converse"].response_transfer_mode == "STREAM" && aws_api_gateway_integration.route["budget"].response_transfer_mode == "BUFFERED"
    error_message = "The seed's model routes run in the streaming integration (no 29 s cut-off); /v1/budget answers buffered."
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
