"""Cost Sentry gateway: per-tenant budgets, rate limits and attribution in front of Amazon Bedrock.

The contracts this package implements are in docs/design.md. The pure core (settings, money, catalog,
validation, periods, metrics, log, config parsing) never imports boto3; only the modules that talk to
AWS (ledger, config loading, bedrock, handlers) touch botocore, and only inside functions.
"""
