"""ABC and key accounts: tiers, pyramid, tier migration, value x loyalty, key-account trend."""

import plotly.graph_objects as go
import streamlit as st
from cwdash import formatting, queries, ui
from cwdash.i18n import t

QUADRANT_COLOURS = {"star": "#2e7d32", "risky": "#c62828", "rising": "#1565c0", "weak": "#9e9e9e"}

opened, filters = ui.start("abc")
if opened is None:
    st.stop()

if ui.require(opened, queries.ABC):
    ui.as_of_note(opened)
    metric = formatting.value_label("ranking_metric", queries.ranking_metric(opened))

    # ---- tier and pyramid counts and shares ------------------------------------------------
    left, right = st.columns(2)
    for column, tier_column, title in (
        (left, "abc_tier", "abc.abc_title"),
        (right, "pyramid_tier", "abc.pyramid_title"),
    ):
        with column:
            tiers = queries.tier_summary(opened, filters, tier_column)
            if tier_column == "pyramid_tier":
                order = ["top", "major", "ordinary", "small"]
                tiers = tiers.set_index("tier").reindex(order).dropna(how="all").reset_index()
            labels = [formatting.value_label(tier_column, tier) for tier in tiers["tier"]]
            figure = go.Figure()
            figure.add_trace(
                go.Bar(
                    x=labels,
                    y=tiers["customer_share"],
                    name=t("overview.share_customers"),
                    marker_color=ui.NEUTRAL,
                    texttemplate="%{y:.1%}",
                )
            )
            figure.add_trace(
                go.Bar(
                    x=labels,
                    y=tiers["value_share"],
                    name=t("overview.share_value", metric=metric),
                    marker_color="#1565c0",
                    texttemplate="%{y:.1%}",
                )
            )
            figure.update_layout(barmode="group")
            figure.update_yaxes(tickformat=".0%")
            ui.plot(
                figure,
                t(title, metric=metric),
                x_title=t("overview.tier_axis"),
                y_title=t("overview.share_axis"),
            )
            ui.table(
                tiers.rename(columns={"tier": tier_column})[
                    [tier_column, "customers", "customer_share", "ranking_value", "value_share"]
                ],
                key=f"abc_{tier_column}",
            )

    # ---- tier migration ----------------------------------------------------------------------
    st.subheader(t("abc.migration"))
    compare_with = st.radio(
        t("abc.compare_with"),
        list(queries.TIER_COMPARISONS),
        format_func={option: t(f"abc.compare_{option}") for option in queries.TIER_COMPARISONS}.get,
        horizontal=True,
        key="abc_compare_with",
    )
    migration = queries.tier_migration(opened, filters, compare_with)
    if migration.empty:
        ui.empty("empty.no_customers")
    else:
        matrix = migration.pivot_table(
            index="earlier_tier",
            columns="current_tier",
            values="customers",
            aggfunc="sum",
            fill_value=0,
        )
        tiers = sorted(set(matrix.index) | set(matrix.columns))
        matrix = matrix.reindex(index=tiers, columns=tiers, fill_value=0)
        figure = go.Figure(
            go.Heatmap(
                z=matrix.to_numpy(),
                x=[formatting.value_label("abc_tier", tier) for tier in tiers],
                y=[formatting.value_label("abc_tier", tier) for tier in tiers],
                colorscale="Blues",
                texttemplate="%{z:,d}",
                colorbar={"title": {"text": t("unit.customers")}},
                hovertemplate="%{y} → %{x}: %{z:,d}<extra></extra>",
            )
        )
        figure.update_yaxes(autorange="reversed")
        ui.plot(
            figure,
            t("abc.migration_title"),
            x_title=t("abc.current_tier"),
            y_title=t(f"abc.earlier_tier_{compare_with}"),
            height=360,
        )
        moved = migration[migration["earlier_tier"] != migration["current_tier"]]
        st.caption(
            t(
                "abc.migration_reading",
                moved=formatting.count(moved["customers"].sum()),
                total=formatting.count(migration["customers"].sum()),
            )
        )

    # ---- value x loyalty quadrant ------------------------------------------------------------
    st.subheader(t("abc.quadrant"))
    points = queries.quadrant_points(opened, filters)
    counts = queries.quadrant_counts(opened, filters)
    if points.empty:
        ui.empty("empty.no_customers")
    else:
        left, right = st.columns([3, 2])
        with left:
            positive = points[points["ranking_value"] > 0]
            figure = go.Figure()
            for quadrant, colour in QUADRANT_COLOURS.items():
                group = positive[positive["loyalty_quadrant"] == quadrant]
                if group.empty:
                    continue
                figure.add_trace(
                    go.Scatter(
                        x=group["ranking_value"],
                        y=group["active_months"],
                        mode="markers",
                        name=formatting.value_label("loyalty_quadrant", quadrant),
                        marker={"color": colour, "size": 8, "opacity": 0.7},
                        customdata=group[["customer_name", "customer_id"]],
                        hovertemplate="%{customdata[0]} (%{customdata[1]})<br>"
                        + formatting.CURRENCY_SYMBOL
                        + "%{x:,.0f} · %{y} "
                        + t("unit.months")
                        + "<extra></extra>",
                    )
                )
            figure.update_xaxes(type="log")
            ui.plot(
                figure,
                t("abc.quadrant_title", metric=metric),
                x_title=t("abc.quadrant_x", metric=metric, currency=formatting.CURRENCY_CODE),
                y_title=t("abc.quadrant_y"),
                money_axis="x",
                height=440,
            )
            notes = [t("abc.quadrant_help")]
            if len(points) >= queries.SCATTER_POINTS:
                notes.append(t("abc.quadrant_sample", points=formatting.count(len(points))))
            if len(positive) < len(points):
                notes.append(
                    t(
                        "abc.quadrant_hidden",
                        customers=formatting.count(len(points) - len(positive)),
                    )
                )
            st.caption(" ".join(notes))
        with right:
            ui.table(counts, key="abc_quadrants")
            for quadrant in QUADRANT_COLOURS:
                st.caption(
                    f"**{formatting.value_label('loyalty_quadrant', quadrant)}**: "
                    + t(f"abc.quadrant_{quadrant}")
                )

# ---- key-account trend (monthly, whole book) --------------------------------------------------
st.subheader(t("abc.key_accounts"))
if ui.require(opened, queries.KEY_ACCOUNT_TREND) and ui.require_month(filters):
    ui.whole_book_note(filters)
    trend = queries.key_account_trend(
        opened, queries.month_end_shift(filters.month_end, -23), filters.month_end
    )
    if trend.empty:
        ui.empty("empty.no_activity")
    else:
        months = ui.month_labels(trend)
        figure = go.Figure()
        figure.add_trace(
            go.Bar(x=months, y=trend["entered"], name=t("col.entered"), marker_color=ui.GOOD)
        )
        figure.add_trace(
            go.Bar(
                x=months,
                y=-trend["dropped"],
                name=t("col.dropped"),
                marker_color=ui.BAD,
                customdata=trend["dropped"],
                hovertemplate="%{x}: %{customdata}<extra></extra>",
            )
        )
        figure.add_trace(
            go.Scatter(
                x=months,
                y=trend["key_accounts"],
                name=t("col.key_accounts"),
                mode="lines+markers",
                line={"color": "#1565c0"},
            )
        )
        figure.update_layout(barmode="relative")
        ui.plot(
            figure,
            t("abc.key_accounts_title"),
            x_title=t("unit.month"),
            monthly=True,
            y_title=t("unit.customers"),
        )
        latest = trend.iloc[-1]
        team = "abc.team_yes" if latest["is_above_team_threshold"] else "abc.team_no"
        st.caption(t(team, accounts=formatting.count(latest["key_accounts"])))
