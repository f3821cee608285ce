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

{#- Months to freeze again with today's values ("YYYY-MM" strings): the reopen_months var, else
    CW_REOPEN_MONTHS (comma-separated), which `customer-warehouse reopen --month YYYY-MM` sets.
    Like the as-of date, the environment is read only while executing (partial parsing). -#}
{% macro receivables_reopen_month_list() -%}
    {%- set from_environment = env_var('CW_REOPEN_MONTHS', '') if execute else '' -%}
    {{ return(var('reopen_months', []) or from_environment.split(',') | reject('equalto', '') | list) }}
{%- endmacro %}

{#- The months to freeze again, as first-of-month date literals (null when there are none). -#}
{% macro receivables_reopened_months() -%}
    {%- set months = receivables_reopen_month_list() -%}
    {%- if months | length == 0 -%}
        cast(null as date)
    {%- else -%}
        {%- for month in months -%}
            cast('{{ month }}-01' as date){{ ', ' if not loop.last }}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- Incremental strategy of int_receivables__frozen_months, per adapter: delete+insert where the
    adapter has it (DuckDB, Postgres); Spark tables in plain Parquet only append or overwrite, so
    Spark appends and receivables_unfreeze_reopened_months removes the reopened rows first. -#}
{% macro receivables_frozen_months_strategy() -%}
    {{ return(adapter.dispatch('receivables_frozen_months_strategy')()) }}
{%- endmacro %}

{% macro default__receivables_frozen_months_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__receivables_frozen_months_strategy() -%}
    {{ return('append') }}
{%- endmacro %}

{#- Pre-hook of int_receivables__frozen_months: what delete+insert deletes, for adapters that
    append instead. Frozen rows of a reopened month are removed when the month is frozen again
    with a row for the same customer (the unique key), so the append replaces exactly them. -#}
{% macro receivables_unfreeze_reopened_months() -%}
    {{ return(adapter.dispatch('receivables_unfreeze_reopened_months')()) }}
{%- endmacro %}

{% macro default__receivables_unfreeze_reopened_months() -%}
{%- endmacro %}

{% macro spark__receivables_unfreeze_reopened_months() -%}
    {%- if execute and is_incremental() and receivables_reopen_month_list() | length > 0 -%}
        {%- set kept = this.incorporate(path={'identifier': this.identifier ~ '__kept'}) -%}
        {%- do run_query('drop table if exists ' ~ kept) -%}
        {%- do run_query(
            'create table ' ~ kept ~ ' using parquet as select frozen.* from ' ~ this
            ~ ' as frozen left anti join (select customer_id, month from '
            ~ ref('int_receivables__monthly_computed')
            ~ ' where is_closed and month in (' ~ receivables_reopened_months() ~ ')) as reopened'
            ~ ' on frozen.customer_id = reopened.customer_id and frozen.month = reopened.month') -%}
        {%- do run_query('insert overwrite table ' ~ this ~ ' select * from ' ~ kept) -%}
        {%- do run_query('drop table ' ~ kept) -%}
    {%- endif -%}
{%- endmacro %}

{#- Days of sales outstanding: an AR amount over the credit sales of the DSO period, times the
    period's days, rounded to 0.01 day; null when the period had no credit sales. The one
    formula behind simple DSO (closing AR) and best-possible DSO (not-yet-due AR), for a customer
    and for the whole book. -#}
{% macro receivables_dso(ar, period_credit_sales, period_days) -%}
    case
        when {{ period_credit_sales }} > 0
            then round(cast(
                {{ engines_divide(ar, period_credit_sales) }} * {{ period_days }}
                as {{ dbt.type_numeric() }}
            ), 2)
    end
{%- endmacro %}
