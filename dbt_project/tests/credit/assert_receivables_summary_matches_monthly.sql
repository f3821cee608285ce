{#- The book summary is the sum of the customer rows, month by month, and rolls forward too. -#}
{{ config(meta={'dagster': {'ref': {'name': 'receivables_summary_monthly'}}}) }}

with customer_totals as (

    select
        month,
        sum(closing_ar) as closing_ar,
        sum(invoiced) as invoiced,
        sum(allowance) as allowance,
        sum(case when is_over_limit then 1 else 0 end) as over_limit_customers
    from {{ ref('receivables_monthly') }}
    group by month

),

summary as (

    select * from {{ ref('receivables_summary_monthly') }}

)

select
    summary.month,
    summary.closing_ar,
    customer_totals.closing_ar as customer_closing_ar
from summary
full outer join customer_totals on summary.month = customer_totals.month
where
    summary.month is null
    or customer_totals.month is null
    or abs(summary.closing_ar - customer_totals.closing_ar) > 0.005
    or abs(summary.invoiced - customer_totals.invoiced) > 0.005
    or abs(summary.allowance - customer_totals.allowance) > 0.005
    or summary.over_limit_customers <> customer_totals.over_limit_customers
    or abs(
        summary.opening_ar + summary.invoiced - summary.collected - summary.discounts
        - summary.written_off - summary.closing_ar
    ) > 0.005
