{#- Months chain: each month opens with the previous month's closing AR as today's data gives it,
    the first with 0, and no month is missing between a customer's first month and the as-of
    month. A closed month frozen before later data changed its opening (a late payment dated in
    an earlier month) keeps serving its published opening and is exempt: the difference is in
    receivables_restatements until finance reopens the month. -#}
{{ config(meta={'dagster': {'ref': {'name': 'receivables_monthly'}}}) }}

with served as (

    select * from {{ ref('receivables_monthly') }}

),

computed as (

    select * from {{ ref('int_receivables__monthly_computed') }}

),

months as (

    select
        served.customer_id,
        served.month,
        served.opening_ar,
        served.opening_ar = computed.opening_ar as is_opening_current,
        lag(served.month) over (
            partition by served.customer_id order by served.month
        ) as prior_month,
        lag(computed.closing_ar) over (
            partition by served.customer_id order by served.month
        ) as prior_closing_ar
    from served
    inner join computed
        on
            served.customer_id = computed.customer_id
            and served.month = computed.month

),

months_apart as (

    select
        customer_id,
        month,
        opening_ar,
        prior_closing_ar as expected_opening_ar,
        is_opening_current,
        {{ dbt.datediff('prior_month', 'month', 'month') }}
            as months_since_prior
    from months

)

select
    customer_id,
    month,
    opening_ar,
    expected_opening_ar,
    months_since_prior
from months_apart
where
    (is_opening_current and abs(opening_ar - coalesce(expected_opening_ar, 0)) > 0.005)
    or months_since_prior <> 1
