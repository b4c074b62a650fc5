# One budget per tenant on its applicationId tag; console-managed budgets live in their own block.
# The tenants come normalized from modules/tenants (whose own tests cover the contract's validation).

variables {
  name_prefix  = "cs"
  environment  = "prod"
  known_models = ["nova-micro"]
  account_id   = "111111111111"
  alert_emails = ["finops@example.com"]
  tenants = {
    sales = {
      application_id = "sales-assistant"
      cost_center    = "sales"
      models         = ["nova-micro"]
      budget         = { limit_usd = 0.5 }
    }
    services = {
      application_id = "services-copilot"
      cost_center    = "services"
      models         = ["nova-micro"]
      budget = {
        limit_usd          = 1
        actual_thresholds  = [50, 80, 100]
        forecast_threshold = 100
        console_managed    = true
      }
    }
    support = {
      application_id = "support-bot"
      cost_center    = "support"
      models         = ["nova-micro"]
      budget = {
        limit_usd          = 0.25
        period             = "DAILY"
        block_at_actual    = 95
        actual_thresholds  = [100, 90, 100]
        forecast_threshold = 0
      }
      alert_emails = ["support-leads@example.com"]
    }
  }
}

run "contract" {
  command = plan

  module {
    source = "../tenants"
  }
}

run "three_tenants_get_three_budgets_filtered_on_their_tag" {
  command = plan

  variables {
    tenants = run.contract.tenants
  }

  assert {
    condition     = length(aws_budgets_budget.terraform_managed) + length(aws_budgets_budget.console_managed) == 3
    error_message = "Expected one budget per tenant."
  }

  assert {
    condition     = sort(keys(aws_budgets_budget.terraform_managed)) == sort(["sales", "support"]) && sort(keys(aws_budgets_budget.console_managed)) == sort(["services"])
    error_message = "console_managed = true must put the tenant (only) in the console_managed block."
  }

  assert {
    condition     = one(aws_budgets_budget.terraform_managed["sales"].cost_filter).name == "TagKeyValue" && one(aws_budgets_budget.terraform_managed["sales"].cost_filter).values == tolist(["user:applicationId$sales-assistant"])
    error_message = "The budget must filter on TagKeyValue user:applicationId$<application_id>."
  }

  assert {
    condition     = one(aws_budgets_budget.console_managed["services"].cost_filter).values == tolist(["user:applicationId$services-copilot"])
    error_message = "Console-managed budgets filter the same way."
  }

  assert {
    condition     = aws_budgets_budget.terraform_managed["sales"].budget_type == "COST" && aws_budgets_budget.terraform_managed["sales"].time_unit == "MONTHLY" && aws_budgets_budget.terraform_managed["sales"].limit_amount == "0.5" && aws_budgets_budget.terraform_managed["sales"].limit_unit == "USD"
    error_message = "A default tenant gets a MONTHLY COST budget of its limit in USD."
  }

  assert {
    condition     = aws_budgets_budget.terraform_managed["support"].time_unit == "DAILY"
    error_message = "period = DAILY must become time_unit DAILY."
  }

  assert {
    condition     = jsonencode(output.notifications["sales"]) == jsonencode([{ type = "ACTUAL", threshold = 50 }, { type = "ACTUAL", threshold = 80 }, { type = "ACTUAL", threshold = 100 }, { type = "FORECASTED", threshold = 100 }])
    error_message = "Defaults: actual thresholds 50, 80, 100 and one forecast at 100."
  }

  assert {
    condition     = jsonencode(output.notifications["support"]) == jsonencode([{ type = "ACTUAL", threshold = 100 }, { type = "ACTUAL", threshold = 90 }, { type = "ACTUAL", threshold = 95 }])
    error_message = "forecast_threshold = 0 drops the forecast; repeated thresholds count once; block_at_actual gets its own notification."
  }

  assert {
    condition     = output.budget_names["sales"] == "cs-sales" && output.budget_names["services"] == "cs-services" && output.budget_names["support"] == "cs-support"
    error_message = "Budgets are named <prefix>-<tenant> (the budget sync function relies on it)."
  }

  assert {
    condition     = output.console_managed_tenants == sort(["services"])
    error_message = "console_managed_tenants lists the console-managed tenants."
  }
}

run "contract_with_a_fourth_tenant" {
  command = plan

  module {
    source = "../tenants"
  }

  variables {
    tenants = {
      sales    = { application_id = "sales-assistant", cost_center = "sales", models = ["nova-micro"], budget = { limit_usd = 0.5 } }
      services = { application_id = "services-copilot", cost_center = "services", models = ["nova-micro"], budget = { limit_usd = 1, console_managed = true } }
      support  = { application_id = "support-bot", cost_center = "support", models = ["nova-micro"], budget = { limit_usd = 0.25, period = "DAILY" } }
      legal    = { application_id = "legal-review", cost_center = "legal", models = ["nova-micro"], budget = { limit_usd = 2 } }
    }
  }
}

run "a_fourth_tenant_adds_only_its_own_budget" {
  command = plan

  variables {
    tenants = run.contract_with_a_fourth_tenant.tenants
  }

  assert {
    condition     = sort(keys(aws_budgets_budget.terraform_managed)) == sort(["legal", "sales", "support"]) && sort(keys(aws_budgets_budget.console_managed)) == sort(["services"])
    error_message = "The fourth tenant must add only its own budget."
  }

  assert {
    condition     = one(aws_budgets_budget.terraform_managed["legal"].cost_filter).values == tolist(["user:applicationId$legal-review"])
    error_message = "The new budget filters on the new tenant's tag."
  }
}
