# Alarms per tenant (gateway metrics by CostCenter, tokens, Bedrock errors per profile); a fourth tenant
# adds only its own alarms.

variables {
  name_prefix       = "cs"
  region            = "us-east-1"
  alarm_topic_arn   = "arn:aws:sns:us-east-1:111111111111:cs-alerts"
  metrics_namespace = "GenAIRateLimiting"
  tenants = {
    sales    = { cost_center = "sales", models = ["claude-3-haiku", "nova-micro"], budget = { limit_usd = 74.4 } }
    services = { cost_center = "services", models = ["claude-3-haiku", "claude-3-5-haiku", "nova-lite"] }
    support  = { cost_center = "support", models = ["nova-micro", "nova-lite"], alarms = { tokens_per_hour = 400000, burn_rate_factor = 3 }, budget = { limit_usd = 2.4, period = "DAILY" } }
  }
  profile_ids = {
    sales    = { "claude-3-haiku" = "sales1", "nova-micro" = "sales2" }
    services = { "claude-3-haiku" = "svc1", "claude-3-5-haiku" = "svc2", "nova-lite" = "svc3" }
    support  = { "nova-micro" = "sup1", "nova-lite" = "sup2" }
    legal    = { "claude-sonnet-4" = "legal1" }
  }
}

run "three_tenants_get_their_alarms" {
  command = plan

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.gateway) == 9 && length(aws_cloudwatch_metric_alarm.tokens) == 3 && length(aws_cloudwatch_metric_alarm.bedrock_errors) == 7
    error_message = "Expected per tenant: denials + failures + underestimated reservations, one token alarm, one Bedrock error alarm per profile."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.gateway["sales/denials"].metric_name == "RateLimitDenied" && aws_cloudwatch_metric_alarm.gateway["sales/denials"].namespace == "GenAIRateLimiting" && aws_cloudwatch_metric_alarm.gateway["sales/denials"].dimensions["CostCenter"] == "sales"
    error_message = "The denial alarm watches RateLimitDenied of the tenant's cost center."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.gateway["support/failures"].metric_name == "InvocationFailed" && aws_cloudwatch_metric_alarm.gateway["support/failures"].alarm_actions == toset(["arn:aws:sns:us-east-1:111111111111:cs-alerts"])
    error_message = "The failure alarm watches InvocationFailed and notifies the alerts topic."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.tokens["support"].threshold == 400000 && aws_cloudwatch_metric_alarm.tokens["sales"].threshold == 1000000
    error_message = "Token alarm thresholds: the tenant's own, else the default."
  }

  assert {
    condition     = one([for q in aws_cloudwatch_metric_alarm.bedrock_errors["services/nova-lite"].metric_query : q if q.id == "server"]).metric[0].dimensions["ModelId"] == "svc3"
    error_message = "Bedrock error alarms watch the tenant's profile id (ModelId dimension)."
  }

  assert {
    condition     = one([for q in aws_cloudwatch_metric_alarm.bedrock_errors["sales/nova-micro"].metric_query : q if q.id == "error_rate"]).expression == "IF(invocations + client + server >= 20, 100 * (client + server) / (invocations + client + server), 0)" && aws_cloudwatch_metric_alarm.bedrock_errors["sales/nova-micro"].threshold == 5
    error_message = "The Bedrock alarm is an error rate over the invocations, quiet below the minimum volume."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.gateway["services/underestimated"].metric_name == "ReservationUnderestimated" && aws_cloudwatch_metric_alarm.gateway["services/underestimated"].dimensions["CostCenter"] == "services" && aws_cloudwatch_metric_alarm.gateway["services/underestimated"].period == 3600 && aws_cloudwatch_metric_alarm.gateway["services/underestimated"].threshold == 1
    error_message = "Every tenant has an alarm on calls that cost more than their reservation (ReservationUnderestimated of its cost center, any in an hour)."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.settle_failed.metric_name == "SettleFailed" && aws_cloudwatch_metric_alarm.settle_failed.namespace == "GenAIRateLimiting" && aws_cloudwatch_metric_alarm.settle_failed.threshold == 1 && aws_cloudwatch_metric_alarm.settle_failed.comparison_operator == "GreaterThanOrEqualToThreshold" && aws_cloudwatch_metric_alarm.settle_failed.alarm_actions == toset(["arn:aws:sns:us-east-1:111111111111:cs-alerts"])
    error_message = "One account-wide alarm pages on any failed settle (SettleFailed, from the gateway's log metric filter)."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.burn_rate["sales"].metric_name == "CostUSD" && aws_cloudwatch_metric_alarm.burn_rate["sales"].dimensions["CostCenter"] == "sales" && aws_cloudwatch_metric_alarm.burn_rate["sales"].period == 3600 && aws_cloudwatch_metric_alarm.burn_rate["sales"].threshold == 0.2 && aws_cloudwatch_metric_alarm.burn_rate["support"].threshold == 0.3 && !contains(keys(aws_cloudwatch_metric_alarm.burn_rate), "services")
    error_message = "The burn-rate alarm: an hour's CostUSD above factor x the hour's share of the budget (USD 74.40 a month of 744 h at 2x: 0.20; USD 2.40 a day at 3x: 0.30); none without a budget."
  }

  assert {
    condition     = length(output.alarm_names["sales"]) == 7 && length(output.alarm_names["services"]) == 7
    error_message = "alarm_names groups every alarm under its tenant."
  }
}

run "a_fourth_tenant_adds_only_its_own_alarms" {
  command = plan

  variables {
    tenants = {
      sales    = { cost_center = "sales", models = ["claude-3-haiku", "nova-micro"], budget = { limit_usd = 74.4 } }
      services = { cost_center = "services", models = ["claude-3-haiku", "claude-3-5-haiku", "nova-lite"] }
      support  = { cost_center = "support", models = ["nova-micro", "nova-lite"], alarms = { tokens_per_hour = 400000, burn_rate_factor = 3 }, budget = { limit_usd = 2.4, period = "DAILY" } }
      legal    = { cost_center = "legal", models = ["claude-sonnet-4"] }
    }
  }

  assert {
    condition = output.alarm_keys == sort(concat(run.three_tenants_get_their_alarms.alarm_keys, [
      "legal/claude-sonnet-4/bedrock-errors", "legal/denials", "legal/failures", "legal/tokens", "legal/underestimated",
    ]))
    error_message = "The fourth tenant must add exactly its own five alarms and keep every existing key."
  }
}

run "an_error_rate_over_100_percent_is_refused" {
  command = plan

  variables {
    tenants = {
      sales = { cost_center = "sales", models = ["nova-micro"], alarms = { bedrock_error_rate_percent = 101 } }
    }
  }

  expect_failures = [var.tenants]
}

run "an_alarm_topic_that_is_no_sns_arn_is_refused" {
  command = plan

  variables {
    alarm_topic_arn = "cs-alerts"
  }

  expect_failures = [var.alarm_topic_arn]
}

run "a_metrics_namespace_with_a_colon_is_refused" {
  command = plan

  variables {
    metrics_namespace = "a:b"
  }

  expect_failures = [var.metrics_namespace]
}
