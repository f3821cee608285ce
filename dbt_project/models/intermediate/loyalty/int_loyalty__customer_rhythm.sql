{#- Every customer's buying rhythm as of the as-of date: first and last order, orders in the
    trailing windows the loyalty and satisfaction marts compare, 12-month revenue, the typical
    gap between orders and the main sales channel. An order counts as a purchase when it has at
    least one non-return line, so a pure return neither resets recency nor adds frequency. -#}
{%- set frequency_months = var('defection_frequency_window_months') -%}
with customers as (

    select * from {{ ref('stg_erp__customers') }}

),

order_lines as (

    select * from {{ ref('int_sales__order_lines') }}

),

-- every window ends at the as-of date and excludes its start date: (start, as-of]
window_bounds as (

    select
        cast({{ dbt.dateadd('month', -12, as_of_date()) }} as date) as start_12m_date,
        cast(
            {{ dbt.dateadd('day', -var('hidden_dissatisfaction_window_days'), as_of_date()) }}
            as date
        ) as start_recent_window_date,
        cast({{ dbt.dateadd('month', -frequency_months, as_of_date()) }} as date)
            as start_last_period_date,
        cast({{ dbt.dateadd('month', -2 * frequency_months, as_of_date()) }} as date)
            as start_prior_period_date,
        cast(
            {{ dbt.dateadd('month', -var('loyalty_gap_lookback_months'), as_of_date()) }}
            as date
        ) as start_gap_lookback_date

),

purchase_orders as (

    select
        customer_id,
        order_id,
        min(order_date) as order_date
    from order_lines
    where not is_return
    group by customer_id, order_id

),

order_counts as (

    select
        purchase_orders.customer_id,
        min(purchase_orders.order_date) as first_order_date,
        max(purchase_orders.order_date) as last_order_date,
        count(*) as orders_all_time,
        sum(
            case
                when purchase_orders.order_date > window_bounds.start_12m_date then 1
                else 0
            end
        ) as orders_12m,
        sum(
            case
                when purchase_orders.order_date > window_bounds.start_recent_window_date then 1
                else 0
            end
        ) as orders_recent_window,
        sum(
            case
                when purchase_orders.order_date > window_bounds.start_last_period_date then 1
                else 0
            end
        ) as orders_last_period,
        sum(
            case
                when
                    purchase_orders.order_date > window_bounds.start_prior_period_date
                    and purchase_orders.order_date <= window_bounds.start_last_period_date
                    then 1
                else 0
            end
        ) as orders_prior_period
    from purchase_orders
    cross join window_bounds
    group by purchase_orders.customer_id

),

revenue_12m as (

    select
        order_lines.customer_id,
        sum(order_lines.net_revenue) as net_revenue_12m
    from order_lines
    cross join window_bounds
    where order_lines.order_date > window_bounds.start_12m_date
    group by order_lines.customer_id

),

order_dates as (

    select distinct
        purchase_orders.customer_id,
        purchase_orders.order_date
    from purchase_orders
    cross join window_bounds
    where purchase_orders.order_date > window_bounds.start_gap_lookback_date

),

sequenced_dates as (

    select
        customer_id,
        order_date,
        lag(order_date) over (partition by customer_id order by order_date)
            as previous_order_date
    from order_dates

),

order_gaps as (

    select
        customer_id,
        {{ dbt.datediff('previous_order_date', 'order_date', 'day') }} as gap_days  -- noqa: LT05
    from sequenced_dates
    where previous_order_date is not null

),

ranked_gaps as (

    select
        customer_id,
        gap_days,
        row_number() over (partition by customer_id order by gap_days) as gap_rank,
        count(*) over (partition by customer_id) as gap_count
    from order_gaps

),

-- median without engine-specific percentile functions: the middle row, or the mean of the two
-- middle rows when the count is even (2 x rank within [count, count + 2])
typical_gaps as (

    select
        customer_id,
        max(gap_count) as order_gaps,
        avg(cast(gap_days as decimal(18, 6))) as typical_gap_days
    from ranked_gaps
    where 2 * gap_rank between gap_count and gap_count + 2
    group by customer_id

),

channel_revenue as (

    select
        order_lines.customer_id,
        coalesce(order_lines.channel, 'unknown') as channel,
        sum(
            case
                when order_lines.order_date > window_bounds.start_12m_date
                    then order_lines.net_revenue
                else 0
            end
        ) as net_revenue_12m,
        sum(order_lines.net_revenue) as net_revenue_all_time
    from order_lines
    cross join window_bounds
    group by order_lines.customer_id, coalesce(order_lines.channel, 'unknown')

),

-- the channel with the most 12-month revenue; all-time revenue breaks ties and covers customers
-- without recent orders; the name makes the choice deterministic
ranked_channels as (

    select
        customer_id,
        channel,
        row_number() over (
            partition by customer_id
            order by net_revenue_12m desc, net_revenue_all_time desc, channel asc
        ) as channel_rank
    from channel_revenue

),

main_channels as (

    select
        customer_id,
        channel as main_channel
    from ranked_channels
    where channel_rank = 1

),

final as (

    select
        customers.customer_id,
        order_counts.first_order_date,
        order_counts.last_order_date,
        case
            when order_counts.last_order_date is not null
                then {{ dbt.datediff('order_counts.last_order_date', as_of_date(), 'day') }}
        end as recency_days,
        cast(coalesce(order_counts.orders_all_time, 0) as {{ dbt.type_bigint() }})
            as orders_all_time,
        cast(coalesce(order_counts.orders_12m, 0) as {{ dbt.type_bigint() }}) as orders_12m,
        cast(coalesce(order_counts.orders_recent_window, 0) as {{ dbt.type_bigint() }})
            as orders_recent_window,
        cast(coalesce(order_counts.orders_last_period, 0) as {{ dbt.type_bigint() }})
            as orders_last_period,
        cast(coalesce(order_counts.orders_prior_period, 0) as {{ dbt.type_bigint() }})
            as orders_prior_period,
        coalesce(revenue_12m.net_revenue_12m, 0) as net_revenue_12m,
        cast(coalesce(typical_gaps.order_gaps, 0) as {{ dbt.type_bigint() }}) as order_gaps,
        typical_gaps.typical_gap_days,
        coalesce(main_channels.main_channel, 'none') as main_channel
    from customers
    left join order_counts on customers.customer_id = order_counts.customer_id
    left join revenue_12m on customers.customer_id = revenue_12m.customer_id
    left join typical_gaps on customers.customer_id = typical_gaps.customer_id
    left join main_channels on customers.customer_id = main_channels.customer_id

)

select * from final
