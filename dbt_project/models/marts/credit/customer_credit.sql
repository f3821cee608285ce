{#- Credit standing of every customer at the as-of date: the inputs of the grade, the score, the
    reasons it is not higher, the credit limit that follows from it and how much of it is used. -#}
with customers as (

    select * from {{ ref('stg_erp__customers') }}

),

score_factors as (

    select * from {{ ref('int_credit__score_factors') }}

),

financial_ratios as (

    select * from {{ ref('int_credit__financial_ratios') }}

),

payment_behaviour as (

    select * from {{ ref('int_credit__payment_behaviour') }}

),

sales_signals as (

    select * from {{ ref('int_credit__sales_signals') }}

),

open_items as (

    select * from {{ ref('ar_open_items') }}

),

scores as (

    select
        customer_id,
        round(cast(sum(points) as {{ dbt.type_numeric() }}), 1) as credit_score
    from score_factors
    group by customer_id

),

ranked_losses as (

    select
        customer_id,
        reason_code,
        row_number() over (
            partition by customer_id order by lost_points desc, factor asc
        ) as loss_rank
    from score_factors
    -- a rounding crumb is not a reason
    where lost_points > 0.005

),

reasons as (

    select
        customer_id,
        {{ dbt.listagg('reason_code', "', '", 'order by loss_rank') }} as reason_codes
    from ranked_losses
    where loss_rank <= {{ var('credit_reason_code_count') }}
    group by customer_id

),

open_ar as (

    select
        customer_id,
        sum(open_amount) as open_ar
    from open_items
    group by customer_id

),

graded as (

    select
        scores.customer_id,
        scores.credit_score,
        {{ credit_grade('scores.credit_score') }} as credit_grade,
        reasons.reason_codes
    from scores
    left join reasons on scores.customer_id = reasons.customer_id

),

limits as (

    select
        graded.customer_id,
        graded.credit_score,
        graded.credit_grade,
        graded.reason_codes,
        case
            when financial_ratios.customer_id is not null then 'working_capital'
            else 'sales'
        end as limit_basis,
        case
            when financial_ratios.customer_id is not null
                then
                    case
                        when financial_ratios.working_capital > 0
                            then
                                financial_ratios.working_capital
                                * {{ credit_by_grade(
                            'graded.credit_grade', 'credit_limit_working_capital_share') }}
                        else 0
                    end
            when sales_signals.avg_monthly_sales_12m > 0
                then
                    sales_signals.avg_monthly_sales_12m
                    * (
                        coalesce(customers.payment_terms_days, 30)
                        + {{ var('credit_limit_sales_extra_days') }}
                    )
                    / 30.0
                    * {{ credit_by_grade(
                        'graded.credit_grade', 'credit_limit_sales_grade_factor') }}
            else 0
        end as credit_limit
    from graded
    left join financial_ratios on graded.customer_id = financial_ratios.customer_id
    left join sales_signals on graded.customer_id = sales_signals.customer_id
    left join customers on graded.customer_id = customers.customer_id

),

final as (

    select
        limits.customer_id,
        financial_ratios.statement_period_end_date,
        financial_ratios.current_ratio,
        financial_ratios.cash_ratio,
        financial_ratios.debt_ratio,
        financial_ratios.interest_coverage,
        financial_ratios.working_capital,
        financial_ratios.net_assets,
        payment_behaviour.collection_rate_12m,
        payment_behaviour.avg_days_late_12m,
        payment_behaviour.late_invoice_share_12m,
        payment_behaviour.disputes_12m,
        payment_behaviour.max_days_past_due,
        sales_signals.sales_trend,
        payment_behaviour.dispute_trend,
        payment_behaviour.lateness_trend,
        limits.credit_score,
        limits.credit_grade,
        limits.reason_codes,
        cast(limits.credit_limit as decimal(18, 4)) as credit_limit,
        limits.limit_basis,
        coalesce(open_ar.open_ar, 0) as open_ar,
        case
            when limits.credit_limit > 0
                then {{ engines_divide('coalesce(open_ar.open_ar, 0)', 'limits.credit_limit') }}
        end as utilization,
        -- a zero limit means cash only: any open claim is over the limit
        coalesce(open_ar.open_ar, 0) > limits.credit_limit as is_over_limit
    from limits
    left join financial_ratios on limits.customer_id = financial_ratios.customer_id
    left join payment_behaviour on limits.customer_id = payment_behaviour.customer_id
    left join sales_signals on limits.customer_id = sales_signals.customer_id
    left join open_ar on limits.customer_id = open_ar.customer_id

)

select * from final
