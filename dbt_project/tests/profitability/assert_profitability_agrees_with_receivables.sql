{{ config(meta={'dagster': {'ref': {'name': 'customer_profitability_monthly'}}}) }}

-- Cash discounts, write-offs and financing cost per customer-month equal the receivables
-- roll-forward (discounts, written_off, average_open_ar x cost of capital x days / 365).
with customer_profitability_monthly as (

    select * from {{ ref('customer_profitability_monthly') }}

),

receivables_monthly as (

    select * from {{ ref('int_receivables__customer_monthly') }}

),

customers as (

    select * from {{ ref('stg_erp__customers') }}

),

expected as (

    select
        receivables_monthly.customer_id,
        receivables_monthly.month_start_date,
        receivables_monthly.discounts,
        receivables_monthly.written_off,
        receivables_monthly.average_open_ar * {{ var('annual_cost_of_capital') }}
        * receivables_monthly.days_in_period / 365.0 as financing_cost
    from receivables_monthly
    inner join customers on receivables_monthly.customer_id = customers.customer_id
    where receivables_monthly.month_start_date <= {{ as_of_date() }}

)

select
    expected.customer_id,
    expected.month_start_date,
    expected.discounts,
    customer_profitability_monthly.cash_discount_cost,
    expected.written_off,
    customer_profitability_monthly.bad_debt_cost,
    expected.financing_cost,
    customer_profitability_monthly.financing_cost as mart_financing_cost
from expected
left join customer_profitability_monthly
    on
        expected.customer_id = customer_profitability_monthly.customer_id
        and expected.month_start_date = customer_profitability_monthly.month
where
    expected.discounts <> coalesce(customer_profitability_monthly.cash_discount_cost, 0)
    or expected.written_off <> coalesce(customer_profitability_monthly.bad_debt_cost, 0)
    or abs(expected.financing_cost - coalesce(customer_profitability_monthly.financing_cost, 0))
    > 0.0001
