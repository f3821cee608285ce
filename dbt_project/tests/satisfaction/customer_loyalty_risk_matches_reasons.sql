-- The risk level follows the points of the reasons listed, and a customer has reasons listed
-- exactly when some reason fired.
select
    customer_id,
    defection_reason_count,
    defection_points,
    defection_risk,
    defection_reasons
from {{ ref('customer_loyalty') }}
where
    (defection_reason_count = 0) <> (defection_reasons is null)
    or defection_risk <> case
        when defection_points >= {{ var('defection_high_min_points') }} then 'high'
        when defection_points >= {{ var('defection_medium_min_points') }} then 'medium'
        else 'low'
    end
    or (
        defection_reasons is not null
        and {{ dbt.length('defection_reasons') }}
        - {{ dbt.length(dbt.replace('defection_reasons', "','", "''")) }} + 1
        <> defection_reason_count
    )
