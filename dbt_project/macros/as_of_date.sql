{#- The date every mart is computed at: the as_of_date var, else the CW_AS_OF environment
    variable (set by every refresh), else today. Rendered as a date literal, so a run is
    reproducible and the same on every engine.
    The environment is read only while executing: a value that changes every night then never
    invalidates dbt's partial parsing, as a --vars value or an env_var seen at parse time does. -#}
{% macro as_of_date() -%}
    {%- set configured = var('as_of_date', '') or (env_var('CW_AS_OF', '') if execute else '') -%}
    {%- set value = configured if configured else modules.datetime.date.today().isoformat() -%}
    cast('{{ value }}' as date)
{%- endmacro %}
