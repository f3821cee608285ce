{#- Finance's monthly receivables as computed from today's data: per customer and month end the
    roll-forward, aging, DSO, allowance and the credit standing of the as-of run. The mart
    receivables_monthly serves these values for open months and the frozen ones for closed
    months (int_receivables__frozen_months). -#}
{%- set buckets = credit_aging_bucket_names() %}

with customer_monthly as (

    select * from {{ ref('int_receivables__customer_monthly') }}

),

invoice_balances as (

    select * from {{ ref('int_receivables__invoice_month_end_balances') }}

),

movements as (

    select * from {{ ref('int_receivables__movements') }}

),

customer_credit as (

    select * from {{ ref('customer_credit') }}

),

credit_sales as (

    -- credit sales for DSO: invoices only; credit notes are not sales made on credit
    select
        customer_id,
        movement_month as month_start_date,
        sum(invoiced) as credit_sales
    from movements
    where
        movement_kind = 'invoice'
        and invoiced > 0
    group by customer_id, movement_month

),

aging as (

    select
        customer_id,
        month_start_date,
        {% for bucket in buckets -%}
            sum(case when aging_bucket = '{{ bucket }}' then open_amount else 0 end)
                as ar_{{ bucket }},
        {% endfor -%}
        sum({{ credit_allowance('open_amount', 'aging_bucket') }}) as allowance
    from invoice_balances
    group by customer_id, month_start_date

),

months as (

    select
        customer_monthly.customer_id,
        customer_monthly.month_start_date,
        customer_monthly.month_end_date,
        customer_monthly.opening_ar,
        customer_monthly.invoiced,
        customer_monthly.collected,
        customer_monthly.discounts,
        customer_monthly.written_off,
        customer_monthly.closing_ar,
        customer_monthly.days_in_period,
        {% for bucket in buckets -%}
            coalesce(aging.ar_{{ bucket }}, 0) as ar_{{ bucket }},
        {% endfor -%}
        coalesce(aging.allowance, 0) as allowance,
        coalesce(credit_sales.credit_sales, 0) as credit_sales,
        {{ credit_dso_month_days('customer_monthly.days_in_period') }} as dso_days,
        sum(coalesce(credit_sales.credit_sales, 0)) over (
            partition by customer_monthly.customer_id
            order by customer_monthly.month_start_date
            rows between unbounded preceding and current row
        ) as cumulative_sales
    from customer_monthly
    left join aging
        on
            customer_monthly.customer_id = aging.customer_id
            and customer_monthly.month_start_date = aging.month_start_date
    left join credit_sales
        on
            customer_monthly.customer_id = credit_sales.customer_id
            and customer_monthly.month_start_date = credit_sales.month_start_date

),

dso_periods as (

    -- the month spine has no gaps, so N rows back are the N-1 months before
    select
        customer_id,
        month_start_date,
        sum(credit_sales) over (
            partition by customer_id
            order by month_start_date
            rows between {{ var('dso_period_months') - 1 }} preceding and current row
        ) as period_credit_sales,
        sum(dso_days) over (
            partition by customer_id
            order by month_start_date
            rows between {{ var('dso_period_months') - 1 }} preceding and current row
        ) as period_days
    from months

),

countback as (

    {{ credit_countback_dso('months', ['customer_id']) }}

),

final as (

    select
        months.customer_id,
        months.month_start_date as month,
        months.month_end_date as month_end,
        months.month_end_date > {{ as_of_date() }} as is_partial_month,
        months.opening_ar,
        months.invoiced,
        months.collected,
        months.discounts,
        months.written_off,
        months.closing_ar,
        {% for bucket in buckets -%}
            months.ar_{{ bucket }},
        {% endfor -%}
        months.credit_sales,
        dso_periods.period_credit_sales,
        dso_periods.period_days,
        {{ receivables_dso(
            'months.closing_ar', 'dso_periods.period_credit_sales', 'dso_periods.period_days'
        ) }} as dso_simple,
        round(cast(countback.dso_countback as {{ dbt.type_numeric() }}), 2) as dso_countback,
        {{ receivables_dso(
            'months.ar_current', 'dso_periods.period_credit_sales', 'dso_periods.period_days'
        ) }} as best_possible_dso,
        months.allowance,
        customer_credit.credit_limit,
        case
            when customer_credit.credit_limit > 0
                then {{ engines_divide('months.closing_ar', 'customer_credit.credit_limit') }}
        end as utilization,
        months.closing_ar > coalesce(customer_credit.credit_limit, 0) as is_over_limit,
        customer_credit.credit_grade,
        cast({{ dbt.dateadd(
            'day', var('receivables_close_lag_days'), 'months.month_end_date') }} as date)
        < {{ as_of_date() }} as is_closed
    from months
    inner join dso_periods
        on
            months.customer_id = dso_periods.customer_id
            and months.month_start_date = dso_periods.month_start_date
    inner join countback
        on
            months.customer_id = countback.customer_id
            and months.month_start_date = countback.month_start_date
    left join customer_credit on months.customer_id = customer_credit.customer_id

)

select * from final
