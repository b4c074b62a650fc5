# Workload account: the gateway and the tenants who call Bedrock through it.
# Adding a tenant is one new entry in `tenants` and one `make apply ACCOUNT=workload`.

account_id  = "111111111111"
region      = "us-east-1"
name_prefix = "cost-sentry"
environment = "prod"

alert_emails = ["finops@example.com"]

# Each end user's calls run in their own STS session of the tenant's invoker role, so CUR 2.0's
# line_item_iam_principal names the person (x-cost-sentry-user header). false: one role for all.
per_user_sessions = true

# Which front serves the tenants: "lambda" (API Gateway + Lambda) or "container" (ECS Fargate behind an
# ALB, for volume: same tables, keys, config and metrics). The container needs the image pushed to ECR
# (make image; README "The container image"), the network and a certificate:
gateway_deployment = "lambda"
# container = {
#   image               = "111111111111.dkr.ecr.us-east-1.amazonaws.com/cost-sentry-gateway@sha256:<digest>"
#   vpc_id              = "vpc-0a1b2c3d4e5f60718"
#   task_subnet_ids     = ["subnet-0a1b2c3d4e5f60719", "subnet-0a1b2c3d4e5f6071a"] # private, with NAT or endpoints
#   alb_subnet_ids      = ["subnet-0a1b2c3d4e5f6071b", "subnet-0a1b2c3d4e5f6071c"] # public; omit with private_access
#   certificate_arn     = "arn:aws:acm:us-east-1:111111111111:certificate/<id>"
#   ingress_cidr_blocks = ["10.0.0.0/8"] # the callers' networks
# }

tenants = {
  sales = {
    application_id = "sales-assistant"
    cost_center    = "sales"
    models         = ["claude-3-haiku", "nova-micro"]
    budget = {
      limit_usd = 0.50
    }
    limits = {
      requests_per_minute = 600
    }
  }

  services = {
    application_id = "services-copilot"
    cost_center    = "services"
    models         = ["claude-3-haiku", "claude-3-5-haiku", "nova-lite"]
    budget = {
      limit_usd          = 1.00
      actual_thresholds  = [50, 80, 100]
      forecast_threshold = 100
      console_managed    = true
    }
  }

  support = {
    application_id = "support-bot"
    cost_center    = "support"
    environment    = "staging"
    models         = ["nova-micro", "nova-lite"]
    budget = {
      limit_usd       = 0.25
      period          = "DAILY"
      block_at_actual = 100
    }
    limits = {
      requests_per_minute = 300
      tokens_per_period   = 400000
    }
    alert_emails = ["support-leads@example.com"]
    tags = {
      team = "customer-support"
    }
  }
}
