# Billing (management) account: cost allocation tags, the CUR 2.0 export and organisation-wide anomaly
# detection. Apply it before the workload account's first tenants appear in reports.

account_id  = "222222222222"
region      = "us-east-1"
name_prefix = "cost-sentry"

alert_emails = ["finops@example.com"]

# The per-user session tag, so CUR 2.0 can group Bedrock spend by end user.
extra_cost_allocation_tag_keys = ["user"]

cur_time_granularity = "HOURLY"
first_billing_period = "2026-01"
