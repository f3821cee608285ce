{#- Months chain: each month opens with the previous month's closing AR, the first with 0, and
    no month is missing between a customer's first month and the as-of month.
    A month computed by this run (open, or frozen as of this run's date) opens with the prior
    month's closing as computed now: the restated value when the prior month is frozen and later
    data changed its closing. A month frozen by an earlier run opened with the prior closing known
    then; it is checked here only against a prior month frozen in the same run, because the run
    that froze it has already checked it against the values of that day. -#}
{{ config(meta={'dagster': {'ref': {'name': 'receivables_monthly'}}}) }}

with months as (

    select
        customer_id,
        month,
        opening_ar,
        is_frozen,
        frozen_as_of_date,
        lag(closing_ar) over (
            partition by customer_id order by month
        ) as prior_closing_ar,
        lag(frozen_as_of_date) over (
            partition by customer_id order by month
        ) as prior_frozen_as_of_date,
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

months_with_origin as (

    select
        *,
        not is_frozen
        or frozen_as_of_date = {{ as_of_date() }} as is_computed_by_this_run
    from months

),

months_apart as (

    select
        months_with_origin.customer_id,
        months_with_origin.month,
        months_with_origin.opening_ar,
        case
            when months_with_origin.is_computed_by_this_run
                then
                    coalesce(
                        restated_closings.new_value,
                        months_with_origin.prior_closing_ar
                    )
            when
                months_with_origin.frozen_as_of_date
                = months_with_origin.prior_frozen_as_of_date
                then months_with_origin.prior_closing_ar
        end as expected_opening_ar,
        months_with_origin.is_computed_by_this_run
        or months_with_origin.prior_month is null
        or months_with_origin.frozen_as_of_date
        = months_with_origin.prior_frozen_as_of_date as is_checked,
        {{ dbt.datediff('months_with_origin.prior_month', 'months_with_origin.month', 'month') }}
            as months_since_prior
    from months_with_origin
    left join restated_closings
        on
            months_with_origin.customer_id = restated_closings.customer_id
            and months_with_origin.prior_month = restated_closings.month

)

select
    customer_id,
    month,
    opening_ar,
    expected_opening_ar,
    months_since_prior
from months_apart
where
    (is_checked and abs(opening_ar - coalesce(expected_opening_ar, 0)) > 0.005)
    or months_since_prior <> 1
