"""The raw extract contract (../shared/raw_contract.md, version 1) as data.

Ingestion, the Great Expectations suites, the dbt sources and the demo generator all follow this
module, so a contract change is made here once. Rule names are the ones written to
``raw.quarantine.rule``; docs/raw_rules.md explains each of them to users.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TEXT = "text"
DATE = "date"
INTEGER = "integer"
DECIMAL = "decimal"
BOOLEAN = "boolean"

# The DuckDB types raw tables store. Money and quantities are exact decimals: cents must add up.
SQL_TYPES = {
    TEXT: "varchar",
    DATE: "date",
    INTEGER: "bigint",
    DECIMAL: "decimal(18,4)",
    BOOLEAN: "boolean",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str = TEXT
    required: bool = False
    default: object | None = None
    accepted_values: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    min_exclusive: bool = False
    non_zero: bool = False
    pattern: str | None = None


@dataclass(frozen=True)
class RowRule:
    """A rule between two columns of the same row: ``later`` must not be before ``earlier``."""

    name: str
    earlier: str
    later: str


@dataclass(frozen=True)
class ForeignKey:
    column: str
    extract: str
    rule: str


@dataclass(frozen=True)
class Extract:
    name: str
    family: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    row_rules: tuple[RowRule, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _money(name: str, **kwargs) -> Column:
    return Column(name, DECIMAL, **kwargs)


EXTRACTS: dict[str, Extract] = {
    e.name: e
    for e in [
        Extract(
            "customers",
            "sales",
            (
                Column("customer_id", required=True),
                Column("customer_name", required=True),
                Column("customer_type", accepted_values=("retail", "commercial", "organization")),
                Column("channel_role", accepted_values=("distributor", "retailer", "end_user")),
                Column("region"),
                Column("city"),
                Column("industry"),
                Column("sales_rep"),
                Column("acquired_date", DATE),
                Column("payment_terms_days", INTEGER, default=30, min_value=0),
                Column("status", default="active", accepted_values=("active", "inactive")),
            ),
            ("customer_id",),
        ),
        Extract(
            "products",
            "sales",
            (
                Column("product_id", required=True),
                Column("product_name", required=True),
                Column("category"),
                _money("unit_cost", required=True, min_value=0),
                _money("list_price", min_value=0),
            ),
            ("product_id",),
        ),
        Extract(
            "sales_order_lines",
            "sales",
            (
                Column("order_id", required=True),
                Column("line_no", INTEGER, required=True),
                Column("order_date", DATE, required=True),
                Column("customer_id", required=True),
                Column("product_id", required=True),
                Column("quantity", DECIMAL, required=True, non_zero=True),
                _money("unit_price", required=True, min_value=0),
                _money("discount_amount", default=0, min_value=0),
                Column("channel"),
                Column("promised_date", DATE),
                Column("delivered_date", DATE),
                _money("freight_cost", default=0, min_value=0),
            ),
            ("order_id", "line_no"),
            foreign_keys=(
                ForeignKey("customer_id", "customers", "unknown_customer"),
                ForeignKey("product_id", "products", "unknown_product"),
            ),
        ),
        Extract(
            "interactions",
            "sales",
            (
                Column("interaction_id", required=True),
                Column("customer_id", required=True),
                Column("interaction_date", DATE, required=True),
                Column("kind", required=True),
                _money("cost", required=True, min_value=0),
            ),
            ("interaction_id",),
        ),
        Extract(
            "invoices",
            "payment",
            (
                Column("invoice_id", required=True),
                Column("customer_id", required=True),
                Column("order_id"),
                Column("invoice_date", DATE, required=True),
                Column("due_date", DATE, required=True),
                _money("amount", required=True),
                Column("currency", default="CNY", pattern="^[A-Z]{3}$"),
                Column("cash_discount_pct", DECIMAL, min_value=0, max_value=100),
                Column("cash_discount_days", INTEGER, min_value=0),
                Column("disputed", BOOLEAN, default=False),
            ),
            ("invoice_id",),
            row_rules=(RowRule("due_date_before_invoice_date", "invoice_date", "due_date"),),
        ),
        Extract(
            "payments",
            "payment",
            (
                Column("payment_id", required=True),
                Column("invoice_id", required=True),
                Column("customer_id", required=True),
                Column("payment_date", DATE, required=True),
                _money("amount", required=True, min_value=0, min_exclusive=True),
                Column("kind", default="payment", accepted_values=("payment", "write_off")),
                _money("discount_taken", min_value=0),
                Column("method"),
            ),
            ("payment_id",),
            foreign_keys=(ForeignKey("invoice_id", "invoices", "unknown_invoice"),),
        ),
        Extract(
            "customer_financials",
            "payment",
            (
                Column("customer_id", required=True),
                Column("period_end", DATE, required=True),
                _money("current_assets", required=True),
                _money("current_liabilities", required=True),
                _money("cash", required=True),
                _money("total_assets", required=True),
                _money("total_liabilities", required=True),
                _money("revenue"),
                _money("ebit"),
                _money("interest_expense"),
            ),
            ("customer_id", "period_end"),
        ),
        Extract(
            "surveys",
            "survey",
            (
                Column("response_id", required=True),
                Column("customer_id", required=True),
                Column("survey_date", DATE, required=True),
                Column("overall_satisfaction", INTEGER, min_value=1, max_value=5),
                Column("likelihood_to_recommend", INTEGER, min_value=0, max_value=10),
                Column("comment"),
            ),
            ("response_id",),
        ),
        Extract(
            "survey_scores",
            "survey",
            (
                Column("response_id", required=True),
                Column("attribute", required=True),
                Column("importance", INTEGER, min_value=1, max_value=5),
                Column("expectation", INTEGER, min_value=1, max_value=5),
                Column("perception", INTEGER, required=True, min_value=1, max_value=5),
            ),
            ("response_id", "attribute"),
            foreign_keys=(ForeignKey("response_id", "surveys", "unknown_response"),),
        ),
        Extract(
            "complaints",
            "survey",
            (
                Column("complaint_id", required=True),
                Column("customer_id", required=True),
                Column("opened_date", DATE, required=True),
                Column("category", required=True),
                Column("severity", accepted_values=("low", "medium", "high")),
                Column("is_valid", BOOLEAN, default=True),
                Column("resolved_date", DATE),
            ),
            ("complaint_id",),
            row_rules=(RowRule("resolved_before_opened", "opened_date", "resolved_date"),),
        ),
    ]
}


def load_order() -> list[str]:
    """Extracts ordered so every foreign key's target is loaded before the rows that point to it."""
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        for fk in EXTRACTS[name].foreign_keys:
            visit(fk.extract)
        ordered.append(name)

    for name in EXTRACTS:
        visit(name)
    return ordered


def load_stages() -> list[list[str]]:
    """Extracts in stages: each stage's foreign keys point only into earlier stages."""
    depth: dict[str, int] = {}
    for name in load_order():
        depth[name] = 1 + max((depth[fk.extract] for fk in EXTRACTS[name].foreign_keys), default=-1)
    return [
        [name for name in depth if depth[name] == level] for level in range(max(depth.values()) + 1)
    ]
