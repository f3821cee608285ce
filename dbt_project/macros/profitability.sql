{#- Helpers of the profitability and ABC models (models/intermediate/profitability,
    models/marts/profitability). -#}

{#- Day of the month of the as-of date (1-31), as a SQL expression. Every trailing window in this
    area ends at the as-of date shifted by whole months, so all of them start and end on this
    day of the month (or on the month end, for shorter months). -#}
{% macro profitability_as_of_day_of_month() -%}
    ({{ dbt.datediff(dbt.date_trunc('month', as_of_date()), as_of_date(), 'day') }} + 1)
{%- endmacro %}

{#- First day of the "month part" holding date_column. Each calendar month is split after the
    as-of day of month: days up to that day form the first part (which starts on the 1st), the
    remaining days the second part. Trailing windows ending at the as-of date, one month before
    it or one year before it then consist of whole parts, so they are sums of part rows. -#}
{% macro profitability_part_start_date(date_column) -%}
    case
        when {{ dbt.datediff(dbt.date_trunc('month', date_column), date_column, 'day') }} + 1
            <= {{ profitability_as_of_day_of_month() }}
            then cast({{ dbt.date_trunc('month', date_column) }} as date)
        else cast({{ dbt.dateadd(
            'day', profitability_as_of_day_of_month(), dbt.date_trunc('month', date_column)) }} as date)
    end
{%- endmacro %}

{#- The trailing-12-month ranking metric chosen by var abc_ranking_metric, validated, as the
    column name it has in the profitability models. -#}
{% macro profitability_ranking_metric() -%}
    {%- set metric = var('abc_ranking_metric', 'net_revenue') -%}
    {%- set allowed = ['net_revenue', 'gross_margin', 'net_contribution'] -%}
    {%- if metric not in allowed -%}
        {{ exceptions.raise_compiler_error(
            "var abc_ranking_metric must be one of " ~ allowed | join(', ') ~ ", got '" ~ metric ~ "'") }}
    {%- endif -%}
    {{- return(metric) -}}
{%- endmacro %}

{#- A SQL list literal of the tiers in a list var, e.g. ('A', 'B'). -#}
{% macro profitability_tier_list(var_name, default) -%}
    {%- set tiers = var(var_name, default) -%}
    {%- if tiers is string -%}{%- set tiers = [tiers] -%}{%- endif -%}
    ({%- for tier in tiers -%}'{{ tier }}'{%- if not loop.last -%}, {% endif -%}{%- endfor -%})
{%- endmacro %}

{#- Incremental strategy of int_sales__order_lines, per adapter: delete+insert of the rebuilt
    order months (DuckDB, Postgres); Spark tables in plain Parquet overwrite the partitions of the
    rebuilt months instead, which needs the table partitioned by order month. -#}
{% macro sales_order_lines_incremental_strategy() -%}
    {{ return(adapter.dispatch('sales_order_lines_incremental_strategy')()) }}
{%- endmacro %}

{% macro default__sales_order_lines_incremental_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__sales_order_lines_incremental_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}

{% macro sales_order_lines_partition_by() -%}
    {{ return(adapter.dispatch('sales_order_lines_partition_by')()) }}
{%- endmacro %}

{% macro default__sales_order_lines_partition_by() -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spark__sales_order_lines_partition_by() -%}
    {{ return(['order_month']) }}
{%- endmacro %}

{#- Pre-hook of int_sales__order_lines: months built earlier that have no order line to date any
    more (the as-of date moved back, or their lines were withdrawn) are deleted, which
    delete+insert of the changed months cannot do. -#}
{% macro sales_order_lines_remove_vanished_months() -%}
    {{ return(adapter.dispatch('sales_order_lines_remove_vanished_months')()) }}
{%- endmacro %}

{% macro sales_order_lines_months_to_date() -%}
    select distinct cast({{ dbt.date_trunc('month', 'order_date') }} as date)
    from {{ ref('stg_erp__sales_order_lines') }}
    where order_date <= {{ as_of_date() }}
{%- endmacro %}

{% macro default__sales_order_lines_remove_vanished_months() -%}
    {%- if execute and is_incremental() -%}
        delete from {{ this }}
        where order_month not in ({{ sales_order_lines_months_to_date() }})
    {%- endif -%}
{%- endmacro %}

{#- Plain Parquet tables on Spark cannot delete rows: stop with what to run instead of serving
    months that should be gone (refreshes through pipelines/engines.py always rebuild in full). -#}
{% macro spark__sales_order_lines_remove_vanished_months() -%}
    {%- if execute and is_incremental() -%}
        {%- set vanished = run_query(
            'select count(*) from (select distinct order_month from ' ~ this
            ~ ' where order_month not in (' ~ sales_order_lines_months_to_date() ~ ')) as months'
        ).columns[0].values()[0] -%}
        {%- if vanished > 0 -%}
            {{ exceptions.raise_compiler_error(
                this ~ ' holds ' ~ vanished ~ ' order month(s) with no order line to date any'
                ~ ' more; rebuild it with: dbt build --full-refresh --select int_sales__order_lines+'
            ) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
