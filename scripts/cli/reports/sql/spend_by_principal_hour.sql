-- Spend per usage hour, IAM principal and resource (the application inference profile): the finest
-- grain CUR 2.0 bills Bedrock at. The reconciliation joins it with the gateway's estimated call records
-- (charged at the worst case) to find what was really billed for them.
WITH {% include "_bedrock_lines.sql" %}
SELECT
    usage_hour,
    principal,
    resource_id,
    SUM(cost) AS cost_usd
FROM bedrock_lines
GROUP BY usage_hour, principal, resource_id
ORDER BY usage_hour, principal, resource_id
