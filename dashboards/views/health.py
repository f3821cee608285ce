"""Data health: did last night's refresh work, what was loaded, what was quarantined and why."""

from datetime import UTC, datetime

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from cwdash import filters, formatting, queries, ui, warehouse
from cwdash.i18n import t

from pipelines.storage import read_run_records

RECENT_RUNS = 30

opened, _ = ui.start("health", applies=())
settings = warehouse.settings()


def _timestamp(text: str | None, pattern: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A run-log timestamp (ISO, UTC) in local time."""
    if not text:
        return "—"
    return f"{datetime.fromisoformat(text).astimezone():{pattern}}"


def _duration(run: dict) -> str:
    try:
        seconds = (
            datetime.fromisoformat(run["ended_at"]) - datetime.fromisoformat(run["started_at"])
        ).total_seconds()
    except (KeyError, TypeError, ValueError):
        return "—"
    return t("unit.seconds_value", value=f"{seconds:,.0f}")


# ---- the last refresh (the run log lives beside the warehouse, so failed runs show too) ------
st.subheader(t("health.last_refresh"))
runs = read_run_records(settings, limit=RECENT_RUNS)
if not runs:
    ui.empty("health.no_runs", path=str(settings.run_log_path))
else:
    last = runs[-1]
    succeeded = last.get("outcome") == "succeeded"
    message = t(
        "health.outcome_ok" if succeeded else "health.outcome_failed",
        ended=_timestamp(last.get("ended_at")),
        as_of=last.get("as_of", "—"),
        reason=last.get("reason", ""),
    )
    (st.success if succeeded else st.error)(message)
    row = st.columns(4)
    row[0].metric(
        t("health.started"), _timestamp(last.get("started_at"), "%m-%d %H:%M"), border=True
    )
    row[1].metric(t("health.duration"), _duration(last), border=True)
    row[2].metric(
        t("health.checks_passed"), formatting.count(last.get("checks_passed", 0)), border=True
    )
    failed = last.get("checks_failed") or []
    row[3].metric(t("health.checks_failed"), formatting.count(len(failed)), border=True)
    if failed:
        st.markdown(f"**{t('health.failed_checks')}**")
        ui.table(pd.DataFrame({"check": failed}), key="failed_checks")
    if not last.get("published", False):
        st.caption(t("health.not_published"))

    files = pd.DataFrame(last.get("files") or [])
    if not files.empty:
        st.markdown(f"**{t('health.last_run_files')}**")
        ui.table(
            files[
                [
                    "extract",
                    "file_name",
                    "status",
                    "rows_read",
                    "rows_loaded",
                    "rows_quarantined",
                    "message",
                ]
            ],
            key="last_run_files",
        )

    history = pd.DataFrame(
        {
            "started_at": [_timestamp(run.get("started_at")) for run in reversed(runs)],
            "outcome": [
                formatting.value_label("outcome", run.get("outcome")) for run in reversed(runs)
            ],
            "as_of": [run.get("as_of") for run in reversed(runs)],
            "trigger": [run.get("trigger") for run in reversed(runs)],
            "checks_failed": [len(run.get("checks_failed") or []) for run in reversed(runs)],
            "reason": [run.get("reason") for run in reversed(runs)],
        }
    )
    with st.expander(t("health.run_history", runs=len(runs))):
        ui.table(history, key="run_history")

# ---- the publish being served ------------------------------------------------------------
st.subheader(t("health.publish"))
if opened is not None:
    published = datetime.fromtimestamp(opened.publish.mtime_ns / 1e9, UTC).astimezone()
    age_hours = (datetime.now(UTC) - published).total_seconds() / 3600
    st.write(
        t(
            "health.publish_detail",
            path=opened.publish.path,
            published=f"{published:%Y-%m-%d %H:%M:%S}",
            hours=f"{age_hours:,.1f}",
            as_of=queries.warehouse_as_of(opened) or "—",
        )
    )
    if not ui.require(opened, queries.FILE_MANIFEST, queries.QUARANTINE):
        st.stop()

    # ---- rows per extract -------------------------------------------------------------------
    st.subheader(t("health.extracts"))
    loads = queries.loads_by_extract(opened)
    if loads.empty:
        ui.empty("health.no_files")
    else:
        figure = go.Figure()
        figure.add_trace(
            go.Bar(
                x=loads["extract"],
                y=loads["rows_loaded"],
                name=t("col.rows_loaded"),
                marker_color=ui.GOOD,
            )
        )
        figure.add_trace(
            go.Bar(
                x=loads["extract"],
                y=loads["rows_quarantined"],
                name=t("col.rows_quarantined"),
                marker_color=ui.BAD,
            )
        )
        figure.update_layout(barmode="group")
        figure.update_yaxes(type="log", dtick=1)  # ticks at powers of ten only
        ui.plot(
            figure,
            t("health.extracts_title"),
            x_title=t("col.extract"),
            y_title=t("unit.rows_log_axis"),
        )
        ui.table(loads, key="loads_by_extract")
        with st.expander(t("health.all_files")):
            ui.paged_table(
                opened, queries.manifest_files(), key="manifest", empty_key="health.no_files"
            )

    # ---- quarantined rows ---------------------------------------------------------------------
    st.subheader(t("health.quarantine"))
    rules = queries.quarantine_by_rule(opened)
    if rules.empty:
        ui.empty("health.no_quarantine")
    else:
        ui.table(rules, key="quarantine_rules")
        left, right = st.columns(2)
        extracts = [filters.ALL, *sorted(rules["extract"].unique())]
        extract = filters.chosen(
            left.selectbox(
                t("col.extract"),
                extracts,
                format_func=filters.option_labels(extracts),
                key="quarantine_extract",
            )
        )
        rule_options = rules if extract is None else rules[rules["extract"] == extract]
        rule_names = [filters.ALL, *sorted(rule_options["rule"].unique())]
        rule = filters.chosen(
            right.selectbox(
                t("col.rule"),
                rule_names,
                format_func=filters.option_labels(rule_names),
                key=f"quarantine_rule_{extract}",
            )
        )
        ui.paged_table(
            opened,
            queries.quarantine_sample(extract, rule),
            key="quarantine_sample",
            empty_key="health.no_quarantine",
        )
