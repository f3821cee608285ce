{#- Sales per customer, product and month part (see int_profitability__customer_month_parts):
    the customer x product matrix of any trailing window is a sum of these rows. -#}
with customers as (

    select customer_id from {{ ref('stg_erp__customers') }}

),

order_lines as (

    select * from {{ ref('int_sales__order_lines') }}

),

final as (

    select
        order_lines.customer_id,
        order_lines.product_id,
        {{ profitability_part_start_date('order_lines.order_date') }} as part_start_date,
        cast({{ dbt.date_trunc('month', 'order_lines.order_date') }} as date) as month_start_date,
        sum(order_lines.net_revenue) as net_revenue,
        sum(order_lines.cogs) as cogs,
        sum(order_lines.net_revenue) - sum(order_lines.cogs) as gross_margin,
        sum(order_lines.freight_cost) as freight_cost,
        -- the base on which customer-level costs to serve are shared out among products
        sum(
            case when order_lines.is_return then 0 else order_lines.gross_sales end
        ) as gross_sales_excl_returns,
        count(*) as order_lines
    from order_lines
    inner join customers on order_lines.customer_id = customers.customer_id
    group by
        order_lines.customer_id,
        order_lines.product_id,
        {{ profitability_part_start_date('order_lines.order_date') }},
        cast({{ dbt.date_trunc('month', 'order_lines.order_date') }} as date)

)

select * from final
