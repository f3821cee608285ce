{#- Scores stay within 0-100, equal the sum of their factor points, and the grade follows the
    cut-offs; utilization and the over-limit flag agree with the limit. -#}
{{ config(meta={'dagster': {'ref': {'name': 'customer_credit'}}}) }}

with factor_totals as (

    select
        customer_id,
        sum(points) as points
    from {{ ref('int_credit__score_factors') }}
    group by customer_id

)

select
    customer_credit.customer_id,
    customer_credit.credit_score,
    customer_credit.credit_grade,
    factor_totals.points
from {{ ref('customer_credit') }} as customer_credit
left join factor_totals on customer_credit.customer_id = factor_totals.customer_id
where
    customer_credit.credit_score < 0
    or customer_credit.credit_score > 100
    or factor_totals.customer_id is null
    or abs(customer_credit.credit_score - factor_totals.points) > 0.0501
    or customer_credit.credit_grade <> {{ credit_grade('customer_credit.credit_score') }}
    or customer_credit.credit_limit < 0
    or (
        customer_credit.credit_limit > 0
        and customer_credit.is_over_limit <> (customer_credit.utilization > 1)
    )
