{#- Sales aggregated to customer x calendar month: every trailing-window mart sums these rows,
    so its cost grows with customers and months, not with order lines. -#}
with order_lines as (

    select * from {{ ref('int_sales__order_lines') }}

),

final as (

    select
        customer_id,
        order_month as month_start_date,
        sum(net_revenue) as net_revenue,
        sum(gross_sales) as gross_sales,
        sum(discount_amount) as discount_amount,
        sum(cogs) as cogs,
        sum(net_revenue) - sum(cogs) as gross_margin,
        sum(freight_cost) as freight_cost,
        count(distinct case when not is_return then order_id end) as orders,
        count(*) as order_lines,
        sum(case when is_return then 1 else 0 end) as return_lines,
        -sum(case when is_return then net_revenue else 0 end) as returned_revenue
    from order_lines
    group by customer_id, order_month

)

select * from final
