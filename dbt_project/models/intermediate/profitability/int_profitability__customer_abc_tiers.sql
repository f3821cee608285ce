{#- ABC (Pareto) tier per customer and trailing window, the one place the tier rule lives.
    Only customers with a positive ranking metric are ranked here: everyone else is tier C in
    every window and is added by the marts. Because positive customers rank first and shares are
    taken of the positive total, leaving the others out changes no tier. -#}
{%- set metric = profitability_ranking_metric() %}

with customer_windows as (

    select * from {{ ref('int_profitability__customer_windows') }}

),

positive_values as (

    select
        window_end_date,
        customer_id,
        {{ metric }} as ranking_value
    from customer_windows
    where {{ metric }} > 0

),

running_values as (

    select
        window_end_date,
        customer_id,
        ranking_value,
        -- ties broken by customer_id so that reruns give the same ranks and tiers
        row_number() over (
            partition by window_end_date
            order by ranking_value desc, customer_id asc
        ) as positive_rank,
        sum(ranking_value) over (
            partition by window_end_date
            order by ranking_value desc, customer_id asc
            rows between unbounded preceding and current row
        ) as running_value,
        sum(ranking_value) over (partition by window_end_date) as positive_total
    from positive_values

),

final as (

    select
        window_end_date,
        customer_id,
        ranking_value,
        positive_rank,
        -- engines_divide: Spark's own decimal quotient keeps only 6 decimals here, too few for
        -- shares that must add up to 1
        cast(
            {{ engines_divide('ranking_value', 'positive_total') }} as decimal(20, 12)
        ) as revenue_share,
        cast(
            {{ engines_divide('running_value', 'positive_total') }} as decimal(20, 12)
        ) as cumulative_share,
        -- a customer keeps the tier the running total stood in before it was added: the tier
        -- holds its cut-off share of the metric plus, at most, its last customer's share
        case
            when running_value - ranking_value < {{ var('abc_a_cutoff') }} * positive_total then 'A'
            when running_value - ranking_value < {{ var('abc_b_cutoff') }} * positive_total then 'B'
            else 'C'
        end as abc_tier
    from running_values

)

select * from final
