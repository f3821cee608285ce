-- Every monthly score stays on its scale: NPS in [-100, 100], CSAT and top-2 in [0, 100],
-- margins of error not negative, rates in [0, 1] (complaint rate >= 0).
select
    month,
    segment_type,
    segment_value,
    nps,
    nps_margin_of_error,
    csat_index,
    csat_top2_pct,
    complaint_rate,
    repurchase_rate
from {{ ref('satisfaction_monthly') }}
where
    nps < -100 or nps > 100
    or nps_margin_of_error < 0
    or csat_index < 0 or csat_index > 100
    or csat_top2_pct < 0 or csat_top2_pct > 100
    or complaint_rate < 0
    or repurchase_rate < 0 or repurchase_rate > 1
