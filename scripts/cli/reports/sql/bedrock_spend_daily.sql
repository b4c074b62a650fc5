-- Bedrock spend per usage day, tenant, cost center, principal, user and model: the dataset of the Cost
-- Sentry QuickSight dashboard (scripts/cli/dashboards), an Athena view over the CUR 2.0 export. The
-- tenant is resolved as the chargeback resolves it (TenantDirectory.resolve, rendered as SQL).
WITH {% include "_bedrock_lines.sql" %}
SELECT
    usage_date,
    {{ tenant }} AS tenant,
    cost_center,
    application_id,
    environment,
    principal,
    -- the role session name (per-user sessions are named after the user), else the IAM user
    CASE
        WHEN role_name <> '' THEN session_name
        WHEN principal LIKE '%:user/%' THEN session_name
        ELSE '(unknown)'
    END AS user_name,
    model,
    token_direction,
    SUM(cost) AS cost_usd,
    CAST(SUM(tokens) AS BIGINT) AS tokens
FROM bedrock_lines
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
