variables {
  name       = "cs-tenants"
  account_id = "111111111111"
  monitor = {
    kind       = "cost_allocation_tag"
    tag_key    = "applicationId"
    tag_values = ["support-bot", "sales-assistant", "services-copilot"]
  }
  email_subscribers = ["finops@example.com"]
}

run "immediate_alerts_for_the_tenants_tag_go_through_an_encrypted_topic" {
  command = plan

  assert {
    condition     = aws_ce_anomaly_monitor.this.monitor_type == "CUSTOM" && aws_ce_anomaly_monitor.this.monitor_dimension == null
    error_message = "A tag monitor is CUSTOM."
  }

  assert {
    condition     = jsondecode(aws_ce_anomaly_monitor.this.monitor_specification).Tags.Key == "applicationId" && jsonencode(jsondecode(aws_ce_anomaly_monitor.this.monitor_specification).Tags.Values) == jsonencode(["sales-assistant", "services-copilot", "support-bot"])
    error_message = "The monitor watches every tenant's applicationId value."
  }

  assert {
    condition     = length(module.topic) == 1 && aws_ce_anomaly_subscription.this.frequency == "IMMEDIATE"
    error_message = "IMMEDIATE needs the SNS topic."
  }

  assert {
    condition     = one(aws_ce_anomaly_subscription.this.threshold_expression[0].dimension).key == "ANOMALY_TOTAL_IMPACT_ABSOLUTE" && one(aws_ce_anomaly_subscription.this.threshold_expression[0].dimension).values == toset(["10"])
    error_message = "The default threshold is 10 USD of total impact."
  }
}

run "a_service_monitor_with_daily_digest_and_both_thresholds" {
  command = plan

  variables {
    monitor   = { kind = "service" }
    frequency = "DAILY"
    threshold = { absolute_usd = 100, percentage = 20 }
  }

  assert {
    condition     = aws_ce_anomaly_monitor.this.monitor_type == "DIMENSIONAL" && aws_ce_anomaly_monitor.this.monitor_dimension == "SERVICE" && aws_ce_anomaly_monitor.this.monitor_specification == null
    error_message = "A service monitor is DIMENSIONAL over SERVICE."
  }

  assert {
    condition     = length(module.topic) == 0 && output.topic_arn == null
    error_message = "Digests go to e-mail: no topic."
  }

  assert {
    condition     = length(aws_ce_anomaly_subscription.this.threshold_expression[0].and) == 2 && length(aws_ce_anomaly_subscription.this.threshold_expression[0].or) == 0
    error_message = "Both thresholds, combined with AND by default."
  }
}

run "a_digest_without_subscribers_is_refused" {
  command = plan

  variables {
    frequency         = "WEEKLY"
    email_subscribers = []
  }

  expect_failures = [aws_ce_anomaly_subscription.this]
}

run "a_tag_monitor_without_values_is_refused" {
  command = plan

  variables {
    monitor = { kind = "cost_allocation_tag", tag_key = "applicationId" }
  }

  expect_failures = [var.monitor]
}

run "a_threshold_is_required" {
  command = plan

  variables {
    threshold = {}
  }

  expect_failures = [var.threshold]
}
