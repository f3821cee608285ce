{#- Every movement of receivables dated on or before the as-of date, one row per invoice or
    settlement (payment / write-off, with its cash discount). Settlements are attributed to the
    customer of their invoice so that customer totals and invoice balances always reconcile;
    settlements of invoices dated after the as-of date are left out for the same reason. -#}
with invoices as (

    select * from {{ ref('int_receivables__invoices') }}

),

payments as (

    select * from {{ ref('stg_billing__payments') }}

),

invoice_movements as (

    select
        invoice_id as movement_id,
        invoice_id,
        customer_id,
        invoice_date as movement_date,
        'invoice' as movement_kind,
        invoice_amount as invoiced,
        cast(0 as decimal(18, 4)) as collected,
        cast(0 as decimal(18, 4)) as discounts,
        cast(0 as decimal(18, 4)) as written_off
    from invoices

),

settlement_movements as (

    select
        payments.payment_id as movement_id,
        payments.invoice_id,
        invoices.customer_id,
        payments.payment_date as movement_date,
        coalesce(payments.payment_kind, 'payment') as movement_kind,
        cast(0 as decimal(18, 4)) as invoiced,
        case
            when coalesce(payments.payment_kind, 'payment') = 'payment'
                then payments.payment_amount
            else cast(0 as decimal(18, 4))
        end as collected,
        coalesce(payments.discount_taken, cast(0 as decimal(18, 4))) as discounts,
        case
            when payments.payment_kind = 'write_off' then payments.payment_amount
            else cast(0 as decimal(18, 4))
        end as written_off
    from payments
    inner join invoices on payments.invoice_id = invoices.invoice_id
    where payments.payment_date <= {{ as_of_date() }}

),

unioned as (

    select * from invoice_movements
    union all
    select * from settlement_movements

),

final as (

    select
        movement_id,
        invoice_id,
        customer_id,
        movement_date,
        cast({{ dbt.date_trunc('month', 'movement_date') }} as date) as movement_month,
        movement_kind,
        invoiced,
        collected,
        discounts,
        written_off,
        invoiced - collected - discounts - written_off as ar_change
    from unioned

)

select * from final
