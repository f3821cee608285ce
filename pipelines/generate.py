"""Deterministic demo data for the Customer Warehouse: every extract of the raw contract.

The simulated business is an industrial-supplies distributor in mainland China. It sells about
225 products in ten categories (pumps, valves, pipes, electrical parts, tools, safety gear,
lubricants, bulk materials, spare parts) to retail shops and individuals, commercial firms and
public organizations in seven regions, through a direct sales force, distributors and an online
shop. Margins differ by category, and bulk materials plus a few clearance items sell below cost
once the usual discounts are given.

Every customer has a hidden profile, a pure function of (seed, customer number): size (a
lognormal annual purchase potential, which yields the 80/20 revenue pattern), service quality
(drives late deliveries, returns, complaints, survey scores), credit risk class good / average /
poor / bad (drives payment behaviour and financial statements), payment terms, growth trend,
acquisition date, and a fate: most customers stay, some churn outright, and about one active
customer in ten is a silent drifter whose order frequency decays over the last four to six months
without a single complaint. Demand follows monthly seasonality with a pre-Spring-Festival peak in
January, a holiday dip in February and a Q4 peak.

From the profile the generator simulates orders and returns, invoices (credit notes for returns,
"2/10" cash-discount terms for some customers, disputes), payments (on time, late, in
instalments, with cash discount, written off, or still open at the end date), cost-to-serve
interactions, yearly financial statements, satisfaction surveys with attribute scores, and
complaints. A handful of migrated opening-balance invoices from the old ERP, about three years old
and never paid, feed the limitation watch.

Customers are processed in chunks of CHUNK_SIZE with numpy, so a million customers (about thirty
million order lines over two years) fit in a few hundred megabytes. Each chunk draws from its own
generator seeded with (seed, chunk index, stream), so output is byte-identical for identical
arguments, and each chunk writes its own part file of every fact extract.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

CHUNK_SIZE = 50_000
FILE_FORMATS = ("csv", "parquet")

# Independent random streams per chunk; the profile streams must never change meaning, because
# generate_day recreates the profiles from them.
_PROFILE_UNIFORMS, _PROFILE_NORMALS, _ACTIVITY, _PRODUCTS, _DAY = range(5)

MONEY = pa.decimal128(18, 2)
SCHEMAS: dict[str, pa.Schema] = {
    "customers": pa.schema(
        [
            ("customer_id", pa.string()),
            ("customer_name", pa.string()),
            ("customer_type", pa.string()),
            ("channel_role", pa.string()),
            ("region", pa.string()),
            ("city", pa.string()),
            ("industry", pa.string()),
            ("sales_rep", pa.string()),
            ("acquired_date", pa.date32()),
            ("payment_terms_days", pa.int32()),
            ("status", pa.string()),
        ]
    ),
    "products": pa.schema(
        [
            ("product_id", pa.string()),
            ("product_name", pa.string()),
            ("category", pa.string()),
            ("unit_cost", MONEY),
            ("list_price", MONEY),
        ]
    ),
    "sales_order_lines": pa.schema(
        [
            ("order_id", pa.string()),
            ("line_no", pa.int32()),
            ("order_date", pa.date32()),
            ("customer_id", pa.string()),
            ("product_id", pa.string()),
            ("quantity", pa.int64()),
            ("unit_price", MONEY),
            ("discount_amount", MONEY),
            ("channel", pa.string()),
            ("promised_date", pa.date32()),
            ("delivered_date", pa.date32()),
            ("freight_cost", MONEY),
        ]
    ),
    "interactions": pa.schema(
        [
            ("interaction_id", pa.string()),
            ("customer_id", pa.string()),
            ("interaction_date", pa.date32()),
            ("kind", pa.string()),
            ("cost", MONEY),
        ]
    ),
    "invoices": pa.schema(
        [
            ("invoice_id", pa.string()),
            ("customer_id", pa.string()),
            ("order_id", pa.string()),
            ("invoice_date", pa.date32()),
            ("due_date", pa.date32()),
            ("amount", MONEY),
            ("currency", pa.string()),
            ("cash_discount_pct", pa.decimal128(5, 2)),
            ("cash_discount_days", pa.int32()),
            ("disputed", pa.bool_()),
        ]
    ),
    "payments": pa.schema(
        [
            ("payment_id", pa.string()),
            ("invoice_id", pa.string()),
            ("customer_id", pa.string()),
            ("payment_date", pa.date32()),
            ("amount", MONEY),
            ("kind", pa.string()),
            ("discount_taken", MONEY),
            ("method", pa.string()),
        ]
    ),
    "customer_financials": pa.schema(
        [
            ("customer_id", pa.string()),
            ("period_end", pa.date32()),
            ("current_assets", MONEY),
            ("current_liabilities", MONEY),
            ("cash", MONEY),
            ("total_assets", MONEY),
            ("total_liabilities", MONEY),
            ("revenue", MONEY),
            ("ebit", MONEY),
            ("interest_expense", MONEY),
        ]
    ),
    "surveys": pa.schema(
        [
            ("response_id", pa.string()),
            ("customer_id", pa.string()),
            ("survey_date", pa.date32()),
            ("overall_satisfaction", pa.int16()),
            ("likelihood_to_recommend", pa.int16()),
            ("comment", pa.string()),
        ]
    ),
    "survey_scores": pa.schema(
        [
            ("response_id", pa.string()),
            ("attribute", pa.string()),
            ("importance", pa.int16()),
            ("expectation", pa.int16()),
            ("perception", pa.int16()),
        ]
    ),
    "complaints": pa.schema(
        [
            ("complaint_id", pa.string()),
            ("customer_id", pa.string()),
            ("opened_date", pa.date32()),
            ("category", pa.string()),
            ("severity", pa.string()),
            ("is_valid", pa.bool_()),
            ("resolved_date", pa.date32()),
        ]
    ),
}
EXTRACTS = tuple(SCHEMAS)
DAILY_EXTRACTS = (
    "sales_order_lines",
    "invoices",
    "payments",
    "interactions",
    "surveys",
    "survey_scores",
    "complaints",
)

# --- Customer master data -------------------------------------------------------------------

CUSTOMER_TYPES = ("retail", "commercial", "organization")
CUSTOMER_TYPE_WEIGHTS = (0.45, 0.40, 0.15)
# Median yearly purchase potential in CNY per customer type; sizes are lognormal around it.
MEDIAN_SIZE = np.array([9_000.0, 55_000.0, 110_000.0])
SIZE_SIGMA = 1.25

CHANNEL_ROLES = ("distributor", "retailer", "end_user")
ROLE_WEIGHTS_BY_TYPE = np.array([[0.0, 0.15, 0.85], [0.35, 0.35, 0.30], [0.0, 0.0, 1.0]])

REGIONS = (
    "East China",
    "North China",
    "South China",
    "Central China",
    "Southwest",
    "Northeast",
    "Northwest",
)
REGION_WEIGHTS = (0.30, 0.16, 0.20, 0.12, 0.10, 0.06, 0.06)
# Freight and travel cost multiplier: the far west and north are expensive to reach.
REGION_REMOTENESS = np.array([1.0, 1.05, 1.0, 1.1, 1.3, 1.35, 1.5])
CITIES_BY_REGION = (
    ("Shanghai", "Hangzhou", "Nanjing", "Suzhou", "Ningbo", "Hefei", "Jinan", "Qingdao", "Xiamen"),
    ("Beijing", "Tianjin", "Shijiazhuang", "Taiyuan", "Hohhot"),
    ("Guangzhou", "Shenzhen", "Dongguan", "Foshan", "Nanning", "Haikou"),
    ("Wuhan", "Changsha", "Zhengzhou", "Nanchang"),
    ("Chengdu", "Chongqing", "Kunming", "Guiyang"),
    ("Shenyang", "Dalian", "Changchun", "Harbin"),
    ("Xi'an", "Lanzhou", "Urumqi", "Yinchuan", "Xining"),
)
CITIES = tuple(city for cities in CITIES_BY_REGION for city in cities)
CITY_OFFSET = np.cumsum([0] + [len(c) for c in CITIES_BY_REGION])[:-1]
CITY_COUNT = np.array([len(c) for c in CITIES_BY_REGION])

INDUSTRIES = (
    "Manufacturing",
    "Construction",
    "Wholesale",
    "Retail Trade",
    "Logistics",
    "Energy",
    "Automotive",
    "Agriculture",
    "Hospitality",
    "Healthcare",
    "Education",
    "Government",
)
INDUSTRY_WEIGHTS_BY_TYPE = np.array(
    [
        [0.05, 0.10, 0.0, 0.45, 0.0, 0.0, 0.15, 0.10, 0.15, 0.0, 0.0, 0.0],
        [0.30, 0.20, 0.15, 0.05, 0.10, 0.08, 0.08, 0.04, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.10, 0.0, 0.0, 0.0, 0.30, 0.30, 0.30],
    ]
)

SURNAMES = (
    "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu",
    "Xu", "Sun", "Ma", "Zhu", "Hu", "Guo", "He", "Lin", "Luo", "Gao",
)  # fmt: skip
GIVEN_NAMES = (
    "Wei", "Fang", "Min", "Jing", "Lei", "Qiang", "Yan", "Jun", "Tao", "Ping",
    "Hui", "Yong", "Xia", "Gang", "Ling", "Bo", "Hao", "Yu", "Na", "Chao",
)  # fmt: skip
PERSON_NAMES = tuple(f"{s} {g}" for s in SURNAMES for g in GIVEN_NAMES)
REPS_PER_REGION = 5
# 11 is coprime with 400, so the stride visits distinct names.
SALES_REPS = tuple(
    PERSON_NAMES[(k * 11) % len(PERSON_NAMES)] for k in range(len(REGIONS) * REPS_PER_REGION)
)
BRAND_SYLLABLES = (
    "Hua", "Xin", "Da", "Tong", "Heng", "Sheng", "Feng", "Jin", "Long", "Tai",
    "Yuan", "Kang", "Rui", "Hong", "Fu", "An", "Cheng", "Ming", "Xing", "Bao",
)  # fmt: skip
BRANDS = tuple(a + b.lower() for a in BRAND_SYLLABLES for b in BRAND_SYLLABLES if a != b)
COMPANY_SUFFIXES = (
    "Trading Co., Ltd.",
    "Industrial Co., Ltd.",
    "Machinery Co., Ltd.",
    "Engineering Co., Ltd.",
    "Technology Co., Ltd.",
    "Supply Chain Co., Ltd.",
    "Construction Group",
    "Electric Co., Ltd.",
)
ORGANIZATION_NAMES = (
    "People's Hospital",
    "Vocational College",
    "University of Technology",
    "Water Supply Authority",
    "Public Works Bureau",
    "Metro Corporation",
    "Power Supply Bureau",
    "Environmental Protection Bureau",
)
RETAIL_SUFFIXES = ("Hardware Store", "Building Supplies", "Repair Shop", "Home Center", "")

PAYMENT_TERMS = np.array([0, 15, 30, 45, 60, 90])
TERMS_WEIGHTS_BY_TYPE = np.array(
    [
        [0.70, 0.20, 0.10, 0.0, 0.0, 0.0],
        [0.0, 0.10, 0.45, 0.20, 0.20, 0.05],
        [0.0, 0.0, 0.30, 0.0, 0.40, 0.30],
    ]
)

GOOD, AVERAGE, POOR, BAD = range(4)
RISK_WEIGHTS = (0.45, 0.30, 0.17, 0.08)

CHANNELS = ("direct", "distributor", "online")
# Order channel mix by channel role; end users of the retail type mostly buy online (row 3).
CHANNEL_WEIGHTS = np.array([[0.2, 0.8, 0.0], [0.5, 0.0, 0.5], [0.8, 0.0, 0.2], [0.3, 0.0, 0.7]])

METHODS = ("bank_transfer", "acceptance_bill", "check", "wechat_pay", "alipay", "cash")
METHOD_WEIGHTS_RETAIL = (0.15, 0.0, 0.0, 0.40, 0.30, 0.15)
METHOD_WEIGHTS_BUSINESS = (0.65, 0.25, 0.10, 0.0, 0.0, 0.0)

# Monthly demand multipliers (Jan..Dec): stocking up before the Spring Festival, the holiday dip,
# the mid-year "618" promotions, Golden Week in October and the year-end push.
SEASONALITY = np.array([1.30, 0.65, 1.0, 1.0, 1.0, 1.05, 0.9, 0.9, 1.05, 0.9, 1.15, 1.30])
SEASONALITY = SEASONALITY / SEASONALITY.mean()
PROMOTION_SEASON = np.array([2.5, 0.5, 1.0, 1.0, 1.0, 2.0, 0.7, 0.7, 1.0, 1.0, 2.5, 2.5])

# --- Products ---------------------------------------------------------------------------------

# name, number of products, typical margin on list price, list price range (CNY), lead days,
# popularity as a customer's favourite category, item names.
CATEGORIES = (
    ("Pumps & Compressors", 18, 0.30, (800, 20_000), 7, 0.07,
     ("Centrifugal Pump", "Diaphragm Pump", "Air Compressor", "Booster Pump")),
    ("Valves & Fittings", 30, 0.38, (20, 1_500), 3, 0.14,
     ("Ball Valve", "Gate Valve", "Check Valve", "Pipe Elbow", "Flange")),
    ("Pipes & Tubing", 20, 0.20, (10, 600), 4, 0.10,
     ("Steel Pipe", "PVC Pipe", "Copper Tube", "Hydraulic Hose")),
    ("Electrical Components", 30, 0.28, (5, 800), 3, 0.14,
     ("Circuit Breaker", "Contactor", "Cable Reel", "Relay", "Switch")),
    ("Power Tools", 22, 0.30, (150, 3_000), 5, 0.10,
     ("Angle Grinder", "Impact Drill", "Rotary Hammer", "Circular Saw")),
    ("Hand Tools", 25, 0.45, (10, 300), 2, 0.12,
     ("Wrench Set", "Screwdriver Set", "Pliers", "Tape Measure", "Hammer")),
    ("Safety Equipment", 20, 0.42, (15, 500), 2, 0.10,
     ("Safety Helmet", "Safety Gloves", "Safety Goggles", "Harness", "Respirator")),
    ("Lubricants & Chemicals", 20, 0.22, (30, 900), 3, 0.08,
     ("Hydraulic Oil", "Gear Oil", "Grease", "Solvent Cleaner")),
    ("Bulk Materials", 15, 0.03, (200, 5_000), 6, 0.07,
     ("Steel Sheet", "Aluminium Bar", "Copper Wire", "Cement")),
    ("Spare Parts", 25, 0.50, (5, 2_000), 8, 0.08,
     ("Bearing", "Seal Kit", "Filter Element", "V-Belt", "Gasket")),
)  # fmt: skip
CLEARANCE_SHARE = 0.04

# --- Behaviour parameters by risk class (good, average, poor, bad) ----------------------------

# "2/10": 2% off when paid within 10 days.
CASH_DISCOUNT_PCT, CASH_DISCOUNT_DAYS = 2, 10
P_ON_TIME = np.array([0.88, 0.62, 0.35, 0.15])
LATE_MEAN_DAYS = np.array([5.0, 14.0, 35.0, 75.0])
P_PARTIAL = np.array([0.03, 0.08, 0.20, 0.30])
P_DEFAULT = np.array([0.0, 0.004, 0.03, 0.22])
P_TAKE_DISCOUNT = np.array([0.80, 0.55, 0.25, 0.05])
P_DISPUTE = np.array([0.01, 0.02, 0.04, 0.07])
# Financial statement ratios: (mean, sd) of current ratio, debt ratio, cash ratio, coverage.
CURRENT_RATIO = np.array([[2.1, 0.35], [1.5, 0.25], [1.1, 0.15], [0.75, 0.12]])
DEBT_RATIO = np.array([[0.35, 0.08], [0.50, 0.07], [0.68, 0.06], [0.88, 0.06]])
CASH_RATIO = np.array([[0.60, 0.15], [0.35, 0.10], [0.18, 0.06], [0.06, 0.03]])
INTEREST_COVERAGE = np.array([[9.0, 2.5], [4.0, 1.2], [1.6, 0.6], [0.3, 0.7]])

INTERACTION_KINDS = ("sales_visit", "service_call", "support_ticket", "training", "promotion")
INTERACTION_COST = np.array([[300, 1_200], [30, 120], [80, 400], [1_500, 6_000], [150, 2_500]])

COMPLAINT_CATEGORIES = ("product_quality", "contract", "delivery", "service")
SEVERITIES = ("low", "medium", "high")
RESOLVE_DAYS_MEDIAN = np.array([4.0, 12.0, 30.0])

ATTRIBUTES = ("product_quality", "delivery", "service", "price", "communication")
ATTRIBUTE_IMPORTANCE = np.array([4.6, 4.2, 4.0, 3.8, 3.2])
ATTRIBUTE_EXPECTATION = np.array([4.4, 4.2, 4.0, 3.9, 3.6])
ATTRIBUTE_PERCEPTION_SHIFT = np.array([0.6, 0.45, 0.2, -0.4, 0.4])
COMMENTS = (
    (
        "Late deliveries again, we are looking at other suppliers.",
        "Quality problems with the last batch.",
        "服务态度差，响应慢。",
        "Invoices are often wrong, and support is hard to reach.",
        "Too expensive for what we get.",
    ),
    (
        "Acceptable overall, prices could be lower.",
        "Delivery is sometimes slow, otherwise fine.",
        "产品还可以，价格偏高。",
        "Average service.",
    ),
    (
        "Reliable supplier, deliveries on time.",
        "Good quality, fair prices.",
        "服务很好，交货及时。",
        "Our sales rep is responsive and helpful.",
        "Very satisfied, will order again.",
    ),
)
COMMENT_LABELS = tuple(text for group in COMMENTS for text in group)
COMMENT_OFFSET = np.cumsum([0] + [len(g) for g in COMMENTS])[:-1]
COMMENT_COUNT = np.array([len(g) for g in COMMENTS])

ProgressCallback = Callable[[str, int, int], None]


# --- Small vectorised helpers -----------------------------------------------------------------


def _choose(u: np.ndarray, weights: np.ndarray | tuple[float, ...]) -> np.ndarray:
    """Category codes from uniforms; weights are shared (k,) or per row (n, k)."""
    cum = np.cumsum(np.asarray(weights, dtype=float), axis=-1)
    cum = cum / cum[..., -1:]
    return (u[:, None] >= cum[..., :-1]).sum(axis=1)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Fixed-width text keys such as C0000001, built as a byte matrix, not per-row f-strings."""
    numbers = np.asarray(numbers, dtype=np.int64)
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    raw = np.empty((len(numbers), len(head) + width), dtype=np.uint8)
    raw[:, : len(head)] = head
    for column in range(raw.shape[1] - 1, len(head) - 1, -1):
        numbers, digit = np.divmod(numbers, 10)
        raw[:, column] = digit + ord("0")
    # ASCII digits are valid UTF-8, so the bytes become a string array without a copy.
    offsets = np.arange(len(numbers) + 1, dtype=np.int32) * raw.shape[1]
    return pa.Array.from_buffers(
        pa.string(), len(numbers), [None, pa.py_buffer(offsets), pa.py_buffer(raw)]
    )


def _chunk_ids(prefix: str, chunk: int, seq: np.ndarray) -> pa.Array:
    # Chunk number first so chunks can number their rows independently.
    return _ids(prefix, chunk * 100_000_000 + np.asarray(seq) + 1, 11)


def _day_ids(prefix: str, day: date, seq: np.ndarray) -> pa.Array:
    # "D" + date can never equal the digits of a history key, so daily keys never collide.
    return _ids(f"{prefix}D{day:%Y%m%d}", np.asarray(seq) + 1, 6)


def _labels(values: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    """Text column from integer codes; negative codes become null."""
    codes = np.asarray(codes, dtype=np.int64)
    return pa.array(values, pa.string()).take(pa.array(codes, mask=codes < 0))


def _money(cents: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Exact decimal(18,2) from integer cents (two's complement, low word first)."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(MONEY, len(cents), [bitmap, pa.py_buffer(words)])


def _dates(days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    mask = None if valid is None else ~valid
    return pa.array(np.asarray(days, dtype=np.int32), mask=mask).cast(pa.date32())


def _small_ints(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    mask = None if valid is None else ~valid
    return pa.array(np.asarray(values, dtype=np.int16), mask=mask)


def _epoch_day(day: date) -> int:
    return int(np.datetime64(day, "D").astype(np.int64))


def _cents(yuan: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(yuan) * 100).astype(np.int64)


def _group_sum(group: np.ndarray, values: np.ndarray, groups: int) -> np.ndarray:
    # Float sums of integer cents are exact below 2**53, far above any total here.
    return np.rint(np.bincount(group, weights=values, minlength=groups)).astype(np.int64)


# --- Calendar -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Calendar:
    """The simulated history as epoch days: `months` calendar months ending at `end`."""

    start: int
    end: int
    month_start: np.ndarray
    month_end: np.ndarray
    month_of_year: np.ndarray

    @classmethod
    def build(cls, end_date: date, months: int) -> _Calendar:
        if months < 1:
            raise ValueError("months must be at least 1")
        end = _epoch_day(end_date)
        last = np.datetime64(end_date, "M")
        month = np.arange(last - (months - 1), last + 1)
        month_start = month.astype("datetime64[D]").astype(np.int64)
        month_end = (month + 1).astype("datetime64[D]").astype(np.int64) - 1
        return cls(
            start=int(month_start[0]),
            end=end,
            month_start=month_start,
            month_end=np.minimum(month_end, end),
            month_of_year=month.astype(np.int64) % 12,
        )


# --- Products -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Catalogue:
    table: pa.Table
    ids: pa.Array
    category: np.ndarray
    list_cents: np.ndarray
    cost_cents: np.ndarray
    lead_days: np.ndarray
    global_cdf: np.ndarray
    # Category code + cumulative popularity within the category: one ascending array, so a
    # favourite-category pick is a single searchsorted of (category + uniform).
    category_cdf: np.ndarray


def _catalogue(seed: int) -> _Catalogue:
    rng = np.random.default_rng([seed, 0, _PRODUCTS])
    names: list[str] = []
    category, margin, price, lead, popularity = [], [], [], [], []
    for code, (label, count, cat_margin, (low, high), lead_days, _, items) in enumerate(CATEGORIES):
        prices = np.exp(rng.uniform(np.log(low), np.log(high), count))
        margins = np.clip(rng.normal(cat_margin, 0.05, count), -0.2, 0.7)
        clearance = rng.random(count) < CLEARANCE_SHARE
        margins = np.where(clearance, rng.uniform(-0.15, -0.03, count), margins)
        weights = 1.0 / (rng.permutation(count) + 1.0) ** 0.8
        for k in range(count):
            model = f"{label[0]}{items[k % len(items)][0]}-{int(rng.integers(10, 99)) * 10}"
            suffix = " (clearance)" if clearance[k] else ""
            names.append(f"{items[k % len(items)]} {model}{suffix}")
        category.append(np.full(count, code))
        margin.append(margins)
        price.append(prices)
        lead.append(np.full(count, lead_days))
        popularity.append(weights)
    category_arr = np.concatenate(category)
    list_cents = _cents(np.concatenate(price))
    cost_cents = _cents(list_cents / 100 * (1 - np.concatenate(margin)))
    weights = np.concatenate(popularity)
    within = np.zeros_like(weights)
    for code in range(len(CATEGORIES)):
        members = category_arr == code
        within[members] = np.cumsum(weights[members]) / weights[members].sum()
    ids = _ids("P", np.arange(1, len(names) + 1), 4)
    table = pa.Table.from_arrays(
        [
            ids,
            pa.array(names),
            _labels(tuple(c[0] for c in CATEGORIES), category_arr),
            _money(cost_cents),
            _money(list_cents),
        ],
        schema=SCHEMAS["products"],
    )
    return _Catalogue(
        table=table,
        ids=ids,
        category=category_arr,
        list_cents=list_cents,
        cost_cents=cost_cents,
        lead_days=np.concatenate(lead),
        global_cdf=np.cumsum(weights) / weights.sum(),
        category_cdf=category_arr + within,
    )


# --- Hidden customer profiles -------------------------------------------------------------------


@dataclass(frozen=True)
class _Profiles:
    """Hidden and visible traits of one chunk of customers (one row per customer)."""

    number: np.ndarray  # global customer number, 0-based
    ctype: np.ndarray
    role: np.ndarray
    region: np.ndarray
    city: np.ndarray
    industry: np.ndarray
    rep: np.ndarray
    name_draw: np.ndarray
    size: np.ndarray  # yearly purchase potential, CNY
    quality: np.ndarray  # service quality 0..1
    risk: np.ndarray
    terms: np.ndarray
    cash_discount: np.ndarray  # on "2/10" terms
    growth: np.ndarray  # yearly log growth of demand
    acquired: np.ndarray  # epoch day
    churned: np.ndarray
    churn_day: np.ndarray  # last active day (end of history if not churned)
    inactive: np.ndarray
    drifter: np.ndarray
    drift_start: np.ndarray
    drift_depth: np.ndarray  # demand multiplier reached at the end of the history
    favourite: np.ndarray  # favourite product category
    price_factor: np.ndarray  # negotiated price as a share of list price
    discount_share: np.ndarray  # share of lines carrying the customer's usual discount
    base_discount: np.ndarray
    orders_per_year: np.ndarray
    lines_per_order: np.ndarray
    channel_mix: np.ndarray  # row of CHANNEL_WEIGHTS
    freight_rate: np.ndarray  # freight as share of goods value
    order_fee: np.ndarray  # fixed freight per order, CNY
    late_rate: np.ndarray
    surveys_per_year: np.ndarray
    has_financials: np.ndarray
    high_touch: np.ndarray  # small customers who call support all the time
    method: np.ndarray

    @property
    def ids(self) -> pa.Array:
        return _ids("C", self.number + 1, 7)


def _profiles(seed: int, chunk: int, n: int, cal: _Calendar) -> _Profiles:
    """Profiles of customers chunk*CHUNK_SIZE .. +n.

    Each trait comes from a fixed column of a row-major (n, k) draw of a generator seeded with
    (seed, chunk), so customer i's row is the same whatever the total number of customers: the
    profile is a pure function of (seed, i) and the calendar.
    """
    uniforms = np.random.default_rng([seed, chunk, _PROFILE_UNIFORMS]).random((n, 40))
    normals = np.random.default_rng([seed, chunk, _PROFILE_NORMALS]).standard_normal((n, 8))
    u = iter(uniforms.T)
    z = iter(normals.T)

    ctype = _choose(next(u), CUSTOMER_TYPE_WEIGHTS)
    retail = ctype == 0
    role = _choose(next(u), ROLE_WEIGHTS_BY_TYPE[ctype])
    region = _choose(next(u), REGION_WEIGHTS)
    # Squaring favours the first (largest) city of each region.
    city = CITY_OFFSET[region] + (next(u) ** 2 * CITY_COUNT[region]).astype(np.int64)
    industry = _choose(next(u), INDUSTRY_WEIGHTS_BY_TYPE[ctype])
    industry = np.where(retail & (next(u) < 0.4), -1, industry)
    rep = region * REPS_PER_REGION + (next(u) * REPS_PER_REGION).astype(np.int64)
    # Online-only retail buyers have no sales rep (house accounts).
    rep = np.where(retail & (next(u) < 0.3), -1, rep)
    name_draw = np.stack([next(u), next(u), next(u)], axis=1)

    size = MEDIAN_SIZE[ctype] * np.exp(SIZE_SIGMA * next(z))
    quality = 1.0 / (1.0 + np.exp(-(0.9 + 1.1 * next(z))))
    risk = _choose(next(u), RISK_WEIGHTS)
    terms = PAYMENT_TERMS[_choose(next(u), TERMS_WEIGHTS_BY_TYPE[ctype])]
    cash_discount = (terms >= 30) & (next(u) < 0.2)
    growth = np.clip(0.02 + 0.25 * next(z), -0.8, 0.8)

    # Most customers predate the history (up to ten years); the rest arrive during it.
    history_days = max(cal.end - cal.start - 13, 1)
    before = next(u) < 0.7
    timing = next(u)
    acquired = np.where(
        before,
        cal.start - 1 - (timing * 3650).astype(np.int64),
        cal.start + (timing * history_days).astype(np.int64),
    )
    churn_day = cal.end - 45 - (next(u) * 300).astype(np.int64)
    churned = (next(u) < 0.07) & (churn_day > acquired + 60) & (churn_day >= cal.start + 30)
    churn_day = np.where(churned, churn_day, cal.end)
    inactive = churned & (next(u) < 0.65)
    drift_start = cal.end - 120 - (next(u) * 60).astype(np.int64)
    # A drifter needs half a year of normal rhythm before the decay to be recognisable.
    drifter = ~churned & (next(u) < 0.11) & (acquired < drift_start - 180)
    drift_depth = 0.1 + 0.2 * next(u)

    favourite = _choose(next(u), tuple(c[5] for c in CATEGORIES))
    is_distributor = role == 0
    price_factor = np.where(
        is_distributor, 0.86 + 0.06 * next(u), np.where(ctype == 0, 1.0, 0.95 + 0.05 * next(u))
    )
    discount_share = 0.2 + 0.5 * next(u)
    base_discount = np.clip(0.04 + 0.02 * next(z) + 0.04 * is_distributor, 0.0, 0.2)

    relative = size / 40_000
    orders_per_year = np.clip(4.5 * relative**0.45 * np.exp(0.3 * next(z)), 1.5, 300)
    lines_per_order = np.clip(1 + 1.8 * relative**0.25 * np.exp(0.25 * next(z)), 1, 14)
    channel_mix = np.where(retail & (role == 2), 3, role)
    remote = REGION_REMOTENESS[region]
    online = channel_mix == 3
    freight_rate = (0.012 + 0.01 * next(u)) * remote + 0.01 * online
    order_fee = (15 + 45 * next(u)) * remote
    late_rate = 0.03 + 0.45 * (1 - quality) ** 2

    surveys_per_year = np.where(next(u) < 0.45, 0.0, 0.3 + 2.2 * next(u))
    statement_share = np.array([0.04, 0.75, 0.85])[ctype]
    has_financials = next(u) < statement_share
    high_touch = (size < MEDIAN_SIZE[ctype]) & (next(u) < 0.1)
    method = np.where(
        retail,
        _choose(next(u), METHOD_WEIGHTS_RETAIL),
        _choose(next(u), METHOD_WEIGHTS_BUSINESS),
    )
    return _Profiles(
        number=chunk * CHUNK_SIZE + np.arange(n, dtype=np.int64),
        ctype=ctype,
        role=role,
        region=region,
        city=city,
        industry=industry,
        rep=rep,
        name_draw=name_draw,
        size=size,
        quality=quality,
        risk=risk,
        terms=terms,
        cash_discount=cash_discount,
        growth=growth,
        acquired=acquired,
        churned=churned,
        churn_day=churn_day,
        inactive=inactive,
        drifter=drifter,
        drift_start=drift_start,
        drift_depth=drift_depth,
        favourite=favourite,
        price_factor=price_factor,
        discount_share=discount_share,
        base_discount=base_discount,
        orders_per_year=orders_per_year,
        lines_per_order=lines_per_order,
        channel_mix=channel_mix,
        freight_rate=freight_rate,
        order_fee=order_fee,
        late_rate=late_rate,
        surveys_per_year=surveys_per_year,
        has_financials=has_financials,
        high_touch=high_touch,
        method=method,
    )


def _customer_names(p: _Profiles) -> pa.Array:
    draw = p.name_draw
    city = _labels(CITIES, p.city)

    def pick(values: tuple[str, ...], u: np.ndarray) -> pa.Array:
        return _labels(values, (u * len(values)).astype(np.int64))

    company = pc.binary_join_element_wise(
        city, pick(BRANDS, draw[:, 0]), pick(COMPANY_SUFFIXES, draw[:, 1]), " "
    )
    organization = pc.binary_join_element_wise(city, pick(ORGANIZATION_NAMES, draw[:, 1]), " ")
    person = pick(PERSON_NAMES, draw[:, 0])
    retail = pc.utf8_trim_whitespace(
        pc.binary_join_element_wise(person, pick(RETAIL_SUFFIXES, draw[:, 2]), " ")
    )
    return pc.case_when(
        pc.make_struct(pa.array(p.ctype == 0), pa.array(p.ctype == 1)),
        retail,
        company,
        organization,
    )


def _customers_table(p: _Profiles) -> pa.Table:
    return pa.Table.from_arrays(
        [
            p.ids,
            _customer_names(p),
            _labels(CUSTOMER_TYPES, p.ctype),
            _labels(CHANNEL_ROLES, p.role),
            _labels(REGIONS, p.region),
            _labels(CITIES, p.city),
            _labels(INDUSTRIES, p.industry),
            _labels(SALES_REPS, p.rep),
            _dates(p.acquired),
            pa.array(p.terms.astype(np.int32)),
            _labels(("active", "inactive"), p.inactive.astype(np.int64)),
        ],
        schema=SCHEMAS["customers"],
    )


# --- Demand -------------------------------------------------------------------------------------


def _drift_factor(p: _Profiles, cal: _Calendar, cust: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Demand multiplier of silent drifters: decays geometrically from drift start to the end."""
    start = p.drift_start[cust]
    progress = np.clip((day - start) / np.maximum(cal.end - start, 1), 0.0, None)
    return np.where(p.drifter[cust], p.drift_depth[cust] ** progress, 1.0)


def _monthly_events(
    rng: np.random.Generator, p: _Profiles, cal: _Calendar, daily_rate: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson events per customer and month within each customer's active window.

    daily_rate is (customers, months) or broadcastable to it. Returns (customer, epoch day),
    sorted by day then customer.
    """
    low = np.maximum(cal.month_start[None, :], np.maximum(p.acquired, cal.start)[:, None])
    high = np.minimum(cal.month_end[None, :], p.churn_day[:, None])
    length = np.clip(high - low + 1, 0, None)
    counts = rng.poisson(np.broadcast_to(daily_rate, length.shape) * length)
    cell = np.repeat(np.arange(counts.size), counts.ravel())
    months = cal.month_start.size
    cust = cell // months
    day = low.ravel()[cell] + (rng.random(cell.size) * length.ravel()[cell]).astype(np.int64)
    order = np.lexsort((cust, day))
    return cust[order], day[order]


@dataclass
class _Orders:
    """Orders (one row per order) and their lines (one row per line, grouped by order)."""

    cust: np.ndarray
    day: np.ndarray
    channel: np.ndarray
    late: np.ndarray  # delivered late (known by the end date)
    delivered: np.ndarray  # epoch day or -1
    is_return: np.ndarray
    line_order: np.ndarray
    line_no: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    price: np.ndarray  # unit price, cents
    discount: np.ndarray  # cents
    freight: np.ndarray  # cents
    promised: np.ndarray  # epoch day or -1
    line_delivered: np.ndarray  # epoch day or -1

    @property
    def net(self) -> np.ndarray:
        return self.quantity * self.price - self.discount


def _sales_orders(
    rng: np.random.Generator,
    p: _Profiles,
    cat: _Catalogue,
    cust: np.ndarray,
    day: np.ndarray,
    end: int,
) -> _Orders:
    """Lines, prices, discounts, freight and delivery for orders already placed in time."""
    orders = cust.size
    n_lines = np.minimum(1 + rng.poisson(p.lines_per_order[cust] - 1), 30)
    line_order = np.repeat(np.arange(orders), n_lines)
    first_line = np.cumsum(n_lines) - n_lines
    line_no = np.arange(line_order.size) - first_line[line_order] + 1
    lc = cust[line_order]
    lines = lc.size

    favourite = rng.random(lines) < 0.55
    pick = rng.random(lines)
    product = np.where(
        favourite,
        np.searchsorted(cat.category_cdf, p.favourite[lc] + pick, side="right"),
        np.searchsorted(cat.global_cdf, pick, side="right"),
    )
    product = np.minimum(product, cat.list_cents.size - 1)
    price = np.maximum(np.rint(cat.list_cents[product] * p.price_factor[lc]), 1).astype(np.int64)

    # Quantity targets the customer's typical line value; stochastic rounding keeps it unbiased.
    line_value = p.size / (p.orders_per_year * p.lines_per_order)
    wanted = line_value[lc] * np.exp(rng.normal(-0.18, 0.6, lines)) / (price / 100)
    quantity = np.clip(np.floor(wanted + rng.random(lines)), 1, 100_000).astype(np.int64)
    gross = quantity * price

    month = (day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12)[line_order]
    regular = np.where(
        rng.random(lines) < p.discount_share[lc],
        p.base_discount[lc] * rng.uniform(0.5, 1.5, lines),
        0.0,
    )
    promotion = np.where(
        rng.random(lines) < 0.06 * PROMOTION_SEASON[month], rng.uniform(0.05, 0.15, lines), 0.0
    )
    discount = np.rint(gross * np.clip(regular + promotion, 0.0, 0.4)).astype(np.int64)

    fee = np.where(line_no == 1, p.order_fee[lc], 0.0)
    freight = _cents(gross / 100 * p.freight_rate[lc] + fee)

    channel = _choose(rng.random(orders), CHANNEL_WEIGHTS[p.channel_mix[cust]])
    # An order ships when its slowest item is ready.
    lead = np.zeros(orders, dtype=np.int64)
    np.maximum.at(lead, line_order, cat.lead_days[product])
    lead += rng.poisson(1.5, orders)
    promised = day + lead
    late_draw = rng.random(orders) < p.late_rate[cust]
    early = (rng.random(orders) < 0.2).astype(np.int64)
    delay = np.where(late_draw, 1 + rng.geometric(0.25, orders), -early)
    delivered = np.maximum(promised + delay, day)
    # Nothing may be dated after the end: future promises and deliveries are not known yet.
    promised = np.where(promised <= end, promised, -1)
    delivered = np.where(delivered <= end, delivered, -1)
    return _Orders(
        cust=cust,
        day=day,
        channel=channel,
        late=late_draw & (delivered >= 0),
        delivered=delivered,
        is_return=np.zeros(orders, dtype=bool),
        line_order=line_order,
        line_no=line_no,
        product=product,
        quantity=quantity,
        price=price,
        discount=discount,
        freight=freight,
        promised=promised[line_order],
        line_delivered=delivered[line_order],
    )


def _with_returns(rng: np.random.Generator, p: _Profiles, sales: _Orders, end: int) -> _Orders:
    """Add return orders (one negative line each) for products the customer actually bought.

    Returns are more frequent where service quality is poor. The return is priced at the net unit
    price paid, so the credit equals the money received and discount_amount stays >= 0.
    """
    lc = sales.cust[sales.line_order]
    chance = 0.018 + 0.09 * (1 - p.quality[lc]) ** 2
    day = sales.day[sales.line_order] + 5 + np.floor(rng.exponential(15, lc.size)).astype(np.int64)
    picked = np.flatnonzero((rng.random(lc.size) < chance) & (day <= end))
    count = picked.size
    returned = np.ceil(sales.quantity[picked] * rng.uniform(0.05, 1.0, count)).astype(np.int64)
    net_unit = sales.net[picked] // sales.quantity[picked]

    orders = sales.cust.size
    cust = np.concatenate([sales.cust, lc[picked]])
    rday = np.concatenate([sales.day, day[picked]])
    is_return = np.concatenate([sales.is_return, np.ones(count, dtype=bool)])
    # Number orders by date so that keys grow with time; lines follow their order.
    rank = np.empty(cust.size, dtype=np.int64)
    rank[np.lexsort((is_return, cust, rday))] = np.arange(cust.size)
    line_order = rank[np.concatenate([sales.line_order, orders + np.arange(count)])]
    line_no = np.concatenate([sales.line_no, np.ones(count, dtype=np.int64)])
    line_sort = np.lexsort((line_no, line_order))
    inverse = np.argsort(rank)

    def lines(sale_values: np.ndarray, return_values: np.ndarray) -> np.ndarray:
        return np.concatenate([sale_values, return_values])[line_sort]

    no_date = np.full(count, -1, dtype=np.int64)
    return _Orders(
        cust=cust[inverse],
        day=rday[inverse],
        channel=np.concatenate([sales.channel, sales.channel[sales.line_order[picked]]])[inverse],
        late=np.concatenate([sales.late, np.zeros(count, dtype=bool)])[inverse],
        delivered=np.concatenate([sales.delivered, no_date])[inverse],
        is_return=is_return[inverse],
        line_order=line_order[line_sort],
        line_no=line_no[line_sort],
        product=lines(sales.product, sales.product[picked]),
        quantity=lines(sales.quantity, -returned),
        price=lines(sales.price, net_unit),
        discount=lines(sales.discount, np.zeros(count, dtype=np.int64)),
        # Reverse logistics: a fixed pick-up charge per return.
        freight=lines(sales.freight, _cents(rng.uniform(20, 60, count))),
        promised=lines(sales.promised, no_date),
        line_delivered=lines(sales.line_delivered, no_date),
    )


def _order_lines_table(o: _Orders, order_ids: pa.Array, p: _Profiles, cat: _Catalogue) -> pa.Table:
    line_cust = o.cust[o.line_order]
    return pa.Table.from_arrays(
        [
            order_ids.take(pa.array(o.line_order)),
            pa.array(o.line_no.astype(np.int32)),
            _dates(o.day[o.line_order]),
            p.ids.take(pa.array(line_cust)),
            cat.ids.take(pa.array(o.product)),
            pa.array(o.quantity),
            _money(o.price),
            _money(o.discount),
            _labels(CHANNELS, o.channel[o.line_order]),
            _dates(o.promised, o.promised >= 0),
            _dates(o.line_delivered, o.line_delivered >= 0),
            _money(o.freight),
        ],
        schema=SCHEMAS["sales_order_lines"],
    )


# --- Invoices and payments ----------------------------------------------------------------------


@dataclass
class _Invoices:
    cust: np.ndarray
    order: np.ndarray  # order index, or -1 for migrated opening balances
    day: np.ndarray
    due: np.ndarray
    amount: np.ndarray  # cents; negative for credit notes
    cash_discount: np.ndarray
    disputed: np.ndarray


def _order_invoices(rng: np.random.Generator, p: _Profiles, o: _Orders) -> _Invoices:
    """One invoice per order, dated with the order; returns give credit notes due at once."""
    orders = o.cust.size
    amount = _group_sum(o.line_order, o.net, orders)
    credit = amount <= 0
    q = p.quality[o.cust]
    dispute_rate = P_DISPUTE[p.risk[o.cust]] + 0.06 * (1 - q) ** 2
    return _Invoices(
        cust=o.cust,
        order=np.arange(orders),
        day=o.day,
        due=o.day + np.where(credit, 0, p.terms[o.cust]),
        amount=amount,
        cash_discount=p.cash_discount[o.cust] & ~credit,
        disputed=~credit & (rng.random(orders) < dispute_rate),
    )


def _opening_balances(rng: np.random.Generator, p: _Profiles, cal: _Calendar) -> _Invoices:
    """Unpaid invoices migrated from the old ERP, close to the three-year limitation period."""
    eligible = (p.risk >= POOR) & (p.acquired < cal.end - 4 * 365)
    cust = np.flatnonzero(eligible & (rng.random(p.risk.size) < 0.25))
    day = cal.end - 950 - (rng.random(cust.size) * 300).astype(np.int64)
    return _Invoices(
        cust=cust,
        order=np.full(cust.size, -1),
        day=day,
        due=day + p.terms[cust],
        amount=_cents(p.size[cust] * rng.uniform(0.05, 0.2, cust.size)),
        cash_discount=np.zeros(cust.size, dtype=bool),
        disputed=rng.random(cust.size) < 0.5,
    )


def _invoices_table(
    inv: _Invoices, invoice_ids: pa.Array, order_ids: pa.Array, p: _Profiles
) -> pa.Table:
    n = inv.cust.size
    has_order = inv.order >= 0
    return pa.Table.from_arrays(
        [
            invoice_ids,
            p.ids.take(pa.array(inv.cust)),
            order_ids.take(pa.array(inv.order, mask=~has_order)),
            _dates(inv.day),
            _dates(inv.due),
            _money(inv.amount),
            pa.repeat(pa.scalar("CNY"), n),
            _money(np.full(n, CASH_DISCOUNT_PCT * 100), inv.cash_discount).cast(
                pa.decimal128(5, 2)
            ),
            pa.array(np.full(n, CASH_DISCOUNT_DAYS, dtype=np.int32), mask=~inv.cash_discount),
            pa.array(inv.disputed),
        ],
        schema=SCHEMAS["invoices"],
    )


@dataclass
class _Payments:
    invoice: np.ndarray  # row in the invoice table
    cust: np.ndarray
    day: np.ndarray
    amount: np.ndarray  # cents
    write_off: np.ndarray
    discount: np.ndarray  # cents


def _history_payments(
    rng: np.random.Generator, p: _Profiles, cal: _Calendar, inv: _Invoices
) -> _Payments:
    """Settle every invoice according to the customer's hidden risk class.

    Good payers pay on time or take the cash discount; worse classes pay later, in instalments,
    or never in full. Disputed invoices are paid late or only partly. What bad payers never pay
    is written off about a year after the due date. Anything scheduled after the end date has not
    happened yet, which leaves recent invoices open.
    """
    idx = np.flatnonzero((inv.amount > 0) & (inv.order >= 0))
    k = idx.size
    cust = inv.cust[idx]
    risk = p.risk[cust]
    amount = inv.amount[idx]
    day, due, disputed = inv.day[idx], inv.due[idx], inv.disputed[idx]

    take_discount = inv.cash_discount[idx] & ~disputed & (rng.random(k) < P_TAKE_DISCOUNT[risk])
    defaults = ~take_discount & (rng.random(k) < P_DEFAULT[risk])
    partial = ~take_discount & (
        defaults | (rng.random(k) < P_PARTIAL[risk]) | (disputed & (rng.random(k) < 0.5))
    )
    discount = np.where(take_discount, np.rint(amount * CASH_DISCOUNT_PCT / 100), 0)
    discount = discount.astype(np.int64)
    share = np.where(disputed & partial, rng.uniform(0.7, 0.95, k), 1.0)
    share = np.where(defaults, np.where(rng.random(k) < 0.4, 0.0, rng.uniform(0.1, 0.6, k)), share)
    to_pay = np.where(share >= 1.0, amount - discount, np.floor(amount * share)).astype(np.int64)

    on_time = rng.random(k) < P_ON_TIME[risk]
    early = (rng.random(k) * np.minimum(due - day, 6)).astype(np.int64)
    late = np.ceil(rng.exponential(LATE_MEAN_DAYS[risk])).astype(np.int64)
    first = np.where(on_time, due - early, due + late)
    within = (rng.random(k) * (CASH_DISCOUNT_DAYS + 1)).astype(np.int64)
    first = np.where(take_discount, day + within, first)
    first = first + np.where(disputed, 20 + (rng.random(k) * 100).astype(np.int64), 0)
    first = np.maximum(first, day)

    # Instalments: two or three for partial payers, only when the invoice is big enough.
    n_inst = np.where(to_pay <= 0, 0, np.where(partial & (to_pay >= 50_000), 2, 1))
    n_inst = n_inst + ((n_inst == 2) & (rng.random(k) < 0.4))
    row = np.repeat(np.arange(k), n_inst)
    group_start = np.cumsum(n_inst) - n_inst
    position = np.arange(row.size) - group_start[row]
    gap = np.where(position == 0, 0, 7 + np.floor(rng.exponential(20, row.size))).astype(np.int64)
    offset = np.cumsum(gap)
    offset -= offset[group_start[row]]
    pay_day = first[row] + offset
    weight = rng.uniform(0.5, 1.5, row.size)
    weight_sum = np.bincount(row, weights=weight, minlength=k)
    cents = np.floor(to_pay[row] * weight / weight_sum[row]).astype(np.int64)
    paid = n_inst > 0
    last = (group_start + n_inst - 1)[paid]
    cents[last] += to_pay[paid] - _group_sum(row, cents, k)[paid]

    last_day = due.copy()
    last_day[paid] = pay_day[last]
    remainder = amount - discount - to_pay
    write_off_day = np.maximum(due + 240 + (rng.random(k) * 240).astype(np.int64), last_day + 30)
    write_off = (remainder > 0) & (risk == BAD) & (write_off_day <= cal.end)

    keep = pay_day <= cal.end
    wo = np.flatnonzero(write_off)
    invoice = np.concatenate([idx[row[keep]], idx[wo]])
    return _Payments(
        invoice=invoice,
        cust=inv.cust[invoice],
        day=np.concatenate([pay_day[keep], write_off_day[wo]]),
        amount=np.concatenate([cents[keep], remainder[wo]]),
        write_off=np.concatenate([np.zeros(keep.sum(), dtype=bool), np.ones(wo.size, dtype=bool)]),
        discount=np.concatenate([discount[row[keep]], np.zeros(wo.size, dtype=np.int64)]),
    )


def _payments_table(
    pay: _Payments, payment_ids: pa.Array, invoice_ids: pa.Array, p: _Profiles
) -> pa.Table:
    return pa.Table.from_arrays(
        [
            payment_ids,
            invoice_ids.take(pa.array(pay.invoice)),
            p.ids.take(pa.array(pay.cust)),
            _dates(pay.day),
            _money(pay.amount),
            _labels(("payment", "write_off"), pay.write_off.astype(np.int64)),
            _money(pay.discount),
            _labels(METHODS, np.where(pay.write_off, -1, p.method[pay.cust])),
        ],
        schema=SCHEMAS["payments"],
    )


def _sorted_payments(pay: _Payments) -> _Payments:
    order = np.lexsort((pay.write_off, pay.invoice, pay.day))
    return _Payments(*(getattr(pay, f.name)[order] for f in fields(_Payments)))


# --- Interactions, complaints, surveys, financial statements ------------------------------------


def _interaction_rates(p: _Profiles, month_of_year: np.ndarray) -> list[np.ndarray]:
    """Monthly rate per customer (rows) and month (columns) for each interaction kind."""
    relative = p.size / 100_000
    business = p.ctype > 0
    visits = np.where(business, np.minimum(0.02 + 0.3 * relative**0.5, 8.0), 0.02)
    calls = 0.04 + 0.2 * (1 - p.quality) + 1.5 * p.high_touch
    tickets = 0.02 + 0.15 * (1 - p.quality) ** 2 + 0.8 * p.high_touch
    training = np.where(business, 0.01 + 0.02 * np.minimum(relative, 3.0), 0.0)
    promotion = 0.01 + 0.03 * np.minimum(relative, 4.0)
    ones = np.ones(month_of_year.size)
    return [
        visits[:, None] * ones,
        calls[:, None] * ones,
        tickets[:, None] * ones,
        training[:, None] * ones,
        promotion[:, None] * PROMOTION_SEASON[month_of_year],
    ]


def _interaction_costs(
    rng: np.random.Generator, p: _Profiles, cust: np.ndarray, kind: np.ndarray
) -> np.ndarray:
    low, high = INTERACTION_COST[kind, 0], INTERACTION_COST[kind, 1]
    travel = np.where(kind == 0, REGION_REMOTENESS[p.region[cust]], 1.0)
    # Promotion budgets (displays, co-op advertising) follow the account's size.
    budget = np.where(kind == 4, np.clip(0.25 + p.size[cust] / 100_000, 0.25, 1.5), 1.0)
    return _cents(rng.uniform(low, high) * travel * budget)


def _interactions_table(
    ids: pa.Array,
    p: _Profiles,
    cust: np.ndarray,
    day: np.ndarray,
    kind: np.ndarray,
    cost: np.ndarray,
) -> pa.Table:
    return pa.Table.from_arrays(
        [
            ids,
            p.ids.take(pa.array(cust)),
            _dates(day),
            _labels(INTERACTION_KINDS, kind),
            _money(cost),
        ],
        schema=SCHEMAS["interactions"],
    )


def _complaint_traits(
    rng: np.random.Generator, p: _Profiles, cust: np.ndarray, late: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Category, severity and validity of complaints; late deliveries mostly cause delivery ones."""
    n = cust.size
    poor = 1 - p.quality[cust]
    category_weights = np.stack(
        [np.full(n, 0.45), np.full(n, 0.15), np.full(n, 0.10), 0.15 + 0.3 * poor], axis=1
    )
    category = np.where(late & (rng.random(n) < 0.75), 2, _choose(rng.random(n), category_weights))
    severity_weights = np.stack([0.55 - 0.2 * poor, np.full(n, 0.33), 0.12 + 0.2 * poor], axis=1)
    severity = _choose(rng.random(n), severity_weights)
    valid = rng.random(n) >= 0.10
    return category, severity, valid


def _resolution(
    rng: np.random.Generator, severity: np.ndarray, opened: np.ndarray, end: int
) -> np.ndarray:
    """Resolution day, or -1 while still open (a few are never resolved)."""
    n = severity.size
    days = np.floor(RESOLVE_DAYS_MEDIAN[severity] * rng.lognormal(0.0, 0.6, n)).astype(np.int64)
    resolved = opened + days
    return np.where((resolved <= end) & (rng.random(n) >= 0.04), resolved, -1)


def _complaints_table(
    ids: pa.Array,
    p: _Profiles,
    cust: np.ndarray,
    opened: np.ndarray,
    traits: tuple[np.ndarray, np.ndarray, np.ndarray],
    resolved: np.ndarray,
) -> pa.Table:
    category, severity, valid = traits
    return pa.Table.from_arrays(
        [
            ids,
            p.ids.take(pa.array(cust)),
            _dates(opened),
            _labels(COMPLAINT_CATEGORIES, category),
            _labels(SEVERITIES, severity),
            pa.array(valid),
            _dates(resolved, resolved >= 0),
        ],
        schema=SCHEMAS["complaints"],
    )


def _complaint_chance(p: _Profiles, cust: np.ndarray, late: np.ndarray) -> np.ndarray:
    # Silent drifters never complain: their dissatisfaction only shows in their orders.
    base = (0.006 + 0.07 * (1 - p.quality[cust]) ** 2) * (1 + 2.5 * late)
    return np.where(p.drifter[cust], 0.0, base)


def _survey_tables(
    rng: np.random.Generator,
    p: _Profiles,
    cust: np.ndarray,
    day: np.ndarray,
    response_ids: pa.Array,
) -> tuple[pa.Table, pa.Table]:
    """Survey responses and per-attribute scores that follow the hidden service quality."""
    n = cust.size
    # Drifters are unhappy even though they do not complain.
    drifting = p.drifter[cust] & (day >= p.drift_start[cust])
    felt = p.quality[cust] - 0.25 * drifting + rng.normal(0, 0.08, n)
    overall = np.clip(np.rint(0.9 + 4.4 * felt + rng.normal(0, 0.6, n)), 1, 5).astype(np.int64)
    recommend = np.clip(np.rint(12 * felt - 0.3 + rng.normal(0, 1.3, n)), 0, 10)
    has_comment = rng.random(n) < 0.3
    mood = np.where(overall <= 2, 0, np.where(overall == 3, 1, 2))
    comment = COMMENT_OFFSET[mood] + (rng.random(n) * COMMENT_COUNT[mood]).astype(np.int64)
    surveys = pa.Table.from_arrays(
        [
            response_ids,
            p.ids.take(pa.array(cust)),
            _dates(day),
            _small_ints(overall, rng.random(n) >= 0.03),
            _small_ints(recommend, rng.random(n) >= 0.04),
            _labels(COMMENT_LABELS, np.where(has_comment, comment, -1)),
        ],
        schema=SCHEMAS["surveys"],
    )

    k = len(ATTRIBUTES)
    response = np.repeat(np.arange(n), k)
    attribute = np.tile(np.arange(k), n)
    rc = cust[response]
    shift = ATTRIBUTE_PERCEPTION_SHIFT[attribute]
    # Late deliveries hurt the delivery score; generous discounts lift the price score.
    shift = shift - np.where(attribute == 1, 3.0 * p.late_rate[rc], 0.0)
    shift = shift + np.where(attribute == 3, 4.0 * p.base_discount[rc], 0.0)
    response_mood = rng.normal(0, 0.35, n)[response]
    perception = 0.8 + 4 * felt[response] + shift + response_mood + rng.normal(0, 0.55, n * k)
    demanding = 0.15 * np.log10(np.maximum(p.size[rc], 1_000) / 50_000)
    expectation = ATTRIBUTE_EXPECTATION[attribute] + demanding + rng.normal(0, 0.5, n * k)
    importance = ATTRIBUTE_IMPORTANCE[attribute] + rng.normal(0, 0.5, n * k)

    def score(latent: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(latent), 1, 5)

    scores = pa.Table.from_arrays(
        [
            response_ids.take(pa.array(response)),
            _labels(ATTRIBUTES, attribute),
            _small_ints(score(importance), rng.random(n * k) >= 0.02),
            _small_ints(score(expectation), rng.random(n * k) >= 0.03),
            _small_ints(score(perception)),
        ],
        schema=SCHEMAS["survey_scores"],
    )
    return surveys, scores


def _financials_table(rng: np.random.Generator, p: _Profiles, cal: _Calendar) -> pa.Table:
    """Yearly statements (Dec 31) scaled to the customer's size, with risk-typical ratios."""
    first_year = int(np.datetime64(cal.start, "D").astype("datetime64[Y]").astype(int)) + 1969
    last_year = int(np.datetime64(cal.end, "D").astype("datetime64[Y]").astype(int)) + 1970
    year_ends = np.array(
        [_epoch_day(date(y, 12, 31)) for y in range(first_year, last_year + 1)], dtype=np.int64
    )
    year_ends = year_ends[year_ends <= cal.end]
    filers = np.flatnonzero(p.has_financials)
    cust = np.repeat(filers, year_ends.size)
    period = np.tile(year_ends, filers.size)
    # A new customer hands in last year's statement at onboarding, not older ones.
    keep = period >= p.acquired[cust] - 365
    cust, period = cust[keep], period[keep]
    n = cust.size
    risk = p.risk[cust]

    def ratio(table: np.ndarray, low: float, high: float) -> np.ndarray:
        # One level per customer plus a little year-to-year wobble.
        level = rng.normal(size=filers.size)[np.searchsorted(filers, cust)]
        wobble = rng.normal(0, 0.3, n)
        return np.clip(table[risk, 0] + table[risk, 1] * (level + wobble), low, high)

    current_ratio = ratio(CURRENT_RATIO, 0.2, 5.0)
    debt_ratio = ratio(DEBT_RATIO, 0.05, 1.4)
    cash_ratio = ratio(CASH_RATIO, 0.01, 2.0)
    coverage = ratio(INTEREST_COVERAGE, -3.0, 30.0)
    years_back = (cal.end - period) / 365.25
    revenue = p.size[cust] * rng.uniform(6, 25, n) * np.exp(-p.growth[cust] * years_back)
    total_assets = revenue / rng.uniform(0.7, 1.6, n)
    current_assets = total_assets * rng.uniform(0.35, 0.65, n)
    current_liabilities = current_assets / current_ratio
    total_liabilities = np.maximum(debt_ratio * total_assets, current_liabilities * 1.05)
    cash = np.minimum(cash_ratio * current_liabilities, current_assets * 0.8)
    interest = total_liabilities * rng.uniform(0.03, 0.07, n)
    ebit = coverage * interest
    disclosed = rng.random(n) >= 0.05
    return pa.Table.from_arrays(
        [
            p.ids.take(pa.array(cust)),
            _dates(period),
            _money(_cents(current_assets)),
            _money(_cents(current_liabilities)),
            _money(_cents(cash)),
            _money(_cents(total_assets)),
            _money(_cents(total_liabilities)),
            _money(_cents(revenue), disclosed),
            _money(_cents(ebit), disclosed),
            _money(_cents(interest), disclosed),
        ],
        schema=SCHEMAS["customer_financials"],
    )


# --- One chunk of history -----------------------------------------------------------------------


def _history_interactions(
    rng: np.random.Generator, p: _Profiles, cal: _Calendar, chunk: int
) -> pa.Table:
    rates = _interaction_rates(p, cal.month_of_year)
    events = [_monthly_events(rng, p, cal, rate / 30.44) for rate in rates]
    cust = np.concatenate([c for c, _ in events])
    day = np.concatenate([d for _, d in events])
    kind = np.concatenate([np.full(c.size, k) for k, (c, _) in enumerate(events)])
    order = np.lexsort((kind, cust, day))
    cust, day, kind = cust[order], day[order], kind[order]
    return _interactions_table(
        _chunk_ids("INT", chunk, np.arange(cust.size)),
        p,
        cust,
        day,
        kind,
        _interaction_costs(rng, p, cust, kind),
    )


def _history_complaints(
    rng: np.random.Generator, p: _Profiles, cal: _Calendar, chunk: int, orders: _Orders
) -> pa.Table:
    """Complaints about sales orders, opened a few days after the (late) delivery."""
    chance = _complaint_chance(p, orders.cust, orders.late)
    complains = ~orders.is_return & (rng.random(orders.cust.size) < chance)
    cust, late = orders.cust[complains], orders.late[complains]
    reference = np.where(late, orders.delivered[complains], orders.day[complains])
    opened = reference + np.floor(rng.exponential(4, cust.size)).astype(np.int64)
    traits = _complaint_traits(rng, p, cust, late)
    order = np.lexsort((cust, opened))
    visible = order[opened[order] <= cal.end]
    cust, opened = cust[visible], opened[visible]
    traits = tuple(t[visible] for t in traits)
    return _complaints_table(
        _chunk_ids("CP", chunk, np.arange(cust.size)),
        p,
        cust,
        opened,
        traits,
        _resolution(rng, traits[1], opened, cal.end),
    )


def _history_chunk(
    seed: int, chunk: int, n: int, cal: _Calendar, cat: _Catalogue
) -> tuple[pa.Table, dict[str, pa.Table]]:
    """Customers table and every fact table for one chunk of customers."""
    p = _profiles(seed, chunk, n, cal)
    rng = np.random.default_rng([seed, chunk, _ACTIVITY])
    tables: dict[str, pa.Table] = {}

    mid_month = (cal.month_start + cal.month_end) / 2
    growth = np.exp(p.growth[:, None] * (mid_month[None, :] - cal.end) / 365.25)
    order_rate = p.orders_per_year[:, None] / 365.25 * SEASONALITY[cal.month_of_year] * growth
    cust, day = _monthly_events(rng, p, cal, order_rate)
    # Thinning makes silent drifters order less and less towards the end.
    kept = rng.random(cust.size) < _drift_factor(p, cal, cust, day)
    sales = _sales_orders(rng, p, cat, cust[kept], day[kept], cal.end)
    orders = _with_returns(rng, p, sales, cal.end)
    order_ids = _chunk_ids("SO", chunk, np.arange(orders.cust.size))
    tables["sales_order_lines"] = _order_lines_table(orders, order_ids, p, cat)

    inv = _order_invoices(rng, p, orders)
    legacy = _opening_balances(rng, p, cal)
    inv = _Invoices(
        *(
            np.concatenate([getattr(inv, f.name), getattr(legacy, f.name)])
            for f in fields(_Invoices)
        )
    )
    invoice_ids = _chunk_ids("INV", chunk, np.arange(inv.cust.size))
    tables["invoices"] = _invoices_table(inv, invoice_ids, order_ids, p)
    pay = _sorted_payments(_history_payments(rng, p, cal, inv))
    payment_ids = _chunk_ids("PAY", chunk, np.arange(pay.day.size))
    tables["payments"] = _payments_table(pay, payment_ids, invoice_ids, p)

    tables["interactions"] = _history_interactions(rng, p, cal, chunk)
    tables["customer_financials"] = _financials_table(rng, p, cal)

    scust, sday = _monthly_events(rng, p, cal, (p.surveys_per_year / 365.25)[:, None])
    response_ids = _chunk_ids("R", chunk, np.arange(scust.size))
    tables["surveys"], tables["survey_scores"] = _survey_tables(rng, p, scust, sday, response_ids)

    tables["complaints"] = _history_complaints(rng, p, cal, chunk, orders)
    return _customers_table(p), tables


# --- Files --------------------------------------------------------------------------------------

# Names this generator writes: <extract>.<ext>, <extract>_part0001.<ext>, <extract>_day_<date>.<ext>
_OWN_FILE = re.compile(
    r"^(?P<extract>[a-z_]+?)(_part\d{4}|_day_\d{4}-\d{2}-\d{2})?\.(csv|parquet)$"
)


def _check_arguments(customers: int, file_format: str) -> None:
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if file_format not in FILE_FORMATS:
        raise ValueError(f"file_format must be one of {FILE_FORMATS}, got {file_format!r}")


def _write_table(table: pa.Table, path: Path, file_format: str) -> None:
    # Write beside the target and rename, so a loader never sees a half-written file.
    tmp = path.with_name(path.name + ".tmp")
    if file_format == "csv":
        pacsv.write_csv(table, str(tmp))
    else:
        pq.write_table(table, str(tmp), compression="zstd")
    os.replace(tmp, path)


class _StreamWriter:
    """One extract file written chunk by chunk, so a large dimension is never held whole."""

    def __init__(self, path: Path, schema: pa.Schema, file_format: str) -> None:
        self._path = path
        self._tmp = path.with_name(path.name + ".tmp")
        if file_format == "csv":
            self._writer = pacsv.CSVWriter(str(self._tmp), schema)
        else:
            self._writer = pq.ParquetWriter(str(self._tmp), schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()
        os.replace(self._tmp, self._path)


def _remove_own_files(folder: Path, extract: str) -> None:
    """Delete files this generator wrote earlier (any format, parts and daily drops).

    A fresh history replaces them all: stale parts of a bigger run or daily files pointing at
    the old invoices would otherwise stay in the extract. Foreign files are left alone.
    """
    for path in folder.iterdir():
        match = _OWN_FILE.match(path.name)
        if match and match["extract"] == extract:
            path.unlink()


# --- Public API ---------------------------------------------------------------------------------


def generate_extracts(
    raw_dir: Path,
    customers: int = 2000,
    months: int = 24,
    seed: int = 42,
    end_date: date | None = None,
    file_format: str = "csv",
    progress: ProgressCallback | None = None,
) -> dict[str, int]:
    """Write every extract of the raw contract under raw_dir/<extract>/; return rows per extract.

    Dimensions go to one file each (customers/customers.csv); facts to one part per chunk of
    CHUNK_SIZE customers (sales_order_lines/sales_order_lines_part0001.csv). Files this
    generator wrote before, in either format, are replaced; other files are left alone.
    `progress(stage, done, total)` is called after the products and after every chunk.
    """
    _check_arguments(customers, file_format)
    end_date = end_date or date.today() - timedelta(days=1)
    cal = _Calendar.build(end_date, months)
    raw_dir = Path(raw_dir)
    for extract in EXTRACTS:
        folder = raw_dir / extract
        folder.mkdir(parents=True, exist_ok=True)
        _remove_own_files(folder, extract)

    counts = dict.fromkeys(EXTRACTS, 0)
    cat = _catalogue(seed)
    _write_table(cat.table, raw_dir / "products" / f"products.{file_format}", file_format)
    counts["products"] = cat.table.num_rows
    if progress:
        progress("customers", 0, customers)

    customer_file = _StreamWriter(
        raw_dir / "customers" / f"customers.{file_format}", SCHEMAS["customers"], file_format
    )
    chunks = -(-customers // CHUNK_SIZE)
    for chunk in range(chunks):
        n = min(CHUNK_SIZE, customers - chunk * CHUNK_SIZE)
        customer_table, facts = _history_chunk(seed, chunk, n, cal, cat)
        customer_file.write(customer_table)
        counts["customers"] += customer_table.num_rows
        for extract, table in facts.items():
            name = f"{extract}_part{chunk + 1:04d}.{file_format}"
            _write_table(table, raw_dir / extract / name, file_format)
            counts[extract] += table.num_rows
        del customer_table, facts
        if progress:
            progress("customers", chunk * CHUNK_SIZE + n, customers)
    customer_file.close()
    return counts


def _duckdb_type(dtype: pa.DataType) -> str:
    if pa.types.is_decimal(dtype):
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    names = {pa.string(): "VARCHAR", pa.date32(): "DATE", pa.bool_(): "BOOLEAN"}
    names |= {pa.int16(): "SMALLINT", pa.int32(): "INTEGER", pa.int64(): "BIGINT"}
    return names[dtype]


def _extract_source(raw_dir: Path, extract: str, day: date) -> tuple[str, dict[str, list[str]]]:
    """SQL over this generator's files of an extract, leaving out daily files from `day` on.

    Later daily files must not feed this day's state, so a day can be regenerated alike.
    Returns the query and its file-list parameters.
    """
    files: dict[str, list[str]] = {"csv": [], "parquet": []}
    folder = raw_dir / extract
    for path in sorted(folder.iterdir() if folder.is_dir() else []):
        match = _OWN_FILE.match(path.name)
        if not match or match["extract"] != extract:
            continue
        stamp = re.search(r"_day_(\d{4}-\d{2}-\d{2})\.", path.name)
        if stamp and date.fromisoformat(stamp[1]) >= day:
            continue
        files[path.suffix[1:]].append(str(path))
    schema = SCHEMAS[extract]
    columns = {field.name: _duckdb_type(field.type) for field in schema}
    empty = ", ".join(f"NULL::{kind} AS {name}" for name, kind in columns.items())
    parts = [f"SELECT {empty} WHERE false"]
    if files["csv"]:
        parts.append(
            f"SELECT * FROM read_csv(${extract}_csv, header = true, auto_detect = false, "
            f"columns = {columns!r})"
        )
    if files["parquet"]:
        parts.append(f"SELECT * FROM read_parquet(${extract}_parquet)")
    params = {f"{extract}_{kind}": names for kind, names in files.items() if names}
    return " UNION ALL BY NAME ".join(parts), params


def _open_items(raw_dir: Path, day: date, customers: int, today: pa.Table) -> pa.Table:
    """Invoices with an open balance on `day`: those already on disk plus today's new ones.

    DuckDB does the heavy lifting because a million customers mean ten million invoices and
    payments to match. Sorted by invoice_id so the day's random draws are reproducible.
    """
    invoices, invoice_params = _extract_source(raw_dir, "invoices", day)
    payments, payment_params = _extract_source(raw_dir, "payments", day)
    query = f"""
        WITH invoices AS ({invoices} UNION ALL BY NAME SELECT * FROM today),
        settled AS (
            SELECT invoice_id, sum(amount + coalesce(discount_taken, 0)) AS settled
            FROM ({payments}) GROUP BY invoice_id
        )
        SELECT
            invoice_id,
            customer_id,
            CAST(substr(customer_id, 2) AS BIGINT) - 1 AS number,
            invoice_date,
            due_date,
            CAST(amount * 100 AS BIGINT) AS amount,
            CAST((amount - coalesce(settled, 0)) * 100 AS BIGINT) AS balance,
            coalesce(cash_discount_pct, 0) > 0 AS on_terms,
            coalesce(disputed, false) AS disputed
        FROM invoices LEFT JOIN settled USING (invoice_id)
        WHERE amount > 0 AND amount > coalesce(settled, 0) AND invoice_date <= $day
            AND CAST(substr(customer_id, 2) AS BIGINT) <= $customers
        ORDER BY invoice_id
    """
    con = duckdb.connect()
    con.register("today", today)
    params = {**invoice_params, **payment_params, "day": day, "customers": customers}
    return con.sql(query, params=params).to_arrow_table()


def _day_payments(
    rng: np.random.Generator,
    day: date,
    items: pa.Table,
    risk: np.ndarray,
    method: np.ndarray,
) -> pa.Table:
    """Payments dated `day` on open invoices, including today's cash sales.

    Each open invoice is paid today with a daily hazard set by the customer's risk class: tiny
    until a few days before the due date, then the class's on-time and lateness behaviour, and
    small again while disputed or long stalled. Customers on discount terms pay within the
    discount window less the discount.
    """

    def column(name: str) -> np.ndarray:
        return items[name].to_numpy()

    def days(name: str) -> np.ndarray:
        return items[name].cast(pa.int32()).to_numpy().astype(np.int64)

    number, amount, balance = column("number"), column("amount"), column("balance")
    on_terms, disputed = column("on_terms"), column("disputed")
    invoice_day, due = days("invoice_date"), days("due_date")
    today = _epoch_day(day)
    r = risk[number]
    k = number.size

    # The same behaviour as the history, as a daily rate: on-time payers spread over the last
    # six days before the due date, late payers at the inverse of their mean lateness.
    on_time = P_ON_TIME[r] / 6
    hazard = np.where(today > due, 1 / LATE_MEAN_DAYS[r], on_time)
    hazard = np.where(today < due - 5, on_time * 0.01, hazard)
    # Disputes and long-stalled collections rarely move on any given day.
    hazard = np.where(disputed, hazard * 0.3, hazard)
    hazard = np.where(today - due > 120, hazard * 0.05, hazard)
    in_window = on_terms & ~disputed & (balance == amount)
    in_window &= today - invoice_day <= CASH_DISCOUNT_DAYS
    daily_take = P_TAKE_DISCOUNT[r] / (CASH_DISCOUNT_DAYS + 1)
    takes_discount = in_window & (rng.random(k) < daily_take)
    pays = takes_discount | (rng.random(k) < hazard)
    partial = ~takes_discount & (rng.random(k) < P_PARTIAL[r] * 2) & (balance >= 50_000)
    discount = np.where(takes_discount, np.rint(amount * CASH_DISCOUNT_PCT / 100), 0)
    discount = discount.astype(np.int64)
    paid = np.where(partial, np.floor(balance * rng.uniform(0.3, 0.7, k)), balance - discount)
    chosen = np.flatnonzero(pays)
    return pa.Table.from_arrays(
        [
            _day_ids("PAY", day, np.arange(chosen.size)),
            items["invoice_id"].take(pa.array(chosen)),
            items["customer_id"].take(pa.array(chosen)),
            _dates(np.full(chosen.size, today)),
            _money(paid[chosen].astype(np.int64)),
            _labels(("payment",), np.zeros(chosen.size, dtype=np.int64)),
            _money(discount[chosen]),
            _labels(METHODS, method[number[chosen]]),
        ],
        schema=SCHEMAS["payments"],
    )


def generate_day(
    raw_dir: Path,
    day: date,
    customers: int = 2000,
    months: int = 24,
    seed: int = 42,
    file_format: str = "csv",
) -> dict[str, int]:
    """Append ONE new day of activity dated `day` as NEW files for the same simulated customers.

    Writes order lines, invoices, payments, interactions, surveys, survey scores and complaints as
    raw_dir/<extract>/<extract>_day_<day>.<format> (e.g.
    sales_order_lines/sales_order_lines_day_2026-11-24.csv); used by the incremental-refresh
    benchmark. Keys carry the date ("SOD20261124000001") and never collide with history keys.
    Payments settle invoices that are open in the extracts already on disk (history plus earlier
    days) as well as today's cash sales. Returns rows written per extract.
    """
    _check_arguments(customers, file_format)
    raw_dir = Path(raw_dir)
    # The profiles are recreated as if the history ended the day before, so churned customers
    # stay away and drifters keep fading.
    cal = _Calendar.build(day - timedelta(days=1), months)
    today = _epoch_day(day)
    month_of_year = np.array([day.month - 1])
    cat = _catalogue(seed)
    rng = np.random.default_rng([seed, day.toordinal(), _DAY])
    parts: dict[str, list[pa.Table]] = {extract: [] for extract in DAILY_EXTRACTS}
    seq = dict.fromkeys(DAILY_EXTRACTS, 0)
    risk = np.empty(customers, dtype=np.int64)
    method = np.empty(customers, dtype=np.int64)

    for chunk in range(-(-customers // CHUNK_SIZE)):
        n = min(CHUNK_SIZE, customers - chunk * CHUNK_SIZE)
        p = _profiles(seed, chunk, n, cal)
        risk[p.number] = p.risk
        method[p.number] = p.method
        present = ~p.churned
        everyone = np.arange(n)

        rate = p.orders_per_year / 365.25 * SEASONALITY[day.month - 1]
        rate = rate * _drift_factor(p, cal, everyone, np.full(n, today)) * present
        cust = np.repeat(everyone, rng.poisson(rate))
        orders = _sales_orders(rng, p, cat, cust, np.full(cust.size, today), today)
        order_ids = _day_ids("SO", day, seq["sales_order_lines"] + np.arange(cust.size))
        seq["sales_order_lines"] += cust.size
        parts["sales_order_lines"].append(_order_lines_table(orders, order_ids, p, cat))
        inv = _order_invoices(rng, p, orders)
        invoice_ids = _day_ids("INV", day, seq["invoices"] + np.arange(cust.size))
        seq["invoices"] += cust.size
        parts["invoices"].append(_invoices_table(inv, invoice_ids, order_ids, p))

        rates = _interaction_rates(p, month_of_year)
        counts = np.stack([rng.poisson(r[:, 0] / 30.44 * present) for r in rates], axis=1)
        cell = np.repeat(np.arange(counts.size), counts.ravel())
        icust, kind = cell // len(rates), cell % len(rates)
        ids = _day_ids("INT", day, seq["interactions"] + np.arange(icust.size))
        seq["interactions"] += icust.size
        costs = _interaction_costs(rng, p, icust, kind)
        parts["interactions"].append(
            _interactions_table(ids, p, icust, np.full(icust.size, today), kind, costs)
        )

        scust = np.repeat(everyone, rng.poisson(p.surveys_per_year / 365.25 * present))
        response_ids = _day_ids("R", day, seq["surveys"] + np.arange(scust.size))
        seq["surveys"] += scust.size
        surveys, scores = _survey_tables(rng, p, scust, np.full(scust.size, today), response_ids)
        parts["surveys"].append(surveys)
        parts["survey_scores"].append(scores)

        late = rng.random(n) < p.late_rate
        complaint_rate = rate * _complaint_chance(p, everyone, late)
        ccust = np.repeat(everyone, rng.poisson(complaint_rate))
        traits = _complaint_traits(rng, p, ccust, late[ccust])
        opened = np.full(ccust.size, today)
        ids = _day_ids("CP", day, seq["complaints"] + np.arange(ccust.size))
        seq["complaints"] += ccust.size
        resolved = _resolution(rng, traits[1], opened, today)
        parts["complaints"].append(_complaints_table(ids, p, ccust, opened, traits, resolved))

    items = _open_items(raw_dir, day, customers, pa.concat_tables(parts["invoices"]))
    parts["payments"] = [_day_payments(rng, day, items, risk, method)]

    counts: dict[str, int] = {}
    for extract, tables in parts.items():
        folder = raw_dir / extract
        folder.mkdir(parents=True, exist_ok=True)
        for other in FILE_FORMATS:
            (folder / f"{extract}_day_{day.isoformat()}.{other}").unlink(missing_ok=True)
        table = pa.concat_tables(tables)
        _write_table(table, folder / f"{extract}_day_{day.isoformat()}.{file_format}", file_format)
        counts[extract] = table.num_rows
    return counts
