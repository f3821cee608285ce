-- Every customer sits in exactly one value of each segment type, so each segment type's values
-- add up to the month's 'all' row.
with monthly as (

    select * from {{ ref('satisfaction_monthly') }}

),

segment_totals as (

    select
        month,
        segment_type,
        sum(responses) as responses,
        sum(nps_responses) as nps_responses,
        sum(promoters) as promoters,
        sum(orders) as orders,
        sum(complaints) as complaints,
        sum(active_customers_12m) as active_customers_12m,
        sum(repeat_customers_12m) as repeat_customers_12m
    from monthly
    where segment_type <> 'all'
    group by month, segment_type

),

all_rows as (

    select * from monthly
    where segment_type = 'all'

)

select
    segment_totals.month,
    segment_totals.segment_type
from segment_totals
left join all_rows on segment_totals.month = all_rows.month
where
    all_rows.month is null
    or segment_totals.responses <> all_rows.responses
    or segment_totals.nps_responses <> all_rows.nps_responses
    or segment_totals.promoters <> all_rows.promoters
    or segment_totals.orders <> all_rows.orders
    or segment_totals.complaints <> all_rows.complaints
    or segment_totals.active_customers_12m <> all_rows.active_customers_12m
    or segment_totals.repeat_customers_12m <> all_rows.repeat_customers_12m
