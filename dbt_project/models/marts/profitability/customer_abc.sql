{#- ABC tier, pyramid tier, growth, value x loyalty quadrant and key-account flag of every
    customer in the customer dimension, as of the as-of date. Tiers come from
    int_profitability__customer_abc_tiers (positive-metric customers); everyone else is tier C. -#}
{%- set metric = profitability_ranking_metric() %}
{%- set as_of_month = dbt.date_trunc('month', as_of_date()) %}
{%- set defection_cutoff = dbt.dateadd('day', -1 * var('loyalty_defection_days'), as_of_date()) %}

with customers as (

    select customer_id from {{ ref('stg_erp__customers') }}

),

customer_windows as (

    select * from {{ ref('int_profitability__customer_windows') }}

),

customer_abc_tiers as (

    select * from {{ ref('int_profitability__customer_abc_tiers') }}

),

trailing_windows as (

    select * from {{ ref('int_profitability__trailing_windows') }}

),

customer_month_parts as (

    select * from {{ ref('int_profitability__customer_month_parts') }}

),

as_of_windows as (

    select
        as_of_offset_months,
        window_start_date,
        window_end_date
    from trailing_windows
    where as_of_offset_months is not null

),

window_values as (

    select
        customer_windows.customer_id,
        sum(
            case when as_of_windows.as_of_offset_months = 0 then customer_windows.{{ metric }} end
        ) as ranking_value,
        sum(
            case when as_of_windows.as_of_offset_months = 12 then customer_windows.{{ metric }} end
        ) as prior_year_ranking_value
    from customer_windows
    inner join as_of_windows
        on customer_windows.window_end_date = as_of_windows.window_end_date
    group by customer_windows.customer_id

),

window_tiers as (

    select
        customer_abc_tiers.customer_id,
        max(
            case
                when as_of_windows.as_of_offset_months = 0 then customer_abc_tiers.revenue_share
            end
        ) as revenue_share,
        max(
            case
                when as_of_windows.as_of_offset_months = 0 then customer_abc_tiers.cumulative_share
            end
        ) as cumulative_share,
        max(
            case when as_of_windows.as_of_offset_months = 0 then customer_abc_tiers.abc_tier end
        ) as abc_tier,
        max(
            case when as_of_windows.as_of_offset_months = 1 then customer_abc_tiers.abc_tier end
        ) as previous_abc_tier,
        max(
            case when as_of_windows.as_of_offset_months = 12 then customer_abc_tiers.abc_tier end
        ) as year_ago_abc_tier
    from customer_abc_tiers
    inner join as_of_windows
        on customer_abc_tiers.window_end_date = as_of_windows.window_end_date
    group by customer_abc_tiers.customer_id

),

order_history as (

    select
        customer_id,
        min(first_order_date) as first_order_date,
        max(last_order_date) as last_order_date
    from customer_month_parts
    where orders > 0
    group by customer_id

),

active_month_parts as (

    -- month k of the last 12 is (as-of - (k+1) months, as-of - k months]; a second part belongs
    -- to the month that ends in the next calendar month
    select
        customer_month_parts.customer_id,
        {{ dbt.datediff('customer_month_parts.month_start_date', as_of_month, 'month') }}
        - case when customer_month_parts.is_second_part then 1 else 0 end as month_index
    from customer_month_parts
    inner join as_of_windows
        on
            customer_month_parts.part_start_date >= as_of_windows.window_start_date
            and customer_month_parts.part_start_date <= as_of_windows.window_end_date
    where
        as_of_windows.as_of_offset_months = 0
        and customer_month_parts.orders > 0

),

active_months as (

    select
        customer_id,
        count(distinct month_index) as active_months
    from active_month_parts
    group by customer_id

),

ranked as (

    select
        customers.customer_id,
        coalesce(window_values.ranking_value, 0) as ranking_value,
        coalesce(window_values.prior_year_ranking_value, 0) as prior_year_ranking_value,
        -- positive values first, largest first; zero and negative ones last; ties by customer_id
        row_number() over (
            order by
                case when coalesce(window_values.ranking_value, 0) > 0 then 0 else 1 end,
                coalesce(window_values.ranking_value, 0) desc,
                customers.customer_id
        ) as customer_rank,
        count(*) over () as customer_count,
        coalesce(window_tiers.revenue_share, 0) as revenue_share,
        coalesce(
            window_tiers.cumulative_share,
            max(window_tiers.cumulative_share) over (),
            0
        ) as cumulative_share,
        coalesce(window_tiers.abc_tier, 'C') as abc_tier,
        coalesce(window_tiers.previous_abc_tier, 'C') as previous_abc_tier,
        coalesce(window_tiers.year_ago_abc_tier, 'C') as year_ago_abc_tier,
        order_history.first_order_date,
        order_history.last_order_date,
        coalesce(active_months.active_months, 0) as active_months
    from customers
    left join window_values on customers.customer_id = window_values.customer_id
    left join window_tiers on customers.customer_id = window_tiers.customer_id
    left join order_history on customers.customer_id = order_history.customer_id
    left join active_months on customers.customer_id = active_months.customer_id

),

classified as (

    select
        customer_id,
        ranking_value,
        customer_rank,
        revenue_share,
        cumulative_share,
        abc_tier,
        -- a customer belongs to the band its rank starts in, so a small base still has a top
        case
            when ranking_value <= 0 then 'small'
            when customer_rank - 1 < {{ var('pyramid_top_share') }} * customer_count then 'top'
            when
                customer_rank - 1
                < ({{ var('pyramid_top_share') }} + {{ var('pyramid_major_share') }})
                * customer_count
                then 'major'
            when
                customer_rank - 1
                < (
                    {{ var('pyramid_top_share') }} + {{ var('pyramid_major_share') }}
                    + {{ var('pyramid_ordinary_share') }}
                ) * customer_count
                then 'ordinary'
            else 'small'
        end as pyramid_tier,
        prior_year_ranking_value,
        case
            when first_order_date > cast({{ dbt.dateadd('month', -12, as_of_date()) }} as date)
                then 'new'
            when
                ranking_value - prior_year_ranking_value
                > {{ var('growth_threshold') }} * abs(prior_year_ranking_value)
                then 'growing'
            when
                ranking_value - prior_year_ranking_value
                < -{{ var('growth_threshold') }} * abs(prior_year_ranking_value)
                then 'declining'
            else 'stable'
        end as growth_class,
        first_order_date,
        last_order_date,
        active_months,
        -- no order in the last loyalty_defection_days days (or never)
        case
            when last_order_date > cast({{ defection_cutoff }} as date) then false
            else true
        end as has_defection_signal,
        previous_abc_tier,
        year_ago_abc_tier
    from ranked

),

final as (

    select
        customer_id,
        '{{ metric }}' as ranking_metric,
        ranking_value,
        customer_rank as rank,
        revenue_share,
        cumulative_share,
        abc_tier,
        pyramid_tier,
        prior_year_ranking_value,
        growth_class,
        first_order_date,
        last_order_date,
        active_months,
        has_defection_signal,
        active_months >= {{ var('loyalty_min_active_month_share') }} * 12
        and not has_defection_signal as is_loyal,
        case
            when abc_tier in {{ profitability_tier_list('loyalty_high_volume_tiers', ['A', 'B']) }}
                then case
                    when
                        active_months >= {{ var('loyalty_min_active_month_share') }} * 12
                        and not has_defection_signal
                        then 'star'
                    else 'risky'
                end
            else case
                when
                    active_months >= {{ var('loyalty_min_active_month_share') }} * 12
                    and not has_defection_signal
                    then 'rising'
                else 'weak'
            end
        end as loyalty_quadrant,
        abc_tier in {{ profitability_tier_list('key_account_tiers', ['A']) }} as is_key_account,
        previous_abc_tier,
        -- tiers sort A < B < C, so a smaller letter is a better tier
        case
            when first_order_date > cast({{ dbt.dateadd('month', -1, as_of_date()) }} as date)
                then 'new'
            when abc_tier < previous_abc_tier then 'up'
            when abc_tier > previous_abc_tier then 'down'
            else 'same'
        end as tier_change,
        year_ago_abc_tier
    from classified

)

select * from final
