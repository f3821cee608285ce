"""Source mappings: map a company's own exports onto the raw contract without writing code.

A mapping is a YAML file per source system (see ``mappings/`` and docs/mappings.md). It names the
input files, optional intermediate ``views`` (joins, filters, aggregations), and for every raw
extract how each contract column is filled: a source column, a constant, or an expression in a
small, validated expression language. :func:`run_import` applies a mapping to a folder of exports
and writes ``<raw-dir>/<extract>/<source>_<extract>.csv`` (UTF-8) for the normal refresh to load.

Everything runs as DuckDB SQL over whole tables (no per-row Python), so a large export maps at
the speed of DuckDB. Expressions are parsed by the tokenizer and parser below into a tree and
compiled to SQL by this module: only column references, literals, ``$params``, arithmetic,
comparisons, boolean logic, ``case`` and a whitelist of functions exist, so a mapping can never
run arbitrary SQL or Python. What cannot be mapped is reported, never guessed: an unknown column,
a required contract column without a mapping, an unsafe expression is an error and that extract
is not written; rows dropped by a filter or an inner join, values that do not parse and unused
source columns are listed in the import report.
"""

from __future__ import annotations

import codecs
import datetime as dt
import difflib
import filecmp
import gzip
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from pipelines.contract import BOOLEAN, DATE, DECIMAL, EXTRACTS, INTEGER, Column
from pipelines.loader import PARSING_MACROS

# ---- errors and the report ---------------------------------------------------------------------


class MappingError(Exception):
    """The mapping file itself is invalid (bad YAML, unknown keys, wrong shapes)."""


class ExpressionError(MappingError):
    """An expression is not valid in the mapping expression language, or names no column."""


ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass
class Issue:
    level: str
    message: str


@dataclass
class TargetReport:
    """What happened to one view or extract of the mapping."""

    name: str
    kind: str  # "view" or "extract"
    rows: int | None = None
    path: Path | None = None
    written: bool = False
    issues: list[Issue] = field(default_factory=list)

    def add(self, level: str, message: str) -> None:
        self.issues.append(Issue(level, message))

    @property
    def failed(self) -> bool:
        return any(i.level == ERROR for i in self.issues)


@dataclass
class ImportReport:
    source: str
    mapping_path: Path
    from_dir: Path
    to_dir: Path
    dry_run: bool = False
    targets: list[TargetReport] = field(default_factory=list)
    not_mapped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(t.failed for t in self.targets)

    def target(self, name: str) -> TargetReport:
        return next(t for t in self.targets if t.name == name)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "mapping": str(self.mapping_path),
            "from": str(self.from_dir),
            "to": str(self.to_dir),
            "dry_run": self.dry_run,
            "ok": self.ok,
            "targets": [
                {
                    "name": t.name,
                    "kind": t.kind,
                    "rows": t.rows,
                    "path": str(t.path) if t.path else None,
                    "written": t.written,
                    "issues": [{"level": i.level, "message": i.message} for i in t.issues],
                }
                for t in self.targets
            ],
            "not_mapped": self.not_mapped,
        }

    def lines(self) -> list[str]:
        out = [f"Import {self.source}: {self.from_dir} -> {self.to_dir}"]
        for kind in ("view", "extract"):
            targets = [t for t in self.targets if t.kind == kind]
            if not targets:
                continue
            out.append(f"  {kind}s")
            for t in targets:
                if t.failed:
                    state = "NOT WRITTEN" if kind == "extract" else "FAILED"
                elif kind == "extract" and t.path:
                    where = (
                        t.path.relative_to(self.to_dir)
                        if t.path.is_relative_to(self.to_dir)
                        else t.path
                    )
                    verb = "checked" if self.dry_run else "->"
                    state = f"{_rows(t.rows)} {verb} {where}"
                else:
                    state = _rows(t.rows) if t.rows is not None else ""
                out.append(f"    {t.name:<22}{state}")
                for issue in t.issues:
                    out.append(f"      {issue.level:<8}{issue.message}")
        if self.not_mapped:
            out.append(
                f"  contract extracts this mapping does not fill: {', '.join(self.not_mapped)}"
            )
        extracts = [t for t in self.targets if t.kind == "extract"]
        failed = [t.name for t in self.targets if t.failed]
        out.append(
            f"Result: {sum(not t.failed for t in extracts)} of {len(extracts)} extracts mapped"
            + (f"; FAILED: {', '.join(failed)}" if failed else "")
            + (" (dry run: nothing written)" if self.dry_run else "")
        )
        return out


# ---- the expression language -------------------------------------------------------------------

T_TEXT, T_NUMBER, T_DATE, T_TIMESTAMP, T_BOOL, T_NULL = (
    "text",
    "number",
    "date",
    "timestamp",
    "boolean",
    "null",
)

_KEYWORDS = {
    "and", "or", "not", "is", "null", "in", "between", "like", "case", "when", "then", "else",
    "end", "true", "false",
}  # fmt: skip

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
    | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<string>'(?:[^']|'')*')
    | (?P<quoted>"(?:[^"]|"")*"|`[^`]*`)
    | (?P<param>\$[^\W\d]\w*)
    | (?P<name>[^\W\d]\w*)
    | (?P<op><=|>=|<>|!=|\|\||[-+*/=<>(),.])
    """,
    re.VERBOSE,
)


@dataclass
class _Token:
    kind: str
    value: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise ExpressionError(
                f"unexpected character {text[pos]!r} at position {pos + 1} in {text!r} "
                "(allowed: column names, numbers, 'text', $params, + - * / ||, comparisons, "
                "and/or/not, case, whitelisted functions)"
            )
        kind = match.lastgroup
        value = match.group()
        if kind == "name" and value.lower() in _KEYWORDS:
            kind, value = "kw", value.lower()
        if kind != "ws":
            tokens.append(_Token(kind, value, pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# Tree nodes of a parsed expression.
@dataclass
class Lit:
    value: Any  # str, int/float (kept as source text in `text`), bool or None
    type: str
    text: str = ""


@dataclass
class Param:
    name: str


@dataclass
class Col:
    qualifier: str | None
    name: str

    @property
    def label(self) -> str:
        return f"{self.qualifier}.{self.name}" if self.qualifier else self.name


@dataclass
class Unary:
    op: str
    operand: Any


@dataclass
class Bin:
    op: str
    left: Any
    right: Any


@dataclass
class IsNull:
    operand: Any
    negated: bool


@dataclass
class In:
    operand: Any
    items: list
    negated: bool


@dataclass
class Between:
    operand: Any
    low: Any
    high: Any
    negated: bool


@dataclass
class Like:
    operand: Any
    pattern: Any
    negated: bool


@dataclass
class Case:
    operand: Any
    whens: list
    otherwise: Any


@dataclass
class Call:
    name: str
    args: list
    star: bool = False


class _Parser:
    """Recursive descent over the token list; builds the tree, never executes anything."""

    def __init__(self, text: str):
        if not isinstance(text, str) or not text.strip():
            raise ExpressionError("an expression must be a non-empty text")
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def _peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def _next(self) -> _Token:
        token = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def _is(self, kind: str, *values: str, offset: int = 0) -> bool:
        token = self._peek(offset)
        return token.kind == kind and (not values or token.value in values)

    def _accept(self, kind: str, *values: str) -> str | None:
        if self._is(kind, *values):
            return self._next().value
        return None

    def _expect(self, kind: str, value: str) -> None:
        if not self._accept(kind, value):
            self._fail(f"expected {value!r}")

    def _fail(self, message: str):
        token = self._peek()
        found = token.value or "the end"
        raise ExpressionError(
            f"{message} at position {token.pos + 1} (found {found!r}) in {self.text!r}"
        )

    def parse(self):
        node = self._or()
        if not self._is("end"):
            self._fail("unexpected text")
        return node

    def _or(self):
        node = self._and()
        while self._accept("kw", "or"):
            node = Bin("or", node, self._and())
        return node

    def _and(self):
        node = self._not()
        while self._accept("kw", "and"):
            node = Bin("and", node, self._not())
        return node

    def _not(self):
        if self._accept("kw", "not"):
            return Unary("not", self._not())
        return self._comparison()

    def _comparison(self):
        left = self._additive()
        op = self._accept("op", "=", "<>", "!=", "<", "<=", ">", ">=")
        if op:
            return Bin("<>" if op == "!=" else op, left, self._additive())
        if self._accept("kw", "is"):
            negated = bool(self._accept("kw", "not"))
            self._expect("kw", "null")
            return IsNull(left, negated)
        negated = False
        if self._is("kw", "not") and self._is("kw", "in", "between", "like", offset=1):
            self._next()
            negated = True
        if self._accept("kw", "in"):
            self._expect("op", "(")
            items = [self._or()]
            while self._accept("op", ","):
                items.append(self._or())
            self._expect("op", ")")
            return In(left, items, negated)
        if self._accept("kw", "between"):
            low = self._additive()
            self._expect("kw", "and")
            return Between(left, low, self._additive(), negated)
        if self._accept("kw", "like"):
            return Like(left, self._additive(), negated)
        if negated:
            self._fail("expected in, between or like after not")
        return left

    def _additive(self):
        node = self._multiplicative()
        while True:
            op = self._accept("op", "+", "-", "||")
            if not op:
                return node
            node = Bin(op, node, self._multiplicative())

    def _multiplicative(self):
        node = self._unary()
        while True:
            op = self._accept("op", "*", "/")
            if not op:
                return node
            node = Bin(op, node, self._unary())

    def _unary(self):
        if self._accept("op", "-"):
            return Unary("-", self._unary())
        if self._accept("op", "+"):
            return self._unary()
        return self._primary()

    def _primary(self):
        token = self._peek()
        if token.kind == "number":
            self._next()
            return Lit(float(token.value), T_NUMBER, token.value)
        if token.kind == "string":
            self._next()
            return Lit(token.value[1:-1].replace("''", "'"), T_TEXT)
        if token.kind == "param":
            self._next()
            return Param(token.value[1:])
        if token.kind == "op" and token.value == "(":
            self._next()
            node = self._or()
            self._expect("op", ")")
            return node
        if token.kind == "kw":
            if token.value in ("true", "false"):
                self._next()
                return Lit(token.value == "true", T_BOOL)
            if token.value == "null":
                self._next()
                return Lit(None, T_NULL)
            if token.value == "case":
                self._next()
                return self._case()
            self._fail(f"unexpected keyword {token.value!r}")
        if token.kind in ("name", "quoted"):
            self._next()
            name = _unquote(token)
            if token.kind == "name" and self._is("op", "("):
                return self._call(name)
            if self._accept("op", "."):
                column = self._peek()
                if column.kind not in ("name", "quoted", "kw"):
                    self._fail("expected a column name after '.'")
                self._next()
                return Col(name, _unquote(column))
            return Col(None, name)
        self._fail("expected a value, a column or '('")

    def _case(self):
        operand = None if self._is("kw", "when") else self._or()
        whens = []
        while self._accept("kw", "when"):
            condition = self._or()
            self._expect("kw", "then")
            whens.append((condition, self._or()))
        if not whens:
            self._fail("case needs at least one 'when ... then ...'")
        otherwise = self._or() if self._accept("kw", "else") else None
        self._expect("kw", "end")
        return Case(operand, whens, otherwise)

    def _call(self, name: str):
        self._expect("op", "(")
        if self._accept("op", "*"):
            self._expect("op", ")")
            return Call(name.lower(), [], star=True)
        args = []
        if not self._accept("op", ")"):
            args.append(self._or())
            while self._accept("op", ","):
                args.append(self._or())
            self._expect("op", ")")
        return Call(name.lower(), args)


def _unquote(token: _Token) -> str:
    if token.kind == "quoted":
        return token.value[1:-1].replace('""', '"') if token.value[0] == '"' else token.value[1:-1]
    return token.value


def parse_expression(text: str):
    """Parse an expression into its tree (raises ExpressionError); nothing is evaluated."""
    return _Parser(text).parse()


def _walk(node):
    yield node
    children: list = []
    if isinstance(node, Unary):
        children = [node.operand]
    elif isinstance(node, Bin):
        children = [node.left, node.right]
    elif isinstance(node, IsNull):
        children = [node.operand]
    elif isinstance(node, In):
        children = [node.operand, *node.items]
    elif isinstance(node, Between):
        children = [node.operand, node.low, node.high]
    elif isinstance(node, Like):
        children = [node.operand, node.pattern]
    elif isinstance(node, Case):
        children = [node.operand, *(x for pair in node.whens for x in pair), node.otherwise]
    elif isinstance(node, Call):
        children = node.args
    for child in children:
        if child is not None:
            yield from _walk(child)


def _sql_string(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_AGGREGATES = {
    "sum", "avg", "min", "max", "count", "count_distinct", "any_value", "arg_max", "arg_min",
    "string_agg",
}  # fmt: skip

# name: (min args, max args, one-line description for docs and error messages)
FUNCTIONS: dict[str, tuple[int, int | None, str]] = {
    "coalesce": (1, None, "first non-empty value"),
    "nullif": (2, 2, "null when both are equal"),
    "if": (3, 3, "if(condition, then, else)"),
    "least": (1, None, "smallest value"),
    "greatest": (1, None, "largest value"),
    "round": (1, 2, "round(x[, digits])"),
    "abs": (1, 1, "absolute value"),
    "floor": (1, 1, "round down"),
    "ceil": (1, 1, "round up"),
    "number": (1, 1, "read as a number"),
    "integer": (1, 1, "read as a whole number (rounded)"),
    "text": (1, 1, "as text"),
    "date": (1, 2, "date(x[, 'format']): read as a date"),
    "timestamp": (1, 2, "timestamp(x[, 'format']): read as a timestamp"),
    "add_days": (2, 2, "add_days(date, n)"),
    "days_between": (2, 2, "days_between(from, to) = to - from in days"),
    "year": (1, 1, "year of a date"),
    "month": (1, 1, "month (1-12) of a date"),
    "lower": (1, 1, "lower case"),
    "upper": (1, 1, "upper case"),
    "trim": (1, 1, "strip surrounding spaces"),
    "substr": (2, 3, "substr(text, start[, length]), start at 1"),
    "length": (1, 1, "number of characters"),
    "replace": (3, 3, "replace(text, old, new)"),
    "concat": (1, None, "join texts, skipping empty ones"),
    "concat_ws": (2, None, "concat_ws(separator, text, ...), skipping empty ones"),
    "sum": (1, 1, "aggregate: total"),
    "avg": (1, 1, "aggregate: mean"),
    "min": (1, 1, "aggregate: smallest"),
    "max": (1, 1, "aggregate: largest"),
    "count": (0, 1, "aggregate: count(*) rows or count(x) non-empty values"),
    "count_distinct": (1, 1, "aggregate: number of different values"),
    "any_value": (1, 1, "aggregate: one of the values"),
    "arg_max": (2, 2, "aggregate: arg_max(value, by): value on the row with the largest by"),
    "arg_min": (2, 2, "aggregate: arg_min(value, by): value on the row with the smallest by"),
    "string_agg": (1, 2, "aggregate: string_agg(text[, separator])"),
}


def _literal_sql(value: Any) -> tuple[str, str]:
    """SQL and type of a Python scalar from YAML (a const or a param)."""
    if value is None:
        return "null", T_NULL
    if isinstance(value, bool):
        return ("true" if value else "false"), T_BOOL
    if isinstance(value, int | float):
        return repr(value), T_NUMBER
    if isinstance(value, dt.datetime):
        return f"timestamp {_sql_string(value.isoformat(sep=' '))}", T_TIMESTAMP
    if isinstance(value, dt.date):
        return f"date {_sql_string(value.isoformat())}", T_DATE
    if isinstance(value, str):
        return _sql_string(value), T_TEXT
    raise MappingError(f"not a scalar value: {value!r} (use a number, text, true/false or null)")


@dataclass
class _Check:
    """A conversion of text to another type whose failures the report counts."""

    raw_sql: str
    parsed_sql: str
    label: str
    target: str


class _Compiler:
    """Compiles an expression tree to DuckDB SQL, tracking the type of every value.

    Source file columns are text; they are read as numbers, dates or booleans where the
    expression needs one (``price * qty``, ``date(x) > date(y)``), and every such conversion is
    registered so the report can count values that did not parse.
    """

    def __init__(
        self,
        resolve: Callable[[str | None, str], tuple[str, str, str | None]],
        params: dict[str, Any],
        date_format: Callable[[str | None], str | None],
        checks: list[_Check] | None,
    ):
        self.resolve = resolve
        self.params = params
        self.date_format = date_format
        self.checks = checks

    # ---- conversions ---------------------------------------------------------------------
    def _register(self, raw: str, parsed: str, node, target: str) -> None:
        if self.checks is not None:
            label = node.label if isinstance(node, Col) else "an expression"
            self.checks.append(_Check(raw, parsed, label, target))

    def _alias(self, node) -> str | None:
        if isinstance(node, Col):
            return self.resolve(node.qualifier, node.name)[2]
        return None

    def coerce(self, sql: str, typ: str, target: str, node=None, fmt: str | None = None) -> str:
        if typ in (target, T_NULL):
            return sql
        if target == T_TEXT:
            if typ == T_DATE:
                return f"strftime({sql}, '%Y-%m-%d')"
            if typ == T_TIMESTAMP:
                return f"strftime({sql}, '%Y-%m-%d %H:%M:%S')"
            if typ == T_BOOL:
                return f"(case when {sql} then 'true' when not {sql} then 'false' end)"
            return f"cast({sql} as varchar)"
        if target == T_NUMBER:
            if typ == T_TEXT:
                parsed = (
                    f"coalesce(try_cast(trim({sql}) as double), cast(cw_decimal({sql}) as double))"
                )
                self._register(sql, parsed, node, "a number")
                return parsed
            if typ == T_BOOL:
                return f"cast({sql} as integer)"
        if target in (T_DATE, T_TIMESTAMP):
            if typ == T_TEXT:
                fmt = fmt or self.date_format(self._alias(node))
                if target == T_DATE:
                    parsed = f"cw_date({sql})"
                    if fmt:
                        parsed = (
                            f"coalesce(cast(try_strptime(trim({sql}), {_sql_string(fmt)}) as date),"
                            f" {parsed})"
                        )
                else:
                    parsed = f"try_cast(trim({sql}) as timestamp)"
                    if fmt:
                        parsed = (
                            f"coalesce(try_strptime(trim({sql}), {_sql_string(fmt)}), {parsed})"
                        )
                self._register(sql, parsed, node, f"a date ({fmt or 'ISO'})")
                return parsed
            if {typ, target} == {T_DATE, T_TIMESTAMP}:
                return f"cast({sql} as {'date' if target == T_DATE else 'timestamp'})"
        if target == T_BOOL:
            if typ == T_TEXT:
                parsed = f"cw_boolean({sql})"
                self._register(sql, parsed, node, "true/false")
                return parsed
            if typ == T_NUMBER:
                return f"({sql} <> 0)"
        raise ExpressionError(f"cannot use a {typ} value as a {target} ({_describe(node)})")

    def typed(self, node, target: str, fmt: str | None = None) -> str:
        sql, typ = self.compile(node)
        return self.coerce(sql, typ, target, node, fmt)

    def unify(self, nodes: list) -> tuple[list[str], str]:
        """Compile several values that must share one type (branches, comparison sides)."""
        compiled = [(self.compile(n), n) for n in nodes]
        types = {t for (_, t), _ in compiled if t not in (T_TEXT, T_NULL)}
        if types == {T_DATE, T_TIMESTAMP}:
            types = {T_TIMESTAMP}
        if len(types) > 1:
            raise ExpressionError(
                f"values of different types ({', '.join(sorted(types))}) cannot be combined: "
                + ", ".join(_describe(n) for n in nodes)
            )
        if types:
            target = types.pop()
        elif any(t == T_TEXT for (_, t), _ in compiled):
            target = T_TEXT
        else:
            target = T_NULL
        return [self.coerce(sql, t, target, n) for (sql, t), n in compiled], target

    # ---- nodes -----------------------------------------------------------------------------
    def compile(self, node) -> tuple[str, str]:
        if isinstance(node, Lit):
            if node.type == T_NUMBER:
                return node.text, T_NUMBER
            return _literal_sql(node.value)
        if isinstance(node, Param):
            if node.name not in self.params:
                known = ", ".join(f"${p}" for p in self.params) or "none"
                raise ExpressionError(f"unknown parameter ${node.name} (declared params: {known})")
            return _literal_sql(self.params[node.name])
        if isinstance(node, Col):
            sql, typ, _ = self.resolve(node.qualifier, node.name)
            return sql, typ
        if isinstance(node, Unary):
            if node.op == "not":
                return f"(not {self.typed(node.operand, T_BOOL)})", T_BOOL
            return f"(-{self.typed(node.operand, T_NUMBER)})", T_NUMBER
        if isinstance(node, Bin):
            return self._binary(node)
        if isinstance(node, IsNull):
            sql, _ = self.compile(node.operand)
            return f"({sql} is {'not ' if node.negated else ''}null)", T_BOOL
        if isinstance(node, In):
            values, _ = self.unify([node.operand, *node.items])
            negation = "not " if node.negated else ""
            return f"({values[0]} {negation}in ({', '.join(values[1:])}))", T_BOOL
        if isinstance(node, Between):
            (value, low, high), _ = self.unify([node.operand, node.low, node.high])
            negation = "not " if node.negated else ""
            return f"({value} {negation}between {low} and {high})", T_BOOL
        if isinstance(node, Like):
            value, pattern = self.typed(node.operand, T_TEXT), self.typed(node.pattern, T_TEXT)
            return f"({value} {'not ' if node.negated else ''}like {pattern})", T_BOOL
        if isinstance(node, Case):
            return self._case(node)
        if isinstance(node, Call):
            return self._call(node)
        raise ExpressionError(f"unsupported expression {node!r}")

    def _binary(self, node: Bin) -> tuple[str, str]:
        op = node.op
        if op in ("and", "or"):
            return (
                f"({self.typed(node.left, T_BOOL)} {op} {self.typed(node.right, T_BOOL)})",
                T_BOOL,
            )
        if op == "||":
            return f"({self.typed(node.left, T_TEXT)} || {self.typed(node.right, T_TEXT)})", T_TEXT
        if op in ("=", "<>", "<", "<=", ">", ">="):
            (left, right), _ = self.unify([node.left, node.right])
            return f"({left} {op} {right})", T_BOOL
        left, left_type = self.compile(node.left)
        right, right_type = self.compile(node.right)
        dates = (T_DATE, T_TIMESTAMP)
        if op in ("+", "-") and left_type in dates and right_type not in dates:
            days = f"cast(round({self.coerce(right, right_type, T_NUMBER, node.right)}) as integer)"
            if left_type == T_DATE:
                return f"({left} {op} {days})", T_DATE
            return f"({left} {op} to_days({days}))", T_TIMESTAMP
        if op == "-" and left_type in dates and right_type in dates:
            return f"date_diff('day', cast({right} as date), cast({left} as date))", T_NUMBER
        left = self.coerce(left, left_type, T_NUMBER, node.left)
        right = self.coerce(right, right_type, T_NUMBER, node.right)
        if op == "/":
            return f"(cast({left} as double) / nullif({right}, 0))", T_NUMBER
        return f"({left} {op} {right})", T_NUMBER

    def _case(self, node: Case) -> tuple[str, str]:
        values, typ = self.unify(
            [v for _, v in node.whens] + ([node.otherwise] if node.otherwise is not None else [])
        )
        parts = ["case"]
        if node.operand is not None:
            keys, _ = self.unify([node.operand, *(c for c, _ in node.whens)])
            parts.append(keys[0])
            conditions = keys[1:]
        else:
            conditions = [self.typed(c, T_BOOL) for c, _ in node.whens]
        for condition, value in zip(conditions, values, strict=False):
            parts.append(f"when {condition} then {value}")
        if node.otherwise is not None:
            parts.append(f"else {values[-1]}")
        parts.append("end")
        return "(" + " ".join(parts) + ")", typ

    def _call(self, node: Call) -> tuple[str, str]:
        name, args = node.name, node.args
        if name not in FUNCTIONS:
            close = difflib.get_close_matches(name, FUNCTIONS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ExpressionError(
                f"function {name}() is not allowed{hint}; allowed: {', '.join(sorted(FUNCTIONS))}"
            )
        low, high, _ = FUNCTIONS[name]
        if node.star and name != "count":
            raise ExpressionError(f"{name}(*) is not allowed; only count(*)")
        if not low <= len(args) <= (high if high is not None else len(args)):
            raise ExpressionError(f"{name}() takes {_arity(low, high)}, got {len(args)}")

        def text_literal(index: int) -> str:
            arg = args[index]
            if not (isinstance(arg, Lit) and arg.type == T_TEXT):
                raise ExpressionError(f"argument {index + 1} of {name}() must be a 'quoted text'")
            return arg.value

        if name in ("coalesce", "least", "greatest", "nullif"):
            values, typ = self.unify(args)
            return f"{name}({', '.join(values)})", typ
        if name == "if":
            (then, otherwise), typ = self.unify(args[1:])
            return (
                f"(case when {self.typed(args[0], T_BOOL)} then {then} else {otherwise} end)",
                typ,
            )
        if name == "round":
            digits = "0"
            if len(args) == 2:
                if not (isinstance(args[1], Lit) and args[1].type == T_NUMBER):
                    raise ExpressionError("round(x, digits): digits must be a number")
                digits = str(int(args[1].value))
            return f"round({self.typed(args[0], T_NUMBER)}, {digits})", T_NUMBER
        if name in ("abs", "floor", "ceil", "number"):
            value = self.typed(args[0], T_NUMBER)
            return (value if name == "number" else f"{name}({value})"), T_NUMBER
        if name == "integer":
            return f"cast(round({self.typed(args[0], T_NUMBER)}) as bigint)", T_NUMBER
        if name == "text":
            return self.typed(args[0], T_TEXT), T_TEXT
        if name in ("date", "timestamp"):
            target = T_DATE if name == "date" else T_TIMESTAMP
            fmt = text_literal(1) if len(args) == 2 else None
            return self.typed(args[0], target, fmt), target
        if name == "add_days":
            days = f"cast(round({self.typed(args[1], T_NUMBER)}) as integer)"
            return f"({self.typed(args[0], T_DATE)} + {days})", T_DATE
        if name == "days_between":
            start, end = self.typed(args[0], T_DATE), self.typed(args[1], T_DATE)
            return f"date_diff('day', {start}, {end})", T_NUMBER
        if name in ("year", "month"):
            return f"{name}({self.typed(args[0], T_DATE)})", T_NUMBER
        if name in ("lower", "upper", "trim", "length"):
            typ = T_NUMBER if name == "length" else T_TEXT
            return f"{name}({self.typed(args[0], T_TEXT)})", typ
        if name == "substr":
            numbers = ", ".join(f"cast({self.typed(a, T_NUMBER)} as bigint)" for a in args[1:])
            return f"substr({self.typed(args[0], T_TEXT)}, {numbers})", T_TEXT
        if name == "replace":
            values = ", ".join(self.typed(a, T_TEXT) for a in args)
            return f"replace({values})", T_TEXT
        if name in ("concat", "concat_ws"):
            values = ", ".join(self.typed(a, T_TEXT) for a in args)
            return f"{name}({values})", T_TEXT
        # aggregates
        if name == "count":
            if node.star or not args:
                return "count(*)", T_NUMBER
            return f"count({self.compile(args[0])[0]})", T_NUMBER
        if name == "count_distinct":
            return f"count(distinct {self.compile(args[0])[0]})", T_NUMBER
        if name in ("sum", "avg"):
            return f"{name}({self.typed(args[0], T_NUMBER)})", T_NUMBER
        if name in ("min", "max", "any_value"):
            sql, typ = self.compile(args[0])
            return f"{name}({sql})", typ
        if name in ("arg_max", "arg_min"):
            value, typ = self.compile(args[0])
            by, _ = self.compile(args[1])
            return f"{name}({value}, {by})", typ
        if name == "string_agg":
            separator = _sql_string(text_literal(1)) if len(args) == 2 else "', '"
            return f"string_agg({self.typed(args[0], T_TEXT)}, {separator})", T_TEXT
        raise ExpressionError(f"function {name}() is not implemented")  # pragma: no cover


def _arity(low: int, high: int | None) -> str:
    if high is None:
        return f"at least {low} argument(s)"
    if low == high:
        return f"{low} argument(s)"
    return f"{low} to {high} arguments"


def _describe(node) -> str:
    if isinstance(node, Col):
        return node.label
    if isinstance(node, Lit):
        return repr(node.value) if node.type != T_NUMBER else node.text
    if isinstance(node, Param):
        return f"${node.name}"
    if isinstance(node, Call):
        return f"{node.name}(...)"
    return "an expression"


def _is_aggregate(node) -> bool:
    return any(isinstance(n, Call) and n.name in _AGGREGATES for n in _walk(node))


# ---- the mapping file ------------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TOP_KEYS = {"source", "description", "defaults", "params", "inputs", "views", "extracts"}
_DEFAULT_KEYS = {"encoding", "delimiter", "quote", "date_format"}
_INPUT_KEYS = {"file", "encoding", "delimiter", "quote", "date_format", "sheet", "columns", "rows",
               "description"}  # fmt: skip
_TARGET_KEYS = {"from", "columns", "date_format", "description"}
_FROM_KEYS = {"input", "inputs", "joins", "derive", "filter", "group_by"}
_JOIN_KEYS = {"input", "on", "type", "reason"}
_COLUMN_KEYS = {"column", "const", "expr", "date_format"}


def _check_keys(obj: Any, allowed: set[str], where: str) -> dict:
    if not isinstance(obj, dict):
        raise MappingError(f"{where} must be a mapping of keys to values, got {type(obj).__name__}")
    unknown = [k for k in obj if k not in allowed]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise MappingError(
            f"{where}: unknown key(s) {', '.join(hints)}; allowed: {', '.join(sorted(allowed))}"
        )
    return obj


def _check_name(name: Any, where: str) -> str:
    """Input, view, alias and derived names: letters (any script), digits and _."""
    if not isinstance(name, str) or not name.isidentifier():
        raise MappingError(f"{where}: {name!r} is not a valid name (letters, digits, _)")
    return name


def load_mapping(path: Path | str) -> dict:
    """Read and validate the structure of a mapping file (expressions are checked later)."""
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise MappingError(f"cannot read mapping {path}: {error}") from error
    except yaml.YAMLError as error:
        raise MappingError(f"{path}: not valid YAML ({error})") from error
    where = path.name
    _check_keys(spec, _TOP_KEYS, where)
    if not isinstance(spec.get("source"), str) or not _NAME.match(spec["source"]):
        raise MappingError(
            f"{where}: source: {spec.get('source')!r} must name the system in ASCII letters, "
            "digits and _ (it names the output files)"
        )
    defaults = _check_keys(spec.get("defaults") or {}, _DEFAULT_KEYS, f"{where}: defaults")
    params = _check_keys(
        spec.get("params") or {}, set(spec.get("params") or {}), f"{where}: params"
    )
    for name, value in params.items():
        _check_name(name, f"{where}: params")
        _literal_sql(value)
    inputs = spec.get("inputs") or {}
    _check_keys(inputs, set(inputs), f"{where}: inputs")
    for name, value in inputs.items():
        _check_name(name, f"{where}: inputs")
        if isinstance(value, str):
            inputs[name] = {"file": value}
            continue
        _check_keys(value, _INPUT_KEYS, f"{where}: inputs.{name}")
        if ("file" in value) == ("rows" in value):
            raise MappingError(f"{where}: inputs.{name} needs either file: (a pattern) or rows:")
        if "rows" in value and not isinstance(value.get("columns"), list):
            raise MappingError(f"{where}: inputs.{name}: rows: need columns: [names]")
    views = spec.get("views") or {}
    _check_keys(views, set(views), f"{where}: views")
    extracts = spec.get("extracts") or {}
    _check_keys(extracts, set(extracts), f"{where}: extracts")
    if not extracts:
        raise MappingError(f"{where}: no extracts: section, nothing to map")
    for kind, targets in (("views", views), ("extracts", extracts)):
        for name, target in targets.items():
            _check_name(name, f"{where}: {kind}")
            if kind == "views" and (name in inputs or name in EXTRACTS):
                raise MappingError(
                    f"{where}: view {name!r} has the name of an input or a contract extract"
                )
            parts = target if isinstance(target, list) else [target]
            if not parts:
                raise MappingError(f"{where}: {kind}.{name} is empty")
            for i, part in enumerate(parts):
                label = f"{where}: {kind}.{name}" + (f" part {i + 1}" if len(parts) > 1 else "")
                _check_target(part, label)
    return {
        "source": spec["source"],
        "description": spec.get("description", ""),
        "defaults": defaults,
        "params": params,
        "inputs": inputs,
        "views": views,
        "extracts": extracts,
    }


def _check_target(part: Any, where: str) -> None:
    _check_keys(part, _TARGET_KEYS, where)
    if "from" not in part:
        raise MappingError(f"{where}: needs from: (an input, a file pattern or inputs + joins)")
    if not isinstance(part.get("columns"), dict) or not part["columns"]:
        raise MappingError(f"{where}: needs columns: (target column: source column | {{...}})")
    source = part["from"]
    if isinstance(source, dict):
        _check_keys(source, _FROM_KEYS, f"{where}: from")
        if ("input" in source) == ("inputs" in source):
            raise MappingError(f"{where}: from: needs exactly one of input: or inputs:")
        if not isinstance(source.get("joins") or [], list):
            raise MappingError(f"{where}: from.joins must be a list of joins")
        for join in source.get("joins") or []:
            if isinstance(join, dict) and True in join and "on" not in join:
                join["on"] = join.pop(True)  # YAML 1.1 reads a bare `on:` key as true
            _check_keys(join, _JOIN_KEYS, f"{where}: from.joins")
            if not isinstance(join.get("on"), dict) or not join["on"]:
                raise MappingError(
                    f"{where}: from.joins: on: must map left columns to right columns"
                )
            if join.get("type", "inner") not in ("inner", "left"):
                raise MappingError(f"{where}: from.joins: type must be inner or left")
    elif not isinstance(source, str):
        raise MappingError(f"{where}: from: must be a name, a file pattern or a mapping")
    for column, value in part["columns"].items():
        if isinstance(value, dict):
            _check_keys(value, _COLUMN_KEYS, f"{where}: columns.{column}")
            if sum(k in value for k in ("column", "const", "expr")) != 1:
                raise MappingError(
                    f"{where}: columns.{column}: give exactly one of column:, const:, expr:"
                )
        elif value is not None and not isinstance(value, str):
            raise MappingError(
                f"{where}: columns.{column}: a source column name, {{const: ...}} or {{expr: ...}}"
            )


def parse_param(text: str) -> tuple[str, Any]:
    """``name=value`` from the command line; the value is read as YAML (0.55, true, text)."""
    name, sep, value = text.partition("=")
    if not sep or not _NAME.match(name.strip()):
        raise MappingError(f"--param needs NAME=VALUE, got {text!r}")
    return name.strip(), yaml.safe_load(value) if value.strip() else None


# ---- running a mapping -----------------------------------------------------------------------


@dataclass
class _Relation:
    """An input, view or extract loaded into a temp table, with its columns' expression types."""

    name: str
    table: str
    columns: dict[str, str]
    describe: str
    date_format: str | None = None
    kind: str = "input"  # input | view | extract


class _TargetFailed(Exception):
    pass


class _Reported(_TargetFailed):
    """The errors are already in the report."""


_GLOB_CHARS = set("*?[")


def _is_pattern(name: str) -> bool:
    return bool(_GLOB_CHARS & set(name)) or "." in name or "/" in name


def _duck_type(duck: str) -> str:
    t = duck.upper()
    if t.startswith(("DECIMAL", "DOUBLE", "FLOAT", "REAL", "INT", "BIGINT", "SMALLINT", "TINYINT")):
        return T_NUMBER
    if t.startswith(("HUGEINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT", "UHUGEINT")):
        return T_NUMBER
    if t == "DATE":
        return T_DATE
    if t.startswith("TIMESTAMP"):
        return T_TIMESTAMP
    if t == "BOOLEAN":
        return T_BOOL
    return T_TEXT


class _Engine:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        mapping: dict,
        from_dir: Path,
        scratch: Path,
    ):
        self.con = con
        self.mapping = mapping
        self.source = mapping["source"]
        self.defaults = mapping["defaults"]
        self.params = mapping["params"]
        self.from_dir = from_dir
        self.scratch = scratch
        self.inputs: dict[str, _Relation] = {}
        self.targets: dict[str, _Relation] = {}
        self.input_errors: dict[str, str] = {}
        self.failed: set[str] = set()

    # ---- inputs --------------------------------------------------------------------------
    def relation(self, ref: str) -> _Relation:
        """A declared input, a view, a mapped extract (``extract:NAME``) or a file pattern.

        A plain name means the declared input of that name, else the view, else the extract
        already mapped by this file; ``extract:NAME`` always means the mapped extract.
        """
        kind, name = _reference(ref, self.mapping)
        if kind in ("view", "extract"):
            if name in self.failed:
                raise _TargetFailed(f"{kind} {name!r} could not be built (see its errors)")
            if name not in self.targets:  # pragma: no cover (the build order prevents it)
                raise _TargetFailed(f"{kind} {name!r} is not built yet")
            return self.targets[name]
        if name in self.inputs:
            return self.inputs[name]
        if name in self.input_errors:
            raise _TargetFailed(self.input_errors[name])
        if kind == "input":
            spec = self.mapping["inputs"][name]
        elif kind == "file":
            spec = {"file": name}
        else:
            known = sorted(
                {*self.mapping["inputs"], *self.mapping["views"], *self.mapping["extracts"]}
            )
            close = difflib.get_close_matches(name, known, n=1)
            raise _TargetFailed(
                f"unknown input {name!r}"
                + (f" (did you mean {close[0]!r}?)" if close else "")
                + f"; declare it under inputs:, or give a file pattern; known: {', '.join(known)}"
            )
        try:
            relation = self._load_input(name, spec)
        except _TargetFailed as error:
            self.input_errors[name] = str(error)
            raise
        self.inputs[name] = relation
        return relation

    def _load_input(self, name: str, spec: dict) -> _Relation:
        table = _ident(f"input__{name}")
        if "rows" in spec:
            columns = [str(c) for c in spec["columns"]]
            self.con.execute(
                f"create or replace temp table {table} ("
                + ", ".join(f"{_ident(c)} varchar" for c in columns)
                + ")"
            )
            rows = spec.get("rows") or []
            for row in rows:
                if not isinstance(row, list | dict):
                    raise _TargetFailed(f"input {name}: every row must be a list or a mapping")
            values = [
                [
                    None if v is None else str(v)
                    for v in (row if isinstance(row, list) else [row.get(c) for c in columns])
                ]
                for row in rows
            ]
            if any(len(v) != len(columns) for v in values):
                raise _TargetFailed(f"input {name}: every row needs {len(columns)} values")
            if values:
                placeholders = ", ".join("?" for _ in columns)
                self.con.executemany(f"insert into {table} values ({placeholders})", values)
            return _Relation(
                name, table, dict.fromkeys(columns, T_TEXT), f"{name} (inline rows)", None, "input"
            )
        pattern = str(spec["file"])
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise _TargetFailed(f"input {name}: file pattern {pattern!r} must be inside --from")
        files = sorted(p for p in self.from_dir.glob(pattern) if p.is_file())
        if not files:
            raise _TargetFailed(f"input {name}: no file matches {pattern!r} in {self.from_dir}")
        suffixes = {_kind(p) for p in files}
        if len(suffixes) > 1:
            raise _TargetFailed(f"input {name}: {pattern!r} matches files of different types")
        kind = suffixes.pop()
        option = lambda key, default=None: spec.get(key, self.defaults.get(key, default))  # noqa: E731
        try:
            if kind == "csv":
                paths = [self._utf8_path(p, option("encoding", "auto"), name) for p in files]
                listed = "[" + ", ".join(_sql_string(str(p)) for p in paths) + "]"
                delimiter = _sql_string(option("delimiter", ","))
                quote = _sql_string(option("quote", '"'))
                self.con.execute(
                    f"create or replace temp table {table} as select * from read_csv({listed}, "
                    f"header = true, all_varchar = true, delim = {delimiter}, quote = {quote}, "
                    f"escape = {quote}, union_by_name = true, encoding = 'utf-8', "
                    "max_line_size = 10000000)"
                )
            elif kind == "parquet":
                listed = "[" + ", ".join(_sql_string(str(p)) for p in files) + "]"
                described = self.con.execute(
                    f"describe select * from read_parquet({listed}, union_by_name = true)"
                ).fetchall()
                selected = ", ".join(
                    f"cast({_ident(r[0])} as varchar) as {_ident(r[0])}" for r in described
                )
                self.con.execute(
                    f"create or replace temp table {table} as select {selected} "
                    f"from read_parquet({listed}, union_by_name = true)"
                )
            else:
                import pandas as pd

                frames = [
                    pd.read_excel(p, sheet_name=spec.get("sheet", 0), dtype=str) for p in files
                ]
                self.con.register("_cw_excel", pd.concat(frames, ignore_index=True))
                self.con.execute(f"create or replace temp table {table} as select * from _cw_excel")
                self.con.unregister("_cw_excel")
        except (duckdb.Error, OSError, ValueError, ImportError) as error:
            raise _TargetFailed(
                f"input {name}: cannot read {', '.join(p.name for p in files)} ({error})"
            ) from error
        described = self.con.execute(f"describe {table}").fetchall()
        for column, *_ in described:
            clean = column.strip().lstrip("\ufeff").strip()
            if clean != column:
                self.con.execute(f"alter table {table} rename {_ident(column)} to {_ident(clean)}")
        columns = {r[0]: T_TEXT for r in self.con.execute(f"describe {table}").fetchall()}
        shown = files[0].name if len(files) == 1 else f"{len(files)} files {pattern}"
        return _Relation(name, table, columns, f"{name} ({shown})", option("date_format"), "input")

    def _utf8_path(self, path: Path, encoding: str, name: str) -> Path:
        """The file itself when it is UTF-8, else a UTF-8 copy (GBK/GB18030 and other exports)."""
        encoding = (encoding or "auto").lower()
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        if encoding == "auto":
            decoder = codecs.getincrementaldecoder("utf-8")()
            try:
                with opener(path, "rb") as handle:
                    for block in iter(lambda: handle.read(1 << 22), b""):
                        decoder.decode(block)
                    decoder.decode(b"", final=True)
                return path
            except UnicodeDecodeError:
                encoding = "gb18030"  # a superset of GBK: what Chinese ERPs write when not UTF-8
        if encoding.replace("-", "").replace("_", "") in ("utf8", "utf8sig"):
            return path
        try:
            codecs.lookup(encoding)
        except LookupError as error:
            raise _TargetFailed(f"input {name}: unknown encoding {encoding!r}") from error
        target = self.scratch / f"{name}__{len(list(self.scratch.iterdir()))}__{path.stem}.csv"
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        try:
            with opener(path, "rb") as raw, target.open("w", encoding="utf-8") as out:
                for block in iter(lambda: raw.read(1 << 22), b""):
                    out.write(decoder.decode(block))
                out.write(decoder.decode(b"", final=True))
        except UnicodeDecodeError as error:
            raise _TargetFailed(
                f"input {name}: {path.name} is not {encoding.upper()} text ({error.reason} at "
                "some byte); set encoding: for this input"
            ) from error
        return target

    # ---- building one view or extract -------------------------------------------------------
    def build(self, name: str, kind: str, report: TargetReport) -> None:
        spec = (self.mapping["views"] if kind == "view" else self.mapping["extracts"])[name]
        parts = spec if isinstance(spec, list) else [spec]
        table = _ident(f"{kind}__{name}")
        selects = []
        for i, part in enumerate(parts):
            label = f"part {i + 1}: " if len(parts) > 1 else ""
            try:
                selects.append(self._compile_part(name, kind, part, report, label))
            except _Reported:
                pass
            except (_TargetFailed, MappingError) as error:
                report.add(ERROR, f"{label}{error}")
        if report.failed:
            self.failed.add(name)
            return
        try:
            self.con.execute(f"create or replace temp table {table} as {selects[0]}")
            for select in selects[1:]:
                self.con.execute(f"insert into {table} by name {select}")
        except duckdb.Error as error:
            report.add(ERROR, f"the mapping does not run: {_first_line(error)}")
            self.failed.add(name)
            return
        report.rows = self.con.execute(f"select count(*) from {table}").fetchone()[0]
        columns = {
            r[0]: (_duck_type(r[1]) if kind == "view" else T_TEXT)
            for r in self.con.execute(f"describe {table}").fetchall()
        }
        self.targets[name] = _Relation(name, table, columns, f"{kind} {name}", None, kind)
        if report.rows == 0:
            report.add(WARNING, "no rows")

    def _compile_part(
        self, name: str, kind: str, part: dict, report: TargetReport, label: str
    ) -> str:
        source = part["from"]
        if isinstance(source, str):
            source = {"input": source}
        if "input" in source:
            ref = str(source["input"])
            alias = ref.split(":")[-1]
            aliases = {alias if alias.isidentifier() else "src": ref}
        elif isinstance(source["inputs"], list):
            aliases = {str(r).split(":")[-1]: str(r) for r in source["inputs"]}
        elif isinstance(source["inputs"], dict):
            aliases = {str(a): str(r) for a, r in source["inputs"].items()}
        else:
            raise _TargetFailed("from.inputs must be a list of names or a mapping alias: name")
        if not aliases:
            raise _TargetFailed("from.inputs is empty")
        for alias in aliases:
            _check_name(alias, "alias")
        relations = {alias: self.relation(ref) for alias, ref in aliases.items()}
        joins = list(source.get("joins") or [])
        first = next(iter(aliases))
        not_joined = [a for a in aliases if a not in {str(j.get("input")) for j in joins}]
        if not_joined != [first] or len(joins) != len(aliases) - 1:
            raise _TargetFailed(
                f"every input but the first ({first}) must be joined exactly once "
                "(joins: - input: alias); not joined: "
                + (", ".join(a for a in not_joined if a != first) or "none")
            )
        used: set[tuple[str, str]] = set()
        derived: dict[str, str] = {}
        checks: list[_Check] = []
        target_format = part.get("date_format") or None

        def resolver(scope: list[str], flat: bool) -> Callable:
            def resolve(qualifier: str | None, column: str) -> tuple[str, str, str | None]:
                if qualifier is None and flat and column in derived:
                    return _ident(column), derived[column], None
                if qualifier is not None:
                    alias = _match(qualifier, scope)
                    if alias is None:
                        raise ExpressionError(
                            f"unknown input alias {qualifier!r} in {qualifier}.{column} "
                            f"(aliases here: {', '.join(scope)})"
                        )
                    candidates = [alias]
                else:
                    candidates = [a for a in scope if _match(column, relations[a].columns)]
                    if len(candidates) > 1:
                        raise ExpressionError(
                            f"column {column!r} is in several inputs ("
                            + ", ".join(f"{a}.{column}" for a in candidates)
                            + "): qualify it"
                        )
                if not candidates or not _match(column, relations[candidates[0]].columns):
                    pool = (
                        relations[candidates[0]].columns
                        if candidates
                        else [c for a in scope for c in relations[a].columns] + list(derived)
                    )
                    close = difflib.get_close_matches(column, pool, n=3)
                    where = (
                        relations[candidates[0]].describe
                        if candidates
                        else ", ".join(relations[a].describe for a in scope)
                    )
                    raise ExpressionError(
                        f"unknown column {column!r} in {where}"
                        + (f"; did you mean {', '.join(close)}?" if close else "")
                    )
                alias = candidates[0]
                real = _match(column, relations[alias].columns)
                used.add((alias, real))
                sql = _ident(f"{alias}.{real}") if flat else f"{_ident(alias)}.{_ident(real)}"
                return sql, relations[alias].columns[real], alias

            return resolve

        def date_format_for(column_format: str | None) -> Callable[[str | None], str | None]:
            def fmt(alias: str | None) -> str | None:
                input_format = relations[alias].date_format if alias else None
                return (
                    column_format
                    or input_format
                    or target_format
                    or self.defaults.get("date_format")
                )

            return fmt

        def compiler(scope: list[str], flat: bool, column_format: str | None = None, track=True):
            return _Compiler(
                resolver(scope, flat),
                self.params,
                date_format_for(column_format),
                checks if track else None,
            )

        # FROM and joins
        order = list(aliases)
        base = order[0]
        from_sql = f"{relations[base].table} as {_ident(base)}"
        scope = [base]
        join_counts = []
        for join in joins:
            alias = str(join["input"])
            if alias not in relations or alias in scope:
                raise _TargetFailed(f"joins: {alias!r} is not an input alias left to join")
            right_scope = [*scope, alias]
            conditions = []
            for left_text, right_text in join["on"].items():
                on_compiler = compiler(right_scope, flat=False, track=False)
                (left, right), _ = on_compiler.unify(
                    [parse_expression(str(left_text)), parse_expression(str(right_text))]
                )
                conditions.append(f"{left} = {right}")
            condition = " and ".join(conditions)
            how = join.get("type", "inner")
            unmatched = (
                f"select count(*) from {from_sql} where not exists (select 1 from "
                f"{relations[alias].table} as {_ident(alias)} where {condition})"
            )
            join_counts.append((unmatched, alias, how, join.get("reason"), join["on"]))
            from_sql += f" {how} join {relations[alias].table} as {_ident(alias)} on {condition}"
            scope = right_scope
        flat_columns = ", ".join(
            f"{_ident(a)}.{_ident(c)} as {_ident(f'{a}.{c}')}"
            for a in order
            for c in relations[a].columns
        )
        layer = f"select {flat_columns} from {from_sql}"
        # derived columns, each in its own layer so later ones may use earlier ones
        derive = source.get("derive") or {}
        if not isinstance(derive, dict):
            raise _TargetFailed("from.derive must map names to expressions")
        for derived_name, text in derive.items():
            _check_name(derived_name, "from.derive")
            node = parse_expression(str(text))
            if _is_aggregate(node):
                raise ExpressionError(f"derive {derived_name}: aggregates belong in columns:")
            sql, typ = compiler(scope, flat=True).compile(node)
            layer = f"select *, {sql} as {_ident(derived_name)} from ({layer})"
            derived[derived_name] = typ
        # filters, in order, each with the reason the report gives for the rows it drops
        filters = source.get("filter") or []
        if isinstance(filters, str | dict):
            filters = [filters]
        conditions = []
        for item in filters:
            if isinstance(item, dict):
                _check_keys(item, {"where", "reason"}, "from.filter")
                text, reason = item.get("where"), item.get("reason")
            else:
                text, reason = item, None
            node = parse_expression(str(text))
            if _is_aggregate(node):
                raise ExpressionError("a filter cannot use aggregates (filter a view instead)")
            condition = f"coalesce({compiler(scope, flat=True).typed(node, T_BOOL)}, false)"
            conditions.append((condition, str(text), reason))
        # output columns
        columns = part["columns"]
        select_items = []
        contract = EXTRACTS.get(name) if kind == "extract" else None
        if contract is not None:
            unknown = [c for c in columns if c not in contract.column_names]
            for column in unknown:
                close = difflib.get_close_matches(column, contract.column_names, n=1)
                report.add(
                    ERROR,
                    f"{label}{column!r} is not a column of the {name} contract"
                    + (f" (did you mean {close[0]!r}?)" if close else "")
                    + f"; its columns: {', '.join(contract.column_names)}",
                )
            missing = [c for c in contract.required_columns if c not in columns]
            if missing:
                report.add(
                    ERROR,
                    f"{label}required column(s) not mapped: {', '.join(missing)} "
                    "(map them to a source column, {const: ...} or {expr: ...})",
                )
            optional = [
                c.name for c in contract.columns if not c.required and c.name not in columns
            ]
            if optional:
                defaults = [
                    f"{c} (default {_default_text(contract.column(c).default)})"
                    if contract.column(c).default is not None
                    else c
                    for c in optional
                ]
                report.add(INFO, f"{label}optional columns not mapped: {', '.join(defaults)}")
        errors = []
        for target, value in columns.items():
            if not isinstance(target, str) or not target:
                errors.append(f"column name {target!r} is not text")
                continue
            if contract is not None and target not in contract.column_names:
                continue
            if value is None:
                value = {"const": None}
            if isinstance(value, str):
                value = {"column": value}
            try:
                column_compiler = compiler(scope, flat=True, column_format=value.get("date_format"))
                if "const" in value:
                    sql, typ = _literal_sql(value["const"])
                    if contract is not None:
                        _check_const(contract.column(target), value["const"])
                    node = None
                elif "column" in value:
                    node = _column_ref(str(value["column"]), scope, relations)
                    sql, typ = column_compiler.compile(node)
                else:
                    node = parse_expression(str(value["expr"]))
                    sql, typ = column_compiler.compile(node)
                if contract is not None:
                    sql = self._format(contract.column(target), sql, typ, node, column_compiler)
                select_items.append(f"{sql} as {_ident(target)}")
            except ExpressionError as error:
                errors.append(f"{target}: {error}")
        for error in errors:
            report.add(ERROR, f"{label}{error}")
        group_by = source.get("group_by") or []
        if isinstance(group_by, str):
            group_by = [group_by]
        group_sql = []
        for text in group_by:
            node = parse_expression(str(text))
            if _is_aggregate(node):
                raise ExpressionError(f"group_by {text!r}: cannot group by an aggregate")
            group_sql.append(compiler(scope, flat=True).compile(node)[0])
        if report.failed:
            raise _Reported()
        group_clause = f" group by {', '.join(group_sql)}" if group_sql else ""
        where = " and ".join(c for c, _, _ in conditions) or "true"
        final = f"select {', '.join(select_items)} from ({layer}) where {where}{group_clause}"
        # what the report says about this part
        try:
            self._report_part(report, label, layer, join_counts, conditions, checks)
        except duckdb.Error as error:
            report.add(ERROR, f"{label}the mapping does not run: {_first_line(error)}")
            raise _Reported() from error
        unused = []
        for alias in order:
            relation = relations[alias]
            if relation.kind != "input":
                continue
            rest = [c for c in relation.columns if (alias, c) not in used]
            if rest:
                unused.append(f"{alias}: {', '.join(rest)}")
        if unused:
            report.add(INFO, f"{label}source columns not used: " + "; ".join(unused))
        return final

    def _report_part(self, report, label, layer, join_counts, conditions, checks) -> None:
        for unmatched_sql, alias, how, reason, on in join_counts:
            count = self.con.execute(unmatched_sql).fetchone()[0]
            if not count:
                continue
            keys = ", ".join(f"{k} = {v}" for k, v in on.items())
            if how == "inner":
                report.add(
                    INFO if reason else WARNING,
                    f"{label}dropped {_rows(count)} with no match in {alias} ({keys})"
                    + (f": {reason}" if reason else ""),
                )
            else:
                report.add(
                    INFO,
                    f"{label}{_rows(count)} without a match in {alias} ({keys}); kept with its "
                    "columns empty" + (f": {reason}" if reason else ""),
                )
        selects = ["count(*)"]
        passed = "true"
        for condition, _, _ in conditions:
            selects.append(f"count(*) filter (where {passed} and not {condition})")
            passed = f"{passed} and {condition}"
        for check in checks:
            failed = f"{check.raw_sql} is not null and {check.parsed_sql} is null"
            selects.append(f"count(*) filter (where {failed})")
        counts = self.con.execute(f"select {', '.join(selects)} from ({layer})").fetchone()
        for (_, text, reason), dropped in zip(conditions, counts[1:], strict=False):
            if dropped:
                report.add(
                    INFO,
                    f"{label}dropped {dropped:,} of {counts[0]:,} rows by filter "
                    + (f"{reason!r} ({text})" if reason else f"({text})"),
                )
        seen = set()
        for check, failures in zip(checks, counts[1 + len(conditions) :], strict=False):
            key = (check.label, check.target)
            if failures and key not in seen:
                seen.add(key)
                report.add(
                    WARNING,
                    f"{label}{failures:,} non-empty value{'s' if failures != 1 else ''} of "
                    f"{check.label} cannot be read as {check.target}",
                )

    def _format(self, column: Column, sql: str, typ: str, node, compiler: _Compiler) -> str:
        """Contract-typed text for the CSV the loader reads.

        Source text that needs no conversion passes through unchanged, so the loader's own
        normalisation and quarantine rules apply to it; converted values are written in the
        contract's format, and a date that does not parse is written as it came (the loader then
        quarantines it as invalid_date with file and line, instead of it vanishing here).
        """
        if typ == T_NULL:
            return "cast(null as varchar)"
        if typ == T_TEXT and column.type != DATE:
            return sql
        if column.type == "text":
            return compiler.coerce(sql, typ, T_TEXT)
        if column.type == DATE:
            if typ == T_TEXT:
                parsed = compiler.coerce(sql, typ, T_DATE, node)
                return f"coalesce(strftime({parsed}, '%Y-%m-%d'), {sql})"
            if typ in (T_DATE, T_TIMESTAMP):
                return f"strftime(cast({sql} as date), '%Y-%m-%d')"
            if typ == T_NUMBER:  # an Excel serial day number: the loader reads those
                return compiler.coerce(sql, typ, T_TEXT)
        if column.type in (DECIMAL, INTEGER) and typ == T_NUMBER:
            decimal = (
                f"regexp_replace(regexp_replace(cast(cast(round({sql}, 4) as decimal(18, 4))"
                " as varchar), '0+$', ''), '\\.$', '')"
            )
            if column.type == INTEGER:
                return (
                    f"(case when {sql} = round({sql}) then cast(cast({sql} as hugeint) as varchar)"
                    f" else {decimal} end)"
                )
            return decimal
        if column.type == BOOLEAN and typ in (T_BOOL, T_NUMBER):
            return compiler.coerce(compiler.coerce(sql, typ, T_BOOL), T_BOOL, T_TEXT)
        raise ExpressionError(f"a {typ} value cannot fill the {column.type} column {column.name}")

    # ---- checks on what an extract will deliver ------------------------------------------
    def check_extract(self, name: str, report: TargetReport) -> None:
        contract = EXTRACTS[name]
        table = _ident(f"extract__{name}")
        columns = self.targets[name].columns
        required = [c for c in contract.required_columns if c in columns]
        if required:
            counts = self.con.execute(
                "select "
                + ", ".join(f"count(*) filter (where {_ident(c)} is null)" for c in required)
                + f" from {table}"
            ).fetchone()
            for column, count in zip(required, counts, strict=True):
                if count:
                    report.add(
                        WARNING,
                        f"{_rows(count)} with an empty {column}: the loader will quarantine "
                        "them (not_null)",
                    )
        keys = ", ".join(_ident(k) for k in contract.primary_key)
        duplicates = self.con.execute(
            f"select count(*) - (select count(*) from (select distinct {keys} from {table})) "
            f"from {table}"
        ).fetchone()[0]
        if duplicates:
            report.add(
                WARNING,
                f"{_rows(duplicates)} repeating the primary key "
                f"({', '.join(contract.primary_key)}) of another row: the loader keeps the last "
                "and quarantines the others (duplicate_key_in_file)",
            )

    def write_extract(self, name: str, to_dir: Path, report: TargetReport, dry_run: bool) -> None:
        contract = EXTRACTS[name]
        table = _ident(f"extract__{name}")
        folder = to_dir / name
        path = folder / f"{self.source}_{name}.csv"
        report.path = path
        if dry_run:
            return
        folder.mkdir(parents=True, exist_ok=True)
        columns = list(self.targets[name].columns)
        order = [_ident(k) for k in contract.primary_key if k in columns] + [
            _ident(c) for c in columns if c not in contract.primary_key
        ]
        temporary = folder / f".{path.name}.tmp"
        self.con.execute(
            f"copy (select * from {table} order by {', '.join(order)}) to "
            f"{_sql_string(str(temporary))} (format csv, header true, delimiter ',', quote '\"', "
            "escape '\"')"
        )
        if path.exists() and filecmp.cmp(temporary, path, shallow=False):
            temporary.unlink()  # same bytes: keep the old file so the refresh sees no change
        else:
            os.replace(temporary, path)
        report.written = True


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".xlsx", ".xlsm")):
        return "excel"
    return "csv"


def _match(name: str, options) -> str | None:
    """Exact name, else the one option equal ignoring case."""
    if name in options:
        return name
    folded = [o for o in options if o.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def _column_ref(text: str, scope: list[str], relations: dict[str, _Relation]) -> Col:
    """A plain ``column`` or ``alias.column`` mapping value (a name, not an expression).

    A header that literally contains the text wins; a name found in several inputs stays
    unqualified so the resolver reports it as ambiguous instead of picking one.
    """
    if any(_match(text, relations[a].columns) for a in scope):
        return Col(None, text)
    qualifier, dot, column = text.partition(".")
    if dot and _match(qualifier, scope):
        return Col(qualifier, column)
    return Col(None, text)


def _reference(ref: str, mapping: dict) -> tuple[str, str]:
    """(kind, name) of an input reference: input, view, extract, file or unknown."""
    if ref.startswith("extract:"):
        name = ref.split(":", 1)[1]
        if name not in mapping["extracts"]:
            raise _TargetFailed(f"{ref!r}: this mapping has no extract {name!r}")
        return "extract", name
    if ref in mapping["inputs"]:
        return "input", ref
    if ref in mapping["views"]:
        return "view", ref
    if ref in mapping["extracts"]:
        return "extract", ref
    if _is_pattern(ref):
        return "file", ref
    return "unknown", ref


def _check_const(column: Column, value: Any) -> None:
    if value is None:
        if column.required:
            raise ExpressionError(f"{column.name} is required: it cannot be the constant null")
        return
    if column.accepted_values and str(value).strip().lower() not in column.accepted_values:
        raise ExpressionError(
            f"constant {value!r} is not one of {', '.join(column.accepted_values)}"
        )


def _rows(count: int) -> str:
    return f"{count:,} row" + ("" if count == 1 else "s")


def _default_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:400]


def _dependencies(mapping: dict) -> dict[str, set[str]]:
    targets = {**mapping["views"], **mapping["extracts"]}
    deps = {}
    for name, spec in targets.items():
        refs = set()
        for part in spec if isinstance(spec, list) else [spec]:
            source = part["from"]
            if isinstance(source, str):
                refs.add(source)
            elif "input" in source:
                refs.add(str(source["input"]))
            else:
                inputs = source["inputs"]
                refs.update(
                    str(r) for r in (inputs.values() if isinstance(inputs, dict) else inputs)
                )
        found = set()
        for ref in refs:
            try:
                kind, target = _reference(ref, mapping)
            except _TargetFailed as error:
                raise MappingError(f"{name}: {error}") from error
            if kind in ("view", "extract"):
                found.add(target)
        if name in found:
            raise MappingError(f"{name!r} reads from itself")
        deps[name] = found
    return deps


def _build_order(mapping: dict) -> list[str]:
    deps = _dependencies(mapping)
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise MappingError(f"views/extracts depend on each other in a circle through {name!r}")
        visiting.add(name)
        for dep in sorted(deps[name]):
            visit(dep)
        visiting.discard(name)
        order.append(name)

    for name in deps:
        visit(name)
    return order


def run_import(
    mapping_path: Path | str,
    from_dir: Path | str,
    to_dir: Path | str,
    params: dict[str, Any] | None = None,
    dry_run: bool = False,
    threads: int | None = None,
) -> ImportReport:
    """Apply a mapping to the exports in ``from_dir``; write raw extracts under ``to_dir``.

    Raises MappingError when the mapping file is invalid or a folder is missing; everything else
    (unknown columns, unsafe expressions, required columns unmapped, unreadable inputs) is an
    error in the returned report and that extract is not written.
    """
    mapping_path, from_dir, to_dir = Path(mapping_path), Path(from_dir), Path(to_dir)
    mapping = load_mapping(mapping_path)
    for name, value in (params or {}).items():
        if name not in mapping["params"]:
            known = ", ".join(mapping["params"]) or "none"
            raise MappingError(f"unknown param {name!r} (this mapping declares: {known})")
        _literal_sql(value)
        mapping["params"][name] = value
    if not from_dir.is_dir():
        raise MappingError(f"--from folder {from_dir} does not exist")
    order = _build_order(mapping)
    for name in mapping["extracts"]:
        if name not in EXTRACTS:
            close = difflib.get_close_matches(name, EXTRACTS, n=1)
            raise MappingError(
                f"{mapping_path.name}: {name!r} is not a contract extract"
                + (f" (did you mean {close[0]!r}?)" if close else "")
                + f"; extracts: {', '.join(EXTRACTS)}"
            )
    report = ImportReport(mapping["source"], mapping_path, from_dir, to_dir, dry_run)
    report.not_mapped = [e for e in EXTRACTS if e not in mapping["extracts"]]
    with tempfile.TemporaryDirectory(prefix="cw-import-") as scratch:
        config: dict[str, Any] = {"temp_directory": str(Path(scratch) / "spill")}
        if threads:
            config["threads"] = threads
        con = duckdb.connect(config=config)
        try:
            con.execute(PARSING_MACROS)
            engine = _Engine(con, mapping, from_dir, Path(scratch))
            for name in order:
                kind = "view" if name in mapping["views"] else "extract"
                target = TargetReport(name, kind)
                report.targets.append(target)
                engine.build(name, kind, target)
                if kind == "extract" and not target.failed:
                    engine.check_extract(name, target)
                    engine.write_extract(name, to_dir, target, dry_run)
        finally:
            con.close()
    # extracts in contract order, views first, for a stable report
    rank = {n: i for i, n in enumerate([*mapping["views"], *EXTRACTS])}
    report.targets.sort(key=lambda t: (t.kind != "view", rank.get(t.name, 0)))
    return report


def write_report(report: ImportReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
