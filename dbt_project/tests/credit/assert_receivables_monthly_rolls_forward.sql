{#- Roll-forward: opening + invoiced - collected - discounts - written off = closing, for every
    customer and month (returns the rows where it does not hold to the cent). -#}
select
    customer_id,
    month_end,
    opening_ar,
    invoiced,
    collected,
    discounts,
    written_off,
    closing_ar
from {{ ref('receivables_monthly') }}
where abs(opening_ar + invoiced - collected - discounts - written_off - closing_ar) > 0.005
