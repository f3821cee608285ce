"""The same models on DuckDB, Spark and Postgres build identical marts (docs/engines.md).

One scenario, built once per engine from the same extracts: a DuckDB publish as of 30 September
(months up to August frozen), then a late payment dated in August and `reopen --month 2026-07`
as of 31 October on each engine. That one refresh exercises everything engine-specific: the raw
load into the engine, the frozen months carried over from the published DuckDB file, the
incremental model (July frozen again, August kept and restated, September frozen for the first
time) and the export back into the published warehouse. Every mart (and what the dashboard
reads besides) must then hold the same rows as on DuckDB; tests/engine_equality.py has the
comparison rules.

Spark runs as a local session (needs Java 17+: `.ci/run` installs openjdk-17-jre-headless);
Postgres is a throwaway server started here on 127.0.0.1 (needs the Debian `postgresql`
binaries; as root the server runs as the `postgres` user the package creates). Either is
skipped, saying why, only when it cannot run on this machine.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines import engines
from pipelines.transform import ensure_manifest
from tests.conftest import cli
from tests.engine_equality import compare_warehouses, primary_keys

CUSTOMERS = 80
MONTHS = 14
END = date(2026, 10, 31)
BASE_AS_OF = date(2026, 9, 30)
REOPENED = "2026-07"


def query(path: Path, sql: str, params=()) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


# ---- fast checks (no engine needed) -----------------------------------------------------------
def test_every_mart_and_what_readers_use_is_exported():
    manifest = json.loads(ensure_manifest().read_text())
    models = {
        (n["schema"], n["name"])
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model"
    }
    exported = engines.exported_relations(manifest)
    assert {m for m in models if m[0] == "marts"} <= set(exported)
    assert set(engines.EXPORTED_RELATIONS) <= models
    assert set(engines.STATE_RELATIONS) <= set(exported)


def test_an_unknown_engine_is_refused(monkeypatch):
    monkeypatch.setenv("CW_ENGINE", "oracle")
    with pytest.raises(engines.EngineError, match="duckdb, spark, postgres"):
        engines.current_engine()
    completed = cli("refresh", "--engine", "oracle", check=False)
    assert completed.returncode == 2 and "invalid choice" in completed.stderr


# ---- the engines --------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _postgres_bin() -> Path | None:
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return candidates[-1].parent if candidates else None


@pytest.fixture(scope="module")
def postgres_server():
    """A throwaway PostgreSQL server on 127.0.0.1 (trust auth, no fsync), stopped afterwards;
    yields the environment that points the warehouse at it."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries not found (Debian: apt-get install postgresql)")
    as_user: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="cw-postgres-"))
    if os.geteuid() == 0:  # Postgres refuses to run as root
        runuser = shutil.which("runuser")
        if runuser is None or subprocess.run(["id", "postgres"], capture_output=True).returncode:
            shutil.rmtree(base)
            pytest.skip("running as root without a `postgres` user (or runuser) to run Postgres")
        shutil.chown(base, "postgres", "postgres")
        as_user = [runuser, "-u", "postgres", "--"]
    data, port = base / "data", _free_port()

    def run(*command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*as_user, *command], capture_output=True, text=True, timeout=120, cwd=base
        )

    created = run(
        str(bin_dir / "initdb"),
        "-D",
        str(data),
        "-U",
        "cw",
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C",
    )
    if created.returncode:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"initdb failed:\n{created.stdout}\n{created.stderr}")
    options = f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c synchronous_commit=off"
    started = run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(base / "server.log"),
        "-o",
        options,
        "-w",
        "-t",
        "60",
        "start",
    )
    try:
        if started.returncode:
            log = (base / "server.log").read_text() if (base / "server.log").exists() else ""
            pytest.fail(f"pg_ctl start failed:\n{started.stdout}\n{started.stderr}\n{log}")
        import psycopg2

        admin = psycopg2.connect(host="127.0.0.1", port=port, user="cw", dbname="postgres")
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute("create database customer_warehouse")
        admin.close()
        yield {
            "CW_POSTGRES_HOST": "127.0.0.1",
            "CW_POSTGRES_PORT": str(port),
            "CW_POSTGRES_USER": "cw",
            "CW_POSTGRES_DATABASE": "customer_warehouse",
        }
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def spark_session_env():
    """What a local Spark session needs; skips when this machine has no Java 17+."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.skip("pyspark is not installed (it is in the dev extra of pyproject.toml)")
    problem = engines.java_problem()
    if problem:
        pytest.skip(f"no local Spark session: {problem}")
    return {"CW_SPARK_METHOD": "session", "CW_SPARK_DRIVER_MEMORY": "2g"}


# ---- the scenario -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> dict[str, Path]:
    """The extracts with a late August payment, a DuckDB publish as of 30 September built without
    it, and the DuckDB reference: that publish after `reopen --month 2026-07` as of 31 October."""
    root = tmp_path_factory.mktemp("engines")
    raw, base = root / "raw", root / "base"
    cli(
        "generate",
        "--raw-dir",
        str(raw),
        "--customers",
        str(CUSTOMERS),
        "--months",
        str(MONTHS),
        "--seed",
        "7",
        "--end-date",
        END.isoformat(),
    )
    cli(
        "refresh",
        "--raw-dir",
        str(raw),
        "--warehouse-dir",
        str(base),
        "--as-of",
        BASE_AS_OF.isoformat(),
        "--quiet",
    )
    published = base / "warehouse.duckdb"
    invoice_id, customer_id = query(
        published,
        "select invoice_id, customer_id"
        " from intermediate.int_receivables__invoice_month_end_balances"
        " where month_start_date = date '2026-08-01' and open_amount > 100"
        " order by invoice_id limit 1",
    )[0]
    (raw / "payments" / "payments_late.csv").write_text(
        "payment_id,invoice_id,customer_id,payment_date,amount\n"
        f"LATE1,{invoice_id},{customer_id},2026-08-20,100.00\n"
    )
    reference = reopen(root, raw, base, "duckdb", {})
    restated = query(
        reference,
        "select distinct month from marts.receivables_restatements where customer_id = ?",
        [customer_id],
    )
    # the scenario does what it says: July frozen again, August kept and restated, September
    # frozen for the first time
    assert restated == [(date(2026, 8, 1),)]
    frozen_at = dict(
        query(
            reference,
            "select month, max(frozen_as_of_date)"
            " from intermediate.int_receivables__frozen_months group by month",
        )
    )
    assert frozen_at[date(2026, 7, 1)] == END and frozen_at[date(2026, 9, 1)] == END
    assert frozen_at[date(2026, 8, 1)] == BASE_AS_OF
    return {"root": root, "raw": raw, "base": base, "reference": reference}


def reopen(root: Path, raw: Path, base: Path, engine: str, env: dict[str, str]) -> Path:
    """`reopen --month 2026-07` as of 31 October on a copy of the base publish, on `engine`."""
    warehouse = root / f"warehouse_{engine}"
    shutil.copytree(base, warehouse)
    cli(
        "reopen",
        "--month",
        REOPENED,
        "--as-of",
        END.isoformat(),
        "--raw-dir",
        str(raw),
        "--warehouse-dir",
        str(warehouse),
        "--engine",
        engine,
        "--quiet",
        env=env,
    )
    return warehouse / "warehouse.duckdb"


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["postgres", "spark"])
def test_engine_publishes_the_same_marts_as_duckdb(engine, request, monkeypatch):
    # the engine first: a machine that cannot run it skips before building the scenario
    env = request.getfixturevalue(
        "postgres_server" if engine == "postgres" else "spark_session_env"
    )
    scenario = request.getfixturevalue("scenario")
    published = reopen(scenario["root"], scenario["raw"], scenario["base"], engine, env)
    manifest_path = ensure_manifest()
    relations = [
        f"{s}.{n}" for s, n in engines.exported_relations(json.loads(manifest_path.read_text()))
    ]
    keys = primary_keys(manifest_path)
    differences = compare_warehouses(scenario["reference"], published, relations, keys)
    assert not differences, f"{engine} differs from DuckDB:\n" + "\n".join(map(str, differences))
    # the published file carries the run's provenance like a DuckDB publish, and the dashboard
    # shows every page from it
    assert query(published, "select count(*) from raw.file_manifest")[0][0] > 0
    assert query(published, "select count(*) from marts.receivables_restatements")[0][0] > 0
    from streamlit.testing.v1 import AppTest

    from tests.dashboard_support import APP, PAGES

    monkeypatch.setenv("CW_WAREHOUSE_DIR", str(published.parent))
    for _, page in PAGES:
        app = AppTest.from_file(str(APP), default_timeout=120).run()
        app.switch_page(page).run()
        assert not app.exception and not app.error, (page, app.exception, app.error)
