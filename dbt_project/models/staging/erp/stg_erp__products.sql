with source as (

    select * from {{ source('erp', 'products') }}

),

final as (

    select
        cast(product_id as {{ dbt.type_string() }}) as product_id,
        cast(product_name as {{ dbt.type_string() }}) as product_name,
        cast(category as {{ dbt.type_string() }}) as category,
        cast(unit_cost as decimal(18, 4)) as unit_cost,
        cast(list_price as decimal(18, 4)) as list_price,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at
    from source

)

select * from final
