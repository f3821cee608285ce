with source as (

    select * from {{ source('billing', 'payments') }}

),

final as (

    select
        cast(payment_id as {{ dbt.type_string() }}) as payment_id,
        cast(invoice_id as {{ dbt.type_string() }}) as invoice_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(payment_date as date) as payment_date,
        cast(amount as decimal(18, 4)) as payment_amount,
        cast(kind as {{ dbt.type_string() }}) as payment_kind,
        cast(discount_taken as decimal(18, 4)) as discount_taken,
        cast(method as {{ dbt.type_string() }}) as method
    from source

)

select * from final
