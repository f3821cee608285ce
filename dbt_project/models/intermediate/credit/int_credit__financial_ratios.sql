{#- Ratios of each customer's latest financial statement with a period end on or before the
    as-of date: the capacity and capital part of the credit grade. -#}
with financials as (

    select * from {{ ref('stg_billing__customer_financials') }}

),

ranked_statements as (

    select
        financials.*,
        row_number() over (
            partition by financials.customer_id order by financials.period_end_date desc
        ) as statement_rank
    from financials
    where financials.period_end_date <= {{ as_of_date() }}

),

final as (

    select
        customer_id,
        period_end_date as statement_period_end_date,
        current_assets,
        current_liabilities,
        cash,
        total_assets,
        total_liabilities,
        ebit,
        interest_expense,
        case
            when current_liabilities <> 0
                then {{ engines_divide('current_assets', 'current_liabilities') }}
        end as current_ratio,
        case
            when current_liabilities <> 0
                then {{ engines_divide('cash', 'current_liabilities') }}
        end as cash_ratio,
        case
            when total_assets <> 0
                then {{ engines_divide('total_liabilities', 'total_assets') }}
        end as debt_ratio,
        case
            when interest_expense <> 0
                then {{ engines_divide('ebit', 'interest_expense') }}
        end as interest_coverage,
        current_assets - current_liabilities as working_capital,
        total_assets - total_liabilities as net_assets
    from ranked_statements
    where statement_rank = 1

)

select * from final
