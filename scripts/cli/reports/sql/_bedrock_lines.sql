-- The Bedrock usage line items of the selected billing periods, one row per CUR 2.0 line item, with the
-- attribution dimensions pulled out. Included by every report query; engine differences come only from
-- the `cur_table`, `tag(...)` and `period_filter` template values (scripts/reports/queries.py).
bedrock_lines AS (
    SELECT
        CAST(line_item_usage_start_date AS DATE) AS usage_date,
        COALESCE({{ tag("applicationId") }}, '') AS application_id,
        COALESCE({{ tag("costCenter") }}, '') AS cost_center,
        COALESCE({{ tag("environment") }}, '') AS environment,
        COALESCE(line_item_iam_principal, '') AS principal,
        -- regexp_extract gives '' (DuckDB) or NULL (Athena) when nothing matches: normalise to ''.
        COALESCE(NULLIF(regexp_extract(line_item_iam_principal, 'assumed-role/([^/]+)/', 1), ''), '') AS role_name,
        COALESCE(NULLIF(regexp_extract(line_item_iam_principal, '/([^/]+)$', 1), ''), '') AS session_name,
        line_item_usage_type AS usage_type,
        COALESCE(line_item_resource_id, '') AS resource_id,
        date_trunc('hour', line_item_usage_start_date) AS usage_hour,
        COALESCE(
            NULLIF(regexp_extract(
                line_item_usage_type,
                '^[A-Za-z0-9]+-(.+?)-(input-tokens|output-tokens|cache-read-input-token-count|cache-write-input-token-count)$',
                1
            ), ''),
            line_item_usage_type
        ) AS model,
        CASE
            WHEN line_item_usage_type LIKE '%-input-tokens' THEN 'input'
            WHEN line_item_usage_type LIKE '%-output-tokens' THEN 'output'
            WHEN line_item_usage_type LIKE '%-cache-read-input-token-count' THEN 'cache-read'
            WHEN line_item_usage_type LIKE '%-cache-write-input-token-count' THEN 'cache-write'
            ELSE 'other'
        END AS token_direction,
        CAST(ROUND(line_item_usage_amount * CASE pricing_unit
            WHEN '1K tokens' THEN 1000
            WHEN '1M tokens' THEN 1000000
            ELSE 1
        END) AS BIGINT) AS tokens,
        -- CUR stores cost as DOUBLE; every sum below is over this exact DECIMAL, never over floats.
        CAST(line_item_unblended_cost AS DECIMAL(38, 10)) AS cost
    FROM {{ cur_table }}
    WHERE line_item_product_code = 'AmazonBedrock'
      AND line_item_line_item_type IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage')
      {{ period_filter }}
)
