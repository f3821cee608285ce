{#- Every customer with receivables has a row for the as-of month, and no row lies after it. -#}
with last_months as (

    select
        customer_id,
        max(month) as last_month_start_date
    from {{ ref('receivables_monthly') }}
    group by customer_id

)

select *
from last_months
where last_month_start_date <> cast({{ dbt.date_trunc('month', as_of_date()) }} as date)
