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

run "only_the_services_publish_and_only_for_this_account" {
  command = plan

  assert {
    condition     = !contains(jsondecode(aws_sns_topic_policy.this.policy).Statement[0].Action, "SNS:Publish")
    error_message = "The account's principals manage the topic but may not publish to it."
  }

  assert {
    condition = alltrue([
      jsondecode(aws_sns_topic_policy.this.policy).Statement[1].Action == "SNS:Publish",
      jsonencode(jsondecode(aws_sns_topic_policy.this.policy).Statement[1].Principal.Service) == jsonencode(["budgets.amazonaws.com", "costalerts.amazonaws.com"]),
      jsondecode(aws_sns_topic_policy.this.policy).Statement[1].Condition.StringEquals["aws:SourceAccount"] == "111111111111",
      jsonencode(jsondecode(aws_sns_topic_policy.this.policy).Statement[1].Condition.ArnLike["aws:SourceArn"]) == jsonencode(["arn:aws:budgets::111111111111:*", "arn:aws:ce::111111111111:anomalysubscription/*"]),
    ])
    error_message = "Only the publishing services may publish, on behalf of this account's budgets and anomaly subscriptions."
  }

  assert {
    condition = alltrue([
      jsondecode(aws_sns_topic_policy.this.policy).Statement[2].Effect == "Deny",
      jsondecode(aws_sns_topic_policy.this.policy).Statement[2].Principal == "*",
      jsondecode(aws_sns_topic_policy.this.policy).Statement[2].Action == "SNS:Publish",
      jsondecode(aws_sns_topic_policy.this.policy).Statement[2].Condition.Bool["aws:PrincipalIsAWSService"] == "false",
    ])
    error_message = "An explicit deny keeps every non-service principal (same-account IAM included) from publishing."
  }
}

run "another_service_is_refused" {
  command = plan

  variables {
    publisher_services = ["budgets.amazonaws.com", "events.amazonaws.com"]
  }

  expect_failures = [var.publisher_services]
}

run "a_non_service_publisher_is_refused" {
  command = plan

  variables {
    publisher_services = ["arn:aws:iam::222222222222:root"]
  }

  expect_failures = [var.publisher_services]
}
