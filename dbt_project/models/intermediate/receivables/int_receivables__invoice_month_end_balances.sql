{#- Open balance of every invoice at every month end it is open, aged at that month end. Each
    invoice spans only its months from first movement to the month its balance last changed (or
    to the as-of month while it is still open), so the cost grows with invoices x months open. -#}
with movements as (

    select * from {{ ref('int_receivables__movements') }}

),

invoices as (

    select * from {{ ref('int_receivables__invoices') }}

),

integer_series as (

    {{ receivables_integer_series(4) }}

),

invoice_month_changes as (

    select
        invoice_id,
        movement_month as month_start_date,
        sum(ar_change) as ar_change
    from movements
    group by invoice_id, movement_month

),

invoice_spans as (

    select
        invoice_id,
        min(month_start_date) as first_month_start_date,
        case
            when sum(ar_change) = 0 then max(month_start_date)
            else cast({{ dbt.date_trunc('month', as_of_date()) }} as date)
        end as last_month_start_date
    from invoice_month_changes
    group by invoice_id

),

invoice_months as (

    select
        invoice_spans.invoice_id,
        cast({{ dbt.dateadd(
            'month', 'integer_series.n', 'invoice_spans.first_month_start_date') }} as date)
            as month_start_date
    from invoice_spans
    inner join integer_series
        on integer_series.n <= {{ dbt.datediff(
            'invoice_spans.first_month_start_date',
            'invoice_spans.last_month_start_date',
            'month') }}

),

balances as (

    select
        invoice_months.invoice_id,
        invoice_months.month_start_date,
        sum(coalesce(invoice_month_changes.ar_change, 0)) over (
            partition by invoice_months.invoice_id
            order by invoice_months.month_start_date
            rows between unbounded preceding and current row
        ) as open_amount
    from invoice_months
    left join invoice_month_changes
        on
            invoice_months.invoice_id = invoice_month_changes.invoice_id
            and invoice_months.month_start_date = invoice_month_changes.month_start_date

),

aged as (

    select
        balances.invoice_id,
        invoices.customer_id,
        balances.month_start_date,
        cast({{ dbt.last_day('balances.month_start_date', 'month') }} as date) as month_end_date,
        invoices.due_date,
        balances.open_amount
    from balances
    inner join invoices on balances.invoice_id = invoices.invoice_id
    where balances.open_amount <> 0

),

days_after_due as (

    select
        aged.*,
        -- the partial as-of month is aged at the as-of date, not at its calendar end
        {{ dbt.datediff('due_date', receivables_period_end('month_end_date'), 'day') }}
            as days_after_due
    from aged

),

final as (

    select
        invoice_id,
        customer_id,
        month_start_date,
        month_end_date,
        due_date,
        open_amount,
        {{ credit_open_item_days_past_due('open_amount', 'days_after_due') }} as days_past_due,
        {{ credit_open_item_bucket('open_amount', 'days_after_due') }} as aging_bucket
    from days_after_due

)

select * from final
