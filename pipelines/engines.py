"""Build the dbt models on another engine than DuckDB: Spark (dbt-spark) or Postgres (dbt-postgres).

DuckDB stays the loading and publishing engine whatever builds the models: files are read,
validated and quarantined in the work database exactly as for a DuckDB refresh, and the published
``warehouse.duckdb`` is what readers open. With ``--engine spark|postgres`` the refresh

1. copies the validated ``raw`` tables (the contract's columns) and the carried-over state of the
   one incremental model (``intermediate.int_receivables__frozen_months``, the closed receivables
   months as first published) from the work database to the engine
   (Postgres: ``COPY FROM STDIN`` of CSV streamed from DuckDB; Spark: Parquet files DuckDB writes
   into an exchange folder, registered as tables by the dbt hook ``engines_register_inputs``),
2. runs ``dbt build --target spark|postgres`` (every model and data test runs on the engine),
3. copies what readers use back into the work database (``EXPORTED_RELATIONS`` and every mart;
   Postgres: ``COPY TO STDOUT``; Spark: Parquet written by the hook ``engines_export_outputs``),
   so the published file looks the same to the dashboard and the exports.

The published DuckDB file stays the system of record for the frozen months: each refresh replaces
the engine's copy by the published one, so switching engines (or a failed remote build) never
changes what finance was given.
"""

from __future__ import annotations

import io
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipelines.contract import EXTRACTS
from pipelines.loader import connect
from pipelines.settings import Settings

ENGINES = ("duckdb", "spark", "postgres")
DEFAULT_ENGINE = "duckdb"

# The state the incremental model carries from publish to publish.
STATE_RELATIONS = (("intermediate", "int_receivables__frozen_months"),)
# Besides every mart: what the dashboard, the exports and the reconciliation checks read.
EXPORTED_RELATIONS = (
    ("staging", "stg_erp__customers"),
    ("staging", "stg_erp__products"),
    ("staging", "stg_survey__complaints"),
    ("staging", "stg_billing__invoices"),
    ("intermediate", "int_loyalty__customer_rhythm"),
    *STATE_RELATIONS,
)
MODEL_SCHEMAS = ("staging", "intermediate", "marts")
BATCH_ROWS = 200_000


class EngineError(RuntimeError):
    """The engine cannot be used; the message says what to fix."""


def current_engine() -> str:
    """The engine of this refresh: CW_ENGINE (set by `refresh --engine`), default duckdb."""
    engine = (os.environ.get("CW_ENGINE") or DEFAULT_ENGINE).strip().lower()
    if engine not in ENGINES:
        raise EngineError(f"CW_ENGINE={engine!r}: expected one of {', '.join(ENGINES)}")
    return engine


def exported_relations(manifest: dict) -> list[tuple[str, str]]:
    """Every mart of the dbt project plus EXPORTED_RELATIONS, as (schema, name)."""
    marts = sorted(
        (node["schema"], node["alias"] or node["name"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["schema"] == "marts"
        and node["config"].get("enabled", True)
    )
    return [*marts, *(r for r in EXPORTED_RELATIONS if r not in marts)]


def raw_tables() -> list[tuple[str, list[str]]]:
    """The dbt sources: one raw table per extract, with the contract's columns and the load time
    (staging passes it on to the incremental models)."""
    return [(name, [*extract.column_names, "_loaded_at"]) for name, extract in EXTRACTS.items()]


# ---- DuckDB helpers -----------------------------------------------------------------------------
def _relation_exists(con, schema: str, name: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


def _duckdb_columns(con, schema: str, name: str) -> list[tuple[str, str]]:
    return con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, name],
    ).fetchall()


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _replace_duckdb_relation(con, schema: str, name: str, select_sql: str) -> None:
    """Replace whatever <schema>.<name> is (a view from a DuckDB build, a table) by a table."""
    con.execute(f"create schema if not exists {schema}")
    kind = con.execute(
        "select table_type from information_schema.tables "
        "where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchone()
    if kind and kind[0] == "VIEW":
        con.execute(f"drop view {schema}.{name}")
    con.execute(f"create or replace table {schema}.{name} as {select_sql}")


def _drop_stale_models(con, keep: Iterable[tuple[str, str]]) -> None:
    """Drop model relations an earlier DuckDB build left that this build did not export: an
    intermediate table computed at another as-of date must not be served as if current."""
    keep = set(keep)
    rows = con.execute(
        "select table_schema, table_name, table_type from information_schema.tables "
        f"where table_schema in ({', '.join('?' for _ in MODEL_SCHEMAS)})",
        list(MODEL_SCHEMAS),
    ).fetchall()
    for schema, name, kind in rows:
        if (schema, name) not in keep:
            con.execute(f"drop {'view' if kind == 'VIEW' else 'table'} {schema}.{name} cascade")


# ---- Postgres -----------------------------------------------------------------------------------
# Postgres types of the DuckDB columns copied into it.
_POSTGRES_TYPES = {
    "VARCHAR": "text",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "SMALLINT": "smallint",
    "HUGEINT": "numeric(38, 0)",
    "DOUBLE": "double precision",
    "FLOAT": "real",
    "DATE": "date",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
}
# DuckDB types of the Postgres columns copied back (numeric: see _postgres_numeric_type).
_DUCKDB_TYPES = {
    "text": "VARCHAR",
    "character varying": "VARCHAR",
    "character": "VARCHAR",
    "bigint": "BIGINT",
    "integer": "INTEGER",
    "smallint": "SMALLINT",
    "double precision": "DOUBLE",
    "real": "FLOAT",
    "date": "DATE",
    "boolean": "BOOLEAN",
    "timestamp without time zone": "TIMESTAMP",
    "timestamp with time zone": "TIMESTAMPTZ",
}
# Unconstrained numeric results (sums, products, quotients) come back as DECIMAL(38, scale) when
# no value has more decimals than this (money: exact to the cent), else as DOUBLE (ratios).
_MAX_EXACT_SCALE = 8


def postgres_connection_parameters() -> dict:
    """The same server the dbt target `postgres` uses (profiles.yml reads the same variables)."""
    return {
        "host": os.environ.get("CW_POSTGRES_HOST", "127.0.0.1"),
        "port": int(os.environ.get("CW_POSTGRES_PORT", "5432")),
        "user": os.environ.get("CW_POSTGRES_USER", "postgres"),
        "password": os.environ.get("CW_POSTGRES_PASSWORD") or None,
        "dbname": os.environ.get("CW_POSTGRES_DATABASE", "customer_warehouse"),
        "sslmode": os.environ.get("CW_POSTGRES_SSLMODE", "prefer"),
        "connect_timeout": 30,
        "application_name": "customer-warehouse",
    }


@contextmanager
def _postgres():
    import psycopg2

    parameters = postgres_connection_parameters()
    try:
        pg = psycopg2.connect(**parameters)
    except psycopg2.OperationalError as error:
        shown = {k: v for k, v in parameters.items() if k != "password"}
        raise EngineError(
            f"cannot connect to Postgres {shown}: {str(error).strip()}. Set CW_POSTGRES_HOST, "
            "CW_POSTGRES_PORT, CW_POSTGRES_USER, CW_POSTGRES_PASSWORD, CW_POSTGRES_DATABASE "
            "(docs/engines.md)."
        ) from None
    try:
        yield pg
        pg.commit()
    except BaseException:
        pg.rollback()
        raise
    finally:
        pg.close()


class _CsvStream(io.RawIOBase):
    """CSV bytes of an Arrow record batch stream, read lazily by COPY FROM STDIN: nothing is
    written to disk and at most one batch is held in memory. Arrow writes an empty string as ""
    and a null as nothing, which Postgres' CSV format reads back as '' and NULL."""

    def __init__(self, reader) -> None:
        self._batches: Iterator = iter(reader)
        self._buffer = b""
        self._header = True

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        while size < 0 or len(self._buffer) < size:
            batch = next(self._batches, None)
            if batch is None:
                break
            sink = io.BytesIO()
            options = pacsv.WriteOptions(include_header=self._header)
            pacsv.write_csv(pa.Table.from_batches([batch]), sink, write_options=options)
            self._header = False
            self._buffer += sink.getvalue()
        if size < 0:
            size = len(self._buffer)
        chunk, self._buffer = self._buffer[:size], self._buffer[size:]
        return chunk


def _postgres_type(duckdb_type: str) -> str:
    if duckdb_type.startswith("DECIMAL"):
        return duckdb_type.replace("DECIMAL", "numeric")
    try:
        return _POSTGRES_TYPES[duckdb_type]
    except KeyError:
        raise EngineError(f"no Postgres type for DuckDB type {duckdb_type}") from None


def _copy_to_postgres(con, pg, schema: str, name: str, columns: list[str] | None = None) -> int:
    """Replace <schema>.<name> in Postgres by the DuckDB relation of the same name."""
    typed = _duckdb_columns(con, schema, name)
    if columns is not None:
        types = dict(typed)
        typed = [(c, types[c]) for c in columns]
    column_list = ", ".join(_quote(c) for c, _ in typed)
    with pg.cursor() as cursor:
        cursor.execute(f"create schema if not exists {_quote(schema)}")
        cursor.execute(f"drop table if exists {_quote(schema)}.{_quote(name)} cascade")
        cursor.execute(
            f"create table {_quote(schema)}.{_quote(name)} ("
            + ", ".join(f"{_quote(c)} {_postgres_type(t)}" for c, t in typed)
            + ")"
        )
        reader = con.sql(f"select {column_list} from {schema}.{name}").to_arrow_reader(BATCH_ROWS)
        cursor.copy_expert(
            f"copy {_quote(schema)}.{_quote(name)} ({column_list}) "
            "from stdin with (format csv, header true)",
            _CsvStream(reader),
        )
        cursor.execute(f"analyze {_quote(schema)}.{_quote(name)}")
        return cursor.rowcount


def _postgres_numeric_type(cursor, schema: str, name: str, column: str) -> str:
    cursor.execute(f"select max(scale({_quote(column)})) from {_quote(schema)}.{_quote(name)}")
    scale = cursor.fetchone()[0]
    if scale is None or scale > _MAX_EXACT_SCALE:
        return "DOUBLE"
    return f"DECIMAL(38, {scale})"


def _copy_from_postgres(con, pg, schema: str, name: str, scratch: Path) -> None:
    """Replace <schema>.<name> in DuckDB by the Postgres relation of the same name."""
    with pg.cursor() as cursor:
        cursor.execute(
            "select column_name, data_type, numeric_precision, numeric_scale "
            "from information_schema.columns where table_schema = %s and table_name = %s "
            "order by ordinal_position",
            (schema, name),
        )
        described = cursor.fetchall()
        if not described:
            raise EngineError(f"Postgres has no relation {schema}.{name} after the build")
        columns = {}
        for column, data_type, precision, scale in described:
            if data_type == "numeric":
                columns[column] = (
                    f"DECIMAL({min(precision, 38)}, {scale})"
                    if precision is not None
                    else _postgres_numeric_type(cursor, schema, name, column)
                )
            elif data_type in _DUCKDB_TYPES:
                columns[column] = _DUCKDB_TYPES[data_type]
            else:
                raise EngineError(f"{schema}.{name}.{column}: no DuckDB type for {data_type}")
        path = scratch / f"{schema}.{name}.csv"
        with path.open("wb") as handle:
            cursor.copy_expert(
                f"copy (select * from {_quote(schema)}.{_quote(name)}) to stdout "
                "with (format csv, header true)",
                handle,
            )
    spec = "{" + ", ".join(f"'{c}': '{t}'" for c, t in columns.items()) + "}"
    _replace_duckdb_relation(
        con,
        schema,
        name,
        f"select * from read_csv('{path}', header = true, columns = {spec}, "
        "allow_quoted_nulls = false, auto_detect = false)",
    )
    path.unlink()


def load_postgres(settings: Settings) -> None:
    """Copy the raw tables and the carried-over state into Postgres (one transaction)."""
    con = connect(settings.work_path, settings.memory_limit, settings.temp_dir, settings.threads)
    try:
        with _postgres() as pg:
            for name, columns in raw_tables():
                _copy_to_postgres(con, pg, "raw", name, columns)
            for schema, name in STATE_RELATIONS:
                if _relation_exists(con, schema, name):
                    _copy_to_postgres(con, pg, schema, name)
                else:
                    with pg.cursor() as cursor:
                        cursor.execute(
                            f"drop table if exists {_quote(schema)}.{_quote(name)} cascade"
                        )
    finally:
        con.close()


def export_postgres(settings: Settings, relations: list[tuple[str, str]]) -> None:
    """Copy the built relations from Postgres back into the work database."""
    scratch = settings.warehouse_dir / "work" / "engine"
    scratch.mkdir(parents=True, exist_ok=True)
    con = connect(settings.work_path, settings.memory_limit, settings.temp_dir, settings.threads)
    try:
        with _postgres() as pg:
            for schema, name in relations:
                _copy_from_postgres(con, pg, schema, name, scratch)
        _drop_stale_models(con, relations)
    finally:
        con.close()


# ---- Spark ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SparkPaths:
    """Where Spark and the warehouse exchange Parquet files.

    ``exchange_dir`` is the folder as this machine sees it (DuckDB writes the inputs and reads
    the outputs there), ``exchange_uri`` the same folder as Spark sees it. For the local session
    both are under ``<warehouse-dir>/work/spark``, next to the session's warehouse folder and
    metastore; for a cluster set CW_SPARK_EXCHANGE_DIR and CW_SPARK_EXCHANGE_URI to a shared
    location (docs/engines.md)."""

    root: Path
    exchange_dir: Path
    exchange_uri: str
    local_session: bool

    def input_dir(self, schema: str, name: str) -> Path:
        return self.exchange_dir / "in" / schema / name

    def output_dir(self, schema: str, name: str) -> Path:
        return self.exchange_dir / "out" / schema / name


def spark_paths(settings: Settings) -> SparkPaths:
    root = settings.warehouse_dir / "work" / "spark"
    local_session = os.environ.get("CW_SPARK_METHOD", "session") == "session"
    configured = os.environ.get("CW_SPARK_EXCHANGE_DIR")
    exchange_dir = Path(configured).resolve() if configured else root / "exchange"
    exchange_uri = os.environ.get("CW_SPARK_EXCHANGE_URI") or exchange_dir.as_uri()
    if not configured and not local_session:
        raise EngineError(
            "a Spark cluster cannot read this machine's files: set CW_SPARK_EXCHANGE_DIR (a "
            "folder shared with the cluster, as mounted here) and CW_SPARK_EXCHANGE_URI (the same "
            "folder as the cluster sees it), see docs/engines.md"
        )
    return SparkPaths(root, exchange_dir, exchange_uri.rstrip("/"), local_session)


def java_problem() -> str | None:
    """Why a local Spark session cannot start here, or None when Java 17+ is available."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        return "no Java runtime: install Java 17+ (Debian: apt-get install openjdk-17-jre-headless)"
    completed = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    text = completed.stderr + completed.stdout
    try:
        quoted = text.split('"')[1]
        major = int(quoted.split(".")[0]) if not quoted.startswith("1.") else 8
    except (IndexError, ValueError):
        return f"cannot read the Java version from `{java} -version`: {text.strip()[:200]}"
    if major < 17:
        return f"Java {major} found at {java}; Spark 4 needs Java 17 or newer"
    return None


# Spark's own log goes to <work>/spark/spark.log: dagster-dbt reads dbt's JSON events from the
# dbt process' merged stdout and stderr, where the JVM's log lines and progress bars would break
# lines apart (lost events: a refresh that cannot tell whether its tests ran).
_LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = {path}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{yy/MM/dd HH:mm:ss}} %p %c{{1}}: %m%n
"""


def _spark_submit_args(paths: SparkPaths, settings: Settings) -> str:
    """Static configuration of the local session dbt-spark starts (it reads no other file):
    its warehouse folder, Derby metastore, scratch space and log under the work folder, loopback
    only, no UI or console output, and few shuffle partitions (Spark's 200 are for clusters)."""
    memory = os.environ.get("CW_SPARK_DRIVER_MEMORY", "4g")
    partitions = os.environ.get("CW_SPARK_SHUFFLE_PARTITIONS", str(max(4, 2 * settings.threads)))
    paths.root.mkdir(parents=True, exist_ok=True)
    log_config = paths.root / "log4j2.properties"
    log_config.write_text(_LOG4J2.format(path=paths.root / "spark.log"), encoding="utf-8")
    java_options = (
        f"-Dderby.system.home={paths.root / 'metastore'} "
        f"-Dlog4j2.configurationFile={log_config.as_uri()}"
    )
    conf = {
        "spark.sql.warehouse.dir": (paths.root / "warehouse").as_uri(),
        "spark.driver.extraJavaOptions": java_options,
        "spark.local.dir": str(paths.root / "scratch"),
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": partitions,
    }
    args = ["--master", f"local[{settings.threads}]", "--driver-memory", memory]
    for key, value in conf.items():
        args += ["--conf", f"{key}={value}"]
    return shlex.join([*args, "pyspark-shell"])


def _duckdb_export_select(con, schema: str, name: str, columns: list[str] | None) -> str:
    """A select of the relation with types Parquet and Spark both read (HUGEINT as decimal)."""
    typed = _duckdb_columns(con, schema, name)
    if columns is not None:
        typed = [(c, t) for c, t in typed if c in columns]
    parts = [
        f"cast({_quote(c)} as decimal(38, 0)) as {_quote(c)}" if t == "HUGEINT" else _quote(c)
        for c, t in typed
    ]
    return f"select {', '.join(parts)} from {schema}.{name}"


def _write_parquet(con, select_sql: str, folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"copy ({select_sql}) to '{folder}' "
        "(format parquet, per_thread_output true, row_group_size 1000000)"
    )


def load_spark(settings: Settings) -> dict[str, str]:
    """Write the raw tables and the carried-over state as Parquet for Spark; return the
    environment of the dbt run (the hook engines_register_inputs registers the files)."""
    paths = spark_paths(settings)
    if paths.local_session:
        problem = java_problem()
        if problem:
            raise EngineError(f"cannot start a local Spark session: {problem}")
        if paths.root.exists():
            shutil.rmtree(paths.root)
    for folder in ("in", "out"):
        if (paths.exchange_dir / folder).exists():
            shutil.rmtree(paths.exchange_dir / folder)
    con = connect(settings.work_path, settings.memory_limit, settings.temp_dir, settings.threads)
    inputs, state, dropped = [], [], []
    try:
        for name, columns in raw_tables():
            select = _duckdb_export_select(con, "raw", name, columns)
            _write_parquet(con, select, paths.input_dir("raw", name))
            inputs.append(f"raw.{name}")
        for schema, name in STATE_RELATIONS:
            if _relation_exists(con, schema, name):
                select = _duckdb_export_select(con, schema, name, None)
                _write_parquet(con, select, paths.input_dir(schema, name))
                state.append(f"{schema}.{name}")
            else:
                dropped.append(f"{schema}.{name}")
    finally:
        con.close()
    env = {
        "CW_SPARK_EXCHANGE_URI": paths.exchange_uri,
        "CW_SPARK_INPUTS": ",".join(inputs),
        "CW_SPARK_STATE": ",".join(state),
        "CW_SPARK_DROP": ",".join(dropped),
    }
    if paths.local_session:
        env["PYSPARK_SUBMIT_ARGS"] = _spark_submit_args(paths, settings)
        env.setdefault("PYSPARK_PYTHON", sys.executable)
    return env


def export_spark(settings: Settings, relations: list[tuple[str, str]]) -> None:
    """Read the Parquet files the hook engines_export_outputs wrote into the work database."""
    paths = spark_paths(settings)
    con = connect(settings.work_path, settings.memory_limit, settings.temp_dir, settings.threads)
    try:
        for schema, name in relations:
            folder = paths.output_dir(schema, name)
            files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
            if not files:
                raise EngineError(
                    f"Spark wrote no Parquet files for {schema}.{name} into {folder} "
                    "(the dbt hook engines_export_outputs runs only after a successful build)"
                )
            listed = ", ".join(f"'{f}'" for f in files)
            _replace_duckdb_relation(con, schema, name, f"select * from read_parquet([{listed}])")
        _drop_stale_models(con, relations)
    finally:
        con.close()
    if paths.local_session:  # the session's tables and files are copies: free the disk
        shutil.rmtree(paths.root / "warehouse", ignore_errors=True)
        if paths.exchange_dir.is_relative_to(paths.root):
            shutil.rmtree(paths.exchange_dir, ignore_errors=True)


# ---- the refresh's entry points ----------------------------------------------------------------
def prepare(settings: Settings, engine: str, relations: list[tuple[str, str]]) -> dict[str, str]:
    """Copy the inputs to the engine; return the environment the dbt build needs."""
    env = {"CW_DBT_TARGET": engine, "CW_ENGINE": engine}
    if engine == "postgres":
        load_postgres(settings)
    elif engine == "spark":
        env.update(load_spark(settings))
        env["CW_SPARK_OUTPUTS"] = ",".join(f"{s}.{n}" for s, n in relations)
    return env


def export(settings: Settings, engine: str, relations: list[tuple[str, str]]) -> None:
    """Copy what readers use from the engine back into the work database."""
    if engine == "postgres":
        export_postgres(settings, relations)
    elif engine == "spark":
        export_spark(settings, relations)
