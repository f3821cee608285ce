{#- Key accounts per month: customers whose ABC tier over the trailing 12 months at the month's
    end is a key-account tier, and how many entered and dropped out since the previous month. -#}
with trailing_windows as (

    select * from {{ ref('int_profitability__trailing_windows') }}

),

customer_abc_tiers as (

    select * from {{ ref('int_profitability__customer_abc_tiers') }}

),

trend_months as (

    select
        trend_month_start_date,
        window_end_date,
        has_full_history
    from trailing_windows
    where trend_month_start_date is not null

),

key_accounts as (

    select
        trend_months.trend_month_start_date,
        customer_abc_tiers.customer_id
    from customer_abc_tiers
    inner join trend_months
        on customer_abc_tiers.window_end_date = trend_months.window_end_date
    where customer_abc_tiers.abc_tier in {{ profitability_tier_list('key_account_tiers', ['A']) }}

),

entered as (

    select
        current_keys.trend_month_start_date,
        count(*) as entered
    from key_accounts as current_keys
    left join key_accounts as previous_keys
        on
            current_keys.customer_id = previous_keys.customer_id
            and previous_keys.trend_month_start_date = cast({{ dbt.dateadd(
            'month', -1, 'current_keys.trend_month_start_date') }} as date)
    where previous_keys.customer_id is null
    group by current_keys.trend_month_start_date

),

dropped as (

    select
        cast({{ dbt.dateadd('month', 1, 'previous_keys.trend_month_start_date') }} as date)
            as trend_month_start_date,
        count(*) as dropped
    from key_accounts as previous_keys
    left join key_accounts as current_keys
        on
            previous_keys.customer_id = current_keys.customer_id
            and current_keys.trend_month_start_date = cast({{ dbt.dateadd(
            'month', 1, 'previous_keys.trend_month_start_date') }} as date)
    where current_keys.customer_id is null
    group by cast({{ dbt.dateadd('month', 1, 'previous_keys.trend_month_start_date') }} as date)

),

key_account_counts as (

    select
        trend_month_start_date,
        count(*) as key_accounts
    from key_accounts
    group by trend_month_start_date

),

final as (

    select
        trend_months.trend_month_start_date as month,
        trend_months.window_end_date as month_end,
        trend_months.window_end_date
        < cast({{ dbt.last_day('trend_months.trend_month_start_date', 'month') }} as date)
            as is_partial_month,
        trend_months.has_full_history,
        coalesce(key_account_counts.key_accounts, 0) as key_accounts,
        coalesce(entered.entered, 0) as entered,
        coalesce(dropped.dropped, 0) as dropped,
        coalesce(key_account_counts.key_accounts, 0) > {{ var('key_account_team_threshold') }}
            as is_above_team_threshold
    from trend_months
    left join key_account_counts
        on trend_months.trend_month_start_date = key_account_counts.trend_month_start_date
    left join entered on trend_months.trend_month_start_date = entered.trend_month_start_date
    left join dropped on trend_months.trend_month_start_date = dropped.trend_month_start_date

)

select * from final
