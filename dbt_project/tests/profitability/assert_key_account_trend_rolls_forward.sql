{{ config(meta={'dagster': {'ref': {'name': 'key_account_trend'}}}) }}

-- Key accounts roll forward month to month (previous + entered - dropped = current), and the
-- as-of month counts exactly the key accounts of customer_abc.
with key_account_trend as (

    select * from {{ ref('key_account_trend') }}

),

customer_abc as (

    select * from {{ ref('customer_abc') }}

),

key_account_count as (

    select count(*) as key_accounts
    from customer_abc
    where customer_abc.is_key_account

),

rolled as (

    select
        month,
        key_accounts,
        entered,
        dropped,
        coalesce(lag(key_accounts) over (order by month), 0) as previous_key_accounts,
        max(month) over () as last_month
    from key_account_trend

),

breaks as (

    select
        month,
        key_accounts,
        previous_key_accounts + entered - dropped as expected_key_accounts
    from rolled
    where key_accounts <> previous_key_accounts + entered - dropped

    union all

    select
        rolled.month,
        rolled.key_accounts,
        key_account_count.key_accounts as expected_key_accounts
    from rolled
    cross join key_account_count
    where
        rolled.month = rolled.last_month
        and rolled.key_accounts <> key_account_count.key_accounts

)

select * from breaks
