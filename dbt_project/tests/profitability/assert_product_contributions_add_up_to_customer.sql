{{ config(meta={'dagster': {'ref': {'name': 'customer_product_profitability'}}}) }}

-- A customer's products add up to its trailing-12-month revenue and margin, and - when it had
-- any non-return sale to share costs by - to its net contribution (allocation rounds to 0.0001
-- per product, hence the cent tolerance).
with customer_product_profitability as (

    select * from {{ ref('customer_product_profitability') }}

),

customer_profitability as (

    select * from {{ ref('customer_profitability') }}

),

product_totals as (

    select
        customer_id,
        sum(net_revenue) as net_revenue,
        sum(gross_margin) as gross_margin,
        sum(contribution) as contribution,
        sum(gross_sales_excl_returns) as gross_sales_excl_returns
    from customer_product_profitability
    group by customer_id

)

select
    customer_profitability.customer_id,
    customer_profitability.net_revenue,
    product_totals.net_revenue as product_net_revenue,
    customer_profitability.gross_margin,
    product_totals.gross_margin as product_gross_margin,
    customer_profitability.net_contribution,
    product_totals.contribution as product_contribution
from customer_profitability
left join product_totals on customer_profitability.customer_id = product_totals.customer_id
where
    customer_profitability.net_revenue <> coalesce(product_totals.net_revenue, 0)
    or customer_profitability.gross_margin <> coalesce(product_totals.gross_margin, 0)
    or (
        product_totals.gross_sales_excl_returns > 0
        and abs(customer_profitability.net_contribution - product_totals.contribution) > 0.01
    )
