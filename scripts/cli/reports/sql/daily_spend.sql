-- Spend per UTC day and application (tenant resolution happens in Python).
WITH {% include "_bedrock_lines.sql" %}
SELECT
    usage_date,
    application_id,
    role_name,
    SUM(cost) AS cost_usd
FROM bedrock_lines
GROUP BY usage_date, application_id, role_name
ORDER BY usage_date, application_id, role_name
