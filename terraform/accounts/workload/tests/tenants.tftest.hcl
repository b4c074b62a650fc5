# The account root with its terraform.tfvars: three tenants plan; a fourth adds only its own resources;
# the normalized tenants (what the local stack, the demo and the reports read) are outputs. A bad
# tenants map fails modules/tenants' validation (modules/tenants/tests and tests/terraform cover every
# rule). Needs build/lambda/cost_sentry.zip (make lambda-zip).

run "the_example_tenants_plan" {
  command = plan

  assert {
    condition     = sort(keys(output.budget_names)) == sort(["sales", "services", "support"]) && output.console_managed_tenants == sort(["services"])
    error_message = "terraform.tfvars defines sales, services and support; services manages its budget in the console."
  }

  assert {
    condition     = output.tenants["support"].invoker_role_name == "cost-sentry-support-invoker" && output.tenants["support"].budget.name == output.budget_names["support"] && output.tenants["support"].config.budget.period == "DAILY" && output.per_user_sessions
    error_message = "The normalized tenants are outputs: derived names, config documents."
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
