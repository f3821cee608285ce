"""Every SQL statement the dashboard runs, in one place.

Rules this module keeps:
- Marts are aggregated in DuckDB; only small results (a chart's points, one page of a table)
  reach pandas. Lists are paged with LIMIT/OFFSET.
- Values that come from the user (filters, search text, page numbers) are always bound as ``?``
  parameters. The only names put into SQL text are the fixed column and table names below.
- Monthly charts read two small cubes (the monthly profitability and receivables marts summed per
  month and customer attributes) built once per publish in the dashboard's in-memory database,
  so changing a filter never rescans a monthly mart.
- Customer attributes for filtering come from the ``dims`` table: region and sales rep from the
  customer master, channel = the customer's main order channel (as in satisfaction_monthly), tier
  = the ABC tier at the warehouse's as-of date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from cwdash.warehouse import Warehouse, query

if TYPE_CHECKING:
    from cwdash.filters import Filters

# ---- the tables the pages read ----------------------------------------------------------------
CUSTOMERS = "staging.stg_erp__customers"
PRODUCTS = "staging.stg_erp__products"
COMPLAINTS = "staging.stg_survey__complaints"
PROFITABILITY_MONTHLY = "marts.customer_profitability_monthly"
PROFITABILITY = "marts.customer_profitability"
PRODUCT_PROFITABILITY = "marts.customer_product_profitability"
ABC = "marts.customer_abc"
KEY_ACCOUNT_TREND = "marts.key_account_trend"
OPEN_ITEMS = "marts.ar_open_items"
CREDIT = "marts.customer_credit"
RECEIVABLES_MONTHLY = "marts.receivables_monthly"
RECEIVABLES_SUMMARY = "marts.receivables_summary_monthly"
SATISFACTION = "marts.customer_satisfaction"
SATISFACTION_MONTHLY = "marts.satisfaction_monthly"
SATISFACTION_ATTRIBUTES = "marts.satisfaction_attributes"
LOYALTY = "marts.customer_loyalty"
CARD = "marts.customer_card"
FILE_MANIFEST = "raw.file_manifest"
QUARANTINE = "raw.quarantine"
# Where a customer's main order channel is published (first one present wins).
CHANNEL_SOURCES = (LOYALTY, CARD, "intermediate.int_loyalty__customer_rhythm")

PROFIT_COLUMNS = (
    "net_revenue",
    "cogs",
    "gross_margin",
    "freight_cost",
    "service_cost",
    "complaint_cost",
    "cash_discount_cost",
    "financing_cost",
    "bad_debt_cost",
    "cost_to_serve",
    "net_contribution",
)
# The cost-to-serve components, in the order the waterfall shows them.
COST_TO_SERVE_COLUMNS = PROFIT_COLUMNS[3:9]
AGING_BUCKETS = (
    "ar_current",
    "ar_1_30",
    "ar_31_60",
    "ar_61_90",
    "ar_91_180",
    "ar_181_365",
    "ar_over_365",
)
RECEIVABLES_MONEY = (
    "opening_ar",
    "invoiced",
    "collected",
    "discounts",
    "written_off",
    "closing_ar",
    *AGING_BUCKETS,
    "allowance",
)
# Columns of the monthly receivables download, in the mart's order.
RECEIVABLES_EXPORT_COLUMNS = (
    "customer_id",
    "month_end",
    "is_closed",
    *RECEIVABLES_MONEY[:6],
    *AGING_BUCKETS,
    "dso_simple",
    "dso_countback",
    "best_possible_dso",
    "allowance",
    "credit_limit",
    "utilization",
    "credit_grade",
)
# Tier migration can compare with either of these customer_abc columns (never user text).
TIER_COMPARISONS = {"month": "previous_abc_tier", "year": "year_ago_abc_tier"}
# The scatter of the value x loyalty quadrant shows at most this many customers (a sample).
SCATTER_POINTS = 2000
# The Pareto curve is drawn through this many points, whatever the number of customers.
PARETO_POINTS = 200


# ---- dates -------------------------------------------------------------------------------------
def month_end_shift(month_end: date, months: int) -> date:
    """The last day of the month ``months`` after (negative: before) the month of ``month_end``."""
    index = month_end.year * 12 + month_end.month - 1 + months
    year, month = divmod(index, 12)
    next_month_start = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return next_month_start - timedelta(days=1)


def comparison_months(month_end: date) -> dict[str, date]:
    """The selected month and the ones its KPIs are compared with."""
    return {
        "current": month_end,
        "last_month": month_end_shift(month_end, -1),
        "last_year": month_end_shift(month_end, -12),
    }


# ---- filters as SQL ----------------------------------------------------------------------------
def dimension_condition(filters: Filters, prefix: str = "") -> tuple[str, list[Any]]:
    """``region = ? and ...`` for the set filters, on a relation with the dims columns."""
    chosen = filters.dimensions()
    if not chosen:
        return "true", []
    return " and ".join(f"{prefix}{name} = ?" for name in chosen), list(chosen.values())


def customer_condition(filters: Filters, column: str = "customer_id") -> tuple[str, list[Any]]:
    """Restrict a customer-level relation to the customers the filters select."""
    if not filters.has_dimensions:
        return "true", []
    condition, params = dimension_condition(filters)
    return f"{column} in (select customer_id from dims where {condition})", params


# ---- helper objects built once per publish -----------------------------------------------------
def ensure_dims(warehouse: Warehouse) -> bool:
    """The ``dims`` table: one row per customer with the attributes the filters use.

    A table, not a view: every filtered query selects its customers from it, and joining the
    customer master, customer_abc and the channel source again for each would cost far more
    than the table's memory (about 65 MB per million customers).
    """
    if not warehouse.has(CUSTOMERS):
        return False
    channel_source = next(
        (t for t in CHANNEL_SOURCES if warehouse.has_column(t, "main_channel")), None
    )
    channel = "coalesce(channels.main_channel, 'unknown')" if channel_source else "'unknown'"
    channel_join = (
        f"left join wh.{channel_source} as channels on channels.customer_id = c.customer_id"
        if channel_source
        else ""
    )
    has_abc = warehouse.has(ABC)
    tier = "coalesce(abc.abc_tier, 'C')" if has_abc else "'unknown'"
    abc_join = f"left join wh.{ABC} as abc on abc.customer_id = c.customer_id" if has_abc else ""
    warehouse.ensure(
        "dims",
        "table",
        f"""
        select
            c.customer_id,
            coalesce(c.region, 'unknown') as region,
            {channel} as channel,
            coalesce(c.sales_rep, 'unknown') as sales_rep,
            {tier} as abc_tier
        from wh.{CUSTOMERS} as c
        {abc_join}
        {channel_join}
        """,
    )
    return True


def _dims_join(warehouse: Warehouse, alias: str) -> tuple[str, str]:
    """Columns and join that attach the dims to a customer-level relation (nulls without dims)."""
    if ensure_dims(warehouse):
        return (
            "d.region, d.channel, d.sales_rep, d.abc_tier",
            f"left join dims as d on d.customer_id = {alias}.customer_id",
        )
    return (
        "null::varchar as region, null::varchar as channel, null::varchar as sales_rep,"
        " null::varchar as abc_tier",
        "",
    )


def ensure_profit_cube(warehouse: Warehouse) -> bool:
    if not warehouse.has(PROFITABILITY_MONTHLY):
        return False
    columns, join = _dims_join(warehouse, "p")
    sums = ", ".join(f"sum(p.{c})::double as {c}" for c in PROFIT_COLUMNS)
    warehouse.ensure(
        "profit_cube",
        "table",
        f"""
        select
            p.month_end, {columns},
            bool_or(p.is_partial_month) as is_partial_month,
            count(*) filter (where p.net_revenue > 0) as buying_customers,
            {sums}
        from wh.{PROFITABILITY_MONTHLY} as p
        {join}
        group by all
        """,
    )
    return True


def ensure_receivables_cube(warehouse: Warehouse) -> bool:
    if not warehouse.has(RECEIVABLES_MONTHLY):
        return False
    columns, join = _dims_join(warehouse, "r")
    sums = ", ".join(
        f"sum(r.{c})::double as {c}" for c in (*RECEIVABLES_MONEY, "period_credit_sales")
    )
    warehouse.ensure(
        "receivables_cube",
        "table",
        f"""
        select
            r.month_end, {columns},
            bool_or(r.is_partial_month) as is_partial_month,
            bool_and(r.is_closed) as is_closed,
            count(*) as customers,
            count(*) filter (where r.closing_ar <> 0) as customers_with_open_ar,
            count(*) filter (where r.is_over_limit) as over_limit_customers,
            max(r.period_days)::double as period_days,
            {sums}
        from wh.{RECEIVABLES_MONTHLY} as r
        {join}
        group by all
        """,
    )
    return True


# ---- sidebar -----------------------------------------------------------------------------------
def warehouse_as_of(warehouse: Warehouse) -> str | None:
    """The as-of date the marts were computed at (YYYY-MM-DD), None before they are built."""
    if not warehouse.has(PROFITABILITY):
        return None
    # Every row has the same window end: one row is enough, whatever the customer count.
    frame = query(warehouse, f"select window_end_date as as_of from wh.{PROFITABILITY} limit 1")
    if frame.empty or pd.isna(frame.iloc[0]["as_of"]):
        return None
    return f"{pd.Timestamp(frame.iloc[0]['as_of']):%Y-%m-%d}"


def month_options(warehouse: Warehouse) -> pd.DataFrame:
    """Months the monthly marts cover, newest first, with whether each is partial."""
    sources = []
    if ensure_profit_cube(warehouse):
        sources.append("select month_end, is_partial_month from profit_cube")
    for table in (RECEIVABLES_SUMMARY, KEY_ACCOUNT_TREND, SATISFACTION_MONTHLY):
        if warehouse.has(table):
            sources.append(f"select month_end, is_partial_month from wh.{table}")
    if not sources:
        return pd.DataFrame({"month_end": [], "is_partial_month": []})
    frame = query(
        warehouse,
        "select month_end, bool_or(is_partial_month) as is_partial_month"
        f" from ({' union all '.join(sources)}) group by month_end order by month_end desc",
    )
    frame["month_end"] = [value.date() for value in pd.to_datetime(frame["month_end"])]
    return frame


def dimension_options(warehouse: Warehouse) -> dict[str, list[str]]:
    if not ensure_dims(warehouse):
        return {}
    row = query(
        warehouse,
        """
        select
            list_sort(list(distinct region)) as region,
            list_sort(list(distinct channel)) as channel,
            list_sort(list(distinct sales_rep)) as sales_rep,
            list_sort(list(distinct abc_tier)) as abc_tier
        from dims
        """,
    ).iloc[0]
    return {name: list(row[name]) for name in row.index}


# ---- overview ----------------------------------------------------------------------------------
def profit_by_month(
    warehouse: Warehouse, filters: Filters, first: date, last: date
) -> pd.DataFrame:
    """Revenue, margin, costs and buying customers per month in [first, last] (month ends)."""
    ensure_profit_cube(warehouse)
    condition, params = dimension_condition(filters)
    sums = ", ".join(f"sum({c}) as {c}" for c in PROFIT_COLUMNS)
    return query(
        warehouse,
        f"""
        select month_end, bool_or(is_partial_month) as is_partial_month,
               sum(buying_customers) as buying_customers, {sums}
        from profit_cube
        where month_end between ? and ? and {condition}
        group by month_end order by month_end
        """,
        [first, last, *params],
    )


def profit_window(warehouse: Warehouse, filters: Filters, month_end: date) -> pd.Series:
    """Profitability summed over the 12 months ending with ``month_end``."""
    months = profit_by_month(warehouse, filters, month_end_shift(month_end, -11), month_end)
    return months[list(PROFIT_COLUMNS)].sum()


def receivables_book(
    warehouse: Warehouse, filters: Filters, first: date, last: date
) -> pd.DataFrame:
    """The receivables book per month end: money, aging, DSO, allowance, over-limit count.

    Without customer filters this is receivables_summary_monthly as published. With filters the
    filtered customers' rows are summed and DSO recomputed on the sums the way the summary mart
    does (closing or not-yet-due AR / the credit sales of the DSO period x its days); count-back
    DSO needs the monthly history of the whole book and is only shown unfiltered.
    """
    if not filters.has_dimensions and warehouse.has(RECEIVABLES_SUMMARY):
        money = ", ".join(f"{c}::double as {c}" for c in RECEIVABLES_MONEY)
        return query(
            warehouse,
            f"""
            select month_end, is_partial_month, is_closed, customers, customers_with_open_ar,
                   over_limit_customers, {money},
                   dso_simple::double as dso_simple, dso_countback::double as dso_countback,
                   best_possible_dso::double as best_possible_dso,
                   average_days_delinquent::double as average_days_delinquent
            from wh.{RECEIVABLES_SUMMARY}
            where month_end between ? and ?
            order by month_end
            """,
            [first, last],
        )
    if not ensure_receivables_cube(warehouse):
        return pd.DataFrame()
    return receivables_book_from_cube(warehouse, filters, first, last)


def receivables_book_from_cube(
    warehouse: Warehouse, filters: Filters, first: date, last: date
) -> pd.DataFrame:
    condition, params = dimension_condition(filters)
    money = ", ".join(f"sum({c}) as {c}" for c in RECEIVABLES_MONEY)
    return query(
        warehouse,
        f"""
        with book as (
            select month_end, bool_or(is_partial_month) as is_partial_month,
                   bool_and(is_closed) as is_closed, sum(customers) as customers,
                   sum(customers_with_open_ar) as customers_with_open_ar,
                   sum(over_limit_customers) as over_limit_customers, {money},
                   sum(period_credit_sales) as period_credit_sales,
                   max(period_days) as period_days
            from receivables_cube
            where month_end between ? and ? and {condition}
            group by month_end
        )
        select * exclude (period_credit_sales, period_days),
            round(closing_ar / nullif(period_credit_sales, 0) * period_days, 2) as dso_simple,
            null::double as dso_countback,
            round(ar_current / nullif(period_credit_sales, 0) * period_days, 2)
                as best_possible_dso,
            round(closing_ar / nullif(period_credit_sales, 0) * period_days, 2)
                - round(ar_current / nullif(period_credit_sales, 0) * period_days, 2)
                as average_days_delinquent
        from book
        order by month_end
        """,
        [first, last, *params],
    )


def key_account_trend(warehouse: Warehouse, first: date, last: date) -> pd.DataFrame:
    return query(
        warehouse,
        f"""
        select month_end, is_partial_month, key_accounts, entered, dropped,
               is_above_team_threshold
        from wh.{KEY_ACCOUNT_TREND}
        where month_end between ? and ?
        order by month_end
        """,
        [first, last],
    )


def satisfaction_segment(filters: Filters) -> tuple[str, str] | None:
    """The satisfaction_monthly segment matching the filters, None when none does.

    The mart is published for everyone and per region, channel and tier separately; a sales rep
    or two filters at once have no segment.
    """
    chosen = filters.dimensions()
    if "sales_rep" in chosen or len(chosen) > 1:
        return None
    if not chosen:
        return ("all", "all")
    return next(iter(chosen.items()))


# z of a 95% confidence interval, the default of the marts' nps_confidence_z.
CONFIDENCE_Z = 1.96


def satisfaction_trend(
    warehouse: Warehouse, segment: tuple[str, str], first: date, last: date
) -> pd.DataFrame:
    """CSAT and NPS per month of one segment (suppressed months have null scores).

    The mart publishes NPS's margin of error; the top-2-box CSAT's is the usual one of a
    proportion, z x sqrt(p (1 - p) / n), in percentage points.
    """
    return query(
        warehouse,
        f"""
        select month_end, is_partial_month, responses, is_suppressed,
               csat_index, csat_top2_pct,
               {CONFIDENCE_Z} * sqrt(csat_top2_pct * (100 - csat_top2_pct)
                   / nullif(overall_responses, 0)) as csat_top2_margin_of_error,
               nps, nps_margin_of_error, nps_responses, complaints, complaint_rate,
               repurchase_rate
        from wh.{SATISFACTION_MONTHLY}
        where segment_type = ? and segment_value = ? and month_end between ? and ?
        order by month_end
        """,
        [*segment, first, last],
    )


def pareto(warehouse: Warehouse, filters: Filters) -> tuple[pd.DataFrame, dict[str, float]]:
    """The Pareto curve of the selected customers (cumulative value share vs customer share).

    Shares are recomputed within the selection, over positive ranking values (as customer_abc
    does). Returns about PARETO_POINTS points and the 80/20 reading: the customer share that
    brings 80% of the value, and the value share of the top 20% of customers.
    All customers: customer_abc already holds each one's rank and cumulative share. A selection
    is ranked again, once for both results (the running sum sorts every selected customer).
    """
    condition, params = customer_condition(filters)
    if filters.has_dimensions:
        ranked = f"""
            select
                row_number() over (order by rank) as position,
                count(*) over () as customers,
                sum(greatest(ranking_value, 0)) over (
                    order by rank rows between unbounded preceding and current row
                ) / nullif(sum(greatest(ranking_value, 0)) over (), 0) as cumulative_share
            from wh.{ABC}
            where {condition}
        """
    else:
        ranked = f"""
            select rank as position, count(*) over () as customers, cumulative_share
            from wh.{ABC}
        """
    frame = query(
        warehouse,
        f"""
        with ranked as ({ranked}),

        reading as (
            select
                min(position) filter (where cumulative_share >= 0.8) / any_value(customers)
                    as customers_for_80,
                max(cumulative_share) filter (where position <= ceil(0.2 * customers))::double
                    as value_of_top_20,
                any_value(customers) as customers
            from ranked
        )

        select
            ranked.position / ranked.customers as customer_share,
            ranked.cumulative_share::double as value_share,
            reading.*
        from reading
        left join ranked
            on ranked.position % greatest(ranked.customers // ?, 1) = 0
            or ranked.position = ranked.customers
        order by ranked.position
        """,
        [*params, PARETO_POINTS],
    )
    reading = frame.iloc[0][["customers_for_80", "value_of_top_20", "customers"]].to_dict()
    curve = frame[["customer_share", "value_share"]].dropna(subset=["customer_share"])
    return curve.reset_index(drop=True), reading


def tier_summary(warehouse: Warehouse, filters: Filters, column: str) -> pd.DataFrame:
    """Customers and ranking value per ABC tier or pyramid tier, with shares of the selection."""
    if column not in ("abc_tier", "pyramid_tier"):
        raise ValueError(f"not a tier column: {column}")
    condition, params = customer_condition(filters)
    return query(
        warehouse,
        f"""
        select {column} as tier, count(*) as customers,
               sum(ranking_value)::double as ranking_value,
               count(*) / sum(count(*)) over () as customer_share,
               sum(greatest(ranking_value, 0)) / nullif(sum(sum(greatest(ranking_value, 0)))
                   over (), 0) as value_share,
               count(*) filter (where is_key_account) as key_accounts
        from wh.{ABC}
        where {condition}
        group by {column}
        order by {column}
        """,
        params,
    )


def ranking_metric(warehouse: Warehouse) -> str | None:
    # The same on every row: one row is enough.
    frame = query(warehouse, f"select ranking_metric as metric from wh.{ABC} limit 1")
    return None if frame.empty else frame.iloc[0]["metric"]


# ---- paged customer lists ----------------------------------------------------------------------
@dataclass(frozen=True)
class Listing:
    """A list the page shows one page at a time: ``select`` without ORDER BY and LIMIT.

    Lists of customers get the customer's name added to the rows of the page only, so a page
    never joins the whole customer master.
    """

    select: str
    params: tuple
    order_by: str
    with_names: bool = True


def count_rows(warehouse: Warehouse, listing: Listing) -> int:
    frame = query(warehouse, f"select count(*) as n from ({listing.select})", listing.params)
    return int(frame.iloc[0]["n"])


def page_rows(warehouse: Warehouse, listing: Listing, page: int, page_size: int) -> pd.DataFrame:
    page_sql = f"select * from ({listing.select}) order by {listing.order_by} limit ? offset ?"
    params = [*listing.params, page_size, (page - 1) * page_size]
    if not (listing.with_names and warehouse.has(CUSTOMERS)):
        return query(warehouse, page_sql, params)
    return query(
        warehouse,
        f"""
        with page as ({page_sql})
        select page.*, coalesce(names.customer_name, page.customer_id) as customer_name
        from page
        left join (
            select customer_id as name_customer_id, customer_name from wh.{CUSTOMERS}
        ) as names on names.name_customer_id = page.customer_id
        order by {listing.order_by}
        """,
        params,
    )


def _names_join(warehouse: Warehouse, alias: str) -> tuple[str, str]:
    """Name column and join for a relation already cut down to a few customers."""
    if warehouse.has(CUSTOMERS):
        return (
            f"coalesce(names.customer_name, {alias}.customer_id) as customer_name",
            f"left join wh.{CUSTOMERS} as names on names.customer_id = {alias}.customer_id",
        )
    return f"{alias}.customer_id as customer_name", ""


def loss_customers(filters: Filters) -> Listing:
    condition, params = customer_condition(filters, "p.customer_id")
    return Listing(
        f"""
        select p.customer_id, p.net_revenue::double as net_revenue,
               p.gross_margin::double as gross_margin, p.cost_to_serve::double as cost_to_serve,
               p.net_contribution::double as net_contribution,
               p.contribution_pct::double as contribution_pct, p.product_mix_class
        from wh.{PROFITABILITY} as p
        where p.profitability_class = 'loss' and {condition}
        """,
        tuple(params),
        "net_contribution, customer_id",
    )


def class_counts(warehouse: Warehouse, filters: Filters) -> pd.DataFrame:
    condition, params = customer_condition(filters)
    return query(
        warehouse,
        f"""
        select profitability_class, count(*) as customers,
               sum(net_revenue)::double as net_revenue,
               sum(net_contribution)::double as net_contribution
        from wh.{PROFITABILITY}
        where {condition}
        group by profitability_class
        order by profitability_class
        """,
        params,
    )


def product_heatmap(
    warehouse: Warehouse, filters: Filters, customers: int = 20, products: int = 15
) -> pd.DataFrame:
    """Contribution per customer x product for the top customers by revenue and the products
    that move their contribution most (largest absolute contribution)."""
    condition, params = customer_condition(filters)
    name, join = _names_join(warehouse, "cells")
    product_name = "cells.product_id as product_name"
    product_join = ""
    if warehouse.has(PRODUCTS):
        product_name = "coalesce(products.product_name, cells.product_id) as product_name"
        product_join = (
            f"left join wh.{PRODUCTS} as products on products.product_id = cells.product_id"
        )
    return query(
        warehouse,
        f"""
        with top_customers as (
            select customer_id, net_revenue
            from wh.{PROFITABILITY}
            where net_revenue > 0 and {condition}
            order by net_revenue desc, customer_id
            limit ?
        ),
        cells as (
            select cpp.customer_id, cpp.product_id, cpp.contribution, top.net_revenue
            from wh.{PRODUCT_PROFITABILITY} as cpp
            join top_customers as top on top.customer_id = cpp.customer_id
        ),
        top_products as (
            select product_id from cells
            group by product_id
            order by sum(abs(contribution)) desc, product_id
            limit ?
        )
        select cells.customer_id, {name}, cells.product_id, {product_name},
               cells.contribution::double as contribution,
               cells.net_revenue::double as customer_revenue
        from cells
        join top_products on top_products.product_id = cells.product_id
        {join}
        {product_join}
        """,
        [*params, customers, products],
    )


# ---- ABC and key accounts ----------------------------------------------------------------------
def tier_migration(warehouse: Warehouse, filters: Filters, compare_with: str) -> pd.DataFrame:
    earlier = TIER_COMPARISONS[compare_with]
    condition, params = customer_condition(filters)
    return query(
        warehouse,
        f"""
        select coalesce({earlier}, 'C') as earlier_tier, abc_tier as current_tier,
               count(*) as customers
        from wh.{ABC}
        where {condition}
        group by all
        order by all
        """,
        params,
    )


def quadrant_counts(warehouse: Warehouse, filters: Filters) -> pd.DataFrame:
    condition, params = customer_condition(filters)
    return query(
        warehouse,
        f"""
        select loyalty_quadrant, count(*) as customers,
               sum(ranking_value)::double as ranking_value
        from wh.{ABC}
        where {condition}
        group by loyalty_quadrant
        order by loyalty_quadrant
        """,
        params,
    )


def quadrant_points(warehouse: Warehouse, filters: Filters) -> pd.DataFrame:
    """Customers for the value x loyalty scatter: all of them, or a repeatable sample."""
    condition, params = customer_condition(filters)
    name, join = _names_join(warehouse, "points")
    return query(
        warehouse,
        f"""
        with points as (
            select customer_id, ranking_value::double as ranking_value, active_months,
                   loyalty_quadrant, abc_tier
            from wh.{ABC}
            where {condition}
            using sample reservoir({SCATTER_POINTS} rows) repeatable (7)
        )
        select points.*, {name} from points {join}
        """,
        params,
    )


# ---- credit and receivables --------------------------------------------------------------------
def grade_distribution(warehouse: Warehouse, filters: Filters) -> pd.DataFrame:
    condition, params = customer_condition(filters)
    return query(
        warehouse,
        f"""
        select credit_grade, count(*) as customers, sum(open_ar)::double as open_ar,
               sum(credit_limit)::double as credit_limit,
               count(*) filter (where is_over_limit) as over_limit_customers
        from wh.{CREDIT}
        where {condition}
        group by credit_grade
        order by credit_grade
        """,
        params,
    )


def over_limit_customers(filters: Filters) -> Listing:
    condition, params = customer_condition(filters, "c.customer_id")
    return Listing(
        f"""
        select c.customer_id, c.credit_grade, c.credit_limit::double as credit_limit,
               c.open_ar::double as open_ar, (c.open_ar - c.credit_limit)::double as over_by,
               c.utilization, c.max_days_past_due, c.reason_codes
        from wh.{CREDIT} as c
        where c.is_over_limit and {condition}
        """,
        tuple(params),
        "over_by desc, customer_id",
    )


def open_items(filters: Filters, *, limitation_only: bool) -> Listing:
    condition, params = customer_condition(filters, "o.customer_id")
    watch = "o.is_limitation_risk" if limitation_only else "true"
    return Listing(
        f"""
        select o.invoice_id, o.customer_id, o.invoice_date, o.due_date,
               o.amount::double as amount, o.open_amount::double as open_amount,
               o.days_past_due, o.aging_bucket, o.is_disputed, o.limitation_date
        from wh.{OPEN_ITEMS} as o
        where {watch} and {condition}
        """,
        tuple(params),
        "limitation_date, invoice_id" if limitation_only else "days_past_due desc, invoice_id",
    )


def month_receivables(filters: Filters, month_end: date) -> Listing:
    """Finance's table: receivables_monthly of one month end for the selected customers."""
    condition, params = customer_condition(filters, "r.customer_id")
    columns = ", ".join(
        f"r.{c}::double as {c}" if c in RECEIVABLES_MONEY else f"r.{c}"
        for c in RECEIVABLES_EXPORT_COLUMNS[1:]
    )
    return Listing(
        f"""
        select r.customer_id, {columns}
        from wh.{RECEIVABLES_MONTHLY} as r
        where r.month_end = ? and {condition}
        """,
        (month_end, *params),
        "closing_ar desc, customer_id",
    )


def month_receivables_export(filters: Filters, month_end: date) -> tuple[str, list[Any]]:
    """The download of the month's receivables: the mart's own columns and exact decimals."""
    condition, params = customer_condition(filters)
    return (
        f"""
        select {", ".join(RECEIVABLES_EXPORT_COLUMNS)}
        from wh.{RECEIVABLES_MONTHLY}
        where month_end = ? and {condition}
        order by closing_ar desc, customer_id
        """,
        [month_end, *params],
    )


# ---- satisfaction and loyalty ------------------------------------------------------------------
def attributes(warehouse: Warehouse) -> pd.DataFrame:
    return query(
        warehouse,
        f"""
        select attribute, responses, is_suppressed, importance, expectation, perception, gap,
               importance_crosshair, performance_crosshair, ipa_quadrant
        from wh.{SATISFACTION_ATTRIBUTES}
        order by gap
        """,
    )


def complaints_by_category(warehouse: Warehouse, filters: Filters, month_end: date) -> pd.DataFrame:
    """Complaints opened in the 12 months ending with ``month_end``, as they stood at its end."""
    condition, params = customer_condition(filters)
    start = month_end_shift(month_end, -12)
    return query(
        warehouse,
        f"""
        select coalesce(category, 'unknown') as category, count(*) as complaints,
               count(*) filter (where is_valid) as valid_complaints,
               count(*) filter (where resolved_date is null or resolved_date > ?)
                   as open_complaints,
               avg(date_diff('day', opened_date, resolved_date))
                   filter (where resolved_date <= ?) as avg_days_to_resolve
        from wh.{COMPLAINTS}
        where opened_date > ? and opened_date <= ? and {condition}
        group by all
        order by complaints desc, category
        """,
        [month_end, month_end, start, month_end, *params],
    )


def rfm_segments(warehouse: Warehouse, filters: Filters) -> pd.DataFrame:
    condition, params = customer_condition(filters)
    return query(
        warehouse,
        f"""
        select rfm_segment, count(*) as customers, sum(monetary_12m)::double as monetary_12m,
               avg(recency_days)::double as recency_days,
               avg(frequency_12m)::double as frequency_12m
        from wh.{LOYALTY}
        where {condition}
        group by rfm_segment
        order by customers desc, rfm_segment
        """,
        params,
    )


def defection_risk_customers(filters: Filters) -> Listing:
    condition, params = customer_condition(filters, "l.customer_id")
    return Listing(
        f"""
        select l.customer_id, l.defection_risk, l.defection_reasons, l.recency_days,
               l.typical_gap_days, l.frequency_12m, l.monetary_12m::double as monetary_12m,
               l.rfm_segment
        from wh.{LOYALTY} as l
        where l.defection_risk = 'high' and {condition}
        """,
        tuple(params),
        "monetary_12m desc, customer_id",
    )


def hidden_dissatisfaction(filters: Filters) -> Listing:
    condition, params = customer_condition(filters, "s.customer_id")
    return Listing(
        f"""
        select s.customer_id, s.orders_12m, s.orders_recent_window,
               s.expected_orders_recent_window, s.csat_index, s.complaints_12m
        from wh.{SATISFACTION} as s
        where s.is_hidden_dissatisfaction and {condition}
        """,
        tuple(params),
        "expected_orders_recent_window - orders_recent_window desc, customer_id",
    )


# ---- customer card -----------------------------------------------------------------------------
def search_customers(warehouse: Warehouse, text: str, limit: int = 50) -> pd.DataFrame:
    """Customers whose id equals ``text`` or whose name contains it (case-insensitive)."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return query(
        warehouse,
        f"""
        select customer_id, customer_name
        from wh.{CARD}
        where customer_id = ? or customer_name ilike ? escape '\\'
        order by customer_id = ? desc, customer_name, customer_id
        limit ?
        """,
        [text, pattern, text, limit],
    )


def card(warehouse: Warehouse, customer_id: str) -> pd.Series | None:
    frame = query(warehouse, f"select * from wh.{CARD} where customer_id = ?", [customer_id])
    return None if frame.empty else frame.iloc[0]


def customer_row(warehouse: Warehouse, table: str, customer_id: str) -> pd.Series | None:
    """One customer's row of a customer-level mart (``table`` is one of the constants)."""
    if not warehouse.has(table):
        return None
    frame = query(warehouse, f"select * from wh.{table} where customer_id = ?", [customer_id])
    return None if frame.empty else frame.iloc[0]


def customer_profit_trend(
    warehouse: Warehouse, customer_id: str, first: date, last: date
) -> pd.DataFrame:
    columns = ", ".join(f"{c}::double as {c}" for c in PROFIT_COLUMNS)
    return query(
        warehouse,
        f"""
        select month_end, is_partial_month, {columns}
        from wh.{PROFITABILITY_MONTHLY}
        where customer_id = ? and month_end between ? and ?
        order by month_end
        """,
        [customer_id, first, last],
    )


def customer_receivables_trend(
    warehouse: Warehouse, customer_id: str, first: date, last: date
) -> pd.DataFrame:
    money = ", ".join(f"{c}::double as {c}" for c in RECEIVABLES_MONEY)
    return query(
        warehouse,
        f"""
        select month_end, is_partial_month, {money}, credit_limit::double as credit_limit,
               dso_simple::double as dso_simple
        from wh.{RECEIVABLES_MONTHLY}
        where customer_id = ? and month_end between ? and ?
        order by month_end
        """,
        [customer_id, first, last],
    )


def customer_products(warehouse: Warehouse, customer_id: str, limit: int = 15) -> pd.DataFrame:
    product_name = "cpp.product_id as product_name"
    product_join = ""
    if warehouse.has(PRODUCTS):
        product_name = "coalesce(products.product_name, cpp.product_id) as product_name"
        product_join = f"left join wh.{PRODUCTS} as products using (product_id)"
    return query(
        warehouse,
        f"""
        select cpp.product_id, {product_name}, cpp.net_revenue::double as net_revenue,
               cpp.gross_margin::double as gross_margin,
               cpp.contribution::double as contribution
        from wh.{PRODUCT_PROFITABILITY} as cpp {product_join}
        where cpp.customer_id = ?
        order by abs(cpp.contribution) desc, cpp.product_id
        limit ?
        """,
        [customer_id, limit],
    )


def customer_open_items(customer_id: str) -> Listing:
    return Listing(
        f"""
        select invoice_id, invoice_date, due_date, amount::double as amount,
               open_amount::double as open_amount, days_past_due, aging_bucket, is_disputed,
               limitation_date
        from wh.{OPEN_ITEMS}
        where customer_id = ?
        """,
        (customer_id,),
        "days_past_due desc, invoice_id",
        with_names=False,
    )


# ---- data health -------------------------------------------------------------------------------
def loads_by_extract(warehouse: Warehouse) -> pd.DataFrame:
    return query(
        warehouse,
        f"""
        select extract, count(*) as files,
               count(*) filter (where status = 'rejected') as rejected_files,
               sum(rows_read) as rows_read, sum(rows_loaded) as rows_loaded,
               sum(rows_quarantined) as rows_quarantined, max(processed_at) as last_processed_at
        from wh.{FILE_MANIFEST}
        group by extract
        order by extract
        """,
    )


def manifest_files() -> Listing:
    return Listing(
        f"""
        select extract, file_name, status, rows_read, rows_loaded, rows_quarantined, message,
               processed_at
        from wh.{FILE_MANIFEST}
        """,
        (),
        "processed_at desc, extract, file_name",
        with_names=False,
    )


def quarantine_by_rule(warehouse: Warehouse) -> pd.DataFrame:
    return query(
        warehouse,
        f"""
        select extract, rule, count(*) as quarantined_rows
        from wh.{QUARANTINE}
        group by all
        order by quarantined_rows desc, extract, rule
        """,
    )


def quarantine_sample(extract: str | None, rule: str | None) -> Listing:
    conditions, params = [], []
    for column, value in (("extract", extract), ("rule", rule)):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    return Listing(
        f"""
        select extract, file_name, line, column_name, rule, message, raw_values, quarantined_at
        from wh.{QUARANTINE}
        where {" and ".join(conditions) or "true"}
        """,
        tuple(params),
        "quarantined_at desc, extract, file_name, line",
        with_names=False,
    )
