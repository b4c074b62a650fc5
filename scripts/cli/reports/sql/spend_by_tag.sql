-- Spend per cost allocation tag combination (costCenter, applicationId, environment).
WITH {% include "_bedrock_lines.sql" %}
SELECT
    cost_center,
    application_id,
    environment,
    SUM(cost) AS cost_usd,
    CAST(SUM(CASE WHEN token_direction = 'input' THEN tokens ELSE 0 END) AS BIGINT) AS input_tokens,
    CAST(SUM(CASE WHEN token_direction = 'output' THEN tokens ELSE 0 END) AS BIGINT) AS output_tokens
FROM bedrock_lines
GROUP BY cost_center, application_id, environment
ORDER BY cost_usd DESC, cost_center, application_id, environment
