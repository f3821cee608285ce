{#- Open items at the as-of date: what each customer still owes per invoice, aged, with the date
    the claim becomes time-barred. Settlements count only when dated on or before the as-of date
    (already enforced by int_receivables__movements; repeated here so the mart is correct on its
    own). -#}
with invoices as (

    select * from {{ ref('int_receivables__invoices') }}

),

movements as (

    select * from {{ ref('int_receivables__movements') }}

),

settlements as (

    select
        invoice_id,
        sum(collected + discounts + written_off) as paid_amount
    from movements
    where
        movement_kind <> 'invoice'
        and movement_date <= {{ as_of_date() }}
    group by invoice_id

),

balances as (

    select
        invoices.invoice_id,
        invoices.customer_id,
        invoices.invoice_date,
        invoices.due_date,
        invoices.invoice_amount as amount,
        coalesce(settlements.paid_amount, 0) as paid_amount,
        invoices.invoice_amount - coalesce(settlements.paid_amount, 0) as open_amount,
        {{ dbt.datediff('invoices.due_date', as_of_date(), 'day') }} as days_after_due,  -- noqa: LT05
        invoices.is_disputed,
        cast({{ dbt.dateadd('year', var('limitation_period_years'), 'invoices.due_date') }} as date)
            as limitation_date
    from invoices
    left join settlements on invoices.invoice_id = settlements.invoice_id

),

final as (

    select
        invoice_id,
        customer_id,
        invoice_date,
        due_date,
        amount,
        paid_amount,
        open_amount,
        {{ credit_open_item_days_past_due('open_amount', 'days_after_due') }} as days_past_due,
        {{ credit_open_item_bucket('open_amount', 'days_after_due') }} as aging_bucket,
        is_disputed,
        limitation_date,
        -- only a claim (positive balance) can be lost; the watch starts a warning window early
        coalesce(
            open_amount > 0
            and {{ as_of_date() }} >= cast({{ dbt.dateadd(
                'day', -1 * var('limitation_warning_days'), 'limitation_date') }} as date),
            false
        ) as is_limitation_risk
    from balances
    where open_amount <> 0

)

select * from final
