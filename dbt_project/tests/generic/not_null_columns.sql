{#- The required columns of a model that are not its key, checked in one test: dbt spends ~30 ms
    per test node, and one node per column made not_null most of the nightly build's tests.
    Returns one row per column holding nulls, with how many. Key columns keep their own
    `not_null` next to `unique` (docs/decisions.md). -#}
{% test not_null_columns(model, column_names) %}

with null_counts as (

    {% for column_name in column_names %}
        select
            '{{ column_name }}' as column_name,
            count(*) as null_rows
        from {{ model }}
        where {{ column_name }} is null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from null_counts
where null_rows > 0

{% endtest %}
