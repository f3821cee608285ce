{#- Monthly profit and cost to serve per customer. Summed from the same month parts as the
    trailing-12-month marts, so they add up to each other (see the mart YAML). -#}
with customer_month_parts as (

    select * from {{ ref('int_profitability__customer_month_parts') }}

),

customer_months as (

    select
        customer_id,
        month_start_date,
        sum(net_revenue) as net_revenue,
        sum(cogs) as cogs,
        sum(gross_margin) as gross_margin,
        sum(freight_cost) as freight_cost,
        sum(service_cost) as service_cost,
        sum(complaint_cost) as complaint_cost,
        sum(cash_discount_cost) as cash_discount_cost,
        sum(financing_cost) as financing_cost,
        sum(bad_debt_cost) as bad_debt_cost,
        sum(cost_to_serve) as cost_to_serve,
        sum(net_contribution) as net_contribution
    from customer_month_parts
    group by customer_id, month_start_date

),

final as (

    select
        customer_id,
        month_start_date as month,
        cast({{ dbt.last_day('month_start_date', 'month') }} as date) as month_end,
        -- the as-of month is complete only when the as-of date is its last day
        (
            month_start_date = cast({{ dbt.date_trunc('month', as_of_date()) }} as date)
            and {{ as_of_date() }} < cast({{ dbt.last_day('month_start_date', 'month') }} as date)
        ) as is_partial_month,
        net_revenue,
        cogs,
        gross_margin,
        freight_cost,
        service_cost,
        complaint_cost,
        cash_discount_cost,
        financing_cost,
        bad_debt_cost,
        cost_to_serve,
        net_contribution
    from customer_months

)

select * from final
