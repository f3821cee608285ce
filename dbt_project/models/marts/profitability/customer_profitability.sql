{#- Trailing-12-month profitability of every customer in the customer dimension: customers
    without activity in the window appear with zeros, so counts add up to the dimension. -#}
with customers as (

    select customer_id from {{ ref('stg_erp__customers') }}

),

customer_windows as (

    select * from {{ ref('int_profitability__customer_windows') }}

),

trailing_windows as (

    select * from {{ ref('int_profitability__trailing_windows') }}

),

customer_product_profitability as (

    select * from {{ ref('customer_product_profitability') }}

),

as_of_window as (

    select
        window_start_date,
        window_end_date
    from trailing_windows
    where as_of_offset_months = 0

),

as_of_totals as (

    select customer_windows.*
    from customer_windows
    inner join as_of_window
        on customer_windows.window_end_date = as_of_window.window_end_date

),

product_mix as (

    select
        customer_id,
        count(*) as products,
        sum(case when is_loss_making then 1 else 0 end) as loss_making_products,
        sum(gross_sales_excl_returns) as gross_sales_excl_returns,
        sum(
            case when is_loss_making then gross_sales_excl_returns else 0 end
        ) as loss_making_gross_sales
    from customer_product_profitability
    group by customer_id

),

totals as (

    select
        customers.customer_id,
        as_of_window.window_start_date,
        as_of_window.window_end_date,
        coalesce(as_of_totals.net_revenue, 0) as net_revenue,
        coalesce(as_of_totals.cogs, 0) as cogs,
        coalesce(as_of_totals.gross_margin, 0) as gross_margin,
        coalesce(as_of_totals.freight_cost, 0) as freight_cost,
        coalesce(as_of_totals.service_cost, 0) as service_cost,
        coalesce(as_of_totals.complaint_cost, 0) as complaint_cost,
        coalesce(as_of_totals.cash_discount_cost, 0) as cash_discount_cost,
        coalesce(as_of_totals.financing_cost, 0) as financing_cost,
        coalesce(as_of_totals.bad_debt_cost, 0) as bad_debt_cost,
        coalesce(as_of_totals.cost_to_serve, 0) as cost_to_serve,
        coalesce(as_of_totals.net_contribution, 0) as net_contribution,
        product_mix.products,
        product_mix.loss_making_products,
        product_mix.gross_sales_excl_returns,
        product_mix.loss_making_gross_sales
    from customers
    cross join as_of_window
    left join as_of_totals on customers.customer_id = as_of_totals.customer_id
    left join product_mix on customers.customer_id = product_mix.customer_id

),

final as (

    select
        customer_id,
        window_start_date,
        window_end_date,
        net_revenue,
        cogs,
        gross_margin,
        freight_cost,
        service_cost,
        complaint_cost,
        cash_discount_cost,
        financing_cost,
        bad_debt_cost,
        cost_to_serve,
        net_contribution,
        case
            when net_revenue <> 0 then cast(gross_margin / net_revenue as decimal(18, 6))
        end as gross_margin_pct,
        case
            when net_revenue <> 0 then cast(net_contribution / net_revenue as decimal(18, 6))
        end as contribution_pct,
        -- compared without dividing, so zero and negative revenue need no special case
        case
            when net_contribution > {{ var('breakeven_band') }} * abs(net_revenue) then 'profitable'
            when net_contribution < -{{ var('breakeven_band') }} * abs(net_revenue) then 'loss'
            else 'breakeven'
        end as profitability_class,
        case
            when products is null then 'no_purchases'
            when loss_making_products = 0 then 'all_profitable'
            when
                loss_making_products = products
                or loss_making_gross_sales
                > {{ var('product_mix_loss_share') }} * gross_sales_excl_returns
                then 'mostly_loss'
            else 'mixed'
        end as product_mix_class
    from totals

)

select * from final
