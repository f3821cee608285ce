{{ config(meta={'dagster': {'ref': {'name': 'customer_abc'}}}) }}

-- Shares of the ranking metric sum to 1 over all customers (customer_abc) and in every trailing
-- window of the tier history, whenever any customer has a positive metric.
with customer_abc as (

    select * from {{ ref('customer_abc') }}

),

customer_abc_tiers as (

    select * from {{ ref('int_profitability__customer_abc_tiers') }}

),

share_totals as (

    select
        'customer_abc' as source_model,
        cast(null as date) as window_end_date,
        sum(revenue_share) as total_share,
        sum(case when ranking_value > 0 then 1 else 0 end) as positive_customers
    from customer_abc

    union all

    select
        'int_profitability__customer_abc_tiers' as source_model,
        window_end_date,
        sum(revenue_share) as total_share,
        count(*) as positive_customers
    from customer_abc_tiers
    group by window_end_date

)

select *
from share_totals
where
    positive_customers > 0
    and abs(total_share - 1) > 0.000001
