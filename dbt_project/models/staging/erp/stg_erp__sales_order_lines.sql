with source as (

    select * from {{ source('erp', 'sales_order_lines') }}

),

final as (

    select
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(line_no as {{ dbt.type_bigint() }}) as line_no,
        cast(order_date as date) as order_date,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(product_id as {{ dbt.type_string() }}) as product_id,
        cast(quantity as decimal(18, 4)) as quantity,
        cast(unit_price as decimal(18, 4)) as unit_price,
        cast(discount_amount as decimal(18, 4)) as discount_amount,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(promised_date as date) as promised_date,
        cast(delivered_date as date) as delivered_date,
        cast(freight_cost as decimal(18, 4)) as freight_cost,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at
    from source

)

select * from final
