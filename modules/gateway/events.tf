# The budget helpers: sync copies console-managed budget amounts into the config table every five
# minutes; alert blocks a tenant when its budget notification crosses block_at_actual.

resource "aws_cloudwatch_event_rule" "budget_sync" {
  name                = "${var.name_prefix}-budget-sync"
  description         = "Copy AWS Budgets amounts into the Cost Sentry config table"
  schedule_expression = "rate(5 minutes)"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "budget_sync" {
  rule = aws_cloudwatch_event_rule.budget_sync.name
  arn  = aws_lambda_function.this["budget_sync"].arn
}

resource "aws_lambda_permission" "budget_sync" {
  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["budget_sync"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.budget_sync.arn
}

resource "aws_lambda_function_event_invoke_config" "budget" {
  for_each = toset(["budget_sync", "budget_alert"])

  function_name = aws_lambda_function.this[each.key].function_name
  # A five-minute sync is superseded by the next one; an alert is worth two retries before the DLQ.
  maximum_retry_attempts       = each.key == "budget_sync" ? 0 : 2
  maximum_event_age_in_seconds = each.key == "budget_sync" ? 300 : 3600
}

resource "aws_sns_topic_subscription" "budget_alert" {
  topic_arn = var.budget_topic_arn
  protocol  = "lambda"
  endpoint  = aws_lambda_function.this["budget_alert"].arn
}

resource "aws_lambda_permission" "budget_alert" {
  statement_id  = "AllowBudgetTopic"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["budget_alert"].function_name
  principal     = "sns.amazonaws.com"
  source_arn    = var.budget_topic_arn
}
