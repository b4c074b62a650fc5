# The ledger (docs/design.md section 4) and the config table (section 3). On-demand capacity: traffic
# is spiky and per-tenant, and a throttled ledger write would turn into a denied request.

resource "aws_dynamodb_table" "ledger" {
  name                        = "${var.name_prefix}-ledger"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  tags = var.tags
}

resource "aws_dynamodb_table" "config" {
  name                        = "${var.name_prefix}-config"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  tags = var.tags
}

locals {
  # The runtime config document, field for field as docs/design.md section 3 (and scripts/testbed/tfvars.py,
  # which builds the same document for the local stack). Decimals travel as strings.
  tenant_configs = {
    for tenant_id, tenant in local.tenants : tenant_id => {
      tenantId      = tenant_id
      applicationId = tenant.application_id
      costCenter    = tenant.cost_center
      environment   = tenant.environment
      apiKeyIds     = [aws_api_gateway_api_key.tenant[tenant_id].id]
      budget = {
        limitUsd             = tostring(tenant.budget.limit_usd)
        period               = tenant.budget.period
        blockAtActualPercent = tenant.budget.block_at_actual == null ? null : tostring(tenant.budget.block_at_actual)
      }
      limits = {
        requestsPerMinute = tenant.limits.requests_per_minute
        tokensPerPeriod   = tenant.limits.tokens_per_period
      }
      models       = { for model in tenant.models : model => var.profile_arns[tenant_id][model] }
      defaultModel = tenant.models[0]
      # The cost center is also an alias of the default model; explicit aliases win.
      modelAliases   = merge({ (tenant.cost_center) = tenant.models[0] }, tenant.model_aliases)
      invokerRoleArn = lookup(local.invoker_role_arns, tenant_id, null)
    }
  }
}

resource "aws_dynamodb_table_item" "tenant_config" {
  for_each = local.tenant_configs

  table_name = aws_dynamodb_table.config.name
  hash_key   = aws_dynamodb_table.config.hash_key
  item = jsonencode({
    pk     = { S = "tenant#${each.key}" }
    config = { S = jsonencode(each.value) }
  })
}
