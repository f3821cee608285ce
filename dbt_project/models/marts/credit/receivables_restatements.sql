{#- What later data would change in closed, published receivables months: one row per customer,
    month and money column whose frozen (published) value differs from today's computation.
    The frozen value stays served in receivables_monthly until finance reopens the month. -#}
with computed as (

    select * from {{ ref('int_receivables__monthly_computed') }}

),

frozen as (

    select * from {{ ref('int_receivables__frozen_months') }}

),

differences as (

    {% for column in receivables_restatable_columns() -%}
        select
            frozen.customer_id,
            frozen.month,
            frozen.month_end,
            frozen.frozen_as_of_date,
            '{{ column }}' as column_name,
            frozen.{{ column }} as published_value,
            coalesce(computed.{{ column }}, 0) as new_value
        from frozen
        left join computed
            on
                frozen.customer_id = computed.customer_id
                and frozen.month = computed.month
        where
            frozen.month_end < {{ as_of_date() }}
            and frozen.{{ column }} <> coalesce(computed.{{ column }}, 0)
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
