{{ config(meta={'dagster': {'ref': {'name': 'customer_card'}}}) }}

-- The card has exactly one row per ERP customer: none missing, none duplicated, none unknown.
with customers as (

    select customer_id from {{ ref('stg_erp__customers') }}

),

card_rows as (

    select
        customer_id,
        count(*) as card_rows
    from {{ ref('customer_card') }}
    group by customer_id

)

select
    coalesce(customers.customer_id, card_rows.customer_id) as customer_id,
    coalesce(card_rows.card_rows, 0) as card_rows,
    customers.customer_id is not null as is_known_customer
from customers
full outer join card_rows on customers.customer_id = card_rows.customer_id
where
    customers.customer_id is null
    or card_rows.customer_id is null
    or card_rows.card_rows <> 1
