{#- One row per calendar month per segment (everyone, region, main channel, ABC tier): survey
    scores, NPS with its margin of error, complaints and the repurchase rate. Segments are the
    customers' attributes as of the as-of date, so history is restated under today's
    segmentation. A score whose base is smaller than min_responses is null. -#}
{%- set min_n = var('min_responses') -%}
{%- set summed_measures = [
    'responses', 'csat_responses', 'csat_index_sum', 'overall_responses', 'top_box_responses',
    'nps_responses', 'promoters', 'passives', 'detractors', 'orders', 'complaints',
    'valid_complaints'] -%}
{%- set segment_columns = [
    ('all', "'all'"), ('region', 'region'), ('channel', 'main_channel'),
    ('abc_tier', 'abc_tier')] -%}
with customer_months as (

    select * from {{ ref('int_satisfaction__customer_months') }}

),

customers as (

    select * from {{ ref('stg_erp__customers') }}

),

rhythm as (

    select * from {{ ref('int_loyalty__customer_rhythm') }}

),

customer_abc as (

    select * from {{ ref('customer_abc') }}

),

active_customers as (

    select distinct customer_id
    from customer_months

),

customer_attributes as (

    select
        active_customers.customer_id,
        coalesce(customers.region, 'unknown') as region,
        coalesce(rhythm.main_channel, 'unknown') as main_channel,
        coalesce(customer_abc.abc_tier, 'unranked') as abc_tier
    from active_customers
    left join customers on active_customers.customer_id = customers.customer_id
    left join rhythm on active_customers.customer_id = rhythm.customer_id
    left join customer_abc on active_customers.customer_id = customer_abc.customer_id

),

attribute_months as (

    -- every measure summed once per month and combination of segment attributes: each segment
    -- type below adds up these few rows instead of joining every customer month four times
    select
        customer_months.month_start_date,
        customer_attributes.region,
        customer_attributes.main_channel,
        customer_attributes.abc_tier,
        {% for measure in summed_measures -%}
            sum(customer_months.{{ measure }}) as {{ measure }},
        {% endfor -%}
        sum(case when customer_months.orders_trailing_12m >= 1 then 1 else 0 end)
            as active_customers_12m,
        sum(case when customer_months.orders_trailing_12m >= 2 then 1 else 0 end)
            as repeat_customers_12m
    from customer_months
    inner join customer_attributes
        on customer_months.customer_id = customer_attributes.customer_id
    group by
        customer_months.month_start_date,
        customer_attributes.region,
        customer_attributes.main_channel,
        customer_attributes.abc_tier

),

segment_months as (

    {% for segment_type, segment_column in segment_columns %}
        select
            '{{ segment_type }}' as segment_type,
            {{ segment_column }} as segment_value,
            month_start_date,
            {% for measure in summed_measures + ['active_customers_12m', 'repeat_customers_12m'] -%}
                sum({{ measure }}) as {{ measure }}
                {%- if not loop.last %},{% endif %}
            {% endfor -%}
        from attribute_months
        group by
            {% if segment_type != 'all' %}{{ segment_column }},{% endif %}
            month_start_date
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

months as (

    select distinct month_start_date
    from customer_months

),

segments as (

    -- every active customer has a month row, so its attributes appear in segment_months
    select distinct
        segment_type,
        segment_value
    from segment_months

),

grid as (

    select
        months.month_start_date,
        segments.segment_type,
        segments.segment_value,
        cast(coalesce(segment_months.responses, 0) as {{ dbt.type_bigint() }}) as responses,
        cast(coalesce(segment_months.csat_responses, 0) as {{ dbt.type_bigint() }})
            as csat_responses,
        segment_months.csat_index_sum,
        cast(coalesce(segment_months.overall_responses, 0) as {{ dbt.type_bigint() }})
            as overall_responses,
        coalesce(segment_months.top_box_responses, 0) as top_box_responses,
        cast(coalesce(segment_months.nps_responses, 0) as {{ dbt.type_bigint() }}) as nps_responses,
        cast(coalesce(segment_months.promoters, 0) as {{ dbt.type_bigint() }}) as promoters,
        cast(coalesce(segment_months.passives, 0) as {{ dbt.type_bigint() }}) as passives,
        cast(coalesce(segment_months.detractors, 0) as {{ dbt.type_bigint() }}) as detractors,
        cast(coalesce(segment_months.orders, 0) as {{ dbt.type_bigint() }}) as orders,
        cast(coalesce(segment_months.complaints, 0) as {{ dbt.type_bigint() }}) as complaints,
        cast(coalesce(segment_months.valid_complaints, 0) as {{ dbt.type_bigint() }})
            as valid_complaints,
        cast(coalesce(segment_months.active_customers_12m, 0) as {{ dbt.type_bigint() }})
            as active_customers_12m,
        cast(coalesce(segment_months.repeat_customers_12m, 0) as {{ dbt.type_bigint() }})
            as repeat_customers_12m
    from months
    cross join segments
    left join segment_months
        on
            months.month_start_date = segment_months.month_start_date
            and segments.segment_type = segment_months.segment_type
            and segments.segment_value = segment_months.segment_value

),

shares as (

    select
        *,
        cast({{ dbt.last_day('month_start_date', 'month') }} as date) as month_end,
        {{ engines_divide('promoters', 'cast(nullif(nps_responses, 0) as decimal(18, 6))') }}
            as promoter_share,
        {{ engines_divide('detractors', 'cast(nullif(nps_responses, 0) as decimal(18, 6))') }}
            as detractor_share
    from grid

),

final as (

    select
        month_start_date as month,
        month_end,
        month_end > {{ as_of_date() }} as is_partial_month,
        segment_type,
        segment_value,
        responses,
        responses < {{ min_n }} as is_suppressed,
        csat_responses,
        case
            when csat_responses >= {{ min_n }}
                then round(csat_index_sum / csat_responses, 2)
        end as csat_index,
        overall_responses,
        case
            when overall_responses >= {{ min_n }}
                then round(100 * top_box_responses / cast(overall_responses as decimal(18, 6)), 2)
        end as csat_top2_pct,
        nps_responses,
        promoters,
        passives,
        detractors,
        case
            when nps_responses >= {{ min_n }}
                then round(100 * (promoter_share - detractor_share), 2)
        end as nps,
        -- NPS is a difference of two proportions of the same sample:
        -- var(p - d) = (p + d - (p - d)^2) / n, so MoE = z x sqrt(that) x 100 points
        case
            when nps_responses >= {{ min_n }}
                then round(
                    {{ var('nps_confidence_z') }} * 100 * sqrt(
                        (
                            promoter_share + detractor_share
                            - (promoter_share - detractor_share)
                            * (promoter_share - detractor_share)
                        )
                        / nps_responses
                    ), 2
                )
        end as nps_margin_of_error,
        orders,
        complaints,
        valid_complaints,
        round(valid_complaints / cast(nullif(orders, 0) as decimal(18, 6)), 4) as complaint_rate,
        active_customers_12m,
        repeat_customers_12m,
        round(repeat_customers_12m / cast(nullif(active_customers_12m, 0) as decimal(18, 6)), 4)
            as repurchase_rate
    from shares

)

select * from final
