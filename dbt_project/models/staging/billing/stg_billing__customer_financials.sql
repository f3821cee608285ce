with source as (

    select * from {{ source('billing', 'customer_financials') }}

),

final as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(period_end as date) as period_end_date,
        cast(current_assets as decimal(18, 4)) as current_assets,
        cast(current_liabilities as decimal(18, 4)) as current_liabilities,
        cast(cash as decimal(18, 4)) as cash,
        cast(total_assets as decimal(18, 4)) as total_assets,
        cast(total_liabilities as decimal(18, 4)) as total_liabilities,
        cast(revenue as decimal(18, 4)) as revenue,
        cast(ebit as decimal(18, 4)) as ebit,
        cast(interest_expense as decimal(18, 4)) as interest_expense
    from source

)

select * from final
