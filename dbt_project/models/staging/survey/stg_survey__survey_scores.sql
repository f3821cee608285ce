with source as (

    select * from {{ source('survey', 'survey_scores') }}

),

final as (

    select
        cast(response_id as {{ dbt.type_string() }}) as response_id,
        cast(attribute as {{ dbt.type_string() }}) as attribute,
        cast(importance as {{ dbt.type_bigint() }}) as importance,
        cast(expectation as {{ dbt.type_bigint() }}) as expectation,
        cast(perception as {{ dbt.type_bigint() }}) as perception
    from source

)

select * from final
