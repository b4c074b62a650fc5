# The container deployment: a non-root task on a read-only root filesystem (arm64), logs to a KMS-encrypted
# group, an HTTPS-only load balancer that drops invalid headers and waits out quiet streams, security
# groups open only where they must be, target tracking on requests and CPU, and bad inputs refused.

# Variables: tests/terraform.tfvars.

run "the_task_runs_the_gateway_as_a_non_root_user_on_a_read_only_filesystem" {
  command = plan

  assert {
    condition = alltrue([
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].readonlyRootFilesystem == true,
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].user == "10001:10001",
      jsonencode(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].linuxParameters.capabilities.drop) == jsonencode(["ALL"]),
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].mountPoints[0].containerPath == "/tmp",
      aws_ecs_task_definition.this.runtime_platform[0].cpu_architecture == "ARM64",
      aws_ecs_task_definition.this.cpu == "1024" && aws_ecs_task_definition.this.memory == "2048",
    ])
    error_message = "The gateway container runs as uid 10001 with every capability dropped, a read-only root filesystem (only /tmp writable) on arm64, at the configured size."
  }

  assert {
    condition = alltrue([
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].portMappings[0].containerPort == 8080,
      strcontains(jsonencode(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].healthCheck.command), "/healthz"),
      aws_lb_target_group.this.health_check[0].path == "/healthz" && aws_lb_target_group.this.health_check[0].matcher == "200",
      aws_lb_target_group.this.port == 8080 && aws_lb_target_group.this.target_type == "ip",
      aws_lb_target_group.this.deregistration_delay == "300",
    ])
    error_message = "granian listens on 8080; the load balancer and the container check GET /healthz; a leaving task keeps its streams for max_request_seconds."
  }

  assert {
    condition = alltrue([
      { for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.name => e.value }["LEDGER_TABLE"] == "cs-ledger",
      { for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.name => e.value }["CONFIG_TABLE"] == "cs-config",
      { for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.name => e.value }["OWN_PRINCIPAL"] == "arn:aws:sts::111111111111:assumed-role/cs-gateway-task",
      { for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.name => e.value }["GRANIAN_WORKERS"] == "1",
    ])
    error_message = "The container gets the gateway's environment, its own principal and one granian worker per vCPU."
  }

  assert {
    condition = alltrue([
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].logConfiguration.logDriver == "awslogs",
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].logConfiguration.options["awslogs-group"] == "/ecs/cs-gateway",
      aws_cloudwatch_log_group.this.name == "/ecs/cs-gateway",
      aws_cloudwatch_log_group.this.kms_key_id == "arn:aws:kms:us-east-1:111111111111:key/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9",
      aws_cloudwatch_log_group.this.retention_in_days == 365,
    ])
    error_message = "Logs (and the EMF metric lines in them) go through awslogs to a KMS-encrypted log group with retention."
  }

  assert {
    condition = alltrue([
      [for s in aws_ecs_cluster.this.setting : s.value if s.name == "containerInsights"] == ["enabled"],
      aws_ecs_service.this.launch_type == "FARGATE",
      aws_ecs_service.this.network_configuration[0].assign_public_ip == false,
      aws_ecs_service.this.desired_count == 2,
    ])
    error_message = "A Fargate service (Container Insights on) with no public IPs, starting at min_tasks."
  }
}

run "the_task_role_has_the_given_policies_and_the_execution_role_pulls_one_repository" {
  command = plan

  assert {
    condition     = keys(aws_iam_role_policy.task) == ["data-access"] && jsonencode(jsondecode(aws_iam_role_policy.task["data-access"].policy)) == jsonencode(jsondecode(var.task_policies["data-access"]))
    error_message = "The task role carries exactly the policies given (the gateway module's container_runtime.policies)."
  }

  assert {
    condition = alltrue([
      jsondecode(aws_iam_role.task.assume_role_policy).Statement[0].Principal.Service == "ecs-tasks.amazonaws.com",
      jsondecode(aws_iam_role.task.assume_role_policy).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "111111111111",
    ])
    error_message = "Only ECS tasks of this account may take the task role."
  }

  assert {
    condition = alltrue([
      [for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Resource if s.Sid == "PullTheImage"][0] == "arn:aws:ecr:us-east-1:111111111111:repository/cost-sentry-gateway",
      length(jsondecode(aws_iam_role_policy.execution.policy).Statement) == 3,
    ])
    error_message = "The execution role writes the task logs and pulls only from the image's repository."
  }
}

run "an_image_outside_ecr_gets_no_ecr_rights" {
  command = plan

  variables {
    image = "registry.example.com/platform/cost-sentry-gateway:2026-12-04"
  }

  assert {
    condition     = length(jsondecode(aws_iam_role_policy.execution.policy).Statement) == 1 && jsondecode(aws_iam_role_policy.execution.policy).Statement[0].Sid == "WriteTaskLogs"
    error_message = "An image from another registry gives the execution role no ECR rights."
  }
}

run "the_load_balancer_is_https_only_and_waits_out_quiet_streams" {
  command = plan

  assert {
    condition = alltrue([
      aws_lb.this.drop_invalid_header_fields == true,
      aws_lb.this.idle_timeout == 330,
      aws_lb.this.internal == false,
      aws_lb.this.enable_deletion_protection == true,
      aws_lb_listener.https.protocol == "HTTPS" && aws_lb_listener.https.port == 443,
      aws_lb_listener.https.certificate_arn == "arn:aws:acm:us-east-1:111111111111:certificate/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9",
      startswith(aws_lb_listener.https.ssl_policy, "ELBSecurityPolicy-TLS13-"),
      length(aws_lb.this.access_logs) == 0,
    ])
    error_message = "One HTTPS listener (the ACM certificate, TLS 1.3 policy), invalid header fields dropped, an idle timeout past the longest request, deletion protection; no access logs unless asked."
  }

  assert {
    condition = alltrue([
      keys(aws_vpc_security_group_ingress_rule.alb_https) == ["10.20.0.0/16"],
      aws_vpc_security_group_ingress_rule.alb_https["10.20.0.0/16"].from_port == 443 && aws_vpc_security_group_ingress_rule.alb_https["10.20.0.0/16"].to_port == 443,
      aws_vpc_security_group_ingress_rule.tasks_from_alb.from_port == 8080 && aws_vpc_security_group_ingress_rule.tasks_from_alb.to_port == 8080,
      aws_vpc_security_group_ingress_rule.tasks_from_alb.cidr_ipv4 == null,
      aws_vpc_security_group_egress_rule.alb_to_tasks.from_port == 8080 && aws_vpc_security_group_egress_rule.alb_to_tasks.cidr_ipv4 == null,
      keys(aws_vpc_security_group_egress_rule.tasks_https) == ["0.0.0.0/0"] && aws_vpc_security_group_egress_rule.tasks_https["0.0.0.0/0"].from_port == 443,
    ])
    error_message = "Callers reach only 443 of the load balancer, from the listed networks; the tasks only 8080 from the load balancer's group; the tasks go out on 443 only."
  }

  assert {
    condition     = length(aws_wafv2_web_acl.this) == 1 && length(aws_wafv2_web_acl_association.this) == 1 && jsondecode(aws_wafv2_web_acl.this[0].rule_json)[0].Statement.RateBasedStatement.Limit == 3000
    error_message = "The per-IP rate rule guards the load balancer by default."
  }
}

run "private_access_makes_an_internal_load_balancer_with_access_logs" {
  command = plan

  variables {
    internal                = true
    task_egress_cidr_blocks = ["10.20.0.0/16"]
    access_logs             = { bucket = "cs-alb-logs" }
    waf_rate_rule           = { enabled = false }
  }

  assert {
    condition = alltrue([
      aws_lb.this.internal == true,
      aws_lb.this.access_logs[0].bucket == "cs-alb-logs" && aws_lb.this.access_logs[0].prefix == "gateway-alb" && aws_lb.this.access_logs[0].enabled == true,
      keys(aws_vpc_security_group_egress_rule.tasks_https) == ["10.20.0.0/16"],
      length(aws_wafv2_web_acl.this) == 0 && length(aws_wafv2_web_acl_association.this) == 0,
    ])
    error_message = "Private access: an internal load balancer, tasks that reach only the VPC (its endpoints); access logs when asked; the WAF switch works."
  }
}

run "autoscaling_tracks_requests_per_task_and_cpu" {
  command = plan

  variables {
    cpu         = 2048
    memory      = 4096
    autoscaling = { min_tasks = 3, max_tasks = 30, requests_per_task = 900 }
  }

  assert {
    condition = alltrue([
      aws_appautoscaling_target.this.min_capacity == 3 && aws_appautoscaling_target.this.max_capacity == 30,
      aws_appautoscaling_target.this.resource_id == "service/cs-gateway/cs-gateway",
      aws_appautoscaling_policy.requests.target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type == "ALBRequestCountPerTarget",
      aws_appautoscaling_policy.requests.target_tracking_scaling_policy_configuration[0].target_value == 900,
      aws_appautoscaling_policy.cpu.target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type == "ECSServiceAverageCPUUtilization",
      aws_appautoscaling_policy.cpu.target_tracking_scaling_policy_configuration[0].target_value == 60,
      { for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.name => e.value }["GRANIAN_WORKERS"] == "2",
    ])
    error_message = "Target tracking on ALBRequestCountPerTarget and average CPU between min_tasks and max_tasks; two vCPUs run two granian workers."
  }
}

run "memory_that_does_not_fit_the_cpu_is_refused" {
  command = plan

  variables {
    cpu    = 1024
    memory = 1024
  }

  expect_failures = [var.memory]
}

run "memory_that_fits_the_cpu_is_admitted" {
  command = plan

  variables {
    cpu    = 256
    memory = 512
  }

  assert {
    condition     = aws_ecs_task_definition.this.memory == "512"
    error_message = "256 CPU units with 512 MiB is a Fargate size."
  }
}

run "one_load_balancer_subnet_is_refused" {
  command = plan

  variables {
    alb_subnet_ids = ["subnet-0a1b2c3d4e5f6071b"]
  }

  expect_failures = [var.alb_subnet_ids]
}

run "an_image_without_tag_or_digest_is_refused" {
  command = plan

  variables {
    image = "cost-sentry-gateway"
  }

  expect_failures = [var.image]
}

run "a_certificate_that_is_not_acm_is_refused" {
  command = plan

  variables {
    certificate_arn = "arn:aws:iam::111111111111:server-certificate/gateway"
  }

  expect_failures = [var.certificate_arn]
}

run "an_idle_timeout_too_short_for_streams_is_refused" {
  command = plan

  variables {
    idle_timeout_seconds = 30
  }

  expect_failures = [var.idle_timeout_seconds]
}

run "the_tasks_threads_hold_the_calls_in_flight_the_cost_model_assumes" {
  command = plan

  variables {
    cpu    = 2048
    memory = 4096
  }

  assert {
    condition = alltrue([
      for pair in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment :
      pair.value == "128" if pair.name == "GATEWAY_THREADS"
    ]) && contains([for pair in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : pair.name], "GATEWAY_THREADS")
    error_message = "256 calls in flight over two workers (2 vCPUs) are 128 threads each."
  }
}
