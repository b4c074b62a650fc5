# State lives in the account's own bucket (created once, outside this stack, with versioning and
# encryption); use_lockfile locks through S3 itself, so no DynamoDB lock table is needed.
terraform {
  backend "s3" {
    bucket       = "cost-sentry-tfstate-111111111111"
    key          = "accounts/workload/terraform.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}
