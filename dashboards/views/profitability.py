"""Profitability: where margin is made and lost, from revenue to net contribution."""

import plotly.graph_objects as go
import streamlit as st
from cwdash import formatting, queries, ui
from cwdash.i18n import t

opened, filters = ui.start("profitability")
if opened is None:
    st.stop()

# ---- contribution waterfall and monthly trend (monthly mart, follows the as-of month) --------
if ui.require(opened, queries.PROFITABILITY_MONTHLY) and ui.require_month(filters):
    window = queries.profit_window(opened, filters, filters.month_end)
    steps = [
        ("net_revenue", window["net_revenue"], "absolute"),
        ("cogs", -window["cogs"], "relative"),
        ("gross_margin", window["gross_margin"], "total"),
        *[(cost, -window[cost], "relative") for cost in queries.COST_TO_SERVE_COLUMNS],
        ("net_contribution", window["net_contribution"], "total"),
    ]
    figure = go.Figure(
        go.Waterfall(
            x=[t(f"col.{name}") for name, _, _ in steps],
            y=[value if measure != "total" else 0 for _, value, measure in steps],
            measure=[measure for _, _, measure in steps],
            text=[formatting.money(value, compact=True) for _, value, _ in steps],
            textposition="outside",
            increasing={"marker": {"color": ui.GOOD}},
            decreasing={"marker": {"color": ui.BAD}},
            totals={"marker": {"color": "#1565c0"}},
            hovertemplate="%{x}: " + formatting.CURRENCY_SYMBOL + "%{y:,.0f}<extra></extra>",
            connector={"line": {"color": ui.NEUTRAL}},
        )
    )
    ui.plot(
        figure,
        t("profitability.waterfall_title", month=formatting.month_label(filters.month_end)),
        y_title=t("unit.money_axis", currency=formatting.CURRENCY_CODE),
        money_axis="y",
        height=440,
    )
    if window["net_revenue"] == 0 and window["cost_to_serve"] == 0:
        ui.empty("empty.no_activity")

    trend = queries.profit_by_month(
        opened, filters, queries.month_end_shift(filters.month_end, -23), filters.month_end
    )
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
        for column, colour in (("gross_margin", "#1565c0"), ("net_contribution", ui.GOOD)):
            figure.add_trace(
                go.Scatter(
                    x=months,
                    y=trend[column],
                    name=t(f"col.{column}"),
                    mode="lines+markers",
                    line={"color": colour},
                    hovertemplate=ui.money_hover(t(f"col.{column}")),
                )
            )
        ui.plot(
            figure,
            t("profitability.trend_title"),
            x_title=t("unit.month"),
            monthly=True,
            y_title=t("unit.money_axis", currency=formatting.CURRENCY_CODE),
            money_axis="y",
        )

# ---- customers: classes, loss customers, customer x product (as of the warehouse date) -------
st.subheader(t("profitability.customers"))
ui.as_of_note(opened)
if ui.require(opened, queries.PROFITABILITY):
    classes = queries.class_counts(opened, filters)
    ui.table(classes, key="profitability_classes")
    st.markdown(f"**{t('profitability.loss_customers')}**")
    st.caption(t("profitability.loss_customers_help"))
    ui.paged_table(
        opened,
        queries.loss_customers(filters),
        key="loss_customers",
        empty_key="empty.no_loss_customers",
    )

if ui.require(opened, queries.PROFITABILITY, queries.PRODUCT_PROFITABILITY):
    cells = queries.product_heatmap(opened, filters)
    if cells.empty:
        ui.empty("empty.no_product_rows")
    else:
        customers = cells.drop_duplicates("customer_id").sort_values(
            ["customer_revenue", "customer_id"], ascending=[False, True]
        )
        grid = cells.pivot_table(
            index="customer_id", columns="product_name", values="contribution", aggfunc="sum"
        )
        grid = grid.reindex(customers["customer_id"])
        labels = [
            f"{name} ({cid})"
            for cid, name in zip(customers["customer_id"], customers["customer_name"], strict=True)
        ]
        figure = go.Figure(
            go.Heatmap(
                z=grid.to_numpy(),
                x=list(grid.columns),
                y=labels,
                zmid=0,
                colorscale="RdYlGn",
                colorbar={"title": {"text": formatting.CURRENCY_CODE}},
                hovertemplate="%{y}<br>%{x}<br>"
                + formatting.CURRENCY_SYMBOL
                + "%{z:,.0f}<extra></extra>",
            )
        )
        figure.update_yaxes(autorange="reversed")
        ui.plot(
            figure,
            t("profitability.heatmap_title"),
            x_title=t("unit.product"),
            y_title=t("unit.customer"),
            height=620,
        )
        st.caption(t("profitability.heatmap_help"))
