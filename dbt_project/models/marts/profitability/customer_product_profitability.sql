{#- The customer x product profitability matrix over the trailing 12 months. A product's
    contribution is its gross margin less its own freight and its share of the customer's other
    costs to serve, shared out by gross sales (returns excluded), so a customer's products add up
    to the customer's net contribution. -#}
with customer_product_month_parts as (

    select * from {{ ref('int_profitability__customer_product_month_parts') }}

),

customer_windows as (

    select * from {{ ref('int_profitability__customer_windows') }}

),

trailing_windows as (

    select * from {{ ref('int_profitability__trailing_windows') }}

),

as_of_window as (

    select
        window_start_date,
        window_end_date
    from trailing_windows
    where as_of_offset_months = 0

),

customer_products as (

    select
        customer_product_month_parts.customer_id,
        customer_product_month_parts.product_id,
        sum(customer_product_month_parts.net_revenue) as net_revenue,
        sum(customer_product_month_parts.cogs) as cogs,
        sum(customer_product_month_parts.gross_margin) as gross_margin,
        sum(customer_product_month_parts.freight_cost) as freight_cost,
        sum(customer_product_month_parts.gross_sales_excl_returns) as gross_sales_excl_returns
    from customer_product_month_parts
    inner join as_of_window
        on
            customer_product_month_parts.part_start_date >= as_of_window.window_start_date
            and customer_product_month_parts.part_start_date <= as_of_window.window_end_date
    group by customer_product_month_parts.customer_id, customer_product_month_parts.product_id

),

customer_costs as (

    -- freight is already on the product's own lines; the rest is shared out
    select
        customer_windows.customer_id,
        customer_windows.cost_to_serve - customer_windows.freight_cost as shared_cost_to_serve
    from customer_windows
    inner join as_of_window
        on customer_windows.window_end_date = as_of_window.window_end_date

),

with_shares as (

    select
        customer_products.customer_id,
        customer_products.product_id,
        customer_products.net_revenue,
        customer_products.cogs,
        customer_products.gross_margin,
        customer_products.freight_cost,
        customer_products.gross_sales_excl_returns,
        coalesce(customer_costs.shared_cost_to_serve, 0) as shared_cost_to_serve,
        sum(customer_products.gross_sales_excl_returns) over (
            partition by customer_products.customer_id
        ) as customer_gross_sales_excl_returns
    from customer_products
    left join customer_costs on customer_products.customer_id = customer_costs.customer_id

),

allocated as (

    select
        customer_id,
        product_id,
        net_revenue,
        cogs,
        gross_margin,
        freight_cost,
        gross_sales_excl_returns,
        case
            when customer_gross_sales_excl_returns > 0
                then cast(
                    shared_cost_to_serve * gross_sales_excl_returns
                    / customer_gross_sales_excl_returns
                    as decimal(18, 4)
                )
            else cast(0 as decimal(18, 4))
        end as allocated_cost_to_serve
    from with_shares

),

final as (

    select
        customer_id,
        product_id,
        net_revenue,
        cogs,
        gross_margin,
        freight_cost,
        allocated_cost_to_serve,
        gross_margin - freight_cost - allocated_cost_to_serve as contribution,
        gross_margin - freight_cost - allocated_cost_to_serve < 0 as is_loss_making,
        gross_sales_excl_returns
    from allocated

)

select * from final
