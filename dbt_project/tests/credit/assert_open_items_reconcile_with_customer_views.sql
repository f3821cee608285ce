{#- Open items at the as-of date, the customer's open AR in customer_credit and the closing AR
    of the as-of month in receivables_monthly are the same money. -#}
{{ config(meta={'dagster': {'ref': {'name': 'ar_open_items'}}}) }}

with open_items as (

    select
        customer_id,
        sum(open_amount) as open_ar
    from {{ ref('ar_open_items') }}
    group by customer_id

),

credit as (

    select
        customer_id,
        open_ar
    from {{ ref('customer_credit') }}

),

as_of_month as (

    select
        customer_id,
        closing_ar
    from {{ ref('receivables_monthly') }}
    where month = cast({{ dbt.date_trunc('month', as_of_date()) }} as date)

)

select
    coalesce(open_items.customer_id, credit.customer_id, as_of_month.customer_id) as customer_id,
    open_items.open_ar as open_items_ar,
    credit.open_ar as customer_credit_ar,
    as_of_month.closing_ar as monthly_closing_ar
from open_items
full outer join credit on open_items.customer_id = credit.customer_id
full outer join as_of_month
    on coalesce(open_items.customer_id, credit.customer_id) = as_of_month.customer_id
where
    abs(coalesce(open_items.open_ar, 0) - coalesce(credit.open_ar, 0)) > 0.005
    or abs(coalesce(open_items.open_ar, 0) - coalesce(as_of_month.closing_ar, 0)) > 0.005
    or (as_of_month.customer_id is not null and credit.customer_id is null)
