{#- One row per survey attribute over the trailing 12 months: importance, expectation,
    perception, their gap and the importance-performance quadrant. Attributes scored fewer times
    than min_responses show nulls and no quadrant, and do not move the crosshairs. -#}
with attribute_scores as (

    select * from {{ ref('int_satisfaction__attribute_scores') }}

),

attribute_summary as (

    select
        attribute,
        count(*) as responses,
        avg(cast(importance as decimal(18, 6))) as importance,
        avg(cast(expectation as decimal(18, 6))) as expectation,
        avg(cast(perception as decimal(18, 6))) as perception,
        avg(cast(gap as decimal(18, 6))) as gap
    from attribute_scores
    where survey_date > cast({{ dbt.dateadd('month', -12, as_of_date()) }} as date)
    group by attribute

),

shown_attributes as (

    select
        attribute,
        responses,
        responses < {{ var('min_responses') }} as is_suppressed,
        case when responses >= {{ var('min_responses') }} then importance end as importance,
        case when responses >= {{ var('min_responses') }} then expectation end as expectation,
        case when responses >= {{ var('min_responses') }} then perception end as perception,
        case when responses >= {{ var('min_responses') }} then gap end as gap
    from attribute_summary

),

crosshairs as (

    select
        {% if var('ipa_importance_threshold') is none -%}
            avg(importance)
        {%- else -%}
        cast({{ var('ipa_importance_threshold') }} as decimal(18, 6))
        {%- endif %} as importance_crosshair,
        {% if var('ipa_performance_threshold') is none -%}
            avg(perception)
        {%- else -%}
        cast({{ var('ipa_performance_threshold') }} as decimal(18, 6))
        {%- endif %} as performance_crosshair
    from shown_attributes

),

final as (

    select
        shown_attributes.attribute,
        shown_attributes.responses,
        shown_attributes.is_suppressed,
        round(shown_attributes.importance, 2) as importance,
        round(shown_attributes.expectation, 2) as expectation,
        round(shown_attributes.perception, 2) as perception,
        round(shown_attributes.gap, 2) as gap,
        round(crosshairs.importance_crosshair, 2) as importance_crosshair,
        round(crosshairs.performance_crosshair, 2) as performance_crosshair,
        case
            when shown_attributes.importance is null or shown_attributes.perception is null
                then null
            when
                shown_attributes.importance >= crosshairs.importance_crosshair
                and shown_attributes.perception < crosshairs.performance_crosshair
                then 'fix_first'
            when shown_attributes.importance >= crosshairs.importance_crosshair
                then 'keep_up'
            when shown_attributes.perception < crosshairs.performance_crosshair
                then 'low_priority'
            else 'possible_overkill'
        end as ipa_quadrant
    from shown_attributes
    cross join crosshairs

)

select * from final
