{#- The trailing-12-month windows ABC tiers are computed for: the one ending at the as-of date,
    one month and one year before it (previous tier, growth, year-ago tier), and one per month of
    history for the key-account trend. Windows are applied to month parts by their first day. -#}
with customer_month_parts as (

    select * from {{ ref('int_profitability__customer_month_parts') }}

),

history as (

    -- tiers rank sales, so history starts with the first order line (receivables of migrated
    -- opening balances can be much older)
    select min(month_start_date) as first_month_start_date
    from customer_month_parts
    where order_lines > 0

),

month_offsets as (

    -- up to 50 years of monthly history
    {{ dbt.generate_series(600) }}

),

as_of_offsets as (

    select 0 as as_of_offset_months
    union all
    select 1 as as_of_offset_months
    union all
    select 12 as as_of_offset_months

),

as_of_window_ends as (

    select
        as_of_offset_months,
        cast({{ dbt.dateadd('month', '-1 * as_of_offset_months', as_of_date()) }} as date)
            as window_end_date
    from as_of_offsets

),

as_of_windows as (

    -- (end - 12 months, end]: starts the day after the same calendar day a year earlier
    select
        as_of_offset_months,
        window_end_date,
        cast({{ dbt.dateadd('day', 1, dbt.dateadd('month', -12, 'window_end_date')) }} as date)
            as window_start_date,
        case
            when as_of_offset_months = 0
                then cast({{ dbt.date_trunc('month', as_of_date()) }} as date)
        end as trend_month_start_date
    from as_of_window_ends

),

history_months as (

    -- every complete month of history; the as-of month is the as-of window above
    select
        cast({{ dbt.dateadd(
            'month',
            '-1 * month_offsets.generated_number',
            dbt.date_trunc('month', as_of_date())) }} as date) as trend_month_start_date
    from month_offsets

),

month_end_windows as (

    -- at a month end, the trailing 12 months are the 12 calendar months ending with it
    select
        history_months.trend_month_start_date,
        cast({{ dbt.last_day('history_months.trend_month_start_date', 'month') }} as date)
            as window_end_date,
        cast({{ dbt.dateadd('month', -11, 'history_months.trend_month_start_date') }} as date)
            as window_start_date
    from history_months
    cross join history
    where history_months.trend_month_start_date >= history.first_month_start_date

),

windows as (

    select
        coalesce(as_of_windows.window_end_date, month_end_windows.window_end_date)
            as window_end_date,
        coalesce(as_of_windows.window_start_date, month_end_windows.window_start_date)
            as window_start_date,
        as_of_windows.as_of_offset_months,
        coalesce(
            as_of_windows.trend_month_start_date, month_end_windows.trend_month_start_date
        ) as trend_month_start_date
    from as_of_windows
    full outer join month_end_windows
        on as_of_windows.window_end_date = month_end_windows.window_end_date

),

final as (

    select
        windows.window_end_date,
        windows.window_start_date,
        windows.as_of_offset_months,
        windows.trend_month_start_date,
        coalesce(windows.window_start_date >= history.first_month_start_date, false)
            as has_full_history
    from windows
    cross join history

)

select * from final
