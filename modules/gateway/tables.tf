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
  # The runtime config document (docs/design.md section 3) is modules/tenants' config_json; this module
  # adds only what exists after an apply. Decimals travel as strings.
  tenant_configs = {
    for tenant_id, tenant in local.tenants : tenant_id => merge(jsondecode(tenant.config_json), {
      apiKeyIds      = [aws_api_gateway_api_key.tenant[tenant_id].id]
      models         = { for model in tenant.models : model => var.profile_arns[tenant_id][model] }
      invokerRoleArn = lookup(local.invoker_role_arns, tenant_id, null)
    })
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
