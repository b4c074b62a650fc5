-- Spend and tokens per IAM principal (per user when the gateway uses per-user role sessions).
WITH {% include "_bedrock_lines.sql" %}
SELECT
    application_id,
    principal,
    role_name,
    session_name,
    SUM(cost) AS cost_usd,
    CAST(SUM(CASE WHEN token_direction = 'input' THEN tokens ELSE 0 END) AS BIGINT) AS input_tokens,
    CAST(SUM(CASE WHEN token_direction = 'output' THEN tokens ELSE 0 END) AS BIGINT) AS output_tokens,
    COUNT(*) AS line_items
FROM bedrock_lines
GROUP BY application_id, principal, role_name, session_name
ORDER BY cost_usd DESC, principal
