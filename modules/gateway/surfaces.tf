# The SDK surfaces (docs/design.md section 7): native Bedrock runtime, OpenAI Chat Completions and
# Anthropic Messages, each on its own routes, all through the one gateway code and the same key check
# (authorizer.tf). Their integrations (and the seed's /v1/converse-stream, api.tf) stream: API Gateway REST response streaming
# (response_transfer_mode = STREAM, InvokeWithResponseStream) to a second function built from the same
# zip and running as the gateway's own role, whose runtime loop streams
# (cost_sentry/handlers/stream_runtime.py, started by AWS_LAMBDA_EXEC_WRAPPER).

locals {
  stream_function_name = "${var.name_prefix}-gateway-stream"
  # API Gateway waits at most 300 s for an integration (the provider refuses more), so the streaming
  # function, which answers every model route, never runs longer than its callers can wait.
  stream_timeout = min(var.max_request_seconds, 300)
  # The function's response-streaming invocation path (what the provider's response_streaming_invoke_arn
  # is in 6.x), spelled out so the module also validates with provider 5.100.
  stream_invoke_uri = "arn:${var.partition}:apigateway:${var.region}:lambda:path/2021-11-15/functions/${aws_lambda_function.stream.arn}/response-streaming-invocations"

  # Paths under /v1 (next to the seed's routes) and under /model/{modelId} (Bedrock's own layout).
  v1_resources = {
    chat     = "chat"
    models   = "models"
    messages = "messages"
  }
  model_actions = {
    converse        = "converse"
    converse_stream = "converse-stream"
    invoke          = "invoke"
    invoke_stream   = "invoke-with-response-stream"
  }
  surface_routes = {
    bedrock_converse        = { resource_id = aws_api_gateway_resource.model_action["converse"].id, http_method = "POST" }
    bedrock_converse_stream = { resource_id = aws_api_gateway_resource.model_action["converse_stream"].id, http_method = "POST" }
    bedrock_invoke          = { resource_id = aws_api_gateway_resource.model_action["invoke"].id, http_method = "POST" }
    bedrock_invoke_stream   = { resource_id = aws_api_gateway_resource.model_action["invoke_stream"].id, http_method = "POST" }
    openai_chat             = { resource_id = aws_api_gateway_resource.chat_completions.id, http_method = "POST" }
    openai_models           = { resource_id = aws_api_gateway_resource.surface_v1["models"].id, http_method = "GET" }
    anthropic_messages      = { resource_id = aws_api_gateway_resource.surface_v1["messages"].id, http_method = "POST" }
  }

  # A wrong or missing key: a 401 in the error shape of the surface the path belongs to (the local
  # stack's front answers the same; see scripts/testbed/local_stack.py).
  surface_invalid_key_message = "Missing or invalid API key: send the tenant's key as x-api-key or Authorization: Bearer <key>."
  invalid_key_template        = <<-VTL
    #set($path = $context.resourcePath)
    #if($path.startsWith("/model/"))
    {"__type":"UnrecognizedClientException","message":"${local.surface_invalid_key_message}"}
    #elseif($path == "/v1/chat/completions" || $path == "/v1/models")
    {"error":{"message":"${local.surface_invalid_key_message}","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}
    #elseif($path == "/v1/messages")
    {"type":"error","error":{"type":"authentication_error","message":"${local.surface_invalid_key_message}"}}
    #else
    {"error":{"code":"invalid_api_key","message":"Missing or invalid API key: send the tenant's key in the x-api-key header.","requestId":"$context.requestId"}}
    #end
  VTL

  surface_deployment_hash = sha1(jsonencode([
    [for key in sort(keys(local.surface_routes)) : local.surface_routes[key].resource_id],
    [for key in sort(keys(local.surface_routes)) : aws_api_gateway_method.surface[key].id],
    [for key in sort(keys(local.surface_routes)) : aws_api_gateway_integration.surface[key].id],
    [for key in sort(keys(local.surface_routes)) : aws_api_gateway_integration.surface[key].uri],
    aws_api_gateway_authorizer.this.id,
    aws_api_gateway_gateway_response.unauthorized.response_templates,
  ]))
}

resource "aws_cloudwatch_log_group" "stream" {
  name              = "/aws/lambda/${local.stream_function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

# The streaming function runs as the gateway's role (same Bedrock rights and principal, so the CUR
# attribution is unchanged); this only lets that role write the second function's logs.
resource "aws_iam_role_policy" "stream_logs" {
  name = "stream-function-logs"
  role = aws_iam_role.function["gateway"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "WriteStreamFunctionLogs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = "${aws_cloudwatch_log_group.stream.arn}:*"
    }]
  })
}

resource "aws_lambda_function" "stream" {
  #checkov:skip=CKV_AWS_117:The functions reach only AWS APIs (Bedrock, DynamoDB, STS); a VPC would add NAT cost and cold-start latency without narrowing anything IAM does not already.
  #checkov:skip=CKV_AWS_272:The zip is built reproducibly from this repository and its hash pinned by source_code_hash; code signing needs a signing profile outside this stack.
  #checkov:skip=CKV_AWS_116:API Gateway invokes the function synchronously (InvokeWithResponseStream), where a DLQ never fires.
  function_name                  = local.stream_function_name
  description                    = "Cost Sentry gateway, streaming (SDK surfaces)"
  role                           = aws_iam_role.function["gateway"].arn
  runtime                        = var.lambda_runtime
  architectures                  = ["arm64"]
  handler                        = local.functions.gateway.handler # unused: the exec wrapper runs the streaming loop
  filename                       = var.lambda_package.filename
  source_code_hash               = var.lambda_package.source_code_hash
  timeout                        = local.stream_timeout
  memory_size                    = var.lambda_memory_mb
  reserved_concurrent_executions = var.stream_reserved_concurrency == null ? -1 : var.stream_reserved_concurrency
  kms_key_arn                    = aws_kms_key.this.arn

  environment {
    variables = merge(local.functions.gateway.environment, {
      AWS_LAMBDA_EXEC_WRAPPER = "/var/task/cost_sentry/handlers/stream_bootstrap.sh"
      OWN_PRINCIPAL           = local.own_principals.stream
      MAX_REQUEST_SECONDS     = tostring(local.stream_timeout)
      # Every SDK route streams through API Gateway with the function's own limit, so a generation may
      # take that long (the gateway refuses at validation what cannot finish in it), and Bedrock's read
      # timeout covers it while still ending before the function does, so the call settles.
      STREAM_TIMEOUT_SECONDS  = tostring(local.stream_timeout)
      BEDROCK_TIMEOUT_SECONDS = tostring(local.stream_timeout - 1)
    })
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.stream.name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.function, aws_iam_role_policy.gateway_invoke, aws_iam_role_policy.stream_logs]
}

resource "aws_api_gateway_resource" "surface_v1" {
  for_each = local.v1_resources

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = each.value
}

resource "aws_api_gateway_resource" "chat_completions" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.surface_v1["chat"].id
  path_part   = "completions"
}

resource "aws_api_gateway_resource" "model" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "model"
}

resource "aws_api_gateway_resource" "model_id" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.model.id
  path_part   = "{modelId}"
}

resource "aws_api_gateway_resource" "model_action" {
  for_each = local.model_actions

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.model_id.id
  path_part   = each.value
}

resource "aws_api_gateway_method" "surface" {
  #checkov:skip=CKV2_AWS_53:Bodies are validated by the function, in each surface's own error shape; an API Gateway model would answer in none of them.
  for_each = local.surface_routes

  rest_api_id      = aws_api_gateway_rest_api.this.id
  resource_id      = each.value.resource_id
  http_method      = each.value.http_method
  authorization    = "CUSTOM"
  authorizer_id    = aws_api_gateway_authorizer.this.id
  api_key_required = true
}

resource "aws_api_gateway_integration" "surface" {
  for_each = local.surface_routes

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = each.value.resource_id
  http_method             = aws_api_gateway_method.surface[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = local.stream_invoke_uri
  response_transfer_mode  = "STREAM"
  timeout_milliseconds    = local.stream_timeout * 1000
}

resource "aws_lambda_permission" "stream" {
  statement_id  = "AllowApiGatewayInvokeStream"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.stream.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/*/*/*"
}

# The authorizer refuses a missing, unknown or disabled key: API Gateway answers UNAUTHORIZED, here a 401
# in the error shape of the surface the path belongs to.
resource "aws_api_gateway_gateway_response" "unauthorized" {
  rest_api_id   = aws_api_gateway_rest_api.this.id
  response_type = "UNAUTHORIZED"
  status_code   = "401"

  response_templates = {
    "application/json" = local.invalid_key_template
  }
}
