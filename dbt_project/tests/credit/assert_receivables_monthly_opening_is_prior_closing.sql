{#- Months chain: each month opens with the previous month's closing AR, the first with 0, and
    no month is missing between a customer's first month and the as-of month. A frozen month
    opens with the previous month's published closing; the first open month after a frozen month
    with a pending closing_ar restatement opens with the restated (new) value. -#}
with months as (

    select
        customer_id,
        month,
        opening_ar,
        is_frozen,
        lag(closing_ar) over (
            partition by customer_id order by month
        ) as prior_closing_ar,
        lag(month) over (partition by customer_id order by month)
            as prior_month
    from {{ ref('receivables_monthly') }}

),

restated_closings as (

    select
        customer_id,
        month,
        new_value
    from {{ ref('receivables_restatements') }}
    where column_name = 'closing_ar'

),

months_apart as (

    select
        months.customer_id,
        months.month,
        months.opening_ar,
        case
            when months.is_frozen then months.prior_closing_ar
            else coalesce(restated_closings.new_value, months.prior_closing_ar)
        end as expected_opening_ar,
        {{ dbt.datediff('months.prior_month', 'months.month', 'month') }}
            as months_since_prior
    from months
    left join restated_closings
        on
            months.customer_id = restated_closings.customer_id
            and months.prior_month = restated_closings.month

)

select
    customer_id,
    month,
    opening_ar,
    expected_opening_ar,
    months_since_prior
from months_apart
where
    abs(opening_ar - coalesce(expected_opening_ar, 0)) > 0.005
    or months_since_prior <> 1
