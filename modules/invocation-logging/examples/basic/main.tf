module "invocation_logging" {
  source = "../.."

  name_prefix    = "cost-sentry"
  account_id     = "111111111111"
  region         = "us-east-1"
  destinations   = { s3 = true, cloudwatch = false }
  deliver_text   = false
  retention_days = 365
  cloudtrail     = { enabled = true }
}
