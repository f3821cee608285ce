{#- Fails for every combination of the given columns that occurs more than once: the composite
    primary-key test (dbt packages such as dbt_utils are not installed, so it lives here). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with duplicated_keys as (

    select
        {{ combination_of_columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1

)

select * from duplicated_keys

{% endtest %}
