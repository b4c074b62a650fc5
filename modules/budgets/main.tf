# One AWS Budget per tenant, filtered on the tenant's cost allocation tag, notifying an encrypted topic
# (which the budget alert function and the FinOps mailbox subscribe to) and the tenant's own addresses.
#
# console_managed tenants live in a second resource block that ignores later changes to the amount, so
# FinOps can raise or lower the limit in the Budgets console without Terraform resetting it. lifecycle
# cannot be dynamic, hence two blocks; moving a tenant between them needs a `moved` block (see README).

locals {
  budgets = {
    for tenant_id, tenant in var.tenants : tenant_id => {
      name            = tenant.budget.name
      limit_amount    = tostring(tenant.budget.limit_usd)
      time_unit       = tenant.budget.period
      console_managed = tenant.budget.console_managed
      filter_value    = format("user:%s$%s", var.cost_allocation_tag_key, tenant.application_id)
      alert_emails    = sort(distinct(tenant.alert_emails))
      tags            = merge(var.tags, tenant.tags, { applicationId = tenant.application_id })
      notifications = concat(
        # block_at_actual needs its own ACTUAL notification: the budget alert function blocks on it.
        [
          for threshold in distinct(concat(tenant.budget.actual_thresholds, tenant.budget.block_at_actual == null ? [] : [tenant.budget.block_at_actual])) :
          { type = "ACTUAL", threshold = threshold }
        ],
        # 0 means no forecast alert: Terraform turns an explicit null into the default (100), so null
        # cannot say "none" here.
        tenant.budget.forecast_threshold == 0 ? [] : [{ type = "FORECASTED", threshold = tenant.budget.forecast_threshold }],
      )
    }
  }
  terraform_managed = { for id, b in local.budgets : id => b if !b.console_managed }
  console_managed   = { for id, b in local.budgets : id => b if b.console_managed }
}

module "topic" {
  source = "../notification-topic"

  name               = "${var.name_prefix}-budget-alerts"
  account_id         = var.account_id
  partition          = var.partition
  publisher_services = ["budgets.amazonaws.com", "costalerts.amazonaws.com"]
  email_subscribers  = toset(var.alert_emails)
  tags               = var.tags
}

resource "aws_budgets_budget" "terraform_managed" {
  for_each = local.terraform_managed

  name         = each.value.name
  account_id   = var.account_id
  budget_type  = "COST"
  limit_amount = each.value.limit_amount
  limit_unit   = "USD"
  time_unit    = each.value.time_unit

  cost_filter {
    name   = "TagKeyValue"
    values = [each.value.filter_value]
  }

  dynamic "notification" {
    for_each = each.value.notifications
    content {
      comparison_operator        = "GREATER_THAN"
      threshold                  = notification.value.threshold
      threshold_type             = "PERCENTAGE"
      notification_type          = notification.value.type
      subscriber_sns_topic_arns  = [module.topic.topic_arn]
      subscriber_email_addresses = each.value.alert_emails
    }
  }

  tags = each.value.tags
}

resource "aws_budgets_budget" "console_managed" {
  for_each = local.console_managed

  name         = each.value.name
  account_id   = var.account_id
  budget_type  = "COST"
  limit_amount = each.value.limit_amount
  limit_unit   = "USD"
  time_unit    = each.value.time_unit

  cost_filter {
    name   = "TagKeyValue"
    values = [each.value.filter_value]
  }

  dynamic "notification" {
    for_each = each.value.notifications
    content {
      comparison_operator        = "GREATER_THAN"
      threshold                  = notification.value.threshold
      threshold_type             = "PERCENTAGE"
      notification_type          = notification.value.type
      subscriber_sns_topic_arns  = [module.topic.topic_arn]
      subscriber_email_addresses = each.value.alert_emails
    }
  }

  tags = each.value.tags

  lifecycle {
    # The amount is owned by the console from the first apply on; the budget sync function copies it
    # into the config table so the gateway enforces what FinOps set.
    ignore_changes = [limit_amount]
  }
}
