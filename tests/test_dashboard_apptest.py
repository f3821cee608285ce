"""The dashboard under Streamlit's AppTest: every page, both languages, every filter path, the
empty states, a new publish landing, and the numbers against the marts."""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook
from streamlit.testing.v1 import AppTest

from tests.dashboard_support import (
    APP,
    DASHBOARD_DIR,
    FAILED_CHECK,
    LANGUAGES,
    PAGES,
    QUARANTINED,
    add_quarantine_and_failed_run,
    copy_warehouse,
    exports,
    filters,
    formatting,
    i18n,
    key_numbers,
    queries,
    unbuilt_warehouse,
    warehouse,
)

TIMEOUT = 120
PAGE_FILES = dict(PAGES)
# What each page must show with a fully built warehouse: (plotly charts, at least n tables).
EXPECTED_ELEMENTS = {
    "overview": (2, 1),
    "profitability": (3, 2),
    "abc": (5, 3),
    "credit": (3, 5),
    "satisfaction": (6, 4),
    "customer": (0, 0),
    "health": (1, 2),
}
# Text that looks like an i18n key: t() shows unknown keys as themselves.
KEY_PATTERN = re.compile(r"\b(nav|filter|kpi|col|unit|empty|value|table|health|credit|abc)\.[a-z]")


def run_page(page: str, language: str = "en", **widgets) -> AppTest:
    """The app on ``page`` in ``language``, with sidebar widgets set by key first."""
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    app.sidebar.radio(key="language").set_value(language).run()
    for key, value in widgets.items():
        app.sidebar.selectbox(key=key).select(value).run()
    app.switch_page(PAGE_FILES[page]).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def texts(app: AppTest) -> list[str]:
    shown = []
    for kind in (
        "title",
        "header",
        "subheader",
        "caption",
        "markdown",
        "info",
        "warning",
        "error",
        "success",
    ):
        shown += [str(element.value) for element in getattr(app, kind)]
    shown += [metric.label for metric in app.metric]
    return shown


def chart_specs(app: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


@pytest.fixture
def published_env(published_warehouse, monkeypatch) -> Path:
    monkeypatch.setenv("CW_WAREHOUSE_DIR", str(published_warehouse.parent))
    return published_warehouse


# ---- every page in both languages --------------------------------------------------------------
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("page", [name for name, _ in PAGES])
def test_every_page_renders_in_both_languages(published_env, page, language):
    app = run_page(page, language)
    shown = texts(app)
    assert app.title[0].value == i18n.STRINGS[language][f"nav.{page}"]
    charts, tables = EXPECTED_ELEMENTS[page]
    specs = chart_specs(app)
    assert len(specs) >= charts
    assert len(app.dataframe) >= tables
    # Every mart exists in this warehouse: no "not built yet" anywhere.
    not_built = i18n.STRINGS[language]["empty.not_built"].split("{")[0]
    assert not [text for text in shown if text.startswith(not_built)]
    # Every label is translated and every chart has a title.
    assert not [text for text in shown if KEY_PATTERN.search(text)]
    for spec in specs:
        title = spec["layout"]["title"]["text"]
        assert title and not KEY_PATTERN.search(title)
    for frame in app.dataframe:
        assert not [c for c in frame.value.columns if KEY_PATTERN.search(str(c))]
    if language == "zh":
        assert any(re.search(r"[\u4e00-\u9fff]", text) for text in shown[1:])


def test_overview_kpis_match_the_marts(published_env):
    expected = key_numbers(published_env)
    app = run_page("overview")
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Net revenue"] == formatting.money(expected.revenue, compact=True)
    assert metrics["Open receivables"] == formatting.money(expected.open_ar, compact=True)
    assert metrics["Over-limit customers"] == formatting.count(expected.over_limit_customers)
    assert metrics["Key accounts"] == formatting.count(expected.key_accounts)
    assert len(app.metric) == 10
    reading = [text for text in texts(app) if text.startswith("The top 20% of customers")]
    assert reading and formatting.percent(expected.top20_share) in reading[0]


# ---- filters -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dimension", filters.DIMENSIONS)
@pytest.mark.parametrize("page", [name for name, _ in PAGES])
def test_each_filter_on_each_page(published_env, page, dimension):
    # AppTest selects by value (its options are the shown labels): take a value from the data.
    value = queries.dimension_options(warehouse.current())[dimension][0]
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    app.sidebar.selectbox(key=f"filter_{dimension}").select(value).run()
    app.switch_page(PAGE_FILES[page]).run()
    assert not app.exception, [e.value for e in app.exception]
    captions = [caption.value for caption in app.caption]
    label = f"{i18n.EN[f'filter.{dimension}']}: {formatting.value_label(dimension, value)}"
    if page in ("customer", "health"):  # the filter does not apply there, and says so
        assert any(c.startswith("Not applied on this page") and label in c for c in captions)
    else:
        assert any(c.startswith("Showing:") and label in c for c in captions)


def test_region_filter_changes_the_numbers(published_env):
    expected = key_numbers(published_env)
    app = run_page("overview", filter_region=expected.busiest_region)
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Net revenue"] == formatting.money(expected.busiest_region_revenue, compact=True)
    # The key-account trend is not split by region: the page says so.
    assert any("Key accounts count all customers" in text for text in texts(app))


def test_combined_filters_and_an_earlier_month(published_env):
    opened = warehouse.current()
    month = queries.month_options(opened)["month_end"][12]
    options = queries.dimension_options(opened)
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    app.sidebar.selectbox(key="filter_month").select(month).run()
    app.sidebar.selectbox(key="filter_region").select(options["region"][0]).run()
    app.sidebar.selectbox(key="filter_abc_tier").select("A").run()
    for _, page_file in PAGES:
        app.switch_page(page_file).run()
        assert not app.exception, (page_file, [e.value for e in app.exception])
        if page_file == "views/satisfaction.py":
            # Two satisfaction segments at once: the page explains instead of guessing.
            assert any(i18n.EN["satisfaction.no_segment"] == info.value for info in app.info)
    app.switch_page("views/overview.py").run()
    assert any(f"{month:%Y-%m}" in caption.value for caption in app.caption)
    app.sidebar.button(key="filter_reset").click().run()
    assert app.sidebar.selectbox(key="filter_region").value == filters.ALL


def test_filter_with_no_customers_shows_empty_states(published_env):
    """A filter value that matches nobody (e.g. after a publish dropped it) empties every list."""
    no_one = filters.Filters(month_end=key_numbers(published_env).as_of_month, region="Atlantis")
    opened = warehouse.current()
    assert queries.count_rows(opened, queries.loss_customers(no_one)) == 0
    assert queries.profit_by_month(opened, no_one, no_one.month_end, no_one.month_end).empty
    curve, _ = queries.pareto(opened, no_one)
    assert curve.empty


# ---- lists, search and downloads ---------------------------------------------------------------
def test_lists_are_paged(published_env):
    expected = key_numbers(published_env)
    app = run_page("profitability")
    assert any(f"Rows 1–25 of {expected.loss_customers}" == c.value for c in app.caption)
    picker = app.number_input(key=f"loss_customers_page_{-(-expected.loss_customers // 25)}")
    picker.set_value(2).run()
    assert any(c.value.startswith("Rows 26–") for c in app.caption)


def test_customer_card_search(published_env):
    con = duckdb.connect(str(published_env), read_only=True)
    customer_id, name, action = con.execute(
        "select customer_id, customer_name, recommended_action from marts.customer_card"
        " order by net_revenue_12m desc nulls last limit 1"
    ).fetchone()
    con.close()
    app = run_page("customer")
    assert app.info[0].value == i18n.EN["customer.search_hint"]

    app.text_input(key="card_search").input(customer_id).run()
    assert not app.exception
    assert app.header[0].value == name
    assert len(app.metric) == 8
    assert len(chart_specs(app)) == 2
    assert formatting.value_label("action", action) in "".join(
        box.value for kind in ("error", "warning", "success", "info") for box in getattr(app, kind)
    )

    app.text_input(key="card_search").input(name[3:9].lower()).run()
    assert app.header[0].value  # a name fragment, case-insensitive, finds customers

    # Search text is bound as a parameter: quotes and wildcards are plain text.
    for text in ("' or 1=1 --", "%", "_"):
        app.text_input(key="card_search").input(text).run()
        assert not app.exception
        assert not app.header, text


def test_receivables_downloads_hold_the_month(published_env):
    expected = key_numbers(published_env)
    app = run_page("credit")
    labels = [button.proto.label for button in app.get("download_button")]
    assert labels == ["Download CSV", "Download Excel"]
    opened = warehouse.current()
    selection = filters.Filters(month_end=expected.as_of_month)

    sheet = load_workbook(
        io.BytesIO(exports.receivables_xlsx(opened, selection, expected.as_of_month))
    ).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == list(queries.RECEIVABLES_EXPORT_COLUMNS)
    assert len(rows) - 1 == expected.receivables_rows
    closing = rows[0].index("closing_ar")
    assert sum(float(row[closing]) for row in rows[1:]) == pytest.approx(
        expected.receivables_closing_ar, abs=0.01
    )

    text = exports.receivables_csv(opened, selection, expected.as_of_month).decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].replace('"', "") == ",".join(queries.RECEIVABLES_EXPORT_COLUMNS)
    assert len(lines) - 1 == expected.receivables_rows

    east = filters.Filters(month_end=expected.as_of_month, region=expected.busiest_region)
    filtered = exports.receivables_csv(opened, east, expected.as_of_month).decode("utf-8-sig")
    assert 1 < len(filtered.strip().splitlines()) < len(lines)


def test_downloads_too_big_for_the_browser_point_to_the_cli(published_env, monkeypatch):
    monkeypatch.setattr(exports, "MAX_ROWS", 10)
    app = run_page("credit")
    assert all(button.proto.disabled for button in app.get("download_button"))
    assert any("customer-warehouse export receivables --month" in c.value for c in app.caption)


# ---- the queries behind the pages --------------------------------------------------------------
def test_filtered_receivables_book_matches_the_summary_mart(published_env):
    """The cube path (used with filters) reproduces receivables_summary_monthly for everyone."""
    opened = warehouse.current()
    everyone = filters.Filters()
    first, last = date(2025, 1, 1), date(2026, 10, 31)
    published = queries.receivables_book(opened, everyone, first, last)
    queries.ensure_receivables_cube(opened)
    recomputed = queries.receivables_book_from_cube(opened, everyone, first, last)
    assert len(published) == len(recomputed) > 12
    for column in (
        "closing_ar",
        *queries.AGING_BUCKETS,
        "allowance",
        "over_limit_customers",
        "dso_simple",
        "best_possible_dso",
    ):
        assert recomputed[column].tolist() == pytest.approx(
            published[column].tolist(), abs=0.011
        ), column


def test_pareto_curves_are_running_shares_of_positive_ranking_values(published_env):
    """All customers (read from customer_abc's ranks) and one region (ranked again) alike."""
    opened = warehouse.current()
    con = duckdb.connect(str(published_env), read_only=True)
    ranked = con.execute(
        "select abc.rank, abc.ranking_value, customers.region from marts.customer_abc as abc"
        " join staging.stg_erp__customers as customers using (customer_id) order by abc.rank"
    ).df()
    con.close()
    region = ranked["region"].mode()[0]
    for selection, chosen in (
        (filters.Filters(), ranked),
        (filters.Filters(region=region), ranked[ranked["region"] == region]),
    ):
        values = chosen["ranking_value"].clip(lower=0).astype(float)
        shares = (values.cumsum() / values.sum()).reset_index(drop=True)
        customers = len(shares)
        step = max(customers // queries.PARETO_POINTS, 1)
        sampled = [p for p in range(1, customers + 1) if p % step == 0 or p == customers]
        curve, reading = queries.pareto(opened, selection)
        assert curve["customer_share"].tolist() == pytest.approx([p / customers for p in sampled])
        assert curve["value_share"].tolist() == pytest.approx([shares[p - 1] for p in sampled])
        assert reading["customers"] == customers
        assert reading["customers_for_80"] == pytest.approx(
            (shares[shares >= 0.8].index[0] + 1) / customers
        )
        assert reading["value_of_top_20"] == pytest.approx(
            shares[: int(math.ceil(0.2 * customers))].iloc[-1]
        )


def test_filter_conditions_bind_values_as_parameters():
    selection = filters.Filters(region="East'; drop table x; --", abc_tier="A")
    condition, params = queries.customer_condition(selection, "c.customer_id")
    assert "East" not in condition and condition.count("?") == 2
    assert params == ["East'; drop table x; --", "A"]
    assert queries.customer_condition(filters.Filters()) == ("true", [])


def test_month_arithmetic():
    assert queries.month_end_shift(date(2026, 10, 31), -1) == date(2026, 9, 30)
    assert queries.month_end_shift(date(2026, 3, 31), -1) == date(2026, 2, 28)
    assert queries.month_end_shift(date(2024, 2, 29), -12) == date(2023, 2, 28)
    assert queries.month_end_shift(date(2026, 12, 31), 1) == date(2027, 1, 31)
    assert queries.comparison_months(date(2026, 1, 31))["last_month"] == date(2025, 12, 31)


# ---- empty states and the data-health page ----------------------------------------------------
def test_no_published_warehouse(tmp_path, monkeypatch):
    monkeypatch.setenv("CW_WAREHOUSE_DIR", str(tmp_path / "nothing"))
    for page, _ in PAGES:
        app = run_page(page)
        if page == "health":
            assert app.info[0].value.startswith("No refresh has run yet")
        else:
            assert app.warning[0].value.startswith("No published warehouse at")


@pytest.mark.parametrize("language", LANGUAGES)
def test_marts_not_built_yet(tmp_path, monkeypatch, language):
    unbuilt_warehouse(tmp_path)
    monkeypatch.setenv("CW_WAREHOUSE_DIR", str(tmp_path))
    prefix = i18n.STRINGS[language]["empty.not_built"].split("{")[0]
    for page, _ in PAGES:
        app = run_page(page, language)
        shown = [info.value for info in app.info]
        if page == "health":
            assert i18n.STRINGS[language]["health.no_files"] in shown
        else:
            assert any(text.startswith(prefix) for text in shown), (page, shown)


def test_health_shows_failed_run_and_quarantined_rows(published_warehouse, tmp_path, monkeypatch):
    copy_warehouse(published_warehouse, tmp_path)
    add_quarantine_and_failed_run(tmp_path)
    monkeypatch.setenv("CW_WAREHOUSE_DIR", str(tmp_path))
    app = run_page("health")
    assert app.error[0].value.startswith("Last refresh FAILED")
    frames = [frame.value for frame in app.dataframe]
    assert any(FAILED_CHECK in frame.to_string() for frame in frames)
    by_rule = next(frame for frame in frames if "quarantined_rows" in frame.columns)
    assert by_rule["quarantined_rows"].sum() == len(QUARANTINED)
    sample = next(frame for frame in frames if "raw_values" in frame.columns)
    assert set(sample["rule"]) == {rule for *_, rule, _ in QUARANTINED}

    app.selectbox(key="quarantine_extract").select("invoices").run()
    app.selectbox(key="quarantine_rule_invoices").select("invalid_date").run()
    sample = next(f.value for f in app.dataframe if "raw_values" in f.value.columns)
    assert sample["line"].tolist() == [9]


def test_a_new_publish_is_picked_up(published_warehouse, tmp_path, monkeypatch):
    """The file is replaced by rename while the app runs: the next run reads the new one."""
    path = copy_warehouse(published_warehouse, tmp_path)
    monkeypatch.setenv("CW_WAREHOUSE_DIR", str(tmp_path))
    app = run_page("overview")
    before = {metric.label: metric.value for metric in app.metric}["Key accounts"]
    old = warehouse.current()

    staged = tmp_path / "next.duckdb"
    shutil.copyfile(path, staged)
    con = duckdb.connect(str(staged))
    con.execute("update marts.key_account_trend set key_accounts = 4242")
    con.close()
    os.replace(staged, path)

    app.run()
    assert {metric.label: metric.value for metric in app.metric}["Key accounts"] == "4,242"
    assert before != "4,242"
    assert warehouse.current() is not old
    # The old connection still answers queries already under way (its file is unlinked).
    assert not old.query("select count(*) as n from wh.marts.key_account_trend").empty


# ---- translations ------------------------------------------------------------------------------
def test_both_languages_are_complete():
    assert set(i18n.EN) == set(i18n.ZH)
    placeholders = re.compile(r"{(\w+)}")
    for key, english in i18n.EN.items():
        chinese = i18n.ZH[key]
        assert english.strip() and chinese.strip(), key
        assert set(placeholders.findall(english)) == set(placeholders.findall(chinese)), key


def test_every_label_the_code_uses_exists():
    """Literal keys in the code, and the keys built from fixed parts, all exist."""
    source = "\n".join(p.read_text() for p in DASHBOARD_DIR.rglob("*.py"))
    literal = set(
        re.findall(
            r"\"((?:nav|filter|kpi|col|unit|empty|value|table|language|"
            r"overview|profitability|abc|credit|satisfaction|customer|health)"
            r"\.[a-z0-9_.]+)\"",
            source,
        )
    )
    built = {f"nav.{name}" for name, _ in PAGES} | {f"{name}.intro" for name, _ in PAGES}
    built |= {f"filter.{dimension}" for dimension in filters.DIMENSIONS}
    built |= {
        f"col.{column}" for column in (*queries.PROFIT_COLUMNS, *queries.RECEIVABLES_EXPORT_COLUMNS)
    }
    built |= {f"abc.compare_{option}" for option in queries.TIER_COMPARISONS}
    built |= {f"abc.earlier_tier_{option}" for option in queries.TIER_COMPARISONS}
    built |= {
        f"value.aging_bucket.{bucket.removeprefix('ar_')}" for bucket in queries.AGING_BUCKETS
    }
    missing = sorted(
        key
        for key in literal | built
        if key not in i18n.EN
        and "." in key
        and not key.startswith(("marts.", "raw.", "staging.", "intermediate."))
    )
    assert not missing


def test_analyst_role_sees_no_customer_names(published_env, monkeypatch):
    con = duckdb.connect(str(published_env), read_only=True)
    customer_id, name = con.execute(
        "select customer_id, customer_name from marts.customer_card order by customer_id limit 1"
    ).fetchone()
    con.close()
    monkeypatch.setenv("CW_ROLE", "analyst")
    app = run_page("customer")
    app.text_input(key="card_search").input(customer_id).run()
    assert not app.exception
    assert app.header[0].value == "***"
    assert name not in " ".join(texts(app))
