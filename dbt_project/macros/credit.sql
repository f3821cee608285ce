{#- Aging bucket of a days-past-due expression, edges from var aging_bucket_max_days:
    <= 0 current, then 1_30, 31_60, 61_90, 91_180, 181_365 by upper edge, above that over_365. -#}
{% macro credit_aging_bucket(days_past_due) -%}
    {%- set edges = var('aging_bucket_max_days') -%}
    case
        when {{ days_past_due }} <= 0 then 'current'
        {%- for bucket, max_days in edges.items() | sort(attribute='1') %}
        when {{ days_past_due }} <= {{ max_days }} then '{{ bucket }}'
        {%- endfor %}
        else 'over_365'
    end
{%- endmacro %}

{#- The names of all aging buckets, youngest first: current, the edges of aging_bucket_max_days
    in ascending order, over_365. -#}
{% macro credit_aging_bucket_names() -%}
    {%- set names = ['current'] -%}
    {%- for bucket, max_days in var('aging_bucket_max_days').items() | sort(attribute='1') -%}
        {%- do names.append(bucket) -%}
    {%- endfor -%}
    {%- do names.append('over_365') -%}
    {{ return(names) }}
{%- endmacro %}

{#- Allowance for doubtful accounts on an amount in a bucket: amount x allowance_rates[bucket]. -#}
{% macro credit_allowance(amount, bucket) -%}
    {%- set rates = var('allowance_rates') -%}
    {{ amount }} * case {{ bucket }}
        {%- for name, rate in rates.items() %}
        when '{{ name }}' then {{ rate }}
        {%- endfor %}
        else 0
    end
{%- endmacro %}

{#- Points (0 .. weight) a factor value earns: piecewise linear between the var thresholds
    credit_score_thresholds[factor].zero (0 points) and .full (all points), clamped outside;
    a missing value earns the neutral share credit_score_neutral_share of the weight. -#}
{% macro credit_factor_points(value, factor) -%}
    {%- set weight = var('credit_score_weights')[factor] -%}
    {%- set zero = var('credit_score_thresholds')[factor]['zero'] -%}
    {%- set full = var('credit_score_thresholds')[factor]['full'] -%}
    {%- set share -%}
        (cast({{ value }} as {{ dbt.type_float() }}) - ({{ zero }})) / (({{ full }}) - ({{ zero }}))
    {%- endset -%}
    case
        when {{ value }} is null then {{ weight }} * {{ var('credit_score_neutral_share') }}
        when {{ share }} >= 1 then {{ weight }}
        when {{ share }} <= 0 then 0
        else {{ weight }} * {{ share }}
    end
{%- endmacro %}

{#- Credit grade of a 0-100 score from the credit_grade_*_min_score cut-offs. -#}
{% macro credit_grade(score) -%}
    case
        when {{ score }} >= {{ var('credit_grade_a_min_score') }} then 'A'
        when {{ score }} >= {{ var('credit_grade_b_min_score') }} then 'B'
        when {{ score }} >= {{ var('credit_grade_c_min_score') }} then 'C'
        else 'D'
    end
{%- endmacro %}

{#- Look a grade up in a by-grade dict var (e.g. credit_limit_working_capital_share). -#}
{% macro credit_by_grade(grade, var_name) -%}
    case {{ grade }}
        {%- for name, value in var(var_name).items() %}
        when '{{ name }}' then {{ value }}
        {%- endfor %}
        else 0
    end
{%- endmacro %}

{#- Days a month counts in DSO: its counted days (days_in_period, fewer for the partial month),
    or the dso_days_per_month convention when set (capped by the days counted). -#}
{% macro credit_dso_month_days(days_in_period) -%}
    {%- set convention = var('dso_days_per_month') | int -%}
    {%- if convention > 0 -%}
    case
        when {{ days_in_period }} < {{ convention }} then {{ days_in_period }}
        else {{ convention }}
    end
    {%- else -%}
    {{ days_in_period }}
    {%- endif -%}
{%- endmacro %}

{#- Count-back DSO per month of a monthly relation with columns month_start_date, closing_ar,
    credit_sales, dso_days and cumulative_sales (running total of credit_sales), partitioned by
    `partition_columns` (e.g. ['customer_id'], or [] for the whole book). Walking back from each
    month, every earlier month b adds its full days while the AR left exceeds its sales, then the
    fraction AR left / sales of b, then nothing; at most dso_countback_max_months months. -#}
{% macro credit_countback_dso(relation, partition_columns) -%}
    select
        {% for column in partition_columns -%}
        {{ column }},
        {% endfor -%}
        month_start_date,
        sum(
            case
                when ar_left <= 0 then 0
                when ar_left >= walked_sales then walked_days
                else {{ engines_divide('ar_left', 'walked_sales') }} * walked_days
            end
        ) as dso_countback
    from (
        select
            {% for column in partition_columns -%}
            this_month.{{ column }},
            {% endfor -%}
            this_month.month_start_date,
            -- AR not yet explained by the sales of the months after the walked one
            this_month.closing_ar
            - (this_month.cumulative_sales - walked_month.cumulative_sales) as ar_left,
            walked_month.credit_sales as walked_sales,
            walked_month.dso_days as walked_days
        from {{ relation }} as this_month
        inner join {{ relation }} as walked_month
            on walked_month.month_start_date <= this_month.month_start_date
            and {{ dbt.datediff(
                'walked_month.month_start_date', 'this_month.month_start_date', 'month') }}
                < {{ var('dso_countback_max_months') }}
            {% for column in partition_columns -%}
            and walked_month.{{ column }} = this_month.{{ column }}
            {% endfor %}
    ) as walked_months
    group by
        {% for column in partition_columns -%}
        {{ column }},
        {% endfor -%}
        month_start_date
{%- endmacro %}

{#- Days past due of an open item (0 when not yet due). An unapplied credit (credit note,
    overpayment: negative open amount) is owed to the customer, never overdue: 0. -#}
{% macro credit_open_item_days_past_due(open_amount, days_after_due) -%}
    case
        when {{ open_amount }} < 0 then 0
        when {{ days_after_due }} > 0 then {{ days_after_due }}
        else 0
    end
{%- endmacro %}

{#- Aging bucket of an open item. Unapplied credits sit in `current`: they lower the current
    bucket (and its small allowance) instead of cancelling old overdue debts, which keeps the
    allowance on those debts prudent. -#}
{% macro credit_open_item_bucket(open_amount, days_after_due) -%}
    case
        when {{ open_amount }} < 0 then 'current'
        else {{ credit_aging_bucket(days_after_due) }}
    end
{%- endmacro %}
