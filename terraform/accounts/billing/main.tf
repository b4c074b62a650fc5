# The billing (management) account: cost allocation tag activation, the CUR 2.0 export with Glue and
# Athena for the chargeback reports, and an organisation-wide anomaly monitor per AWS service.

locals {
  tags = {
    application = "cost-sentry"
  }
}

module "cost_allocation_tags" {
  source = "../../../modules/cost-allocation-tags"

  tag_keys = var.extra_cost_allocation_tag_keys
}

module "cur_export" {
  source = "../../../modules/cur-export"

  name_prefix          = var.name_prefix
  account_id           = var.account_id
  region               = var.region
  time_granularity     = var.cur_time_granularity
  first_billing_period = var.first_billing_period
  tags                 = local.tags
}

module "org_anomaly_detection" {
  source = "../../../modules/anomaly-detection"

  name       = "${var.name_prefix}-org-services"
  account_id = var.account_id
  monitor    = { kind = "service" }
  frequency  = "DAILY"
  threshold = {
    absolute_usd = var.org_anomaly_threshold_usd
    percentage   = var.org_anomaly_threshold_percentage
    combine      = "AND"
  }
  email_subscribers = var.alert_emails
  tags              = local.tags
}
