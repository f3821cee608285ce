{#- Months chain: each month opens with the previous month's closing AR, the first with 0, and
    no month is missing between a customer's first month and the as-of month. -#}
with months as (

    select
        customer_id,
        month,
        opening_ar,
        lag(closing_ar) over (
            partition by customer_id order by month
        ) as prior_closing_ar,
        lag(month) over (partition by customer_id order by month)
            as prior_month
    from {{ ref('receivables_monthly') }}

),

months_apart as (

    select
        customer_id,
        month,
        opening_ar,
        prior_closing_ar,
        prior_month,
        {{ dbt.datediff('prior_month', 'month', 'month') }} as months_since_prior  -- noqa: LT05
    from months

)

select
    customer_id,
    month,
    opening_ar,
    prior_closing_ar,
    months_since_prior
from months_apart
where
    abs(opening_ar - coalesce(prior_closing_ar, 0)) > 0.005
    or months_since_prior <> 1
