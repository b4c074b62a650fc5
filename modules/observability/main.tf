# Per-tenant alarms on the gateway's own metrics (by CostCenter) and on Bedrock's metrics for the tenant's
# profiles (by ModelId = profile id), plus one dashboard. A tenant's alarms are keyed by its id, so adding
# a tenant adds only its own alarms.

locals {
  tenant_profiles = merge([
    for tenant_id, tenant in var.tenants : {
      for model in tenant.models : "${tenant_id}/${model}" => {
        tenant_id       = tenant_id
        model           = model
        threshold       = tenant.alarms.bedrock_error_rate_percent
        min_invocations = tenant.alarms.bedrock_min_invocations
      }
    }
  ]...)

  gateway_alarms = merge([
    for tenant_id, tenant in var.tenants : {
      "${tenant_id}/denials" = {
        tenant_id   = tenant_id
        cost_center = tenant.cost_center
        metric      = "RateLimitDenied"
        period      = 300
        threshold   = tenant.alarms.denials_per_5_minutes
        description = "Tenant ${tenant_id}: budget or rate-limit denials spiking (RateLimitDenied, 5 minutes)."
      }
      "${tenant_id}/failures" = {
        tenant_id   = tenant_id
        cost_center = tenant.cost_center
        metric      = "InvocationFailed"
        period      = 300
        threshold   = tenant.alarms.failures_per_5_minutes
        description = "Tenant ${tenant_id}: Bedrock invocations failing through the gateway (InvocationFailed, 5 minutes)."
      }
      # The worst case reserved before a call must cover what Bedrock bills; a miss means the budget
      # could be overrun by the difference (the catalog's prices or limits are wrong for this model).
      "${tenant_id}/underestimated" = {
        tenant_id   = tenant_id
        cost_center = tenant.cost_center
        metric      = "ReservationUnderestimated"
        period      = 3600
        threshold   = tenant.alarms.underestimated_per_hour
        description = "Tenant ${tenant_id}: calls cost more than the worst case reserved for them (ReservationUnderestimated, 1 hour): check models.json."
      }
    }
  ]...)

  cost_centers = sort(distinct([for tenant in values(var.tenants) : tenant.cost_center]))
}

resource "aws_cloudwatch_metric_alarm" "gateway" {
  for_each = local.gateway_alarms

  alarm_name          = "${var.name_prefix}-${replace(each.key, "/", "-")}"
  alarm_description   = each.value.description
  namespace           = var.metrics_namespace
  metric_name         = each.value.metric
  dimensions          = { CostCenter = each.value.cost_center }
  statistic           = "Sum"
  period              = each.value.period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = merge(var.tags, { tenant = each.value.tenant_id })
}

# Account-wide, not per tenant: a failed settle means Bedrock billed a call the ledger may not show. The
# gateway publishes SettleFailed in its Embedded Metric Format line, also without dimensions (core/metrics.py).
resource "aws_cloudwatch_metric_alarm" "settle_failed" {
  alarm_name          = "${var.name_prefix}-settle-failed"
  alarm_description   = "The gateway could not settle a billed call in the ledger (SettleFailed, 5 minutes): the log line carries the call record; reconcile it against CUR."
  namespace           = var.metrics_namespace
  metric_name         = "SettleFailed"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.settle_failed_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags
}

# The budget's burn rate: an hour's spend (CostUSD of the tenant's cost center) above burn_rate_factor
# hours' shares of the limit. At factor 2 a tenant on course to spend its budget in half the period pages
# within the hour, long before the limit denies anything (a paced budget's bursts show here too). A
# month is taken as 31 days, the longest, so the hour's share is the smallest and the alarm the earliest.
resource "aws_cloudwatch_metric_alarm" "burn_rate" {
  for_each = { for tenant_id, tenant in var.tenants : tenant_id => tenant if tenant.budget != null }

  alarm_name          = "${var.name_prefix}-${each.key}-burn-rate"
  alarm_description   = "Tenant ${each.key}: spending faster than ${each.value.alarms.burn_rate_factor}x its ${lower(each.value.budget.period)} budget's pace (CostUSD in an hour)."
  namespace           = var.metrics_namespace
  metric_name         = "CostUSD"
  dimensions          = { CostCenter = each.value.cost_center }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.alarms.burn_rate_factor * each.value.budget.limit_usd / (each.value.budget.period == "DAILY" ? 24 : 744)
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = merge(var.tags, { tenant = each.key })
}

resource "aws_cloudwatch_metric_alarm" "tokens" {
  for_each = var.tenants

  alarm_name          = "${var.name_prefix}-${each.key}-tokens"
  alarm_description   = "Tenant ${each.key}: input + output tokens over ${each.value.alarms.tokens_per_hour} in an hour."
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.alarms.tokens_per_hour
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]

  metric_query {
    id          = "tokens"
    expression  = "input + output"
    label       = "Tokens"
    return_data = true
  }

  metric_query {
    id = "input"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "InputTokens"
      dimensions  = { CostCenter = each.value.cost_center }
      stat        = "Sum"
      period      = 3600
    }
  }

  metric_query {
    id = "output"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "OutputTokens"
      dimensions  = { CostCenter = each.value.cost_center }
      stat        = "Sum"
      period      = 3600
    }
  }

  tags = merge(var.tags, { tenant = each.key })
}

# Bedrock's own view of each tenant profile: the share of calls that failed.
# Below min_invocations in five minutes the rate reads 0, so one failed call of a quiet tenant does not
# page anyone; the gateway's InvocationFailed alarm still counts those.
resource "aws_cloudwatch_metric_alarm" "bedrock_errors" {
  for_each = local.tenant_profiles

  alarm_name          = "${var.name_prefix}-${each.value.tenant_id}-${each.value.model}-bedrock-errors"
  alarm_description   = "Tenant ${each.value.tenant_id}: Bedrock error rate on its ${each.value.model} profile over ${each.value.threshold}% (5 minutes, at least ${each.value.min_invocations} invocations)."
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]

  metric_query {
    id = "error_rate"
    # Bedrock counts only successful calls as Invocations, so the attempts are invocations + errors.
    expression  = "IF(invocations + client + server >= ${each.value.min_invocations}, 100 * (client + server) / (invocations + client + server), 0)"
    label       = "Bedrock error rate (%)"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = {
      invocations = "Invocations"
      client      = "InvocationClientErrors"
      server      = "InvocationServerErrors"
    }
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/Bedrock"
        metric_name = metric_query.value
        dimensions  = { ModelId = var.profile_ids[each.value.tenant_id][each.value.model] }
        stat        = "Sum"
        period      = 300
      }
    }
  }

  tags = merge(var.tags, { tenant = each.value.tenant_id })
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${var.name_prefix}-tenants"
  dashboard_body = jsonencode({
    widgets = concat(
      [
        for index, widget in [
          { title = "Requests by cost center", metric = "TotalRequests", stat = "Sum" },
          { title = "Budget and rate-limit denials by cost center", metric = "RateLimitDenied", stat = "Sum" },
          { title = "Input tokens by cost center", metric = "InputTokens", stat = "Sum" },
          { title = "Output tokens by cost center", metric = "OutputTokens", stat = "Sum" },
          { title = "Cost (USD) by cost center", metric = "CostUSD", stat = "Sum" },
          { title = "Failed invocations by cost center", metric = "InvocationFailed", stat = "Sum" },
          ] : {
          type   = "metric"
          x      = (index % 2) * 12
          y      = floor(index / 2) * 6
          width  = 12
          height = 6
          properties = {
            title   = widget.title
            region  = var.region
            stat    = widget.stat
            period  = 300
            view    = "timeSeries"
            stacked = widget.metric == "CostUSD"
            metrics = [for cc in local.cost_centers : [var.metrics_namespace, widget.metric, "CostCenter", cc]]
          }
        }
      ],
      [
        {
          type   = "metric"
          x      = 0
          y      = 18
          width  = 24
          height = 6
          properties = {
            title  = "Bedrock invocations by tenant profile"
            region = var.region
            stat   = "Sum"
            period = 300
            view   = "timeSeries"
            metrics = [
              for key in sort(keys(local.tenant_profiles)) : [
                "AWS/Bedrock", "Invocations", "ModelId", var.profile_ids[local.tenant_profiles[key].tenant_id][local.tenant_profiles[key].model],
                { label = key },
              ]
            ]
          }
        },
      ],
    )
  })
}
