-- FOCUS 1.2 columns of every CUR 2.0 line item of the selected billing periods, one row per line item
-- (never split nor merged, so BilledCost still adds up to the invoice), plus the inputs the identity
-- columns are attributed from (scripts/cli/reports/focus.py). Money is cast per line to DECIMAL before
-- anything else touches it; unit prices come from CUR's own decimal strings. The mapping of each column
-- is in docs/reports.md ("FOCUS 1.2 export").
WITH lines AS (
    SELECT
        *,
        CASE
            WHEN line_item_line_item_type IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage') THEN 'Usage'
            WHEN line_item_line_item_type IN ('Fee', 'RIFee', 'SavingsPlanUpfrontFee', 'SavingsPlanRecurringFee')
                THEN 'Purchase'
            WHEN line_item_line_item_type = 'Tax' THEN 'Tax'
            WHEN line_item_line_item_type = 'Credit' THEN 'Credit'
            ELSE 'Adjustment'
        END AS charge_category
    FROM {{ cur_table }}
    WHERE line_item_line_item_type IS NOT NULL
      {{ period_filter }}
)
SELECT
    NULLIF(line_item_availability_zone, '') AS AvailabilityZone,
    CAST(line_item_unblended_cost AS DECIMAL(38, 10)) AS BilledCost,
    bill_payer_account_id AS BillingAccountId,
    NULLIF(bill_payer_account_name, '') AS BillingAccountName,
    line_item_currency_code AS BillingCurrency,
    bill_billing_period_end_date AS BillingPeriodEnd,
    bill_billing_period_start_date AS BillingPeriodStart,
    charge_category AS ChargeCategory,
    CASE WHEN bill_bill_type = 'Refund' THEN 'Correction' END AS ChargeClass,
    NULLIF(line_item_line_item_description, '') AS ChargeDescription,
    CASE
        WHEN charge_category = 'Usage' THEN 'Usage-Based'
        WHEN line_item_line_item_type IN ('RIFee', 'SavingsPlanRecurringFee') THEN 'Recurring'
        ELSE 'One-Time'
    END AS ChargeFrequency,
    line_item_usage_end_date AS ChargePeriodEnd,
    line_item_usage_start_date AS ChargePeriodStart,
    CASE WHEN charge_category = 'Usage' THEN CAST(line_item_usage_amount AS DECIMAL(38, 10)) END AS ConsumedQuantity,
    CASE WHEN charge_category = 'Usage' THEN NULLIF(pricing_unit, '') END AS ConsumedUnit,
    CAST(line_item_unblended_cost AS DECIMAL(38, 10)) AS ContractedCost,
    CASE WHEN charge_category IN ('Usage', 'Purchase')
        THEN TRY_CAST(NULLIF(line_item_unblended_rate, '') AS DECIMAL(38, 12)) END AS ContractedUnitPrice,
    -- Amortized as the Cloud Intelligence Dashboards amortize (CUDOS summary_view): commitments are spread
    -- over the usage they cover, and only their unused part stays on the fee lines.
    CAST(CASE line_item_line_item_type
        WHEN 'SavingsPlanCoveredUsage' THEN savings_plan_savings_plan_effective_cost
        WHEN 'SavingsPlanRecurringFee' THEN savings_plan_total_commitment_to_date - savings_plan_used_commitment
        WHEN 'SavingsPlanNegation' THEN 0
        WHEN 'SavingsPlanUpfrontFee' THEN 0
        WHEN 'DiscountedUsage' THEN reservation_effective_cost
        WHEN 'RIFee' THEN COALESCE(reservation_unused_amortized_upfront_fee_for_billing_period, 0)
            + COALESCE(reservation_unused_recurring_fee, 0)
        ELSE CASE
            WHEN line_item_line_item_type = 'Fee' AND COALESCE(reservation_reservation_a_r_n, '') <> '' THEN 0
            ELSE line_item_unblended_cost
        END
    END AS DECIMAL(38, 10)) AS EffectiveCost,
    NULLIF(bill_invoice_id, '') AS InvoiceId,
    bill_invoicing_entity AS InvoiceIssuerName,
    CAST(COALESCE(pricing_public_on_demand_cost, line_item_unblended_cost) AS DECIMAL(38, 10)) AS ListCost,
    CASE WHEN charge_category IN ('Usage', 'Purchase')
        THEN TRY_CAST(NULLIF(pricing_public_on_demand_rate, '') AS DECIMAL(38, 12)) END AS ListUnitPrice,
    CASE
        WHEN charge_category NOT IN ('Usage', 'Purchase') THEN NULL
        WHEN line_item_line_item_type IN ('DiscountedUsage', 'SavingsPlanCoveredUsage') THEN 'Committed'
        WHEN pricing_term = 'Spot' THEN 'Dynamic'
        ELSE 'Standard'
    END AS PricingCategory,
    CASE WHEN charge_category IN ('Usage', 'Purchase') THEN CAST(line_item_usage_amount AS DECIMAL(38, 10)) END
        AS PricingQuantity,
    CASE WHEN charge_category IN ('Usage', 'Purchase') THEN NULLIF(pricing_unit, '') END AS PricingUnit,
    'AWS' AS ProviderName,
    CASE WHEN bill_billing_entity = 'AWS Marketplace'
        THEN COALESCE(NULLIF(line_item_legal_entity, ''), 'AWS Marketplace') ELSE 'AWS' END AS PublisherName,
    NULLIF(product_region_code, '') AS RegionId,
    NULLIF(line_item_resource_id, '') AS ResourceId,
    {{ service_category }} AS ServiceCategory,
    COALESCE(
        NULLIF({{ map_value("product", "product_name") }}, ''),
        NULLIF(product_servicecode, ''),
        line_item_product_code
    ) AS ServiceName,
    {{ service_subcategory }} AS ServiceSubcategory,
    NULLIF(product_sku, '') AS SkuId,
    line_item_usage_account_id AS SubAccountId,
    NULLIF(line_item_usage_account_name, '') AS SubAccountName,
    {{ map_json("resource_tags") }} AS cur_tags_json,
    -- what the identity columns (x_...) are attributed from
    COALESCE({{ tag("applicationId") }}, '') AS application_id,
    COALESCE({{ tag("costCenter") }}, '') AS cost_center,
    COALESCE(line_item_iam_principal, '') AS principal,
    COALESCE(NULLIF(regexp_extract(line_item_iam_principal, 'assumed-role/([^/]+)/', 1), ''), '') AS role_name,
    COALESCE(NULLIF(regexp_extract(line_item_iam_principal, '/([^/]+)$', 1), ''), '') AS session_name,
    date_trunc('hour', line_item_usage_start_date) AS usage_hour,
    COALESCE(line_item_resource_id, '') AS resource_id
FROM lines
