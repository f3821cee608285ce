{#- The whole receivables book per month end: the customer rows summed, and DSO recomputed on the
    totals (DSOs do not add up). Over-limit customers use the limits of the as-of run. -#}
{%- set buckets = credit_aging_bucket_names() %}

with receivables_monthly as (

    select * from {{ ref('receivables_monthly') }}

),

book as (

    select
        month as month_start_date,
        max(month_end) as month_end,
        max(case when is_partial_month then 1 else 0 end) = 1 as is_partial_month,
        min(case when is_closed then 1 else 0 end) = 1 as is_closed,
        count(*) as customers,
        sum(case when closing_ar <> 0 then 1 else 0 end) as customers_with_open_ar,
        sum(opening_ar) as opening_ar,
        sum(invoiced) as invoiced,
        sum(collected) as collected,
        sum(discounts) as discounts,
        sum(written_off) as written_off,
        sum(closing_ar) as closing_ar,
        {% for bucket in buckets -%}
            sum(ar_{{ bucket }}) as ar_{{ bucket }},
        {% endfor -%}
        sum(credit_sales) as credit_sales,
        sum(allowance) as allowance,
        sum(case when is_over_limit then 1 else 0 end) as over_limit_customers
    from receivables_monthly
    group by month

),

months as (

    select
        book.*,
        {{ credit_dso_month_days(dbt.datediff(
            'month_start_date',
            receivables_period_end('month_end'),
            'day') ~ ' + 1') }} as dso_days,
        sum(book.credit_sales) over (
            order by book.month_start_date
            rows between unbounded preceding and current row
        ) as cumulative_sales
    from book

),

dso_periods as (

    select
        month_start_date,
        sum(credit_sales) over (
            order by month_start_date
            rows between {{ var('dso_period_months') - 1 }} preceding and current row
        ) as period_credit_sales,
        sum(dso_days) over (
            order by month_start_date
            rows between {{ var('dso_period_months') - 1 }} preceding and current row
        ) as period_days
    from months

),

countback as (

    {{ credit_countback_dso('months', []) }}

),

final as (

    select
        months.month_start_date as month,
        months.month_end,
        months.is_partial_month,
        months.is_closed,
        months.customers,
        months.customers_with_open_ar,
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
        {{ receivables_dso(
            'months.closing_ar', 'dso_periods.period_credit_sales', 'dso_periods.period_days'
        ) }}
        - {{ receivables_dso(
            'months.ar_current', 'dso_periods.period_credit_sales', 'dso_periods.period_days'
        ) }} as average_days_delinquent,
        months.allowance,
        months.over_limit_customers
    from months
    inner join dso_periods on months.month_start_date = dso_periods.month_start_date
    inner join countback on months.month_start_date = countback.month_start_date

)

select * from final
