"""The source-mapping engine (pipelines/mapping.py) on small hand-made exports."""

import csv
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.contract import load_order
from pipelines.loader import connect, load_extract
from pipelines.mapping import (
    ExpressionError,
    MappingError,
    _Compiler,
    parse_expression,
    run_import,
)

PROJECT = Path(__file__).resolve().parents[1]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def read_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def issues(report, name: str, level: str | None = None) -> list[str]:
    return [i.message for i in report.target(name).issues if level is None or i.level == level]


@pytest.fixture
def erp(tmp_path) -> Path:
    """A small ERP export: German headers, day.month.year dates, semicolons, price x qty."""
    exports = tmp_path / "exports"
    write(
        exports / "kunden_2024.csv",
        "Kundennr;Firma;Ort;Seit\nK1;Acme GmbH;Berlin;05.03.2023\nK2;Beta AG;Hamburg;17.11.2022\n",
    )
    write(
        exports / "artikel.csv",
        "Artikel;Bezeichnung;EK\nA1;Widget;4,50\nA2;Gadget;10,00\n",
    )
    write(
        exports / "auftraege.csv",
        "Beleg;Pos;Datum;Kunde;Artikel;Menge;Preis;Status\n"
        "B1;1;05/03/2024;K1;A1;2;9.90;ok\n"
        "B1;2;05/03/2024;K1;A2;1;19.50;ok\n"
        "B2;1;07/03/2024;K2;A1;3;9.90;storniert\n"
        "B3;1;2024-03-08;K2;A2;4;19.50;ok\n",
    )
    return exports


ERP_MAPPING = """
source: myerp
defaults:
  delimiter: ";"
  date_format: "%d.%m.%Y"
params:
  vat: 0.19
inputs:
  kunden: kunden_*.csv
  artikel: artikel.csv
  auftraege:
    file: auftraege.csv
    date_format: "%d/%m/%Y"
views:
  orders_ok:
    from:
      input: auftraege
      filter:
        - where: Status <> 'storniert'
          reason: cancelled orders
    columns:
      order_id: Beleg
      customer_id: Kunde
      order_date: {expr: "date(Datum)"}
      amount: {expr: "Preis * Menge"}
extracts:
  customers:
    from: kunden
    columns:
      customer_id: Kundennr
      customer_name: Firma
      city: Ort
      acquired_date: Seit
      customer_type: {const: commercial}
      payment_terms_days: {const: 14}
  products:
    from: artikel
    columns:
      product_id: Artikel
      product_name: Bezeichnung
      unit_cost: {expr: "number(replace(EK, ',', '.'))"}
  sales_order_lines:
    from:
      input: auftraege
      filter:
        - where: Status <> 'storniert'
          reason: cancelled orders are not sales
    columns:
      order_id: Beleg
      line_no: Pos
      order_date: Datum
      customer_id: Kunde
      product_id: Artikel
      quantity: Menge
      unit_price: Preis
      channel: {const: direct}
  invoices:
    from:
      input: orders_ok
      group_by: [order_id, customer_id, order_date]
    columns:
      invoice_id: {expr: "'INV-' || order_id"}
      customer_id: customer_id
      order_id: order_id
      invoice_date: order_date
      due_date: {expr: "add_days(order_date, 30)"}
      amount: {expr: "round(sum(amount) * (1 + $vat), 2)"}
"""


def test_renames_constants_expressions_and_date_formats(erp, tmp_path):
    mapping = write(tmp_path / "myerp.yaml", ERP_MAPPING)
    raw = tmp_path / "raw"
    report = run_import(mapping, erp, raw)
    assert report.ok, report.lines()

    customers = read_rows(raw / "customers" / "myerp_customers.csv")
    assert customers == [
        {"customer_id": "K1", "customer_name": "Acme GmbH", "customer_type": "commercial",
         "city": "Berlin", "acquired_date": "2023-03-05", "payment_terms_days": "14"},
        {"customer_id": "K2", "customer_name": "Beta AG", "customer_type": "commercial",
         "city": "Hamburg", "acquired_date": "2022-11-17", "payment_terms_days": "14"},
    ]  # fmt: skip
    assert [r["unit_cost"] for r in read_rows(raw / "products" / "myerp_products.csv")] == [
        "4.5",
        "10",
    ]
    lines = read_rows(raw / "sales_order_lines" / "myerp_sales_order_lines.csv")
    # The input's own date format (%d/%m/%Y) wins over the default; ISO dates still read.
    assert [(r["order_id"], r["line_no"], r["order_date"]) for r in lines] == [
        ("B1", "1", "2024-03-05"),
        ("B1", "2", "2024-03-05"),
        ("B3", "1", "2024-03-08"),
    ]
    invoices = read_rows(raw / "invoices" / "myerp_invoices.csv")
    # price * qty summed per order, times (1 + $vat): (2 x 9.90 + 19.50) x 1.19 = 46.77
    assert [(r["invoice_id"], r["amount"], r["due_date"]) for r in invoices] == [
        ("INV-B1", "46.77", "2024-04-04"),
        ("INV-B3", "92.82", "2024-04-07"),
    ]
    dropped = issues(report, "sales_order_lines", "info")
    assert any(
        "dropped 1 of 4 rows" in m and "cancelled orders are not sales" in m for m in dropped
    )
    assert any(
        "optional columns not mapped" in m and "freight_cost (default 0)" in m for m in dropped
    )
    assert set(report.not_mapped) == {
        "interactions",
        "payments",
        "customer_financials",
        "surveys",
        "survey_scores",
        "complaints",
    }
    assert [t.name for t in report.targets] == ["orders_ok"] + [
        e for e in load_order() if e in {"customers", "products", "sales_order_lines", "invoices"}
    ]


def test_mapped_files_load_through_the_real_loader(erp, tmp_path):
    raw = tmp_path / "raw"
    assert run_import(write(tmp_path / "m.yaml", ERP_MAPPING), erp, raw).ok
    con = connect(tmp_path / "warehouse.duckdb")
    try:
        for extract in ("customers", "products", "sales_order_lines", "invoices"):
            (outcome,) = load_extract(con, extract, raw, tmp_path / "scratch")
            assert outcome.status == "loaded" and outcome.rows_quarantined == 0, outcome
        total = con.execute("select sum(amount) from raw.invoices").fetchone()[0]
        assert total == Decimal("139.59")
    finally:
        con.close()


def test_gbk_export_is_read_and_written_as_utf8(tmp_path):
    exports = tmp_path / "exports"
    text = "客户编号,客户名称,城市,开户日期\nC001,上海华联贸易有限公司,上海,2023年05月06日\n"
    write(exports / "客户.csv", text, encoding="gbk")
    write(exports / "explicit.csv", text, encoding="gbk")
    mapping = write(
        tmp_path / "kingdee.yaml",
        """
source: kingdee
defaults: {date_format: "%Y年%m月%d日"}
inputs:
  detected: 客户.csv
  declared: {file: explicit.csv, encoding: gbk}
extracts:
  customers:
    - from: detected
      columns: {customer_id: 客户编号, customer_name: 客户名称, city: 城市, acquired_date: 开户日期}
    - from: declared
      columns:
        customer_id: {expr: "客户编号 || '-B'"}
        customer_name: 客户名称
        city: 城市
        acquired_date: 开户日期
""",
    )
    raw = tmp_path / "raw"
    report = run_import(mapping, exports, raw)
    assert report.ok, report.lines()
    path = raw / "customers" / "kingdee_customers.csv"
    path.read_bytes().decode("utf-8")  # valid UTF-8
    assert read_rows(path) == [
        {"customer_id": "C001", "customer_name": "上海华联贸易有限公司", "city": "上海",
         "acquired_date": "2023-05-06"},
        {"customer_id": "C001-B", "customer_name": "上海华联贸易有限公司", "city": "上海",
         "acquired_date": "2023-05-06"},
    ]  # fmt: skip


def test_derived_extracts_views_joins_and_group_by(tmp_path):
    exports = tmp_path / "exports"
    write(
        exports / "orders.csv",
        "order_no,buyer,buyer_name,when,total,state\n"
        "1,u1,Ann,2024-01-02,10.00,done\n"
        "2,u1,Ann Smith,2024-02-03,30.00,done\n"
        "3,u2,Bob,2024-02-04,5.00,done\n"
        "4,u3,Cy,2024-02-05,7.00,void\n",
    )
    write(exports / "surveys.csv", "order_no,stars\n1,5\n3,2\n99,4\n")
    mapping = write(
        tmp_path / "shop.yaml",
        """
source: shop
inputs:
  orders: orders.csv
  stars: surveys.csv
extracts:
  customers:          # derived: there is no customer file, buyers come from the orders
    from:
      input: orders
      group_by: [buyer]
    columns:
      customer_id: buyer
      customer_name: {expr: 'arg_max(buyer_name, date("when"))'}  # `when` is a keyword: quote it
      acquired_date: {expr: 'min(date("when"))'}
  surveys:
    from:
      inputs: {s: stars, o: orders, c: "extract:customers"}
      joins:
        - {input: o, on: {s.order_no: o.order_no}, reason: survey of an unknown order}
        - {input: c, on: {o.buyer: c.customer_id}}
    columns:
      response_id: {expr: "'S' || s.order_no"}
      customer_id: c.customer_id
      survey_date: o.when
      overall_satisfaction: s.stars
""",
    )
    raw = tmp_path / "raw"
    report = run_import(mapping, exports, raw)
    assert report.ok, report.lines()
    customers = read_rows(raw / "customers" / "shop_customers.csv")
    assert [(r["customer_id"], r["customer_name"], r["acquired_date"]) for r in customers] == [
        ("u1", "Ann Smith", "2024-01-02"),
        ("u2", "Bob", "2024-02-04"),
        ("u3", "Cy", "2024-02-05"),
    ]
    surveys = read_rows(raw / "surveys" / "shop_surveys.csv")
    assert [(r["response_id"], r["customer_id"], r["overall_satisfaction"]) for r in surveys] == [
        ("S1", "u1", "5"),
        ("S3", "u2", "2"),
    ]
    assert any(
        "dropped 1 row with no match in o" in m and "survey of an unknown order" in m
        for m in issues(report, "surveys")
    )


def test_unknown_column_is_reported_with_a_suggestion_and_the_extract_not_written(erp, tmp_path):
    broken = ERP_MAPPING.replace("customer_name: Firma", "customer_name: Frima")
    raw = tmp_path / "raw"
    report = run_import(write(tmp_path / "m.yaml", broken), erp, raw)
    assert not report.ok
    (error,) = issues(report, "customers", "error")
    assert "unknown column 'Frima'" in error and "did you mean Firma" in error
    assert not (raw / "customers").exists()
    # The other extracts are still mapped and written.
    assert (raw / "products" / "myerp_products.csv").exists()
    assert "NOT WRITTEN" in "\n".join(report.lines())


def test_unknown_contract_column_and_ambiguous_column_are_errors(tmp_path):
    exports = tmp_path / "exports"
    write(exports / "a.csv", "id,name\n1,x\n")
    write(exports / "b.csv", "id,name\n1,y\n")
    mapping = write(
        tmp_path / "m.yaml",
        """
source: s
extracts:
  customers:
    from:
      inputs: {a: a.csv, b: b.csv}
      joins: [{input: b, on: {a.id: b.id}}]
    columns: {customer_id: a.id, customer_name: name, custmer_type: {const: retail}}
""",
    )
    report = run_import(mapping, exports, tmp_path / "raw")
    errors = " | ".join(issues(report, "customers", "error"))
    assert "'custmer_type' is not a column of the customers contract" in errors
    assert "did you mean 'customer_type'" in errors
    assert "column 'name' is in several inputs (a.name, b.name): qualify it" in errors


def test_required_column_unmapped_is_a_clear_error(erp, tmp_path):
    broken = ERP_MAPPING.replace("      product_name: Bezeichnung\n", "")
    raw = tmp_path / "raw"
    report = run_import(write(tmp_path / "m.yaml", broken), erp, raw)
    (error,) = issues(report, "products", "error")
    assert error.startswith("required column(s) not mapped: product_name")
    assert not (raw / "products").exists()


@pytest.mark.parametrize(
    "expression",
    [
        "Preis; drop table raw.customers",
        "read_csv('/etc/passwd')",
        "__import__('os').system('rm -rf /')",
        "Preis /* comment */",
        "getvariable('x')",
        "(select 1)",
        "Preis::varchar",
        "Preis @ 2",
    ],
)
def test_unsafe_expressions_are_rejected(erp, tmp_path, expression):
    unsafe = ERP_MAPPING.replace(
        "unit_cost: {expr: \"number(replace(EK, ',', '.'))\"}",
        "unit_cost: {expr: '" + expression.replace("'", "''") + "'}",
    )
    assert unsafe != ERP_MAPPING
    raw = tmp_path / "raw"
    report = run_import(write(tmp_path / "m.yaml", unsafe), erp, raw)
    assert report.target("products").failed, expression
    assert not (raw / "products").exists()


def test_expression_language_is_parsed_not_executed():
    compiler = _Compiler(lambda q, n: (f'"{n}"', "text", None), {"fee": 2}, lambda a: None, None)
    with pytest.raises(ExpressionError, match=r"function system\(\) is not allowed"):
        compiler.compile(parse_expression("system('ls')"))
    with pytest.raises(ExpressionError, match="unknown parameter"):
        compiler.compile(parse_expression("$nope"))
    sql, typ = compiler.compile(parse_expression("'it''s' || name"))
    assert sql == "('it''s' || \"name\")" and typ == "text"
    with pytest.raises(ExpressionError, match="unexpected character"):
        parse_expression("a; b")
    with pytest.raises(ExpressionError):
        parse_expression("case when a then 1")  # no end
    tree = parse_expression("coalesce(o.price, 0) * qty + $fee")
    assert tree.op == "+"


def test_unparseable_dates_are_reported_and_left_for_the_loader_to_quarantine(tmp_path):
    exports = tmp_path / "exports"
    write(exports / "c.csv", "id,name,since\nC1,A,2024-13-45\nC2,B,03.04.2024\nC3,C,\n")
    mapping = write(
        tmp_path / "m.yaml",
        """
source: s
defaults: {date_format: "%d.%m.%Y"}
extracts:
  customers:
    from: c.csv
    columns: {customer_id: id, customer_name: name, acquired_date: since}
""",
    )
    raw = tmp_path / "raw"
    report = run_import(mapping, exports, raw)
    assert report.ok
    warnings = issues(report, "customers", "warning")
    assert warnings == ["1 non-empty value of since cannot be read as a date (%d.%m.%Y)"]
    rows = read_rows(raw / "customers" / "s_customers.csv")
    assert [r["acquired_date"] for r in rows] == ["2024-13-45", "2024-04-03", ""]
    con = connect(tmp_path / "wh.duckdb")
    try:
        load_extract(con, "customers", raw, tmp_path / "scratch")
        assert con.execute("select line, rule from raw.quarantine").fetchall() == [
            (2, "invalid_date")
        ]
    finally:
        con.close()


def test_constants_are_checked_against_the_contract(erp, tmp_path):
    broken = ERP_MAPPING.replace("{const: commercial}", "{const: wholesale}")
    report = run_import(write(tmp_path / "m.yaml", broken), erp, tmp_path / "raw")
    (error,) = issues(report, "customers", "error")
    assert "customer_type" in error and "not one of retail, commercial, organization" in error


def test_invalid_mapping_files_raise_with_the_place(erp, tmp_path):
    with pytest.raises(MappingError, match="not valid YAML"):
        run_import(write(tmp_path / "a.yaml", "source: [unclosed"), erp, tmp_path / "raw")
    with pytest.raises(MappingError, match="unknown key.*'extract'.*did you mean 'extracts'"):
        run_import(write(tmp_path / "b.yaml", "source: s\nextract: {}\n"), erp, tmp_path / "raw")
    with pytest.raises(MappingError, match="'customer' is not a contract extract"):
        run_import(
            write(
                tmp_path / "c.yaml",
                "source: s\nextracts:\n  customer:\n    from: x.csv\n"
                "    columns: {customer_id: a}\n",
            ),
            erp,
            tmp_path / "raw",
        )
    with pytest.raises(MappingError, match="unknown param 'vatt'"):
        run_import(write(tmp_path / "d.yaml", ERP_MAPPING), erp, tmp_path / "raw", {"vatt": 1})


def test_missing_input_file_is_reported(erp, tmp_path):
    broken = ERP_MAPPING.replace("artikel: artikel.csv", "artikel: items_*.csv")
    report = run_import(write(tmp_path / "m.yaml", broken), erp, tmp_path / "raw")
    (error,) = issues(report, "products", "error")
    assert "no file matches 'items_*.csv'" in error


def test_reimport_of_the_same_exports_leaves_files_untouched(erp, tmp_path):
    mapping = write(tmp_path / "m.yaml", ERP_MAPPING)
    raw = tmp_path / "raw"
    run_import(mapping, erp, raw)
    path = raw / "customers" / "myerp_customers.csv"
    before = path.stat().st_mtime_ns
    time.sleep(0.01)
    run_import(mapping, erp, raw)
    assert path.stat().st_mtime_ns == before
    assert not list(raw.glob("*/.*.tmp"))


def test_dry_run_writes_nothing(erp, tmp_path):
    report = run_import(
        write(tmp_path / "m.yaml", ERP_MAPPING), erp, tmp_path / "raw", dry_run=True
    )
    assert report.ok and not (tmp_path / "raw").exists()
    assert report.target("customers").rows == 2


def test_cli_import_exit_codes_and_params(erp, tmp_path):
    mapping = write(tmp_path / "m.yaml", ERP_MAPPING)
    raw = tmp_path / "raw"

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "pipelines", "import", *args],
            capture_output=True,
            text=True,
            cwd=PROJECT,
            env={**os.environ},
            timeout=120,
        )

    ok = cli("--mapping", str(mapping), "--from", str(erp), "--to", str(raw),
             "--param", "vat=0", "--report", str(tmp_path / "report.json"))  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "Result: 4 of 4 extracts mapped" in ok.stdout
    invoices = read_rows(raw / "invoices" / "myerp_invoices.csv")
    assert invoices[0]["amount"] == "39.3"  # without VAT
    assert '"ok": true' in (tmp_path / "report.json").read_text()

    broken = write(tmp_path / "broken.yaml", ERP_MAPPING.replace("Firma", "Frima"))
    failed = cli("--mapping", str(broken), "--from", str(erp), "--to", str(raw))
    assert failed.returncode == 1 and "FAILED: customers" in failed.stdout

    invalid = cli("--mapping", str(mapping), "--from", str(tmp_path / "nowhere"), "--to", str(raw))
    assert invalid.returncode == 2 and "does not exist" in invalid.stderr


def test_a_large_export_maps_fast(tmp_path):
    """Vectorised: 300,000 order lines with a join, a filter and expressions in seconds."""
    exports = tmp_path / "exports"
    exports.mkdir()
    import duckdb

    duckdb.sql(
        "copy (select 'O' || (i // 3) as doc, i % 3 + 1 as pos, 'C' || (i % 5000) as cust,"
        " 'P' || (i % 300) as item, (i % 7) + 1 as qty, round((i % 1000) / 10.0, 2) as price,"
        " '2024-01-' || lpad(cast(i % 28 + 1 as varchar), 2, '0') as day,"
        " case when i % 50 = 0 then 'void' else 'ok' end as state"
        f" from range(300000) t(i)) to '{exports / 'lines.csv'}' (header true)"
    )
    mapping = write(
        tmp_path / "m.yaml",
        """
source: big
extracts:
  sales_order_lines:
    from:
      input: lines.csv
      filter: "state = 'ok'"
    columns:
      order_id: doc
      line_no: pos
      order_date: day
      customer_id: cust
      product_id: item
      quantity: qty
      unit_price: {expr: "price * 1.1"}
      discount_amount: {expr: "if(qty >= 5, round(price * qty * 0.02, 2), 0)"}
""",
    )
    started = time.perf_counter()
    report = run_import(mapping, exports, tmp_path / "raw")
    elapsed = time.perf_counter() - started
    assert report.ok and report.target("sales_order_lines").rows == 294_000
    assert elapsed < 60, elapsed


def test_inline_rows_parquet_and_excel_inputs_and_left_joins(tmp_path):
    import pandas as pd

    exports = tmp_path / "exports"
    exports.mkdir()
    pd.DataFrame({"sku": ["S1", "S2", "S3"], "grp": ["tools", "toys", "misc"],
                  "price": [10.0, 20.0, 5.0]}).to_parquet(exports / "items.parquet")  # fmt: skip
    pd.DataFrame({"sku": ["S1", "S2", "S3"], "title": ["Hammer", "Kite", "Box"]}).to_excel(
        exports / "names.xlsx", sheet_name="Catalogue", index=False
    )
    mapping = write(
        tmp_path / "m.yaml",
        """
source: shop
params: {default_ratio: 0.5}
inputs:
  items: items.parquet
  names: {file: names.xlsx, sheet: Catalogue}
  ratios:
    columns: [grp, ratio]
    rows:
      - [tools, 0.7]
      - {grp: toys, ratio: 0.4}
extracts:
  products:
    from:
      inputs: {i: items, n: names, r: ratios}
      joins:
        - {input: n, on: {i.sku: n.sku}}
        - {input: r, type: left, on: {i.grp: r.grp}, reason: no ratio for the group}
    columns:
      product_id: i.sku
      product_name: n.title
      category: i.grp
      list_price: i.price
      unit_cost: {expr: "round(i.price * coalesce(number(r.ratio), $default_ratio), 2)"}
""",
    )
    raw = tmp_path / "raw"
    report = run_import(mapping, exports, raw)
    assert report.ok, report.lines()
    rows = read_rows(raw / "products" / "shop_products.csv")
    assert [(r["product_id"], r["product_name"], r["unit_cost"]) for r in rows] == [
        ("S1", "Hammer", "7"),
        ("S2", "Kite", "8"),
        ("S3", "Box", "2.5"),
    ]
    assert any(
        "1 row without a match in r" in m and "no ratio for the group" in m
        for m in issues(report, "products", "info")
    )
