# The gateway: a REST API whose only integration is one Lambda function enforcing per-tenant budgets,
# the two DynamoDB tables it keeps state in, and the helper functions (budget sync, budget alert, ledger
# sweep) built from the same zip. IAM lives in iam.tf, the API in api.tf, the tables in tables.tf.

locals {
  tenants = var.tenants # normalized by modules/tenants

  account_root = "arn:${var.partition}:iam::${var.account_id}:root"

  function_names = {
    gateway      = "${var.name_prefix}-gateway"
    budget_sync  = "${var.name_prefix}-budget-sync"
    budget_alert = "${var.name_prefix}-budget-alert"
    ledger_sweep = "${var.name_prefix}-ledger-sweep"
  }

  # The principal Bedrock records (CUR 2.0 line_item_iam_principal) for calls a gateway function makes
  # with its own role, not a per-user session: Lambda names the execution role's session after the function.
  own_principals = {
    gateway = "arn:${var.partition}:sts::${var.account_id}:assumed-role/${local.function_names.gateway}/${local.function_names.gateway}"
    stream  = "arn:${var.partition}:sts::${var.account_id}:assumed-role/${local.function_names.gateway}/${local.stream_function_name}"
  }

  common_environment = {
    LEDGER_TABLE      = aws_dynamodb_table.ledger.name
    CONFIG_TABLE      = aws_dynamodb_table.config.name
    METRICS_NAMESPACE = var.metrics_namespace
  }

  # cost_sentry.service.budgets reads these (budgets are named <BUDGET_NAME_PREFIX>-<tenant>).
  budget_environment = {
    BUDGET_NAME_PREFIX = var.budget_name_prefix
    BUDGETS_ACCOUNT_ID = var.account_id
  }

  # How long API Gateway waits per route, never past the function that answers it. The seed's model
  # routes run in the streaming function (api.tf), so they wait as long as it may run, as the SDK routes do.
  streamed_routes = ["converse", "converse_stream"]
  route_timeout_ms = {
    converse        = local.stream_timeout * 1000
    converse_stream = local.stream_timeout * 1000
    budget          = min(var.integration_timeout_ms, var.max_request_seconds * 1000)
  }

  functions = {
    gateway = {
      handler      = "cost_sentry.handlers.gateway.handler"
      timeout      = var.max_request_seconds
      memory       = var.lambda_memory_mb
      reserved     = var.reserved_concurrency
      asynchronous = false
      environment = merge(local.common_environment, {
        LOG_PROMPTS                = tostring(var.log_prompts)
        MAX_REQUEST_SECONDS        = tostring(var.max_request_seconds)
        BEDROCK_TIMEOUT_SECONDS    = tostring(var.bedrock_timeout_seconds)
        NEW_SESSIONS_PER_MINUTE    = tostring(var.new_sessions_per_minute)
        MAX_BODY_BYTES             = tostring(var.max_body_bytes)
        CONFIG_REFRESH_SECONDS     = tostring(var.config_refresh_seconds)
        PROFILE_RESOLVER           = var.profile_resolver
        PER_USER_SESSIONS          = tostring(var.per_user_sessions)
        OWN_PRINCIPAL              = local.own_principals.gateway
        CALL_RECORD_RETENTION_DAYS = tostring(var.call_record_retention_days)
        }, length(var.sagemaker_shared_endpoints) == 0 ? {} : {
        # adapters/sagemaker.py; rates travel as strings (money is never a float).
        SAGEMAKER_ENDPOINTS = jsonencode({
          for name, e in var.sagemaker_shared_endpoints : name => {
            endpointName        = e.endpoint_name
            endpointArn         = e.endpoint_arn
            inputPerMillionUsd  = e.input_per_million_usd
            outputPerMillionUsd = e.output_per_million_usd
            maxOutputTokens     = e.max_output_tokens
            tenants             = e.tenants
            servedModel         = e.served_model
          }
        })
      })
    }
    budget_sync = {
      handler      = "cost_sentry.handlers.budget_sync.handler"
      timeout      = 60
      memory       = 256
      reserved     = var.reserve_helper_concurrency ? 1 : null # one sync at a time is all it ever needs
      asynchronous = true
      environment  = merge(local.common_environment, local.budget_environment)
    }
    budget_alert = {
      handler      = "cost_sentry.handlers.budget_alert.handler"
      timeout      = 30
      memory       = 256
      reserved     = var.reserve_helper_concurrency ? 5 : null # a burst of notifications must not starve the gateway
      asynchronous = true
      # Messages delivered by any other topic are ignored (service/budgets.py BudgetAlerts).
      environment = merge(local.common_environment, local.budget_environment, { BUDGET_TOPIC_ARN = var.budget_topic_arn })
    }
    # Every minute: charges expired holds at their worst case and brings each period to the config
    # (cost_sentry.handlers.ledger_sweep; schedule in sweep.tf).
    ledger_sweep = {
      handler      = "cost_sentry.handlers.ledger_sweep.handler"
      timeout      = 55
      memory       = 256
      reserved     = var.reserve_helper_concurrency ? 1 : null # one sweep at a time
      asynchronous = true
      environment = merge(local.common_environment, {
        CALL_RECORD_RETENTION_DAYS = tostring(var.call_record_retention_days)
        # The gateway's timeout, so the longest hold it writes (the streaming function's is capped
        # below it): one hold lifetime for every function that builds a ledger (core/settings.py).
        MAX_REQUEST_SECONDS = tostring(var.max_request_seconds)
      })
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "Encrypts Cost Sentry's tables, logs, function environment and dead-letter queue"
  deletion_window_in_days = 30
  enable_key_rotation     = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = local.account_root }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "LogsEncryptThisAccountsLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:${var.partition}:logs:${var.region}:${var.account_id}:log-group:*" }
        }
      },
    ]
  })
  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name_prefix}-gateway"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_cloudwatch_log_group" "function" {
  for_each = local.function_names

  name              = "/aws/lambda/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.name_prefix}-budget-events-dlq"
  kms_master_key_id         = aws_kms_key.this.arn
  message_retention_seconds = 1209600 # 14 days, the maximum: time to notice and replay a lost budget event
  tags                      = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:VPC placement is a per-account switch (var.private_access, private.tf); the budget sync never joins a VPC (AWS Budgets has no VPC endpoint). The functions reach only AWS APIs, so where no private path is required a VPC adds endpoint cost and latency without narrowing what IAM already does.
  #checkov:skip=CKV_AWS_272:The zip is built reproducibly from this repository and its hash pinned by source_code_hash; code signing needs a signing profile outside this stack.
  #checkov:skip=CKV_AWS_116:The gateway is invoked synchronously by API Gateway, where a DLQ never fires; the asynchronous budget functions do get one (dynamic dead_letter_config).
  for_each = local.functions

  function_name                  = local.function_names[each.key]
  description                    = "Cost Sentry ${replace(each.key, "_", " ")}"
  role                           = aws_iam_role.function[each.key].arn
  runtime                        = var.lambda_runtime
  architectures                  = ["arm64"]
  handler                        = each.value.handler
  filename                       = var.lambda_package.filename
  source_code_hash               = var.lambda_package.source_code_hash
  timeout                        = each.value.timeout
  memory_size                    = each.value.memory
  reserved_concurrent_executions = each.value.reserved == null ? -1 : each.value.reserved
  kms_key_arn                    = aws_kms_key.this.arn

  environment {
    variables = each.value.environment
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  dynamic "vpc_config" {
    for_each = contains(local.vpc_functions, each.key) ? [var.private_access] : []
    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  dynamic "dead_letter_config" {
    for_each = each.value.asynchronous ? [aws_sqs_queue.dead_letter.arn] : []
    content {
      target_arn = dead_letter_config.value
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.function, aws_iam_role_policy.data_access, aws_iam_role_policy.gateway_invoke, aws_iam_role_policy.vpc_access]
}

module "alerts_topic" {
  source = "../notification-topic"

  name               = "${var.name_prefix}-alerts"
  account_id         = var.account_id
  partition          = var.partition
  publisher_services = ["cloudwatch.amazonaws.com"]
  email_subscribers  = toset(var.alert_emails)
  tags               = var.tags
}
