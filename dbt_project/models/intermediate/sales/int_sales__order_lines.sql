{#- Order lines dated on or before the as-of date, priced and costed: the one place where line
    revenue and cost are computed, so every mart adds up to the same totals. -#}
with order_lines as (

    select * from {{ ref('stg_erp__sales_order_lines') }}

),

products as (

    select * from {{ ref('stg_erp__products') }}

),

final as (

    select
        order_lines.order_id,
        order_lines.line_no,
        order_lines.order_date,
        cast({{ dbt.date_trunc('month', 'order_lines.order_date') }} as date) as order_month,
        order_lines.customer_id,
        order_lines.product_id,
        order_lines.channel,
        order_lines.quantity,
        order_lines.unit_price,
        order_lines.promised_date,
        order_lines.delivered_date,
        order_lines.quantity < 0 as is_return,
        order_lines.quantity * order_lines.unit_price as gross_sales,
        order_lines.discount_amount,
        order_lines.quantity * order_lines.unit_price
        - order_lines.discount_amount as net_revenue,
        order_lines.quantity * products.unit_cost as cogs,
        order_lines.freight_cost
    from order_lines
    inner join products on order_lines.product_id = products.product_id
    where order_lines.order_date <= {{ as_of_date() }}

)

select * from final
