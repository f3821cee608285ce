{#- A select of the integers 0 .. 10^digits - 1 in one column `n`, built from cross-joined
    digits so it runs on every engine (no generate_series, no recursive CTE): the month spines of
    the receivables models are cut from it. -#}
{% macro receivables_integer_series(digits=4) -%}
    {%- set aliases = [] -%}
    select
        {% for i in range(digits) -%}
        d{{ i }}.digit * {{ 10 ** i }}{{ ' +' if not loop.last }}
        {% endfor -%} as n
    from
        {% for i in range(digits) -%}
        (
            select 0 as digit union all select 1 union all select 2 union all select 3
            union all select 4 union all select 5 union all select 6 union all select 7
            union all select 8 union all select 9
        ) as d{{ i }}{{ ',' if not loop.last }}
        {% endfor %}
{%- endmacro %}

{#- The last day a period counts: the calendar month end, or the as-of date for the partial
    month that contains it (plain case expression, as least() is not portable with nulls). -#}
{% macro receivables_period_end(month_end_column) -%}
    case
        when {{ month_end_column }} > {{ as_of_date() }} then {{ as_of_date() }}
        else {{ month_end_column }}
    end
{%- endmacro %}

{#- The money columns of a receivables month that are frozen once the month is closed and
    compared for restatements: the roll-forward, the aging and the allowance. -#}
{% macro receivables_restatable_columns() -%}
    {%- set columns = ['opening_ar', 'invoiced', 'collected', 'discounts', 'written_off',
                       'closing_ar'] -%}
    {%- for bucket in credit_aging_bucket_names() -%}
        {%- do columns.append('ar_' ~ bucket) -%}
    {%- endfor -%}
    {%- do columns.append('allowance') -%}
    {{ return(columns) }}
{%- endmacro %}

{#- Months to freeze again with today's values: the reopen_months var ("YYYY-MM" strings), set
    by `customer-warehouse reopen --month YYYY-MM`, as first-of-month date literals. -#}
{% macro receivables_reopened_months() -%}
    {%- set months = var('reopen_months', []) -%}
    {%- if months | length == 0 -%}
        cast(null as date)
    {%- else -%}
        {%- for month in months -%}
            cast('{{ month }}-01' as date){{ ', ' if not loop.last }}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
