with source as (

    select * from {{ source('survey', 'complaints') }}

),

final as (

    select
        cast(complaint_id as {{ dbt.type_string() }}) as complaint_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(opened_date as date) as opened_date,
        cast(category as {{ dbt.type_string() }}) as category,
        cast(severity as {{ dbt.type_string() }}) as severity,
        cast(is_valid as boolean) as is_valid,
        cast(resolved_date as date) as resolved_date
    from source

)

select * from final
