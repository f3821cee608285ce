{{ config(meta={'dagster': {'ref': {'name': 'customer_profitability'}}}) }}

-- Every customer of the dimension appears exactly once in the per-customer marts, so tier and
-- class counts add up to the customer count.
with customers as (

    select * from {{ ref('stg_erp__customers') }}

),

customer_profitability as (

    select * from {{ ref('customer_profitability') }}

),

customer_abc as (

    select * from {{ ref('customer_abc') }}

),

counts as (

    select
        'customer_profitability' as source_model,
        (select count(*) from customers) as customers,
        count(*) as mart_rows,
        count(distinct customer_id) as mart_customers
    from customer_profitability

    union all

    select
        'customer_abc' as source_model,
        (select count(*) from customers) as customers,
        count(*) as mart_rows,
        count(distinct customer_id) as mart_customers
    from customer_abc

)

select *
from counts
where mart_rows <> customers or mart_customers <> customers
