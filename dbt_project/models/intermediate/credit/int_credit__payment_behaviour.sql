{#- How each customer has paid: the character part of the credit grade. Windows end at the as-of
    date D: behaviour over (D - behaviour window, D], trends compare (D - trend window, D] with the
    trend window before it. Only invoices (positive amounts) count; credit notes are not debts. -#}
with invoices as (

    select * from {{ ref('int_receivables__invoices') }}

),

movements as (

    select * from {{ ref('int_receivables__movements') }}

),

windows as (

    select
        cast({{ dbt.dateadd(
            'month', -1 * var('credit_behaviour_window_months'), as_of_date()) }} as date)
            as behaviour_start_date,
        cast({{ dbt.dateadd(
            'month', -1 * var('credit_trend_window_months'), as_of_date()) }} as date)
            as recent_start_date,
        cast({{ dbt.dateadd(
            'month', -2 * var('credit_trend_window_months'), as_of_date()) }} as date)
            as previous_start_date

),

debts as (

    select
        invoices.invoice_id,
        invoices.customer_id,
        invoices.invoice_date,
        invoices.due_date,
        invoices.invoice_amount,
        invoices.is_disputed,
        invoices.invoice_date > windows.behaviour_start_date as is_dated_in_behaviour_window,
        invoices.invoice_date > windows.recent_start_date as is_dated_in_recent_window,
        (
            invoices.invoice_date > windows.previous_start_date
            and invoices.invoice_date <= windows.recent_start_date
        ) as is_dated_in_previous_window,
        (
            invoices.due_date > windows.behaviour_start_date
            and invoices.due_date <= {{ as_of_date() }}
        ) as is_due_in_behaviour_window
    from invoices
    cross join windows
    where invoices.invoice_amount > 0

),

settlements as (

    select
        movements.invoice_id,
        movements.customer_id,
        movements.movement_date,
        movements.collected,
        movements.discounts,
        movements.written_off,
        movements.movement_date > windows.behaviour_start_date as is_in_behaviour_window,
        movements.movement_date > windows.recent_start_date as is_in_recent_window,
        (
            movements.movement_date > windows.previous_start_date
            and movements.movement_date <= windows.recent_start_date
        ) as is_in_previous_window,
        {{ dbt.datediff('debts.due_date', 'movements.movement_date', 'day') }}
            as days_after_due
    from movements
    inner join debts on movements.invoice_id = debts.invoice_id
    cross join windows
    where movements.movement_kind <> 'invoice'

),

invoice_settlement as (

    select
        invoice_id,
        sum(collected + discounts) as paid_amount,
        sum(collected + discounts + written_off) as settled_amount,
        max(movement_date) as last_settlement_date
    from settlements
    group by invoice_id

),

debt_status as (

    select
        debts.*,
        coalesce(invoice_settlement.paid_amount, 0) as paid_amount,
        debts.invoice_amount
        - coalesce(invoice_settlement.settled_amount, 0) as open_amount,
        {{ dbt.datediff('debts.due_date', as_of_date(), 'day') }} as days_after_due_at_as_of,  -- noqa: LT05
        -- late: (partly) settled after the due date, or still open past it
        coalesce(
            invoice_settlement.last_settlement_date > debts.due_date,
            false
        )
        or (
            debts.invoice_amount - coalesce(invoice_settlement.settled_amount, 0) > 0
            and debts.due_date < {{ as_of_date() }}
        ) as is_late
    from debts
    left join invoice_settlement on debts.invoice_id = invoice_settlement.invoice_id

),

due_summary as (

    select
        customer_id,
        sum(invoice_amount) as amount_due_12m,
        sum(paid_amount) as paid_on_due_12m,
        count(*) as invoices_due_12m,
        sum(case when is_late then 1 else 0 end) as late_invoices_12m
    from debt_status
    where is_due_in_behaviour_window
    group by customer_id

),

payments as (

    -- early payments count as 0 days late
    select
        customer_id,
        collected,
        is_in_behaviour_window,
        is_in_recent_window,
        is_in_previous_window,
        collected * case when days_after_due > 0 then days_after_due else 0 end as amount_days_late
    from settlements
    where collected > 0

),

lateness as (

    select
        customer_id,
        sum(case when is_in_behaviour_window then collected end) as paid_12m,
        sum(case when is_in_behaviour_window then amount_days_late end) as paid_days_late_12m,
        sum(case when is_in_recent_window then collected end) as paid_recent,
        sum(case when is_in_recent_window then amount_days_late end) as paid_days_late_recent,
        sum(case when is_in_previous_window then collected end) as paid_previous,
        sum(case when is_in_previous_window then amount_days_late end) as paid_days_late_previous
    from payments
    group by customer_id

),

customer_debts as (

    select
        customer_id,
        sum(case when is_dated_in_behaviour_window then 1 else 0 end) as invoices_12m,
        sum(
            case when is_dated_in_behaviour_window and is_disputed then 1 else 0 end
        ) as disputes_12m,
        sum(case when is_dated_in_recent_window then 1 else 0 end) as invoices_recent,
        sum(
            case when is_dated_in_recent_window and is_disputed then 1 else 0 end
        ) as disputes_recent,
        sum(case when is_dated_in_previous_window then 1 else 0 end) as invoices_previous,
        sum(
            case when is_dated_in_previous_window and is_disputed then 1 else 0 end
        ) as disputes_previous,
        max(case when open_amount > 0 then days_after_due_at_as_of end) as max_days_after_due
    from debt_status
    group by customer_id

),

final as (

    select
        customer_debts.customer_id,
        due_summary.amount_due_12m,
        case
            when due_summary.amount_due_12m > 0
                then {{ engines_divide(
                    'due_summary.paid_on_due_12m', 'due_summary.amount_due_12m') }}
        end as collection_rate_12m,
        case
            when lateness.paid_12m > 0
                then {{ engines_divide('lateness.paid_days_late_12m', 'lateness.paid_12m') }}
        end as avg_days_late_12m,
        case
            when due_summary.invoices_due_12m > 0
                then
                    cast(due_summary.late_invoices_12m as {{ dbt.type_float() }})
                    / due_summary.invoices_due_12m
        end as late_invoice_share_12m,
        -- no invoice in the window: no evidence either way (scored neutrally)
        case
            when customer_debts.invoices_12m > 0 then customer_debts.disputes_12m
        end as disputes_12m,
        case
            when customer_debts.max_days_after_due > 0 then customer_debts.max_days_after_due
            else 0
        end as max_days_past_due,
        case
            when customer_debts.invoices_recent + customer_debts.invoices_previous > 0
                then customer_debts.disputes_recent - customer_debts.disputes_previous
        end as dispute_trend,
        case
            when lateness.paid_recent > 0 and lateness.paid_previous > 0
                then
                    {{ engines_divide('lateness.paid_days_late_recent', 'lateness.paid_recent') }}
                    - {{ engines_divide(
                        'lateness.paid_days_late_previous', 'lateness.paid_previous') }}
        end as lateness_trend
    from customer_debts
    left join due_summary on customer_debts.customer_id = due_summary.customer_id
    left join lateness on customer_debts.customer_id = lateness.customer_id

)

select * from final
