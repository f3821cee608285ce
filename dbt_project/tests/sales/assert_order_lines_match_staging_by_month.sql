{#- The incremental order lines hold, month by month, exactly the staged lines dated on or before
    the as-of date (those with a known product): same count and same net revenue. A difference
    means a month the incremental build missed; `customer-warehouse refresh --force` rebuilds. -#}
with order_lines as (

    select * from {{ ref('int_sales__order_lines') }}

),

staged_lines as (

    select * from {{ ref('stg_erp__sales_order_lines') }}

),

products as (

    select * from {{ ref('stg_erp__products') }}

),

built_months as (

    select
        order_month,
        count(*) as order_lines,
        sum(net_revenue) as net_revenue
    from order_lines
    group by order_month

),

staged_months as (

    select
        cast({{ dbt.date_trunc('month', 'order_date') }} as date) as order_month,
        count(*) as order_lines,
        sum(quantity * unit_price - discount_amount) as net_revenue
    from staged_lines
    where
        order_date <= {{ as_of_date() }}
        and product_id in (select products.product_id from products)
    group by cast({{ dbt.date_trunc('month', 'order_date') }} as date)

),

final as (

    select
        coalesce(built_months.order_month, staged_months.order_month) as order_month,
        built_months.order_lines as built_order_lines,
        staged_months.order_lines as staged_order_lines,
        built_months.net_revenue as built_net_revenue,
        staged_months.net_revenue as staged_net_revenue
    from built_months
    full outer join staged_months
        on built_months.order_month = staged_months.order_month

)

select * from final
where
    built_order_lines is null
    or staged_order_lines is null
    or built_order_lines <> staged_order_lines
    or abs(built_net_revenue - staged_net_revenue) > 0.005
