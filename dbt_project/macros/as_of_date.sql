{#- The date every mart is computed at: the as_of_date var, or today when it is empty.
    Rendered as a date literal, so a run is reproducible and the same on every engine. -#}
{% macro as_of_date() -%}
    {%- set configured = var('as_of_date', '') -%}
    {%- set value = configured if configured else modules.datetime.date.today().isoformat() -%}
    cast('{{ value }}' as date)
{%- endmacro %}
