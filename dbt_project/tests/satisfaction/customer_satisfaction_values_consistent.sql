-- Customer scores stay on their scales, counts are consistent, and hidden dissatisfaction is
-- only flagged for customers who did not complain and had a rhythm.
select
    customer_id,
    csat_index,
    csat_top2_pct,
    complaints_12m,
    valid_complaints_12m,
    is_hidden_dissatisfaction
from {{ ref('customer_satisfaction') }}
where
    csat_index < 0 or csat_index > 100
    or csat_top2_pct < 0 or csat_top2_pct > 100
    or avg_gap < -4 or avg_gap > 4
    or last_recommend_score < 0 or last_recommend_score > 10
    or (last_recommend_score is null) <> (nps_category is null)
    or (responses = 0 and (csat_index is not null or nps_category is not null))
    or valid_complaints_12m > complaints_12m
    or complaint_rate < 0
    or (
        is_hidden_dissatisfaction
        and (
            complaints_12m > 0
            or orders_12m < {{ var('hidden_dissatisfaction_min_orders_12m') }}
        )
    )
