"""The dashboard in a real browser: `streamlit run` on 127.0.0.1 and a free port, Debian's
Chromium driven by Playwright, on the generated warehouse.

Visits every page in both languages, checks key numbers against the marts, downloads the
month's receivables as Excel and reads it back, and saves a screenshot of every page under
tests/artifacts/ (git-ignored). Playwright never downloads a browser here: it launches
/usr/bin/chromium, and the tests skip when that is missing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.dashboard_support import (
    APP,
    ARTIFACTS,
    LANGUAGES,
    PAGES,
    PROJECT_ROOT,
    formatting,
    i18n,
    key_numbers,
    queries,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Charts each page draws on the generated warehouse (the customer card without a customer: 0).
CHARTS = {
    "overview": 2,
    "profitability": 3,
    "abc": 5,
    "credit": 3,
    "satisfaction": 6,
    "customer": 0,
    "health": 1,
}
WIDTH = 1440
STARTUP_SECONDS = 90
RENDER_TIMEOUT_MS = 90_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing: apt-get install chromium to run the browser tests",
    ),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def dashboard(published_warehouse, tmp_path_factory):
    """A real `streamlit run` of the dashboard on the published test warehouse; yields its URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    env = {
        **os.environ,
        "CW_WAREHOUSE_DIR": str(published_warehouse.parent),
        "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
    }
    with log.open("w") as output:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(APP),
                "--server.address",
                "127.0.0.1",
                "--server.port",
                str(port),
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"streamlit did not start:\n{log.read_text()[-4000:]}")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": WIDTH, "height": 1000}, accept_downloads=True)
    tab = context.new_page()
    yield tab
    context.close()


def wait_until_rendered(tab, title: str, charts: int) -> None:
    """Until the page's title shows, the script has finished and every chart is drawn."""
    tab.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=RENDER_TIMEOUT_MS)
    tab.wait_for_function(
        """(charts) => !document.querySelector('[data-testid="stStatusWidget"]')
            && !document.querySelector('[data-testid="stSkeleton"]')
            && document.querySelectorAll('.js-plotly-plot .main-svg').length >= charts""",
        arg=charts,
        timeout=RENDER_TIMEOUT_MS,
    )
    tab.wait_for_timeout(1000)  # tables and charts finish painting


def screenshot(tab, name: str) -> Path:
    """The whole page: the viewport grows to the height of the app's scrolling main area."""
    height = tab.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    tab.set_viewport_size({"width": WIDTH, "height": min(max(height, 900) + 50, 9000)})
    tab.wait_for_timeout(800)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    tab.screenshot(path=str(path))
    tab.set_viewport_size({"width": WIDTH, "height": 1000})
    return path


def open_page(tab, url: str, name: str, language: str, query: str = "") -> None:
    path = "" if name == "overview" else name  # the first page is served at "/"
    tab.goto(f"{url}/{path}?lang={language}{query}")
    wait_until_rendered(tab, i18n.STRINGS[language][f"nav.{name}"], CHARTS[name])


def metric_value(tab, label: str) -> str:
    metric = tab.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_in_both_languages(dashboard, page, language):
    strings = i18n.STRINGS[language]
    for name, _ in PAGES:
        open_page(page, dashboard, name, language)
        body = page.locator('[data-testid="stMain"]').inner_text()
        assert strings[f"nav.{name}"] in body
        assert not page.locator('[data-testid="stException"]').count()
        # Navigation and sidebar are in the chosen language too.
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert strings["filter.heading"] in sidebar and strings["nav.health"] in sidebar
        path = screenshot(page, f"{name}_{language}")
        assert path.stat().st_size > 10_000


def test_language_switch_in_the_sidebar(dashboard, page):
    open_page(page, dashboard, "profitability", "en")
    page.locator('[data-testid="stSidebar"]').get_by_text("中文", exact=True).click()
    wait_until_rendered(page, i18n.ZH["nav.profitability"], CHARTS["profitability"])
    assert (
        i18n.ZH["profitability.loss_customers"]
        in page.locator('[data-testid="stMain"]').inner_text()
    )


def test_key_numbers_match_the_marts(dashboard, page, published_warehouse):
    expected = key_numbers(published_warehouse)

    open_page(page, dashboard, "overview", "en")
    assert metric_value(page, "Net revenue") == formatting.money(expected.revenue, compact=True)
    assert metric_value(page, "Open receivables") == formatting.money(
        expected.open_ar, compact=True
    )
    assert metric_value(page, "Key accounts") == formatting.count(expected.key_accounts)
    assert (
        formatting.percent(expected.top20_share)
        in page.locator('[data-testid="stMain"]').inner_text()
    )

    open_page(page, dashboard, "profitability", "en")
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert f"of {formatting.count(expected.loss_customers)}" in main

    open_page(page, dashboard, "health", "en")
    assert metric_value(page, "Checks passed") == formatting.count(expected.checks_passed)


def test_customer_card_from_a_link(dashboard, page, published_warehouse):
    import duckdb

    con = duckdb.connect(str(published_warehouse), read_only=True)
    customer_id, name = con.execute(
        "select customer_id, customer_name from marts.customer_card"
        " order by net_revenue_12m desc nulls last limit 1"
    ).fetchone()
    con.close()
    open_page(page, dashboard, "customer", "en", f"&customer={customer_id}")
    page.get_by_role("heading", name=name).first.wait_for(timeout=RENDER_TIMEOUT_MS)
    wait_until_rendered(page, i18n.EN["nav.customer"], 2)
    screenshot(page, "customer_card_en")


def test_receivables_excel_download(dashboard, page, published_warehouse):
    expected = key_numbers(published_warehouse)
    open_page(page, dashboard, "credit", "en")
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert f"of {formatting.count(expected.receivables_rows)}" in main
    with page.expect_download(timeout=RENDER_TIMEOUT_MS) as started:
        page.get_by_role("button", name="Download Excel").click()
    download = started.value
    assert download.suggested_filename == f"receivables_{expected.as_of_month:%Y-%m}.xlsx"
    target = ARTIFACTS / download.suggested_filename
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    download.save_as(str(target))

    rows = list(load_workbook(target, read_only=True).active.iter_rows(values_only=True))
    assert list(rows[0]) == list(queries.RECEIVABLES_EXPORT_COLUMNS)
    assert len(rows) - 1 == expected.receivables_rows
    closing = rows[0].index("closing_ar")
    assert sum(float(row[closing]) for row in rows[1:]) == pytest.approx(
        expected.receivables_closing_ar, abs=0.01
    )
