variables {
  name               = "cs-budget-alerts"
  account_id         = "111111111111"
  publisher_services = ["budgets.amazonaws.com", "costalerts.amazonaws.com"]
  email_subscribers  = ["finops@example.com", "ops@example.com"]
}

run "an_encrypted_topic_admitting_only_its_publishers" {
  command = plan

  assert {
    condition     = length(aws_sns_topic_subscription.email) == 2 && aws_sns_topic_subscription.email["ops@example.com"].protocol == "email"
    error_message = "One e-mail subscription per address."
  }

  assert {
    condition     = aws_kms_key.this.enable_key_rotation && jsonencode(jsondecode(aws_kms_key.this.policy).Statement[1].Principal.Service) == jsonencode(["budgets.amazonaws.com", "costalerts.amazonaws.com"])
    error_message = "The key rotates and admits the publishing services."
  }
}

run "a_non_service_publisher_is_refused" {
  command = plan

  variables {
    publisher_services = ["arn:aws:iam::222222222222:root"]
  }

  expect_failures = [var.publisher_services]
}
