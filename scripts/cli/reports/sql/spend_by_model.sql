-- Spend and tokens per model and usage type (input / output / cache tokens), per application.
WITH {% include "_bedrock_lines.sql" %}
SELECT
    application_id,
    role_name,
    model,
    token_direction,
    usage_type,
    CAST(SUM(tokens) AS BIGINT) AS tokens,
    SUM(cost) AS cost_usd
FROM bedrock_lines
GROUP BY application_id, role_name, model, token_direction, usage_type
ORDER BY cost_usd DESC, usage_type
