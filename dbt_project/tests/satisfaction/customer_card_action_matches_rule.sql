-- recommended_action is always the action of the rule named in action_rule, and collection is
-- recommended for every customer materially over their credit limit.
select
    customer_id,
    is_over_limit,
    open_ar,
    action_rule,
    recommended_action
from {{ ref('customer_card') }}
where recommended_action <> case
    when action_rule in ('collect_over_limit', 'collect_overdue') then 'collect'
    when action_rule = 'retire_loss_weak' then 'retire'
    when action_rule in (
        'watch_defection_risk', 'watch_hidden_dissatisfaction',
        'watch_risky'
    ) then 'watch'
    when action_rule in ('cherish_tier', 'cherish_star') then 'cherish'
    when action_rule in ('grow_rising', 'grow_growth', 'grow_default') then 'grow'
end
or (
    is_over_limit
    and open_ar >= {{ var('card_collect_min_open_ar') }}
    and recommended_action <> 'collect'
)
