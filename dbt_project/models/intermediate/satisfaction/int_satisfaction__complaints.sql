{#- Complaints opened on or before the as-of date, seen as they stood on that date: a complaint
    resolved after the as-of date was still open then, so replaying history gives the same
    open-complaint counts that were true at the time. -#}
with complaints as (

    select * from {{ ref('stg_survey__complaints') }}

),

final as (

    select
        complaint_id,
        customer_id,
        opened_date,
        cast({{ dbt.date_trunc('month', 'opened_date') }} as date) as opened_month,
        category,
        severity,
        coalesce(is_valid, true) as is_valid,
        case
            when resolved_date <= {{ as_of_date() }} then resolved_date
        end as resolved_date,
        case
            when resolved_date <= {{ as_of_date() }} then false
            else true
        end as is_open,
        case
            when resolved_date <= {{ as_of_date() }}
                then {{ dbt.datediff('opened_date', 'resolved_date', 'day') }}
        end as days_to_resolve
    from complaints
    where opened_date <= {{ as_of_date() }}

)

select * from final
