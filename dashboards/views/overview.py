"""Overview: the month's headline KPIs, the Pareto curve and the ABC tiers."""

import plotly.graph_objects as go
import streamlit as st
from cwdash import formatting, queries, ui
from cwdash.i18n import t

opened, filters = ui.start("overview")
if opened is None:
    st.stop()

# ---- KPIs of the selected month, compared with last month and last year --------------------
if ui.require_month(filters):
    months = queries.comparison_months(filters.month_end)
    first, last = months["last_year"], months["current"]
    missing = []

    profit = book = key_accounts = satisfaction = None
    if opened.has(queries.PROFITABILITY_MONTHLY):
        profit = queries.profit_by_month(opened, filters, first, last)
    else:
        missing.append(queries.PROFITABILITY_MONTHLY)
    if opened.has(queries.RECEIVABLES_MONTHLY):
        book = queries.receivables_book(opened, filters, first, last)
    else:
        missing.append(queries.RECEIVABLES_MONTHLY)
    if opened.has(queries.KEY_ACCOUNT_TREND):
        key_accounts = queries.key_account_trend(opened, first, last)
    else:
        missing.append(queries.KEY_ACCOUNT_TREND)
    segment = queries.satisfaction_segment(filters)
    if not opened.has(queries.SATISFACTION_MONTHLY):
        missing.append(queries.SATISFACTION_MONTHLY)
    elif segment is not None:
        satisfaction = queries.satisfaction_trend(opened, segment, first, last)

    whole_book = t("kpi.whole_book_help") if filters.has_dimensions else None
    row = st.columns(5)
    ui.kpi(
        row[0],
        t("kpi.revenue"),
        ui.by_month(profit, "net_revenue"),
        "money",
        help=t("kpi.revenue_help"),
    )
    ui.kpi(
        row[1],
        t("kpi.gross_margin"),
        ui.by_month(profit, "gross_margin"),
        "money",
        help=t("kpi.gross_margin_help"),
    )
    ui.kpi(
        row[2],
        t("kpi.active_customers"),
        ui.by_month(profit, "buying_customers"),
        "count",
        help=t("kpi.active_customers_help"),
    )
    ui.kpi(
        row[3],
        t("kpi.key_accounts"),
        ui.by_month(key_accounts, "key_accounts"),
        "count",
        help=whole_book or t("kpi.key_accounts_help"),
    )
    ui.kpi(
        row[4],
        t("kpi.open_ar"),
        ui.by_month(book, "closing_ar"),
        "money",
        lower_is_better=True,
        help=t("kpi.open_ar_help"),
    )
    row = st.columns(5)
    ui.kpi(
        row[0],
        t("kpi.dso"),
        ui.by_month(book, "dso_simple"),
        "days",
        lower_is_better=True,
        help=t("kpi.dso_help"),
    )
    ui.kpi(
        row[1],
        t("kpi.over_limit"),
        ui.by_month(book, "over_limit_customers"),
        "count",
        lower_is_better=True,
        help=t("kpi.over_limit_help"),
    )
    ui.kpi(
        row[2],
        t("kpi.csat"),
        ui.by_month(satisfaction, "csat_index"),
        "score",
        help=t("kpi.csat_help"),
    )
    ui.kpi(row[3], t("kpi.nps"), ui.by_month(satisfaction, "nps"), "score", help=t("kpi.nps_help"))
    ui.kpi(
        row[4],
        t("kpi.allowance"),
        ui.by_month(book, "allowance"),
        "money",
        lower_is_better=True,
        help=t("kpi.allowance_help"),
    )
    if missing:
        ui.empty("empty.not_built", tables=", ".join(missing))
    if segment is None:
        st.caption(t("satisfaction.no_segment"))
    elif satisfaction is not None:
        suppressed = ui.by_month(satisfaction, "is_suppressed").get(filters.month_end, True)
        if suppressed:
            st.caption(t("kpi.satisfaction_hidden"))
    if filters.has_dimensions:
        st.caption(t("kpi.key_accounts_note"))

# ---- Pareto curve and tiers (as of the warehouse date) ---------------------------------------
st.subheader(t("overview.vital_few"))
ui.as_of_note(opened)
if ui.require(opened, queries.ABC):
    metric = formatting.value_label("ranking_metric", queries.ranking_metric(opened))
    curve, reading = queries.pareto(opened, filters)
    if curve.empty:
        ui.empty("empty.no_customers")
    else:
        left, right = st.columns([3, 2])
        with left:
            figure = go.Figure()
            figure.add_trace(
                go.Scatter(
                    x=[0, *curve["customer_share"]],
                    y=[0, *curve["value_share"]],
                    mode="lines",
                    name=t("overview.pareto_curve"),
                    hovertemplate="%{x:.1%} → %{y:.1%}<extra></extra>",
                    fill="tozeroy",
                )
            )
            figure.add_trace(
                go.Scatter(
                    x=[0, 1],
                    y=[0, 1],
                    mode="lines",
                    name=t("overview.pareto_equal"),
                    line={"dash": "dot", "color": ui.NEUTRAL},
                    hoverinfo="skip",
                )
            )
            if not formatting.is_missing(reading["customers_for_80"]):
                x80 = float(reading["customers_for_80"])
                figure.add_trace(
                    go.Scatter(
                        x=[x80],
                        y=[0.8],
                        mode="markers+text",
                        name=t("overview.pareto_80"),
                        marker={"size": 12, "color": ui.BAD},
                        text=[t("overview.pareto_80_label", customers=formatting.percent(x80))],
                        textposition="bottom right",
                        textfont={"color": "#212121", "size": 13},
                        hovertemplate="%{x:.1%} → %{y:.0%}<extra></extra>",
                    )
                )
            figure.add_vline(x=0.2, line_dash="dash", line_color=ui.NEUTRAL)
            figure.update_xaxes(tickformat=".0%", range=[0, 1])
            figure.update_yaxes(tickformat=".0%", range=[0, 1.02])
            ui.plot(
                figure,
                t("overview.pareto_title", metric=metric),
                x_title=t("overview.pareto_x"),
                y_title=t("overview.pareto_y", metric=metric),
            )
            st.caption(
                t(
                    "overview.pareto_reading",
                    top20=formatting.percent(reading["value_of_top_20"]),
                    customers80=formatting.percent(reading["customers_for_80"]),
                    metric=metric,
                )
            )
        with right:
            tiers = queries.tier_summary(opened, filters, "abc_tier")
            labels = [formatting.value_label("abc_tier", tier) for tier in tiers["tier"]]
            figure = go.Figure()
            figure.add_trace(
                go.Bar(
                    x=labels,
                    y=tiers["customer_share"],
                    name=t("overview.share_customers"),
                    marker_color=ui.NEUTRAL,
                    texttemplate="%{y:.0%}",
                    customdata=tiers["customers"],
                    hovertemplate="%{x}: %{y:.1%} (%{customdata:,d})<extra></extra>",
                )
            )
            figure.add_trace(
                go.Bar(
                    x=labels,
                    y=tiers["value_share"],
                    name=t("overview.share_value", metric=metric),
                    marker_color=[ui.TIER_COLOURS.get(tier, ui.NEUTRAL) for tier in tiers["tier"]],
                    texttemplate="%{y:.0%}",
                    hovertemplate="%{x}: %{y:.1%}<extra></extra>",
                )
            )
            figure.update_layout(barmode="group")
            figure.update_yaxes(tickformat=".0%")
            ui.plot(
                figure,
                t("overview.tiers_title"),
                x_title=t("overview.tier_axis"),
                y_title=t("overview.share_axis"),
            )
            ui.table(
                tiers.rename(columns={"tier": "abc_tier"})[
                    ["abc_tier", "customers", "key_accounts", "ranking_value"]
                ],
                key="overview_tiers",
            )
