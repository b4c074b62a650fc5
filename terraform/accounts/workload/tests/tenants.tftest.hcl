# The account root with its terraform.tfvars: three tenants plan; a fourth adds only its own resources;
# a bad tenants map fails validation with a clear message. Needs build/lambda/cost_sentry.zip
# (make lambda-zip).

run "the_example_tenants_plan" {
  command = plan

  assert {
    condition     = sort(keys(output.budget_names)) == sort(["sales", "services", "support"]) && output.console_managed_tenants == sort(["services"])
    error_message = "terraform.tfvars defines sales, services and support; services manages its budget in the console."
  }

  assert {
    condition     = length(output.profile_arns["services"]) == 3 && length(output.profile_arns["sales"]) == 2 && length(output.profile_arns["support"]) == 2
    error_message = "One profile per tenant and allowed model."
  }
}

run "a_fourth_tenant_adds_only_its_own" {
  command = plan

  variables {
    tenants = {
      sales    = { application_id = "sales-assistant", cost_center = "sales", models = ["claude-3-haiku", "nova-micro"], budget = { limit_usd = 0.5 }, limits = { requests_per_minute = 600 } }
      services = { application_id = "services-copilot", cost_center = "services", models = ["claude-3-haiku", "claude-3-5-haiku", "nova-lite"], budget = { limit_usd = 1, console_managed = true } }
      support  = { application_id = "support-bot", cost_center = "support", environment = "staging", models = ["nova-micro", "nova-lite"], budget = { limit_usd = 0.25, period = "DAILY", block_at_actual = 100 } }
      legal    = { application_id = "legal-review", cost_center = "legal", models = ["claude-sonnet-4"], budget = { limit_usd = 2 } }
    }
  }

  assert {
    condition     = sort(keys(output.budget_names)) == sort(["legal", "sales", "services", "support"]) && length(output.profile_arns["legal"]) == 1
    error_message = "The new tenant gets its budget and profile."
  }

  assert {
    condition     = output.budget_names["sales"] == run.the_example_tenants_plan.budget_names["sales"]
    error_message = "Existing tenants keep their names (and so their resources)."
  }
}

run "a_negative_budget_is_refused" {
  command = plan

  variables {
    tenants = {
      sales = { application_id = "sales-assistant", cost_center = "sales", models = ["nova-micro"], budget = { limit_usd = -1 } }
    }
  }

  expect_failures = [var.tenants]
}

run "an_unknown_model_is_refused" {
  command = plan

  variables {
    tenants = {
      sales = { application_id = "sales-assistant", cost_center = "sales", models = ["gpt-4o"], budget = { limit_usd = 1 } }
    }
  }

  expect_failures = [var.tenants]
}

run "a_bad_tag_value_is_refused" {
  command = plan

  variables {
    tenants = {
      sales = { application_id = "sales assistant!", cost_center = "sales", models = ["nova-micro"], budget = { limit_usd = 1 } }
    }
  }

  expect_failures = [var.tenants]
}

run "two_tenants_sharing_an_application_id_are_refused" {
  command = plan

  variables {
    tenants = {
      sales   = { application_id = "shared", cost_center = "sales", models = ["nova-micro"], budget = { limit_usd = 1 } }
      support = { application_id = "shared", cost_center = "support", models = ["nova-micro"], budget = { limit_usd = 1 } }
    }
  }

  expect_failures = [var.tenants]
}
