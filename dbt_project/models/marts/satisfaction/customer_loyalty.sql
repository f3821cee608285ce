{#- One row per customer: RFM scores and segment, buying rhythm, and the defection risk with the
    reasons behind it. -#}
{%- set points = var('defection_reason_points') -%}
{%- set reason_codes = ['overdue', 'falling_frequency', 'low_satisfaction', 'negative_gaps',
                        'open_complaints', 'repeated_complaints'] -%}
with rhythm as (

    select * from {{ ref('int_loyalty__customer_rhythm') }}

),

satisfaction as (

    select * from {{ ref('customer_satisfaction') }}

),

-- customers who never ordered are left out of the ranking so they do not crowd the bottom
-- quintile; rank() gives equal values the same rank and therefore the same score
rfm_ranks as (

    select
        customer_id,
        rank() over (order by recency_days desc) as recency_rank,
        rank() over (order by orders_12m) as frequency_rank,
        rank() over (order by net_revenue_12m) as monetary_rank,
        count(*) over () as ranked_customers
    from rhythm
    where first_order_date is not null

),

-- score = 1 + floor(5 x (rank - 1) / n): quintiles of the rank, ties never split
rfm_scores as (

    select
        customer_id,
        cast(
            1 + floor(5 * cast(recency_rank - 1 as decimal(18, 6)) / ranked_customers)
            as {{ dbt.type_int() }}
        ) as r_score,
        cast(
            1 + floor(5 * cast(frequency_rank - 1 as decimal(18, 6)) / ranked_customers)
            as {{ dbt.type_int() }}
        ) as f_score,
        cast(
            1 + floor(5 * cast(monetary_rank - 1 as decimal(18, 6)) / ranked_customers)
            as {{ dbt.type_int() }}
        ) as m_score
    from rfm_ranks

),

reason_flags as (

    select
        rhythm.customer_id,
        case
            when
                rhythm.typical_gap_days is not null
                and rhythm.recency_days
                > {{ var('defection_overdue_gap_multiple') }} * rhythm.typical_gap_days
                then 1
            else 0
        end as is_overdue,
        case
            when
                rhythm.orders_prior_period >= {{ var('defection_frequency_min_prior_orders') }}
                and rhythm.orders_last_period
                <= rhythm.orders_prior_period * (1 - {{ var('defection_frequency_drop') }})
                then 1
            else 0
        end as is_falling_frequency,
        case
            when
                satisfaction.csat_index < {{ var('defection_low_csat_index') }}
                or satisfaction.last_overall_satisfaction
                <= {{ var('defection_low_overall_max') }}
                then 1
            else 0
        end as is_low_satisfaction,
        case
            when satisfaction.avg_gap <= -{{ var('defection_negative_gap_points') }}
                then 1
            else 0
        end as is_negative_gaps,
        case
            when satisfaction.open_complaints >= {{ var('defection_open_complaints_min') }}
                then 1
            else 0
        end as is_open_complaints,
        case
            when satisfaction.complaints_12m >= {{ var('defection_repeated_complaints_min') }}
                then 1
            else 0
        end as is_repeated_complaints
    from rhythm
    left join satisfaction on rhythm.customer_id = satisfaction.customer_id

),

reasons as (

    {%- for code in reason_codes %}
        select
            customer_id,
            '{{ code }}' as reason_code,
            {{ loop.index }} as reason_order,
            {{ points[code] }} as reason_points
        from reason_flags
        where is_{{ code }} = 1
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

reason_summary as (

    select
        customer_id,
        count(*) as defection_reason_count,
        sum(reason_points) as defection_points,
        {{ dbt.listagg('reason_code', "','", 'order by reason_order') }} as defection_reasons
    from reasons
    group by customer_id

),

joined as (

    select
        rhythm.customer_id,
        rhythm.first_order_date,
        rhythm.last_order_date,
        rhythm.recency_days,
        rhythm.orders_12m as frequency_12m,
        rhythm.net_revenue_12m as monetary_12m,
        rfm_scores.r_score,
        rfm_scores.f_score,
        rfm_scores.m_score,
        rhythm.order_gaps,
        rhythm.typical_gap_days,
        rhythm.orders_last_period,
        rhythm.orders_prior_period,
        cast(coalesce(reason_summary.defection_reason_count, 0) as {{ dbt.type_bigint() }})
            as defection_reason_count,
        cast(coalesce(reason_summary.defection_points, 0) as {{ dbt.type_bigint() }})
            as defection_points,
        reason_summary.defection_reasons
    from rhythm
    left join rfm_scores on rhythm.customer_id = rfm_scores.customer_id
    left join reason_summary on rhythm.customer_id = reason_summary.customer_id

),

final as (

    select
        customer_id,
        first_order_date,
        last_order_date,
        recency_days,
        frequency_12m,
        monetary_12m,
        r_score,
        f_score,
        m_score,
        case
            when first_order_date is null then 'no_orders'
            when
                r_score >= {{ var('rfm_high_score') }}
                and f_score >= {{ var('rfm_high_score') }}
                and m_score >= {{ var('rfm_high_score') }} then 'champions'
            when
                r_score <= {{ var('rfm_low_score') }}
                and (
                    f_score >= {{ var('rfm_high_score') }}
                    or m_score >= {{ var('rfm_high_score') }}
                ) then 'at_risk'
            when f_score >= {{ var('rfm_high_score') }} then 'loyal'
            when r_score >= {{ var('rfm_high_score') }} then 'promising'
            when r_score <= {{ var('rfm_low_score') }} then 'lost'
            else 'needs_attention'
        end as rfm_segment,
        order_gaps,
        round(typical_gap_days, 1) as typical_gap_days,
        frequency_12m >= 2 as is_repeat_buyer,
        orders_last_period,
        orders_prior_period,
        defection_reason_count,
        defection_points,
        case
            when defection_points >= {{ var('defection_high_min_points') }} then 'high'
            when defection_points >= {{ var('defection_medium_min_points') }} then 'medium'
            else 'low'
        end as defection_risk,
        defection_reasons
    from joined

)

select * from final
