# The tenant contract, evaluated once: optional() defaults, derived names, automatic ledger shards, the
# runtime config document, and every validation rule (each bad input names its rule).

variables {
  name_prefix  = "cs"
  environment  = "prod"
  known_models = ["claude-3-haiku", "nova-micro", "nova-lite"]
  tenants = {
    acme = {
      application_id = "acme-app"
      cost_center    = "acme"
      models         = ["nova-micro", "claude-3-haiku"]
      budget         = { limit_usd = 0.1 }
    }
    bolt = {
      application_id = "bolt-app"
      cost_center    = "bolt"
      environment    = "staging"
      models         = ["claude-3-haiku", "nova-micro", "nova-lite"]
      model_aliases  = { bolt = "nova-lite", fast = "nova-micro" }
      budget         = { limit_usd = 12.345, period = "DAILY", block_at_actual = 90, forecast_threshold = 0, pace = { burst_percent = 2.5 } }
      limits         = { requests_per_minute = 60000, tokens_per_period = 400000, max_in_flight = 4 }
      enforce        = false
      users = {
        default_limit_usd = 0.1
        limits_usd        = { alice = 0.5 }
        allow_anonymous   = true
        pace              = { burst_hours = 1.5 }
        keys              = { ci = { user = "ci-bot", sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", prefix = "csk_ABCDEFGH", limit_usd = 2 } }
      }
      oidc = { issuer = "https://login.example.com/tenant", audience = "bolt-chat" }
      tags = { team = "bolts" }
    }
  }
}

run "defaults_are_applied" {
  command = plan

  assert {
    condition = (
      output.tenants["acme"].environment == "prod" && output.tenants["acme"].budget.period == "MONTHLY"
      && jsonencode(output.tenants["acme"].budget.actual_thresholds) == jsonencode([50, 80, 100]) && output.tenants["acme"].budget.forecast_threshold == 100
      && output.tenants["acme"].budget.console_managed == false && output.tenants["acme"].budget.block_at_actual == null
      && output.tenants["acme"].limits.requests_per_minute == null && output.tenants["acme"].limits.max_in_flight == null
      && output.tenants["acme"].users.default_limit_usd == null && length(output.tenants["acme"].users.limits_usd) == 0
      && length(output.tenants["acme"].alert_emails) == 0 && length(output.tenants["acme"].tags) == 0 && output.tenants["acme"].default_model == "nova-micro"
      && output.tenants["acme"].budget.pace == null && output.tenants["acme"].users.pace == null && output.tenants["acme"].enforce == true
      && jsondecode(output.tenants["acme"].config_json).enforce == true && jsondecode(output.tenants["acme"].config_json).budget.pace == null
    )
    error_message = "optional() defaults: var.environment, MONTHLY, [50, 80, 100], forecast 100, not console-managed, no limits, no per-user limits, unpaced, enforced."
  }

  assert {
    condition = (
      output.tenants["acme"].budget.name == "cs-acme" && output.tenants["acme"].api_key_name == "cs-acme" && output.tenants["acme"].usage_plan_name == "cs-acme"
      && output.tenants["acme"].invoker_role_name == "cs-acme-invoker" && output.tenants["acme"].profile_names == { "nova-micro" = "cs-acme-nova-micro", "claude-3-haiku" = "cs-acme-claude-3-haiku" }
    )
    error_message = "Derived names: <prefix>-<tenant> (budget, API key, usage plan), <prefix>-<tenant>-invoker, <prefix>-<tenant>-<model>."
  }

  assert {
    condition     = output.tenants["acme"].budget.shards == 16 && output.tenants["bolt"].budget.shards == 10
    error_message = "Automatic shards: 16 without requests_per_minute, else ceil(rpm / 6000) clamped to 1..32."
  }

  assert {
    condition     = output.tenants["bolt"].model_aliases == { bolt = "nova-lite", fast = "nova-micro" } && output.tenants["acme"].model_aliases == { acme = "nova-micro" }
    error_message = "The cost center is an alias of the default model unless an explicit alias names it."
  }

  assert {
    condition = jsondecode(output.tenants["bolt"].config_json) == {
      tenantId      = "bolt"
      applicationId = "bolt-app"
      costCenter    = "bolt"
      environment   = "staging"
      budget        = { limitUsd = "12.345", period = "DAILY", blockAtActualPercent = "90", pace = { burstPercent = "2.5", burstHours = "0" } }
      enforce       = false
      limits        = { requestsPerMinute = 60000, tokensPerPeriod = 400000, maxInFlight = 4 }
      ledger        = { shards = 10 }
      users = {
        defaultLimitUsd = "0.1"
        limitsUsd       = { alice = "0.5" }
        allowAnonymous  = true
        pace            = { burstPercent = "0", burstHours = "1.5" }
        keys            = { ci = { user = "ci-bot", sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", prefix = "csk_ABCDEFGH", expires = null, limitUsd = "2" } }
      }
      identity     = { oidc = { issuer = "https://login.example.com/tenant", audience = "bolt-chat", userClaim = "email", jwksUri = null } }
      defaultModel = "claude-3-haiku"
      modelAliases = { bolt = "nova-lite", fast = "nova-micro" }
    }
    error_message = "The config document follows docs/design.md section 3 (decimals as strings)."
  }

  assert {
    condition     = jsonencode(output.application_ids) == jsonencode(["acme-app", "bolt-app"]) && output.tenant_id_pattern == "^[a-z0-9-]{1,32}$"
    error_message = "application_ids are sorted; the tenant id pattern is exported."
  }
}

run "automatic_shards_are_clamped" {
  command = plan

  variables {
    tenants = {
      slow  = { application_id = "slow", cost_center = "slow", models = ["nova-micro"], budget = { limit_usd = 1 }, limits = { requests_per_minute = 10 } }
      huge  = { application_id = "huge", cost_center = "huge", models = ["nova-micro"], budget = { limit_usd = 1 }, limits = { requests_per_minute = 1000000 } }
      fixed = { application_id = "fixed", cost_center = "fixed", models = ["nova-micro"], budget = { limit_usd = 1, shards = 64 } }
    }
  }

  assert {
    condition     = output.tenants["slow"].budget.shards == 1 && output.tenants["huge"].budget.shards == 32 && output.tenants["fixed"].budget.shards == 64
    error_message = "ceil(rpm / 6000) within 1..32; an explicit budget.shards wins."
  }
}

run "forecast_threshold_null_takes_the_default" {
  command = plan

  variables {
    tenants = {
      acme = { application_id = "acme-app", cost_center = "acme", models = ["nova-micro"], budget = { limit_usd = 1, forecast_threshold = null } }
    }
  }

  assert {
    condition     = output.tenants["acme"].budget.forecast_threshold == 100
    error_message = "An explicit null is the optional() default."
  }
}

# ---- refused input: one run per rule ----

run "no_tenant_is_refused" {
  command = plan
  variables {
    tenants = {}
  }
  expect_failures = [var.tenants]
}

run "a_bad_tenant_id_is_refused" {
  command = plan
  variables {
    tenants = { "Acme_Corp" = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1 } } }
  }
  expect_failures = [var.tenants]
}

run "a_zero_budget_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 0 } } }
  }
  expect_failures = [var.tenants]
}

run "an_unknown_period_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1, period = "WEEKLY" } } }
  }
  expect_failures = [var.tenants]
}

run "a_threshold_over_1000_percent_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1, block_at_actual = 1001 } } }
  }
  expect_failures = [var.tenants]
}

run "a_zero_actual_threshold_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1, actual_thresholds = [0] } } }
  }
  expect_failures = [var.tenants]
}

run "shards_outside_1_to_64_are_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1, shards = 65 } } }
  }
  expect_failures = [var.tenants]
}

run "fractional_shards_are_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1, shards = 1.5 } } }
  }
  expect_failures = [var.tenants]
}

run "an_unknown_model_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["gpt-4o"], budget = { limit_usd = 1 } } }
  }
  expect_failures = [var.tenants]
}

run "no_model_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = [], budget = { limit_usd = 1 } } }
  }
  expect_failures = [var.tenants]
}

run "a_model_listed_twice_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro", "nova-micro"], budget = { limit_usd = 1 } } }
  }
  expect_failures = [var.tenants]
}

run "an_alias_to_a_model_the_tenant_lacks_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], model_aliases = { x = "nova-lite" }, budget = { limit_usd = 1 } } }
  }
  expect_failures = [var.tenants]
}

run "a_bad_tag_value_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "acme app!", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1 } } }
  }
  expect_failures = [var.tenants]
}

run "an_aws_tag_key_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1 }, tags = { "aws:x" = "y" } } }
  }
  expect_failures = [var.tenants]
}

run "two_tenants_sharing_an_application_id_are_refused" {
  command = plan
  variables {
    tenants = {
      acme = { application_id = "shared", cost_center = "a", models = ["nova-micro"], budget = { limit_usd = 1 } }
      bolt = { application_id = "shared", cost_center = "b", models = ["nova-micro"], budget = { limit_usd = 1 } }
    }
  }
  expect_failures = [var.tenants]
}

run "a_fractional_rate_limit_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1 }, limits = { requests_per_minute = 1.5 } } }
  }
  expect_failures = [var.tenants]
}

run "a_zero_max_in_flight_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1 }, limits = { max_in_flight = 0 } } }
  }
  expect_failures = [var.tenants]
}

run "a_zero_user_limit_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1 }, users = { limits_usd = { alice = 0 } } } }
  }
  expect_failures = [var.tenants]
}

run "a_user_id_sts_refuses_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1 }, users = { limits_usd = { "a b" = 1 } } } }
  }
  expect_failures = [var.tenants]
}

run "a_user_id_with_a_comma_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1 }, users = { limits_usd = { "a,b" = 1 } } } }
  }
  expect_failures = [var.tenants]
}

run "a_user_key_without_a_sha256_hash_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1 }, users = { keys = { k = { user = "alice", sha256 = "csk_the-key-itself" } } } } }
  }
  expect_failures = [var.tenants]
}

run "a_user_key_with_a_bad_expiry_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1 }, users = { keys = { k = { user = "alice", sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", expires = "next year" } } } } }
  }
  expect_failures = [var.tenants]
}

run "one_key_hash_for_two_tenants_is_refused" {
  command = plan
  variables {
    tenants = {
      acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1 }, users = { keys = { k = { user = "alice", sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" } } } }
      bolt = { application_id = "b", cost_center = "d", models = ["nova-micro"], budget = { limit_usd = 1 }, users = { keys = { k = { user = "bob", sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" } } } }
    }
  }
  expect_failures = [var.tenants]
}

run "an_oidc_issuer_over_plain_http_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1 }, oidc = { issuer = "http://login.example.com", audience = "app" } } }
  }
  expect_failures = [var.tenants]
}

run "an_oidc_user_claim_that_is_not_an_id_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1 }, oidc = { issuer = "https://login.example.com", audience = "app", user_claim = "name" } } }
  }
  expect_failures = [var.tenants]
}

run "two_tenants_sharing_an_issuer_and_audience_are_refused" {
  command = plan
  variables {
    tenants = {
      acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1 }, oidc = { issuer = "https://login.example.com", audience = "app" } }
      bolt = { application_id = "b", cost_center = "d", models = ["nova-micro"], budget = { limit_usd = 1 }, oidc = { issuer = "https://login.example.com", audience = "app" } }
    }
  }
  expect_failures = [var.tenants]
}

run "a_pace_without_a_burst_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1, pace = {} } } }
  }
  expect_failures = [var.tenants]
}

run "a_user_pace_burst_over_100_percent_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1 }, users = { default_limit_usd = 0.5, pace = { burst_percent = 150 } } } }
  }
  expect_failures = [var.tenants]
}

run "a_bad_email_is_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1 }, alert_emails = ["nobody"] } }
  }
  expect_failures = [var.tenants]
}

run "eleven_budget_subscribers_are_refused" {
  command = plan
  variables {
    tenants = { acme = { application_id = "a", cost_center = "c", models = ["nova-micro"], budget = { limit_usd = 1 }, alert_emails = [for i in range(11) : "u${i}@example.com"] } }
  }
  expect_failures = [var.tenants]
}

run "a_long_name_prefix_is_refused" {
  command = plan
  variables {
    name_prefix = "a-name-prefix-far-too-long"
  }
  expect_failures = [var.name_prefix]
}
