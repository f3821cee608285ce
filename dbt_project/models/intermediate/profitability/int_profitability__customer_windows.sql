{#- Trailing-12-month totals per customer and window (int_profitability__trailing_windows), summed
    from month parts, for customers with any activity in the window. -#}
with customer_month_parts as (

    select * from {{ ref('int_profitability__customer_month_parts') }}

),

trailing_windows as (

    select * from {{ ref('int_profitability__trailing_windows') }}

),

final as (

    select
        customer_month_parts.customer_id,
        trailing_windows.window_end_date,
        min(trailing_windows.window_start_date) as window_start_date,
        sum(customer_month_parts.net_revenue) as net_revenue,
        sum(customer_month_parts.cogs) as cogs,
        sum(customer_month_parts.gross_margin) as gross_margin,
        sum(customer_month_parts.freight_cost) as freight_cost,
        sum(customer_month_parts.service_cost) as service_cost,
        sum(customer_month_parts.complaint_cost) as complaint_cost,
        sum(customer_month_parts.cash_discount_cost) as cash_discount_cost,
        sum(customer_month_parts.financing_cost) as financing_cost,
        sum(customer_month_parts.bad_debt_cost) as bad_debt_cost,
        sum(customer_month_parts.cost_to_serve) as cost_to_serve,
        sum(customer_month_parts.net_contribution) as net_contribution,
        sum(customer_month_parts.order_lines) as order_lines,
        sum(customer_month_parts.orders) as orders
    from customer_month_parts
    inner join trailing_windows
        on
            customer_month_parts.part_start_date >= trailing_windows.window_start_date
            and customer_month_parts.part_start_date <= trailing_windows.window_end_date
    group by customer_month_parts.customer_id, trailing_windows.window_end_date

)

select * from final
