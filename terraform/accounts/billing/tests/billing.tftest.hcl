# The billing root with its terraform.tfvars: tag activation, CUR 2.0 export, organisation monitor.

run "the_billing_account_plans" {
  command = plan

  assert {
    condition     = output.cost_allocation_tag_keys == sort(["applicationId", "costCenter", "environment", "user"])
    error_message = "Cost Sentry's three tag keys plus the per-user session tag are activated."
  }

  assert {
    condition     = output.cur_bucket == "cost-sentry-cur-222222222222" && output.athena_workgroup == "cost-sentry-cur" && output.glue_table == "cost_sentry_cur.cur2" && output.cur_region == "us-east-1"
    error_message = "Bucket, workgroup, table names and Region (what make dashboards hands cid-cmd) follow name_prefix and the account id."
  }
}

run "a_region_other_than_us_east_1_is_refused" {
  command = plan

  variables {
    region = "eu-west-1"
  }

  expect_failures = [var.region]
}

run "alerts_need_an_address" {
  command = plan

  variables {
    alert_emails = []
  }

  expect_failures = [var.alert_emails]
}
