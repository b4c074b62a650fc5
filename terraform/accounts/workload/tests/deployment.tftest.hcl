# gateway_deployment chooses the front: API Gateway + Lambda by default, or the container on ECS Fargate
# behind an ALB with the same tables, keys and config; the container path refuses missing inputs with a
# message that says what to set. Needs build/lambda (make lambda-zip).

run "lambda_is_the_default_and_builds_no_container" {
  command = plan

  assert {
    condition     = output.gateway_deployment == "lambda" && length(module.gateway_container) == 0 && output.container_service == null
    error_message = "Without gateway_deployment the account is served by API Gateway + Lambda and has no container service."
  }
}

run "container_builds_the_fargate_service_on_the_same_tables" {
  command = plan

  variables {
    gateway_deployment = "container"
    container = {
      image               = "111111111111.dkr.ecr.us-east-1.amazonaws.com/cost-sentry-gateway@sha256:4f9d0b1c2e3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4"
      vpc_id              = "vpc-0a1b2c3d4e5f60718"
      task_subnet_ids     = ["subnet-0a1b2c3d4e5f60719", "subnet-0a1b2c3d4e5f6071a"]
      alb_subnet_ids      = ["subnet-0a1b2c3d4e5f6071b", "subnet-0a1b2c3d4e5f6071c"]
      certificate_arn     = "arn:aws:acm:us-east-1:111111111111:certificate/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
      ingress_cidr_blocks = ["10.20.0.0/16"]
    }
  }

  assert {
    condition = alltrue([
      output.gateway_deployment == "container",
      length(module.gateway_container) == 1,
      output.container_service.cluster_name == "cost-sentry-gateway",
      output.container_service.service_name == "cost-sentry-gateway",
      output.container_service.log_group_name == "/ecs/cost-sentry-gateway",
      module.gateway_container[0].internal == false,
    ])
    error_message = "gateway_deployment = container builds the Fargate service behind an internet-facing ALB."
  }

  assert {
    condition     = module.gateway_container[0].own_principal == "arn:aws:sts::111111111111:assumed-role/cost-sentry-gateway-task" && module.gateway_container[0].task_role_arn == "arn:aws:iam::111111111111:role/cost-sentry-gateway-task"
    error_message = "The container runs as its own task role, which the invoker roles trust (per_user_sessions is on in this account)."
  }

  assert {
    condition     = output.ledger_table_name == "cost-sentry-ledger" && output.config_table_name == "cost-sentry-config" && output.metrics_namespace == "GenAIRateLimiting"
    error_message = "The container uses the same tables and metrics namespace as the Lambda deployment."
  }
}

run "container_with_private_access_is_internal_in_the_private_subnets" {
  command = plan

  variables {
    gateway_deployment = "container"
    private_access = {
      vpc_id             = "vpc-0a1b2c3d4e5f60718"
      subnet_ids         = ["subnet-0a1b2c3d4e5f60719", "subnet-0a1b2c3d4e5f6071a"]
      route_table_ids    = ["rtb-0a1b2c3d4e5f6071b"]
      client_cidr_blocks = ["10.20.0.0/16"]
    }
    container = {
      image                   = "111111111111.dkr.ecr.us-east-1.amazonaws.com/cost-sentry-gateway:2026-12-04"
      vpc_id                  = "vpc-0a1b2c3d4e5f60718"
      task_subnet_ids         = ["subnet-0a1b2c3d4e5f60719", "subnet-0a1b2c3d4e5f6071a"]
      certificate_arn         = "arn:aws:acm:us-east-1:111111111111:certificate/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
      ingress_cidr_blocks     = ["10.20.0.0/16"]
      task_egress_cidr_blocks = []
    }
  }

  assert {
    condition     = length(module.private_access) == 1 && module.gateway_container[0].internal == true
    error_message = "With private_access the load balancer is internal (in the private-access subnets)."
  }
}

run "container_without_its_inputs_is_refused" {
  command = plan

  variables {
    gateway_deployment = "container"
  }

  expect_failures = [var.container]
}

run "container_without_load_balancer_subnets_or_private_access_is_refused" {
  command = plan

  variables {
    gateway_deployment = "container"
    container = {
      image               = "111111111111.dkr.ecr.us-east-1.amazonaws.com/cost-sentry-gateway:2026-12-04"
      vpc_id              = "vpc-0a1b2c3d4e5f60718"
      task_subnet_ids     = ["subnet-0a1b2c3d4e5f60719"]
      certificate_arn     = "arn:aws:acm:us-east-1:111111111111:certificate/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
      ingress_cidr_blocks = ["10.20.0.0/16"]
    }
  }

  expect_failures = [var.container]
}

run "an_unknown_deployment_is_refused" {
  command = plan

  variables {
    gateway_deployment = "kubernetes"
  }

  expect_failures = [var.gateway_deployment]
}
