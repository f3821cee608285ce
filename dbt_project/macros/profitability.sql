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
