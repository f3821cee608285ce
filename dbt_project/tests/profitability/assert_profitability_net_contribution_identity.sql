{{ config(meta={'dagster': {'ref': {'name': 'customer_profitability_monthly'}}}) }}

-- gross margin = net revenue - COGS, cost to serve = the sum of its six components and net
-- contribution = gross margin - cost to serve, on every row of both profitability marts.
with customer_profitability_monthly as (

    select * from {{ ref('customer_profitability_monthly') }}

),

customer_profitability as (

    select * from {{ ref('customer_profitability') }}

),

checked_rows as (

    select
        'customer_profitability_monthly' as source_model,
        customer_id,
        month,
        net_revenue,
        cogs,
        gross_margin,
        freight_cost,
        service_cost,
        complaint_cost,
        cash_discount_cost,
        financing_cost,
        bad_debt_cost,
        cost_to_serve,
        net_contribution
    from customer_profitability_monthly

    union all

    select
        'customer_profitability' as source_model,
        customer_id,
        cast(null as date) as month,
        net_revenue,
        cogs,
        gross_margin,
        freight_cost,
        service_cost,
        complaint_cost,
        cash_discount_cost,
        financing_cost,
        bad_debt_cost,
        cost_to_serve,
        net_contribution
    from customer_profitability

)

select *
from checked_rows
where
    gross_margin <> net_revenue - cogs
    or cost_to_serve <> freight_cost + service_cost + complaint_cost + cash_discount_cost
    + financing_cost + bad_debt_cost
    or net_contribution <> gross_margin - cost_to_serve
