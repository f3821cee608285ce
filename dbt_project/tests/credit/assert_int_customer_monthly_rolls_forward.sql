{#- The shared monthly receivables intermediate rolls forward, and its average open AR stays
    within what the month's balances allow (0 <= days counted <= calendar days). -#}
select
    customer_id,
    month_start_date,
    opening_ar,
    closing_ar,
    days_in_period
from {{ ref('int_receivables__customer_monthly') }}
where
    abs(opening_ar + invoiced - collected - discounts - written_off - closing_ar) > 0.005
    or days_in_period < 1
    or days_in_period > {{ dbt.datediff('month_start_date', 'month_end_date', 'day') }} + 1  -- noqa: LT05
    or average_open_ar is null
