"""Page furniture shared by every page: header, empty states, KPIs, charts and paged tables."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from cwdash import formatting, queries, warehouse
from cwdash.filters import DIMENSIONS, Filters, current
from cwdash.i18n import t
from cwdash.warehouse import Warehouse

PAGE_SIZE = 25
CHART_HEIGHT = 380
# Legends with more entries than this are drawn as a column beside the plot.
LEGEND_ROW_ENTRIES = 3
# Colours that keep their meaning on every chart.
GOOD, BAD, NEUTRAL = "#2e7d32", "#c62828", "#607d8b"
TIER_COLOURS = {"A": "#1565c0", "B": "#64b5f6", "C": "#cfd8dc"}
BUCKET_COLOURS = ("#66bb6a", "#d4e157", "#ffee58", "#ffa726", "#ff7043", "#e53935", "#8e0000")

# How table columns are shown, by column name (labels come from i18n "col.<name>").
MONEY_COLUMNS = {
    *queries.PROFIT_COLUMNS,
    *queries.RECEIVABLES_MONEY,
    "amount",
    "open_amount",
    "paid_amount",
    "credit_limit",
    "open_ar",
    "over_by",
    "monetary_12m",
    "contribution",
    "customer_revenue",
    "ranking_value",
}
FRACTION_COLUMNS = {
    "contribution_pct",
    "gross_margin_pct",
    "utilization",
    "complaint_rate",
    "customer_share",
    "value_share",
}
# Scores and averages shown with one decimal.
DECIMAL_COLUMNS = {"csat_index", "credit_score", "frequency_12m", "expected_orders_recent_window"}
# Whole days (shown like counts) and averages of days (one decimal).
WHOLE_DAYS_COLUMNS = {"days_past_due", "max_days_past_due", "recency_days"}
DAYS_COLUMNS = {
    "typical_gap_days",
    "dso_simple",
    "dso_countback",
    "best_possible_dso",
    "avg_days_to_resolve",
}
COUNT_COLUMNS = {
    *WHOLE_DAYS_COLUMNS,
    "customers",
    "orders_12m",
    "orders_recent_window",
    "complaints_12m",
    "complaints",
    "valid_complaints",
    "open_complaints",
    "files",
    "rejected_files",
    "rows_read",
    "rows_loaded",
    "rows_quarantined",
    "quarantined_rows",
    "line",
    "over_limit_customers",
    "key_accounts",
    "checks_failed",
}
DATE_COLUMNS = {"invoice_date", "due_date", "limitation_date", "month_end"}
DATETIME_COLUMNS = {"processed_at", "last_processed_at", "quarantined_at"}
FLAG_COLUMNS = {"is_disputed", "is_closed"}
# Columns holding one code, translated through "value.<kind>.<code>".
ENUM_COLUMNS = {
    "abc_tier": "abc_tier",
    "aging_bucket": "aging_bucket",
    "product_mix_class": "product_mix_class",
    "profitability_class": "profitability_class",
    "defection_risk": "risk",
    "rfm_segment": "rfm_segment",
    "loyalty_quadrant": "loyalty_quadrant",
    "pyramid_tier": "pyramid_tier",
    "status": "file_status",
    "category": "complaint_category",
}
# Columns holding comma-separated codes.
CODE_COLUMNS = {"defection_reasons": "defection_reason", "reason_codes": "reason_code"}


# ---- page frame --------------------------------------------------------------------------------
def start(
    page: str, *, applies: Iterable[str] = ("month", *DIMENSIONS)
) -> tuple[Warehouse | None, Filters]:
    """Title, introduction and the filters in force; the warehouse or None (message shown)."""
    st.title(t(f"nav.{page}"))
    st.caption(t(f"{page}.intro"))
    filters = current()
    _filter_caption(filters, set(applies))
    opened = warehouse.current()
    if opened is None:
        st.warning(t("empty.no_warehouse", path=str(warehouse.settings().published_path)))
    return opened, filters


def _filter_caption(filters: Filters, applies: set[str]) -> None:
    shown, ignored = [], []
    if filters.month_end is not None and "month" in applies:
        month = formatting.month_label(filters.month_end)
        shown.append(t("unit.pair", name=t("filter.month"), value=month))
    for name, value in filters.dimensions().items():
        label = t("unit.pair", name=t(f"filter.{name}"), value=formatting.value_label(name, value))
        (shown if name in applies else ignored).append(label)
    if shown:
        st.caption(t("filter.applied", filters=" · ".join(shown)))
    if ignored:
        st.caption(t("filter.ignored", filters=" · ".join(ignored)))


def require(opened: Warehouse, *tables: str) -> bool:
    """True when every table exists; otherwise say which are not built yet."""
    missing = [table for table in tables if not opened.has(table)]
    if missing:
        st.info(t("empty.not_built", tables=", ".join(missing)))
    return not missing


def require_month(filters: Filters) -> bool:
    if filters.month_end is None:
        st.info(t("empty.no_months"))
        return False
    return True


def empty(key: str, **values) -> None:
    """An empty state that says why there is nothing to show."""
    st.info(t(key, **values))


def whole_book_note(filters: Filters) -> None:
    """For charts whose mart is not split by customer: say that the filters do not apply."""
    if filters.has_dimensions:
        st.caption(t("filter.whole_book"))


def as_of_note(opened: Warehouse) -> None:
    """Customer-level marts are snapshots at the warehouse's as-of date, not per month."""
    as_of = queries.warehouse_as_of(opened)
    if as_of is not None:
        st.caption(t("filter.snapshot", date=as_of))


# ---- KPIs --------------------------------------------------------------------------------------
_FORMATTERS = {
    "money": lambda v: formatting.money(v, compact=True),
    "count": formatting.count,
    "days": formatting.days,
    "score": formatting.score,
}


def kpi(
    column,
    label: str,
    series: dict,
    kind: str,
    *,
    lower_is_better: bool = False,
    help: str | None = None,
) -> None:
    """A KPI for the selected month: value, change vs last month (the delta), change vs last
    year (the caption) and a sparkline of the 13 months in between.

    ``series`` maps month ends (dates) to values; missing months count as unknown.
    """
    months = sorted(series)
    month_end = current().month_end
    compared = queries.comparison_months(month_end) if month_end else {}
    value = series.get(compared.get("current"))
    month_change = formatting.change(value, series.get(compared.get("last_month")), kind)
    year_change = formatting.change(value, series.get(compared.get("last_year")), kind)
    trend = [series[m] for m in months if not formatting.is_missing(series[m])]
    column.metric(
        label,
        _FORMATTERS[kind](value),
        delta=month_change,
        delta_color="inverse" if lower_is_better else "normal",
        delta_description=t("kpi.vs_last_month") if month_change else None,
        help=help,
        border=True,
        chart_data=trend if len(trend) > 1 else None,
        chart_type="area",
    )
    column.caption(t("unit.pair", name=t("kpi.vs_last_year"), value=year_change or "—"))


# ---- charts ------------------------------------------------------------------------------------
def plot(
    figure: go.Figure,
    title: str,
    *,
    x_title: str | None = None,
    y_title: str | None = None,
    money_axis: str | None = None,
    monthly: bool = False,
    height: int = CHART_HEIGHT,
    key: str | None = None,
) -> None:
    """Show a chart with its title, axis titles (with units) and money ticks on ``money_axis``.

    ``monthly`` charts have month labels on x (see ``month_labels``), kept as written instead of
    being parsed as dates (which plotly would label in English).
    """
    entries = sum(1 for trace in figure.data if trace.showlegend is not False)
    if entries > LEGEND_ROW_ENTRIES:
        # Too many entries for one row above the plot: a column on the right.
        legend = {"orientation": "v", "yanchor": "top", "y": 1, "x": 1.02, "xanchor": "left"}
    else:
        # One row between the title and the plot, clear of the axis titles.
        legend = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "xanchor": "left"}
    figure.update_layout(
        title={"text": title},
        height=height,
        margin={"l": 10, "r": 10, "t": 90, "b": 10},
        legend={**legend, "traceorder": "normal"},
        separators=".,",
    )
    if x_title is not None:
        figure.update_xaxes(title_text=x_title)
    if monthly:
        figure.update_xaxes(type="category")
    if y_title is not None:
        figure.update_yaxes(title_text=y_title)
    if money_axis == "y":
        figure.update_yaxes(tickprefix=formatting.CURRENCY_SYMBOL, tickformat="~s")
    elif money_axis == "x":
        figure.update_xaxes(tickprefix=formatting.CURRENCY_SYMBOL, tickformat="~s")
    st.plotly_chart(figure, width="stretch", config={"displaylogo": False}, key=key)


def aging_bars(frame: pd.DataFrame, months: list[str]) -> go.Figure:
    """Open receivables per month stacked by aging bucket (the book's or one customer's)."""
    figure = go.Figure()
    for bucket, colour in zip(queries.AGING_BUCKETS, BUCKET_COLOURS, strict=True):
        label = formatting.value_label("aging_bucket", bucket.removeprefix("ar_"))
        figure.add_trace(
            go.Bar(
                x=months,
                y=frame[bucket],
                name=label,
                marker_color=colour,
                hovertemplate=money_hover(label),
            )
        )
    figure.update_layout(barmode="stack")
    return figure


def money_hover(name: str) -> str:
    """A hover template line showing money exactly: name, month and amount."""
    return f"{name}<br>%{{x}}<br>{formatting.CURRENCY_SYMBOL}%{{y:,.0f}}<extra></extra>"


def by_month(frame: pd.DataFrame | None, column: str) -> dict:
    """``{month end (date): value}`` of one column of a monthly frame (empty when no frame)."""
    if frame is None or frame.empty or column not in frame:
        return {}
    return {
        pd.Timestamp(month).date(): value
        for month, value in zip(frame["month_end"], frame[column], strict=True)
    }


def month_labels(frame: pd.DataFrame) -> list[str]:
    """Month labels for a chart's x axis (partial months marked)."""
    partial = frame["is_partial_month"] if "is_partial_month" in frame else [False] * len(frame)
    return [
        formatting.month_label(pd.Timestamp(month).date(), bool(is_partial))
        for month, is_partial in zip(frame["month_end"], partial, strict=True)
    ]


# ---- tables ------------------------------------------------------------------------------------
def table(frame: pd.DataFrame, *, key: str | None = None, height: int | str = "auto") -> None:
    """A table with translated headers, translated codes and formatted money/percent/days."""
    shown = frame.copy()
    if {"customer_id", "customer_name"} <= set(shown.columns):
        # The name right after the id (lists add the name to the page last).
        order = [c for c in shown.columns if c != "customer_name"]
        order.insert(order.index("customer_id") + 1, "customer_name")
        shown = shown[order]
    config = {}
    for column in shown.columns:
        label = t(f"col.{column}")
        if column in ENUM_COLUMNS:
            shown[column] = [formatting.value_label(ENUM_COLUMNS[column], v) for v in shown[column]]
            config[column] = st.column_config.TextColumn(label)
        elif column in CODE_COLUMNS:
            shown[column] = [formatting.codes_label(CODE_COLUMNS[column], v) for v in shown[column]]
            config[column] = st.column_config.TextColumn(label)
        elif column in MONEY_COLUMNS:
            # The currency goes in the header: a printf prefix would print "¥-1,234.00".
            config[column] = st.column_config.NumberColumn(
                f"{label} ({formatting.CURRENCY_SYMBOL})", format=formatting.MONEY_COLUMN_FORMAT
            )
        elif column in FRACTION_COLUMNS:
            config[column] = st.column_config.NumberColumn(label, format="percent")
        elif column in DECIMAL_COLUMNS:
            config[column] = st.column_config.NumberColumn(
                label, format=formatting.DECIMAL_COLUMN_FORMAT
            )
        elif column in DAYS_COLUMNS:
            config[column] = st.column_config.NumberColumn(
                label, format=formatting.DAYS_COLUMN_FORMAT
            )
        elif column in COUNT_COLUMNS:
            config[column] = st.column_config.NumberColumn(
                label, format=formatting.COUNT_COLUMN_FORMAT
            )
        elif column in DATE_COLUMNS:
            config[column] = st.column_config.DateColumn(label, format="YYYY-MM-DD")
        elif column in DATETIME_COLUMNS:
            config[column] = st.column_config.DatetimeColumn(label, format="YYYY-MM-DD HH:mm")
        elif column in FLAG_COLUMNS:
            config[column] = st.column_config.CheckboxColumn(label)
        else:
            config[column] = st.column_config.Column(label)
    st.dataframe(shown, column_config=config, hide_index=True, key=key, height=height)


def paged_table(opened: Warehouse, listing: queries.Listing, *, key: str, empty_key: str) -> int:
    """One page of ``listing`` with a page picker; returns the number of rows in the listing."""
    total = queries.count_rows(opened, listing)
    if total == 0:
        empty(empty_key)
        return 0
    pages = math.ceil(total / PAGE_SIZE)
    picker, summary = st.columns([1, 4], vertical_alignment="bottom")
    # The page count is part of the key: when the filters change the list, page 1 shows again.
    page = int(
        picker.number_input(
            t("table.page", pages=pages),
            min_value=1,
            max_value=pages,
            value=1,
            step=1,
            key=f"{key}_page_{pages}",
        )
    )
    first = (page - 1) * PAGE_SIZE + 1
    summary.caption(
        t(
            "table.rows",
            first=formatting.count(first),
            last=formatting.count(min(page * PAGE_SIZE, total)),
            total=formatting.count(total),
        )
    )
    table(queries.page_rows(opened, listing, page, PAGE_SIZE), key=f"{key}_table")
    return total
