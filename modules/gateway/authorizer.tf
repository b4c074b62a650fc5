# One key check for every surface (docs/design.md section 7.5). SDKs send the tenant's key as x-api-key
# (the seed API, Anthropic) or Authorization: Bearer (boto3's AWS_BEARER_TOKEN_BEDROCK, OpenAI). A
# REQUEST authorizer reads either and hands it to API Gateway as the usage identifier key (the API's
# key source is AUTHORIZER), so API Gateway itself still validates the key and its usage plan still
# throttles the tenant, and the function still sees the key's id. The authorizer itself refuses a
# missing or unknown key (a 401 in the surface's shape, surfaces.tf); its only right is reading the keys.

locals {
  authorizer_name = "${var.name_prefix}-authorizer"

  # GetApiKeys (includeValues): which key id a presented key is, and whether it is enabled. The container
  # deployment checks credentials in-process with the same code, so its task role gets this too.
  read_api_keys_statement = {
    Sid      = "ReadApiKeys"
    Effect   = "Allow"
    Action   = ["apigateway:GET"]
    Resource = ["arn:${var.partition}:apigateway:${var.region}::/apikeys", "arn:${var.partition}:apigateway:${var.region}::/apikeys/*"]
  }
}

resource "aws_iam_role" "authorizer" {
  name = local.authorizer_name
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_cloudwatch_log_group" "authorizer" {
  name              = "/aws/lambda/${local.authorizer_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_iam_role_policy" "authorizer" {
  name = "least-privilege"
  role = aws_iam_role.authorizer.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.authorizer.arn}:*"
      },
      local.read_api_keys_statement,
      {
        # Per-user keys (userkey# items, users.keys) and each tenant's OIDC issuer live in the config
        # table, read whole like the gateway reads it (docs/design.md section 9) ...
        Sid      = "ReadConfig"
        Effect   = "Allow"
        Action   = ["dynamodb:Scan"]
        Resource = local.table_arns.config
      },
      {
        # ... and one key's own item on a miss (a key issued or revoked since the last read).
        Sid       = "ReadUserKeys"
        Effect    = "Allow"
        Action    = ["dynamodb:GetItem"]
        Resource  = local.table_arns.config
        Condition = { "ForAllValues:StringLike" = { "dynamodb:LeadingKeys" = ["userkey#*"] } }
      },
    ], local.common_statements)
  })
}

resource "aws_lambda_function" "authorizer" {
  #checkov:skip=CKV_AWS_117:The authorizer reaches only the API Gateway API; a VPC would add NAT cost and cold-start latency without narrowing anything IAM does not already.
  #checkov:skip=CKV_AWS_272:The zip is built reproducibly from this repository and its hash pinned by source_code_hash; code signing needs a signing profile outside this stack.
  #checkov:skip=CKV_AWS_116:API Gateway invokes the authorizer synchronously, where a DLQ never fires.
  function_name                  = local.authorizer_name
  description                    = "Cost Sentry credential (tenant key, per-user key, OIDC token) from x-api-key or Authorization: Bearer"
  role                           = aws_iam_role.authorizer.arn
  runtime                        = var.lambda_runtime
  architectures                  = ["arm64"]
  handler                        = "cost_sentry.handlers.authorizer.handler"
  filename                       = var.lambda_package.filename
  source_code_hash               = var.lambda_package.source_code_hash
  timeout                        = 5
  memory_size                    = 128
  reserved_concurrent_executions = var.authorizer_reserved_concurrency == null ? -1 : var.authorizer_reserved_concurrency
  kms_key_arn                    = aws_kms_key.this.arn

  environment {
    variables = {
      LOG_LEVEL              = "WARNING"
      CONFIG_TABLE           = aws_dynamodb_table.config.name
      CONFIG_REFRESH_SECONDS = tostring(var.config_refresh_seconds)
    }
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.authorizer.name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.authorizer]
}

resource "aws_api_gateway_authorizer" "this" {
  name           = local.authorizer_name
  rest_api_id    = aws_api_gateway_rest_api.this.id
  type           = "REQUEST"
  authorizer_uri = aws_lambda_function.authorizer.invoke_arn
  # Not cached: the key can come from either header, so no single identity source names it, and a cache
  # keyed on one header would let a request without it reuse another caller's result.
  identity_source                  = ""
  authorizer_result_ttl_in_seconds = 0
}

resource "aws_lambda_permission" "authorizer" {
  statement_id  = "AllowApiGatewayAuthorize"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.authorizer.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/authorizers/${aws_api_gateway_authorizer.this.id}"
}
