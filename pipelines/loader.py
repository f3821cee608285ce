"""Contract-enforcing load of one extract folder into ``raw.<extract>`` (DuckDB, SQL only).

Every file is read as text, parsed and checked column by column in DuckDB, so the work is
vectorised and spills to disk on large drops. Each row read ends in exactly one place: the raw
table (possibly superseded later by a newer file), or ``raw.quarantine`` with the file, line,
column and rule it broke. A file that cannot be read at all is rejected whole and the rows it
delivered before stay in place. The manifest ``raw.file_manifest`` remembers every file by size,
modification time and checksum, so unchanged files are never read twice.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.contract import (
    BOOLEAN,
    DATE,
    DECIMAL,
    EXTRACTS,
    INTEGER,
    SQL_TYPES,
    Column,
    Extract,
)

SUPPORTED_SUFFIXES = (".csv", ".csv.gz", ".parquet")
FALLBACK_ENCODING = "gb18030"  # a superset of GBK: what Chinese ERPs export when not UTF-8
PROVENANCE_COLUMNS = {
    "_source_file": "varchar",
    "_source_line": "bigint",
    "_file_modified_at": "timestamp",
    "_loaded_at": "timestamp",
}

# Parsing helpers, created on every connection. Each one accepts the contract's own format and a
# few unambiguous variants real exports produce (documented in docs/raw_rules.md); anything else
# yields null, which the caller turns into an invalid_<type> quarantine row.
PARSING_MACROS = r"""
create or replace macro cw_text(v) as nullif(trim(v), '');
create or replace macro cw_number_text(v) as
    regexp_replace(
        regexp_replace(
            regexp_replace(trim(v), '^\((.*)\)$', '-\1'),
            '^(-?)\s*(?:CNY|RMB|USD|EUR|HKD|[¥￥$€£])\s*', '\1'),
        '\s*(?:CNY|RMB|USD|EUR|HKD|元)$', '');
create or replace macro cw_decimal(v) as
    try_cast(
        case
            when regexp_full_match(cw_number_text(v), '-?\d{1,3}(,\d{3})+(\.\d+)?')
                then replace(cw_number_text(v), ',', '')
            else cw_number_text(v)
        end as decimal(18, 4));
create or replace macro cw_integer(v) as
    case
        when cw_decimal(v) is not null and cw_decimal(v) = round(cw_decimal(v))
            then cast(cw_decimal(v) as bigint)
    end;
create or replace macro cw_date(v) as
    coalesce(
        cast(try_strptime(trim(v), '%Y-%m-%d') as date),
        cast(try_strptime(trim(v), '%Y/%m/%d') as date),
        cast(try_strptime(trim(v), '%d.%m.%Y') as date),
        case
            when regexp_full_match(trim(v), '\d{5}(\.0+)?')
                and cast(cast(trim(v) as double) as integer) between 20000 and 80000
                then cast(date '1899-12-30' + cast(cast(trim(v) as double) as integer) as date)
        end,
        cast(try_cast(trim(v) as timestamp) as date));
create or replace macro cw_boolean(v) as
    case
        when lower(trim(v)) in ('true', 't', 'yes', 'y', '1') then true
        when lower(trim(v)) in ('false', 'f', 'no', 'n', '0') then false
    end;
"""

PARSERS = {DATE: "cw_date", INTEGER: "cw_integer", DECIMAL: "cw_decimal", BOOLEAN: "cw_boolean"}


class FileRejected(Exception):
    """The file cannot be read at all; the message says why, for the person who exported it."""


@dataclass
class FileOutcome:
    extract: str
    file_name: str
    status: str  # loaded | rejected | unchanged
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str = ""


@dataclass(frozen=True)
class SourceFile:
    path: Path
    size: int
    modified_ns: int

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def modified_at(self) -> datetime:
        return datetime.fromtimestamp(self.modified_ns / 1e9, UTC).replace(tzinfo=None)

    @property
    def order_key(self) -> tuple[int, str]:
        """Newest file wins: later modification time, then later name."""
        return (self.modified_ns, self.name)


def connect(
    path: Path | str,
    memory_limit: str | None = None,
    temp_dir: Path | None = None,
    threads: int | None = None,
    read_only: bool = False,
) -> duckdb.DuckDBPyConnection:
    config: dict[str, str | int | bool] = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if temp_dir:
        temp_dir.mkdir(parents=True, exist_ok=True)
        config["temp_directory"] = str(temp_dir)
    if threads:
        config["threads"] = threads
    return duckdb.connect(str(path), read_only=read_only, config=config)


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create schema raw with an (empty) table per extract, the quarantine and the manifest."""
    con.execute("create schema if not exists raw")
    for extract in EXTRACTS.values():
        columns = [f"{c.name} {SQL_TYPES[c.type]}" for c in extract.columns]
        columns += [f"{name} {sql_type}" for name, sql_type in PROVENANCE_COLUMNS.items()]
        con.execute(f"create table if not exists raw.{extract.name} ({', '.join(columns)})")
    con.execute(
        """
        create table if not exists raw.quarantine (
            extract varchar, file_name varchar, line bigint, column_name varchar,
            rule varchar, message varchar, raw_values varchar, quarantined_at timestamp
        )
        """
    )
    con.execute(
        """
        create table if not exists raw.file_manifest (
            extract varchar, file_name varchar, size_bytes bigint, modified_ns bigint,
            sha256 varchar, status varchar, rows_read bigint, rows_loaded bigint,
            rows_quarantined bigint, message varchar, processed_at timestamp,
            primary key (extract, file_name)
        )
        """
    )


def list_source_files(folder: Path) -> list[SourceFile]:
    if not folder.is_dir():
        return []
    files = []
    for path in folder.iterdir():
        if path.name.startswith(".") or not path.is_file():
            continue
        stat = path.stat()
        files.append(SourceFile(path, stat.st_size, stat.st_mtime_ns))
    return sorted(files, key=lambda f: f.order_key)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _open_bytes(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class ExtractLoader:
    """Loads one extract's folder into the raw schema of an open work database."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        extract: Extract,
        folder: Path,
        scratch_dir: Path,
        forced_encoding: str | None = None,
    ):
        self.con = con
        self.extract = extract
        self.folder = folder
        self.scratch_dir = scratch_dir
        self.forced_encoding = forced_encoding
        self.loaded_at = datetime.now(UTC).replace(tzinfo=None)
        con.execute(PARSING_MACROS)

    # ---- orchestration -------------------------------------------------------------------
    def run(self) -> list[FileOutcome]:
        known = {
            row[0]: row[1:]
            for row in self.con.execute(
                "select file_name, size_bytes, modified_ns, sha256, status from raw.file_manifest"
                " where extract = ?",
                [self.extract.name],
            ).fetchall()
        }
        files = list_source_files(self.folder)
        outcomes: list[FileOutcome] = []
        pending: list[tuple[SourceFile, str]] = []
        for source in files:
            previous = known.get(source.name)
            if previous and previous[0] == source.size and previous[1] == source.modified_ns:
                outcomes.append(FileOutcome(self.extract.name, source.name, "unchanged"))
                continue
            checksum = file_sha256(source.path)
            if previous and previous[2] == checksum:
                # Same bytes touched again: nothing to load, remember the new timestamp.
                self.con.execute(
                    "update raw.file_manifest set modified_ns = ?"
                    " where extract = ? and file_name = ?",
                    [source.modified_ns, self.extract.name, source.name],
                )
                outcomes.append(FileOutcome(self.extract.name, source.name, "unchanged"))
                continue
            pending.append((source, checksum))
        if not pending:
            return outcomes

        newest_known = max(
            ((v[1], k) for k, v in known.items() if v[3] == "loaded"), default=(-1, "")
        )
        redelivered = any(source.name in known for source, _ in pending)
        out_of_order = any(source.order_key < newest_known for source, _ in pending)
        if redelivered or out_of_order:
            outcomes = [o for o in outcomes if o.status != "unchanged"]
            outcomes += self._rebuild(files, {s.name: c for s, c in pending}, known)
        else:
            for source, checksum in pending:
                outcomes.append(self._append(source, checksum))
        return outcomes

    def _append(self, source: SourceFile, checksum: str) -> FileOutcome:
        """A file newer than everything loaded: its rows replace older rows with the same key."""
        try:
            outcome = self._stage_file(source)
        except FileRejected as rejection:
            return self._record_rejection(source, checksum, str(rejection))
        key_match = " and ".join(f"t.{k} = n.{k}" for k in self.extract.primary_key)
        self.con.execute(
            f"delete from raw.{self.extract.name} t using _cw_valid n where {key_match}"
        )
        self.con.execute(f"insert into raw.{self.extract.name} by name select * from _cw_valid")
        self._record_file(source, checksum, outcome)
        return outcome

    def _rebuild(
        self, files: list[SourceFile], checksums: dict[str, str], known: dict[str, tuple]
    ) -> list[FileOutcome]:
        """A file was re-delivered (or arrived out of order): rebuild the extract from its folder.

        Files that are unchanged are read again so rows a re-delivered file used to supersede
        come back; a file rejected now keeps the rows it delivered before.
        """
        name = self.extract.name
        self.con.execute(
            f"create or replace temp table _cw_all as select * from raw.{name} limit 0"
        )
        outcomes = []
        for source in files:
            checksum = checksums.get(source.name) or known[source.name][2]
            if source.name not in checksums and known[source.name][3] == "rejected":
                outcomes.append(FileOutcome(name, source.name, "unchanged"))
                continue
            try:
                outcome = self._stage_file(source)
            except FileRejected as rejection:
                outcomes.append(self._record_rejection(source, checksum, str(rejection)))
                self.con.execute(
                    f"insert into _cw_all select * from raw.{name} where _source_file = ?",
                    [source.name],
                )
                continue
            self.con.execute("insert into _cw_all by name select * from _cw_valid")
            if source.name in checksums:
                self._record_file(source, checksum, outcome)
                outcomes.append(outcome)
            else:
                # Re-read only to restore superseded rows: its quarantine rows are already stored.
                self.con.execute(
                    "delete from raw.quarantine where extract = ? and file_name = ?"
                    " and quarantined_at = ?",
                    [name, source.name, self.loaded_at],
                )
                outcomes.append(FileOutcome(name, source.name, "unchanged"))
        keys = ", ".join(self.extract.primary_key)
        self.con.execute(f"delete from raw.{name}")
        self.con.execute(
            f"""
            insert into raw.{name}
            select * from _cw_all
            qualify row_number() over (
                partition by {keys}
                order by _file_modified_at desc, _source_file desc, _source_line desc
            ) = 1
            """
        )
        return outcomes

    # ---- bookkeeping ------------------------------------------------------------------------
    def _record_file(self, source: SourceFile, checksum: str, outcome: FileOutcome) -> None:
        self.con.execute(
            "insert or replace into raw.file_manifest values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                self.extract.name,
                source.name,
                source.size,
                source.modified_ns,
                checksum,
                outcome.status,
                outcome.rows_read,
                outcome.rows_loaded,
                outcome.rows_quarantined,
                outcome.message,
                self.loaded_at,
            ],
        )

    def _record_rejection(self, source: SourceFile, checksum: str, reason: str) -> FileOutcome:
        outcome = FileOutcome(self.extract.name, source.name, "rejected", message=reason)
        self._record_file(source, checksum, outcome)
        return outcome

    # ---- reading one file --------------------------------------------------------------------
    def _stage_file(self, source: SourceFile) -> FileOutcome:
        """Parse and check one file into temp table _cw_valid; quarantine what breaks a rule."""
        self.con.execute(
            "delete from raw.quarantine where extract = ? and file_name = ?",
            [self.extract.name, source.name],
        )
        if source.size == 0:
            raise FileRejected(f"{source.name}: the file is empty (0 bytes), not even a header row")
        lower_name = source.name.lower()
        if lower_name.endswith(".parquet"):
            header, rejects = self._read_parquet(source)
        elif lower_name.endswith((".csv", ".csv.gz")):
            header, rejects = self._read_csv(source)
        else:
            raise FileRejected(
                f"{source.name}: unsupported file type; an extract folder holds only "
                f"{', '.join(SUPPORTED_SUFFIXES)} files"
            )
        return self._check_rows(source, header, rejects)

    def _check_header(self, source: SourceFile, header: list[str]) -> list[str]:
        normalised = [h.strip().lower() for h in header]
        duplicates = sorted({h for h in normalised if normalised.count(h) > 1 and h})
        if duplicates:
            raise FileRejected(f"{source.name}: column(s) {', '.join(duplicates)} appear twice")
        missing = [c for c in self.extract.required_columns if c not in normalised]
        if missing:
            hint = ""
            if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
                hint = " (the header looks delimited by ';', tab or '|'; the contract uses ',')"
            raise FileRejected(
                f"{source.name}: missing required column(s) {', '.join(missing)}{hint}; "
                f"header line 1 has: {', '.join(header)[:300]}"
            )
        return normalised

    def _read_parquet(self, source: SourceFile) -> tuple[list[str], list[tuple]]:
        path = _sql_string(str(source.path))
        try:
            described = self.con.execute(f"describe select * from read_parquet({path})").fetchall()
        except duckdb.Error as error:
            raise FileRejected(f"{source.name}: not a readable Parquet file ({error})") from error
        header = self._check_header(source, [row[0] for row in described])
        selected = ", ".join(
            f'cast("{orig}" as varchar) as c{i}' for i, orig in enumerate(r[0] for r in described)
        )
        try:
            self.con.execute(
                f"""
                create or replace temp table _cw_parsed as
                select row_number() over () as _record, 1 as _extra_lines, {selected}
                from read_parquet({path})
                """
            )
        except duckdb.Error as error:
            raise FileRejected(f"{source.name}: Parquet data cannot be read ({error})") from error
        self.con.execute(
            "create or replace temp table _cw_lines as "
            "select _record, _record as _line from _cw_parsed"
        )
        return header, []

    def _read_header(self, source: SourceFile, encoding: str) -> list[str]:
        with _open_bytes(source.path) as handle:
            try:
                head = handle.read(1 << 16)
            except (OSError, EOFError) as error:
                raise FileRejected(f"{source.name}: cannot be read ({error})") from error
        if b"\x00" in head:
            raise FileRejected(
                f"{source.name}: contains NUL bytes: binary data, not a CSV text file"
            )
        text = head.decode(encoding, errors="replace").lstrip("\ufeff")
        first_line = next(iter(csv.reader(io.StringIO(text.splitlines()[0] if text else ""))), [])
        if not first_line or all(not h.strip() for h in first_line):
            raise FileRejected(f"{source.name}: line 1 holds no header (column names)")
        return first_line

    def _read_csv(self, source: SourceFile) -> tuple[list[str], list[tuple]]:
        encoding = self.forced_encoding or "utf-8"
        path = source.path
        if encoding.lower().replace("-", "") not in ("utf8", "utf8sig"):
            path = self._transcode(source, encoding)
        header = self._check_header(source, self._read_header(source, encoding))
        rejects = self._parse_csv(source, path, len(header))
        if any(r[1] == "INVALID ENCODING" for r in rejects) and not self.forced_encoding:
            path = self._transcode(source, FALLBACK_ENCODING)
            rejects = self._parse_csv(source, path, len(header))
        return header, rejects

    def _transcode(self, source: SourceFile, encoding: str) -> Path:
        """Write a UTF-8 copy of a file in another encoding (GBK/GB18030 exports) for DuckDB."""
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        target = self.scratch_dir / f"{self.extract.name}__{source.name}.utf8.csv"
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        offset = 0
        try:
            with _open_bytes(source.path) as raw, target.open("w", encoding="utf-8") as out:
                for block in iter(lambda: raw.read(1 << 22), b""):
                    out.write(decoder.decode(block))
                    offset += len(block)
                out.write(decoder.decode(b"", final=True))
        except UnicodeDecodeError as error:
            raise FileRejected(
                f"{source.name}: neither UTF-8 nor {encoding.upper()} (undecodable bytes near "
                f"byte {offset + error.start}); export as UTF-8 or set CW_CSV_ENCODING_"
                f"{self.extract.name.upper()}"
            ) from error
        except (OSError, EOFError) as error:
            raise FileRejected(f"{source.name}: cannot be read ({error})") from error
        return target

    def _parse_csv(self, source: SourceFile, path: Path, width: int) -> list[tuple]:
        columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width)) + "}"
        self.con.execute("drop table if exists _cw_reject_errors")
        self.con.execute("drop table if exists _cw_reject_scans")
        try:
            self.con.execute(
                f"""
                create or replace temp table _cw_parsed as
                select row_number() over () as _record, *
                from read_csv({_sql_string(str(path))}, header = true, auto_detect = false,
                    columns = {columns}, delim = ',', quote = '"', escape = '"',
                    encoding = 'utf-8', store_rejects = true,
                    rejects_table = '_cw_reject_errors', rejects_scan = '_cw_reject_scans',
                    max_line_size = 10000000)
                """
            )
        except duckdb.Error as error:
            raise FileRejected(f"{source.name}: not a readable CSV file ({error})") from error
        rejects = self.con.execute(
            "select line, error_type, column_name, csv_line, error_message "
            "from _cw_reject_errors order by line"
        ).fetchall()
        return self._number_lines(width, rejects)

    def _number_lines(self, width: int, rejects: list[tuple]) -> list[tuple]:
        """Give every parsed record the physical line it starts on (header = line 1).

        DuckDB returns parsed records in file order and reports rejected records by record
        number (+1 for the header), not by physical line. Record numbers are merged first, then
        the newlines quoted inside earlier records are added. Returns the rejects with physical
        lines.
        """
        values = ", ".join(f"coalesce(c{i}, '')" for i in range(width))
        has_multiline = self.con.execute(
            f"select coalesce(bool_or(contains(concat({values}), chr(10))), false) from _cw_parsed"
        ).fetchone()[0]
        newlines = (
            f"length(concat({values})) - length(replace(concat({values}), chr(10), ''))"
            if has_multiline
            else "0"
        )
        # The k-th rejected record (0-based, by record number R_k) comes before the parsed record
        # numbered r (counting parsed records only) exactly when R_k - k <= r.
        reject_records = sorted({line - 1 for line, *_ in rejects})
        shifted = [record - k for k, record in enumerate(reject_records)]
        record = (
            f"_record + (select count(*) from unnest({shifted}::bigint[]) s(a)"
            " where s.a <= _record)"
            if shifted
            else "_record"
        )
        self.con.execute(
            f"""
            create or replace temp table _cw_lines as
            select _record, {record} as _file_record,
                sum({newlines}) over (order by _record) as _newlines_through,
                {newlines} as _newlines
            from _cw_parsed
            """
        )
        self.con.execute(
            "create or replace temp table _cw_lines as select _record, "
            "1 + _file_record + _newlines_through - _newlines as _line, _file_record, "
            "_newlines_through from _cw_lines"
        )
        grouped: dict[int, list[tuple]] = {}
        for reject in rejects:
            grouped.setdefault(reject[0], []).append(reject)
        physical = []
        for line, group in sorted(grouped.items()):
            before = self.con.execute(
                "select coalesce(max(_newlines_through), 0) from _cw_lines where _file_record < ?",
                [line - 1],
            ).fetchone()[0]
            columns = ", ".join(sorted({g[2] for g in group if g[2]})) or None
            error_type, csv_line = group[0][1], group[0][3]
            message = "; ".join(dict.fromkeys(f"{g[1].lower()}: {g[4]}" for g in group))
            physical.append((line + before, error_type, columns, csv_line, message))
        return physical

    # ---- checking rows --------------------------------------------------------------------
    def _check_rows(
        self, source: SourceFile, header: list[str], rejects: Iterable[tuple]
    ) -> FileOutcome:
        extract = self.extract
        position = {name: i for i, name in enumerate(header)}
        parsed_columns, violations = [], []
        for column in extract.columns:
            raw = f"c{position[column.name]}" if column.name in position else "null"
            parsed_columns.append(f"{self._parse_expression(column, raw)} as {column.name}")
            violations += self._violations(column, raw)
        for rule in extract.row_rules:
            later, earlier = (
                self._parse_expression(extract.column(n), self._raw(n, position))
                for n in (rule.later, rule.earlier)
            )
            violations.append(
                (
                    f"{later} < {earlier}",
                    rule.later,
                    rule.name,
                    f"'{rule.later} ' || cast({later} as varchar) || ' is before {rule.earlier} '"
                    f" || cast({earlier} as varchar)",
                )
            )
        violation_case = (
            "case "
            + " ".join(
                f"when {cond} then struct_pack(column_name := '{col}', rule := '{rule}', "
                f"message := {message})"
                for cond, col, rule, message in violations
            )
            + " end"
            if violations
            else "null"
        )
        raw_values = (
            "to_json(map(["
            + ", ".join(_sql_string(h) for h in header)
            + "], ["
            + ", ".join(f"c{i}" for i in range(len(header)))
            + "]))"
        )
        self.con.execute(
            f"""
            create or replace temp table _cw_checked as
            select l._line as _source_line, {", ".join(parsed_columns)},
                {violation_case} as _violation, {raw_values} as _raw_values
            from _cw_parsed p join _cw_lines l using (_record)
            """
        )
        self._check_foreign_keys()
        self._check_duplicates_in_file()
        quarantined_at = self.loaded_at
        self.con.execute(
            """
            insert into raw.quarantine
            select ?, ?, _source_line, _violation.column_name, _violation.rule,
                _violation.message, _raw_values, ?
            from _cw_checked where _violation is not null
            """,
            [extract.name, source.name, quarantined_at],
        )

        def header_names(placeholders: str | None) -> str | None:
            if not placeholders:
                return None
            return ", ".join(header[int(p.strip()[1:])] for p in placeholders.split(","))

        malformed = [
            (
                extract.name,
                source.name,
                line,
                header_names(columns),
                "malformed_row",
                message,
                csv_line,
                quarantined_at,
            )
            for line, _error_type, columns, csv_line, message in rejects
        ]
        if malformed:
            self.con.executemany(
                "insert into raw.quarantine values (?, ?, ?, ?, ?, ?, ?, ?)", malformed
            )
        self.con.execute(
            f"""
            create or replace temp table _cw_valid as
            select {", ".join(extract.column_names)}, ? as _source_file, _source_line,
                ? as _file_modified_at, ? as _loaded_at
            from _cw_checked where _violation is null
            """,
            [source.name, source.modified_at, self.loaded_at],
        )
        parsed, violating = self.con.execute(
            "select count(*), count(_violation) from _cw_checked"
        ).fetchone()
        outcome = FileOutcome(
            extract.name,
            source.name,
            "loaded",
            rows_read=parsed + len(malformed),
            rows_loaded=parsed - violating,
            rows_quarantined=violating + len(malformed),
        )
        if parsed == 0 and not malformed:
            outcome.message = "header only: no data rows"
        return outcome

    @staticmethod
    def _raw(name: str, position: dict[str, int]) -> str:
        return f"c{position[name]}" if name in position else "null"

    @staticmethod
    def _parse_expression(column: Column, raw: str) -> str:
        sql_type = SQL_TYPES[column.type]
        if column.type in PARSERS:
            parsed = f"{PARSERS[column.type]}({raw})"
        elif column.accepted_values:
            parsed = f"lower(cw_text({raw}))"
        else:
            parsed = f"cw_text({raw})"
        if column.default is not None:
            default = column.default
            literal = _sql_string(default) if isinstance(default, str) else str(default).lower()
            parsed = f"coalesce({parsed}, cast({literal} as {sql_type}))"
        return f"cast({parsed} as {sql_type})"

    def _violations(self, column: Column, raw: str) -> list[tuple[str, str, str, str]]:
        """(condition, column, rule, message SQL) for every rule of one column, in check order."""
        name, value = column.name, f"cw_text({raw})"
        shown = f"coalesce({value}, '')"
        found = []
        if column.required:
            found.append((f"{value} is null", name, "not_null", f"'{name} is required'"))
        if column.type in PARSERS:
            found.append(
                (
                    f"{value} is not null and {PARSERS[column.type]}({raw}) is null",
                    name,
                    f"invalid_{column.type}",
                    f"'{name} is not a valid {column.type}: ' || {shown}",
                )
            )
        parsed = f"{PARSERS.get(column.type, 'cw_text')}({raw})"
        if column.accepted_values:
            allowed = ", ".join(_sql_string(v) for v in column.accepted_values)
            found.append(
                (
                    f"{value} is not null and lower({value}) not in ({allowed})",
                    name,
                    "not_accepted_value",
                    f"'{name} must be one of {', '.join(column.accepted_values)}: ' || {shown}",
                )
            )
        if column.pattern:
            found.append(
                (
                    f"{value} is not null and not regexp_full_match({value}, "
                    f"{_sql_string(column.pattern.strip('^$'))})",
                    name,
                    "invalid_format",
                    f"'{name} does not match {column.pattern}: ' || {shown}",
                )
            )
        if column.non_zero:
            found.append((f"{parsed} = 0", name, "zero_value", f"'{name} must not be zero'"))
        if column.min_value is not None:
            if column.min_exclusive:
                found.append(
                    (
                        f"{parsed} <= {column.min_value}",
                        name,
                        "not_positive",
                        f"'{name} must be greater than {column.min_value:g}: ' || {shown}",
                    )
                )
            elif column.max_value is None:
                found.append(
                    (
                        f"{parsed} < {column.min_value}",
                        name,
                        "negative_value",
                        f"'{name} must not be negative: ' || {shown}",
                    )
                )
        if column.max_value is not None:
            low, high = column.min_value, column.max_value
            found.append(
                (
                    f"{parsed} not between {low} and {high}",
                    name,
                    "out_of_range",
                    f"'{name} must be between {low:g} and {high:g}: ' || {shown}",
                )
            )
        return found

    def _check_foreign_keys(self) -> None:
        for fk in self.extract.foreign_keys:
            target = EXTRACTS[fk.extract]
            self.con.execute(
                f"""
                update _cw_checked c
                set _violation = struct_pack(
                    column_name := '{fk.column}', rule := '{fk.rule}',
                    message := '{fk.column} ' || c.{fk.column} || ' not found in {fk.extract}')
                where c._violation is null and not exists (
                    select 1 from raw.{fk.extract} t
                    where t.{target.primary_key[0]} = c.{fk.column})
                """
            )

    def _check_duplicates_in_file(self) -> None:
        """The same key twice in one file: the later line wins, earlier ones are quarantined."""
        keys = self.extract.primary_key
        partition = ", ".join(keys)
        duplicated = self.con.execute(
            f"select count(*) from (select 1 from _cw_checked where _violation is null "
            f"group by {partition} having count(*) > 1)"
        ).fetchone()[0]
        if not duplicated:
            return
        shown = " || '/' || ".join(f"cast(c.{k} as varchar)" for k in keys)
        self.con.execute(
            f"""
            update _cw_checked c
            set _violation = struct_pack(
                column_name := '{partition}', rule := 'duplicate_key_in_file',
                message := 'key ' || {shown} || ' appears again later in the file (line '
                    || d._last_line || ' wins)')
            from (
                select {partition}, _source_line,
                    max(_source_line) over (partition by {partition}) as _last_line
                from _cw_checked where _violation is null
            ) d
            where c._violation is null
                and {" and ".join(f"c.{k} = d.{k}" for k in keys)}
                and c._source_line = d._source_line and d._source_line < d._last_line
            """
        )


def load_extract(
    con: duckdb.DuckDBPyConnection,
    extract_name: str,
    raw_dir: Path,
    scratch_dir: Path,
    forced_encoding: str | None = None,
) -> list[FileOutcome]:
    """Load every new or changed file of one extract; return one outcome per file."""
    ensure_raw_schema(con)
    loader = ExtractLoader(
        con, EXTRACTS[extract_name], raw_dir / extract_name, scratch_dir, forced_encoding
    )
    outcomes = loader.run()
    for temp in ("_cw_parsed", "_cw_checked", "_cw_valid", "_cw_all", "_cw_lines"):
        con.execute(f"drop table if exists {temp}")
    for leftover in scratch_dir.glob(f"{extract_name}__*.utf8.csv"):
        os.remove(leftover)
    return outcomes
