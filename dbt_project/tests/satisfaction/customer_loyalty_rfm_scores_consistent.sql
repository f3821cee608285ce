-- RFM scores are 1-5, equal values always share a score, and a better value never gets a
-- lower score: every value band of a score lies strictly below the band of any higher score
-- (recency is negated, fewer days being better). Bands keep the check linear in customers.
with loyalty as (

    select * from {{ ref('customer_loyalty') }}
    where first_order_date is not null

),

out_of_range as (

    select
        customer_id,
        'score outside 1-5 or missing' as problem
    from loyalty
    where
        r_score is null or f_score is null or m_score is null
        or r_score not between 1 and 5
        or f_score not between 1 and 5
        or m_score not between 1 and 5

),

score_bands as (

    select
        'recency' as measure,
        r_score as score,
        -max(recency_days) as min_value,
        -min(recency_days) as max_value
    from loyalty
    group by r_score

    union all

    select
        'frequency' as measure,
        f_score as score,
        min(frequency_12m) as min_value,
        max(frequency_12m) as max_value
    from loyalty
    group by f_score

    union all

    select
        'monetary' as measure,
        m_score as score,
        min(monetary_12m) as min_value,
        max(monetary_12m) as max_value
    from loyalty
    group by m_score

),

overlapping_bands as (

    select
        {{ dbt.concat(["lower_band.measure", "' score '",
                       dbt.cast("lower_band.score", dbt.type_string())]) }} as customer_id,
        'value band overlaps a higher score' as problem
    from score_bands as lower_band
    inner join score_bands as higher_band
        on
            lower_band.measure = higher_band.measure
            and lower_band.score < higher_band.score
            and lower_band.max_value >= higher_band.min_value

)

select * from out_of_range
union all
select * from overlapping_bands
