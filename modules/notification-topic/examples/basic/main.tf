module "topic" {
  source = "../.."

  name               = "cost-sentry-budget-alerts"
  account_id         = "111111111111"
  publisher_services = ["budgets.amazonaws.com", "costalerts.amazonaws.com"]
  email_subscribers  = ["finops@example.com"]
}
