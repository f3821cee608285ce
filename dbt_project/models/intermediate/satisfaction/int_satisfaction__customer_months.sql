{#- Survey, complaint and order counts per customer per calendar month, plus the customer's orders
    in the 12 calendar months ending with that month (the repurchase window). A row exists for
    every month in which the customer had any activity in that 12-month window, so segment
    totals per month can be summed from these rows alone. Months run from the first month with
    any activity to the month of the as-of date (at most satisfaction_monthly_max_months). -#}
with customer_monthly_sales as (

    select * from {{ ref('int_sales__customer_monthly') }}

),

responses as (

    select * from {{ ref('int_satisfaction__responses') }}

),

complaints as (

    select * from {{ ref('int_satisfaction__complaints') }}

),

months_back as (

    {{ dbt.generate_series(var('satisfaction_monthly_max_months')) }}

),

activity as (

    select
        customer_id,
        month_start_date as activity_month,
        orders,
        0 as responses,
        0 as csat_responses,
        0 as csat_index_sum,
        0 as overall_responses,
        0 as top_box_responses,
        0 as nps_responses,
        0 as promoters,
        0 as passives,
        0 as detractors,
        0 as complaints,
        0 as valid_complaints
    from customer_monthly_sales

    union all

    select
        customer_id,
        survey_month as activity_month,
        0 as orders,
        1 as responses,
        case when csat_index is not null then 1 else 0 end as csat_responses,
        coalesce(csat_index, 0) as csat_index_sum,
        case when overall_satisfaction is not null then 1 else 0 end as overall_responses,
        case when is_top_box then 1 else 0 end as top_box_responses,
        case when nps_category is not null then 1 else 0 end as nps_responses,
        case when nps_category = 'promoter' then 1 else 0 end as promoters,
        case when nps_category = 'passive' then 1 else 0 end as passives,
        case when nps_category = 'detractor' then 1 else 0 end as detractors,
        0 as complaints,
        0 as valid_complaints
    from responses

    union all

    select
        customer_id,
        opened_month as activity_month,
        0 as orders,
        0 as responses,
        0 as csat_responses,
        0 as csat_index_sum,
        0 as overall_responses,
        0 as top_box_responses,
        0 as nps_responses,
        0 as promoters,
        0 as passives,
        0 as detractors,
        1 as complaints,
        case when is_valid then 1 else 0 end as valid_complaints
    from complaints

),

activity_months as (

    select
        customer_id,
        activity_month,
        sum(orders) as orders,
        sum(responses) as responses,
        sum(csat_responses) as csat_responses,
        sum(csat_index_sum) as csat_index_sum,
        sum(overall_responses) as overall_responses,
        sum(top_box_responses) as top_box_responses,
        sum(nps_responses) as nps_responses,
        sum(promoters) as promoters,
        sum(passives) as passives,
        sum(detractors) as detractors,
        sum(complaints) as complaints,
        sum(valid_complaints) as valid_complaints
    from activity
    group by customer_id, activity_month

),

first_activity as (

    select min(activity_month) as first_activity_month
    from activity_months

),

month_spine as (

    select
        cast(
            {{ dbt.dateadd(
                'month',
                '1 - months_back.generated_number',
                dbt.date_trunc('month', as_of_date())
            ) }} as date
        ) as month_start_date
    from months_back

),

months_with_data as (

    select month_spine.month_start_date
    from month_spine
    cross join first_activity
    where month_spine.month_start_date >= first_activity.first_activity_month

),

final as (

    select
        activity_months.customer_id,
        months_with_data.month_start_date,
        sum(case
            when activity_months.activity_month = months_with_data.month_start_date
                then activity_months.orders
            else 0
        end) as orders,
        sum(case
            when activity_months.activity_month = months_with_data.month_start_date
                then activity_months.responses
            else 0
        end) as responses,
        sum(case
            when activity_months.activity_month = months_with_data.month_start_date
                then activity_months.csat_responses
            else 0
        end) as csat_responses,
        sum(case
            when activity_months.activity_month = months_with_data.month_start_date
                then activity_months.csat_index_sum
            else 0
        end) as csat_index_sum,
        sum(case
            when activity_months.activity_month = months_with_data.month_start_date
                then activity_months.overall_responses
            else 0
        end) as overall_responses,
        sum(case
            when activity_months.activity_month = months_with_data.month_start_date
                then activity_months.top_box_responses
            else 0
        end) as top_box_responses,
        sum(case
            when activity_months.activity_month = months_with_data.month_start_date
                then activity_months.nps_responses
            else 0
        end) as nps_responses,
        sum(case
            when activity_months.activity_month = months_with_data.month_start_date
                then activity_months.promoters
            else 0
        end) as promoters,
        sum(case
            when activity_months.activity_month = months_with_data.month_start_date
                then activity_months.passives
            else 0
        end) as passives,
        sum(case
            when activity_months.activity_month = months_with_data.month_start_date
                then activity_months.detractors
            else 0
        end) as detractors,
        sum(case
            when activity_months.activity_month = months_with_data.month_start_date
                then activity_months.complaints
            else 0
        end) as complaints,
        sum(case
            when activity_months.activity_month = months_with_data.month_start_date
                then activity_months.valid_complaints
            else 0
        end) as valid_complaints,
        sum(activity_months.orders) as orders_trailing_12m
    from months_with_data
    inner join activity_months
        on
            months_with_data.month_start_date >= activity_months.activity_month
            and activity_months.activity_month > cast(
                {{ dbt.dateadd('month', -12, 'months_with_data.month_start_date') }} as date
            )
    group by activity_months.customer_id, months_with_data.month_start_date

)

select * from final
