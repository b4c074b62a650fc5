run "cost_sentry_tags_are_always_activated" {
  command = plan

  assert {
    condition     = sort(keys(aws_ce_cost_allocation_tag.this)) == sort(["applicationId", "costCenter", "environment"]) && alltrue([for t in aws_ce_cost_allocation_tag.this : t.status == "Active"])
    error_message = "applicationId, costCenter and environment must be activated."
  }
}

run "extra_keys_are_added" {
  command = plan

  variables {
    tag_keys = ["user", "team"]
  }

  assert {
    condition     = output.tag_keys == sort(["applicationId", "costCenter", "environment", "team", "user"])
    error_message = "Extra keys are activated next to Cost Sentry's own."
  }
}

run "aws_prefixed_keys_are_refused" {
  command = plan

  variables {
    tag_keys = ["aws:createdBy"]
  }

  expect_failures = [var.tag_keys]
}
