module "cur_export" {
  source = "../.."

  name_prefix = "cost-sentry"
  account_id  = "222222222222"
  region      = "us-east-1"
}
