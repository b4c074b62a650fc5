# SageMaker real-time endpoints, attributed like Bedrock: a tenant's dedicated endpoint carries the
# tenant's cost allocation tags (as its inference profiles do), so its instance-hours are the tenant's in
# Cost Explorer and CUR 2.0; a shared endpoint carries `costSentryShared = <name>` and is split across its
# tenants by the chargeback report (token share of the gateway's call records).

locals {
  endpoints = merge(
    { for key, e in var.dedicated_endpoints : key => merge(e, { kind = "dedicated", name = "${var.name_prefix}-${e.tenant}-${key}" }) },
    { for key, e in var.shared_endpoints : key => merge(e, { tenant = null, kind = "shared", name = "${var.name_prefix}-shared-${key}" }) },
  )

  # Built from the names (SageMaker lowercases them in ARNs) so the gateway's configuration and IAM
  # are known at plan time.
  endpoint_arns = { for key, e in local.endpoints : key => "arn:${var.partition}:sagemaker:${var.region}:${var.account_id}:endpoint/${lower(e.name)}" }

  endpoint_tags = {
    for key, e in local.endpoints : key => e.kind == "dedicated" ? {
      applicationId = var.tenants[e.tenant].application_id
      costCenter    = var.tenants[e.tenant].cost_center
      environment   = var.tenants[e.tenant].environment
    } : { costSentryShared = key }
  }
}

resource "aws_kms_key" "this" {
  count = length(local.endpoints) > 0 ? 1 : 0

  description             = "Encrypts the storage of Cost Sentry's SageMaker endpoints"
  deletion_window_in_days = 30
  enable_key_rotation     = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministers"
      Effect    = "Allow"
      Principal = { AWS = "arn:${var.partition}:iam::${var.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
  tags = var.tags
}

resource "aws_sagemaker_endpoint_configuration" "this" {
  for_each = local.endpoints

  name        = each.value.name
  kms_key_arn = aws_kms_key.this[0].arn

  production_variants {
    variant_name           = "AllTraffic"
    model_name             = each.value.model_name
    instance_type          = each.value.instance_type
    initial_instance_count = each.value.instance_count
  }

  tags = merge(var.tags, local.endpoint_tags[each.key])
}

resource "aws_sagemaker_endpoint" "this" {
  for_each = local.endpoints

  name                 = each.value.name
  endpoint_config_name = aws_sagemaker_endpoint_configuration.this[each.key].name
  tags                 = merge(var.tags, local.endpoint_tags[each.key])

  lifecycle {
    precondition {
      condition     = length(each.value.name) <= 63
      error_message = "Endpoint name ${each.value.name} is longer than SageMaker's 63 characters."
    }
  }
}
