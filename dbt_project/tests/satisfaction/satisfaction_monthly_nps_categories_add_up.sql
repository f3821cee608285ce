-- Promoters + passives + detractors = responses with a recommend score, and no score base
-- exceeds the month's responses; repeat customers never exceed active customers.
select
    month,
    segment_type,
    segment_value,
    responses,
    nps_responses,
    promoters,
    passives,
    detractors
from {{ ref('satisfaction_monthly') }}
where
    promoters + passives + detractors <> nps_responses
    or nps_responses > responses
    or overall_responses > responses
    or csat_responses > responses
    or valid_complaints > complaints
    or repeat_customers_12m > active_customers_12m
