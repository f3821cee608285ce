{#- The factor weights (var credit_score_weights) must add up to 100 points, or the score and
    the grade cut-offs lose their meaning. -#}
{{ config(meta={'dagster': {'ref': {'name': 'customer_credit'}}}) }}

{%- set total = var('credit_score_weights').values() | sum %}
select {{ total }} as total_weight
where {{ total }} <> 100
