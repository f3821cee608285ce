{{ config(meta={'dagster': {'ref': {'name': 'customer_loyalty'}}}) }}

-- customer_satisfaction and customer_loyalty hold exactly one row per ERP customer: none
-- missing, none extra (uniqueness is tested on each model).
with customers as (

    select customer_id from {{ ref('stg_erp__customers') }}

),

satisfaction as (

    select customer_id from {{ ref('customer_satisfaction') }}

),

loyalty as (

    select customer_id from {{ ref('customer_loyalty') }}

),

missing as (

    select
        customers.customer_id,
        'missing from customer_satisfaction' as problem
    from customers
    left join satisfaction on customers.customer_id = satisfaction.customer_id
    where satisfaction.customer_id is null

    union all

    select
        customers.customer_id,
        'missing from customer_loyalty' as problem
    from customers
    left join loyalty on customers.customer_id = loyalty.customer_id
    where loyalty.customer_id is null

    union all

    select
        satisfaction.customer_id,
        'unknown customer in customer_satisfaction' as problem
    from satisfaction
    left join customers on satisfaction.customer_id = customers.customer_id
    where customers.customer_id is null

    union all

    select
        loyalty.customer_id,
        'unknown customer in customer_loyalty' as problem
    from loyalty
    left join customers on loyalty.customer_id = customers.customer_id
    where customers.customer_id is null

)

select * from missing
