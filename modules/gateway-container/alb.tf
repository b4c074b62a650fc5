# The load balancer: HTTPS only (an ACM certificate), header fields HTTP does not allow dropped before
# they reach the app, an idle timeout longer than the longest generation so a quiet stream is never cut,
# and, for private access, internal in the private subnets. The tasks accept traffic from it alone.

resource "aws_security_group" "alb" {
  name        = "${var.name_prefix}-gateway-alb"
  description = "Cost Sentry gateway load balancer: HTTPS in from the callers, the gateway port out to the tasks"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name_prefix}-gateway-alb" })
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.ingress_cidr_blocks)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from the tenants' callers"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "The gateway port of the tasks"
  ip_protocol                  = "tcp"
  from_port                    = local.container_port
  to_port                      = local.container_port
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_security_group" "tasks" {
  name        = "${var.name_prefix}-gateway-tasks"
  description = "Cost Sentry gateway tasks: the gateway port from the load balancer, HTTPS out to AWS APIs"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name_prefix}-gateway-tasks" })
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_alb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "The gateway port from the load balancer only"
  ip_protocol                  = "tcp"
  from_port                    = local.container_port
  to_port                      = local.container_port
  referenced_security_group_id = aws_security_group.alb.id
}

# The tasks call Bedrock, DynamoDB, STS, CloudWatch Logs and ECR, all on 443: through a NAT gateway, or
# only the VPC's endpoints with private access (task_egress_cidr_blocks = the VPC's CIDR).
resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  for_each = toset(var.task_egress_cidr_blocks)

  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_91:Access logs are an option (var.access_logs, a bucket the account's log archive owns); checkov cannot follow the dynamic block.
  #checkov:skip=CKV2_AWS_76:The module's web ACL carries the per-IP rate rule; the app is Python, so the Log4j managed rules guard nothing here.
  #checkov:skip=CKV2_AWS_28:A WAF web ACL is associated by default (var.waf_rate_rule, or var.waf_web_acl_arn); checkov cannot follow the count that lets an account switch it off.
  name                       = "${var.name_prefix}-gateway"
  load_balancer_type         = "application"
  internal                   = var.internal
  subnets                    = var.alb_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  idle_timeout               = var.idle_timeout_seconds
  enable_deletion_protection = var.deletion_protection

  dynamic "access_logs" {
    for_each = var.access_logs == null ? [] : [var.access_logs]
    content {
      enabled = true
      bucket  = access_logs.value.bucket
      prefix  = access_logs.value.prefix
    }
  }

  tags = var.tags
}

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:TLS ends at the load balancer; the hop to the task stays inside the VPC, on a port only the load balancer's security group may reach.
  name        = "${var.name_prefix}-gateway"
  target_type = "ip"
  protocol    = "HTTP"
  port        = local.container_port
  vpc_id      = var.vpc_id
  # A task leaving the service keeps its open streams until they end (at most max_request_seconds).
  deregistration_delay = var.max_request_seconds

  health_check {
    path                = "/healthz"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = var.tags
}

# The same per-client-IP rate rule the gateway module puts in front of API Gateway, on by default; an
# account that brings its own ACL (var.waf_web_acl_arn) gets that one instead.
resource "aws_wafv2_web_acl" "this" {
  #checkov:skip=CKV_AWS_192:The app is Python: the Log4j (Log4Shell) managed rule set guards nothing here.
  #checkov:skip=CKV_AWS_175:The ACL has a rule (the per-IP rate rule); it is written as rule_json, which checkov does not read.
  #checkov:skip=CKV2_AWS_31:WAF logging would write every request's headers (including x-api-key) to a log; the sampled requests and CloudWatch metrics are kept instead.
  count = local.own_web_acl ? 1 : 0

  name        = "${var.name_prefix}-gateway-alb"
  description = "Cost Sentry gateway (container): per-IP rate limit"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  rule_json = jsonencode([{
    Name     = "rate-per-ip"
    Priority = 0
    Action   = { Block = {} }
    Statement = {
      RateBasedStatement = {
        Limit               = var.waf_rate_rule.requests_per_5_minutes
        AggregateKeyType    = "IP"
        EvaluationWindowSec = 300
      }
    }
    VisibilityConfig = {
      CloudWatchMetricsEnabled = true
      MetricName               = "${var.name_prefix}-alb-rate-per-ip"
      SampledRequestsEnabled   = true
    }
  }])

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name_prefix}-gateway-alb"
    sampled_requests_enabled   = true
  }

  tags = var.tags
}

locals {
  own_web_acl = var.waf_web_acl_arn == null && var.waf_rate_rule.enabled
  web_acl_arn = var.waf_web_acl_arn != null ? var.waf_web_acl_arn : (local.own_web_acl ? aws_wafv2_web_acl.this[0].arn : null)
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.waf_web_acl_arn != null || var.waf_rate_rule.enabled ? 1 : 0

  resource_arn = aws_lb.this.arn
  web_acl_arn  = local.web_acl_arn
}
