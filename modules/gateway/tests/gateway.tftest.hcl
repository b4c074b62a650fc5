# The gateway: per-tenant API keys, usage plans and config items; the config document is modules/tenants'
# plus what exists after an apply; per-user invoker roles only when asked for; bad inputs are refused.
# The tenants come normalized from modules/tenants (run "contract"), whose own tests cover the contract.

# Variables: tests/terraform.tfvars (shared by the module's test files).

run "contract" {
  command = plan

  module {
    source = "../tenants"
  }
}

run "a_shadow_tenant_is_throttled_only_by_the_default" {
  command = plan

  variables {
    tenants = { for id, tenant in run.contract.tenants : id => merge(tenant, { enforce = id != "sales" }) }
  }

  assert {
    condition     = output.usage_plan_throttles["sales"].rate_limit == 50 && output.usage_plan_throttles["sales"].burst_limit == 100
    error_message = "A tenant in shadow mode (enforce = false) is refused nothing for rate: its usage plan gets default_throttle, not requests_per_minute."
  }
}

run "three_tenants_get_keys_plans_and_config_items" {
  command = plan

  variables {
    tenants = run.contract.tenants
  }

  assert {
    condition     = sort(keys(aws_api_gateway_api_key.tenant)) == sort(["sales", "services", "support"]) && sort(keys(aws_api_gateway_usage_plan.tenant)) == sort(["sales", "services", "support"]) && sort(keys(aws_api_gateway_usage_plan_key.tenant)) == sort(["sales", "services", "support"]) && sort(keys(aws_dynamodb_table_item.tenant_config)) == sort(["sales", "services", "support"])
    error_message = "Each tenant needs an API key, a usage plan, the key in the plan and a config item."
  }

  assert {
    condition     = output.usage_plan_throttles["sales"].rate_limit == 10 && output.usage_plan_throttles["sales"].burst_limit == 20 && output.usage_plan_throttles["services"].rate_limit == 50
    error_message = "Throttle: requests_per_minute / 60 per second (burst twice that); tenants without a limit get default_throttle."
  }

  assert {
    condition     = output.tenant_configs["sales"].enforce == true
    error_message = "The config item carries enforce (true unless the tenant is in shadow mode)."
  }

  assert {
    condition = alltrue([
      output.tenant_configs["support"].tenantId == "support",
      output.tenant_configs["support"].applicationId == "support-bot",
      output.tenant_configs["support"].costCenter == "support",
      output.tenant_configs["support"].environment == "staging",
      output.tenant_configs["support"].budget.limitUsd == "0.25",
      output.tenant_configs["support"].budget.period == "DAILY",
      output.tenant_configs["support"].budget.blockAtActualPercent == "100",
      output.tenant_configs["support"].limits.requestsPerMinute == 300,
      output.tenant_configs["support"].limits.tokensPerPeriod == 400000,
      output.tenant_configs["support"].defaultModel == "nova-micro",
      output.tenant_configs["support"].models["nova-lite"] == "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/sup2",
      output.tenant_configs["support"].invokerRoleArn == null,
    ])
    error_message = "The config document must follow docs/design.md section 3."
  }

  assert {
    condition     = output.tenant_configs["sales"].environment == "prod" && output.tenant_configs["sales"].budget.period == "MONTHLY" && output.tenant_configs["sales"].budget.blockAtActualPercent == null && output.tenant_configs["sales"].limits.tokensPerPeriod == null
    error_message = "Defaults: environment from var.environment, MONTHLY, never blocked, no token limit."
  }

  assert {
    condition     = output.tenant_configs["services"].modelAliases["services"] == "claude-3-haiku" && output.tenant_configs["services"].modelAliases["fast"] == "nova-lite"
    error_message = "modelAliases: the cost center names the default model, plus the tenant's own aliases."
  }

  assert {
    condition     = aws_dynamodb_table_item.tenant_config["sales"].hash_key == "pk" && aws_dynamodb_table.config.hash_key == "pk" && aws_dynamodb_table.ledger.hash_key == "pk" && aws_dynamodb_table.ledger.range_key == "sk"
    error_message = "Table keys: config pk; ledger pk + sk."
  }

  assert {
    condition     = one(aws_dynamodb_table.ledger.ttl).attribute_name == "expires_at" && one(aws_dynamodb_table.ledger.ttl).enabled && aws_dynamodb_table.ledger.billing_mode == "PAY_PER_REQUEST" && one(aws_dynamodb_table.ledger.point_in_time_recovery).enabled
    error_message = "The ledger is on-demand, with PITR and TTL on expires_at."
  }

  assert {
    condition = alltrue([
      aws_lambda_function.this["gateway"].handler == "cost_sentry.handlers.gateway.handler",
      aws_lambda_function.this["gateway"].timeout == 300,
      aws_lambda_function.this["gateway"].architectures == tolist(["arm64"]),
      aws_lambda_function.this["gateway"].runtime == "python3.13",
      aws_lambda_function.this["gateway"].environment[0].variables["MAX_REQUEST_SECONDS"] == "300",
      !contains(keys(aws_lambda_function.this["gateway"].environment[0].variables), "CONVERSE_TIMEOUT_SECONDS"),
      aws_lambda_function.this["gateway"].environment[0].variables["NEW_SESSIONS_PER_MINUTE"] == "60",
      aws_lambda_function.this["gateway"].environment[0].variables["LEDGER_TABLE"] == "cs-ledger",
      aws_lambda_function.this["gateway"].environment[0].variables["CONFIG_TABLE"] == "cs-config",
      aws_lambda_function.this["gateway"].environment[0].variables["PER_USER_SESSIONS"] == "false",
      aws_lambda_function.this["gateway"].environment[0].variables["OWN_PRINCIPAL"] == "arn:aws:sts::111111111111:assumed-role/cs-gateway/cs-gateway",
      aws_lambda_function.stream.environment[0].variables["OWN_PRINCIPAL"] == "arn:aws:sts::111111111111:assumed-role/cs-gateway/cs-gateway-stream",
      aws_lambda_function.this["gateway"].environment[0].variables["METRICS_NAMESPACE"] == "GenAIRateLimiting",
    ])
    error_message = "The gateway function: handler, timeout = MAX_REQUEST_SECONDS, arm64, and the environment of docs/design.md section 6."
  }

  assert {
    condition     = aws_lambda_function.this["budget_sync"].handler == "cost_sentry.handlers.budget_sync.handler" && aws_lambda_function.this["budget_sync"].environment[0].variables["BUDGET_NAME_PREFIX"] == "cs" && aws_lambda_function.this["budget_alert"].handler == "cost_sentry.handlers.budget_alert.handler"
    error_message = "The budget helpers run from the same zip with their own handlers."
  }

  assert {
    condition     = aws_api_gateway_integration.route["converse"].type == "AWS_PROXY" && aws_api_gateway_integration.route["converse_stream"].type == "AWS_PROXY" && aws_api_gateway_integration.route["budget"].type == "AWS_PROXY" && aws_api_gateway_integration.route["converse"].timeout_milliseconds == 300000
    error_message = "Every route proxies to the function."
  }

  assert {
    condition     = alltrue([for m in aws_api_gateway_method.route : m.api_key_required]) && aws_api_gateway_method.route["budget"].http_method == "GET" && aws_api_gateway_method.route["converse_stream"].http_method == "POST"
    error_message = "Every route requires an API key."
  }

  assert {
    condition     = aws_api_gateway_gateway_response.this["INVALID_API_KEY"].status_code == "401" && jsondecode(replace(aws_api_gateway_gateway_response.this["INVALID_API_KEY"].response_templates["application/json"], "$context.requestId", "r1")).error.code == "invalid_api_key"
    error_message = "A missing or invalid API key must become a 401 with the gateway's error JSON shape."
  }

  assert {
    condition     = sort(keys(jsondecode(replace(aws_api_gateway_gateway_response.this["INVALID_API_KEY"].response_templates["application/json"], "$context.requestId", "r1")).error)) == sort(["code", "message", "requestId"])
    error_message = "The error body has exactly code, message and requestId."
  }

  assert {
    condition     = length(aws_iam_role.invoker) == 0 && length(output.invoker_role_arns) == 0
    error_message = "Without per_user_sessions no invoker role exists."
  }

  assert {
    condition = alltrue([
      length(jsondecode(aws_iam_role_policy.gateway_invoke.policy).Statement) == 2,
      jsonencode(jsondecode(aws_iam_role_policy.gateway_invoke.policy).Statement[0].Resource) == jsonencode(sort([
        "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/sales1",
        "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/sales2",
        "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/sup1",
        "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/sup2",
        "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/svc1",
        "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/svc2",
        "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/svc3",
      ])),
    ])
    error_message = "The gateway may invoke exactly the tenants' profiles (not legal's, which is no tenant here), and assume no role."
  }

  assert {
    condition = alltrue([
      !contains(jsondecode(aws_iam_role_policy.gateway_invoke.policy).Statement[1].Resource, "arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0"),
      contains(jsondecode(aws_iam_role_policy.gateway_invoke.policy).Statement[1].Resource, "arn:aws:bedrock:us-east-1:111111111111:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0"),
      jsonencode(jsondecode(aws_iam_role_policy.gateway_invoke.policy).Statement[1].Condition.StringEquals["bedrock:InferenceProfileArn"]) == jsonencode(jsondecode(aws_iam_role_policy.gateway_invoke.policy).Statement[0].Resource),
    ])
    error_message = "Models behind the profiles are allowed only through the tenants' profiles."
  }
}

run "per_user_sessions_create_one_invoker_role_per_tenant" {
  command = plan

  variables {
    per_user_sessions = true
    tenants           = run.contract.tenants
  }

  assert {
    condition     = sort(keys(aws_iam_role.invoker)) == sort(["sales", "services", "support"]) && aws_iam_role.invoker["sales"].name == "cs-sales-invoker"
    error_message = "per_user_sessions must create one invoker role per tenant."
  }

  assert {
    condition     = aws_lambda_function.this["gateway"].environment[0].variables["PER_USER_SESSIONS"] == "true"
    error_message = "The gateway must know it runs with per-user sessions."
  }

  assert {
    condition     = length(jsondecode(aws_iam_role_policy.gateway_invoke.policy).Statement) == 1 && jsonencode(jsondecode(aws_iam_role_policy.gateway_invoke.policy).Statement[0].Resource) == jsonencode(["arn:aws:iam::111111111111:role/cs-sales-invoker", "arn:aws:iam::111111111111:role/cs-services-invoker", "arn:aws:iam::111111111111:role/cs-support-invoker"]) && jsonencode(jsondecode(aws_iam_role_policy.gateway_invoke.policy).Statement[0].Action) == jsonencode(["sts:AssumeRole", "sts:TagSession"])
    error_message = "With per-user sessions the gateway's own role has no Bedrock rights: it may only assume (with session tags) the tenants' invoker roles."
  }

  assert {
    condition = alltrue([
      jsondecode(aws_iam_role.invoker["support"].assume_role_policy).Statement[0].Principal.AWS == "arn:aws:iam::111111111111:role/cs-gateway",
      jsonencode(jsondecode(aws_iam_role.invoker["support"].assume_role_policy).Statement[0].Action) == jsonencode(["sts:AssumeRole", "sts:TagSession"]),
      jsondecode(aws_iam_role.invoker["support"].assume_role_policy).Statement[0].Condition.StringEquals["aws:RequestTag/applicationId"] == "support-bot",
      jsondecode(aws_iam_role.invoker["support"].assume_role_policy).Statement[0].Condition.StringEquals["aws:RequestTag/costCenter"] == "support",
      jsondecode(aws_iam_role.invoker["support"].assume_role_policy).Statement[0].Condition.StringEquals["aws:RequestTag/environment"] == "staging",
      jsonencode(jsondecode(aws_iam_role.invoker["support"].assume_role_policy).Statement[0].Condition["ForAllValues:StringEquals"]["aws:TagKeys"]) == jsonencode(["applicationId", "costCenter", "environment", "user"]),
    ])
    error_message = "Only the gateway role may assume an invoker role, and only with the tenant's own cost allocation session tags."
  }

  assert {
    condition = alltrue([
      jsonencode(jsondecode(aws_iam_role_policy.invoker["support"].policy).Statement[0].Resource) == jsonencode([
        "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/sup1",
        "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/sup2",
      ]),
      jsonencode(jsondecode(aws_iam_role_policy.invoker["support"].policy).Statement[1].Condition.StringEquals["bedrock:InferenceProfileArn"]) == jsonencode(jsondecode(aws_iam_role_policy.invoker["support"].policy).Statement[0].Resource),
    ])
    error_message = "An invoker role may invoke only its own tenant's profiles, and the models behind them only through those profiles."
  }
}

run "contract_with_a_fourth_tenant" {
  command = plan

  module {
    source = "../tenants"
  }

  variables {
    tenants = {
      sales    = { application_id = "sales-assistant", cost_center = "sales", models = ["claude-3-haiku", "nova-micro"], budget = { limit_usd = 0.5 }, limits = { requests_per_minute = 600 } }
      services = { application_id = "services-copilot", cost_center = "services", models = ["claude-3-haiku", "claude-3-5-haiku", "nova-lite"], model_aliases = { fast = "nova-lite" }, budget = { limit_usd = 1 } }
      support  = { application_id = "support-bot", cost_center = "support", environment = "staging", models = ["nova-micro", "nova-lite"], budget = { limit_usd = 0.25, period = "DAILY", block_at_actual = 100 }, limits = { requests_per_minute = 300, tokens_per_period = 400000 } }
      legal    = { application_id = "legal-review", cost_center = "legal", models = ["claude-sonnet-4"], budget = { limit_usd = 2 } }
    }
  }
}

run "a_fourth_tenant_adds_only_its_own_resources" {
  command = plan

  variables {
    per_user_sessions = true
    tenants           = run.contract_with_a_fourth_tenant.tenants
  }

  assert {
    condition     = sort(keys(aws_api_gateway_api_key.tenant)) == sort(["legal", "sales", "services", "support"]) && sort(keys(aws_dynamodb_table_item.tenant_config)) == sort(["legal", "sales", "services", "support"]) && sort(keys(aws_iam_role.invoker)) == sort(["legal", "sales", "services", "support"])
    error_message = "The fourth tenant adds exactly its own key, config item and invoker role."
  }

  assert {
    condition     = output.tenant_configs["sales"].models == run.three_tenants_get_keys_plans_and_config_items.tenant_configs["sales"].models && output.tenant_configs["legal"].defaultModel == "claude-sonnet-4"
    error_message = "Existing tenants' config is unchanged by a new tenant."
  }
}

run "a_runtime_outside_python_312_313_is_refused" {
  command = plan

  variables {
    lambda_runtime = "python3.9"
    tenants        = run.contract.tenants
  }

  expect_failures = [var.lambda_runtime]
}

# The item the gateway reads is exactly Terraform's document (modules/tenants) plus the apply-time
# bindings: the API key id (overridden here so it is known at plan), the profile ARNs, the invoker role.
run "the_config_item_is_the_contract_document_plus_its_bindings" {
  command = plan

  variables {
    tenants = run.contract.tenants
  }

  override_resource {
    target          = aws_api_gateway_api_key.tenant["services"]
    override_during = plan
    values = {
      id = "key-services"
    }
  }

  assert {
    condition = jsondecode(jsondecode(aws_dynamodb_table_item.tenant_config["services"].item).config.S) == merge(jsondecode(run.contract.tenants["services"].config_json), {
      apiKeyIds = ["key-services"]
      models = {
        "claude-3-haiku"   = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/svc1"
        "claude-3-5-haiku" = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/svc2"
        "nova-lite"        = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/svc3"
      }
      invokerRoleArn = null
    })
    error_message = "The config item must be modules/tenants' config_json completed with apiKeyIds, models and invokerRoleArn."
  }

  assert {
    condition     = jsondecode(aws_dynamodb_table_item.tenant_config["services"].item).pk.S == "tenant#services"
    error_message = "Config items are keyed tenant#<id>."
  }
}

run "a_waf_acl_that_is_no_arn_is_refused" {
  command = plan

  variables {
    tenants         = run.contract.tenants
    waf_web_acl_arn = "my-acl"
  }

  expect_failures = [var.waf_web_acl_arn]
}

run "a_budget_topic_that_is_no_sns_arn_is_refused" {
  command = plan

  variables {
    tenants          = run.contract.tenants
    budget_topic_arn = "arn:aws:sqs:us-east-1:111111111111:queue"
  }

  expect_failures = [var.budget_topic_arn]
}

run "an_empty_metrics_namespace_is_refused" {
  command = plan

  variables {
    tenants           = run.contract.tenants
    metrics_namespace = ""
  }

  expect_failures = [var.metrics_namespace]
}

run "a_metrics_namespace_with_a_colon_is_refused" {
  command = plan

  variables {
    tenants           = run.contract.tenants
    metrics_namespace = "Cost:Sentry"
  }

  expect_failures = [var.metrics_namespace]
}

run "a_regional_waf_acl_arn_is_accepted" {
  command = plan

  variables {
    tenants         = run.contract.tenants
    waf_web_acl_arn = "arn:aws:wafv2:us-east-1:111111111111:regional/webacl/cs-acl/a1b2c3d4-5678-90ab-cdef-0123456789ab"
  }

  assert {
    condition     = length(aws_wafv2_web_acl_association.this) == 1
    error_message = "A valid REGIONAL web ACL ARN is associated with the stage."
  }
}

run "the_ledger_sweep_runs_every_minute_from_the_same_zip" {
  command = plan

  variables {
    tenants = run.contract.tenants
  }

  assert {
    condition = alltrue([
      aws_lambda_function.this["ledger_sweep"].handler == "cost_sentry.handlers.ledger_sweep.handler",
      aws_lambda_function.this["ledger_sweep"].timeout < 60,
      aws_lambda_function.this["ledger_sweep"].environment[0].variables["CALL_RECORD_RETENTION_DAYS"] != "",
      aws_cloudwatch_event_rule.ledger_sweep.schedule_expression == "rate(1 minute)",
      aws_iam_role.function["ledger_sweep"].name == "cs-ledger-sweep",
      aws_lambda_function_event_invoke_config.ledger_sweep.maximum_retry_attempts == 0,
    ])
    error_message = "The ledger sweep: its own handler and role, every minute, done within the minute, never retried (the next run supersedes it)."
  }
}

run "the_seed_stream_route_streams_through_the_streaming_function_for_as_long_as_it_may_run" {
  command = plan

  variables {
    tenants = run.contract.tenants
  }

  override_resource {
    target          = aws_lambda_function.stream
    override_during = plan
    values = {
      arn = "arn:aws:lambda:us-east-1:123456789012:function:cs-gateway-stream"
    }
  }

  override_resource {
    target          = aws_lambda_function.this["gateway"]
    override_during = plan
    values = {
      invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:cs-gateway/invocations"
    }
  }

  assert {
    condition     = aws_api_gateway_integration.route["converse"].timeout_milliseconds == 300000 && aws_api_gateway_integration.route["converse_stream"].timeout_milliseconds == 300000 && aws_api_gateway_integration.route["budget"].timeout_milliseconds == 29000
    error_message = "Both model routes wait the streaming function's timeout (a model's normal maximum output finishes); /v1/budget the buffered 29 s."
  }

  assert {
    condition     = aws_api_gateway_integration.route["converse_stream"].uri == "arn:aws:apigateway:us-east-1:lambda:path/2021-11-15/functions/arn:aws:lambda:us-east-1:123456789012:function:cs-gateway-stream/response-streaming-invocations" && aws_api_gateway_integration.route["converse"].uri == aws_api_gateway_integration.route["converse_stream"].uri && endswith(aws_api_gateway_integration.route["budget"].uri, "function:cs-gateway/invocations")
    error_message = "Both model routes are invoked with response streaming (/v1/converse's body in one piece); /v1/budget stays on the buffered gateway function."
  }

  assert {
    condition     = aws_lambda_function.stream.environment[0].variables["STREAM_TIMEOUT_SECONDS"] == "300"
    error_message = "Each function refuses what cannot finish within the limit API Gateway applies to its routes."
  }
}

run "a_bedrock_read_timeout_not_below_the_function_timeout_is_refused" {
  command = plan

  variables {
    tenants                 = run.contract.tenants
    max_request_seconds     = 60
    bedrock_timeout_seconds = 60
  }

  expect_failures = [aws_api_gateway_integration.route]
}
