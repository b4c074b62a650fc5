# The container deployment of the gateway: the same service core (cost_sentry.handlers.asgi:app, served by
# granian) as Fargate tasks behind an Application Load Balancer, for volume. It keeps no state of its own:
# the tables, the tenants' keys, the config items, the KMS key and the budget helpers stay in
# modules/gateway, whose container_runtime output gives this module the environment and the task role's
# policies, so both deployments run with one definition of each. IAM is in iam.tf, the load balancer in
# alb.tf, scaling in autoscaling.tf.

locals {
  cluster_name   = "${var.name_prefix}-gateway"
  container_name = "gateway"
  container_port = 8080

  # ECS names the task role's session after the task id, which no plan knows: the call records carry the
  # role's assumed-role ARN without the session (the reports match principals by prefix).
  own_principal = "arn:${var.partition}:sts::${var.account_id}:assumed-role/${local.task_role_name}"

  # One granian worker per vCPU; the blocking service runs in each worker's thread pool.
  workers = max(1, floor(var.cpu / 1024))

  environment = merge(var.environment, {
    OWN_PRINCIPAL      = local.own_principal
    AWS_DEFAULT_REGION = var.region
    GRANIAN_WORKERS    = tostring(local.workers)
    # Each call holds a thread of its worker for its whole Bedrock call: the task's calls in flight,
    # spread over the workers (core/settings.py ServerSettings).
    GATEWAY_THREADS = tostring(ceil(var.calls_in_flight_per_task / local.workers))
    # The root filesystem is read-only: nothing may try to write bytecode next to the code.
    PYTHONDONTWRITEBYTECODE = "1"
  })

  container_definition = {
    name                   = local.container_name
    image                  = var.image
    essential              = true
    readonlyRootFilesystem = true
    # The image's own non-root user (image/Dockerfile, scripts/devtools/build_image.py), stated again so
    # a task never runs as root even from an image built elsewhere.
    user         = "10001:10001"
    portMappings = [{ containerPort = local.container_port, protocol = "tcp" }]
    environment  = [for name in sort(keys(local.environment)) : { name = name, value = local.environment[name] }]
    # granian writes nothing, Python only its temporary files: /tmp is the task's ephemeral storage.
    mountPoints = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    linuxParameters = {
      initProcessEnabled = true
      capabilities       = { drop = ["ALL"] }
    }
    # granian finishes open streams on SIGTERM; 120 s is Fargate's longest stop timeout.
    stopTimeout = 120
    healthCheck = {
      command     = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${local.container_port}/healthz', timeout=2)"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 20
    }
    # Each line the app prints is one log event; the EMF lines among them become metrics in the
    # METRICS_NAMESPACE as they do from the Lambda's logs (CloudWatch Logs extracts EMF from PutLogEvents
    # without the x-amzn-logs-format header). Non-blocking: a slow log stream never stalls a request.
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "gateway"
        mode                  = "non-blocking"
        max-buffer-size       = "25m"
      }
    }
  }
}

resource "aws_ecs_cluster" "this" {
  name = local.cluster_name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/ecs/${local.cluster_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_ecs_task_definition" "this" {
  family                   = local.cluster_name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode([local.container_definition])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "ARM64"
  }

  volume {
    name = "tmp"
  }

  tags = var.tags
}

resource "aws_ecs_service" "this" {
  name                              = "${var.name_prefix}-gateway"
  cluster                           = aws_ecs_cluster.this.id
  task_definition                   = aws_ecs_task_definition.this.arn
  desired_count                     = var.autoscaling.min_tasks
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  health_check_grace_period_seconds = 30
  propagate_tags                    = "SERVICE"
  enable_execute_command            = false

  network_configuration {
    subnets          = var.task_subnet_ids
    security_groups  = concat([aws_security_group.tasks.id], var.extra_task_security_group_ids)
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this.arn
    container_name   = local.container_name
    container_port   = local.container_port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  tags = var.tags

  lifecycle {
    # Application Auto Scaling owns the count once the service runs.
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.https, aws_iam_role_policy.task]
}
