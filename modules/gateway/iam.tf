# Least privilege: one role per function. The gateway may invoke only the tenants' application inference
# profiles, and the models behind them only when called through one of those profiles.

locals {
  all_profile_arns = sort(distinct(flatten([for tenant_id in keys(local.tenants) : values(var.profile_arns[tenant_id])])))
  all_underlying   = sort(distinct(flatten([for tenant_id in keys(local.tenants) : var.underlying_model_arns[tenant_id]])))
  # DescribeBudgets lists the account's budgets; the prefix keeps the functions to Cost Sentry's own.
  budget_arn_pattern = "arn:${var.partition}:budgets::${var.account_id}:budget/${var.budget_name_prefix}-*"
  session_tag_keys   = ["applicationId", "costCenter", "environment", "user"]

  invoker_role_arns = { for tenant_id, role in aws_iam_role.invoker : tenant_id => role.arn }

  # Built from the names (checked against the tables by a precondition) so the data-access policies
  # are known at plan time and the tests can assert exactly what each function may do.
  table_names = { ledger = "${var.name_prefix}-ledger", config = "${var.name_prefix}-config" }
  table_arns  = { for key, name in local.table_names : key => "arn:${var.partition}:dynamodb:${var.region}:${var.account_id}:table/${name}" }

  bedrock_actions = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]

  logs_statement = {
    for key in keys(local.function_names) : key => {
      Sid      = "WriteOwnLogs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = "${aws_cloudwatch_log_group.function[key].arn}:*"
    }
  }

  common_statements = [
    {
      Sid      = "UseTheStackKey"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
      Resource = aws_kms_key.this.arn
    },
    {
      # X-Ray has no resource-level permissions: these two actions only ever take "*".
      Sid      = "SendTraces"
      Effect   = "Allow"
      Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      Resource = "*"
    },
  ]

  # What the code calls (lambda_src/cost_sentry): the ledger adapter reserves and settles with UpdateItem,
  # writes call records and hold items with PutItem, removes holds with DeleteItem, reads a period with
  # GetItem or Query (GET /v1/budget); the config store Scans the config table, and reads one userkey# item
  # on a miss.
  gateway_statements = concat(
    [
      {
        Sid    = "LedgerReadWrite"
        Effect = "Allow"
        # DeleteItem: a settled or released hold item is claimed by deleting it; BatchGetItem: a refill
        # round or GET /v1/budget reads the head and every shard, each in its own partition (docs/design.md
        # section 4). No Query: the hot path never reads a key range.
        Action   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
        Resource = local.table_arns.ledger
      },
      {
        Sid      = "ConfigRead"
        Effect   = "Allow"
        Action   = ["dynamodb:Scan"]
        Resource = local.table_arns.config
      },
      {
        # A per-user key issued since the last config read: its own item, read once (ConfigStore.user_key).
        Sid       = "ConfigReadUserKeys"
        Effect    = "Allow"
        Action    = ["dynamodb:GetItem"]
        Resource  = local.table_arns.config
        Condition = { "ForAllValues:StringLike" = { "dynamodb:LeadingKeys" = ["userkey#*"] } }
      },
    ],
    length(var.sagemaker_shared_endpoints) == 0 ? [] : [
      {
        Sid      = "InvokeSharedSageMakerEndpoints"
        Effect   = "Allow"
        Action   = ["sagemaker:InvokeEndpoint"]
        Resource = sort([for e in values(var.sagemaker_shared_endpoints) : e.endpoint_arn])
      },
    ],
    var.profile_resolver == "dynamic" ? [
      {
        # The Resource Groups Tagging API has no resource-level permissions.
        Sid      = "FindProfilesByTag"
        Effect   = "Allow"
        Action   = ["tag:GetResources"]
        Resource = "*"
      },
    ] : [],
  )

  # Kept apart from the role's other policy: every value in it is known at plan time, so the tests
  # can assert exactly which profiles and roles the gateway may use. With per-user sessions every call
  # runs as a tenant's invoker role, so the gateway's own role gets no Bedrock rights at all: it can
  # only assume those roles, each of which may invoke only its own tenant's profiles.
  gateway_invoke_statements = [
    {
      Sid      = "InvokeTenantProfiles"
      Effect   = "Allow"
      Action   = local.bedrock_actions
      Resource = local.all_profile_arns
    },
    {
      Sid      = "InvokeModelsOnlyThroughTenantProfiles"
      Effect   = "Allow"
      Action   = local.bedrock_actions
      Resource = local.all_underlying
      Condition = {
        StringEquals = { "bedrock:InferenceProfileArn" = local.all_profile_arns }
      }
    },
  ]
  gateway_assume_statements = [
    {
      Sid      = "AssumeTenantInvokers"
      Effect   = "Allow"
      Action   = ["sts:AssumeRole", "sts:TagSession"]
      Resource = [for tenant_id in sort(keys(local.tenants)) : "arn:${var.partition}:iam::${var.account_id}:role/${local.invoker_role_names[tenant_id]}"]
    },
  ]

  dead_letter_statement = {
    Sid      = "DeadLetter"
    Effect   = "Allow"
    Action   = ["sqs:SendMessage"]
    Resource = aws_sqs_queue.dead_letter.arn
  }

  # Budget sync (service/budgets.py BudgetSync): DescribeBudget per tenant, a Scan of the config, a PutItem
  # of `limit#<tenant>` overrides, and GetItem + conditional UpdateItem of the period items. Its config
  # writes are limited to `limit#` items: it can never rewrite a tenant's document (its API keys).
  budget_sync_statements = [
    {
      Sid      = "ReadTenantBudgets"
      Effect   = "Allow"
      Action   = ["budgets:ViewBudget"]
      Resource = local.budget_arn_pattern
    },
    {
      Sid      = "ConfigRead"
      Effect   = "Allow"
      Action   = ["dynamodb:Scan"]
      Resource = local.table_arns.config
    },
    {
      Sid       = "ConfigWriteLimitOverridesOnly"
      Effect    = "Allow"
      Action    = ["dynamodb:PutItem"]
      Resource  = local.table_arns.config
      Condition = { "ForAllValues:StringLike" = { "dynamodb:LeadingKeys" = ["limit#*"] } }
    },
    {
      Sid    = "LedgerMoveLimits"
      Effect = "Allow"
      # Ledger.move_limit: reads the head and shards (BatchGetItem), rebases and claws back (UpdateItem).
      Action   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem"]
      Resource = local.table_arns.ledger
    },
  ]

  # Budget alert (BudgetAlerts): GetItem of one `tenant#` document, one conditional UpdateItem that sets
  # `blocked` on a period item. No Budgets API, no config writes.
  budget_alert_statements = [
    {
      Sid       = "ConfigReadTenantDocuments"
      Effect    = "Allow"
      Action    = ["dynamodb:GetItem"]
      Resource  = local.table_arns.config
      Condition = { "ForAllValues:StringLike" = { "dynamodb:LeadingKeys" = ["tenant#*"] } }
    },
    {
      Sid    = "LedgerBlockPeriods"
      Effect = "Allow"
      # Ledger.block: reads the block's reason (GetItem) and the shards (BatchGetItem), sets it on each.
      Action   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem"]
      Resource = local.table_arns.ledger
    },
  ]

  # The sweep reads the config and claims hold items (Delete + the call record's Put, one transaction).
  ledger_sweep_statements = [
    {
      Sid      = "LedgerSweep"
      Effect   = "Allow"
      Action   = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
      Resource = local.table_arns.ledger
    },
    {
      Sid      = "ConfigRead"
      Effect   = "Allow"
      Action   = ["dynamodb:Scan"]
      Resource = local.table_arns.config
    },
  ]

  function_statements = {
    gateway      = local.gateway_statements
    budget_sync  = local.budget_sync_statements
    budget_alert = local.budget_alert_statements
    ledger_sweep = local.ledger_sweep_statements
  }

  # The asynchronous helpers hand failed events to the dead-letter queue with their own roles.
  dead_letter_statements = {
    gateway      = []
    budget_sync  = [local.dead_letter_statement]
    budget_alert = [local.dead_letter_statement]
    ledger_sweep = [local.dead_letter_statement]
  }

  invoker_role_names = { for tenant_id, tenant in local.tenants : tenant_id => tenant.invoker_role_name }

  # One principal stays a string (as IAM stores it, so existing roles plan no change); several are a list.
  # jsondecode gives both branches one type.
  invoker_trusted_principals = jsondecode(length(var.additional_invoker_principals) == 0
    ? jsonencode("arn:${var.partition}:iam::${var.account_id}:role/${local.function_names["gateway"]}")
    : jsonencode(concat(["arn:${var.partition}:iam::${var.account_id}:role/${local.function_names["gateway"]}"], var.additional_invoker_principals))
  )
}

resource "aws_iam_role" "function" {
  for_each = local.function_names

  name = each.value
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

resource "aws_iam_role_policy" "gateway_invoke" {
  name = "invoke-tenant-profiles"
  role = aws_iam_role.function["gateway"].id
  # Two documents rather than one conditional list: HCL cannot unify statements of different shapes.
  policy = (var.per_user_sessions
    ? jsonencode({ Version = "2012-10-17", Statement = local.gateway_assume_statements })
    : jsonencode({ Version = "2012-10-17", Statement = local.gateway_invoke_statements })
  )
}

resource "aws_iam_role_policy" "function" {
  for_each = local.function_names

  name = "least-privilege"
  role = aws_iam_role.function[each.key].id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = concat([local.logs_statement[each.key]], local.common_statements, local.dead_letter_statements[each.key])
  })
}

# One policy per function with exactly the table (and budget) actions its code calls.
resource "aws_iam_role_policy" "data_access" {
  for_each = local.function_names

  name   = "data-access"
  role   = aws_iam_role.function[each.key].id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.function_statements[each.key] })

  lifecycle {
    precondition {
      condition     = aws_dynamodb_table.ledger.name == local.table_names.ledger && aws_dynamodb_table.config.name == local.table_names.config
      error_message = "The data-access policies name the tables ${local.table_names.ledger} and ${local.table_names.config}; keep them in step with tables.tf."
    }
  }
}

# Per-user attribution: the gateway assumes the tenant's invoker role with the end user as session name
# and the tenant's cost allocation tags as session tags, so CUR 2.0's line_item_iam_principal and the
# principal's tags name the user and the tenant. The trust policy pins the tag values to the tenant's
# own, so a session of tenant B's role always carries B's tags and can invoke only B's profiles: the
# bill never mixes one tenant's principal with another's tags. It does NOT stop a compromised gateway
# from billing calls to another tenant: the gateway role may assume every invoker role, and which
# role serves a request is decided by the gateway code (API key -> tenant). What IAM guarantees is
# the blast radius (only the tenants' own profiles, only Bedrock invocation) and the CloudTrail record
# of every AssumeRole (modules/invocation-logging). See docs/attribution.md, "What IAM does and does not prove".
resource "aws_iam_role" "invoker" {
  for_each = var.per_user_sessions ? local.tenants : {}

  name                 = local.invoker_role_names[each.key]
  max_session_duration = 3600
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid    = "OnlyTheGatewayWithTheTenantsTags"
      Effect = "Allow"
      # Built from the names (not the roles' arn attributes) so the policy is known at plan time and
      # tested. The container deployment's task role (modules/gateway-container) joins the gateway's own.
      Principal = { AWS = local.invoker_trusted_principals }
      Action    = ["sts:AssumeRole", "sts:TagSession"]
      Condition = {
        StringEquals = {
          "aws:RequestTag/applicationId" = each.value.application_id
          "aws:RequestTag/costCenter"    = each.value.cost_center
          "aws:RequestTag/environment"   = each.value.environment
        }
        "ForAllValues:StringEquals" = { "aws:TagKeys" = local.session_tag_keys }
      }
    }]
  })
  tags = merge(var.tags, each.value.tags, {
    applicationId = each.value.application_id
    costCenter    = each.value.cost_center
    environment   = each.value.environment
  })

  lifecycle {
    precondition {
      condition     = length(local.invoker_role_names[each.key]) <= 64
      error_message = "Invoker role name ${local.invoker_role_names[each.key]} is longer than IAM's 64 characters."
    }
  }

  # IAM refuses a trust policy naming a role that does not exist yet.
  depends_on = [aws_iam_role.function]
}

resource "aws_iam_role_policy" "invoker" {
  for_each = aws_iam_role.invoker

  name = "invoke-own-profiles"
  role = each.value.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "InvokeOwnProfiles"
        Effect   = "Allow"
        Action   = local.bedrock_actions
        Resource = sort(values(var.profile_arns[each.key]))
      },
      {
        Sid      = "InvokeModelsOnlyThroughOwnProfiles"
        Effect   = "Allow"
        Action   = local.bedrock_actions
        Resource = var.underlying_model_arns[each.key]
        Condition = {
          StringEquals = { "bedrock:InferenceProfileArn" = sort(values(var.profile_arns[each.key])) }
        }
      },
    ]
  })
}

# API Gateway writes access and execution logs through one role per account and Region.
resource "aws_iam_role" "api_gateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  name = "${var.name_prefix}-apigw-cloudwatch"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "apigateway.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "api_gateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  role       = aws_iam_role.api_gateway_cloudwatch[0].name
  policy_arn = "arn:${var.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_api_gateway_account ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.api_gateway_cloudwatch[0].arn

  depends_on = [aws_iam_role_policy_attachment.api_gateway_cloudwatch]
}
