-- SageMaker real-time endpoints of the selected periods: their hosting line items (instance-hours,
-- usage types `<region>-Host:<instance type>`) per endpoint, the cost the sagemaker report splits across
-- the tenants sharing the endpoint. The resource id is the endpoint ARN (INCLUDE_RESOURCES).
SELECT
    lower(line_item_resource_id) AS endpoint_arn,
    SUM(CAST(line_item_unblended_cost AS DECIMAL(38, 10))) AS cost_usd,
    SUM(CAST(line_item_usage_amount AS DECIMAL(38, 10))) AS instance_hours,
    MIN(line_item_usage_type) AS usage_type,
    COUNT(*) AS line_items
FROM {{ cur_table }}
WHERE line_item_product_code = 'AmazonSageMaker'
  AND line_item_line_item_type IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage')
  AND line_item_usage_type LIKE '%Host:%'
  AND line_item_resource_id LIKE '%:endpoint/%'
  {{ period_filter }}
GROUP BY lower(line_item_resource_id)
ORDER BY endpoint_arn
