with source as (

    select * from {{ source('erp', 'customers') }}

),

final as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(customer_name as {{ dbt.type_string() }}) as customer_name,
        cast(customer_type as {{ dbt.type_string() }}) as customer_type,
        cast(channel_role as {{ dbt.type_string() }}) as channel_role,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(city as {{ dbt.type_string() }}) as city,
        cast(industry as {{ dbt.type_string() }}) as industry,
        cast(sales_rep as {{ dbt.type_string() }}) as sales_rep,
        cast(acquired_date as date) as acquired_date,
        cast(payment_terms_days as {{ dbt.type_bigint() }}) as payment_terms_days,
        cast(status as {{ dbt.type_string() }}) as customer_status
    from source

)

select * from final
