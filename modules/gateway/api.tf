# REST API: the seed's three routes, all requiring an API key: /v1/converse and /v1/budget proxied to the
# gateway function, /v1/converse-stream streamed through the streaming function (surfaces.tf). Each tenant has
# its own API key and usage plan; API Gateway's throttle is a coarse shield in front of the exact
# per-minute limit the gateway enforces in the ledger.

locals {
  routes = {
    converse        = { path_part = "converse", http_method = "POST" }
    converse_stream = { path_part = "converse-stream", http_method = "POST" }
    budget          = { path_part = "budget", http_method = "GET" }
  }

  # Error bodies in the gateway's own shape (docs/design.md section 5), so clients parse one format
  # whether API Gateway or the function answered.
  gateway_responses = {
    INVALID_API_KEY              = { status = "401", code = "invalid_api_key", message = "\"Missing or invalid API key: send the tenant's key in the x-api-key header.\"" }
    MISSING_AUTHENTICATION_TOKEN = { status = "404", code = "not_found", message = "\"No such route: use POST /v1/converse, POST /v1/converse-stream or GET /v1/budget.\"" }
    THROTTLED                    = { status = "429", code = "throttled", message = "\"Too many requests for this API key: slow down and retry.\"" }
    QUOTA_EXCEEDED               = { status = "429", code = "quota_exceeded", message = "\"The API key's request quota is used up.\"" }
    INTEGRATION_TIMEOUT          = { status = "504", code = "upstream_timeout", message = "\"The request took longer than the gateway allows.\"" }
    DEFAULT_4XX                  = { status = null, code = "bad_request", message = "$context.error.messageString" }
    DEFAULT_5XX                  = { status = null, code = "internal_error", message = "$context.error.messageString" }
  }

  usage_plan_throttles = {
    for tenant_id, tenant in local.tenants : tenant_id => (
      # A tenant in shadow mode (enforce = false) is refused nothing for rate: the gateway records the
      # would-be denial instead, and API Gateway applies only the default throttle.
      tenant.limits.requests_per_minute == null || !tenant.enforce ? var.default_throttle : {
        rate_limit  = ceil(tenant.limits.requests_per_minute / 60)
        burst_limit = 2 * ceil(tenant.limits.requests_per_minute / 60)
      }
    )
  }

  access_log_format = jsonencode({
    requestId      = "$context.requestId"
    apiKeyId       = "$context.identity.apiKeyId"
    ip             = "$context.identity.sourceIp"
    requestTime    = "$context.requestTimeEpoch"
    httpMethod     = "$context.httpMethod"
    resourcePath   = "$context.resourcePath"
    status         = "$context.status"
    responseLength = "$context.responseLength"
    latencyMs      = "$context.responseLatency"
    errorType      = "$context.error.responseType"
  })
}

resource "aws_api_gateway_rest_api" "this" {
  name           = "${var.name_prefix}-gateway"
  description    = "Cost Sentry: Bedrock Converse behind per-tenant budgets"
  api_key_source = "AUTHORIZER" # the key comes from x-api-key or Bearer (authorizer.tf)

  # PRIVATE (private.tf) when the account asks for private access: reachable only through its
  # execute-api VPC endpoints, and the resource policy admits nothing else.
  endpoint_configuration {
    types            = [var.private_access == null ? "REGIONAL" : "PRIVATE"]
    vpc_endpoint_ids = var.private_access == null ? null : var.private_access.execute_api_vpc_endpoint_ids
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_resource" "v1" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "v1"
}

resource "aws_api_gateway_resource" "route" {
  for_each = local.routes

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = each.value.path_part
}

resource "aws_api_gateway_method" "route" {
  #checkov:skip=CKV2_AWS_53:Bodies are validated by the function (cost_sentry.core.validation), so the deployed API and the local stack reject the same requests with the same error codes; an API Gateway model would duplicate that and drift.
  for_each = local.routes

  rest_api_id      = aws_api_gateway_rest_api.this.id
  resource_id      = aws_api_gateway_resource.route[each.key].id
  http_method      = each.value.http_method
  authorization    = "CUSTOM"
  authorizer_id    = aws_api_gateway_authorizer.this.id
  api_key_required = true
}

resource "aws_api_gateway_integration" "route" {
  for_each = local.routes

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_resource.route[each.key].id
  http_method             = aws_api_gateway_method.route[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  # Both model routes run in the streaming function (surfaces.tf): /v1/converse-stream streams its
  # text/event-stream body as it is generated, /v1/converse writes its JSON body in one piece, and both
  # wait as long as that function may run (a buffered integration would cut a long answer at 29 s).
  # GET /v1/budget answers from the gateway function.
  uri                    = contains(local.streamed_routes, each.key) ? local.stream_invoke_uri : aws_lambda_function.this["gateway"].invoke_arn
  response_transfer_mode = contains(local.streamed_routes, each.key) ? "STREAM" : "BUFFERED"
  # As long as a request the gateway accepts on this route may take (README, "Accepted requests can
  # finish"); the function refuses at validation what cannot finish within it (CONVERSE_/STREAM_TIMEOUT_SECONDS).
  timeout_milliseconds = local.route_timeout_ms[each.key]

  lifecycle {
    precondition {
      condition     = var.bedrock_timeout_seconds < var.max_request_seconds
      error_message = "bedrock_timeout_seconds must be below max_request_seconds (or the function dies before it settles)."
    }
  }
}

resource "aws_lambda_permission" "api_gateway" {
  statement_id  = "AllowApiGatewayInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["gateway"].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/*/*/v1/*"
}

resource "aws_api_gateway_gateway_response" "this" {
  for_each = local.gateway_responses

  rest_api_id   = aws_api_gateway_rest_api.this.id
  response_type = each.key
  status_code   = each.value.status

  response_templates = {
    "application/json" = "{\"error\":{\"code\":\"${each.value.code}\",\"message\":${each.value.message},\"requestId\":\"$context.requestId\"}}"
  }
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  description = "Cost Sentry gateway"

  # A new deployment whenever anything the stage serves changes; otherwise edits never go live.
  triggers = {
    redeployment = sha1(jsonencode([
      aws_api_gateway_resource.v1.id,
      [for key in sort(keys(local.routes)) : aws_api_gateway_resource.route[key].id],
      [for key in sort(keys(local.routes)) : aws_api_gateway_method.route[key].id],
      [for key in sort(keys(local.routes)) : aws_api_gateway_method.route[key].api_key_required],
      [for key in sort(keys(local.routes)) : aws_api_gateway_integration.route[key].id],
      [for key in sort(keys(local.routes)) : aws_api_gateway_integration.route[key].uri],
      [for key in sort(keys(local.gateway_responses)) : aws_api_gateway_gateway_response.this[key].response_templates],
      local.surface_deployment_hash,
      # A REST API's resource policy takes effect only with a new deployment.
      [for policy in aws_api_gateway_rest_api_policy.private : policy.policy],
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name_prefix}-gateway/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

# Execution logs (logging_level below) go to this group, named by API Gateway's convention. Created here
# so it is KMS-encrypted and expires; otherwise API Gateway creates it on first write, unencrypted and
# kept forever.
resource "aws_cloudwatch_log_group" "execution" {
  name              = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${var.stage_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:Every response is a fresh model completion billed to the caller; a cache would serve one tenant's answer to another and bypass the budget.
  #checkov:skip=CKV2_AWS_51:Clients are tenant services authenticating with API keys over TLS; there is no backend to present a client certificate to (the integration is Lambda).
  #checkov:skip=CKV2_AWS_77:The module's web ACL (aws_wafv2_web_acl.this, on by default) carries the rate rule; the integration is a Python function, so Log4j rules guard nothing here.
  #checkov:skip=CKV2_AWS_29:A web ACL is associated by default (var.waf_rate_rule, or var.waf_web_acl_arn); checkov cannot follow the count that lets an account switch it off.
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = var.stage_name
  xray_tracing_enabled = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format          = local.access_log_format
  }

  tags = var.tags

  depends_on = [aws_api_gateway_account.this, aws_cloudwatch_log_group.execution]
}

resource "aws_api_gateway_method_settings" "this" {
  #checkov:skip=CKV_AWS_225:Caching is deliberately off (see the stage): responses are per-call completions.
  #checkov:skip=CKV_AWS_308:Caching is off, so there is no cache to encrypt.
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled    = true
    logging_level      = "ERROR"
    data_trace_enabled = false # full request logs would write prompts to CloudWatch
    caching_enabled    = false
  }
}

# Usage plans are best-effort throttles (API Gateway documents them as such); a WAF rate-based rule is
# the hard per-client-IP cap in front of them. On by default (var.waf_rate_rule); an account that brings
# its own ACL (var.waf_web_acl_arn) gets that one instead.
resource "aws_wafv2_web_acl" "this" {
  #checkov:skip=CKV_AWS_192:The integration is a Python Lambda function: the Log4j (Log4Shell) managed rule set guards nothing here.
  #checkov:skip=CKV_AWS_175:The ACL has a rule (the per-IP rate rule); it is written as rule_json, which checkov does not read.
  #checkov:skip=CKV2_AWS_31:WAF logging would write every request's headers (including x-api-key) to a log; the sampled requests and CloudWatch metrics below are kept instead.
  count = local.own_web_acl ? 1 : 0

  name        = "${var.name_prefix}-gateway"
  description = "Cost Sentry gateway: per-IP rate limit in front of the usage plans"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  rule_json = jsonencode([{
    Name     = "rate-per-ip"
    Priority = 0
    Action   = { Block = {} }
    Statement = {
      RateBasedStatement = {
        Limit               = var.waf_rate_rule.requests_per_5_minutes
        AggregateKeyType    = "IP"
        EvaluationWindowSec = 300
      }
    }
    VisibilityConfig = {
      CloudWatchMetricsEnabled = true
      MetricName               = "${var.name_prefix}-rate-per-ip"
      SampledRequestsEnabled   = true
    }
  }])

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name_prefix}-gateway"
    sampled_requests_enabled   = true
  }

  tags = var.tags
}

locals {
  own_web_acl = var.waf_web_acl_arn == null && var.waf_rate_rule.enabled
  web_acl_arn = var.waf_web_acl_arn != null ? var.waf_web_acl_arn : (local.own_web_acl ? aws_wafv2_web_acl.this[0].arn : null)
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.waf_web_acl_arn != null || var.waf_rate_rule.enabled ? 1 : 0

  resource_arn = aws_api_gateway_stage.this.arn
  web_acl_arn  = local.web_acl_arn
}

resource "aws_api_gateway_api_key" "tenant" {
  for_each = local.tenants

  name        = each.value.api_key_name
  description = "Cost Sentry tenant ${each.key} (${each.value.application_id})"
  enabled     = true
  tags = merge(var.tags, each.value.tags, {
    applicationId = each.value.application_id
    costCenter    = each.value.cost_center
    environment   = each.value.environment
  })
}

resource "aws_api_gateway_usage_plan" "tenant" {
  for_each = local.tenants

  name        = each.value.usage_plan_name
  description = "Throttle of tenant ${each.key}"

  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.this.stage_name
  }

  throttle_settings {
    rate_limit  = local.usage_plan_throttles[each.key].rate_limit
    burst_limit = local.usage_plan_throttles[each.key].burst_limit
  }

  tags = merge(var.tags, each.value.tags, { applicationId = each.value.application_id })
}

resource "aws_api_gateway_usage_plan_key" "tenant" {
  for_each = local.tenants

  key_id        = aws_api_gateway_api_key.tenant[each.key].id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.tenant[each.key].id
}
