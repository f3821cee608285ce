{#- The aging buckets of a customer-month add up to its closing AR. -#}
select
    customer_id,
    month_end,
    closing_ar,
    {% for bucket in credit_aging_bucket_names() -%}
        ar_{{ bucket }}{{ ' + ' if not loop.last }}
    {%- endfor %} as bucket_total
from {{ ref('receivables_monthly') }}
where abs(
    closing_ar
    {% for bucket in credit_aging_bucket_names() -%}
        - ar_{{ bucket }}
    {% endfor -%}
) > 0.005
