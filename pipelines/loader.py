"""Contract-enforcing load of one extract folder into ``raw.<extract>`` (DuckDB, SQL only).

Every file is read as text, parsed and checked column by column in DuckDB, so the work is
vectorised and spills to disk on large drops; Parquet columns already typed as the contract's
date, number or boolean are checked as they are (NATIVE_PARQUET_TYPES). Each row read ends in
exactly one place: the raw table (possibly superseded later by a newer file), or
``raw.quarantine`` with the file, line, column and rule it broke. A file that cannot be read at
all is rejected whole and the rows it delivered before stay in place. The manifest
``raw.file_manifest`` remembers every file by size, modification time and checksum, so unchanged
files are never read twice.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import os
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
MAX_LINE_BYTES = 10_000_000  # a longer line is quarantined as malformed_row
RAW_VALUE_CHARS = 1000  # raw.quarantine keeps this much of each value (the file has the rest)
# Written into every empty line before DuckDB reads a file: DuckDB skips empty lines without
# counting them, which would shift the line numbers of every later row.
BLANK_LINE_MARK = "\x1e<cw:empty-line>\x1e"
# What a file that is not CSV text most likely is, for the rejection message.
BINARY_SIGNATURES = (
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook?); save the sheet as CSV UTF-8"),
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook (.xls); save the sheet as CSV UTF-8"),
    (b"\x1f\x8b", "gzip-compressed data; name the file .csv.gz"),
    (b"PAR1", "a Parquet file; name the file .parquet"),
    (b"%PDF", "a PDF document"),
)
PROVENANCE_COLUMNS = {
    "_source_file": "varchar",
    "_source_line": "bigint",
    "_file_modified_at": "timestamp",
    "_loaded_at": "timestamp",
}

# Parsing helpers, created on every connection. Each one accepts the contract's own format and a
# few unambiguous variants real exports produce (documented in docs/raw_rules.md); anything else
# yields null, which the caller turns into an invalid_<type> quarantine row. Every date format
# with the year first requires four year digits, so `24-03-05` is never read as the year 24.
PARSING_MACROS = r"""
create or replace macro cw_text(v) as nullif(nullif(nullif(trim(v), ''), 'NULL'), '\N');
create or replace macro cw_number_text(v) as
    regexp_replace(
        regexp_replace(
            regexp_replace(cw_text(v), '^\((.*)\)$', '-\1'),
            '^(-?)\s*(?:CNY|RMB|USD|EUR|HKD|HK\$|[¥￥$€£])\s*', '\1'),
        '\s*(?:CNY|RMB|USD|EUR|HKD|元)$', '');
create or replace macro cw_decimal(v) as
    case
        when cw_text(v) is null then null
        else coalesce(
            try_cast(cw_text(v) as decimal(18, 4)),
            try_cast(
                case
                    when regexp_full_match(cw_number_text(v), '-?\d{1,3}(,\d{3})+(\.\d+)?')
                        then replace(cw_number_text(v), ',', '')
                    else cw_number_text(v)
                end as decimal(18, 4)))
    end;
create or replace macro cw_integer(v) as
    case
        when regexp_full_match(cw_text(v), '-?\d{1,18}') then cast(cw_text(v) as bigint)
        when cw_decimal(v) = round(cw_decimal(v)) then cast(cw_decimal(v) as bigint)
    end;
create or replace macro cw_other_date(d) as
    case
        when regexp_full_match(d, '\d{4}[/.]\d{1,2}[/.]\d{1,2}') then coalesce(
            cast(try_strptime(d, '%Y/%m/%d') as date),
            cast(try_strptime(d, '%Y.%m.%d') as date))
        when regexp_full_match(d, '\d{1,2}\.\d{1,2}\.\d{4}')
            then cast(try_strptime(d, '%d.%m.%Y') as date)
        when regexp_full_match(d, '\d{4}年\d{1,2}月\d{1,2}日')
            then cast(try_strptime(d, '%Y年%m月%d日') as date)
        when regexp_full_match(d, '\d{8}') then cast(try_strptime(d, '%Y%m%d') as date)
        when regexp_full_match(d, '\d{1,2}-[A-Za-z]{3}-\d{4}')
            then cast(try_strptime(d, '%d-%b-%Y') as date)
        when regexp_full_match(d, '\d{5}(\.\d+)?')
            and floor(cast(d as double)) between 20000 and 80000
            then cast(date '1899-12-30' + cast(floor(cast(d as double)) as integer) as date)
        when regexp_full_match(d, '\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*')
            and try_cast(d as timestamp) is not null
            then cast(try_strptime(left(d, 10), '%Y-%m-%d') as date)
    end;
create or replace macro cw_date(v) as
    case
        when cw_text(v) is null then null
        when regexp_full_match(cw_text(v), '\d{4}-\d{1,2}-\d{1,2}')
            then cast(try_strptime(cw_text(v), '%Y-%m-%d') as date)
        else cw_other_date(cw_text(v))
    end;
create or replace macro cw_boolean(v) as
    case
        when lower(cw_text(v)) in ('true', 't', 'yes', 'y', '1') then true
        when lower(cw_text(v)) in ('false', 'f', 'no', 'n', '0') then false
    end;
create or replace macro cw_currency_marker(v) as
    nullif(regexp_extract(cw_text(v), '(CNY|RMB|USD|EUR|HKD|HK\$|[¥￥$€£元])', 1), '');
create or replace macro cw_marker_currencies(m) as
    case
        when m in ('CNY', 'RMB', '元', '￥') then ['CNY']
        when m = '¥' then ['CNY', 'JPY']
        when m in ('HKD', 'HK$') then ['HKD']
        when m = 'USD' then ['USD']
        when m = '$' then ['USD', 'HKD', 'SGD', 'AUD', 'CAD', 'NZD', 'TWD']
        when m in ('EUR', '€') then ['EUR']
        when m = '£' then ['GBP']
    end;
"""

PARSERS = {DATE: "cw_date", INTEGER: "cw_integer", DECIMAL: "cw_decimal", BOOLEAN: "cw_boolean"}

# Parquet column types read as they are for a contract type, instead of going through text: a
# typed value has no spelling to parse, only a range to fit (try_cast; out of range is
# invalid_<type> as in text). Floating point stays on the text path, whose decimal rounding of a
# printed float it would not match; so do columns with accepted values or a pattern.
_WHOLE_NUMBERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT") + tuple(
    f"U{name}" for name in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
)
NATIVE_PARQUET_TYPES = {
    DATE: ("DATE",),
    INTEGER: _WHOLE_NUMBERS,
    DECIMAL: (*_WHOLE_NUMBERS, "DECIMAL"),
    BOOLEAN: ("BOOLEAN",),
}


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


class _BlankLineMarker:
    """Streams a file's bytes, writing BLANK_LINE_MARK into every empty line.

    Works on whole lines (a chunk is cut after its last line break), so a marker is never
    placed between the CR and LF of one line break. Classic-Mac files (CR only) are handled
    too; the line-break style is taken from the start of the file.
    """

    def __init__(self) -> None:
        self.carry = b""
        self.newline: bytes | None = None
        self.marked = False
        self.lines = 0

    def feed(self, data: bytes, final: bool = False) -> bytes:
        data = self.carry + data
        if self.newline is None:
            if b"\n" in data:
                self.newline = b"\n"
            elif b"\r" in data and (final or len(data) > 1 << 16):
                self.newline = b"\r"
            elif not final:
                self.carry = data
                return b""
        cut = len(data) if final or self.newline is None else data.rfind(self.newline) + 1
        piece, self.carry = data[:cut], data[cut:]
        if not piece:
            return piece
        mark = BLANK_LINE_MARK.encode()
        marked = piece
        if self.newline == b"\r":
            pairs = [b"\r\r"]
            starts = (b"\r",)
        else:
            pairs = [b"\n\n", b"\n\r\n"]
            starts = (b"\n", b"\r\n")
        for pair in pairs:
            # Twice: a run of empty lines overlaps, and one pass marks every other line.
            for _ in range(2):
                marked = marked.replace(pair, pair[:1] + mark + pair[1:])
        if self.lines and marked.startswith(starts):  # an empty line right after the last cut
            marked = mark + marked
        self.marked = self.marked or len(marked) != len(piece)
        self.lines += piece.count(self.newline or b"\n")
        return marked


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
                # An unchanged file is read again only to restore superseded rows: its
                # quarantine entries are already stored and stay as they are.
                outcome = self._stage_file(source, quarantine=source.name in checksums)
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
    def _stage_file(self, source: SourceFile, quarantine: bool = True) -> FileOutcome:
        """Parse and check one file into temp table _cw_valid; quarantine what breaks a rule.

        A file that cannot be read raises FileRejected before anything is written, so the rows
        and the quarantine entries its earlier version delivered stay in place. ``quarantine``
        is false when an unchanged file is only read again to restore superseded rows: its
        quarantine entries are already stored.
        """
        if source.size == 0:
            raise FileRejected(f"{source.name}: the file is empty (0 bytes), not even a header row")
        self.con.execute(
            "create or replace temp table _cw_malformed"
            " (_line bigint, column_name varchar, message varchar, raw_line varchar)"
        )
        self._has_nul = False
        self._native_columns: set[int] = set()
        lower_name = source.name.lower()
        if lower_name.endswith(".parquet"):
            header = self._read_parquet(source)
        elif lower_name.endswith((".csv", ".csv.gz")):
            header = self._read_csv(source)
        else:
            raise FileRejected(
                f"{source.name}: unsupported file type; an extract folder holds only "
                f"{', '.join(SUPPORTED_SUFFIXES)} files"
            )
        return self._check_rows(source, header, quarantine)

    def _check_header(self, source: SourceFile, header: list[str]) -> list[str]:
        normalised = [h.strip().lower() for h in header]
        duplicates = sorted({h for h in normalised if normalised.count(h) > 1 and h})
        if duplicates:
            raise FileRejected(f"{source.name}: column(s) {', '.join(duplicates)} appear twice")
        missing = [c for c in self.extract.required_columns if c not in normalised]
        if missing:
            hint = ""
            if header[0].strip().lower().startswith("sep="):
                hint = " (line 1 is an Excel 'sep=' line: delete it so the column names come first)"
            elif len(header) == 1:
                for separator, shown in ((";", "';'"), ("\t", "tab"), ("|", "'|'")):
                    if separator in header[0]:
                        hint = f" (the header looks delimited by {shown}; the contract uses ',')"
                        break
            raise FileRejected(
                f"{source.name}: missing required column(s) {', '.join(missing)}{hint}; "
                f"header line 1 has: {', '.join(header)[:300]}"
            )
        return normalised

    def _read_parquet(self, source: SourceFile) -> list[str]:
        path = _sql_string(str(source.path))
        try:
            described = self.con.execute(f"describe select * from read_parquet({path})").fetchall()
        except duckdb.Error as error:
            raise FileRejected(f"{source.name}: not a readable Parquet file ({error})") from error
        header = self._check_header(source, [row[0] for row in described])
        contract = {column.name: column for column in self.extract.columns}
        for i, (name, (_, parquet_type, *_)) in enumerate(zip(header, described, strict=True)):
            column = contract.get(name)
            if column and _reads_natively(column, parquet_type):
                self._native_columns.add(i)
        selected = ", ".join(
            f'"{row[0]}" as c{i}'
            if i in self._native_columns
            else f'cast("{row[0]}" as varchar) as c{i}'
            for i, row in enumerate(described)
        )
        try:
            self.con.execute(
                f"""
                create or replace temp table _cw_parsed as
                select row_number() over () as _record, {selected}
                from read_parquet({path})
                """
            )
        except duckdb.Error as error:
            raise FileRejected(f"{source.name}: Parquet data cannot be read ({error})") from error
        self.con.execute(
            "create or replace temp table _cw_lines as "
            "select _record, _record as _line from _cw_parsed"
        )
        return header

    def _read_head(self, source: SourceFile) -> bytes:
        with _open_bytes(source.path) as handle:
            try:
                return handle.read(1 << 16)
            except (OSError, EOFError) as error:
                raise FileRejected(f"{source.name}: cannot be read ({error})") from error

    @staticmethod
    def _binary_message(source: SourceFile, head: bytes) -> str:
        for signature, what in BINARY_SIGNATURES:
            if head.startswith(signature):
                return f"{source.name}: contains NUL bytes: not CSV text but {what}"
        text = head.rstrip(b"\x00")
        if b"\x00" not in text:
            return (
                f"{source.name}: contains NUL bytes: the text ends in {len(head) - len(text)} NUL "
                "bytes, so the file was cut off while being written (a crash or a full disk?); "
                "deliver it again"
            )
        even, odd = text[:4096:2], text[1:4096:2]
        if len(text) >= 16 and (
            (odd.count(0) > len(odd) * 0.4 and even.count(0) < len(even) * 0.05)
            or (even.count(0) > len(even) * 0.4 and odd.count(0) < len(odd) * 0.05)
        ):
            return (
                f"{source.name}: contains NUL bytes: looks like UTF-16 text without a byte-order "
                "mark; export as UTF-8 (or UTF-16 with BOM)"
            )
        return f"{source.name}: contains NUL bytes: binary data, not a CSV text file"

    def _read_csv(self, source: SourceFile) -> list[str]:
        head = self._read_head(source)
        encoding = self.forced_encoding
        if not encoding and head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        try:
            codec = codecs.lookup(encoding or "utf-8").name
        except LookupError:
            raise FileRejected(
                f"{source.name}: unknown encoding {encoding!r} set by CW_CSV_ENCODING or "
                f"CW_CSV_ENCODING_{self.extract.name.upper()}"
            ) from None
        if b"\x00" in head and not codec.startswith("utf-16"):
            raise FileRejected(self._binary_message(source, head))
        text = head.decode(codec, errors="replace").lstrip("\ufeff")
        first_line = next(iter(csv.reader(io.StringIO(text.splitlines()[0] if text else ""))), [])
        if not first_line or all(not h.strip() for h in first_line):
            raise FileRejected(f"{source.name}: line 1 holds no header (column names)")
        header = self._check_header(source, first_line)

        if codec in ("utf-8", "utf-8-sig"):
            path, marked = source.path, False
            if self._has_blank_lines(source):
                path, marked = self._copy_as_utf8(source, None)
        else:
            path, marked = self._copy_as_utf8(source, codec)
        self._parse_csv(source, path, len(header))
        if not self.forced_encoding and codec == "utf-8" and self._mostly_not_utf8(len(header)):
            path, marked = self._copy_as_utf8(source, FALLBACK_ENCODING)
            self._parse_csv(source, path, len(header))
        self._number_lines(header, marked)
        return header

    def _has_blank_lines(self, source: SourceFile) -> bool:
        """Whether the file has empty lines, which DuckDB skips without counting."""
        tail = b""
        try:
            with _open_bytes(source.path) as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    chunk = tail + block
                    if b"\n\n" in chunk or b"\n\r\n" in chunk or b"\r\r" in chunk:
                        return True
                    tail = chunk[-2:]
        except (OSError, EOFError) as error:
            raise FileRejected(f"{source.name}: cannot be read ({error})") from error
        return False

    def _copy_as_utf8(self, source: SourceFile, encoding: str | None) -> tuple[Path, bool]:
        """Write a UTF-8 copy for DuckDB: transcoded from ``encoding`` (GBK/GB18030, UTF-16
        exports) when given, with a marker in every empty line so that line numbers stay exact.
        Returns the copy and whether any empty line was marked."""
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        target = self.scratch_dir / f"{self.extract.name}__{source.name}.utf8.csv"
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict") if encoding else None
        marker = _BlankLineMarker()
        offset = 0
        try:
            with _open_bytes(source.path) as raw, target.open("wb") as out:
                for block in iter(lambda: raw.read(1 << 22), b""):
                    data = decoder.decode(block).encode("utf-8") if decoder else block
                    out.write(marker.feed(data))
                    offset += len(block)
                final = decoder.decode(b"", final=True).encode("utf-8") if decoder else b""
                out.write(marker.feed(final, final=True))
        except UnicodeDecodeError as error:
            line = marker.lines + 1 + error.object[: error.start].count(b"\n")
            where = f"undecodable bytes near byte {offset + error.start}, line {line}"
            if encoding == FALLBACK_ENCODING:
                reason = f"neither UTF-8 nor {encoding.upper()} ({where})"
            else:
                reason = f"not valid {encoding.upper()} ({where})"
            raise FileRejected(
                f"{source.name}: {reason}; export as UTF-8 or set CW_CSV_ENCODING_"
                f"{self.extract.name.upper()}"
            ) from error
        except (OSError, EOFError) as error:
            raise FileRejected(f"{source.name}: cannot be read ({error})") from error
        return target, marker.marked

    def _parse_csv(self, source: SourceFile, path: Path, width: int) -> None:
        """Read every record as text into _cw_parsed; broken records go to _cw_reject_errors."""
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
                    max_line_size = {MAX_LINE_BYTES})
                """
            )
        except duckdb.Error as error:
            raise FileRejected(f"{source.name}: not a readable CSV file ({error})") from error

    def _all_values(self, width: int) -> str:
        return "concat(" + ", ".join(f"coalesce(c{i}, '')" for i in range(width)) + ")"

    def _mostly_not_utf8(self, width: int) -> bool:
        """A file with invalid UTF-8 is read as GB18030 unless it is mostly valid UTF-8 text.

        GB18030 decodes nearly any bytes, so reading a UTF-8 file with one broken character
        (a cut-off last line) as GB18030 would garble all of its Chinese text; such a file stays
        UTF-8 and only the broken lines are quarantined."""
        invalid = self.con.execute(
            "select count(distinct line) from _cw_reject_errors"
            " where error_type = 'INVALID ENCODING'"
        ).fetchone()[0]
        if not invalid:
            return False
        values = self._all_values(width)
        valid_non_ascii = self.con.execute(
            f"select count(*) from _cw_parsed where strlen({values}) <> length({values})"
        ).fetchone()[0]
        return valid_non_ascii <= invalid

    def _number_lines(self, header: list[str], marked: bool) -> None:
        """Give every record the physical line it starts on (header = line 1).

        DuckDB returns parsed records in file order and reports a rejected record by its
        record number (+1 for the header), not by physical line; empty lines are marked before
        parsing (see _copy_as_utf8), so they count as (rejected) records too. Record numbers
        are merged first, then the newlines quoted inside earlier records are added. Writes
        _cw_lines (parsed records) and _cw_malformed (rejected records, marked lines excluded).
        """
        width = len(header)
        values = self._all_values(width)
        mark = _sql_string(BLANK_LINE_MARK)
        # A record can break several ways; the message names the root cause.
        priority = (
            "case error_type::varchar when 'INVALID ENCODING' then 0"
            " when 'LINE SIZE OVER MAXIMUM' then 1 when 'UNQUOTED VALUE' then 2 else 3 end"
        )
        if marked:
            self.con.execute(
                "update _cw_parsed set "
                + ", ".join(f"c{i} = replace(c{i}, {mark}, '')" for i in range(width))
                + " where "
                + " or ".join(f"contains(c{i}, {mark})" for i in range(width))
            )
        self.con.execute(
            f"""
            create or replace temp table _cw_rejected as
            select line - 1 as _file_record,
                min_by(error_type::varchar, {priority}) as error_type,
                string_agg(distinct column_name, ',' order by column_name) as columns,
                replace(any_value(csv_line), {mark}, '') as csv_line,
                min_by(error_message, {priority}) as detail,
                replace(any_value(csv_line), chr(13), '') = {mark} as _blank,
                0::bigint as _nl, 0::bigint as _line
            from _cw_reject_errors group by line
            """
        )
        self.con.execute(
            "update _cw_rejected set _nl = length(rtrim(csv_line, chr(13) || chr(10)))"
            " - length(replace(rtrim(csv_line, chr(13) || chr(10)), chr(10), ''))"
        )
        multiline, self._has_nul = self.con.execute(
            f"select coalesce(bool_or(contains({values}, chr(10))), false),"
            f" coalesce(bool_or(contains({values}, chr(0))), false) from _cw_parsed"
        ).fetchone()
        rejected = self.con.execute("select count(*), sum(_nl) from _cw_rejected").fetchone()
        if not multiline and not rejected[0]:
            self.con.execute(
                "create or replace temp table _cw_lines as"
                " select _record, 1 + _record as _line from _cw_parsed"
            )
            return
        newlines = (
            f"length({values}) - length(replace({values}, chr(10), ''))" if multiline else "0"
        )
        # The k-th rejected record (0-based, by file record number F_k) comes before the parsed
        # record numbered r (counting parsed records only) exactly when F_k - k <= r.
        self.con.execute(
            """
            create or replace temp table _cw_shift as
            select _file_record - n + 1 as a, max(n) as n
            from (select _file_record, row_number() over (order by _file_record) as n
                  from _cw_rejected)
            group by all
            """
        )
        self.con.execute(
            f"""
            create or replace temp table _cw_positions as
            select p._record, p._record + coalesce(s.n, 0) as _file_record, {newlines} as _nl
            from _cw_parsed p asof left join _cw_shift s on p._record >= s.a
            union all
            select null, _file_record, _nl from _cw_rejected
            """
        )
        self.con.execute(
            """
            create or replace temp table _cw_positions as
            select _record, _file_record, 1 + _file_record + coalesce(sum(_nl) over (
                order by _file_record rows between unbounded preceding and 1 preceding), 0)
                as _line
            from _cw_positions
            """
        )
        self.con.execute(
            "create or replace temp table _cw_lines as"
            " select _record, _line from _cw_positions where _record is not null"
        )
        self.con.execute(
            "update _cw_rejected r set _line = p._line from _cw_positions p"
            " where p._record is null and p._file_record = r._file_record"
        )
        names = "[" + ", ".join(_sql_string(h) for h in header) + "]"
        self.con.execute(
            f"""
            insert into _cw_malformed
            select _line,
                nullif(array_to_string(list_transform(
                    list_filter(string_split(columns, ','), lambda c: c like 'c%'),
                    lambda c: {names}[cast(substr(c, 2) as integer) + 1]), ', '), ''),
                case error_type
                    when 'MISSING COLUMNS' then 'the line has fewer fields than the header ('
                        || detail || '): a cut-off or broken line'
                    when 'TOO MANY COLUMNS' then 'the line has more fields than the header ('
                        || detail || '): an unquoted comma inside a value, such as a '
                        || 'thousands separator?'
                    when 'UNQUOTED VALUE' then 'a quote is not closed, or text follows a '
                        || 'closing quote (' || detail || ')'
                    when 'LINE SIZE OVER MAXIMUM' then 'the line is longer than the '
                        || '{MAX_LINE_BYTES:,}-byte limit'
                    when 'INVALID ENCODING' then 'invalid UTF-8 bytes in this line (the rest '
                        || 'of the file is UTF-8: a cut-off or corrupted character?)'
                    else lower(error_type) || ': ' || detail
                end || case when _nl > 0 then '; the record spans lines ' || _line || '-'
                    || (_line + _nl) else '' end,
                case when length(csv_line) > {RAW_VALUE_CHARS}
                    then left(csv_line, {RAW_VALUE_CHARS}) || '... (' || length(csv_line)
                        || ' characters)'
                    else csv_line end
            from _cw_rejected where not _blank
            """
        )

    # ---- checking rows --------------------------------------------------------------------
    def _check_rows(self, source: SourceFile, header: list[str], quarantine: bool) -> FileOutcome:
        extract = self.extract
        position = {name: i for i, name in enumerate(header)}
        parsed_columns, violations = [], []
        if self._has_nul:
            values = self._all_values(len(header))
            violations.append(
                (
                    f"contains({values}, chr(0))",
                    None,
                    "malformed_row",
                    "'the line holds NUL bytes: binary data inside the text'",
                )
            )
        for column in extract.columns:
            parsed_columns.append(f"{self._parse_expression(column, position)} as {column.name}")
            violations += self._violations(column, position)
        for rule in extract.row_rules:
            later, earlier = (
                self._parse_expression(extract.column(n), position)
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
                f"when {cond} then struct_pack(column_name := "
                f"{_sql_string(col) if col else 'null::varchar'}, rule := '{rule}', "
                f"message := {message})"
                for cond, col, rule, message in violations
            )
            + " end"
            if violations
            else "null"
        )
        self.con.execute(
            f"""
            create or replace temp table _cw_checked as
            select p._record, l._line as _source_line, {", ".join(parsed_columns)},
                {violation_case} as _violation
            from _cw_parsed p join _cw_lines l using (_record)
            """
        )
        self._check_foreign_keys()
        self._check_duplicates_in_file()
        if quarantine:
            self._quarantine(source, header)
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
        malformed = self.con.execute("select count(*) from _cw_malformed").fetchone()[0]
        outcome = FileOutcome(
            extract.name,
            source.name,
            "loaded",
            rows_read=parsed + malformed,
            rows_loaded=parsed - violating,
            rows_quarantined=violating + malformed,
        )
        notes = []
        if parsed == 0 and not malformed:
            notes.append("header only: no data rows")
        ignored = [h for h in header if h and h not in extract.column_names]
        if ignored:
            notes.append(f"ignored column(s) not in the contract: {', '.join(ignored)}")
        outcome.message = "; ".join(notes)
        return outcome

    def _quarantine(self, source: SourceFile, header: list[str]) -> None:
        """Replace the file's quarantine entries by the rows that broke a rule in this read."""
        self.con.execute(
            "delete from raw.quarantine where extract = ? and file_name = ?",
            [self.extract.name, source.name],
        )
        shown = ", ".join(
            f"case when length({text}) > {RAW_VALUE_CHARS} then left({text}, {RAW_VALUE_CHARS})"
            f" || '...' else {text} end"
            for text in map(self._text, range(len(header)))
        )
        names = ", ".join(_sql_string(h) for h in header)
        self.con.execute(
            f"""
            insert into raw.quarantine
            select ?, ?, c._source_line, c._violation.column_name, c._violation.rule,
                c._violation.message, to_json(map([{names}], [{shown}])), ?
            from _cw_checked c join _cw_parsed p using (_record)
            where c._violation is not null
            """,
            [self.extract.name, source.name, self.loaded_at],
        )
        self.con.execute(
            """
            insert into raw.quarantine
            select ?, ?, _line, column_name, 'malformed_row', message, raw_line, ?
            from _cw_malformed
            """,
            [self.extract.name, source.name, self.loaded_at],
        )

    def _text(self, index: int) -> str:
        """Column c<index> as the file spelled it (text), for parsing and messages."""
        return f"cast(c{index} as varchar)" if index in self._native_columns else f"c{index}"

    def _raw(self, name: str, position: dict[str, int]) -> str:
        return self._text(position[name]) if name in position else "null"

    def _native(self, name: str, position: dict[str, int]) -> str | None:
        """The column itself when the file typed it natively (see NATIVE_PARQUET_TYPES)."""
        index = position.get(name)
        return f"c{index}" if index in self._native_columns else None

    def _parse_expression(self, column: Column, position: dict[str, int]) -> str:
        sql_type = SQL_TYPES[column.type]
        raw, native = self._raw(column.name, position), self._native(column.name, position)
        if native:
            parsed = f"try_cast({native} as {sql_type})"
        elif column.type in PARSERS:
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

    def _violations(
        self, column: Column, position: dict[str, int]
    ) -> list[tuple[str, str, str, str]]:
        """(condition, column, rule, message SQL) for every rule of one column, in check order."""
        name = column.name
        raw, native = self._raw(name, position), self._native(name, position)
        value = f"cw_text({raw})"
        shown = f"left(coalesce({value}, ''), 200)"
        # A natively typed value is tested as it is: only the messages spell it out.
        missing = f"{native} is null" if native else f"{value} is null"
        parsed = (
            f"try_cast({native} as {SQL_TYPES[column.type]})"
            if native
            else f"{PARSERS.get(column.type, 'cw_text')}({raw})"
        )
        found = []
        if column.required:
            found.append((missing, name, "not_null", f"'{name} is required'"))
        if column.type in PARSERS:
            found.append(
                (
                    f"not ({missing}) and {parsed} is null",
                    name,
                    f"invalid_{column.type}",
                    f"'{name} is not a valid {column.type}: ' || {shown}",
                )
            )
        if column.type == DECIMAL and not native and "currency" in self.extract.column_names:
            # "$12.00" on an invoice in CNY: the symbol and the row's currency disagree.
            marker, currency = (
                f"cw_currency_marker({raw})",
                self._parse_expression(self.extract.column("currency"), position),
            )
            found.append(
                (
                    f"{marker} is not null and not list_contains(cw_marker_currencies({marker}),"
                    f" {currency})",
                    name,
                    "currency_mismatch",
                    f"'{name} carries ' || {marker} || ' but the row''s currency is ' || "
                    f"coalesce({currency}, '')",
                )
            )
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


def _reads_natively(column: Column, parquet_type: str) -> bool:
    return (
        not column.accepted_values
        and not column.pattern
        and parquet_type.split("(")[0] in NATIVE_PARQUET_TYPES.get(column.type, ())
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
    for temp in (
        "_cw_parsed",
        "_cw_checked",
        "_cw_valid",
        "_cw_all",
        "_cw_lines",
        "_cw_malformed",
        "_cw_rejected",
        "_cw_shift",
        "_cw_positions",
        "_cw_reject_errors",
        "_cw_reject_scans",
    ):
        con.execute(f"drop table if exists {temp}")
    for leftover in scratch_dir.glob(f"{extract_name}__*.utf8.csv"):
        os.remove(leftover)
    return outcomes
