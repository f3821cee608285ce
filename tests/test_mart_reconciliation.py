"""Independent reconciliation of the marts' key numbers against the raw extracts.

Every expectation here is recomputed with pandas straight from the demo CSV files under
`generated_raw`, following /work/shared/domain.md and the mart YAML docs; the warehouse is only
read for the marts being checked (never its staging or intermediate tables). Money must agree to
the cent; other values to the rounding the mart documents.

Defaults are the domain specification's (dbt_project.yml vars): 200 per valid complaint, ABC
cut-offs 0.80 / 0.95, pyramid shares 1% / 4% / 15%, aging edges 30/60/90/180/365 days, DSO over 3
calendar months, min_responses 10, NPS bands 9 / 6, top box 4, z = 1.96.
"""

import math
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import duckdb
import numpy as np
import pandas as pd
import pytest

from tests.conftest import AS_OF

pytestmark = pytest.mark.slow

D = pd.Timestamp(AS_OF)
WINDOW_START = D - pd.DateOffset(months=12)  # trailing 12 months = (WINDOW_START, D]

MONEY = 0.01
ROUND_2 = 0.005 + 1e-6  # values the mart documents as rounded to 2 decimals
ROUND_4 = 0.00005 + 1e-9  # ... to 4 decimals
EXACT = 1e-6  # unrounded ratios (floating-point noise only)

COMPLAINT_HANDLING_COST = 200
ABC_A_CUTOFF = Fraction("0.80")
ABC_B_CUTOFF = Fraction("0.95")
PYRAMID_SHARES = [("top", Fraction("0.01")), ("major", Fraction("0.04"))]
PYRAMID_SHARES.append(("ordinary", Fraction("0.15")))
AGING_EDGES = [("current", 0), ("1_30", 30), ("31_60", 60), ("61_90", 90), ("91_180", 180)]
AGING_EDGES.append(("181_365", 365))
AGING_BUCKETS = [name for name, _ in AGING_EDGES] + ["over_365"]
DSO_PERIOD_MONTHS = 3
MIN_RESPONSES = 10
NPS_PROMOTER_MIN = 9
NPS_DETRACTOR_MAX = 6
CSAT_TOP_BOX_MIN = 4
NPS_Z = 1.96


# --- reading ----------------------------------------------------------------------------------


def read_extract(
    raw: Path, name: str, keys: list[str], dates: tuple[str, ...] = ()
) -> pd.DataFrame:
    """All files of one extract; a primary key delivered twice keeps the row of the later file."""
    files = sorted((raw / name).glob("*.csv*"))
    assert files, f"no files for extract {name} in {raw}"
    frame = pd.concat([pd.read_csv(f, parse_dates=list(dates)) for f in files], ignore_index=True)
    return frame.drop_duplicates(subset=keys, keep="last").reset_index(drop=True)


def as_bool(series: pd.Series) -> pd.Series:
    """CSV booleans (true/false, t/f, 1/0); null stays null."""
    text = series.astype("string").str.strip().str.lower()
    return text.map({"true": True, "t": True, "1": True, "false": False, "f": False, "0": False})


def mart(warehouse: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


@pytest.fixture(scope="module")
def raw(generated_raw, published_warehouse) -> SimpleNamespace:
    """The raw extracts with the contract's defaults applied, restricted to dates <= D."""
    # Precondition: nothing was quarantined, so the marts saw exactly the rows read here.
    quarantined = mart(published_warehouse, "select count(*) as n from raw.quarantine")
    assert int(quarantined.n.iloc[0]) == 0, "reconciliation assumes no quarantined raw rows"

    customers = read_extract(generated_raw, "customers", ["customer_id"])
    products = read_extract(generated_raw, "products", ["product_id"])

    lines = read_extract(
        generated_raw, "sales_order_lines", ["order_id", "line_no"], ("order_date",)
    )
    lines = lines[lines.order_date <= D].copy()
    lines["discount_amount"] = lines.discount_amount.fillna(0.0)
    lines["freight_cost"] = lines.freight_cost.fillna(0.0)
    lines = lines.merge(products[["product_id", "unit_cost"]], on="product_id", how="left")
    assert lines.unit_cost.notna().all()
    lines["net_revenue"] = lines.quantity * lines.unit_price - lines.discount_amount
    lines["cogs"] = lines.quantity * lines.unit_cost
    lines["month"] = lines.order_date.dt.to_period("M").dt.start_time

    # A purchase is an order with at least one non-return line, dated by its order date.
    purchases = (
        lines[lines.quantity > 0]
        .groupby("order_id")
        .agg(customer_id=("customer_id", "first"), order_date=("order_date", "min"))
        .reset_index()
    )
    purchases["month"] = purchases.order_date.dt.to_period("M").dt.start_time

    interactions = read_extract(
        generated_raw, "interactions", ["interaction_id"], ("interaction_date",)
    )
    interactions = interactions[interactions.interaction_date <= D].copy()
    interactions["month"] = interactions.interaction_date.dt.to_period("M").dt.start_time

    complaints = read_extract(
        generated_raw,
        "complaints",
        ["complaint_id"],
        ("opened_date", "resolved_date"),
    )
    complaints = complaints[complaints.opened_date <= D].copy()
    complaints["is_valid"] = as_bool(complaints.is_valid).fillna(True).astype(bool)
    complaints["month"] = complaints.opened_date.dt.to_period("M").dt.start_time

    invoices = read_extract(
        generated_raw,
        "invoices",
        ["invoice_id"],
        ("invoice_date", "due_date"),
    )
    invoices = invoices[invoices.invoice_date <= D].copy()

    payments = read_extract(generated_raw, "payments", ["payment_id"], ("payment_date",))
    payments = payments[payments.payment_date <= D].copy()
    payments["kind"] = payments.kind.fillna("payment")
    payments["discount_taken"] = payments.discount_taken.fillna(0.0)

    surveys = read_extract(generated_raw, "surveys", ["response_id"], ("survey_date",))
    surveys = surveys[surveys.survey_date <= D].copy()
    surveys["month"] = surveys.survey_date.dt.to_period("M").dt.start_time
    scores = read_extract(generated_raw, "survey_scores", ["response_id", "attribute"])
    surveys["csat_index"] = surveys.response_id.map(response_csat_index(scores))

    return SimpleNamespace(
        customers=customers,
        lines=lines,
        purchases=purchases,
        interactions=interactions,
        complaints=complaints,
        invoices=invoices,
        payments=payments,
        surveys=surveys,
    )


def response_csat_index(scores: pd.DataFrame) -> pd.Series:
    """Per response: importance-weighted mean of perception mapped 1 -> 0 ... 5 -> 100; equal
    weights when any importance rating of the response is missing (int_satisfaction__responses)."""
    scores = scores.copy()
    scores["perception_index"] = (scores.perception - 1) * 25.0
    complete = scores.groupby("response_id").importance.transform(lambda s: s.notna().all())
    scores["weight"] = np.where(complete, scores.importance, 1.0)
    scores["weighted"] = scores.weight * scores.perception_index
    sums = scores.groupby("response_id")[["weighted", "weight"]].sum()
    return sums.weighted / sums.weight


# --- comparing --------------------------------------------------------------------------------


def assert_matches(expected: pd.Series, actual: pd.Series, tolerance: float, what: str) -> None:
    """Same keys, same nulls, and |expected - actual| <= tolerance for every key."""
    missing = expected.index.difference(actual.index)
    extra = actual.index.difference(expected.index)
    assert missing.empty and extra.empty, (
        f"{what}: keys only expected {list(missing[:10])}, only in mart {list(extra[:10])}"
    )
    expected = expected.astype(float)
    actual = actual.reindex(expected.index).astype(float)
    both_null = expected.isna() & actual.isna()
    close = (expected - actual).abs() <= tolerance
    bad = ~(both_null | close)
    table = pd.DataFrame({"expected": expected[bad], "mart": actual[bad]})
    mismatches = int(bad.sum())
    assert mismatches == 0, f"{what}: {mismatches} mismatches\n{table.head(15).to_string()}"


def assert_same_labels(expected: pd.Series, actual: pd.Series, what: str) -> None:
    """Same keys and the same label (or null) for every key."""
    assert set(expected.index) == set(actual.index), f"{what}: different keys"
    actual = actual.reindex(expected.index)
    bad = expected.fillna("<null>") != actual.fillna("<null>")
    table = pd.DataFrame({"expected": expected[bad], "mart": actual[bad]})
    mismatches = int(bad.sum())
    assert mismatches == 0, f"{what}: {mismatches} mismatches\n{table.head(15).to_string()}"


def in_window(dates: pd.Series, start: pd.Timestamp = WINDOW_START, end=D) -> pd.Series:
    return (dates > start) & (dates <= end)


def per_customer(raw: SimpleNamespace, values: pd.Series) -> pd.Series:
    """A per-customer series over every customer of the ERP, 0 where there was nothing."""
    return values.reindex(raw.customers.customer_id).fillna(0.0).rename_axis("customer_id")


def month_end(month_start: pd.Timestamp) -> pd.Timestamp:
    return min((month_start + pd.offsets.MonthEnd(0)).normalize(), D)


# --- 1. Profitability and ABC (issue 3) --------------------------------------------------------


def expected_trailing_profitability(raw: SimpleNamespace) -> pd.DataFrame:
    lines = raw.lines[in_window(raw.lines.order_date)]
    interactions = raw.interactions[in_window(raw.interactions.interaction_date)]
    complaints = raw.complaints[in_window(raw.complaints.opened_date) & raw.complaints.is_valid]
    payments = raw.payments[in_window(raw.payments.payment_date)]
    frame = pd.DataFrame(
        {
            "net_revenue": per_customer(raw, lines.groupby("customer_id").net_revenue.sum()),
            "cogs": per_customer(raw, lines.groupby("customer_id").cogs.sum()),
            "freight_cost": per_customer(raw, lines.groupby("customer_id").freight_cost.sum()),
            "service_cost": per_customer(raw, interactions.groupby("customer_id").cost.sum()),
            "complaint_cost": per_customer(
                raw, complaints.groupby("customer_id").size() * COMPLAINT_HANDLING_COST
            ),
            "cash_discount_cost": per_customer(
                raw, payments.groupby("customer_id").discount_taken.sum()
            ),
            "bad_debt_cost": per_customer(
                raw, payments[payments.kind == "write_off"].groupby("customer_id").amount.sum()
            ),
        }
    )
    frame["gross_margin"] = frame.net_revenue - frame.cogs
    frame["gross_margin_pct"] = frame.gross_margin / frame.net_revenue.where(
        frame.net_revenue.round(2) != 0
    )
    return frame


def expected_abc(raw: SimpleNamespace) -> pd.DataFrame:
    """Rank by trailing-12-month net revenue (largest first, positive first, ties by customer_id);
    tier A while the cumulative share before the customer is below 0.80 (the customer crossing
    80% is still A), B below 0.95, else C; zero/negative revenue is C, share 0, cumulative 1."""
    cents = (expected_trailing_profitability(raw).net_revenue * 100).round().astype("int64")
    order = sorted(cents.index, key=lambda c: (cents[c] <= 0, -cents[c], c))
    total = int(cents[cents > 0].sum())
    customers = len(order)
    rows, running = [], 0
    for rank, customer_id in enumerate(order, start=1):
        value = int(cents[customer_id])
        if value > 0:
            before, running = running, running + value
            share, cumulative = value / total, running / total
            if Fraction(before, total) < ABC_A_CUTOFF:
                tier = "A"
            elif Fraction(before, total) < ABC_B_CUTOFF:
                tier = "B"
            else:
                tier = "C"
            pyramid, edge = "small", Fraction(0)
            for band, band_share in PYRAMID_SHARES:
                edge += band_share
                if rank - 1 < edge * customers:
                    pyramid = band
                    break
        else:
            share, cumulative, tier, pyramid = 0.0, 1.0, "C", "small"
        rows.append((customer_id, rank, value / 100, share, cumulative, tier, pyramid))
    return pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "rank",
            "ranking_value",
            "revenue_share",
            "cumulative_share",
            "abc_tier",
            "pyramid_tier",
        ],
    ).set_index("customer_id")


def test_trailing_12_month_profitability_per_customer_matches_order_lines(raw, published_warehouse):
    expected = expected_trailing_profitability(raw)
    actual = mart(published_warehouse, "select * from marts.customer_profitability")
    actual = actual.set_index("customer_id")
    assert set(actual.window_start_date.astype(str)) == {
        (WINDOW_START + pd.Timedelta(days=1)).date().isoformat()
    }
    assert set(actual.window_end_date.astype(str)) == {D.date().isoformat()}
    for column in (
        "net_revenue",
        "cogs",
        "gross_margin",
        "freight_cost",
        "service_cost",
        "complaint_cost",
        "cash_discount_cost",
        "bad_debt_cost",
    ):
        assert_matches(expected[column], actual[column], MONEY, f"customer_profitability.{column}")
    # gross_margin_pct is stored as decimal(18, 6): half a unit of the 6th decimal.
    assert_matches(
        expected.gross_margin_pct,
        actual.gross_margin_pct,
        5e-7 + 1e-9,
        "customer_profitability.gross_margin_pct",
    )


def test_abc_rank_shares_and_tiers_follow_the_pareto_cutoffs(raw, published_warehouse):
    expected = expected_abc(raw)
    actual = mart(published_warehouse, "select * from marts.customer_abc").set_index("customer_id")
    assert set(actual.ranking_metric) == {"net_revenue"}
    assert_matches(expected.ranking_value, actual.ranking_value, MONEY, "ranking_value")
    assert_matches(expected["rank"], actual["rank"], 0, "rank")
    assert_matches(expected.revenue_share, actual.revenue_share, 1e-9, "revenue_share")
    assert_matches(expected.cumulative_share, actual.cumulative_share, 1e-9, "cumulative_share")
    assert_same_labels(expected.abc_tier, actual.abc_tier, "abc_tier")

    # The customers crossing the cut-offs are still A (resp. B); the next ones are not.
    by_rank = expected.sort_values("rank")
    crossing_a = by_rank[by_rank.cumulative_share >= float(ABC_A_CUTOFF)].index[0]
    crossing_b = by_rank[by_rank.cumulative_share >= float(ABC_B_CUTOFF)].index[0]
    assert actual.abc_tier[crossing_a] == "A", (crossing_a, actual.loc[crossing_a].to_dict())
    assert actual.abc_tier[crossing_b] == "B", (crossing_b, actual.loc[crossing_b].to_dict())
    after_a = by_rank.index[by_rank.index.get_loc(crossing_a) + 1]
    assert actual.abc_tier[after_a] == "B"


def test_abc_and_pyramid_tier_counts(raw, published_warehouse):
    expected = expected_abc(raw)
    actual = mart(published_warehouse, "select * from marts.customer_abc").set_index("customer_id")
    assert_same_labels(expected.pyramid_tier, actual.pyramid_tier, "pyramid_tier")
    assert actual.abc_tier.value_counts().to_dict() == expected.abc_tier.value_counts().to_dict()
    assert (
        actual.pyramid_tier.value_counts().to_dict()
        == expected.pyramid_tier.value_counts().to_dict()
    )
    # Top 1% / next 4% / next 15% of the 150 customers by rank (when revenue is positive).
    customers = len(expected)
    positive = int((expected.ranking_value > 0).sum())
    bands = {"top": 0.01, "major": 0.05, "ordinary": 0.20}
    previous = 0
    for band, edge in bands.items():
        upper = min(math.ceil(Fraction(str(edge)) * customers), positive)
        assert int((actual.pyramid_tier == band).sum()) == max(upper - previous, 0), band
        previous = max(previous, upper)


def test_monthly_profitability_sums_to_order_lines_per_month(raw, published_warehouse):
    actual = mart(published_warehouse, "select * from marts.customer_profitability_monthly")
    actual["month"] = pd.to_datetime(actual.month)
    as_of_month = D.to_period("M").start_time
    assert actual.month.max() == as_of_month
    is_partial = not D.is_month_end
    assert (actual[actual.month == as_of_month].is_partial_month == is_partial).all()
    assert not actual[actual.month < as_of_month].is_partial_month.any()

    expected_total = raw.lines.groupby("month").net_revenue.sum()
    actual_total = actual.groupby("month").net_revenue.sum().astype(float)
    assert_matches(
        expected_total.reindex(actual_total.index.union(expected_total.index)).fillna(0.0),
        actual_total.reindex(actual_total.index.union(expected_total.index)).fillna(0.0),
        MONEY,
        "net revenue per month",
    )

    keys = ["customer_id", "month"]
    expected = pd.concat(
        {
            "net_revenue": raw.lines.groupby(keys).net_revenue.sum(),
            "cogs": raw.lines.groupby(keys).cogs.sum(),
            "freight_cost": raw.lines.groupby(keys).freight_cost.sum(),
            "service_cost": raw.interactions.groupby(keys).cost.sum(),
            "complaint_cost": raw.complaints[raw.complaints.is_valid].groupby(keys).size()
            * COMPLAINT_HANDLING_COST,
        },
        axis=1,
    )
    actual = actual.set_index(keys)
    index = expected.index.union(actual.index)
    # Every customer-month with sales, interactions or valid complaints has a row.
    missing = expected.index.difference(actual.index)
    assert missing.empty, f"customer-months missing from the monthly mart: {list(missing[:10])}"
    for column in expected.columns:
        assert_matches(
            expected[column].reindex(index).fillna(0.0),
            actual[column].reindex(index).astype(float).fillna(0.0),
            MONEY,
            f"customer_profitability_monthly.{column}",
        )


# --- 2. Receivables (issue 4) ------------------------------------------------------------------


def aging_bucket(days_past_due: int) -> str:
    for name, edge in AGING_EDGES:
        if days_past_due <= edge:
            return name
    return "over_365"


def open_items_at(raw: SimpleNamespace, date: pd.Timestamp) -> pd.DataFrame:
    """Invoices and credit notes dated <= date whose amount - payments - cash discounts -
    write-offs dated <= date is not zero, aged at date (unapplied credits: current, 0 days)."""
    invoices = raw.invoices[raw.invoices.invoice_date <= date].copy()
    payments = raw.payments[raw.payments.payment_date <= date]
    settled = (payments.amount + payments.discount_taken).groupby(payments.invoice_id).sum()
    invoices["paid_amount"] = invoices.invoice_id.map(settled).fillna(0.0)
    invoices["open_amount"] = (invoices.amount - invoices.paid_amount).round(2)
    items = invoices[invoices.open_amount != 0].copy()
    days = (date - items.due_date).dt.days.clip(lower=0)
    items["days_past_due"] = days.where(items.open_amount > 0, 0).astype("int64")
    items["aging_bucket"] = items.days_past_due.map(aging_bucket)
    return items.set_index("invoice_id")


def months_of_book(raw: SimpleNamespace) -> pd.DatetimeIndex:
    first = raw.invoices.invoice_date.min().to_period("M")
    return pd.period_range(first, D.to_period("M"), freq="M").to_timestamp()


def test_open_items_are_invoices_net_of_settlements_aged_at_the_as_of_date(
    raw, published_warehouse
):
    expected = open_items_at(raw, D)
    actual = mart(published_warehouse, "select * from marts.ar_open_items").set_index("invoice_id")
    assert_matches(expected.open_amount, actual.open_amount, MONEY, "ar_open_items.open_amount")
    assert_matches(expected.paid_amount, actual.paid_amount, MONEY, "ar_open_items.paid_amount")
    assert_matches(expected.amount, actual.amount, MONEY, "ar_open_items.amount")
    assert_matches(expected.days_past_due, actual.days_past_due, 0, "days_past_due")
    assert_same_labels(expected.aging_bucket, actual.aging_bucket, "aging_bucket")
    assert_same_labels(expected.customer_id, actual.customer_id, "customer_id")


def test_aging_bucket_totals_agree_across_open_items_and_the_as_of_month(raw, published_warehouse):
    expected = open_items_at(raw, D).groupby("aging_bucket").open_amount.sum()
    expected = expected.reindex(AGING_BUCKETS).fillna(0.0)

    items = mart(published_warehouse, "select * from marts.ar_open_items")
    from_items = items.groupby("aging_bucket").open_amount.sum().reindex(AGING_BUCKETS)
    assert_matches(expected, from_items.fillna(0.0), MONEY, "ar_open_items total per bucket")

    as_of_month = D.to_period("M").start_time.date().isoformat()
    monthly = mart(
        published_warehouse,
        f"select * from marts.receivables_monthly where month = date '{as_of_month}'",
    )
    from_monthly = pd.Series({b: monthly[f"ar_{b}"].astype(float).sum() for b in AGING_BUCKETS})
    assert_matches(expected, from_monthly, MONEY, "receivables_monthly as-of month per bucket")
    assert abs(monthly.closing_ar.astype(float).sum() - expected.sum()) <= MONEY

    summary = mart(
        published_warehouse,
        f"select * from marts.receivables_summary_monthly where month = date '{as_of_month}'",
    )
    from_summary = pd.Series({b: float(summary[f"ar_{b}"].iloc[0]) for b in AGING_BUCKETS})
    assert_matches(expected, from_summary, MONEY, "receivables_summary_monthly as-of month")


def test_month_end_closing_ar_and_aging_per_customer_every_month(raw, published_warehouse):
    """Closed months are frozen as first published; with a single refresh they equal today's
    computation, so every month end is checked."""
    frames = []
    for month in months_of_book(raw):
        items = open_items_at(raw, month_end(month))
        table = items.pivot_table(
            index="customer_id", columns="aging_bucket", values="open_amount", aggfunc="sum"
        )
        table = table.reindex(columns=AGING_BUCKETS).fillna(0.0)
        table.columns = [f"ar_{b}" for b in AGING_BUCKETS]
        table["closing_ar"] = table.sum(axis=1)
        table["month"] = month
        frames.append(table.reset_index())
    expected = pd.concat(frames).set_index(["customer_id", "month"])

    actual = mart(published_warehouse, "select * from marts.receivables_monthly")
    actual["month"] = pd.to_datetime(actual.month)
    actual = actual.set_index(["customer_id", "month"])
    missing = expected.index.difference(actual.index)
    assert missing.empty, f"customer-months with open AR missing: {list(missing[:10])}"
    for column in expected.columns:
        assert_matches(
            expected[column].reindex(actual.index).fillna(0.0),
            actual[column].astype(float),
            MONEY,
            f"receivables_monthly.{column}",
        )


def expected_book_dso(raw: SimpleNamespace) -> pd.DataFrame:
    """Book simple DSO = closing AR / credit sales (positive invoices) of the month and the two
    before (months of the book only) x their calendar days (the as-of month: days up to D)."""
    credit_sales = raw.invoices[raw.invoices.amount > 0]
    credit_sales = credit_sales.groupby(
        credit_sales.invoice_date.dt.to_period("M").dt.start_time
    ).amount.sum()
    months = months_of_book(raw)
    rows = []
    for position, month in enumerate(months):
        period = months[max(0, position - DSO_PERIOD_MONTHS + 1) : position + 1]
        sales = float(sum(credit_sales.get(m, 0.0) for m in period))
        days = sum((month_end(m) - m).days + 1 for m in period)
        items = open_items_at(raw, month_end(month))
        closing = float(items.open_amount.sum())
        current = float(items[items.aging_bucket == "current"].open_amount.sum())
        rows.append(
            {
                "month": month,
                "closing_ar": closing,
                "period_credit_sales": sales,
                "period_days": days,
                "dso_simple": closing / sales * days if sales > 0 else np.nan,
                "best_possible_dso": current / sales * days if sales > 0 else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("month")


def test_book_simple_dso_of_the_as_of_month(raw, published_warehouse):
    expected = expected_book_dso(raw).iloc[-1]
    summary = mart(
        published_warehouse,
        "select * from marts.receivables_summary_monthly order by month desc limit 1",
    ).iloc[0]
    assert pd.Timestamp(summary.month) == D.to_period("M").start_time
    assert abs(float(summary.closing_ar) - expected.closing_ar) <= MONEY
    assert abs(float(summary.period_credit_sales) - expected.period_credit_sales) <= MONEY
    assert int(summary.period_days) == expected.period_days == 92  # Aug + Sep + Oct 2026
    assert abs(float(summary.dso_simple) - expected.dso_simple) <= ROUND_2, (
        float(summary.dso_simple),
        expected.dso_simple,
    )
    assert abs(float(summary.best_possible_dso) - expected.best_possible_dso) <= ROUND_2


def test_book_simple_dso_every_month(raw, published_warehouse):
    expected = expected_book_dso(raw)
    actual = mart(published_warehouse, "select * from marts.receivables_summary_monthly")
    actual["month"] = pd.to_datetime(actual.month)
    actual = actual.set_index("month")
    assert_matches(expected.closing_ar, actual.closing_ar, MONEY, "book closing_ar")
    assert_matches(
        expected.period_credit_sales, actual.period_credit_sales, MONEY, "period_credit_sales"
    )
    assert_matches(expected.period_days, actual.period_days, 0, "period_days")
    assert_matches(expected.dso_simple, actual.dso_simple, ROUND_2, "book dso_simple")
    assert_matches(
        expected.best_possible_dso, actual.best_possible_dso, ROUND_2, "book best_possible_dso"
    )


def test_collection_rate_12m_per_customer(raw, published_warehouse):
    """customer_credit.collection_rate_12m = payments and cash discounts on invoices falling due
    in the trailing 12 months / amount falling due. Falling due = invoices (positive amounts; a
    credit note is not a debt) with due date in (D - 12 months, D]; collected = payments of kind
    payment (not write-offs) plus their discounts, dated <= D; null without such invoices."""
    due = raw.invoices[(raw.invoices.amount > 0) & in_window(raw.invoices.due_date)].copy()
    payments = raw.payments[raw.payments.kind == "payment"]
    collected = (payments.amount + payments.discount_taken).groupby(payments.invoice_id).sum()
    due["collected"] = due.invoice_id.map(collected).fillna(0.0)
    sums = due.groupby("customer_id")[["collected", "amount"]].sum()
    expected = (sums.collected / sums.amount).reindex(raw.customers.customer_id)

    actual = mart(published_warehouse, "select * from marts.customer_credit")
    actual = actual.set_index("customer_id").collection_rate_12m
    assert_matches(expected, actual, EXACT, "customer_credit.collection_rate_12m")


# --- 3. Satisfaction (issue 5) -----------------------------------------------------------------


def survey_scores_of(responses: pd.DataFrame) -> dict:
    """CSAT index, top-2-box % and NPS with margin of error of a set of responses, with the base
    of each score (a score on a base below min_responses is null in the segment marts)."""
    csat = responses.csat_index.dropna()
    overall = responses.overall_satisfaction.dropna()
    recommend = responses.likelihood_to_recommend.dropna()
    n = len(recommend)
    promoters = int((recommend >= NPS_PROMOTER_MIN).sum())
    detractors = int((recommend <= NPS_DETRACTOR_MAX).sum())
    p, d = (promoters / n, detractors / n) if n else (np.nan, np.nan)
    return {
        "responses": len(responses),
        "csat_responses": len(csat),
        "csat_index": csat.mean() if len(csat) else np.nan,
        "overall_responses": len(overall),
        "csat_top2_pct": 100 * (overall >= CSAT_TOP_BOX_MIN).mean() if len(overall) else np.nan,
        "nps_responses": n,
        "promoters": promoters,
        "passives": n - promoters - detractors,
        "detractors": detractors,
        "nps": 100 * (p - d) if n else np.nan,
        "nps_margin_of_error": NPS_Z * math.sqrt((p + d - (p - d) ** 2) / n) * 100 if n else np.nan,
    }


def suppress(scores: dict) -> dict:
    scores = dict(scores)
    if scores["csat_responses"] < MIN_RESPONSES:
        scores["csat_index"] = np.nan
    if scores["overall_responses"] < MIN_RESPONSES:
        scores["csat_top2_pct"] = np.nan
    if scores["nps_responses"] < MIN_RESPONSES:
        scores["nps"] = scores["nps_margin_of_error"] = np.nan
    return scores


def expected_satisfaction_monthly(raw: SimpleNamespace) -> pd.DataFrame:
    first = min(raw.purchases.month.min(), raw.surveys.month.min(), raw.complaints.month.min())
    months = pd.period_range(first.to_period("M"), D.to_period("M"), freq="M").to_timestamp()
    rows = []
    for month in months:
        row = suppress(survey_scores_of(raw.surveys[raw.surveys.month == month]))
        orders = int((raw.purchases.month == month).sum())
        complaints = raw.complaints[raw.complaints.month == month]
        valid = int(complaints.is_valid.sum())
        window_start = (month - pd.DateOffset(months=11)).to_period("M").start_time
        window = raw.purchases[
            (raw.purchases.month >= window_start) & (raw.purchases.month <= month)
        ]
        per_customer_orders = window.groupby("customer_id").size()
        active, repeat = len(per_customer_orders), int((per_customer_orders >= 2).sum())
        row.update(
            month=month,
            orders=orders,
            complaints=len(complaints),
            valid_complaints=valid,
            complaint_rate=valid / orders if orders else np.nan,
            active_customers_12m=active,
            repeat_customers_12m=repeat,
            repurchase_rate=repeat / active if active else np.nan,
        )
        rows.append(row)
    return pd.DataFrame(rows).set_index("month")


MONTHLY_TOLERANCES = {
    "responses": 0,
    "csat_responses": 0,
    "overall_responses": 0,
    "nps_responses": 0,
    "promoters": 0,
    "passives": 0,
    "detractors": 0,
    "csat_index": ROUND_2,
    "csat_top2_pct": ROUND_2,
    "nps": ROUND_2,
    "nps_margin_of_error": ROUND_2,
    "orders": 0,
    "complaints": 0,
    "valid_complaints": 0,
    "complaint_rate": ROUND_4,
    "active_customers_12m": 0,
    "repeat_customers_12m": 0,
    "repurchase_rate": ROUND_4,
}


def satisfaction_all_segment(warehouse: Path) -> pd.DataFrame:
    actual = mart(warehouse, "select * from marts.satisfaction_monthly where segment_type = 'all'")
    assert set(actual.segment_value) == {"all"}
    actual["month"] = pd.to_datetime(actual.month)
    return actual.set_index("month")


def test_satisfaction_monthly_whole_base_every_month(raw, published_warehouse):
    expected = expected_satisfaction_monthly(raw)
    actual = satisfaction_all_segment(published_warehouse)
    for column, tolerance in MONTHLY_TOLERANCES.items():
        assert_matches(
            expected[column], actual[column], tolerance, f"satisfaction_monthly.{column}"
        )
    assert_matches(
        (expected.responses < MIN_RESPONSES).astype(float),
        actual.is_suppressed.astype(float),
        0,
        "is_suppressed",
    )


def test_satisfaction_last_full_month_whole_base(raw, published_warehouse):
    """The last full month of the 'all' segment: CSAT index, top-2-box, NPS and its margin of
    error, each null when its base has fewer than min_responses responses."""
    last_full = D.to_period("M")
    if not D.is_month_end:
        last_full -= 1
    month = last_full.start_time
    actual = satisfaction_all_segment(published_warehouse).loc[month]
    assert not actual.is_partial_month
    responses = raw.surveys[raw.surveys.month == month]
    unsuppressed = survey_scores_of(responses)
    expected = suppress(unsuppressed)
    for column in (
        "responses",
        "csat_responses",
        "overall_responses",
        "nps_responses",
        "promoters",
        "passives",
        "detractors",
    ):
        assert int(actual[column]) == expected[column], column
    for column in ("csat_index", "csat_top2_pct", "nps", "nps_margin_of_error"):
        want, got = expected[column], actual[column]
        if pd.isna(want):
            assert pd.isna(got), f"{column}: base below {MIN_RESPONSES}, mart shows {got}"
        else:
            assert abs(float(got) - want) <= ROUND_2, (column, got, want)


def test_customer_satisfaction_trailing_12_months_per_customer(raw, published_warehouse):
    surveys = raw.surveys[in_window(raw.surveys.survey_date)]
    rows = {}
    for customer_id, responses in surveys.groupby("customer_id"):
        scores = survey_scores_of(responses)  # never suppressed for a single customer
        ordered = responses.sort_values(["survey_date", "response_id"])
        recommend = ordered.likelihood_to_recommend.dropna()
        overall = ordered.overall_satisfaction.dropna()
        last = recommend.iloc[-1] if len(recommend) else np.nan
        rows[customer_id] = {
            "responses": scores["responses"],
            "csat_index": scores["csat_index"],
            "csat_top2_pct": scores["csat_top2_pct"],
            "last_recommend_score": last,
            "last_overall_satisfaction": overall.iloc[-1] if len(overall) else np.nan,
            "nps_category": None
            if pd.isna(last)
            else "promoter"
            if last >= NPS_PROMOTER_MIN
            else "detractor"
            if last <= NPS_DETRACTOR_MAX
            else "passive",
        }
    expected = pd.DataFrame.from_dict(rows, orient="index").reindex(raw.customers.customer_id)
    expected["responses"] = expected.responses.fillna(0)

    complaints = raw.complaints[in_window(raw.complaints.opened_date)]
    purchases = raw.purchases[in_window(raw.purchases.order_date)]
    expected["complaints_12m"] = per_customer(raw, complaints.groupby("customer_id").size())
    expected["valid_complaints_12m"] = per_customer(
        raw, complaints[complaints.is_valid].groupby("customer_id").size()
    )
    expected["orders_12m"] = per_customer(raw, purchases.groupby("customer_id").size())
    expected["complaint_rate"] = expected.valid_complaints_12m / expected.orders_12m.where(
        expected.orders_12m > 0
    )

    actual = mart(published_warehouse, "select * from marts.customer_satisfaction")
    actual = actual.set_index("customer_id")
    for column, tolerance in {
        "responses": 0,
        "csat_index": ROUND_2,
        "csat_top2_pct": ROUND_2,
        "last_recommend_score": 0,
        "last_overall_satisfaction": 0,
        "complaints_12m": 0,
        "valid_complaints_12m": 0,
        "orders_12m": 0,
        "complaint_rate": ROUND_4,
    }.items():
        assert_matches(
            expected[column], actual[column], tolerance, f"customer_satisfaction.{column}"
        )
    assert_same_labels(expected.nps_category, actual.nps_category, "nps_category")


def test_repurchase_rate_of_the_as_of_month_counts_repeat_buyers(raw, published_warehouse):
    """Repurchase rate = customers with >= 2 purchases / customers with >= 1 in the 12 calendar
    months ending with the as-of month (= the trailing 12 months when D is a month end)."""
    as_of_month = D.to_period("M").start_time
    window_start = (as_of_month - pd.DateOffset(months=11)).to_period("M").start_time
    window = raw.purchases[
        (raw.purchases.order_date >= window_start) & (raw.purchases.order_date <= D)
    ]
    orders = window.groupby("customer_id").size()
    active, repeat = len(orders), int((orders >= 2).sum())

    row = satisfaction_all_segment(published_warehouse).loc[as_of_month]
    assert int(row.active_customers_12m) == active
    assert int(row.repeat_customers_12m) == repeat
    assert abs(float(row.repurchase_rate) - repeat / active) <= ROUND_4

    if D.is_month_end:  # calendar window = trailing 12 months
        loyalty = mart(published_warehouse, "select * from marts.customer_loyalty")
        loyalty = loyalty.set_index("customer_id")
        assert_matches(per_customer(raw, orders), loyalty.frequency_12m, 0, "frequency_12m")
        assert int(loyalty.is_repeat_buyer.sum()) == repeat
