"""Files real exports produce that break the raw contract, and the exact outcome of each.

Every case is a folder ``tests/corpus/<case>/<extract>/<file>``: the files of one bad night,
delivered on top of a small valid base (customers C1, C2; products P1, P2; invoice INV1;
survey R1). Each file must end in a clear, specific outcome: loaded with the broken rows
quarantined under a named rule at their physical line and column, or rejected whole with a cause
that names the problem; never a traceback, never a silent drop (rows read = loaded +
quarantined). The rules themselves are covered one by one in test_loader.py.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.contract import load_order
from pipelines.loader import MAX_LINE_BYTES, RAW_VALUE_CHARS, connect, load_extract
from pipelines.quality import reconcile_file_counts
from tests.test_loader import VALID_ROWS, write_csv

CORPUS = Path(__file__).parent / "corpus"
BASE_MTIME = 1_600_000_000
DELIVERY_MTIME = 1_700_000_000


@dataclass(frozen=True)
class Loaded:
    """A file that loads: rows read, rows loaded, and every quarantined (line, column, rule)."""

    read: int
    loaded: int
    quarantined: list[tuple[int, str | None, str]] = field(default_factory=list)
    message: str = ""


@dataclass(frozen=True)
class Rejected:
    """A file rejected whole; ``cause`` is part of the message shown to the person who sent it."""

    cause: str


CASES: dict[str, dict[str, Loaded | Rejected]] = {
    "semicolon_delimited_excel": {
        "products/products_export.csv": Rejected(
            "missing required column(s) product_id, product_name, unit_cost (the header looks "
            "delimited by ';'; the contract uses ',')"
        )
    },
    "tab_delimited": {"customers/customers.csv": Rejected("the header looks delimited by tab")},
    "utf8_bom_crlf": {"customers/customers_20240305.csv": Loaded(3, 3)},
    "utf16_with_bom": {"customers/customers.csv": Loaded(2, 2)},
    "gbk_undeclared": {
        "customers/客户导出.csv": Loaded(4, 3, [(3, "customer_type", "not_accepted_value")])
    },
    "utf8_cut_inside_character": {
        "customers/customers.csv": Loaded(4, 3, [(5, "customer_name, city", "malformed_row")])
    },
    "truncated_last_line": {
        "customers/customers.csv": Loaded(3, 2, [(4, "customer_type, city", "malformed_row")])
    },
    "truncated_inside_quotes": {
        "surveys/surveys.csv": Loaded(2, 1, [(3, "comment", "malformed_row")])
    },
    "quoted_newlines": {
        "surveys/surveys.csv": Loaded(4, 3, [(8, "overall_satisfaction", "out_of_range")])
    },
    "empty_lines": {
        "customers/customers.csv": Loaded(3, 2, [(6, "customer_type", "not_accepted_value")])
    },
    "unterminated_quote": {
        "customers/customers.csv": Loaded(2, 1, [(3, "customer_name", "malformed_row")])
    },
    "duplicate_keys_in_file": {
        "customers/customers.csv": Loaded(
            4,
            2,
            [
                (2, "customer_id", "duplicate_key_in_file"),
                (4, "customer_id", "duplicate_key_in_file"),
            ],
        )
    },
    "duplicate_keys_across_files": {
        "customers/customers_2024-03-04.csv": Loaded(2, 2),
        "customers/customers_2024-03-05.csv": Loaded(2, 2),
    },
    "dates_in_other_formats": {
        "sales_order_lines/orders.csv": Loaded(
            11,
            8,
            [
                (10, "order_date", "invalid_date"),
                (11, "order_date", "invalid_date"),
                (12, "order_date", "invalid_date"),
            ],
        )
    },
    "thousands_and_currency_symbols": {
        "products/products.csv": Loaded(
            6,
            3,
            [
                (5, None, "malformed_row"),
                (6, "unit_cost", "invalid_decimal"),
                (7, "unit_cost", "negative_value"),
            ],
        )
    },
    "currency_symbol_vs_currency_column": {
        "invoices/invoices.csv": Loaded(
            5, 3, [(3, "amount", "currency_mismatch"), (6, "amount", "currency_mismatch")]
        )
    },
    "negative_prices": {
        "sales_order_lines/orders.csv": Loaded(
            5,
            2,
            [
                (4, "unit_price", "negative_value"),
                (5, "unit_price", "negative_value"),
                (6, "discount_amount", "negative_value"),
            ],
        )
    },
    "orphan_foreign_keys": {
        "sales_order_lines/orders.csv": Loaded(
            5,
            2,
            [
                (3, "customer_id", "unknown_customer"),
                (4, "product_id", "unknown_product"),
                (5, "customer_id", "unknown_customer"),
            ],
        ),
        "payments/payments.csv": Loaded(2, 1, [(3, "invoice_id", "unknown_invoice")]),
    },
    "due_date_before_invoice_date": {
        "invoices/invoices.csv": Loaded(
            4,
            2,
            [
                (4, "due_date", "due_date_before_invoice_date"),
                (5, "due_date", "due_date_before_invoice_date"),
            ],
        )
    },
    "zero_bytes": {"customers/customers.csv": Rejected("the file is empty (0 bytes)")},
    "only_empty_lines": {"customers/customers.csv": Rejected("line 1 holds no header")},
    "header_only": {"customers/customers.csv": Loaded(0, 0, message="header only: no data rows")},
    "unknown_extra_columns": {
        "customers/customers.csv": Loaded(
            1, 1, message="ignored column(s) not in the contract: payment_term_days, remarks"
        )
    },
    "missing_required_column": {
        "products/products.csv": Rejected("missing required column(s) unit_cost;")
    },
    "excel_workbook_named_csv": {
        "customers/customers.csv": Rejected("a ZIP archive (an Excel .xlsx workbook?)")
    },
    "gzip_named_csv": {
        "customers/customers.csv": Rejected("gzip-compressed data; name the file .csv.gz")
    },
    "binary_garbage": {
        "customers/customers.csv": Rejected("contains NUL bytes: binary data, not a CSV text file")
    },
    "nul_padded_after_crash": {
        "customers/customers.csv": Rejected("ends in 512 NUL bytes, so the file was cut off")
    },
    "excel_sep_line": {
        "customers/customers.csv": Rejected("line 1 is an Excel 'sep=' line: delete it")
    },
    "null_markers": {"customers/customers.csv": Loaded(2, 1, [(3, "customer_name", "not_null")])},
}

# What the loaded rows hold, where parsing is the point of the case: (query, expected rows).
LOADED_VALUES: dict[str, tuple[str, list[tuple]]] = {
    "utf8_bom_crlf": (
        "select customer_id, customer_name, customer_type, city, _source_line"
        " from raw.customers where customer_id like 'C1_' order by 1",
        [
            ("C10", "上海华东贸易有限公司", "commercial", "上海", 2),
            ("C11", "广州南方五金店", "retail", "广州", 3),
            ("C12", "北京建材集团", "organization", "北京", 4),
        ],
    ),
    "utf16_with_bom": (
        "select customer_id, customer_name, city from raw.customers"
        " where customer_id like 'C1_' order by 1",
        [("C10", "上海华东贸易有限公司", "上海"), ("C11", "Blue River Foods", "武汉")],
    ),
    "gbk_undeclared": (
        "select customer_id, customer_name, city, _source_line from raw.customers"
        " where customer_id like 'C1_' order by 1",
        [
            ("C10", "上海华东贸易有限公司", "上海", 2),
            ("C12", "成都西部机电\r\n(总部)", "成都", 4),
            ("C13", "杭州镕达科技", "杭州", 6),
        ],
    ),
    "utf8_cut_inside_character": (
        "select customer_name from raw.customers where customer_id like 'C1_' order by customer_id",
        [("上海华东贸易有限公司",), ("广州南方五金店",), ("北京建材集团",)],
    ),
    "quoted_newlines": (
        "select response_id, comment, _source_line from raw.surveys"
        " where response_id like 'R1_' order by 1",
        [
            ("R10", 'Good service.\nDriver was "very" polite.', 2),
            ("R11", "Line one\r\nline two\n\nafter an empty line", 4),
            ("R13", "plain", 9),
        ],
    ),
    "empty_lines": (
        "select customer_id, _source_line from raw.customers where customer_id like 'C1_'"
        " order by 1",
        [("C10", 3), ("C12", 7)],
    ),
    "duplicate_keys_in_file": (
        "select customer_id, customer_name, _source_line from raw.customers"
        " where customer_id like 'C1_' order by 1",
        [("C10", "Third version", 5), ("C11", "Blue River Foods", 3)],
    ),
    "duplicate_keys_across_files": (
        "select customer_id, customer_name, _source_file from raw.customers"
        " where customer_id like 'C1_' order by 1",
        [
            ("C10", "Tuesday name", "customers_2024-03-05.csv"),
            ("C11", "Only on Monday", "customers_2024-03-04.csv"),
            ("C12", "Only on Tuesday", "customers_2024-03-05.csv"),
        ],
    ),
    "dates_in_other_formats": (
        "select distinct order_date from raw.sales_order_lines where order_id = 'O10'",
        [(date(2024, 3, 5),)],
    ),
    "thousands_and_currency_symbols": (
        "select product_id, unit_cost, list_price from raw.products"
        " where product_id like 'P1_' order by 1",
        [
            ("P10", Decimal("1234.5"), Decimal("2469")),
            ("P11", Decimal("1234.5"), Decimal("2469")),
            ("P12", Decimal("12"), Decimal("30")),
        ],
    ),
    "currency_symbol_vs_currency_column": (
        "select invoice_id, amount, currency from raw.invoices where invoice_id like 'INV1_'"
        " order by 1",
        [
            ("INV10", Decimal("100"), "USD"),
            ("INV12", Decimal("1000"), "HKD"),
            ("INV13", Decimal("250"), "CNY"),
        ],
    ),
    "negative_prices": (
        "select line_no, quantity from raw.sales_order_lines where order_id = 'O10' order by 1",
        [(1, Decimal("5")), (2, Decimal("-2"))],
    ),
    "orphan_foreign_keys": (
        "select line_no, customer_id from raw.sales_order_lines where order_id = 'O10' order by 1",
        [(1, "C1"), (5, "C2")],
    ),
    "unknown_extra_columns": (
        "select customer_id, payment_terms_days from raw.customers where customer_id = 'C10'",
        [("C10", 30)],
    ),
    "null_markers": (
        "select customer_id, acquired_date, payment_terms_days, status, city from raw.customers"
        " where customer_id like 'C1_'",
        [("C10", None, 30, "active", None)],
    ),
}


def _seed_base(raw: Path) -> None:
    """The valid rows every case builds on, delivered long before the case's files."""
    base = {
        "customers": [VALID_ROWS["customers"], dict(VALID_ROWS["customers"], customer_id="C2")],
        "products": [VALID_ROWS["products"], dict(VALID_ROWS["products"], product_id="P2")],
        "invoices": [VALID_ROWS["invoices"]],
        "surveys": [VALID_ROWS["surveys"]],
    }
    for extract, rows in base.items():
        path = write_csv(raw / extract / "base.csv", rows)
        os.utime(path, (BASE_MTIME, BASE_MTIME))


def _deliver(case: Path, raw: Path) -> None:
    """Copy a case's files; file names give the delivery order (later name = newer file)."""
    files = sorted(p for p in case.rglob("*") if p.is_file())
    for order, source in enumerate(files):
        target = raw / source.relative_to(case)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        os.utime(target, (DELIVERY_MTIME + order, DELIVERY_MTIME + order))


class Night:
    """A work database that received the base and then one case's files."""

    def __init__(self, root: Path):
        self.raw = root / "raw"
        self.scratch = root / "scratch"
        self.con = connect(root / "warehouse.duckdb")
        _seed_base(self.raw)

    def load(self) -> dict[str, object]:
        """Load every extract folder present, parents first; outcomes of non-base files."""
        outcomes = {}
        for extract in load_order():
            if (self.raw / extract).is_dir():
                for outcome in load_extract(self.con, extract, self.raw, self.scratch):
                    if outcome.file_name != "base.csv":
                        outcomes[f"{extract}/{outcome.file_name}"] = outcome
        return outcomes

    def rows(self, sql: str, params=()) -> list[tuple]:
        return self.con.execute(sql, list(params)).fetchall()


@pytest.fixture
def night(tmp_path):
    wh = Night(tmp_path)
    yield wh
    wh.con.close()


def test_every_corpus_case_has_an_expected_outcome():
    on_disk = {
        case.name: sorted(p.relative_to(case).as_posix() for p in case.rglob("*") if p.is_file())
        for case in CORPUS.iterdir()
        if case.is_dir()
    }
    assert on_disk == {case: sorted(files) for case, files in CASES.items()}
    assert set(LOADED_VALUES) <= set(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_export_file_gets_its_exact_outcome(night, case):
    _deliver(CORPUS / case, night.raw)
    outcomes = night.load()

    assert sorted(outcomes) == sorted(CASES[case])
    for key, expected in CASES[case].items():
        extract, file_name = key.split("/")
        outcome = outcomes[key]
        stored = night.rows(
            "select line, column_name, rule from raw.quarantine"
            " where extract = ? and file_name = ? order by line",
            [extract, file_name],
        )
        manifest = night.rows(
            "select status, rows_read, rows_loaded, rows_quarantined from raw.file_manifest"
            " where extract = ? and file_name = ?",
            [extract, file_name],
        )
        in_raw = night.rows(
            f"select count(*) from raw.{extract} where _source_file = ?", [file_name]
        )[0][0]
        if isinstance(expected, Rejected):
            assert outcome.status == "rejected", outcome
            assert expected.cause in outcome.message and file_name in outcome.message
            assert (stored, in_raw) == ([], 0)
            assert manifest == [("rejected", 0, 0, 0)]
            continue
        assert outcome.status == "loaded", outcome
        read, loaded, quarantined = expected.read, expected.loaded, len(expected.quarantined)
        assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (
            read,
            loaded,
            quarantined,
        )
        assert read == loaded + quarantined
        assert outcome.message == expected.message
        assert stored == expected.quarantined
        assert manifest == [("loaded", read, loaded, quarantined)]
        if case != "duplicate_keys_across_files":  # there the newer file supersedes a row
            assert in_raw == loaded
        assert reconcile_file_counts(night.con, extract).passed
    if case in LOADED_VALUES:
        sql, expected_rows = LOADED_VALUES[case]
        assert night.rows(sql) == expected_rows


def test_quarantine_messages_say_what_is_wrong_with_the_line(tmp_path):
    expected = {
        ("unterminated_quote", "customers.csv", 3): "the record spans lines 3-5",
        ("thousands_and_currency_symbols", "products.csv", 5): (
            "an unquoted comma inside a value, such as a thousands separator?"
        ),
        ("utf8_cut_inside_character", "customers.csv", 5): (
            "invalid UTF-8 bytes in this line (the rest of the file is UTF-8"
        ),
        ("currency_symbol_vs_currency_column", "invoices.csv", 3): (
            "amount carries $ but the row's currency is CNY"
        ),
    }
    for (case, file_name, line), phrase in expected.items():
        (tmp_path / case).mkdir()
        night = Night(tmp_path / case)
        _deliver(CORPUS / case, night.raw)
        night.load()
        [(message,)] = night.rows(
            "select message from raw.quarantine where file_name = ? and line = ?",
            [file_name, line],
        )
        night.con.close()
        assert phrase in message


def test_huge_line_is_quarantined_and_the_rows_around_it_load(night):
    folder = night.raw / "surveys"
    with (folder / "huge.csv").open("w", encoding="utf-8") as handle:
        handle.write("response_id,customer_id,survey_date,comment\n")
        handle.write("R10,C1,2024-03-05,short\n")
        handle.write('R11,C1,2024-03-05,"' + "x" * (MAX_LINE_BYTES + 1_000) + '"\n')
        handle.write("R12,C2,2024-03-06,after the huge line\n")
    outcome = night.load()["surveys/huge.csv"]

    assert (outcome.status, outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (
        "loaded",
        3,
        2,
        1,
    )
    [(line, rule, message, raw_values)] = night.rows(
        "select line, rule, message, raw_values from raw.quarantine where file_name = 'huge.csv'"
    )
    assert (line, rule) == (3, "malformed_row")
    assert message == f"the line is longer than the {MAX_LINE_BYTES:,}-byte limit"
    assert len(raw_values) < RAW_VALUE_CHARS + 100  # the quarantine keeps a cut, not 10 MB
    assert night.rows(
        "select response_id, _source_line from raw.surveys where _source_file = 'huge.csv'"
        " order by 1"
    ) == [("R10", 2), ("R12", 4)]


def test_rejected_redelivery_keeps_the_rows_and_quarantine_of_the_earlier_version(night):
    _deliver(CORPUS / "truncated_last_line", night.raw)
    night.load()
    before = night.rows("select line, rule from raw.quarantine where file_name = 'customers.csv'")
    shutil.copyfile(
        CORPUS / "excel_workbook_named_csv" / "customers" / "customers.csv",
        night.raw / "customers" / "customers.csv",
    )
    [outcome] = [o for o in night.load().values() if o.status != "unchanged"]

    assert outcome.status == "rejected"
    assert before == [(4, "malformed_row")]
    assert (
        night.rows("select line, rule from raw.quarantine where file_name = 'customers.csv'")
        == before
    )
    assert night.rows(
        "select customer_id from raw.customers where _source_file = 'customers.csv' order by 1"
    ) == [("C10",), ("C11",)]


def test_redelivering_one_file_keeps_the_quarantine_of_the_others(night):
    """Re-delivery rebuilds the extract from its folder; the other files' quarantined rows stay
    (the reconciliation rows read = loaded + quarantined would otherwise block every refresh)."""
    _deliver(CORPUS / "duplicate_keys_across_files", night.raw)
    _deliver(CORPUS / "truncated_last_line", night.raw)
    night.load()
    monday = night.raw / "customers" / "customers_2024-03-04.csv"
    monday.write_text("customer_id,customer_name,city\nC10,Monday again,Tianjin\n")
    os.utime(monday, (DELIVERY_MTIME, DELIVERY_MTIME))
    night.load()

    assert night.rows("select file_name, line, rule from raw.quarantine") == [
        ("customers.csv", 4, "malformed_row")
    ]
    assert reconcile_file_counts(night.con, "customers").passed
