# In an account root the environment, task_policies and kms_key_arn come from the gateway module
# (module.gateway.container_runtime, module.gateway.kms_key_arn): terraform/accounts/workload does so
# when gateway_deployment = "container".
module "gateway_container" {
  source = "../.."

  name_prefix = "cost-sentry"
  account_id  = "123456789012"
  region      = "us-east-1"
  image       = "123456789012.dkr.ecr.us-east-1.amazonaws.com/cost-sentry-gateway@sha256:4f9d0b1c2e3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4"
  kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"

  environment = {
    LEDGER_TABLE      = "cost-sentry-ledger"
    CONFIG_TABLE      = "cost-sentry-config"
    METRICS_NAMESPACE = "GenAIRateLimiting"
  }
  task_policies = {
    data-access = jsonencode({
      Version = "2012-10-17"
      Statement = [{
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
        Resource = "arn:aws:dynamodb:us-east-1:123456789012:table/cost-sentry-ledger"
      }]
    })
  }

  vpc_id              = "vpc-0a1b2c3d4e5f60718"
  task_subnet_ids     = ["subnet-0a1b2c3d4e5f60719", "subnet-0a1b2c3d4e5f6071a"]
  alb_subnet_ids      = ["subnet-0a1b2c3d4e5f6071b", "subnet-0a1b2c3d4e5f6071c"]
  certificate_arn     = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
  ingress_cidr_blocks = ["10.20.0.0/16"]
}
