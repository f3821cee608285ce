{#- One row per customer: the "one glance" card joining identity, value tier, profitability,
    credit and receivables, satisfaction and loyalty, with the recommended action and the rule
    that chose it (rule table in _customer__models.yml; the first rule that matches wins). -#}
with customers as (

    select * from {{ ref('stg_erp__customers') }}

),

customer_abc as (

    select * from {{ ref('customer_abc') }}

),

customer_profitability as (

    select * from {{ ref('customer_profitability') }}

),

customer_credit as (

    select * from {{ ref('customer_credit') }}

),

ar_open_items as (

    select * from {{ ref('ar_open_items') }}

),

customer_satisfaction as (

    select * from {{ ref('customer_satisfaction') }}

),

customer_loyalty as (

    select * from {{ ref('customer_loyalty') }}

),

-- the bucket of the most overdue item the customer owes; unapplied credits owe nothing
worst_open_items as (

    select
        customer_id,
        aging_bucket as worst_aging_bucket
    from (
        select
            customer_id,
            aging_bucket,
            row_number() over (
                partition by customer_id
                order by days_past_due desc, due_date asc, invoice_id asc
            ) as overdue_rank
        from ar_open_items
        where open_amount > 0
    ) as ranked_items
    where overdue_rank = 1

),

joined as (

    select
        customers.customer_id,
        customers.customer_name,
        customers.customer_type,
        customers.region,
        customers.sales_rep,
        customers.customer_status,
        customer_abc.abc_tier,
        customer_abc.pyramid_tier,
        customer_abc.is_key_account,
        customer_abc.tier_change,
        customer_abc.growth_class,
        customer_abc.loyalty_quadrant,
        customer_profitability.net_revenue as net_revenue_12m,
        customer_profitability.net_contribution as net_contribution_12m,
        customer_profitability.contribution_pct,
        customer_profitability.profitability_class,
        customer_credit.credit_grade,
        customer_credit.credit_limit,
        customer_credit.open_ar,
        customer_credit.utilization,
        customer_credit.is_over_limit,
        customer_credit.max_days_past_due,
        worst_open_items.worst_aging_bucket,
        customer_satisfaction.csat_index,
        customer_satisfaction.nps_category,
        customer_satisfaction.complaints_12m,
        customer_satisfaction.open_complaints,
        customer_satisfaction.is_hidden_dissatisfaction,
        customer_loyalty.rfm_segment,
        customer_loyalty.defection_risk,
        customer_loyalty.defection_reasons
    from customers
    left join customer_abc on customers.customer_id = customer_abc.customer_id
    left join customer_profitability
        on customers.customer_id = customer_profitability.customer_id
    left join customer_credit on customers.customer_id = customer_credit.customer_id
    left join worst_open_items on customers.customer_id = worst_open_items.customer_id
    left join customer_satisfaction
        on customers.customer_id = customer_satisfaction.customer_id
    left join customer_loyalty on customers.customer_id = customer_loyalty.customer_id

),

action_rules as (

    select
        *,
        case
            when
                is_over_limit
                and open_ar >= {{ var('card_collect_min_open_ar') }}
                then 'collect_over_limit'
            when
                max_days_past_due >= {{ var('card_collect_min_days_past_due') }}
                and open_ar >= {{ var('card_collect_min_open_ar') }}
                then 'collect_overdue'
            when
                {{ satisfaction_in_list('abc_tier', var('card_retire_abc_tiers')) }}
                and {{ satisfaction_in_list('profitability_class',
                                            var('card_retire_profitability_classes')) }}
                and {{ satisfaction_in_list('loyalty_quadrant',
                                            var('card_retire_loyalty_quadrants')) }}
                then 'retire_loss_weak'
            when
                {{ satisfaction_in_list('abc_tier', var('card_watch_abc_tiers')) }}
                and {{ satisfaction_in_list('defection_risk',
                                            var('card_watch_defection_risks')) }}
                then 'watch_defection_risk'
            when
                {{ satisfaction_in_list('abc_tier', var('card_watch_abc_tiers')) }}
                and is_hidden_dissatisfaction
                then 'watch_hidden_dissatisfaction'
            when {{ satisfaction_in_list('loyalty_quadrant',
                                         var('card_watch_loyalty_quadrants')) }}
                then 'watch_risky'
            when {{ satisfaction_in_list('abc_tier', var('card_cherish_abc_tiers')) }}
                then 'cherish_tier'
            when {{ satisfaction_in_list('loyalty_quadrant',
                                         var('card_cherish_loyalty_quadrants')) }}
                then 'cherish_star'
            when {{ satisfaction_in_list('loyalty_quadrant',
                                         var('card_grow_loyalty_quadrants')) }}
                then 'grow_rising'
            when {{ satisfaction_in_list('growth_class', var('card_grow_growth_classes')) }}
                then 'grow_growth'
            else 'grow_default'
        end as action_rule
    from joined

),

final as (

    select
        customer_id,
        customer_name,
        customer_type,
        region,
        sales_rep,
        customer_status,
        abc_tier,
        pyramid_tier,
        is_key_account,
        tier_change,
        growth_class,
        loyalty_quadrant,
        net_revenue_12m,
        net_contribution_12m,
        contribution_pct,
        profitability_class,
        credit_grade,
        credit_limit,
        open_ar,
        utilization,
        is_over_limit,
        max_days_past_due,
        worst_aging_bucket,
        csat_index,
        nps_category,
        complaints_12m,
        open_complaints,
        is_hidden_dissatisfaction,
        rfm_segment,
        defection_risk,
        defection_reasons,
        case
            when action_rule like 'collect%' then 'collect'
            when action_rule like 'retire%' then 'retire'
            when action_rule like 'watch%' then 'watch'
            when action_rule like 'cherish%' then 'cherish'
            else 'grow'
        end as recommended_action,
        action_rule
    from action_rules

)

select * from final
