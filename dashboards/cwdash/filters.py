"""The global sidebar filters: as-of month, region, channel, sales rep and tier.

The widgets live in the entry script's sidebar, so their values survive page switches; pages read
the current selection with ``current()``. How a selection becomes SQL is in ``queries``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime

import streamlit as st

from cwdash import formatting, queries
from cwdash.i18n import t
from cwdash.warehouse import Warehouse

# Customer attributes the sidebar filters on, in sidebar order; each is a column of the
# ``dims`` view and of the monthly cubes (see queries).
DIMENSIONS = ("region", "channel", "sales_rep", "abc_tier")
# The "all" option of a select. It must be a real value: Streamlit shows a None value as "no
# selection" once the widget is redrawn (e.g. after a language switch).
ALL = "__all__"
_STATE_KEY = "filters"


@dataclass(frozen=True)
class Filters:
    month_end: date | None = None
    region: str | None = None
    channel: str | None = None
    sales_rep: str | None = None
    abc_tier: str | None = None

    def dimensions(self) -> dict[str, str]:
        """The customer-attribute filters that are set (None means "all")."""
        return {
            field.name: getattr(self, field.name)
            for field in fields(self)
            if field.name in DIMENSIONS and getattr(self, field.name) is not None
        }

    @property
    def has_dimensions(self) -> bool:
        return bool(self.dimensions())


def chosen(value: str) -> str | None:
    """A select's value as a filter: None for the "all" option."""
    return None if value == ALL else value


def option_labels(options: list, kind: str | None = None):
    """``format_func`` for a select whose options may include ALL; ``kind`` names the codes.

    Labels are resolved while the widget is drawn, because Streamlit may call ``format_func``
    outside the page run, where the language is not known (the same reason every
    ``format_func`` of the dashboard is a dictionary built in the run).
    """
    labels = {
        value: t("filter.all")
        if value == ALL
        else (formatting.value_label(kind, value) if kind else str(value))
        for value in options
    }
    return labels.get


def current() -> Filters:
    return st.session_state.get(_STATE_KEY, Filters())


def _reset() -> None:
    for dimension in DIMENSIONS:
        st.session_state[f"filter_{dimension}"] = ALL
    st.session_state.pop("filter_month", None)


def sidebar(warehouse: Warehouse | None) -> Filters:
    """Render the filters and remember the selection for the page about to run."""
    selection = Filters()
    with st.sidebar:
        st.subheader(t("filter.heading"))
        if warehouse is None:
            st.caption(t("filter.no_warehouse"))
        else:
            months = queries.month_options(warehouse)
            partial = dict(zip(months["month_end"], months["is_partial_month"], strict=True))
            month_end = st.selectbox(
                t("filter.month"),
                list(partial),
                format_func={m: formatting.month_label(m, p) for m, p in partial.items()}.get,
                key="filter_month",
                help=t("filter.month_help"),
            )
            options = queries.dimension_options(warehouse)
            dimensions = {}
            for dimension in DIMENSIONS:
                values = options.get(dimension, [])
                dimensions[dimension] = chosen(
                    st.selectbox(
                        t(f"filter.{dimension}"),
                        [ALL, *values],
                        format_func=option_labels([ALL, *values], dimension),
                        key=f"filter_{dimension}",
                        disabled=not values,
                    )
                )
            st.button(t("filter.reset"), on_click=_reset, key="filter_reset")
            selection = Filters(month_end=month_end, **dimensions)
            published = datetime.fromtimestamp(warehouse.publish.mtime_ns / 1e9)
            st.caption(
                t(
                    "filter.published",
                    as_of=queries.warehouse_as_of(warehouse) or "—",
                    published=f"{published:%Y-%m-%d %H:%M}",
                )
            )
    st.session_state[_STATE_KEY] = selection
    return selection
