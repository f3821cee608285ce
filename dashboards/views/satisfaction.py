"""Satisfaction and loyalty: CSAT, NPS, attribute gaps, complaints, RFM and the watch lists."""

import plotly.graph_objects as go
import streamlit as st
from cwdash import formatting, queries, ui
from cwdash.i18n import t

IPA_COLOURS = {
    "fix_first": "#c62828",
    "keep_up": "#2e7d32",
    "low_priority": "#9e9e9e",
    "possible_overkill": "#f9a825",
}

opened, filters = ui.start("satisfaction")
if opened is None:
    st.stop()

# ---- CSAT and NPS trends (monthly mart, per segment) ------------------------------------------
if ui.require(opened, queries.SATISFACTION_MONTHLY) and ui.require_month(filters):
    segment = queries.satisfaction_segment(filters)
    if segment is None:
        ui.empty("satisfaction.no_segment")
    else:
        trend = queries.satisfaction_trend(
            opened, segment, queries.month_end_shift(filters.month_end, -23), filters.month_end
        )
        if trend.empty:
            ui.empty("empty.no_surveys")
        else:
            months = ui.month_labels(trend)
            left, right = st.columns(2)
            with left:
                figure = go.Figure()
                figure.add_trace(
                    go.Scatter(
                        x=months,
                        y=trend["csat_top2_pct"],
                        name=t("col.csat_top2_pct"),
                        mode="lines+markers",
                        error_y={
                            "type": "data",
                            "array": trend["csat_top2_margin_of_error"],
                            "visible": True,
                        },
                    )
                )
                figure.add_trace(
                    go.Scatter(
                        x=months,
                        y=trend["csat_index"],
                        name=t("col.csat_index"),
                        mode="lines+markers",
                    )
                )
                figure.update_yaxes(range=[0, 105])
                ui.plot(
                    figure,
                    t("satisfaction.csat_title"),
                    x_title=t("unit.month"),
                    monthly=True,
                    y_title=t("unit.score_axis"),
                )
            with right:
                figure = go.Figure(
                    go.Scatter(
                        x=months,
                        y=trend["nps"],
                        name=t("col.nps"),
                        mode="lines+markers",
                        error_y={
                            "type": "data",
                            "array": trend["nps_margin_of_error"],
                            "visible": True,
                        },
                        customdata=trend["nps_responses"],
                        hovertemplate="%{x}: %{y:+.1f} (n=%{customdata})<extra></extra>",
                    )
                )
                figure.add_hline(y=0, line_color=ui.NEUTRAL, line_dash="dot")
                figure.update_yaxes(range=[-100, 100])
                ui.plot(
                    figure,
                    t("satisfaction.nps_title"),
                    x_title=t("unit.month"),
                    monthly=True,
                    y_title=t("unit.nps_axis"),
                )
            suppressed = int(trend["is_suppressed"].sum())
            notes = [t("satisfaction.moe_help")]
            if suppressed:
                notes.append(t("satisfaction.suppressed", months=suppressed))
            st.caption(" ".join(notes))

# ---- attribute gaps and importance-performance (whole book) -----------------------------------
if ui.require(opened, queries.SATISFACTION_ATTRIBUTES):
    st.subheader(t("satisfaction.attributes"))
    ui.whole_book_note(filters)
    attributes = queries.attributes(opened)
    shown = attributes[~attributes["is_suppressed"]]
    if shown.empty:
        ui.empty("empty.no_surveys")
    else:
        labels = [formatting.value_label("attribute", a) for a in shown["attribute"]]
        left, right = st.columns(2)
        with left:
            figure = go.Figure(
                go.Bar(
                    x=shown["gap"],
                    y=labels,
                    orientation="h",
                    marker_color=[ui.BAD if gap < 0 else ui.GOOD for gap in shown["gap"]],
                    texttemplate="%{x:+.2f}",
                )
            )
            ui.plot(
                figure,
                t("satisfaction.gap_title"),
                x_title=t("satisfaction.gap_axis"),
                y_title=t("unit.attribute"),
            )
            st.caption(t("satisfaction.gap_help"))
        with right:
            figure = go.Figure()
            for quadrant, colour in IPA_COLOURS.items():
                group = shown[shown["ipa_quadrant"] == quadrant]
                if group.empty:
                    continue
                figure.add_trace(
                    go.Scatter(
                        x=group["perception"],
                        y=group["importance"],
                        mode="markers+text",
                        name=formatting.value_label("ipa_quadrant", quadrant),
                        text=[formatting.value_label("attribute", a) for a in group["attribute"]],
                        textposition="top center",
                        marker={"size": 14, "color": colour},
                    )
                )
            # Room for the labels of the outermost attributes.
            figure.update_xaxes(
                range=[shown["perception"].min() - 0.2, shown["perception"].max() + 0.2]
            )
            figure.add_vline(
                x=float(shown["performance_crosshair"].iloc[0]),
                line_dash="dash",
                line_color=ui.NEUTRAL,
            )
            figure.add_hline(
                y=float(shown["importance_crosshair"].iloc[0]),
                line_dash="dash",
                line_color=ui.NEUTRAL,
            )
            ui.plot(
                figure,
                t("satisfaction.ipa_title"),
                x_title=t("satisfaction.ipa_x"),
                y_title=t("satisfaction.ipa_y"),
            )
            st.caption(t("satisfaction.ipa_help"))

# ---- complaints (12 months to the as-of month) -----------------------------------------------
st.subheader(t("satisfaction.complaints"))
if ui.require(opened, queries.COMPLAINTS) and ui.require_month(filters):
    complaints = queries.complaints_by_category(opened, filters, filters.month_end)
    st.caption(t("satisfaction.complaints_help", month=formatting.month_label(filters.month_end)))
    if complaints.empty:
        ui.empty("empty.no_complaints")
    else:
        left, right = st.columns([3, 2])
        with left:
            labels = [
                formatting.value_label("complaint_category", c) for c in complaints["category"]
            ]
            figure = go.Figure()
            figure.add_trace(
                go.Bar(
                    x=labels,
                    y=complaints["valid_complaints"],
                    name=t("col.valid_complaints"),
                    marker_color="#1565c0",
                )
            )
            figure.add_trace(
                go.Bar(
                    x=labels,
                    y=complaints["open_complaints"],
                    name=t("col.open_complaints"),
                    marker_color=ui.BAD,
                )
            )
            figure.update_layout(barmode="group")
            ui.plot(
                figure,
                t("satisfaction.complaints_title"),
                x_title=t("col.category"),
                y_title=t("unit.complaints"),
            )
        with right:
            ui.table(complaints, key="complaints")

# ---- RFM segments and the watch lists (as of the warehouse date) ----------------------------
st.subheader(t("satisfaction.loyalty"))
ui.as_of_note(opened)
if ui.require(opened, queries.LOYALTY):
    segments = queries.rfm_segments(opened, filters)
    if segments.empty:
        ui.empty("empty.no_customers")
    else:
        left, right = st.columns([3, 2])
        with left:
            labels = [formatting.value_label("rfm_segment", s) for s in segments["rfm_segment"]]
            figure = go.Figure(
                go.Bar(
                    x=labels,
                    y=segments["customers"],
                    marker_color="#1565c0",
                    customdata=segments["monetary_12m"],
                    texttemplate="%{y:,d}",
                    hovertemplate="%{x}: %{y:,d}<br>"
                    + formatting.CURRENCY_SYMBOL
                    + "%{customdata:,.0f}<extra></extra>",
                )
            )
            ui.plot(
                figure,
                t("satisfaction.rfm_title"),
                x_title=t("col.rfm_segment"),
                y_title=t("unit.customers"),
            )
        with right:
            ui.table(segments, key="rfm_segments")
    st.markdown(f"**{t('satisfaction.defection')}**")
    st.caption(t("satisfaction.defection_help"))
    ui.paged_table(
        opened,
        queries.defection_risk_customers(filters),
        key="defection",
        empty_key="empty.no_defection",
    )
if ui.require(opened, queries.SATISFACTION):
    st.markdown(f"**{t('satisfaction.hidden')}**")
    st.caption(t("satisfaction.hidden_help"))
    ui.paged_table(
        opened,
        queries.hidden_dissatisfaction(filters),
        key="hidden",
        empty_key="empty.no_hidden",
    )
