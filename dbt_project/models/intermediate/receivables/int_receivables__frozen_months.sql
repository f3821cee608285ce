{#- Closed receivables months as first published: a closed month is stored the first time a
    refresh sees it closed and is never changed afterwards, except when finance reopens it
    (var reopen_months). The table lives in the published warehouse and is carried from publish
    to publish; full_refresh is off so `dbt build --full-refresh` cannot erase what finance was
    given. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy=receivables_frozen_months_strategy(),
        unique_key=['customer_id', 'month'],
        pre_hook="{{ receivables_unfreeze_reopened_months() }}",
        full_refresh=false,
        on_schema_change='append_new_columns'
    )
}}

with computed as (

    select * from {{ ref('int_receivables__monthly_computed') }}

),

{% if is_incremental() %}
already_frozen as (

    select
        customer_id,
        month
    from {{ this }}

),
{% endif %}

final as (

    select
        computed.*,
        {{ as_of_date() }} as frozen_as_of_date
    from computed
    {% if is_incremental() %}
        left join already_frozen
            on
                computed.customer_id = already_frozen.customer_id
                and computed.month = already_frozen.month
    {% endif %}
    where
        computed.is_closed
    {% if is_incremental() %}
            and (
                already_frozen.customer_id is null
                or computed.month in ({{ receivables_reopened_months() }})
            )
        {% endif %}

)

select * from final
