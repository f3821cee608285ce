"""The raw contract enforced by the loader, on real files and a real DuckDB database."""

import csv
import gzip
import os
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.contract import Column, load_order
from pipelines.loader import _reads_natively, connect, load_extract

VALID_ROWS = {
    "customers": {
        "customer_id": "C1",
        "customer_name": "Acme",
        "customer_type": "retail",
        "payment_terms_days": "30",
        "status": "active",
    },
    "products": {
        "product_id": "P1",
        "product_name": "Widget",
        "unit_cost": "5.00",
        "list_price": "9.90",
    },
    "sales_order_lines": {
        "order_id": "O1",
        "line_no": "1",
        "order_date": "2024-03-05",
        "customer_id": "C1",
        "product_id": "P1",
        "quantity": "2",
        "unit_price": "9.90",
        "discount_amount": "0",
    },
    "interactions": {
        "interaction_id": "I1",
        "customer_id": "C1",
        "interaction_date": "2024-03-05",
        "kind": "sales_visit",
        "cost": "120",
    },
    "invoices": {
        "invoice_id": "INV1",
        "customer_id": "C1",
        "invoice_date": "2024-03-05",
        "due_date": "2024-04-04",
        "amount": "19.80",
        "currency": "CNY",
        "cash_discount_pct": "2",
        "disputed": "false",
    },
    "payments": {
        "payment_id": "PAY1",
        "invoice_id": "INV1",
        "customer_id": "C1",
        "payment_date": "2024-04-01",
        "amount": "19.80",
        "kind": "payment",
    },
    "customer_financials": {
        "customer_id": "C1",
        "period_end": "2023-12-31",
        "current_assets": "100",
        "current_liabilities": "50",
        "cash": "10",
        "total_assets": "300",
        "total_liabilities": "120",
    },
    "surveys": {
        "response_id": "R1",
        "customer_id": "C1",
        "survey_date": "2024-03-05",
        "overall_satisfaction": "4",
        "likelihood_to_recommend": "9",
    },
    "survey_scores": {
        "response_id": "R1",
        "attribute": "delivery",
        "importance": "5",
        "expectation": "4",
        "perception": "3",
    },
    "complaints": {
        "complaint_id": "CP1",
        "customer_id": "C1",
        "opened_date": "2024-03-05",
        "category": "delivery",
        "severity": "high",
        "is_valid": "true",
        "resolved_date": "2024-03-09",
    },
}

# A primary key for a second row of each extract, so the broken row is not a duplicate.
SECOND_KEY = {
    "customers": {"customer_id": "C2"},
    "products": {"product_id": "P2"},
    "sales_order_lines": {"line_no": "2"},
    "interactions": {"interaction_id": "I2"},
    "invoices": {"invoice_id": "INV2"},
    "payments": {"payment_id": "PAY2"},
    "customer_financials": {"period_end": "2022-12-31"},
    "surveys": {"response_id": "R2"},
    "survey_scores": {"attribute": "price"},
    "complaints": {"complaint_id": "CP2"},
}

# (extract, column, value that breaks the contract, rule name written to raw.quarantine)
RULE_CASES = [
    ("customers", "customer_name", "", "not_null"),
    ("customers", "customer_type", "alien", "not_accepted_value"),
    ("customers", "payment_terms_days", "thirty", "invalid_integer"),
    ("customers", "payment_terms_days", "-5", "negative_value"),
    ("customers", "acquired_date", "2024-02-30", "invalid_date"),
    ("customers", "status", "dormant", "not_accepted_value"),
    ("products", "unit_cost", "abc", "invalid_decimal"),
    ("products", "unit_cost", "-1", "negative_value"),
    ("products", "product_name", "", "not_null"),
    ("sales_order_lines", "quantity", "0", "zero_value"),
    ("sales_order_lines", "unit_price", "-9.90", "negative_value"),
    ("sales_order_lines", "customer_id", "C404", "unknown_customer"),
    ("sales_order_lines", "product_id", "P404", "unknown_product"),
    ("sales_order_lines", "order_date", "", "not_null"),
    ("sales_order_lines", "line_no", "1.5", "invalid_integer"),
    ("interactions", "cost", "-3", "negative_value"),
    ("invoices", "due_date", "2024-03-01", "due_date_before_invoice_date"),
    ("invoices", "currency", "yuan", "invalid_format"),
    ("invoices", "cash_discount_pct", "150", "out_of_range"),
    ("invoices", "disputed", "maybe", "invalid_boolean"),
    ("payments", "amount", "0", "not_positive"),
    ("payments", "invoice_id", "INV404", "unknown_invoice"),
    ("payments", "kind", "refund", "not_accepted_value"),
    ("customer_financials", "cash", "", "not_null"),
    ("surveys", "overall_satisfaction", "6", "out_of_range"),
    ("surveys", "likelihood_to_recommend", "11", "out_of_range"),
    ("survey_scores", "perception", "0", "out_of_range"),
    ("survey_scores", "response_id", "R404", "unknown_response"),
    ("complaints", "resolved_date", "2024-03-01", "resolved_before_opened"),
    ("complaints", "severity", "critical", "not_accepted_value"),
    ("complaints", "is_valid", "perhaps", "invalid_boolean"),
]


def write_csv(path: Path, rows: list[dict], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(c for row in rows for c in row))
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


class Warehouse:
    def __init__(self, root: Path):
        self.raw_dir = root / "raw"
        self.scratch = root / "scratch"
        self.con = connect(root / "warehouse.duckdb")

    def load(self, extract: str):
        return load_extract(self.con, extract, self.raw_dir, self.scratch)

    def load_all(self):
        return {name: self.load(name) for name in load_order()}

    def rows(self, sql: str, params=()):
        return self.con.execute(sql, list(params)).fetchall()


@pytest.fixture
def warehouse(tmp_path):
    wh = Warehouse(tmp_path)
    yield wh
    wh.con.close()


def seed_valid_extracts(warehouse: Warehouse, skip: str | None = None) -> None:
    for name in load_order():
        if name != skip:
            write_csv(warehouse.raw_dir / name / f"{name}.csv", [VALID_ROWS[name]])


@pytest.mark.parametrize(
    ("extract", "column", "value", "rule"),
    RULE_CASES,
    ids=[f"{e}-{c}-{r}" for e, c, _, r in RULE_CASES],
)
def test_each_contract_rule_quarantines_the_row_with_its_rule_name(
    warehouse, extract, column, value, rule
):
    seed_valid_extracts(warehouse, skip=extract)
    good = dict(VALID_ROWS[extract])
    bad = dict(good, **SECOND_KEY[extract])
    bad[column] = value
    write_csv(warehouse.raw_dir / extract / "drop.csv", [good, bad])
    outcomes = warehouse.load_all()[extract]

    assert [(o.rows_read, o.rows_loaded, o.rows_quarantined) for o in outcomes] == [(2, 1, 1)]
    quarantined = warehouse.rows(
        "select file_name, line, column_name, rule from raw.quarantine where extract = ?",
        [extract],
    )
    assert quarantined == [("drop.csv", 3, column, rule)]


def test_unambiguous_variants_are_normalised_not_quarantined(warehouse):
    seed_valid_extracts(warehouse, skip="products")
    write_csv(
        warehouse.raw_dir / "products" / "p.csv",
        [
            {"product_id": "P1", "product_name": "A", "unit_cost": "1,234.50"},
            {"product_id": "P2", "product_name": "B", "unit_cost": "¥12.30"},
            {"product_id": "P3", "product_name": "C", "unit_cost": " 7 "},
        ],
    )
    write_csv(
        warehouse.raw_dir / "sales_order_lines" / "s.csv",
        [
            dict(VALID_ROWS["sales_order_lines"], line_no=str(n), order_date=value)
            for n, value in enumerate(
                ["2024/03/05", "05.03.2024", "45356", "2024-03-05T10:30:00"], 1
            )
        ],
    )
    warehouse.load_all()
    assert warehouse.rows("select product_id, unit_cost from raw.products order by 1") == [
        ("P1", Decimal("1234.5")),
        ("P2", Decimal("12.3")),
        ("P3", Decimal("7")),
    ]
    dates = warehouse.rows("select distinct cast(order_date as varchar) from raw.sales_order_lines")
    assert dates == [("2024-03-05",)]
    assert warehouse.rows("select count(*) from raw.quarantine") == [(0,)]


def test_contract_defaults_fill_empty_optional_fields(warehouse):
    seed_valid_extracts(warehouse, skip="customers")
    write_csv(
        warehouse.raw_dir / "customers" / "c.csv",
        [{"customer_id": "C1", "customer_name": "Acme", "payment_terms_days": "", "status": ""}],
    )
    warehouse.load_all()
    assert warehouse.rows("select payment_terms_days, status from raw.customers") == [
        (30, "active")
    ]


def test_gbk_file_loads_with_chinese_text_intact(warehouse):
    write_csv(
        warehouse.raw_dir / "customers" / "gbk.csv",
        [{"customer_id": "C1", "customer_name": "上海华东贸易有限公司", "city": "上海"}],
        encoding="gbk",
    )
    [outcome] = warehouse.load("customers")
    assert outcome.status == "loaded" and outcome.rows_loaded == 1
    assert warehouse.rows("select customer_name, city from raw.customers") == [
        ("上海华东贸易有限公司", "上海")
    ]


def test_gzip_and_parquet_files_load_like_csv(warehouse, tmp_path):
    import duckdb

    write_csv(
        warehouse.raw_dir / "customers" / "a.csv.gz", [{"customer_id": "C1", "customer_name": "A"}]
    )
    parquet = warehouse.raw_dir / "customers" / "b.parquet"
    duckdb.sql(
        "select 'C2' as customer_id, 'B' as customer_name, 15 as payment_terms_days"
    ).write_parquet(str(parquet))
    outcomes = warehouse.load("customers")
    assert sorted((o.file_name, o.rows_loaded) for o in outcomes) == [
        ("a.csv.gz", 1),
        ("b.parquet", 1),
    ]
    assert warehouse.rows(
        "select customer_id, payment_terms_days from raw.customers order by 1"
    ) == [("C1", 30), ("C2", 15)]


def test_newest_file_wins_per_primary_key(warehouse):
    folder = warehouse.raw_dir / "customers"
    write_csv(
        folder / "monday.csv",
        [
            {"customer_id": "C1", "customer_name": "Old name"},
            {"customer_id": "C2", "customer_name": "Kept"},
        ],
    )
    os.utime(folder / "monday.csv", (1_700_000_000, 1_700_000_000))
    warehouse.load("customers")
    write_csv(folder / "tuesday.csv", [{"customer_id": "C1", "customer_name": "New name"}])
    warehouse.load("customers")
    assert warehouse.rows("select customer_id, customer_name from raw.customers order by 1") == [
        ("C1", "New name"),
        ("C2", "Kept"),
    ]


def test_redelivered_file_replaces_its_earlier_version(warehouse):
    folder = warehouse.raw_dir / "customers"
    write_csv(
        folder / "base.csv",
        [
            {"customer_id": "C1", "customer_name": "Base"},
            {"customer_id": "C2", "customer_name": "Base"},
        ],
    )
    os.utime(folder / "base.csv", (1_700_000_000, 1_700_000_000))
    write_csv(
        folder / "daily.csv",
        [
            {"customer_id": "C1", "customer_name": "Daily v1"},
            {"customer_id": "C3", "customer_name": "Only in v1"},
        ],
    )
    os.utime(folder / "daily.csv", (1_700_000_100, 1_700_000_100))
    warehouse.load("customers")
    write_csv(folder / "daily.csv", [{"customer_id": "C2", "customer_name": "Daily v2"}])
    outcomes = warehouse.load("customers")

    assert {o.file_name: o.status for o in outcomes} == {
        "base.csv": "unchanged",
        "daily.csv": "loaded",
    }
    # v1's rows are gone, and the base row v1 had superseded is served again.
    assert warehouse.rows("select customer_id, customer_name from raw.customers order by 1") == [
        ("C1", "Base"),
        ("C2", "Daily v2"),
    ]


def test_second_load_with_no_new_files_reads_nothing(warehouse):
    seed_valid_extracts(warehouse)
    warehouse.load_all()
    before = warehouse.rows("select * from raw.sales_order_lines")
    again = warehouse.load_all()
    assert all(o.status == "unchanged" for outcomes in again.values() for o in outcomes)
    assert warehouse.rows("select * from raw.sales_order_lines") == before


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (b"", "empty"),
        (b"\x00\x01\x02binary\x00garbage", "NUL bytes"),
        (b"customer_id;customer_name\nC1;Acme\n", "looks delimited by ';'"),
        (b"id,name\n1,x\n", "missing required column(s) customer_id, customer_name"),
        (b"customer_id,customer_name\nC1,\xff\xfe\xfd\xfc\n", "neither UTF-8 nor GB18030"),
    ],
    ids=["zero-bytes", "binary", "semicolons", "wrong-header", "undecodable"],
)
def test_unreadable_file_is_rejected_whole_and_old_data_stays(warehouse, content, cause):
    folder = warehouse.raw_dir / "customers"
    write_csv(folder / "customers.csv", [{"customer_id": "C1", "customer_name": "Acme"}])
    warehouse.load("customers")
    (folder / "customers.csv").write_bytes(content)

    [outcome] = warehouse.load("customers")
    assert outcome.status == "rejected"
    assert cause in outcome.message and "customers.csv" in outcome.message
    assert warehouse.rows("select customer_id, customer_name from raw.customers") == [
        ("C1", "Acme")
    ]
    assert warehouse.rows("select status from raw.file_manifest") == [("rejected",)]


def test_malformed_rows_are_quarantined_with_their_physical_line(warehouse):
    folder = warehouse.raw_dir / "customers"
    folder.mkdir(parents=True)
    (folder / "c.csv").write_text(
        "customer_id,customer_name,city\n"
        'C1,"Two\nline name",X\n'
        "C2,Short\n"
        "C3,Fine,Y\n"
        "C3,Later wins,Z\n"
    )
    [outcome] = warehouse.load("customers")
    assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (4, 2, 2)
    assert warehouse.rows("select line, rule from raw.quarantine order by line") == [
        (4, "malformed_row"),
        (5, "duplicate_key_in_file"),
    ]
    assert warehouse.rows("select customer_id, _source_line from raw.customers order by 1") == [
        ("C1", 2),
        ("C3", 6),
    ]


# Typed Parquet columns that break rules, or fit none of the contract's types exactly: a missing
# required value, zero, negative, out-of-range and too-large numbers, a due date before the
# invoice date, a null boolean that takes its default, an unknown customer, a repeated key.
TYPED_PARQUET_ROWS = {
    "sales_order_lines": """
        select * from (values
            ('O1', 1, date '2024-03-05', 'C1', 'P1', 2, 9.90, 0.00),
            ('O2', 1, null, 'C1', 'P1', 1, 5.00, 0.00),
            ('O3', 1, date '2024-03-05', 'C1', 'P1', 0, 5.00, null),
            ('O4', 1, date '2024-03-05', 'C1', 'P1', 1, -1.50, 0.00),
            ('O5', 1, date '2024-03-05', 'C1', 'P1', 99999999999999999, 1.00, 0.00),
            ('O6', null, date '2024-03-05', 'C1', 'P1', 1, 1.00, 0.00),
            ('O7', 1, date '2024-03-05', 'C9', 'P1', 1, 1.00, 0.00),
            ('O1', 1, date '2024-03-06', 'C1', 'P1', 3, 9.90, 0.00)
        ) as t(order_id, line_no, order_date, customer_id, product_id, quantity, unit_price,
               discount_amount)
    """,
    "invoices": """
        select * from (values
            ('INV1', 'C1', date '2024-03-05', date '2024-04-04', 19.80::decimal(18, 2), 2.5,
             10::smallint, false),
            ('INV2', 'C1', date '2024-03-05', date '2024-03-01', 10.00, 0.0, 0::smallint, null),
            ('INV3', 'C1', date '2024-03-05', date '2024-04-04', 10.00, 120.0, -1::smallint, true),
            ('INV4', 'C1', date '2024-03-05', date '2024-04-04', null, null, null, null)
        ) as t(invoice_id, customer_id, invoice_date, due_date, amount, cash_discount_pct,
               cash_discount_days, disputed)
    """,
}


@pytest.mark.parametrize("extract", sorted(TYPED_PARQUET_ROWS))
def test_typed_parquet_values_are_checked_like_the_same_values_as_text(extract, tmp_path):
    import duckdb

    typed = duckdb.sql(TYPED_PARQUET_ROWS[extract])
    as_text = duckdb.sql(
        "select " + ", ".join(f"cast({c} as varchar) as {c}" for c in typed.columns) + " from typed"
    )
    loaded = {}
    for name, relation in (("typed", typed), ("text", as_text)):
        (tmp_path / name).mkdir()
        warehouse = Warehouse(tmp_path / name)
        seed_valid_extracts(warehouse, skip=extract)
        warehouse.raw_dir.joinpath(extract).mkdir(parents=True, exist_ok=True)
        relation.write_parquet(str(warehouse.raw_dir / extract / "extract.parquet"))
        warehouse.load_all()
        loaded[name] = (
            warehouse.rows(
                f"select * exclude (_source_file, _file_modified_at, _loaded_at)"
                f" from raw.{extract} order by all"
            ),
            warehouse.rows(
                "select line, column_name, rule, message, raw_values from raw.quarantine"
                " where extract = ? order by all",
                [extract],
            ),
        )
        warehouse.con.close()
    assert loaded["typed"] == loaded["text"]
    rows, quarantined = loaded["typed"]
    assert rows and len(quarantined) >= 3


@pytest.mark.parametrize(
    ("contract_type", "parquet_type", "is_native"),
    [
        ("date", "DATE", True),
        ("integer", "SMALLINT", True),
        ("decimal", "DECIMAL(18,2)", True),
        ("decimal", "BIGINT", True),
        ("boolean", "BOOLEAN", True),
        ("decimal", "DOUBLE", False),
        ("date", "VARCHAR", False),
        ("date", "TIMESTAMP", False),
        ("text", "INTEGER", False),
    ],
)
def test_parquet_dates_numbers_and_booleans_skip_the_text_round_trip(
    contract_type, parquet_type, is_native
):
    column = Column("value", contract_type)
    assert _reads_natively(column, parquet_type) is is_native
    if contract_type != "text":
        with_values = Column("value", contract_type, accepted_values=("1",))
        assert not _reads_natively(with_values, parquet_type)
