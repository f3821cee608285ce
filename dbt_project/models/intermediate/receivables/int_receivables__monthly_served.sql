{#- Finance's monthly receivables as served: open months show today's computation; closed
    months show the values first published for them, so a month finance has closed never changes
    silently: what later data would change is listed in receivables_restatements. The mart
    receivables_monthly stores these rows in month order. -#}
{%- set served_columns = ['month_end', 'is_partial_month'] + receivables_restatable_columns()
    + ['credit_sales', 'period_credit_sales', 'period_days', 'dso_simple', 'dso_countback',
       'best_possible_dso', 'credit_limit', 'utilization', 'is_over_limit', 'credit_grade'] %}

with computed as (

    select * from {{ ref('int_receivables__monthly_computed') }}

),

frozen as (

    select * from {{ ref('int_receivables__frozen_months') }}

),

final as (

    select
        computed.customer_id,
        computed.month,
        {% for column in served_columns -%}
            case
                when computed.is_closed and frozen.customer_id is not null
                    then frozen.{{ column }}
                else computed.{{ column }}
            end as {{ column }},
        {% endfor -%}
        computed.is_closed,
        computed.is_closed and frozen.customer_id is not null as is_frozen,
        case
            when computed.is_closed then frozen.frozen_as_of_date
        end as frozen_as_of_date
    from computed
    left join frozen
        on
            computed.customer_id = frozen.customer_id
            and computed.month = frozen.month

)

select * from final
