-- In rank order the cumulative share never decreases, never exceeds 1, and equals the running
-- sum of the shares; ranks run 1..number of customers without gaps.
with customer_abc as (

    select * from {{ ref('customer_abc') }}

),

ordered as (

    select
        customer_id,
        rank,
        revenue_share,
        cumulative_share,
        lag(cumulative_share) over (order by rank) as previous_cumulative_share,
        sum(revenue_share) over (
            order by rank rows between unbounded preceding and current row
        ) as running_share,
        count(*) over () as customers
    from customer_abc

)

select *
from ordered
where
    cumulative_share < coalesce(previous_cumulative_share, 0)
    or cumulative_share > 1.000001
    or (revenue_share > 0 and abs(cumulative_share - running_share) > 0.000001)
    or rank < 1
    or rank > customers
