{#- Receivables roll-forward per customer and calendar month, with the average daily open AR
    used for financing cost. Daily balances come from movements aggregated per customer per day
    plus one zero anchor row per month start, so the cost grows with customers x months
    (+ movement days), never with customers x days. -#}
with movements as (

    select * from {{ ref('int_receivables__movements') }}

),

integer_series as (

    {{ receivables_integer_series(4) }}

),

customer_first_months as (

    select
        customer_id,
        min(movement_month) as first_month_start_date
    from movements
    group by customer_id

),

month_bounds as (

    select
        min(first_month_start_date) as first_month_start_date,
        cast({{ dbt.date_trunc('month', as_of_date()) }} as date) as as_of_month_start_date
    from customer_first_months

),

month_spine as (

    select
        cast({{ dbt.dateadd(
            'month', 'integer_series.n', 'month_bounds.first_month_start_date') }} as date)
            as month_start_date
    from integer_series
    cross join month_bounds
    where integer_series.n <= {{ dbt.datediff(
        'month_bounds.first_month_start_date', 'month_bounds.as_of_month_start_date', 'month') }}

),

customer_months as (

    select
        customer_first_months.customer_id,
        month_spine.month_start_date,
        cast({{ dbt.last_day('month_spine.month_start_date', 'month') }} as date) as month_end_date
    from customer_first_months
    inner join month_spine
        on customer_first_months.first_month_start_date <= month_spine.month_start_date

),

monthly_movements as (

    select
        customer_id,
        movement_month as month_start_date,
        sum(invoiced) as invoiced,
        sum(collected) as collected,
        sum(discounts) as discounts,
        sum(written_off) as written_off,
        sum(ar_change) as ar_change
    from movements
    group by customer_id, movement_month

),

daily_changes as (

    select
        customer_id,
        movement_date as balance_date,
        sum(ar_change) as ar_change
    from movements
    group by customer_id, movement_date

    union all

    -- a zero row on every month start so each month has a balance from its first day
    select
        customer_id,
        month_start_date as balance_date,
        cast(0 as decimal(18, 4)) as ar_change
    from customer_months

),

daily_balances as (

    select
        customer_id,
        balance_date,
        sum(ar_change) as ar_change
    from daily_changes
    group by customer_id, balance_date

),

balance_spans as (

    select
        customer_id,
        balance_date,
        cast({{ dbt.date_trunc('month', 'balance_date') }} as date) as month_start_date,
        sum(ar_change) over (
            partition by customer_id
            order by balance_date
            rows between unbounded preceding and current row
        ) as end_of_day_ar,
        -- the balance holds until the next change; the last one until the as-of date
        coalesce(
            lead(balance_date) over (partition by customer_id order by balance_date),
            cast({{ dbt.dateadd('day', 1, as_of_date()) }} as date)
        ) as next_balance_date
    from daily_balances

),

monthly_ar_days as (

    select
        customer_id,
        month_start_date,
        sum(
            end_of_day_ar * {{ dbt.datediff('balance_date', 'next_balance_date', 'day') }}
        ) as ar_days
    from balance_spans
    group by customer_id, month_start_date

),

rolled as (

    select
        customer_months.customer_id,
        customer_months.month_start_date,
        customer_months.month_end_date,
        coalesce(monthly_movements.invoiced, 0) as invoiced,
        coalesce(monthly_movements.collected, 0) as collected,
        coalesce(monthly_movements.discounts, 0) as discounts,
        coalesce(monthly_movements.written_off, 0) as written_off,
        coalesce(monthly_movements.ar_change, 0) as ar_change,
        sum(coalesce(monthly_movements.ar_change, 0)) over (
            partition by customer_months.customer_id
            order by customer_months.month_start_date
            rows between unbounded preceding and current row
        ) as closing_ar,
        {{ dbt.datediff(
            'customer_months.month_start_date',
            receivables_period_end('customer_months.month_end_date'),
            'day') }} + 1 as days_in_period,
        monthly_ar_days.ar_days
    from customer_months
    left join monthly_movements
        on
            customer_months.customer_id = monthly_movements.customer_id
            and customer_months.month_start_date = monthly_movements.month_start_date
    left join monthly_ar_days
        on
            customer_months.customer_id = monthly_ar_days.customer_id
            and customer_months.month_start_date = monthly_ar_days.month_start_date

),

final as (

    select
        customer_id,
        month_start_date,
        month_end_date,
        closing_ar - ar_change as opening_ar,
        invoiced,
        collected,
        discounts,
        written_off,
        closing_ar,
        cast(ar_days / cast(days_in_period as decimal(18, 4)) as decimal(18, 4)) as average_open_ar,
        days_in_period
    from rolled

)

select * from final
