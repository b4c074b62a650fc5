# Hardening (issue 9): one least-privilege data policy per function, API Gateway's execution log group,
# the WAF rate rule and its switch, the alert function's trusted topic,
# and private access (PRIVATE API behind VPC endpoints, functions in the VPC) against the public default.

# Variables: tests/terraform.tfvars (shared by the module's test files).

# The tenants come normalized from modules/tenants, as in gateway.tftest.hcl.
run "contract" {
  command = plan

  module {
    source = "../tenants"
  }
}

run "each_function_gets_only_the_table_actions_its_code_calls" {
  command = plan

  variables {
    tenants = run.contract.tenants
  }

  assert {
    condition = alltrue([
      jsonencode(jsondecode(aws_iam_role_policy.data_access["gateway"].policy).Statement) == jsonencode([
        { Sid = "LedgerReadWrite", Effect = "Allow", Action = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], Resource = "arn:aws:dynamodb:us-east-1:111111111111:table/cs-ledger" },
        { Sid = "ConfigRead", Effect = "Allow", Action = ["dynamodb:Scan"], Resource = "arn:aws:dynamodb:us-east-1:111111111111:table/cs-config" },
        { Sid = "ConfigReadUserKeys", Effect = "Allow", Action = ["dynamodb:GetItem"], Resource = "arn:aws:dynamodb:us-east-1:111111111111:table/cs-config", Condition = { "ForAllValues:StringLike" = { "dynamodb:LeadingKeys" = ["userkey#*"] } } },
      ]),
    ])
    error_message = "The gateway: ledger item reads and writes (BatchGetItem for the head and shards; no Query, no ConditionCheckItem), config Scan and GetItem of userkey# items only (no writes)."
  }

  assert {
    condition = alltrue([
      jsonencode(jsondecode(aws_iam_role_policy.data_access["budget_sync"].policy).Statement) == jsonencode([
        { Sid = "ReadTenantBudgets", Effect = "Allow", Action = ["budgets:ViewBudget"], Resource = "arn:aws:budgets::111111111111:budget/cs-*" },
        { Sid = "ConfigRead", Effect = "Allow", Action = ["dynamodb:Scan"], Resource = "arn:aws:dynamodb:us-east-1:111111111111:table/cs-config" },
        { Sid = "ConfigWriteLimitOverridesOnly", Effect = "Allow", Action = ["dynamodb:PutItem"], Resource = "arn:aws:dynamodb:us-east-1:111111111111:table/cs-config", Condition = { "ForAllValues:StringLike" = { "dynamodb:LeadingKeys" = ["limit#*"] } } },
        { Sid = "LedgerMoveLimits", Effect = "Allow", Action = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem"], Resource = "arn:aws:dynamodb:us-east-1:111111111111:table/cs-ledger" },
      ]),
    ])
    error_message = "Budget sync: ViewBudget on the tenants' budgets, config Scan, config PutItem only on limit# items, ledger GetItem/BatchGetItem + UpdateItem (Ledger.move_limit)."
  }

  assert {
    condition = alltrue([
      jsonencode(jsondecode(aws_iam_role_policy.data_access["budget_alert"].policy).Statement) == jsonencode([
        { Sid = "ConfigReadTenantDocuments", Effect = "Allow", Action = ["dynamodb:GetItem"], Resource = "arn:aws:dynamodb:us-east-1:111111111111:table/cs-config", Condition = { "ForAllValues:StringLike" = { "dynamodb:LeadingKeys" = ["tenant#*"] } } },
        { Sid = "LedgerBlockPeriods", Effect = "Allow", Action = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem"], Resource = "arn:aws:dynamodb:us-east-1:111111111111:table/cs-ledger" },
      ]),
    ])
    error_message = "Budget alert: one tenant# document read and the ledger reads and UpdateItems that block the head and shards (Ledger.block); no config writes, no Budgets API."
  }

  assert {
    condition = alltrue([
      jsonencode(jsondecode(aws_iam_role_policy.data_access["ledger_sweep"].policy).Statement) == jsonencode([
        { Sid = "LedgerSweep", Effect = "Allow", Action = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], Resource = "arn:aws:dynamodb:us-east-1:111111111111:table/cs-ledger" },
        { Sid = "ConfigRead", Effect = "Allow", Action = ["dynamodb:Scan"], Resource = "arn:aws:dynamodb:us-east-1:111111111111:table/cs-config" },
      ]),
    ])
    error_message = "Ledger sweep: the holds of each shard partition (Query) claimed and charged, config Scan for a fresh read."
  }

  assert {
    condition     = aws_lambda_function.authorizer.environment[0].variables.CONFIG_TABLE == "cs-config"
    error_message = "The authorizer reads the config table (per-user keys, OIDC issuers): its policy is only known after apply, so the plan checks what it is pointed at."
  }

  assert {
    condition     = length(aws_iam_role_policy.vpc_access) == 0 && length(aws_api_gateway_rest_api_policy.private) == 0 && aws_api_gateway_rest_api.this.endpoint_configuration[0].types == tolist(["REGIONAL"]) && alltrue([for f in aws_lambda_function.this : length(f.vpc_config) == 0])
    error_message = "Without private_access: a REGIONAL API, no resource policy, functions outside any VPC."
  }

  assert {
    condition     = !contains(keys(aws_lambda_function.this["gateway"].environment[0].variables), "SAGEMAKER_ENDPOINTS")
    error_message = "Without shared SageMaker endpoints the function has no SAGEMAKER_ENDPOINTS."
  }
}

run "execution_logs_go_to_an_encrypted_expiring_group" {
  command = plan

  variables {
    tenants = run.contract.tenants
  }

  assert {
    condition     = aws_cloudwatch_log_group.execution.retention_in_days == 365
    error_message = "API Gateway's execution log group (API-Gateway-Execution-Logs_<api id>/<stage>, KMS-encrypted with the stack key) is created with a retention."
  }

  assert {
    condition     = aws_api_gateway_method_settings.this.settings[0].logging_level == "ERROR" && !aws_api_gateway_method_settings.this.settings[0].data_trace_enabled
    error_message = "Execution logs at ERROR, without request bodies (prompts)."
  }

  assert {
    condition     = aws_lambda_function.this["budget_alert"].environment[0].variables["BUDGET_TOPIC_ARN"] == "arn:aws:sns:us-east-1:111111111111:cs-budget-alerts"
    error_message = "The alert function knows the one topic whose messages it trusts."
  }
}

run "a_waf_rate_rule_guards_the_stage_by_default" {
  command = plan

  variables {
    tenants = run.contract.tenants
  }

  assert {
    condition = alltrue([
      length(aws_wafv2_web_acl.this) == 1,
      aws_wafv2_web_acl.this[0].scope == "REGIONAL",
      jsondecode(aws_wafv2_web_acl.this[0].rule_json)[0].Statement.RateBasedStatement.Limit == 3000,
      jsondecode(aws_wafv2_web_acl.this[0].rule_json)[0].Statement.RateBasedStatement.AggregateKeyType == "IP",
      jsondecode(aws_wafv2_web_acl.this[0].rule_json)[0].Action == { Block = {} },
      length(aws_wafv2_web_acl_association.this) == 1,
    ])
    error_message = "By default a web ACL with a per-IP rate rule (3000 per 5 minutes) blocks floods in front of the usage plans."
  }
}

run "the_waf_rate_rule_switches_off" {
  command = plan

  variables {
    tenants       = run.contract.tenants
    waf_rate_rule = { enabled = false }
  }

  assert {
    condition     = length(aws_wafv2_web_acl.this) == 0 && length(aws_wafv2_web_acl_association.this) == 0
    error_message = "waf_rate_rule.enabled = false: no web ACL, no association."
  }
}

run "an_own_web_acl_replaces_the_modules" {
  command = plan

  variables {
    tenants         = run.contract.tenants
    waf_web_acl_arn = "arn:aws:wafv2:us-east-1:111111111111:regional/webacl/corp/a1b2c3d4-5678-90ab-cdef-0123456789ab"
  }

  assert {
    condition     = length(aws_wafv2_web_acl.this) == 0 && aws_wafv2_web_acl_association.this[0].web_acl_arn == "arn:aws:wafv2:us-east-1:111111111111:regional/webacl/corp/a1b2c3d4-5678-90ab-cdef-0123456789ab"
    error_message = "An account's own ACL is associated instead of the module's."
  }
}

run "private_access_makes_the_api_private_and_puts_the_functions_in_the_vpc" {
  command = plan

  variables {
    tenants = run.contract.tenants
    private_access = {
      execute_api_vpc_endpoint_ids = ["vpce-0a1b2c3d"]
      subnet_ids                   = ["subnet-1", "subnet-2"]
      security_group_ids           = ["sg-functions"]
    }
  }

  assert {
    condition     = aws_api_gateway_rest_api.this.endpoint_configuration[0].types == tolist(["PRIVATE"]) && aws_api_gateway_rest_api.this.endpoint_configuration[0].vpc_endpoint_ids == toset(["vpce-0a1b2c3d"])
    error_message = "The API is PRIVATE, bound to the account's execute-api endpoint."
  }

  assert {
    condition = alltrue([
      jsondecode(aws_api_gateway_rest_api_policy.private[0].policy).Statement[0].Effect == "Allow",
      jsondecode(aws_api_gateway_rest_api_policy.private[0].policy).Statement[0].Condition.StringEquals["aws:SourceVpce"] == ["vpce-0a1b2c3d"],
      jsondecode(aws_api_gateway_rest_api_policy.private[0].policy).Statement[1].Effect == "Deny",
      jsondecode(aws_api_gateway_rest_api_policy.private[0].policy).Statement[1].Condition.StringNotEquals["aws:SourceVpce"] == ["vpce-0a1b2c3d"],
    ])
    error_message = "The resource policy admits only calls through the account's endpoint and denies the rest."
  }

  assert {
    condition     = alltrue([for key in ["gateway", "budget_alert"] : aws_lambda_function.this[key].vpc_config[0].subnet_ids == toset(["subnet-1", "subnet-2"]) && aws_lambda_function.this[key].vpc_config[0].security_group_ids == toset(["sg-functions"])])
    error_message = "The gateway and the budget alert run in the given subnets with the given security group."
  }

  assert {
    condition     = length(aws_lambda_function.this["budget_sync"].vpc_config) == 0
    error_message = "The budget sync stays outside the VPC: AWS Budgets has no VPC endpoint."
  }

  assert {
    condition     = sort(keys(aws_iam_role_policy.vpc_access)) == sort(["budget_alert", "gateway"]) && contains(jsondecode(aws_iam_role_policy.vpc_access["gateway"].policy).Statement[1].Resource, "arn:aws:ec2:us-east-1:111111111111:subnet/subnet-1")
    error_message = "Each VPC function's role may manage its network interfaces, only in the given subnets and security groups."
  }
}

run "private_access_without_an_endpoint_is_refused" {
  command = plan

  variables {
    tenants = run.contract.tenants
    private_access = {
      execute_api_vpc_endpoint_ids = []
      subnet_ids                   = ["subnet-1"]
      security_group_ids           = ["sg-functions"]
    }
  }

  expect_failures = [var.private_access]
}

run "shared_sagemaker_endpoints_reach_the_gateway_and_its_role" {
  command = plan

  variables {
    tenants = run.contract.tenants
    sagemaker_shared_endpoints = {
      "shared-llm" = {
        endpoint_name          = "cs-shared-shared-llm"
        endpoint_arn           = "arn:aws:sagemaker:us-east-1:111111111111:endpoint/cs-shared-shared-llm"
        input_per_million_usd  = "0.20"
        output_per_million_usd = "0.80"
        max_output_tokens      = 2048
        tenants                = ["sales", "services"]
      }
    }
  }

  assert {
    condition = jsondecode(aws_lambda_function.this["gateway"].environment[0].variables["SAGEMAKER_ENDPOINTS"])["shared-llm"] == {
      endpointName        = "cs-shared-shared-llm"
      endpointArn         = "arn:aws:sagemaker:us-east-1:111111111111:endpoint/cs-shared-shared-llm"
      inputPerMillionUsd  = "0.20"
      outputPerMillionUsd = "0.80"
      maxOutputTokens     = 2048
      tenants             = ["sales", "services"]
      servedModel         = null
    }
    error_message = "SAGEMAKER_ENDPOINTS carries each endpoint's name, ARN, string rates and tenants."
  }

  assert {
    condition     = one([for st in jsondecode(aws_iam_role_policy.data_access["gateway"].policy).Statement : st if st.Sid == "InvokeSharedSageMakerEndpoints"]).Resource == ["arn:aws:sagemaker:us-east-1:111111111111:endpoint/cs-shared-shared-llm"] && one([for st in jsondecode(aws_iam_role_policy.data_access["gateway"].policy).Statement : st if st.Sid == "InvokeSharedSageMakerEndpoints"]).Action == ["sagemaker:InvokeEndpoint"]
    error_message = "The gateway may invoke exactly the shared endpoints."
  }
}
