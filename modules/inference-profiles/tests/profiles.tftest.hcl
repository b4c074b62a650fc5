# Three tenants -> one profile per tenant and allowed model; a fourth tenant adds only its own profiles.
# The tenants come normalized from modules/tenants (runs "contract*"), whose own tests cover the contract.

variables {
  name_prefix   = "cs"
  region        = "us-east-1"
  account_id    = "111111111111"
  environment   = "prod"
  model_catalog = jsondecode(file("../../lambda_src/cost_sentry/data/models.json")).models
  known_models  = keys(jsondecode(file("../../lambda_src/cost_sentry/data/models.json")).models)
  tenants = {
    sales = {
      application_id = "sales-assistant"
      cost_center    = "sales"
      models         = ["claude-3-haiku", "nova-micro"]
      budget         = { limit_usd = 1 }
    }
    services = {
      application_id = "services-copilot"
      cost_center    = "services"
      models         = ["claude-3-haiku", "claude-3-5-haiku", "nova-lite"]
      budget         = { limit_usd = 1 }
    }
    support = {
      application_id = "support-bot"
      cost_center    = "support"
      environment    = "staging"
      models         = ["nova-micro", "nova-lite"]
      tags           = { team = "customer-support" }
      budget         = { limit_usd = 1 }
    }
  }
}

run "contract" {
  command = plan

  module {
    source = "../tenants"
  }
}

run "three_tenants_get_one_profile_per_allowed_model" {
  command = plan

  variables {
    tenants = run.contract.tenants
  }

  assert {
    condition = output.profile_keys == tolist([
      "sales/claude-3-haiku", "sales/nova-micro",
      "services/claude-3-5-haiku", "services/claude-3-haiku", "services/nova-lite",
      "support/nova-lite", "support/nova-micro",
    ])
    error_message = "Expected exactly one profile per tenant and model, keyed <tenant>/<model>."
  }

  assert {
    condition     = aws_bedrock_inference_profile.this["sales/claude-3-haiku"].name == "cs-sales-claude-3-haiku"
    error_message = "Profile names must be <prefix>-<tenant>-<model>."
  }

  assert {
    condition     = aws_bedrock_inference_profile.this["sales/claude-3-haiku"].model_source[0].copy_from == "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
    error_message = "A foundation-model entry of models.json must copy from the foundation model ARN."
  }

  assert {
    condition     = aws_bedrock_inference_profile.this["services/claude-3-5-haiku"].model_source[0].copy_from == "arn:aws:bedrock:us-east-1:111111111111:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0"
    error_message = "An inference-profile entry of models.json must copy from the system-defined cross-Region profile."
  }

  assert {
    condition = aws_bedrock_inference_profile.this["support/nova-micro"].tags == tomap({
      applicationId = "support-bot"
      costCenter    = "support"
      environment   = "staging"
      model         = "nova-micro"
      team          = "customer-support"
    })
    error_message = "Profiles carry applicationId, costCenter, environment (tenant's own or the default), the model and the free-form tags."
  }

  assert {
    condition     = aws_bedrock_inference_profile.this["sales/nova-micro"].tags["environment"] == "prod"
    error_message = "A tenant without an environment gets var.environment."
  }

  assert {
    condition     = contains(output.underlying_model_arns["services"], "arn:aws:bedrock:us-east-1:111111111111:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0")
    error_message = "IAM must also see the system profile behind a cross-Region tenant profile."
  }

  assert {
    condition     = contains(output.underlying_model_arns["services"], "arn:aws:bedrock:*::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0")
    error_message = "A cross-Region profile routes to the foundation model in several Regions: IAM needs the Region wildcard."
  }
}

run "contract_with_a_fourth_tenant" {
  command = plan

  module {
    source = "../tenants"
  }

  variables {
    tenants = {
      sales = {
        application_id = "sales-assistant"
        cost_center    = "sales"
        models         = ["claude-3-haiku", "nova-micro"]
        budget         = { limit_usd = 1 }
      }
      services = {
        application_id = "services-copilot"
        cost_center    = "services"
        models         = ["claude-3-haiku", "claude-3-5-haiku", "nova-lite"]
        budget         = { limit_usd = 1 }
      }
      support = {
        application_id = "support-bot"
        cost_center    = "support"
        environment    = "staging"
        models         = ["nova-micro", "nova-lite"]
        tags           = { team = "customer-support" }
        budget         = { limit_usd = 1 }
      }
      legal = {
        application_id = "legal-review"
        cost_center    = "legal"
        models         = ["claude-sonnet-4"]
        budget         = { limit_usd = 1 }
      }
    }
  }
}

run "a_fourth_tenant_adds_only_its_own_profiles" {
  command = plan

  variables {
    tenants = run.contract_with_a_fourth_tenant.tenants
  }


  assert {
    condition     = output.profile_keys == sort(concat(run.three_tenants_get_one_profile_per_allowed_model.profile_keys, ["legal/claude-sonnet-4"]))
    error_message = "The fourth tenant must add exactly its own profile and keep every existing key."
  }

  assert {
    condition     = length(output.profile_arns) == 4 && length(output.profile_arns["legal"]) == 1 && length(output.profile_arns["services"]) == 3
    error_message = "profile_arns is keyed by tenant."
  }
}

run "contract_with_a_model_the_catalog_lacks" {
  command = plan

  module {
    source = "../tenants"
  }

  variables {
    known_models = ["gpt-9"] # the contract lets it through, so the module's own precondition must catch it
    tenants = {
      sales = {
        application_id = "sales-assistant"
        cost_center    = "sales"
        models         = ["gpt-9"]
        budget         = { limit_usd = 1 }
      }
    }
  }
}

run "a_model_missing_from_the_catalog_is_refused" {
  command = plan

  variables {
    tenants = run.contract_with_a_model_the_catalog_lacks.tenants
  }


  expect_failures = [aws_bedrock_inference_profile.this]
}
