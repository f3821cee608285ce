{#- `column in ('a', 'b')` for a list var of the satisfaction / customer card rules; an empty
    list matches nothing, so a rule can be switched off by setting its list to []. -#}
{% macro satisfaction_in_list(column, values) -%}
    {%- if values | length == 0 -%}
        1 = 0
    {%- else -%}
        {{ column }} in (
            {%- for value in values -%}
                '{{ value }}'{{ ', ' if not loop.last }}
            {%- endfor -%}
        )
    {%- endif -%}
{%- endmacro %}
