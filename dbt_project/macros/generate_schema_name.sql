{#- Schemas are named exactly as configured (raw, staging, intermediate, marts): readers and
    the dashboard query marts.<name>, whatever the target's default schema is. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
