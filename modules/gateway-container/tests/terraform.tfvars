# Variables of every test file of this module (terraform test reads the tests folder's terraform.tfvars);
# a run block overrides what it needs.
name_prefix = "cs"
account_id  = "111111111111"
region      = "us-east-1"
image       = "111111111111.dkr.ecr.us-east-1.amazonaws.com/cost-sentry-gateway@sha256:4f9d0b1c2e3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4"
kms_key_arn = "arn:aws:kms:us-east-1:111111111111:key/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
environment = {
  LEDGER_TABLE      = "cs-ledger"
  CONFIG_TABLE      = "cs-config"
  METRICS_NAMESPACE = "GenAIRateLimiting"
}
task_policies = {
  data-access = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"dynamodb:GetItem\"],\"Resource\":\"arn:aws:dynamodb:us-east-1:111111111111:table/cs-ledger\"}]}"
}
vpc_id              = "vpc-0a1b2c3d4e5f60718"
task_subnet_ids     = ["subnet-0a1b2c3d4e5f60719", "subnet-0a1b2c3d4e5f6071a"]
alb_subnet_ids      = ["subnet-0a1b2c3d4e5f6071b", "subnet-0a1b2c3d4e5f6071c"]
certificate_arn     = "arn:aws:acm:us-east-1:111111111111:certificate/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
ingress_cidr_blocks = ["10.20.0.0/16"]
