{#- Invoices and credit notes dated on or before the as-of date: the one filtered invoice list
    every receivables and credit model starts from. -#}
with invoices as (

    select * from {{ ref('stg_billing__invoices') }}

),

final as (

    select
        invoice_id,
        customer_id,
        invoice_date,
        due_date,
        invoice_amount,
        cash_discount_pct,
        cash_discount_days,
        coalesce(is_disputed, false) as is_disputed,
        invoice_amount < 0 as is_credit_note
    from invoices
    where invoice_date <= {{ as_of_date() }}

)

select * from final
