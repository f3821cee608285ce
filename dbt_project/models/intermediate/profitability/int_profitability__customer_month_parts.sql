{#- The fact base of every profitability and ABC model: revenue and each cost-to-serve component
    per customer and "month part". A month part is a calendar month cut after the as-of day of
    month (see macro profitability_part_start_date): every trailing window of this area (at the
    as-of date, a month and a year before it) is a whole number of parts, so trailing totals and
    monthly rows are sums of the same rows and agree by construction, without reading order lines
    again. When the as-of date is a month end every month is a single part. -#}
{%- set month_end_date = dbt.last_day('month_start_date', 'month') %}
{%- set month_days = dbt.datediff('month_start_date', month_end_date, 'day') ~ ' + 1' %}
{%- set first_part_end_date = dbt.dateadd(
    'day', profitability_as_of_day_of_month() ~ ' - 1', 'month_start_date') %}
{%- set second_part_start_date = dbt.dateadd(
    'day', profitability_as_of_day_of_month(), 'month_start_date') %}

with customers as (

    select customer_id from {{ ref('stg_erp__customers') }}

),

order_lines as (

    select * from {{ ref('int_sales__order_lines') }}

),

interactions as (

    select * from {{ ref('stg_erp__interactions') }}

),

complaints as (

    select * from {{ ref('stg_survey__complaints') }}

),

receivables_monthly as (

    select * from {{ ref('int_receivables__customer_monthly') }}

),

receivables_movements as (

    select * from {{ ref('int_receivables__movements') }}

),

sales_parts as (

    select
        customer_id,
        {{ profitability_part_start_date('order_date') }} as part_start_date,
        sum(net_revenue) as net_revenue,
        sum(cogs) as cogs,
        sum(freight_cost) as freight_cost,
        cast(0 as decimal(18, 4)) as service_cost,
        cast(0 as decimal(18, 4)) as complaint_cost,
        cast(0 as decimal(18, 4)) as cash_discount_cost,
        cast(0 as decimal(18, 4)) as financing_cost,
        cast(0 as decimal(18, 4)) as bad_debt_cost,
        count(*) as order_lines,
        count(distinct case when not is_return then order_id end) as orders,
        0 as interactions,
        0 as valid_complaints,
        min(case when not is_return then order_date end) as first_order_date,
        max(case when not is_return then order_date end) as last_order_date
    from order_lines
    group by customer_id, {{ profitability_part_start_date('order_date') }}

),

interaction_parts as (

    -- every interaction kind (visits, calls, tickets, training, promotion...) is a cost to serve
    select
        customer_id,
        {{ profitability_part_start_date('interaction_date') }} as part_start_date,
        cast(0 as decimal(18, 4)) as net_revenue,
        cast(0 as decimal(18, 4)) as cogs,
        cast(0 as decimal(18, 4)) as freight_cost,
        sum(interaction_cost) as service_cost,
        cast(0 as decimal(18, 4)) as complaint_cost,
        cast(0 as decimal(18, 4)) as cash_discount_cost,
        cast(0 as decimal(18, 4)) as financing_cost,
        cast(0 as decimal(18, 4)) as bad_debt_cost,
        0 as order_lines,
        0 as orders,
        count(*) as interactions,
        0 as valid_complaints,
        cast(null as date) as first_order_date,
        cast(null as date) as last_order_date
    from interactions
    where interaction_date <= {{ as_of_date() }}
    group by customer_id, {{ profitability_part_start_date('interaction_date') }}

),

complaint_parts as (

    -- only valid complaints cost handling time; they are charged when opened
    select
        customer_id,
        {{ profitability_part_start_date('opened_date') }} as part_start_date,
        cast(0 as decimal(18, 4)) as net_revenue,
        cast(0 as decimal(18, 4)) as cogs,
        cast(0 as decimal(18, 4)) as freight_cost,
        cast(0 as decimal(18, 4)) as service_cost,
        cast(count(*) * {{ var('complaint_handling_cost') }} as decimal(18, 4)) as complaint_cost,
        cast(0 as decimal(18, 4)) as cash_discount_cost,
        cast(0 as decimal(18, 4)) as financing_cost,
        cast(0 as decimal(18, 4)) as bad_debt_cost,
        0 as order_lines,
        0 as orders,
        0 as interactions,
        count(*) as valid_complaints,
        cast(null as date) as first_order_date,
        cast(null as date) as last_order_date
    from complaints
    where
        is_valid
        and opened_date <= {{ as_of_date() }}
    group by customer_id, {{ profitability_part_start_date('opened_date') }}

),

receivables_months as (

    select
        customer_id,
        month_start_date,
        discounts,
        written_off,
        -- whole-month figure first, so the parts below add up to it to the cent
        cast(
            average_open_ar * {{ var('annual_cost_of_capital') }} * days_in_period / 365.0
            as decimal(18, 4)
        ) as financing_cost,
        average_open_ar,
        case
            when days_in_period > {{ profitability_as_of_day_of_month() }}
                then days_in_period - {{ profitability_as_of_day_of_month() }}
            else 0
        end as second_part_days
    from receivables_monthly
    where month_start_date <= {{ as_of_date() }}

),

second_part_settlements as (

    -- settlements dated after the as-of day of month, to split the month's discounts and
    -- write-offs between its two parts by their real dates
    select
        customer_id,
        movement_month as month_start_date,
        sum(discounts) as discounts,
        sum(written_off) as written_off
    from receivables_movements
    where
        movement_kind <> 'invoice'
        and {{ profitability_part_start_date('movement_date') }} > movement_month
    group by customer_id, movement_month

),

receivables_split as (

    select
        receivables_months.customer_id,
        receivables_months.month_start_date,
        receivables_months.discounts,
        receivables_months.written_off,
        receivables_months.financing_cost,
        receivables_months.second_part_days,
        coalesce(second_part_settlements.discounts, 0) as second_part_discounts,
        coalesce(second_part_settlements.written_off, 0) as second_part_written_off,
        -- the month's average open AR is all there is below a month: prorate it by days
        cast(
            receivables_months.average_open_ar * {{ var('annual_cost_of_capital') }}
            * receivables_months.second_part_days / 365.0
            as decimal(18, 4)
        ) as second_part_financing_cost
    from receivables_months
    left join second_part_settlements
        on
            receivables_months.customer_id = second_part_settlements.customer_id
            and receivables_months.month_start_date = second_part_settlements.month_start_date

),

receivables_split_parts as (

    select
        customer_id,
        month_start_date as part_start_date,
        cast(0 as decimal(18, 4)) as net_revenue,
        cast(0 as decimal(18, 4)) as cogs,
        cast(0 as decimal(18, 4)) as freight_cost,
        cast(0 as decimal(18, 4)) as service_cost,
        cast(0 as decimal(18, 4)) as complaint_cost,
        discounts - second_part_discounts as cash_discount_cost,
        financing_cost - second_part_financing_cost as financing_cost,
        written_off - second_part_written_off as bad_debt_cost,
        0 as order_lines,
        0 as orders,
        0 as interactions,
        0 as valid_complaints,
        cast(null as date) as first_order_date,
        cast(null as date) as last_order_date
    from receivables_split

    union all

    select
        customer_id,
        cast({{ second_part_start_date }} as date) as part_start_date,
        cast(0 as decimal(18, 4)) as net_revenue,
        cast(0 as decimal(18, 4)) as cogs,
        cast(0 as decimal(18, 4)) as freight_cost,
        cast(0 as decimal(18, 4)) as service_cost,
        cast(0 as decimal(18, 4)) as complaint_cost,
        second_part_discounts as cash_discount_cost,
        second_part_financing_cost as financing_cost,
        second_part_written_off as bad_debt_cost,
        0 as order_lines,
        0 as orders,
        0 as interactions,
        0 as valid_complaints,
        cast(null as date) as first_order_date,
        cast(null as date) as last_order_date
    from receivables_split
    where second_part_days > 0

),

receivables_parts as (

    -- a part without discount, financing cost or write-off adds nothing to any total: leaving
    -- it out before the grouping below spares it the customer months with nothing open (a
    -- third of all customer months in the generated data)
    select * from receivables_split_parts
    where
        cash_discount_cost <> 0
        or financing_cost <> 0
        or bad_debt_cost <> 0

),

unioned as (

    select * from sales_parts
    union all
    select * from interaction_parts
    union all
    select * from complaint_parts
    union all
    select * from receivables_parts

),

customer_parts as (

    -- facts of customers missing from the customer dimension cannot reach any customer-level
    -- mart, so they are left out here too: every mart of this area adds up to the same totals
    select
        unioned.customer_id,
        unioned.part_start_date,
        cast({{ dbt.date_trunc('month', 'unioned.part_start_date') }} as date) as month_start_date,
        sum(unioned.net_revenue) as net_revenue,
        sum(unioned.cogs) as cogs,
        sum(unioned.freight_cost) as freight_cost,
        sum(unioned.service_cost) as service_cost,
        sum(unioned.complaint_cost) as complaint_cost,
        sum(unioned.cash_discount_cost) as cash_discount_cost,
        sum(unioned.financing_cost) as financing_cost,
        sum(unioned.bad_debt_cost) as bad_debt_cost,
        sum(unioned.order_lines) as order_lines,
        sum(unioned.orders) as orders,
        sum(unioned.interactions) as interactions,
        sum(unioned.valid_complaints) as valid_complaints,
        min(unioned.first_order_date) as first_order_date,
        max(unioned.last_order_date) as last_order_date
    from unioned
    inner join customers on unioned.customer_id = customers.customer_id
    group by unioned.customer_id, unioned.part_start_date

),

final as (

    select
        customer_id,
        month_start_date,
        part_start_date,
        case
            when part_start_date > month_start_date then cast({{ month_end_date }} as date)
            -- a month no longer than the as-of day of month is a single part
            when {{ month_days }} <= {{ profitability_as_of_day_of_month() }}
                then cast({{ month_end_date }} as date)
            else cast({{ first_part_end_date }} as date)
        end as part_end_date,
        part_start_date > month_start_date as is_second_part,
        net_revenue,
        cogs,
        net_revenue - cogs as gross_margin,
        freight_cost,
        service_cost,
        complaint_cost,
        cash_discount_cost,
        financing_cost,
        bad_debt_cost,
        freight_cost + service_cost + complaint_cost + cash_discount_cost + financing_cost
        + bad_debt_cost as cost_to_serve,
        net_revenue - cogs - (
            freight_cost + service_cost + complaint_cost + cash_discount_cost + financing_cost
            + bad_debt_cost
        ) as net_contribution,
        order_lines,
        orders,
        interactions,
        valid_complaints,
        first_order_date,
        last_order_date
    from customer_parts
    -- a receivables month with no open AR, discount or write-off is no activity
    where
        order_lines > 0
        or interactions > 0
        or valid_complaints > 0
        or cash_discount_cost <> 0
        or financing_cost <> 0
        or bad_debt_cost <> 0

)

select * from final
