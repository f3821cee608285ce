{#- Trailing-12-month totals per customer and window (int_profitability__trailing_windows) for
    customers with any activity in the window. A window total is the customer's running total of
    month parts at the window's end minus the running total the day before it starts: each part
    is read once and each customer once per window bound, instead of summing every part again for
    each overlapping window it falls in (a dozen or more). -#}
{%- set measures = [
    'net_revenue', 'cogs', 'gross_margin', 'freight_cost', 'service_cost', 'complaint_cost',
    'cash_discount_cost', 'financing_cost', 'bad_debt_cost', 'cost_to_serve',
    'net_contribution', 'order_lines', 'orders'] %}
{%- set running_order = 'partition by customer_id order by part_start_date '
    ~ 'rows between unbounded preceding and current row' %}

with customer_month_parts as (

    select * from {{ ref('int_profitability__customer_month_parts') }}

),

trailing_windows as (

    select * from {{ ref('int_profitability__trailing_windows') }}

),

running_totals as (

    -- a customer's totals over every part up to and including this one; they hold from this
    -- part's first day until the customer's next part starts
    select
        customer_id,
        part_start_date,
        lead(part_start_date, 1, cast('9999-12-31' as date))
            over (partition by customer_id order by part_start_date)
            as next_part_start_date,
        count(*) over ({{ running_order }}) as running_parts,
        {% for measure in measures -%}
            sum({{ measure }}) over ({{ running_order }}) as running_{{ measure }}
            {%- if not loop.last %},{% endif %}
        {% endfor %}
    from customer_month_parts

),

window_bounds as (

    -- a window's total = running total on its end date - running total on the day before it
    select
        window_end_date,
        window_start_date,
        window_end_date as bound_date,
        1 as bound_sign
    from trailing_windows

    union all

    select
        window_end_date,
        window_start_date,
        cast({{ dbt.dateadd('day', -1, 'window_start_date') }} as date) as bound_date,
        -1 as bound_sign
    from trailing_windows

),

running_totals_at_bounds as (

    select
        running_totals.*,
        window_bounds.window_end_date,
        window_bounds.window_start_date,
        window_bounds.bound_sign
    from running_totals
    inner join window_bounds
        on
            running_totals.part_start_date <= window_bounds.bound_date
            and running_totals.next_part_start_date > window_bounds.bound_date

),

final as (

    select
        customer_id,
        window_end_date,
        min(window_start_date) as window_start_date,
        {% for measure in measures -%}
            sum(bound_sign * running_{{ measure }}) as {{ measure }}
            {%- if not loop.last %},{% endif %}
        {% endfor %}
    from running_totals_at_bounds
    group by customer_id, window_end_date
    having sum(bound_sign * running_parts) > 0

)

select * from final
