"""Tests of the demo data generator: contract shape, integrity, determinism and realism."""

from __future__ import annotations

import filecmp
import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from pipelines.generate import _Calendar, _profiles, generate_day, generate_extracts

END = date(2025, 6, 30)
SEED = 42
CUSTOMERS = 800
MONTHS = 18

# Columns of the raw contract (shared/raw_contract.md), written out independently of the module.
CONTRACT_COLUMNS = {
    "customers": [
        "customer_id", "customer_name", "customer_type", "channel_role", "region", "city",
        "industry", "sales_rep", "acquired_date", "payment_terms_days", "status",
    ],
    "products": ["product_id", "product_name", "category", "unit_cost", "list_price"],
    "sales_order_lines": [
        "order_id", "line_no", "order_date", "customer_id", "product_id", "quantity",
        "unit_price", "discount_amount", "channel", "promised_date", "delivered_date",
        "freight_cost",
    ],
    "interactions": ["interaction_id", "customer_id", "interaction_date", "kind", "cost"],
    "invoices": [
        "invoice_id", "customer_id", "order_id", "invoice_date", "due_date", "amount",
        "currency", "cash_discount_pct", "cash_discount_days", "disputed",
    ],
    "payments": [
        "payment_id", "invoice_id", "customer_id", "payment_date", "amount", "kind",
        "discount_taken", "method",
    ],
    "customer_financials": [
        "customer_id", "period_end", "current_assets", "current_liabilities", "cash",
        "total_assets", "total_liabilities", "revenue", "ebit", "interest_expense",
    ],
    "surveys": [
        "response_id", "customer_id", "survey_date", "overall_satisfaction",
        "likelihood_to_recommend", "comment",
    ],
    "survey_scores": ["response_id", "attribute", "importance", "expectation", "perception"],
    "complaints": [
        "complaint_id", "customer_id", "opened_date", "category", "severity", "is_valid",
        "resolved_date",
    ],
}  # fmt: skip
PRIMARY_KEYS = {
    "customers": ["customer_id"],
    "products": ["product_id"],
    "sales_order_lines": ["order_id", "line_no"],
    "interactions": ["interaction_id"],
    "invoices": ["invoice_id"],
    "payments": ["payment_id"],
    "customer_financials": ["customer_id", "period_end"],
    "surveys": ["response_id"],
    "survey_scores": ["response_id", "attribute"],
    "complaints": ["complaint_id"],
}
DATE_COLUMNS = {
    "customers": ["acquired_date"],
    "sales_order_lines": ["order_date", "promised_date", "delivered_date"],
    "interactions": ["interaction_date"],
    "invoices": ["invoice_date"],
    "payments": ["payment_date"],
    "customer_financials": ["period_end"],
    "surveys": ["survey_date"],
    "complaints": ["opened_date", "resolved_date"],
}


def read_extract(raw: Path, extract: str, pattern: str = "*") -> pd.DataFrame:
    """Every file of an extract folder (CSV or parquet) as one frame; dates as datetime64."""
    tables = []
    for path in sorted((raw / extract).glob(f"{pattern}.*")):
        if path.suffix == ".csv":
            table = pacsv.read_csv(
                path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True)
            )
        else:
            table = pq.read_table(path)
        tables.append(table)
    table = pa.concat_tables(tables, promote_options="permissive")
    frame = table.to_pandas(date_as_object=False)
    for column in DATE_COLUMNS.get(extract, []) + ["due_date"]:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column])
    return frame


def cents(values: pd.Series) -> pd.Series:
    return (values.astype(float) * 100).round().astype("int64")


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("raw")
    generate_extracts(path, customers=CUSTOMERS, months=MONTHS, end_date=END, seed=SEED)
    return path


@pytest.fixture(scope="module")
def data(raw: Path) -> dict[str, pd.DataFrame]:
    return {extract: read_extract(raw, extract) for extract in CONTRACT_COLUMNS}


@pytest.fixture(scope="module")
def hidden() -> pd.DataFrame:
    """The hidden profile of the fixture's customers, indexed by customer_id."""
    p = _profiles(SEED, 0, CUSTOMERS, _Calendar.build(END, MONTHS))
    ids = [f"C{n + 1:07d}" for n in p.number]
    return pd.DataFrame(
        {
            "risk": p.risk,
            "quality": p.quality,
            "drifter": p.drifter,
            "churned": p.churned,
            "churn_day": pd.to_datetime(p.churn_day, unit="D"),
        },
        index=ids,
    )


@pytest.fixture(scope="module")
def orders(data: dict[str, pd.DataFrame]) -> pd.DataFrame:
    lines = data["sales_order_lines"]
    sales = lines[lines["quantity"] > 0]
    return sales.groupby("order_id").agg(
        customer_id=("customer_id", "first"), order_date=("order_date", "first")
    )


# --- Shape and integrity ------------------------------------------------------------------------


def test_same_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    for file_format in ("csv", "parquet"):
        first, second = tmp_path / f"a_{file_format}", tmp_path / f"b_{file_format}"
        for target in (first, second):
            generate_extracts(
                target, customers=300, months=12, end_date=END, file_format=file_format
            )
        names = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
        assert names == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
        _, mismatch, errors = filecmp.cmpfiles(first, second, names, shallow=False)
        assert not mismatch and not errors


def test_other_seed_gives_other_data(tmp_path: Path) -> None:
    generate_extracts(tmp_path / "a", customers=100, months=6, end_date=END, seed=1)
    generate_extracts(tmp_path / "b", customers=100, months=6, end_date=END, seed=2)
    a = (tmp_path / "a/customers/customers.csv").read_bytes()
    assert a != (tmp_path / "b/customers/customers.csv").read_bytes()


def test_layout_is_one_dimension_file_and_one_part_per_chunk(raw: Path) -> None:
    assert [p.name for p in (raw / "customers").iterdir()] == ["customers.csv"]
    assert [p.name for p in (raw / "products").iterdir()] == ["products.csv"]
    for extract in set(CONTRACT_COLUMNS) - {"customers", "products"}:
        assert [p.name for p in (raw / extract).iterdir()] == [f"{extract}_part0001.csv"]


def test_every_contract_column_is_present_in_order(data: dict[str, pd.DataFrame]) -> None:
    for extract, columns in CONTRACT_COLUMNS.items():
        assert list(data[extract].columns) == columns, extract
        assert len(data[extract]) > 0, extract


def test_csv_uses_iso_dates_dot_decimals_lowercase_booleans_and_empty_nulls(raw: Path) -> None:
    header, *rows = (
        (raw / "invoices/invoices_part0001.csv").read_text(encoding="utf-8").splitlines()
    )
    assert header.replace('"', "").split(",") == CONTRACT_COLUMNS["invoices"]
    iso_date, decimal = r"\d{4}-\d{2}-\d{2}", r"-?\d+\.\d{2}"
    row = re.compile(
        rf'^"[^"]+","[^"]+",[^,]*,{iso_date},{iso_date},{decimal},"CNY",'
        rf"(|2\.00),(|10),(true|false)$"
    )
    assert all(row.match(line) for line in rows)


def test_primary_keys_are_unique(data: dict[str, pd.DataFrame]) -> None:
    for extract, key in PRIMARY_KEYS.items():
        assert not data[extract].duplicated(key).any(), extract


def test_foreign_keys_are_valid(data: dict[str, pd.DataFrame]) -> None:
    customers = set(data["customers"]["customer_id"])
    for extract in CONTRACT_COLUMNS:
        if "customer_id" in data[extract] and extract != "customers":
            assert set(data[extract]["customer_id"]) <= customers, extract
    lines = data["sales_order_lines"]
    assert set(lines["product_id"]) <= set(data["products"]["product_id"])
    invoices = data["invoices"]
    assert set(invoices["order_id"].dropna()) <= set(lines["order_id"])
    payments = data["payments"].merge(invoices, on="invoice_id", suffixes=("", "_invoice"))
    assert len(payments) == len(data["payments"])
    assert (payments["customer_id"] == payments["customer_id_invoice"]).all()
    assert set(data["survey_scores"]["response_id"]) <= set(data["surveys"]["response_id"])
    # An order's invoice goes to the customer who ordered.
    by_order = lines.groupby("order_id")["customer_id"].first()
    billed = invoices.dropna(subset=["order_id"])
    assert (billed["customer_id"].to_numpy() == by_order[billed["order_id"]].to_numpy()).all()


def test_required_values_and_ranges_follow_the_contract(data: dict[str, pd.DataFrame]) -> None:
    lines = data["sales_order_lines"]
    assert (lines["quantity"] != 0).all()
    assert (lines["unit_price"] >= 0).all() and (lines["discount_amount"] >= 0).all()
    assert (lines["freight_cost"] >= 0).all()
    customers = data["customers"]
    assert set(customers["customer_type"]) == {"retail", "commercial", "organization"}
    assert set(customers["channel_role"]) == {"distributor", "retailer", "end_user"}
    assert set(customers["payment_terms_days"]) <= {0, 15, 30, 45, 60, 90}
    assert (customers["status"] == "active").mean() > 0.9
    assert customers["region"].nunique() == 7
    assert 150 <= len(data["products"]) <= 300
    assert (data["interactions"]["cost"] >= 0).all()
    assert set(data["interactions"]["kind"]) == {
        "sales_visit", "service_call", "support_ticket", "training", "promotion",
    }  # fmt: skip
    assert (data["payments"]["amount"] > 0).all()
    assert set(data["invoices"]["currency"]) == {"CNY"}
    surveys = data["surveys"]
    assert surveys["overall_satisfaction"].dropna().between(1, 5).all()
    assert surveys["likelihood_to_recommend"].dropna().between(0, 10).all()
    scores = data["survey_scores"]
    assert scores["perception"].notna().all()
    for column in ("importance", "expectation", "perception"):
        assert scores[column].dropna().between(1, 5).all()


def test_nothing_is_dated_after_end_date(data: dict[str, pd.DataFrame]) -> None:
    end = pd.Timestamp(END)
    for extract, columns in DATE_COLUMNS.items():
        for column in columns:
            assert (data[extract][column].dropna() <= end).all(), (extract, column)
    period_end = data["customer_financials"]["period_end"]
    assert ((period_end.dt.month == 12) & (period_end.dt.day == 31)).all()


def test_dates_are_in_a_sensible_order(data: dict[str, pd.DataFrame]) -> None:
    lines = data["sales_order_lines"]
    assert (
        lines["delivered_date"].dropna() >= lines.loc[lines["delivered_date"].notna(), "order_date"]
    ).all()
    invoices = data["invoices"]
    assert (invoices["due_date"] >= invoices["invoice_date"]).all()
    assert (invoices["due_date"] > pd.Timestamp(END)).any(), "due dates may lie ahead"
    complaints = data["complaints"].dropna(subset=["resolved_date"])
    assert (complaints["resolved_date"] >= complaints["opened_date"]).all()
    payments = data["payments"].merge(invoices[["invoice_id", "invoice_date"]], on="invoice_id")
    assert (payments["payment_date"] >= payments["invoice_date"]).all()


def test_payments_never_exceed_invoice_amount(data: dict[str, pd.DataFrame]) -> None:
    invoices = data["invoices"].set_index("invoice_id")
    payments = data["payments"]
    settled = (
        (cents(payments["amount"]) + cents(payments["discount_taken"]))
        .groupby(payments["invoice_id"])
        .sum()
    )
    assert (settled <= cents(invoices.loc[settled.index, "amount"])).all()
    credit_notes = invoices.index[invoices["amount"] < 0]
    assert len(credit_notes) > 0
    assert not set(payments["invoice_id"]) & set(credit_notes)
    # A cash discount is only taken together with full payment.
    discounted = payments[payments["discount_taken"] > 0]
    assert len(discounted) > 0
    total = cents(discounted["amount"]) + cents(discounted["discount_taken"])
    assert (total.to_numpy() == cents(invoices.loc[discounted["invoice_id"], "amount"])).all()


# --- Realism --------------------------------------------------------------------------------


def test_top_fifth_of_customers_bring_most_revenue(data: dict[str, pd.DataFrame]) -> None:
    lines = data["sales_order_lines"]
    window = lines[lines["order_date"] > pd.Timestamp(END) - pd.DateOffset(months=12)]
    net = window["quantity"] * window["unit_price"] - window["discount_amount"]
    revenue = net.groupby(window["customer_id"]).sum()
    revenue = revenue.reindex(data["customers"]["customer_id"], fill_value=0.0)
    ranked = revenue.sort_values(ascending=False)
    share = ranked.iloc[: len(ranked) // 5].sum() / ranked.sum()
    assert 0.65 <= share <= 0.9


def test_some_products_sell_below_cost(data: dict[str, pd.DataFrame]) -> None:
    lines = data["sales_order_lines"].merge(data["products"], on="product_id")
    margin = (
        (lines["quantity"] * (lines["unit_price"] - lines["unit_cost"]) - lines["discount_amount"])
        .groupby(lines["product_id"])
        .sum()
    )
    assert (margin < 0).sum() >= 5
    assert (margin > 0).mean() > 0.75
    by_category = (lines["list_price"] / lines["unit_cost"]).groupby(lines["category"]).mean()
    assert by_category.max() - by_category.min() > 0.5, "margins differ by category"


def test_returns_reference_products_the_customer_bought(data: dict[str, pd.DataFrame]) -> None:
    lines = data["sales_order_lines"]
    returns = lines[lines["quantity"] < 0]
    assert 0.02 <= len(returns) / len(lines) <= 0.04
    bought = set(
        zip(
            lines.loc[lines["quantity"] > 0, "customer_id"],
            lines.loc[lines["quantity"] > 0, "product_id"],
            strict=True,
        )
    )
    assert set(zip(returns["customer_id"], returns["product_id"], strict=True)) <= bought
    credit = data["invoices"].merge(returns[["order_id"]].drop_duplicates(), on="order_id")
    assert (credit["amount"] < 0).all()


def test_orders_have_several_lines_channels_and_seasonality(
    data: dict[str, pd.DataFrame], orders: pd.DataFrame
) -> None:
    lines = data["sales_order_lines"]
    assert lines.groupby("order_id").size().mean() > 2
    assert set(lines["channel"]) == {"direct", "distributor", "online"}
    per_month = orders.groupby(orders["order_date"].dt.to_period("M")).size()
    assert per_month["2025-01"] > 1.4 * per_month["2025-02"], "pre-Spring-Festival peak"
    assert per_month["2024-12"] > 1.15 * per_month[["2024-08", "2024-09", "2024-10"]].mean()


def test_late_deliveries_follow_poor_service_quality(
    data: dict[str, pd.DataFrame], hidden: pd.DataFrame
) -> None:
    lines = data["sales_order_lines"].dropna(subset=["delivered_date"])
    late = (lines["delivered_date"] > lines["promised_date"]).groupby(lines["customer_id"]).mean()
    quality = hidden.loc[late.index, "quality"]
    assert late[quality < 0.4].mean() > 2 * late[quality > 0.8].mean()
    assert 0.05 < (lines["delivered_date"] > lines["promised_date"]).mean() < 0.2


def test_payment_behaviour_covers_late_partial_written_off_and_disputed(
    data: dict[str, pd.DataFrame], hidden: pd.DataFrame
) -> None:
    invoices = data["invoices"]
    payments = data["payments"].merge(invoices[["invoice_id", "due_date"]], on="invoice_id")
    regular = payments[payments["kind"] == "payment"]
    assert (regular["payment_date"] > regular["due_date"]).any()
    assert (regular.groupby("invoice_id").size() >= 2).any(), "instalments"
    write_offs = payments[payments["kind"] == "write_off"]
    assert len(write_offs) > 0
    assert (hidden.loc[write_offs["customer_id"], "risk"] == 3).all(), "only bad risks"
    assert (write_offs["payment_date"] - write_offs["due_date"]).dt.days.min() >= 240
    assert invoices["disputed"].mean() > 0.01
    disputed = regular[regular["invoice_id"].isin(invoices.loc[invoices["disputed"], "invoice_id"])]
    assert (disputed["payment_date"] > disputed["due_date"]).mean() > 0.8
    assert invoices["cash_discount_pct"].notna().any()
    assert not invoices["order_id"].notna().all(), "migrated opening balances"
    unpaid = set(invoices.loc[invoices["amount"] > 0, "invoice_id"]) - set(payments["invoice_id"])
    recent = invoices[invoices["invoice_id"].isin(unpaid)]["invoice_date"]
    assert (recent > pd.Timestamp(END) - timedelta(days=30)).sum() > 10, "recent invoices open"


def test_late_payment_grows_with_hidden_risk(
    data: dict[str, pd.DataFrame], hidden: pd.DataFrame
) -> None:
    invoices = data["invoices"]
    payments = data["payments"].merge(invoices[["invoice_id", "due_date"]], on="invoice_id")
    payments = payments[payments["kind"] == "payment"]
    days_late = (payments["payment_date"] - payments["due_date"]).dt.days.clip(lower=0)
    by_risk = days_late.groupby(hidden.loc[payments["customer_id"], "risk"].to_numpy()).mean()
    assert list(by_risk.index) == [0, 1, 2, 3]
    assert by_risk.is_monotonic_increasing


def test_some_customers_have_no_financial_statement(
    data: dict[str, pd.DataFrame], hidden: pd.DataFrame
) -> None:
    customers = data["customers"]
    filed = customers["customer_id"].isin(data["customer_financials"]["customer_id"])
    by_type = filed.groupby(customers["customer_type"]).mean()
    assert 0.5 < by_type["commercial"] < 1 and 0.5 < by_type["organization"] < 1
    assert by_type["retail"] < 0.15
    statements = data["customer_financials"]
    risk = hidden.loc[statements["customer_id"], "risk"].to_numpy()
    current = (statements["current_assets"] / statements["current_liabilities"]).groupby(risk)
    debt = (statements["total_liabilities"] / statements["total_assets"]).groupby(risk)
    coverage = (statements["ebit"] / statements["interest_expense"]).groupby(risk)
    assert current.mean()[0] > 1.7 and current.mean()[3] < 1
    assert debt.mean()[0] < 0.45 and debt.mean()[3] > 0.8
    assert coverage.median()[0] > 5 and coverage.median()[3] < 1


def test_interactions_cost_more_for_big_accounts_and_some_customers_lose_money(
    data: dict[str, pd.DataFrame],
) -> None:
    lines = data["sales_order_lines"].merge(data["products"], on="product_id")
    net = lines["quantity"] * lines["unit_price"] - lines["discount_amount"]
    margin = (
        (net - lines["quantity"] * lines["unit_cost"] - lines["freight_cost"])
        .groupby(lines["customer_id"])
        .sum()
    )
    revenue = net.groupby(lines["customer_id"]).sum()
    interactions = data["interactions"]
    visits = interactions[interactions["kind"] == "sales_visit"].groupby("customer_id").size()
    top = revenue.sort_values(ascending=False).index[: len(revenue) // 10]
    assert (
        visits.reindex(top, fill_value=0).mean()
        > 1.5 * visits.reindex(revenue.index, fill_value=0).mean()
    )
    cost = interactions.groupby("customer_id")["cost"].sum().reindex(margin.index, fill_value=0)
    contribution = margin - cost
    loss_share = (contribution < -0.02 * revenue).mean()
    assert 0.03 < loss_share < 0.4


def test_surveys_follow_hidden_service_quality(
    data: dict[str, pd.DataFrame], hidden: pd.DataFrame
) -> None:
    surveys = data["surveys"]
    answered = surveys["customer_id"].nunique() / len(data["customers"])
    assert 0.2 < answered < 0.8
    quality = hidden.loc[surveys["customer_id"], "quality"].to_numpy()
    assert (
        np.corrcoef(
            quality[surveys["overall_satisfaction"].notna()],
            surveys["overall_satisfaction"].dropna(),
        )[0, 1]
        > 0.4
    )
    assert surveys["overall_satisfaction"].isna().any() and surveys["comment"].notna().any()
    scores = data["survey_scores"]
    assert (scores.groupby("response_id").size() == 5).all()
    gap = (scores["perception"] - scores["expectation"]).groupby(scores["attribute"]).mean()
    assert gap["delivery"] < -0.3 and gap.max() - gap.min() > 0.5


def test_complaints_grow_with_poor_service_and_some_stay_open(
    data: dict[str, pd.DataFrame], hidden: pd.DataFrame, orders: pd.DataFrame
) -> None:
    complaints = data["complaints"]
    assert set(complaints["category"]) == {"product_quality", "contract", "delivery", "service"}
    assert set(complaints["severity"]) == {"low", "medium", "high"}
    assert 0.04 < 1 - complaints["is_valid"].mean() < 0.18
    assert complaints["resolved_date"].isna().any()
    per_customer = complaints.groupby("customer_id").size()
    orders_per_customer = orders.groupby("customer_id").size()
    rate = per_customer.reindex(orders_per_customer.index, fill_value=0) / orders_per_customer
    quality = hidden.loc[rate.index, "quality"]
    assert rate[quality < 0.5].mean() > 2 * rate[quality > 0.8].mean()


def test_silent_drifters_order_less_and_never_complain(
    data: dict[str, pd.DataFrame], hidden: pd.DataFrame, orders: pd.DataFrame
) -> None:
    # The share is a property of the profiles; a large sample keeps sampling noise out of it.
    many = _profiles(SEED, 0, 50_000, _Calendar.build(END, MONTHS))
    assert 0.08 <= many.drifter[~many.inactive].mean() <= 0.10
    drifters = hidden.index[hidden["drifter"]]
    assert not set(drifters) & set(data["complaints"]["customer_id"])
    end = pd.Timestamp(END)
    mine = orders[orders["customer_id"].isin(drifters)]
    last_90 = (mine["order_date"] > end - timedelta(days=90)).sum()
    before = (
        (mine["order_date"] > end - timedelta(days=365))
        & (mine["order_date"] <= end - timedelta(days=180))
    ).sum()
    assert last_90 / 90 < 0.5 * before / 185
    churned = hidden[hidden["churned"]]
    assert len(churned) > 0
    after = orders.join(churned["churn_day"], on="customer_id", how="inner")
    assert (after["order_date"] <= after["churn_day"]).all()


def test_some_customers_are_new_within_the_last_year(data: dict[str, pd.DataFrame]) -> None:
    acquired = data["customers"]["acquired_date"]
    new = acquired > pd.Timestamp(END) - pd.DateOffset(months=12)
    assert 0.05 < new.mean() < 0.4
    assert (acquired < pd.Timestamp(END) - pd.DateOffset(months=MONTHS)).mean() > 0.5


# --- Determinism, formats, reruns, daily drops --------------------------------------------------


def test_customer_profile_does_not_depend_on_customer_count(tmp_path: Path) -> None:
    generate_extracts(tmp_path / "small", customers=120, months=6, end_date=END)
    generate_extracts(tmp_path / "large", customers=300, months=6, end_date=END)
    small = (tmp_path / "small/customers/customers.csv").read_text().splitlines()
    large = (tmp_path / "large/customers/customers.csv").read_text().splitlines()
    assert large[: len(small)] == small


def test_parquet_output_is_readable_with_identical_row_counts(
    tmp_path: Path, data: dict[str, pd.DataFrame]
) -> None:
    counts = generate_extracts(
        tmp_path, customers=CUSTOMERS, months=MONTHS, end_date=END, seed=SEED, file_format="parquet"
    )
    for extract, frame in data.items():
        table = pq.read_table(next((tmp_path / extract).glob("*.parquet")))
        assert table.num_rows == len(frame) == counts[extract], extract
        assert table.column_names == CONTRACT_COLUMNS[extract]
    lines = read_extract(tmp_path, "sales_order_lines")
    assert lines["order_id"].tolist() == data["sales_order_lines"]["order_id"].tolist()


def test_progress_is_reported_per_chunk(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    generate_extracts(
        tmp_path,
        customers=50,
        months=3,
        end_date=END,
        progress=lambda stage, done, total: calls.append((stage, done, total)),
    )
    assert calls[0] == ("customers", 0, 50) and calls[-1] == ("customers", 50, 50)


def test_rerun_replaces_own_files_and_keeps_foreign_ones(tmp_path: Path) -> None:
    generate_extracts(tmp_path, customers=50, months=3, end_date=END)
    stale = tmp_path / "invoices/invoices_part0007.csv"
    foreign = tmp_path / "invoices/manual_correction.csv"
    stale.write_text("stale")
    foreign.write_text("invoice_id\n")
    generate_extracts(tmp_path, customers=50, months=3, end_date=END, file_format="parquet")
    assert not stale.exists() and foreign.exists()
    assert not (tmp_path / "invoices/invoices_part0001.csv").exists()
    assert (tmp_path / "invoices/invoices_part0001.parquet").exists()


def test_unknown_file_format_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="file_format"):
        generate_extracts(tmp_path, customers=10, months=1, end_date=END, file_format="xlsx")


def test_generate_day_adds_new_dated_files_without_key_collisions(tmp_path: Path) -> None:
    generate_extracts(tmp_path, customers=1500, months=12, end_date=END)
    history = {extract: read_extract(tmp_path, extract) for extract in CONTRACT_COLUMNS}
    day = END + timedelta(days=1)
    counts = generate_day(tmp_path, day, customers=1500, months=12)
    assert counts["sales_order_lines"] > 0 and counts["payments"] > 0
    stamp = day.isoformat()
    date_column = {
        "sales_order_lines": "order_date",
        "invoices": "invoice_date",
        "payments": "payment_date",
        "interactions": "interaction_date",
        "surveys": "survey_date",
        "complaints": "opened_date",
    }
    new = {}
    for extract in counts:
        path = tmp_path / extract / f"{extract}_day_{stamp}.csv"
        assert path.exists(), extract
        new[extract] = read_extract(tmp_path, extract, f"{extract}_day_{stamp}")
        assert len(new[extract]) == counts[extract]
        if extract in date_column and counts[extract]:
            assert (new[extract][date_column[extract]] == pd.Timestamp(day)).all(), extract
        if counts[extract]:
            merged = pd.concat([history[extract], new[extract]])
            assert not merged.duplicated(PRIMARY_KEYS[extract]).any(), extract
            assert set(new[extract].get("customer_id", [])) <= set(
                history["customers"]["customer_id"]
            )

    invoices = pd.concat([history["invoices"], new["invoices"]])
    payments = pd.concat([history["payments"], new["payments"]])
    assert set(new["payments"]["invoice_id"]) <= set(invoices["invoice_id"])
    assert set(new["payments"]["invoice_id"]) & set(history["invoices"]["invoice_id"])
    settled = (
        (cents(payments["amount"]) + cents(payments["discount_taken"]))
        .groupby(payments["invoice_id"])
        .sum()
    )
    amount = cents(invoices.set_index("invoice_id")["amount"])
    assert (settled <= amount[settled.index]).all()
    assert set(new["survey_scores"]["response_id"]) <= set(new["surveys"]["response_id"])

    written = tmp_path / "payments" / f"payments_day_{stamp}.csv"
    before = written.read_bytes()
    assert generate_day(tmp_path, day, customers=1500, months=12) == counts
    assert written.read_bytes() == before, "rerunning a day is reproducible"


def test_generate_day_settles_invoices_of_a_parquet_history(tmp_path: Path) -> None:
    generate_extracts(tmp_path, customers=600, months=6, end_date=END, file_format="parquet")
    day = END + timedelta(days=3)
    counts = generate_day(tmp_path, day, customers=600, months=6, file_format="parquet")
    payments = read_extract(tmp_path, "payments", f"payments_day_{day.isoformat()}")
    assert len(payments) == counts["payments"] > 0
    history = read_extract(tmp_path, "invoices", "invoices_part*")
    assert payments["invoice_id"].isin(history["invoice_id"]).any()
    assert (payments["amount"] > 0).all()
    assert not list(tmp_path.rglob("*.csv")), "the daily drop follows the requested format"
