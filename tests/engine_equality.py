"""Compare the marts two refreshes published (tests/test_engines.py, docs/engines.md).

Rows are matched by the mart's primary key (its `unique` / `unique_combination_of_columns` data
test) and compared column by column, by the type the reference (DuckDB) build gave the column:

- money (DECIMAL columns, unless the name says otherwise: see NOT_MONEY): equal to the cent, i.e.
  less than half a cent apart. Engines round sub-cent digits differently (DuckDB divides
  decimals in binary floating point, Postgres exactly), so 87.2949 vs 87.2950 is the same money,
  although rounding each to cents would give .29 vs .30;
- other numbers (ratios, shares, utilization, DSO, scores, rates): equal within a relative
  NUMBER_TOLERANCE (absolute below 1) - their inputs agree to the cent, not beyond, and DuckDB
  and Spark compute some ratios in 32-bit floats (dbt.type_float()), Postgres in 64-bit - or,
  for a value the model rounds to at most 4 decimals, at most one unit apart in that last
  decimal: a quotient that lands exactly on a tie (3 / 160 = 0.01875) rounds down in DuckDB's
  binary floating point (0.01874999...) and up in Postgres' and Spark's exact decimals;
- everything else (ids, text, classes, tiers, flags, dates, counts): exactly equal.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb

NUMBER_TOLERANCE = 1e-5
HALF_CENT = Decimal("0.005")
# Name parts of DECIMAL columns that are not money (DuckDB types DSO, shares and scores DECIMAL).
NOT_MONEY = {"dso", "share", "pct", "rate", "ratio", "score", "days"}
NUMBER_TYPES = ("DECIMAL", "DOUBLE", "FLOAT", "REAL")


@dataclass
class MartDifference:
    mart: str
    rows: tuple[int, int]
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        shown = "\n    ".join(self.problems[:15])
        more = f"\n    ... {len(self.problems) - 15} more" if len(self.problems) > 15 else ""
        return f"{self.mart} ({self.rows[0]} vs {self.rows[1]} rows):\n    {shown}{more}"


def primary_keys(manifest_path: Path) -> dict[str, list[str]]:
    """Each model's primary key, from its uniqueness data tests in the dbt manifest."""
    manifest = json.loads(manifest_path.read_text())
    keys: dict[str, list[str]] = {}
    for node in manifest["nodes"].values():
        metadata = node.get("test_metadata") or {}
        model = (node.get("attached_node") or "").rsplit(".", 1)[-1]
        if metadata.get("name") == "unique" and model:
            keys.setdefault(model, [metadata["kwargs"]["column_name"]])
        elif metadata.get("name") == "unique_combination_of_columns" and model:
            keys[model] = list(metadata["kwargs"]["combination_of_columns"])
    return keys


def _same_money(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(Decimal(str(a)) - Decimal(str(b))) < HALF_CENT


def _decimals(value) -> int:
    return max(0, -Decimal(str(value)).normalize().as_tuple().exponent)


def rounding_places(values: list) -> int | None:
    """The decimals a column is rounded to (1-4), judged from its reference values; None when
    it is not rounded (some value has more decimals) or has no value."""
    places = max((_decimals(v) for v in values if v is not None), default=None)
    return places if places is not None and 1 <= places <= 4 else None


def _same_number(a, b, places: int | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if math.isclose(float(a), float(b), rel_tol=NUMBER_TOLERANCE, abs_tol=NUMBER_TOLERANCE):
        return True
    # a rounding tie resolved the other way: one unit apart in the column's last decimal
    unit = Decimal(1).scaleb(-places) if places else None
    return unit is not None and abs(Decimal(str(a)) - Decimal(str(b))) <= unit


def compare_relation(
    reference: duckdb.DuckDBPyConnection,
    other: duckdb.DuckDBPyConnection,
    relation: str,
    key: list[str],
) -> MartDifference | None:
    """None when `relation` holds the same rows in both databases (rules in the docstring)."""
    columns = reference.execute(f"select * from {relation} limit 0").description
    names = [c[0] for c in columns]
    types = dict(
        reference.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema || '.' || table_name = ?",
            [relation],
        ).fetchall()
    )
    other_names = [c[0] for c in other.execute(f"select * from {relation} limit 0").description]
    result = MartDifference(relation, (0, 0))
    if sorted(names) != sorted(other_names):
        result.problems.append(f"columns differ: {sorted(names)} vs {sorted(other_names)}")
        return result
    order = ", ".join(key or names)
    select = f"select {', '.join(names)} from {relation} order by {order}"
    left, right = reference.execute(select).fetchall(), other.execute(select).fetchall()
    result.rows = (len(left), len(right))
    if len(left) != len(right):
        result.problems.append(f"row counts differ: {len(left)} vs {len(right)}")
    key_positions = [names.index(k) for k in key]
    money = [
        types.get(n, "").startswith("DECIMAL") and not NOT_MONEY & set(n.split("_")) for n in names
    ]
    numbers = [types.get(n, "").startswith(NUMBER_TYPES) for n in names]
    places = [
        rounding_places([row[i] for row in left]) if numbers[i] and not money[i] else None
        for i in range(len(names))
    ]
    for left_row, right_row in zip(left, right, strict=False):
        row_key = tuple(left_row[i] for i in key_positions)
        if key and row_key != tuple(right_row[i] for i in key_positions):
            result.problems.append(
                f"rows differ at key {row_key} vs {tuple(right_row[i] for i in key_positions)}"
            )
            break
        for i, (name, a, b) in enumerate(zip(names, left_row, right_row, strict=True)):
            if money[i]:
                same = _same_money(a, b)
            elif numbers[i]:
                same = _same_number(a, b, places[i])
            else:
                same = a == b
            if not same:
                result.problems.append(f"{row_key} {name}: {a!r} vs {b!r}")
    return result if result.problems else None


def compare_warehouses(
    reference_path: Path, other_path: Path, relations: list[str], keys: dict[str, list[str]]
) -> list[MartDifference]:
    """Every difference between the listed relations of two published warehouses."""
    reference = duckdb.connect(str(reference_path), read_only=True)
    other = duckdb.connect(str(other_path), read_only=True)
    try:
        differences = []
        for relation in relations:
            key = keys.get(relation.split(".")[-1], [])
            difference = compare_relation(reference, other, relation, key)
            if difference:
                differences.append(difference)
        return differences
    finally:
        reference.close()
        other.close()
