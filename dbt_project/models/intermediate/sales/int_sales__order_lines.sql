{#- Order lines dated on or before the as-of date, priced and costed: the one place where line
    revenue and cost are computed, so every mart adds up to the same totals.
    Incremental by order month: a refresh rebuilds only the months whose lines changed since the
    last build (new or replaced lines, lines gone, an as-of date that moved inside the month),
    every month when a products extract was loaded since (unit costs may have changed), and
    removes months that have no line any more (an earlier as-of date). A change to this project
    makes the refresh rebuild every month (dbt --full-refresh, pipelines/transform.py). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy=sales_order_lines_incremental_strategy(),
        unique_key='order_month',
        partition_by=sales_order_lines_partition_by(),
        pre_hook="{{ sales_order_lines_remove_vanished_months() }}",
        on_schema_change='sync_all_columns'
    )
}}

with order_lines as (

    select * from {{ ref('stg_erp__sales_order_lines') }}

),

products as (

    select * from {{ ref('stg_erp__products') }}

),

lines_to_date as (

    select
        *,
        cast({{ dbt.date_trunc('month', 'order_date') }} as date) as order_month
    from order_lines
    where order_date <= {{ as_of_date() }}

),

{% if is_incremental() %}
source_months as (

    select
        order_month,
        count(*) as order_lines,
        max(loaded_at) as last_loaded_at
    from lines_to_date
    group by order_month

),

built_months as (

    select
        order_month,
        count(*) as order_lines,
        max(source_loaded_at) as last_loaded_at
    from {{ this }}
    group by order_month

),

has_new_products as (

    select
        coalesce(
            (select max(loaded_at) from products)
            > (select max(product_loaded_at) from {{ this }}),
            true
        ) as is_true

),

months_to_build as (

    select source_months.order_month
    from source_months
    left join built_months
        on source_months.order_month = built_months.order_month
    where
        built_months.order_month is null
        or source_months.order_lines <> built_months.order_lines
        or source_months.last_loaded_at <> built_months.last_loaded_at
        or (select is_true from has_new_products)

),

{% endif %}
final as (

    select
        lines_to_date.order_id,
        lines_to_date.line_no,
        lines_to_date.order_date,
        lines_to_date.order_month,
        lines_to_date.customer_id,
        lines_to_date.product_id,
        lines_to_date.channel,
        lines_to_date.quantity,
        lines_to_date.unit_price,
        lines_to_date.promised_date,
        lines_to_date.delivered_date,
        lines_to_date.quantity < 0 as is_return,
        lines_to_date.quantity * lines_to_date.unit_price as gross_sales,
        lines_to_date.discount_amount,
        lines_to_date.quantity * lines_to_date.unit_price
        - lines_to_date.discount_amount as net_revenue,
        lines_to_date.quantity * products.unit_cost as cogs,
        lines_to_date.freight_cost,
        lines_to_date.loaded_at as source_loaded_at,
        products.loaded_at as product_loaded_at
    from lines_to_date
    inner join products on lines_to_date.product_id = products.product_id
    {% if is_incremental() %}
        where lines_to_date.order_month in (select order_month from months_to_build)
    {% endif %}

)

select * from final
