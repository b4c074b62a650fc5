-- The whole bill of the selected periods per service, for context (Bedrock's share of the bill).
SELECT
    line_item_product_code AS product_code,
    SUM(CAST(line_item_unblended_cost AS DECIMAL(38, 10))) AS cost_usd,
    COUNT(*) AS line_items
FROM {{ cur_table }}
WHERE line_item_line_item_type IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage')
  {{ period_filter }}
GROUP BY line_item_product_code
ORDER BY cost_usd DESC, product_code
