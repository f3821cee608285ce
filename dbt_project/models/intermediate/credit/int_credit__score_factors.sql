{#- The credit score taken apart: one row per customer and factor with the factor's value, its
    weight and the points it earned (piecewise linear between the var thresholds). Missing inputs
    (no statement, no invoice due, no earlier sales) earn the neutral share of the weight, so a
    customer without a financial statement is neither rewarded nor punished for it. -#}
with customers as (

    select * from {{ ref('stg_erp__customers') }}

),

invoices as (

    select * from {{ ref('int_receivables__invoices') }}

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

customer_ids as (

    select customer_id from customers
    where acquired_date is null or acquired_date <= {{ as_of_date() }}
    union
    select customer_id from invoices

),

{%- set thresholds = var('credit_score_thresholds') %}

factor_values as (

    select
        customer_ids.customer_id,
        financial_ratios.current_ratio,
        financial_ratios.debt_ratio,
        -- no interest to pay: full marks when profitable, none when loss-making
        case
            when financial_ratios.interest_expense = 0 and financial_ratios.ebit >= 0
                then {{ thresholds['interest_coverage']['full'] }}
            when financial_ratios.interest_expense = 0
                then {{ thresholds['interest_coverage']['zero'] }}
            else financial_ratios.interest_coverage
        end as interest_coverage,
        payment_behaviour.collection_rate_12m as collection_rate,
        payment_behaviour.avg_days_late_12m as avg_days_late,
        payment_behaviour.late_invoice_share_12m as late_invoice_share,
        payment_behaviour.disputes_12m as disputes,
        payment_behaviour.max_days_past_due,
        sales_signals.sales_trend,
        payment_behaviour.dispute_trend,
        payment_behaviour.lateness_trend
    from customer_ids
    left join financial_ratios on customer_ids.customer_id = financial_ratios.customer_id
    left join payment_behaviour on customer_ids.customer_id = payment_behaviour.customer_id
    left join sales_signals on customer_ids.customer_id = sales_signals.customer_id

),

factors as (

    {% for factor, weight in var('credit_score_weights').items() %}
        select
            customer_id,
            '{{ factor }}' as factor,
            cast({{ factor }} as {{ dbt.type_float() }}) as factor_value,
            {{ weight }} as weight,
            -- 4 decimals: enough for a 0-100 score, and stable across engines' float arithmetic
            round(
                cast({{ credit_factor_points(factor, factor) }} as {{ dbt.type_numeric() }}), 4
            ) as points
        from factor_values
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        customer_id,
        factor,
        factor_value,
        weight,
        points,
        weight - points as lost_points,
        factor_value is null as is_value_missing,
        -- a neutral score for missing data is a different reason than a weak value
        case
            when factor_value is null
                then {{ dbt.concat(['factor', "'_unknown'"]) }}
            else factor
        end as reason_code
    from factors

)

select * from final
