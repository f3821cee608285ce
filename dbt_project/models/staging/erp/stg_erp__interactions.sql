with source as (

    select * from {{ source('erp', 'interactions') }}

),

final as (

    select
        cast(interaction_id as {{ dbt.type_string() }}) as interaction_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(interaction_date as date) as interaction_date,
        cast(kind as {{ dbt.type_string() }}) as interaction_kind,
        cast(cost as decimal(18, 4)) as interaction_cost
    from source

)

select * from final
