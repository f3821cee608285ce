{#- Hooks of a refresh on another engine than DuckDB (pipelines/engines.py, docs/engines.md).
    DuckDB and Postgres need nothing here: the refresh copies the raw tables into Postgres itself.
    Spark reads Parquet files the refresh wrote into an exchange folder (CW_SPARK_EXCHANGE_URI):
    on-run-start registers them as tables, on-run-end writes what readers use back as Parquet.
    Without CW_SPARK_EXCHANGE_URI both hooks do nothing (raw tables already on the cluster). -#}

{#- on-run-start: register the inputs (CW_SPARK_INPUTS: external Parquet tables, e.g. raw.*),
    restore the carried-over state of incremental models (CW_SPARK_STATE: copied into managed
    tables) and drop state the published warehouse does not have (CW_SPARK_DROP). -#}
{% macro engines_register_inputs() -%}
    {{ return(adapter.dispatch('engines_register_inputs')()) }}
{%- endmacro %}

{% macro default__engines_register_inputs() -%}
{%- endmacro %}

{% macro spark__engines_register_inputs() -%}
    {%- set location = env_var('CW_SPARK_EXCHANGE_URI', '') -%}
    {%- if execute and location -%}
        {%- for relation in env_var('CW_SPARK_DROP', '').split(',') if relation -%}
            {%- set schema, name = relation.split('.') -%}
            {%- do run_query('drop table if exists ' ~ relation) -%}
            {%- do adapter.cache_dropped(
                api.Relation.create(schema=schema, identifier=name, type='table')) -%}
        {%- endfor -%}
        {%- set schemas = [] -%}
        {%- for kind in ['CW_SPARK_INPUTS', 'CW_SPARK_STATE'] -%}
            {%- for relation in env_var(kind, '').split(',') if relation -%}
                {%- set schema, name = relation.split('.') -%}
                {%- set files = location ~ '/in/' ~ schema ~ '/' ~ name -%}
                {%- if schema not in schemas -%}
                    {%- do run_query('create database if not exists ' ~ schema) -%}
                    {%- do schemas.append(schema) -%}
                {%- endif -%}
                {%- do run_query('drop table if exists ' ~ relation) -%}
                {%- if kind == 'CW_SPARK_INPUTS' -%}
                    {%- do run_query(
                        'create table ' ~ relation ~ " using parquet location '" ~ files ~ "'") -%}
                {%- else -%}
                    {%- do run_query(
                        'create table ' ~ relation ~ ' using parquet as select * from parquet.`'
                        ~ files ~ '`') -%}
                {%- endif -%}
                {#- dbt listed the relations before this hook ran: tell it about the table -#}
                {%- do adapter.cache_added(
                    api.Relation.create(schema=schema, identifier=name, type='table')) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- on-run-end: after a build without errors or failures, write every relation of
    CW_SPARK_OUTPUTS as Parquet into <exchange>/out/<schema>/<name> for the refresh to read. -#}
{% macro engines_export_outputs(results) -%}
    {{ return(adapter.dispatch('engines_export_outputs')(results)) }}
{%- endmacro %}

{% macro default__engines_export_outputs(results) -%}
{%- endmacro %}

{% macro spark__engines_export_outputs(results) -%}
    {%- set location = env_var('CW_SPARK_EXCHANGE_URI', '') -%}
    {%- set problems = [] -%}
    {%- for result in results if result.status in ['error', 'fail', 'skipped', 'runtime error'] -%}
        {%- do problems.append(result.node.unique_id) -%}
    {%- endfor -%}
    {%- if execute and location and flags.WHICH in ['build', 'run'] and not problems -%}
        {%- for relation in env_var('CW_SPARK_OUTPUTS', '').split(',') if relation -%}
            {%- set schema, name = relation.split('.') -%}
            {%- do run_query(
                "insert overwrite directory '" ~ location ~ '/out/' ~ schema ~ '/' ~ name
                ~ "' using parquet select * from " ~ relation) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- numerator / denominator with DuckDB's precision on every engine. DuckDB divides decimals in
    64-bit floating point. Spark divides them as decimals whose scale it cuts to as few as 6
    digits once the result type would exceed 38 digits: shares that no longer add up to 1, DSO
    rounded to the other side of a cent. So Spark divides in floating point too (as DuckDB);
    Postgres divides numerics exactly, which differs from DuckDB only far below any rounding. -#}
{% macro engines_divide(numerator, denominator) -%}
    {{ return(adapter.dispatch('engines_divide')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__engines_divide(numerator, denominator) -%}
    ({{ numerator }}) / ({{ denominator }})
{%- endmacro %}

{% macro spark__engines_divide(numerator, denominator) -%}
    cast(({{ numerator }}) as double) / ({{ denominator }})
{%- endmacro %}

{#- Spark versions of dbt.dateadd, dbt.datediff and dbt.listagg (found first through the
    `dispatch` setting in dbt_project.yml). dbt-spark's own wrap every argument in assert_not_null() checks and a
    timestamp round trip; nested, as in dbt.last_day() or a month part's start
    (dateadd(date_trunc(...))), each level triples the expression: plans of hundreds of kilobytes,
    generated Java code Spark fails to compile and tens of seconds per model on tiny data. The
    models only shift and compare dates, so plain date functions do, with the calendar semantics
    of DuckDB and Postgres: datediff counts the month boundaries between two dates (31 Jan ->
    1 Feb is 1 month; dbt-spark's months_between version says 2 for 31 Jan -> 28 Feb). -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    {%- set months = {'month': 1, 'quarter': 3, 'year': 12} -%}
    {%- if datepart in ['day', 'week'] -%}
        date_add(
            cast({{ from_date_or_timestamp }} as date),
            cast(({{ interval }}) * {{ 7 if datepart == 'week' else 1 }} as int)
        )
    {%- elif datepart in months -%}
        add_months(
            cast({{ from_date_or_timestamp }} as date),
            cast(({{ interval }}) * {{ months[datepart] }} as int)
        )
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "spark__dateadd (macros/engines.sql) shifts dates only, not by " ~ datepart) }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- if datepart == 'day' -%}
        datediff(cast({{ second_date }} as date), cast({{ first_date }} as date))
    {%- elif datepart == 'month' -%}
        (
            (year({{ second_date }}) - year({{ first_date }})) * 12
            + month({{ second_date }}) - month({{ first_date }})
        )
    {%- elif datepart == 'year' -%}
        (year({{ second_date }}) - year({{ first_date }}))
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "spark__datediff (macros/engines.sql) counts days, months and years only, not "
            ~ datepart) }}
    {%- endif -%}
{%- endmacro %}

{#- dbt-spark's listagg ignores the order (with a warning): the reason codes of customer_credit
    and customer_loyalty would come out in whatever order the rows arrived. Sorted here as
    structs (order columns first), then the measure is picked out. Ascending or descending as
    a whole; `order by a, b desc` mixes are refused. -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if order_by_clause -%}
        {%- set columns = [] -%}
        {%- set directions = [] -%}
        {%- for part in order_by_clause.strip()[8:].split(',') -%}
            {%- set words = part.split() -%}
            {%- do columns.append(words[0]) -%}
            {%- do directions.append(words[1] | lower if words | length > 1 else 'asc') -%}
        {%- endfor -%}
        {%- if order_by_clause.strip()[:8] | lower != 'order by' or directions | unique | list | length > 1 -%}
            {{ exceptions.raise_compiler_error(
                "spark__listagg (macros/engines.sql) takes `order by <columns> [asc|desc]`, got: "
                ~ order_by_clause) }}
        {%- endif -%}
        {%- set fields -%}
            {%- for column in columns -%}{{ column }} as o{{ loop.index }}, {% endfor -%}
            {{ measure }} as m
        {%- endset -%}
        {%- set collected -%}
            transform(
                sort_array(collect_list(struct({{ fields }})), {{ directions[0] != 'desc' }}),
                x -> x.m
            )
        {%- endset -%}
    {%- else -%}
        {%- set collected = 'collect_list(' ~ measure ~ ')' -%}
    {%- endif -%}
    {%- if limit_num -%}
        {%- set collected = 'slice(' ~ collected ~ ', 1, ' ~ limit_num ~ ')' -%}
    {%- endif -%}
    array_join({{ collected }}, {{ delimiter_text }})
{%- endmacro %}
