# Two roles, as ECS has them. The task role is what the gateway code runs as: its policies are the
# gateway module's container_runtime.policies, exactly the gateway function's rights (tables, config,
# Bedrock on the tenants' profiles or their invoker roles, the stack's KMS key) plus the authorizer's read
# of the API keys, because the container checks credentials in-process. The execution role only starts
# the task: it pulls the image and writes the log stream.

locals {
  task_role_name      = "${var.name_prefix}-gateway-task"
  execution_role_name = "${var.name_prefix}-gateway-execution"

  # An ECR image names its repository: the execution role may pull from that one only.
  ecr_image = try(regex("^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com/([a-z0-9._/-]+)[:@]", var.image), null)
  ecr_repository_arn = (local.ecr_image == null ? null
    : "arn:${var.partition}:ecr:${local.ecr_image[1]}:${local.ecr_image[0]}:repository/${local.ecr_image[2]}"
  )

  ecs_tasks_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
      # Only tasks of this account may take the roles (confused deputy).
      Condition = {
        StringEquals = { "aws:SourceAccount" = var.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${var.partition}:ecs:${var.region}:${var.account_id}:*" }
      }
    }]
  })
}

resource "aws_iam_role" "task" {
  name               = local.task_role_name
  assume_role_policy = local.ecs_tasks_trust
  tags               = var.tags
}

resource "aws_iam_role_policy" "task" {
  for_each = var.task_policies

  name   = each.key
  role   = aws_iam_role.task.id
  policy = each.value
}

resource "aws_iam_role" "execution" {
  name               = local.execution_role_name
  assume_role_policy = local.ecs_tasks_trust
  tags               = var.tags
}

resource "aws_iam_role_policy" "execution" {
  name = "start-task"
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid    = "WriteTaskLogs"
        Effect = "Allow"
        Action = ["logs:CreateLogStream", "logs:PutLogEvents"]
        # Built from the name so the policy is known at plan time (and tested).
        Resource = "arn:${var.partition}:logs:${var.region}:${var.account_id}:log-group:${aws_cloudwatch_log_group.this.name}:*"
      }],
      local.ecr_repository_arn == null ? [] : [
        {
          # GetAuthorizationToken has no resource-level permissions.
          Sid      = "LogInToEcr"
          Effect   = "Allow"
          Action   = ["ecr:GetAuthorizationToken"]
          Resource = "*"
        },
        {
          Sid      = "PullTheImage"
          Effect   = "Allow"
          Action   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
          Resource = local.ecr_repository_arn
        },
      ],
    )
  })
}
