{{ config(meta={'dagster': {'ref': {'name': 'customer_abc'}}}) }}

-- A-tier customers together hold at most the A cut-off share of the metric plus the share of
-- the last A customer (the one that crosses the cut-off), and every customer ranked before an A
-- customer is A too; checked for the as-of tiers and every window of the tier history.
with customer_abc_tiers as (

    select * from {{ ref('int_profitability__customer_abc_tiers') }}

),

customer_abc as (

    select * from {{ ref('customer_abc') }}

),

tiers as (

    select
        cast(null as date) as window_end_date,
        customer_id,
        rank as tier_rank,
        revenue_share,
        abc_tier
    from customer_abc

    union all

    select
        window_end_date,
        customer_id,
        positive_rank as tier_rank,
        revenue_share,
        abc_tier
    from customer_abc_tiers

),

a_tier_totals as (

    select
        window_end_date,
        sum(revenue_share) as a_share,
        max(tier_rank) as last_a_rank,
        count(*) as a_customers
    from tiers
    where abc_tier = 'A'
    group by window_end_date

),

last_a_shares as (

    select
        a_tier_totals.window_end_date,
        a_tier_totals.a_share,
        a_tier_totals.a_customers,
        a_tier_totals.last_a_rank,
        tiers.revenue_share as last_a_share
    from a_tier_totals
    inner join tiers
        on
            a_tier_totals.last_a_rank = tiers.tier_rank
            and coalesce(tiers.window_end_date, cast('1900-01-01' as date))
            = coalesce(a_tier_totals.window_end_date, cast('1900-01-01' as date))

)

select *
from last_a_shares
where
    a_share > {{ var('abc_a_cutoff') }} + last_a_share + 0.000001
    -- the A customers are exactly the first ranks
    or a_customers <> last_a_rank
