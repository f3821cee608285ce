{#- Attribute scores of the survey responses dated on or before the as-of date, with the
    response's customer and date so that attribute views can be windowed and pivoted. -#}
with survey_scores as (

    select * from {{ ref('stg_survey__survey_scores') }}

),

surveys as (

    select * from {{ ref('stg_survey__surveys') }}

),

final as (

    select
        survey_scores.response_id,
        survey_scores.attribute,
        surveys.customer_id,
        surveys.survey_date,
        survey_scores.importance,
        survey_scores.expectation,
        survey_scores.perception,
        survey_scores.perception - survey_scores.expectation as gap
    from survey_scores
    inner join surveys on survey_scores.response_id = surveys.response_id
    where surveys.survey_date <= {{ as_of_date() }}

)

select * from final
