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

repurchase_window_offsets as (

    {{ dbt.generate_series(12) }}

),

trailing_orders as (

    -- an activity month lies in the repurchase windows of itself and of the 11 months after
    -- it: each activity row is spread over 12 month keys once, instead of joining every
    -- reported month to its 12-month range of activity rows with all their measures
    select
        activity_months.customer_id,
        cast(
            {{ dbt.dateadd(
                'month',
                'repurchase_window_offsets.generated_number - 1',
                'activity_months.activity_month'
            ) }} as date
        ) as month_start_date,
        sum(activity_months.orders) as orders_trailing_12m
    from activity_months
    cross join repurchase_window_offsets
    group by
        activity_months.customer_id,
        {{ dbt.dateadd(
            'month',
            'repurchase_window_offsets.generated_number - 1',
            'activity_months.activity_month'
        ) }}

),

final as (

    select
        trailing_orders.customer_id,
        trailing_orders.month_start_date,
        coalesce(activity_months.orders, 0) as orders,
        coalesce(activity_months.responses, 0) as responses,
        coalesce(activity_months.csat_responses, 0) as csat_responses,
        coalesce(activity_months.csat_index_sum, 0) as csat_index_sum,
        coalesce(activity_months.overall_responses, 0) as overall_responses,
        coalesce(activity_months.top_box_responses, 0) as top_box_responses,
        coalesce(activity_months.nps_responses, 0) as nps_responses,
        coalesce(activity_months.promoters, 0) as promoters,
        coalesce(activity_months.passives, 0) as passives,
        coalesce(activity_months.detractors, 0) as detractors,
        coalesce(activity_months.complaints, 0) as complaints,
        coalesce(activity_months.valid_complaints, 0) as valid_complaints,
        trailing_orders.orders_trailing_12m
    from trailing_orders
    inner join months_with_data
        on trailing_orders.month_start_date = months_with_data.month_start_date
    left join activity_months
        on
            trailing_orders.customer_id = activity_months.customer_id
            and trailing_orders.month_start_date = activity_months.activity_month

)

select * from final
