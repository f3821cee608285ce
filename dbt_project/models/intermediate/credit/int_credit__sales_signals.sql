{#- Each customer's recent sales: the average monthly sales behind the sales-based credit limit
    and the sales trend signal. Built on calendar months of int_sales__customer_monthly: the
    trailing window is the as-of month (counted up to the as-of date) and the months before it. -#}
with customer_monthly_sales as (

    select * from {{ ref('int_sales__customer_monthly') }}

),

windows as (

    select
        cast({{ dbt.date_trunc('month', as_of_date()) }} as date) as as_of_month_start_date

),

monthly as (

    select
        customer_monthly_sales.customer_id,
        customer_monthly_sales.net_revenue,
        {{ dbt.datediff(
            'customer_monthly_sales.month_start_date', 'windows.as_of_month_start_date', 'month') }}
            as months_back
    from customer_monthly_sales
    cross join windows
    where customer_monthly_sales.month_start_date <= windows.as_of_month_start_date

),

sums as (

    select
        customer_id,
        sum(case
            when months_back < {{ var('credit_behaviour_window_months') }}
                then net_revenue
            else 0
        end) as sales_12m,
        sum(case
            when months_back < {{ var('credit_behaviour_window_months') }}
                then net_revenue
            else 0
        end)
        / {{ var('credit_behaviour_window_months') }} as avg_monthly_sales_12m,
        sum(case
            when months_back < {{ var('credit_trend_window_months') }}
                then net_revenue
            else 0
        end) as sales_recent,
        sum(case
            when
                months_back >= {{ var('credit_trend_window_months') }}
                and months_back < 2 * {{ var('credit_trend_window_months') }}
                then net_revenue
            else 0
        end) as sales_previous
    from monthly
    group by customer_id

),

final as (

    select
        customer_id,
        sales_12m,
        avg_monthly_sales_12m,
        sales_recent,
        sales_previous,
        -- no sales before: a new customer has no trend yet
        case
            when sales_previous > 0
                then {{ engines_divide('sales_recent', 'sales_previous') }} - 1
        end as sales_trend
    from sums

)

select * from final
