-- A score computed from fewer than min_responses responses must be null, and a score with a
-- large enough base must be shown.
select
    month,
    segment_type,
    segment_value,
    csat_responses,
    csat_index,
    overall_responses,
    csat_top2_pct,
    nps_responses,
    nps
from {{ ref('satisfaction_monthly') }}
where
    (csat_responses < {{ var('min_responses') }} and csat_index is not null)
    or (overall_responses < {{ var('min_responses') }} and csat_top2_pct is not null)
    or (
        nps_responses < {{ var('min_responses') }}
        and (nps is not null or nps_margin_of_error is not null)
    )
    or (csat_responses >= {{ var('min_responses') }} and csat_index is null)
    or (overall_responses >= {{ var('min_responses') }} and csat_top2_pct is null)
    or (
        nps_responses >= {{ var('min_responses') }}
        and (nps is null or nps_margin_of_error is null)
    )
