with source as (

    select * from {{ source('survey', 'surveys') }}

),

final as (

    select
        cast(response_id as {{ dbt.type_string() }}) as response_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(survey_date as date) as survey_date,
        cast(overall_satisfaction as {{ dbt.type_bigint() }}) as overall_satisfaction,
        cast(likelihood_to_recommend as {{ dbt.type_bigint() }}) as likelihood_to_recommend,
        cast(comment as {{ dbt.type_string() }}) as comment
    from source

)

select * from final
