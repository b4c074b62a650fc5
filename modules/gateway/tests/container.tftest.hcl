# What the container deployment (modules/gateway-container) runs with is defined here once: the gateway
# function's environment and rights, plus the authorizer's key read (the container checks credentials
# in-process); with per-user sessions its task role may assume the invoker roles too.

# Variables: tests/terraform.tfvars (shared by the module's test files).

run "contract" {
  command = plan

  module {
    source = "../tenants"
  }
}

run "the_container_gets_the_gateway_functions_environment_and_rights" {
  command = plan

  variables {
    tenants = run.contract.tenants
  }

  assert {
    condition = alltrue([
      for name, value in aws_lambda_function.this["gateway"].environment[0].variables :
      name == "OWN_PRINCIPAL" ? !contains(keys(output.container_runtime.environment), name) : output.container_runtime.environment[name] == value
    ])
    error_message = "The container's environment is the gateway function's, less OWN_PRINCIPAL (the container names its own)."
  }

  assert {
    condition     = length(output.container_runtime.environment) == length(aws_lambda_function.this["gateway"].environment[0].variables) - 1
    error_message = "The container's environment holds nothing the gateway function's does not."
  }

  assert {
    condition = jsonencode(jsondecode(output.container_runtime.policies["data-access"]).Statement) == jsonencode(concat(
      jsondecode(aws_iam_role_policy.data_access["gateway"].policy).Statement,
      [{ Sid = "ReadApiKeys", Effect = "Allow", Action = ["apigateway:GET"], Resource = ["arn:aws:apigateway:us-east-1::/apikeys", "arn:aws:apigateway:us-east-1::/apikeys/*"] }],
    ))
    error_message = "The container's data access is exactly the gateway function's, plus the authorizer's read of the API keys."
  }

  assert {
    condition     = output.container_runtime.policies["invoke-tenant-profiles"] == aws_iam_role_policy.gateway_invoke.policy && jsondecode(output.container_runtime.policies["invoke-tenant-profiles"]).Statement[0].Sid == "InvokeTenantProfiles"
    error_message = "The container invokes exactly the tenants' profiles the gateway function may."
  }

  assert {
    condition     = jsonencode(sort(keys(output.container_runtime.policies))) == jsonencode(["data-access", "invoke-tenant-profiles", "use-stack-key"])
    error_message = "Three policies and no more: data access, Bedrock (or the invoker roles), the stack's KMS key."
  }
}

run "with_per_user_sessions_the_task_role_may_assume_the_invoker_roles" {
  command = plan

  variables {
    tenants                       = run.contract.tenants
    per_user_sessions             = true
    additional_invoker_principals = ["arn:aws:iam::111111111111:role/cs-gateway-task"]
  }

  assert {
    condition     = jsonencode(jsondecode(aws_iam_role.invoker["sales"].assume_role_policy).Statement[0].Principal.AWS) == jsonencode(["arn:aws:iam::111111111111:role/cs-gateway", "arn:aws:iam::111111111111:role/cs-gateway-task"])
    error_message = "The invoker roles trust the gateway function's role and the container's task role, nothing else."
  }

  assert {
    condition     = jsondecode(output.container_runtime.policies["invoke-tenant-profiles"]).Statement[0].Sid == "AssumeTenantInvokers"
    error_message = "With per-user sessions the container, like the function, has no Bedrock rights of its own: it assumes the invoker roles."
  }
}

run "an_additional_invoker_principal_must_be_a_role_arn" {
  command = plan

  variables {
    tenants                       = run.contract.tenants
    additional_invoker_principals = ["cs-gateway-task"]
  }

  expect_failures = [var.additional_invoker_principals]
}
