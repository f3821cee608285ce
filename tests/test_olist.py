"""Real data: the Olist sample mapped with mappings/olist.yaml and refreshed as of 2018-09-01.

Every expected figure is computed here with pandas straight from the Olist CSV files, following
the rules in docs/olist.md, and compared with what the warehouse built from the imported
extracts. The data is real (CC BY-NC-SA 4.0) and is never copied into this repository: the tests
read it from ../shared/datasets/olist_sample and are skipped when that folder is absent.
"""

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.conftest import cli

OLIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "olist_sample"
MAPPING = Path(__file__).resolve().parents[1] / "mappings" / "olist.yaml"
AS_OF = date(2018, 9, 1)
NOT_SALES = {"canceled", "unavailable"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not OLIST.is_dir(),
        reason=f"Olist sample not found at {OLIST}: these tests need the real data in "
        "../shared/datasets/olist_sample (CC BY-NC-SA, deliberately not part of the repository)",
    ),
]


# ---- the facts, computed independently from the CSV files ---------------------------------------
def olist_csv(name: str) -> pd.DataFrame:
    return pd.read_csv(OLIST / f"olist_{name}_dataset.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def facts() -> dict:
    orders = olist_csv("orders")
    items = olist_csv("order_items")
    reviews = olist_csv("order_reviews")
    customers = olist_csv("customers")

    day = lambda column: pd.to_datetime(column.replace("", None)).dt.date  # noqa: E731
    orders["purchase_date"] = day(orders["order_purchase_timestamp"])
    orders["promised_date"] = day(orders["order_estimated_delivery_date"])
    orders["delivered_date"] = day(orders["order_delivered_customer_date"])
    orders = orders.merge(customers[["customer_id", "customer_unique_id"]], on="customer_id")
    sales = orders[~orders["order_status"].isin(NOT_SALES)]
    lines = items.merge(sales, on="order_id")
    lines["price_d"] = lines["price"].map(Decimal)
    lines["freight_d"] = lines["freight_value"].map(Decimal)
    to_date = lines[lines["purchase_date"] <= AS_OF]

    delivered = sales[sales["delivered_date"].notna()]
    late = delivered["delivered_date"] > delivered["promised_date"]

    unique_reviews = reviews.drop_duplicates("review_id")
    scores = unique_reviews["review_score"].astype(int)
    commented = (unique_reviews["review_comment_title"].str.strip() != "") | (
        unique_reviews["review_comment_message"].str.strip() != ""
    )

    # trailing 12 months (2017-09-01, 2018-09-01]: ABC ranking and the top-20% share
    start = date(AS_OF.year - 1, AS_OF.month, AS_OF.day)
    window = to_date[to_date["purchase_date"] > start]
    per_customer = (
        window.groupby("customer_unique_id")["price_d"].sum().sort_values(ascending=False)
    )
    top = per_customer.iloc[: -(-len(per_customer) * 20 // 100)]  # ceil(20% of customers)

    # repurchase over the 12 calendar months ending August 2018 (the last full month)
    months = to_date[
        (to_date["purchase_date"] >= date(2017, 9, 1))
        & (to_date["purchase_date"] <= date(2018, 8, 31))
    ]
    orders_per_customer = months.groupby("customer_unique_id")["order_id"].nunique()
    all_time_orders = sales.groupby("customer_unique_id")["order_id"].nunique()

    # delivery perception of every review (docs/olist.md): on time 5, late 2, missing 1
    reviewed = reviews.merge(orders, on="order_id")
    review_day = day(reviewed["review_creation_date"])
    outcome = pd.Series(None, index=reviewed.index, dtype=object)
    outcome[reviewed["delivered_date"].notna() & reviewed["promised_date"].notna()] = "on_time"
    outcome[reviewed["delivered_date"].notna() & (
        reviewed["delivered_date"] > reviewed["promised_date"])] = "late"  # fmt: skip
    outcome[reviewed["delivered_date"].isna() & (review_day > reviewed["promised_date"])] = (
        "missing"
    )
    reviewed["outcome"] = outcome
    perceptions = reviewed.dropna(subset=["outcome"]).drop_duplicates("review_id")["outcome"]

    august = unique_reviews[unique_reviews["review_creation_date"].str[:7] == "2018-08"]
    return {
        "unique_customers": customers["customer_unique_id"].nunique(),
        "line_revenue_all": lines["price_d"].sum(),
        "line_freight_all": lines["freight_d"].sum(),
        "revenue_to_as_of": to_date["price_d"].sum(),
        "freight_to_as_of": to_date["freight_d"].sum(),
        "revenue_12m": window["price_d"].sum(),
        "sales_orders": lines["order_id"].nunique(),
        "delivered_orders": len(delivered),
        "late_orders": int(late.sum()),
        "late_share": float(late.mean()),
        "score_distribution": {int(k): int(v) for k, v in scores.value_counts().items()},
        "complaints": int(((scores <= 2) & commented).sum()),
        "delivery_perceptions": {
            {"on_time": 5, "late": 2, "missing": 1}[k]: int(v)
            for k, v in perceptions.value_counts().items()
        },
        "customers_12m": len(per_customer),
        "top20_share": float(top.sum() / per_customer.sum()),
        "active_12m": len(orders_per_customer),
        "repeat_12m": int((orders_per_customer >= 2).sum()),
        "repeat_all_time": int((all_time_orders >= 2).sum()),
        "buyers_all_time": len(all_time_orders),
        "august_reviews": len(august),
        "august_top2": int((august["review_score"].astype(int) >= 4).sum()),
    }


# ---- the warehouse built from the import --------------------------------------------------------
@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> tuple[Path, str, dict]:
    raw = tmp_path_factory.mktemp("olist") / "raw"
    report = tmp_path_factory.getbasetemp() / "olist_import.json"
    result = cli("import", "--mapping", str(MAPPING), "--from", str(OLIST), "--to", str(raw),
                 "--report", str(report))  # fmt: skip
    return raw, result.stdout, json.loads(report.read_text())


@pytest.fixture(scope="module")
def warehouse(imported, tmp_path_factory):
    raw, _, _ = imported
    warehouse_dir = tmp_path_factory.mktemp("olist_wh")
    result = cli("refresh", "--raw-dir", str(raw), "--warehouse-dir", str(warehouse_dir),
                 "--as-of", AS_OF.isoformat(), "--quiet", check=False)  # fmt: skip
    log = warehouse_dir / "runs.jsonl"
    runs = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    if not (warehouse_dir / "warehouse.duckdb").exists():
        pytest.fail(
            f"the Olist refresh did not publish: {runs[-1]['reason'] if runs else 'no run log'}"
            f"\n--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
        )
    con = duckdb.connect(str(warehouse_dir / "warehouse.duckdb"), read_only=True)
    yield con, runs[-1], result
    con.close()


def one(con, sql: str):
    return con.execute(sql).fetchone()[0]


def test_import_maps_every_olist_extract_and_reports_what_it_dropped(imported):
    _, stdout, report = imported
    assert report["ok"] and "Result: 8 of 8 extracts mapped" in stdout
    assert report["not_mapped"] == ["interactions", "customer_financials"]
    messages = {t["name"]: [i["message"] for i in t["issues"]] for t in report["targets"]}
    assert any("canceled or unavailable orders are not sales" in m
               for m in messages["sales_order_lines"])  # fmt: skip
    assert any("zero-value payment" in m for m in messages["payments"])
    # Olist's one review_id shared by two orders: reported before the loader quarantines it.
    assert any("repeating the primary key" in m for m in messages["surveys"])


def test_refresh_publishes_with_no_failed_check(warehouse):
    con, run, result = warehouse
    assert run["outcome"] == "succeeded", result.stdout[-3000:]
    assert run["checks_failed"] == [] and run["as_of"] == AS_OF.isoformat()
    marts = {r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'marts'"
    ).fetchall()}  # fmt: skip
    assert {"customer_abc", "customer_profitability", "customer_satisfaction",
            "satisfaction_monthly", "customer_card", "receivables_monthly"} <= marts  # fmt: skip


def test_quarantined_rows_are_only_the_duplicated_review(warehouse):
    con, _, _ = warehouse
    quarantined = con.execute(
        "select extract, rule, count(*) from raw.quarantine group by all order by all"
    ).fetchall()
    assert quarantined == [
        ("survey_scores", "duplicate_key_in_file", 1),
        ("surveys", "duplicate_key_in_file", 1),
    ]


def test_unique_customers(warehouse, facts):
    con, _, _ = warehouse
    assert facts["unique_customers"] == 2995
    assert one(con, "select count(*) from raw.customers") == facts["unique_customers"]
    assert one(con, "select count(*) from marts.customer_card") == facts["unique_customers"]
    assert one(con, "select count(*) from marts.customer_abc") == facts["unique_customers"]


def test_total_revenue_items_price_and_freight(warehouse, facts):
    con, _, _ = warehouse
    # every sales line as imported: price = revenue, freight_value = freight_cost
    assert (
        one(con, "select sum(quantity * unit_price) from raw.sales_order_lines")
        == (facts["line_revenue_all"])
    )
    assert (
        one(con, "select sum(freight_cost) from raw.sales_order_lines")
        == (facts["line_freight_all"])
    )
    # invoices bill both: one per sales order, amount = items price + freight
    assert one(con, "select count(*) from raw.invoices") == facts["sales_orders"]
    assert one(con, "select sum(amount) from raw.invoices") == (
        facts["line_revenue_all"] + facts["line_freight_all"]
    )
    # what the marts count up to the as-of date, and in the trailing 12 months
    assert (
        one(con, "select sum(net_revenue) from intermediate.int_sales__order_lines")
        == (facts["revenue_to_as_of"])
    )
    assert (
        one(con, "select sum(freight_cost) from intermediate.int_sales__order_lines")
        == (facts["freight_to_as_of"])
    )
    assert (
        one(con, "select sum(net_revenue) from marts.customer_profitability")
        == (facts["revenue_12m"])
    )


def test_review_score_distribution(warehouse, facts):
    con, _, _ = warehouse
    loaded = dict(con.execute(
        "select overall_satisfaction, count(*) from raw.surveys group by 1"
    ).fetchall())  # fmt: skip
    assert loaded == facts["score_distribution"]
    assert sum(loaded.values()) == 2992
    assert one(con, "select count(*) from raw.complaints") == facts["complaints"]
    assert (
        one(con, "select count(*) from raw.surveys where likelihood_to_recommend is not null") == 0
    )


def test_share_of_orders_delivered_late(warehouse, facts):
    con, _, _ = warehouse
    delivered, late = con.execute(
        """
        select count(*), count(*) filter (where late)
        from (
            select order_id, bool_or(delivered_date > promised_date) as late
            from raw.sales_order_lines where delivered_date is not null group by order_id
        )
        """
    ).fetchone()
    assert (delivered, late) == (facts["delivered_orders"], facts["late_orders"])
    assert late / delivered == pytest.approx(facts["late_share"])
    # the survey's delivery attribute says the same, per review: 5 on time, 2 late, 1 missing
    perceived = dict(con.execute(
        "select perception, count(*) from raw.survey_scores where attribute = 'delivery' "
        "group by 1"
    ).fetchall())  # fmt: skip
    assert perceived == facts["delivery_perceptions"]


def test_pareto_share_and_abc_tiers(warehouse, facts):
    con, _, _ = warehouse
    ranked = con.execute(
        "select ranking_value from marts.customer_abc where ranking_value > 0 "
        "order by ranking_value desc"
    ).fetchall()
    values = [r[0] for r in ranked]
    assert len(values) == facts["customers_12m"]
    top = values[: -(-len(values) * 20 // 100)]
    assert float(sum(top) / sum(values)) == pytest.approx(facts["top20_share"])
    # Olist is no 80/20 business: the top fifth brings barely over half of the revenue
    assert 0.5 < facts["top20_share"] < 0.6
    tiers = dict(
        con.execute("select abc_tier, count(*) from marts.customer_abc group by 1").fetchall()
    )
    assert sum(tiers.values()) == facts["unique_customers"] and set(tiers) == {"A", "B", "C"}


def test_csat_and_repurchase_from_the_marts(warehouse, facts):
    con, _, _ = warehouse
    august = con.execute(
        "select overall_responses, csat_top2_pct, nps_responses, active_customers_12m, "
        "repeat_customers_12m from marts.satisfaction_monthly "
        "where segment_type = 'all' and month = date '2018-08-01'"
    ).fetchone()
    responses, top2_pct, nps_responses, active, repeat = august
    assert responses == facts["august_reviews"]
    assert top2_pct == pytest.approx(100 * facts["august_top2"] / facts["august_reviews"], abs=0.01)
    assert nps_responses == 0  # no recommendation question in Olist: no NPS, by design
    assert (active, repeat) == (facts["active_12m"], facts["repeat_12m"])
    assert facts["repeat_all_time"] / facts["buyers_all_time"] < 0.01


def test_nps_like_figure_from_review_scores(warehouse, facts):
    """5 = promoter, 4 = passive, 1-3 = detractor (docs/olist.md), computed outside the contract."""
    con, _, _ = warehouse
    promoters, detractors, total = con.execute(
        "select count(*) filter (where overall_satisfaction = 5), "
        "count(*) filter (where overall_satisfaction <= 3), count(*) from raw.surveys"
    ).fetchone()
    distribution = facts["score_distribution"]
    expected = (
        100
        * (distribution[5] - distribution[1] - distribution[2] - distribution[3])
        / sum(distribution.values())
    )
    assert 100 * (promoters - detractors) / total == pytest.approx(expected)
