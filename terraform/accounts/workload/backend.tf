# State lives in the account's own bucket (created once, outside this stack, with versioning and
# encryption); use_lockfile locks through S3 itself, so no DynamoDB lock table is needed. The state holds
# the tenants' API keys: it is encrypted with a customer-managed KMS key (kms_key_id, created with the
# bucket; replace the placeholder, or pass -backend-config=kms_key_id=... at init).
terraform {
  backend "s3" {
    bucket       = "cost-sentry-tfstate-111111111111"
    key          = "accounts/workload/terraform.tfstate"
    region       = "us-east-1"
    encrypt      = true
    kms_key_id   = "arn:aws:kms:us-east-1:111111111111:alias/cost-sentry-tfstate"
    use_lockfile = true
  }
}
