"""Customer card: one customer on one page, with monthly trends and the recommended action."""

import plotly.graph_objects as go
import streamlit as st
from cwdash import formatting, queries, ui
from cwdash.i18n import t

# How each recommended action is shown (the action codes are customer_card's).
ACTION_BOXES = {
    "collect": st.error,
    "retire": st.error,
    "watch": st.warning,
    "cherish": st.success,
    "grow": st.info,
}

opened, filters = ui.start("customer", applies=("month",))
if opened is None:
    st.stop()
if not ui.require(opened, queries.CARD):
    st.stop()

# A link may name the customer: ?customer=<id>.
if "card_search" not in st.session_state and "customer" in st.query_params:
    st.session_state["card_search"] = st.query_params["customer"]
text = st.text_input(
    t("customer.search"), key="card_search", placeholder=t("customer.search_placeholder")
).strip()
if not text:
    ui.empty("customer.search_hint")
    st.stop()
matches = queries.search_customers(opened, text)
if matches.empty:
    ui.empty("customer.no_match", text=text)
    st.stop()
names = dict(zip(matches["customer_id"], matches["customer_name"], strict=True))
customer_id = st.selectbox(
    t("customer.matches", count=len(matches)),
    list(names),
    format_func=lambda cid: f"{names[cid]} ({cid})",
    key=f"card_customer_{text}",
)
card = queries.card(opened, customer_id)
st.query_params["customer"] = customer_id

# ---- who they are and what to do ---------------------------------------------------------
st.header(f"{card['customer_name']}")
facts = [
    customer_id,
    formatting.value_label("customer_type", card["customer_type"]),
    card["region"] or "—",
    t("unit.pair", name=t("col.sales_rep"), value=card["sales_rep"] or "—"),
    formatting.value_label("customer_status", card["customer_status"]),
]
st.caption(" · ".join(str(fact) for fact in facts))
badges = [
    f":blue-badge[{t('col.abc_tier')} {formatting.value_label('abc_tier', card['abc_tier'])}]",
    f":blue-badge[{formatting.value_label('pyramid_tier', card['pyramid_tier'])}]",
    f":violet-badge[{formatting.value_label('loyalty_quadrant', card['loyalty_quadrant'])}]",
    f":gray-badge[{formatting.value_label('growth_class', card['growth_class'])}]",
]
if card["is_key_account"]:
    badges.insert(0, f":orange-badge[{t('customer.key_account')}]")
st.markdown(" ".join(badges))
action = card["recommended_action"]
ACTION_BOXES.get(action, st.info)(
    "**"
    + t("unit.pair", name=t("customer.action"), value=formatting.value_label("action", action))
    + "** — "
    + formatting.value_label("action_rule", card["action_rule"])
)

row = st.columns(4)
row[0].metric(t("customer.revenue_12m"), formatting.money(card["net_revenue_12m"]), border=True)
row[1].metric(
    t("customer.contribution_12m"),
    formatting.money(card["net_contribution_12m"]),
    delta=formatting.percent(card["contribution_pct"]),
    delta_description=t("col.contribution_pct"),
    delta_arrow="off",
    border=True,
)
row[2].metric(
    t("customer.credit"),
    card["credit_grade"] or "—",
    delta=f"{t('col.utilization')} {formatting.percent(card['utilization'])}",
    delta_color="off",
    delta_arrow="off",
    border=True,
    help=t("customer.credit_help"),
)
row[3].metric(
    t("col.open_ar"),
    formatting.money(card["open_ar"]),
    delta=f"{t('col.credit_limit')} {formatting.money(card['credit_limit'])}",
    delta_color="off",
    delta_arrow="off",
    border=True,
)
row = st.columns(4)
row[0].metric(
    t("col.max_days_past_due"),
    formatting.days(card["max_days_past_due"], digits=0),
    delta=formatting.value_label("aging_bucket", card["worst_aging_bucket"]),
    delta_description=t("customer.worst_bucket"),
    delta_color="off",
    delta_arrow="off",
    border=True,
)
row[1].metric(
    t("col.csat_index"),
    formatting.score(card["csat_index"]),
    delta=formatting.value_label("nps_category", card["nps_category"]),
    delta_color="off",
    delta_arrow="off",
    delta_description=t("col.nps_category"),
    border=True,
)
row[2].metric(
    t("col.open_complaints"),
    formatting.count(card["open_complaints"]),
    delta=f"{t('col.complaints_12m')} {formatting.count(card['complaints_12m'])}",
    delta_color="off",
    delta_arrow="off",
    border=True,
)
row[3].metric(
    t("col.defection_risk"),
    formatting.value_label("risk", card["defection_risk"]),
    delta=formatting.value_label("rfm_segment", card["rfm_segment"]),
    delta_color="off",
    delta_arrow="off",
    delta_description=t("col.rfm_segment"),
    border=True,
)
signals = []
if card["is_over_limit"]:
    signals.append(t("customer.signal_over_limit"))
if card["is_hidden_dissatisfaction"]:
    signals.append(t("customer.signal_hidden"))
if not formatting.is_missing(card["defection_reasons"]):
    reasons = formatting.codes_label("defection_reason", card["defection_reasons"])
    signals.append(t("unit.pair", name=t("col.defection_reasons"), value=reasons))
credit = queries.customer_row(opened, queries.CREDIT, customer_id)
if credit is not None and not formatting.is_missing(credit["reason_codes"]):
    reasons = formatting.codes_label("reason_code", credit["reason_codes"])
    signals.append(t("unit.pair", name=t("col.reason_codes"), value=reasons))
for signal in signals:
    st.caption(signal)
ui.as_of_note(opened)

# ---- monthly trends up to the as-of month ------------------------------------------------
if ui.require_month(filters):
    first = queries.month_end_shift(filters.month_end, -23)
    left, right = st.columns(2)
    with left:
        if ui.require(opened, queries.PROFITABILITY_MONTHLY):
            trend = queries.customer_profit_trend(opened, customer_id, first, filters.month_end)
            if trend.empty:
                ui.empty("empty.no_activity")
            else:
                months = ui.month_labels(trend)
                figure = go.Figure()
                figure.add_trace(
                    go.Bar(
                        x=months,
                        y=trend["net_revenue"],
                        name=t("col.net_revenue"),
                        marker_color="#90caf9",
                        hovertemplate=ui.money_hover(t("col.net_revenue")),
                    )
                )
                figure.add_trace(
                    go.Scatter(
                        x=months,
                        y=trend["net_contribution"],
                        name=t("col.net_contribution"),
                        mode="lines+markers",
                        line={"color": ui.GOOD},
                        hovertemplate=ui.money_hover(t("col.net_contribution")),
                    )
                )
                ui.plot(
                    figure,
                    t("customer.profit_trend"),
                    x_title=t("unit.month"),
                    monthly=True,
                    y_title=t("unit.money_axis", currency=formatting.CURRENCY_CODE),
                    money_axis="y",
                )
    with right:
        if ui.require(opened, queries.RECEIVABLES_MONTHLY):
            trend = queries.customer_receivables_trend(
                opened, customer_id, first, filters.month_end
            )
            if trend.empty:
                ui.empty("empty.no_receivables")
            else:
                months = ui.month_labels(trend)
                figure = ui.aging_bars(trend, months)
                figure.add_trace(
                    go.Scatter(
                        x=months,
                        y=trend["credit_limit"],
                        name=t("col.credit_limit"),
                        mode="lines",
                        line={"color": "#000000", "dash": "dash"},
                        hovertemplate=ui.money_hover(t("col.credit_limit")),
                    )
                )
                figure.update_layout(barmode="stack")
                ui.plot(
                    figure,
                    t("customer.receivables_trend"),
                    x_title=t("unit.month"),
                    monthly=True,
                    y_title=t("unit.money_axis", currency=formatting.CURRENCY_CODE),
                    money_axis="y",
                )

# ---- products and open items ---------------------------------------------------------------
left, right = st.columns(2)
with left:
    st.markdown(f"**{t('customer.products')}**")
    if ui.require(opened, queries.PRODUCT_PROFITABILITY):
        products = queries.customer_products(opened, customer_id)
        if products.empty:
            ui.empty("empty.no_product_rows")
        else:
            ui.table(products, key="customer_products")
with right:
    st.markdown(f"**{t('credit.open_items')}**")
    if ui.require(opened, queries.OPEN_ITEMS):
        ui.paged_table(
            opened,
            queries.customer_open_items(customer_id),
            key="customer_open_items",
            empty_key="empty.no_open_items",
        )
