# The ledger sweep: every minute, expired holds are charged at their worst case (never given back) and
# each period is brought to the configured limit and shard count. Off the gateway's hot path.

resource "aws_cloudwatch_event_rule" "ledger_sweep" {
  name                = "${var.name_prefix}-ledger-sweep"
  description         = "Charge expired Cost Sentry holds and apply limit changes to the ledger"
  schedule_expression = "rate(1 minute)"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "ledger_sweep" {
  rule = aws_cloudwatch_event_rule.ledger_sweep.name
  arn  = aws_lambda_function.this["ledger_sweep"].arn
}

resource "aws_lambda_permission" "ledger_sweep" {
  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["ledger_sweep"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.ledger_sweep.arn
}

resource "aws_lambda_function_event_invoke_config" "ledger_sweep" {
  function_name = aws_lambda_function.this["ledger_sweep"].function_name
  # The next minute's run supersedes a failed one.
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 60
}
