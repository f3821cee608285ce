{#- Monthly rows add up to the trailing-12-month totals, customer by customer and column by
    column: the months starting inside the window (the as-of month runs to the as-of date) plus,
    when the window starts mid-month, the part of that edge month inside the window. -#}
{{ config(meta={'dagster': {'ref': {'name': 'customer_profitability_monthly'}}}) }}

{%- set money_columns = [
    'net_revenue', 'cogs', 'gross_margin', 'freight_cost', 'service_cost', 'complaint_cost',
    'cash_discount_cost', 'financing_cost', 'bad_debt_cost', 'cost_to_serve', 'net_contribution'
] %}

with customer_profitability_monthly as (

    select * from {{ ref('customer_profitability_monthly') }}

),

customer_month_parts as (

    select * from {{ ref('int_profitability__customer_month_parts') }}

),

customer_profitability as (

    select * from {{ ref('customer_profitability') }}

),

trailing_window as (

    select distinct
        window_start_date,
        window_end_date
    from customer_profitability

),

pieces as (

    select
        customer_profitability_monthly.customer_id,
        {% for column in money_columns %}
            customer_profitability_monthly.{{ column }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from customer_profitability_monthly
    inner join trailing_window
        on
            customer_profitability_monthly.month >= trailing_window.window_start_date
            and customer_profitability_monthly.month <= trailing_window.window_end_date

    union all

    select
        customer_month_parts.customer_id,
        {% for column in money_columns %}
            customer_month_parts.{{ column }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from customer_month_parts
    inner join trailing_window
        on
            customer_month_parts.month_start_date < trailing_window.window_start_date
            and customer_month_parts.part_start_date >= trailing_window.window_start_date

),

summed as (

    select
        customer_id,
        {% for column in money_columns %}
            sum({{ column }}) as {{ column }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from pieces
    group by customer_id

)

select
    coalesce(customer_profitability.customer_id, summed.customer_id) as customer_id,
    {% for column in money_columns %}
        customer_profitability.{{ column }} as trailing_{{ column }},
        summed.{{ column }} as monthly_{{ column }}{% if not loop.last %},{% endif %}
    {% endfor %}
from customer_profitability
full outer join summed on customer_profitability.customer_id = summed.customer_id
where
    customer_profitability.customer_id is null
    {% for column in money_columns %}
        or customer_profitability.{{ column }} <> coalesce(summed.{{ column }}, 0)
    {% endfor %}
