"""How numbers and codes are shown: money, percent, scores, days, counts, months, enum values.

Every page formats through these functions, so a number looks the same everywhere and follows
the language switch (compact money is K/M/B in English and 万/亿 in Chinese).
"""

from __future__ import annotations

import math
from datetime import date

from cwdash.i18n import has_key, language, t

# One reporting currency per warehouse (domain.md: default CNY).
CURRENCY_CODE = "CNY"
CURRENCY_SYMBOL = "¥"
# Streamlit column formats (printf style, "," = thousands separator).
MONEY_COLUMN_FORMAT = "%,.2f"
COUNT_COLUMN_FORMAT = "%,d"
DAYS_COLUMN_FORMAT = "%,.1f"
DECIMAL_COLUMN_FORMAT = "%.1f"

_COMPACT_UNITS = {
    "en": ((1e9, "B"), (1e6, "M"), (1e3, "K")),
    "zh": ((1e8, "亿"), (1e4, "万")),
}


def is_missing(value) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def money(value, *, compact: bool = False) -> str:
    if is_missing(value):
        return "—"
    value = float(value)
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    if compact:
        for size, unit in _COMPACT_UNITS[language()]:
            if magnitude >= size:
                return f"{sign}{CURRENCY_SYMBOL}{magnitude / size:,.2f}{unit}"
    return f"{sign}{CURRENCY_SYMBOL}{magnitude:,.0f}"


def percent(fraction, *, digits: int = 1, signed: bool = False) -> str:
    """A fraction (0.25) as a percentage ("25.0%")."""
    if is_missing(fraction):
        return "—"
    return f"{float(fraction) * 100:{'+' if signed else ''}.{digits}f}%"


def score(value, *, signed: bool = False) -> str:
    """A 0-100 index or NPS points, one decimal."""
    if is_missing(value):
        return "—"
    return f"{float(value):{'+' if signed else ''}.1f}"


def days(value, *, signed: bool = False, digits: int = 1) -> str:
    if is_missing(value):
        return "—"
    return t("unit.days_value", value=f"{float(value):{'+' if signed else ''},.{digits}f}")


def count(value, *, signed: bool = False) -> str:
    if is_missing(value):
        return "—"
    return f"{int(value):{'+' if signed else ''},d}"


def month_label(month_end: date, is_partial: bool = False) -> str:
    label = f"{month_end:%Y-%m}"
    return t("filter.partial_month", month=label) if is_partial else label


def value_label(kind: str, value) -> str:
    """The translated label of an enum value (tier, bucket, class...); unknown values as is."""
    if is_missing(value):
        return "—"
    key = f"value.{kind}.{value}"
    return t(key) if has_key(key) else str(value)


def codes_label(kind: str, codes) -> str:
    """A comma-separated list of codes (reason codes, defection reasons), each translated."""
    if is_missing(codes) or not str(codes).strip():
        return "—"
    separator = "、" if language() == "zh" else ", "
    return separator.join(
        value_label(kind, code.strip()) for code in str(codes).split(",") if code.strip()
    )


def change(current, previous, kind: str) -> str | None:
    """The change from ``previous`` to ``current`` as shown under a KPI (None when unknown).

    Money changes are relative (+12.3%); counts, scores and days are absolute differences.
    """
    if is_missing(current) or is_missing(previous):
        return None
    current, previous = float(current), float(previous)
    if kind == "money":
        if previous == 0:
            return None
        return percent((current - previous) / abs(previous), signed=True)
    difference = current - previous
    if kind == "count":
        return count(difference, signed=True)
    if kind == "days":
        return days(difference, signed=True)
    return t("unit.points_value", value=score(difference, signed=True))
