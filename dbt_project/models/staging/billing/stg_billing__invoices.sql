with source as (

    select * from {{ source('billing', 'invoices') }}

),

final as (

    select
        cast(invoice_id as {{ dbt.type_string() }}) as invoice_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(invoice_date as date) as invoice_date,
        cast(due_date as date) as due_date,
        cast(amount as decimal(18, 4)) as invoice_amount,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(cash_discount_pct as decimal(18, 4)) as cash_discount_pct,
        cast(cash_discount_days as {{ dbt.type_bigint() }}) as cash_discount_days,
        cast(disputed as boolean) as is_disputed
    from source

)

select * from final
