{#- One row per customer: how satisfied they were over the trailing 12 months (survey scores,
    attribute gaps), how they complained, and whether their buying dropped silently. -#}
{%- set window_start = "cast(" ~ dbt.dateadd('month', -12, as_of_date()) ~ " as date)" -%}
with customers as (

    select * from {{ ref('stg_erp__customers') }}

),

responses as (

    select * from {{ ref('int_satisfaction__responses') }}

),

attribute_scores as (

    select * from {{ ref('int_satisfaction__attribute_scores') }}

),

complaints as (

    select * from {{ ref('int_satisfaction__complaints') }}

),

rhythm as (

    select * from {{ ref('int_loyalty__customer_rhythm') }}

),

responses_12m as (

    select
        *,
        row_number() over (
            partition by customer_id
            order by
                case when likelihood_to_recommend is null then 1 else 0 end,
                survey_date desc, response_id desc
        ) as recommend_recency_rank,
        row_number() over (
            partition by customer_id
            order by
                case when overall_satisfaction is null then 1 else 0 end,
                survey_date desc, response_id desc
        ) as overall_recency_rank
    from responses
    where survey_date > {{ window_start }}

),

survey_summary as (

    select
        customer_id,
        count(*) as responses,
        max(survey_date) as last_survey_date,
        avg(csat_index) as csat_index,
        100 * sum(case when is_top_box then 1 else 0 end)
        / cast(nullif(count(overall_satisfaction), 0) as decimal(18, 6)) as csat_top2_pct,
        max(case when recommend_recency_rank = 1 then likelihood_to_recommend end)
            as last_recommend_score,
        max(case when recommend_recency_rank = 1 then nps_category end) as nps_category,
        max(case when overall_recency_rank = 1 then overall_satisfaction end)
            as last_overall_satisfaction
    from responses_12m
    group by customer_id

),

gap_summary as (

    select
        customer_id,
        {%- for attribute in var('satisfaction_attributes') %}
            avg(case when attribute = '{{ attribute }}' then cast(gap as decimal(18, 6)) end)
                as gap_{{ attribute }},
        {%- endfor %}
        avg(cast(gap as decimal(18, 6))) as avg_gap
    from attribute_scores
    where survey_date > {{ window_start }}
    group by customer_id

),

complaint_summary as (

    select
        customer_id,
        sum(case when opened_date > {{ window_start }} then 1 else 0 end) as complaints_12m,
        sum(case when opened_date > {{ window_start }} and is_valid then 1 else 0 end)
            as valid_complaints_12m,
        sum(case when is_open then 1 else 0 end) as open_complaints,
        avg(case
            when opened_date > {{ window_start }}
                then cast(days_to_resolve as decimal(18, 6))
        end) as avg_days_to_resolve
    from complaints
    group by customer_id

),

joined as (

    select
        customers.customer_id,
        coalesce(survey_summary.responses, 0) as responses,
        survey_summary.last_survey_date,
        survey_summary.csat_index,
        survey_summary.csat_top2_pct,
        survey_summary.last_overall_satisfaction,
        survey_summary.last_recommend_score,
        survey_summary.nps_category,
        {%- for attribute in var('satisfaction_attributes') %}
            gap_summary.gap_{{ attribute }},
        {%- endfor %}
        gap_summary.avg_gap,
        coalesce(complaint_summary.complaints_12m, 0) as complaints_12m,
        coalesce(complaint_summary.valid_complaints_12m, 0) as valid_complaints_12m,
        coalesce(complaint_summary.open_complaints, 0) as open_complaints,
        complaint_summary.avg_days_to_resolve,
        rhythm.orders_12m,
        rhythm.orders_recent_window,
        rhythm.orders_12m * {{ var('hidden_dissatisfaction_window_days') }}
        / cast(365 as decimal(18, 6)) as expected_orders_recent_window
    from customers
    left join survey_summary on customers.customer_id = survey_summary.customer_id
    left join gap_summary on customers.customer_id = gap_summary.customer_id
    left join complaint_summary on customers.customer_id = complaint_summary.customer_id
    left join rhythm on customers.customer_id = rhythm.customer_id

),

final as (

    select
        customer_id,
        cast(responses as {{ dbt.type_bigint() }}) as responses,
        last_survey_date,
        round(csat_index, 2) as csat_index,
        round(csat_top2_pct, 2) as csat_top2_pct,
        last_overall_satisfaction,
        last_recommend_score,
        nps_category,
        {%- for attribute in var('satisfaction_attributes') %}
            round(gap_{{ attribute }}, 2) as gap_{{ attribute }},
        {%- endfor %}
        round(avg_gap, 2) as avg_gap,
        cast(complaints_12m as {{ dbt.type_bigint() }}) as complaints_12m,
        cast(valid_complaints_12m as {{ dbt.type_bigint() }}) as valid_complaints_12m,
        cast(orders_12m as {{ dbt.type_bigint() }}) as orders_12m,
        -- invalid complaints stay in the totals but are not a failure of ours to count in a rate
        round(valid_complaints_12m / cast(nullif(orders_12m, 0) as decimal(18, 6)), 4)
            as complaint_rate,
        cast(open_complaints as {{ dbt.type_bigint() }}) as open_complaints,
        round(avg_days_to_resolve, 1) as avg_days_to_resolve,
        cast(orders_recent_window as {{ dbt.type_bigint() }}) as orders_recent_window,
        round(expected_orders_recent_window, 2) as expected_orders_recent_window,
        case
            when
                orders_12m >= {{ var('hidden_dissatisfaction_min_orders_12m') }}
                and complaints_12m = 0
                and orders_recent_window
                <= expected_orders_recent_window * (1 - {{ var('hidden_dissatisfaction_drop') }})
                then true
            else false
        end as is_hidden_dissatisfaction
    from joined

)

select * from final
