{#- One row per survey response dated on or before the as-of date: the response's own CSAT index,
    top-box flag and NPS category. Every satisfaction mart aggregates these rows, so a response
    means the same everywhere.
    CSAT index of a response = sum(importance x perception index) / sum(importance) over its
    attribute scores, where the perception index maps 1 -> 0, 2 -> 25, ..., 5 -> 100. A response
    whose importance ratings are incomplete weighs its attributes equally: mixing real ratings
    with an invented weight for the missing ones would tilt the index. -#}
with surveys as (

    select * from {{ ref('stg_survey__surveys') }}

),

survey_scores as (

    select * from {{ ref('stg_survey__survey_scores') }}

),

response_weighting as (

    select
        response_id,
        count(*) as scored_attributes,
        count(importance) = count(*) as is_importance_weighted
    from survey_scores
    group by response_id

),

weighted_scores as (

    select
        survey_scores.response_id,
        case
            when response_weighting.is_importance_weighted then survey_scores.importance
            else 1
        end as csat_weight,
        cast(survey_scores.perception - 1 as decimal(18, 6)) * 25 as perception_index
    from survey_scores
    inner join response_weighting
        on survey_scores.response_id = response_weighting.response_id

),

response_csat as (

    select
        response_id,
        {{ engines_divide('sum(csat_weight * perception_index)', 'sum(csat_weight)') }}
            as csat_index
    from weighted_scores
    group by response_id

),

final as (

    select
        surveys.response_id,
        surveys.customer_id,
        surveys.survey_date,
        cast({{ dbt.date_trunc('month', 'surveys.survey_date') }} as date) as survey_month,
        surveys.overall_satisfaction,
        surveys.likelihood_to_recommend,
        case
            when surveys.overall_satisfaction is null then null
            when surveys.overall_satisfaction >= {{ var('csat_top_box_min_score') }} then true
            else false
        end as is_top_box,
        case
            when surveys.likelihood_to_recommend is null then null
            when surveys.likelihood_to_recommend >= {{ var('nps_promoter_min_score') }}
                then 'promoter'
            when surveys.likelihood_to_recommend <= {{ var('nps_detractor_max_score') }}
                then 'detractor'
            else 'passive'
        end as nps_category,
        cast(coalesce(response_weighting.scored_attributes, 0) as {{ dbt.type_bigint() }})
            as scored_attributes,
        response_weighting.is_importance_weighted,
        response_csat.csat_index
    from surveys
    left join response_weighting on surveys.response_id = response_weighting.response_id
    left join response_csat on surveys.response_id = response_csat.response_id
    where surveys.survey_date <= {{ as_of_date() }}

)

select * from final
