{#- What later data would change in closed, published receivables months: one row per customer,
    month and money column whose frozen (published) value differs from today's computation.
    The frozen value stays served in receivables_monthly until finance reopens the month.
    Frozen and computed months are joined once and only the rows that differ are unpivoted: a
    join per column held a dozen hash tables of every customer-month at once. -#}
{%- set columns = receivables_restatable_columns() %}

with computed as (

    select * from {{ ref('int_receivables__monthly_computed') }}

),

frozen as (

    select * from {{ ref('int_receivables__frozen_months') }}

),

changed_months as (

    select
        frozen.customer_id,
        frozen.month,
        frozen.month_end,
        frozen.frozen_as_of_date,
        {% for column in columns -%}
            frozen.{{ column }} as published_{{ column }},
            coalesce(computed.{{ column }}, 0) as new_{{ column }}
            {%- if not loop.last %},{% endif %}
        {% endfor %}
    from frozen
    left join computed
        on
            frozen.customer_id = computed.customer_id
            and frozen.month = computed.month
    where
        frozen.month_end < {{ as_of_date() }}
        and (
            {% for column in columns -%}
                frozen.{{ column }} <> coalesce(computed.{{ column }}, 0)
                {% if not loop.last %}or {% endif %}
            {%- endfor %}
        )

),

differences as (

    {% for column in columns -%}
        select
            customer_id,
            month,
            month_end,
            frozen_as_of_date,
            '{{ column }}' as column_name,
            published_{{ column }} as published_value,
            new_{{ column }} as new_value
        from changed_months
        where published_{{ column }} <> new_{{ column }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        customer_id,
        month,
        month_end,
        column_name,
        published_value,
        new_value,
        new_value - published_value as difference,
        frozen_as_of_date,
        {{ as_of_date() }} as detected_as_of_date
    from differences

)

select * from final
