"""`customer-warehouse`: generate demo extracts, refresh, inspect and roll back the warehouse."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date, datetime
from pathlib import Path

from pipelines.engines import ENGINES
from pipelines.settings import Settings, load_settings
from pipelines.storage import RefreshError, is_up_to_date


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _dbt_var(text: str) -> tuple[str, object]:
    """NAME=VALUE with VALUE read as YAML: numbers, booleans, lists and maps keep their type."""
    import yaml

    name, separator, value = text.partition("=")
    if not separator or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), yaml.safe_load(value)


def _settings(args: argparse.Namespace) -> Settings:
    if getattr(args, "engine", None):
        os.environ["CW_ENGINE"] = args.engine
    if getattr(args, "var", None):
        os.environ["CW_DBT_VARS"] = json.dumps(
            {**json.loads(os.environ.get("CW_DBT_VARS") or "{}"), **dict(args.var)}
        )
    return load_settings(
        raw_dir=Path(args.raw_dir).resolve() if getattr(args, "raw_dir", None) else None,
        warehouse_dir=(
            Path(args.warehouse_dir).resolve() if getattr(args, "warehouse_dir", None) else None
        ),
        as_of=getattr(args, "as_of", None),
    )


def _print_progress(stage: str, done: int, total: int) -> None:
    print(
        f"\r  {stage}: {done:,}/{total:,} customers ({done / max(total, 1):.0%})",
        end="" if done < total else "\n",
        file=sys.stderr,
        flush=True,
    )


# ---- generate --------------------------------------------------------------------------------
def cmd_generate(args: argparse.Namespace) -> int:
    from pipelines.generate import generate_extracts

    settings = _settings(args)
    end = args.end_date or date.fromordinal(date.today().toordinal() - 1)
    print(
        f"Generating {args.customers:,} customers over {args.months} months ending {end} "
        f"(seed {args.seed}) into {settings.raw_dir}",
        file=sys.stderr,
    )
    started = time.perf_counter()
    rows = generate_extracts(
        settings.raw_dir,
        customers=args.customers,
        months=args.months,
        seed=args.seed,
        end_date=end,
        file_format=args.format,
        progress=_print_progress,
    )
    for extract, count in rows.items():
        print(f"  {extract:<22}{count:>14,} rows")
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


# ---- refresh ---------------------------------------------------------------------------------
def run_refresh(settings: Settings, trigger: str = "cli", quiet: bool = False):
    """Run the nightly_refresh job in this process; return its run log record."""
    os.environ.update(
        CW_RAW_DIR=str(settings.raw_dir),
        CW_WAREHOUSE_DIR=str(settings.warehouse_dir),
        CW_AS_OF=settings.as_of.isoformat(),
        CW_REBUILD_MODELS="1" if settings.rebuild_models else "",
    )
    from pipelines import gx_worker

    gx_worker.start()  # imports Great Expectations on the other core while Dagster starts
    from dagster import DagsterInstance

    from pipelines.definitions import defs
    from pipelines.jobs import TRIGGER_TAG, record_run, summarize_run
    from pipelines.quality import abandon_validation
    from pipelines.storage import release_refresh_lock

    job = defs.resolve_job_def("nightly_refresh")
    instance = DagsterInstance.ephemeral()
    level = "WARNING" if quiet else "INFO"
    try:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            tags={TRIGGER_TAG: trigger},
            run_config={"loggers": {"console": {"config": {"log_level": level}}}},
        )
    finally:
        abandon_validation()
        release_refresh_lock(settings)
    try:
        return record_run(instance, result.run_id, settings, trigger)
    except RefreshError as error:  # the run log cannot be written (full disk, read-only folder)
        record = summarize_run(instance, result.run_id, settings, trigger)
        record.reason += f" ({error})"
        return record


def record_up_to_date(settings: Settings):
    """Log a refresh that found nothing to do: same files, as-of date and project."""
    from uuid import uuid4

    from pipelines.storage import RunRecord, append_run_record, project_fingerprint

    now = datetime.now().astimezone().isoformat(timespec="seconds")
    record = RunRecord(
        run_id=str(uuid4()),
        started_at=now,
        ended_at=now,
        outcome="succeeded",
        as_of=settings.as_of.isoformat(),
        trigger="cli",
        files=[],
        checks_passed=0,
        checks_failed=[],
        published=False,
        project_fingerprint=project_fingerprint(),
        dbt_vars=settings.dbt_vars,
        reason="no new or changed extract files, same as-of date and models as the last "
        "publish: the warehouse is up to date (use --force to rebuild anyway)",
    )
    append_run_record(settings, record)
    return record


def print_run_summary(record, seconds: float) -> None:
    print()
    print(f"Refresh {record.outcome.upper()} as of {record.as_of} in {seconds:.1f} s")
    per_extract: dict[str, list[int]] = {}
    for f in record.files:
        counts = per_extract.setdefault(f["extract"], [0, 0, 0, 0, 0])
        counts[0] += f["status"] == "loaded"
        counts[1] += f["status"] == "rejected"
        counts[2] += f["rows_read"]
        counts[3] += f["rows_loaded"]
        counts[4] += f["rows_quarantined"]
    if per_extract:
        print(
            f"  {'extract':<22}{'files':>6}{'rejected':>9}{'read':>12}{'loaded':>12}"
            f"{'quarantined':>13}"
        )
        for extract, (files, rejected, read, loaded, quarantined) in sorted(per_extract.items()):
            print(
                f"  {extract:<22}{files:>6}{rejected:>9}{read:>12,}{loaded:>12,}{quarantined:>13,}"
            )
    elif record.outcome == "succeeded":
        print("  no new or changed extract files")
    else:
        print("  no extract file was loaded")
    print(f"  checks: {record.checks_passed} passed, {len(record.checks_failed)} failed")
    for name in record.checks_failed[:20]:
        print(f"    FAILED {name}")
    print(f"  {record.reason}")


def cmd_refresh(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not settings.raw_dir.is_dir():
        print(
            f"error: raw directory {settings.raw_dir} does not exist "
            "(run `customer-warehouse generate` for demo data)",
            file=sys.stderr,
        )
        return 2
    if settings.warehouse_dir.exists() and not settings.warehouse_dir.is_dir():
        print(
            f"error: the warehouse folder {settings.warehouse_dir} is a file, not a folder "
            "(--warehouse-dir, CW_WAREHOUSE_DIR); nothing was refreshed",
            file=sys.stderr,
        )
        return 2
    print(
        f"Refreshing {settings.published_path} from {settings.raw_dir} as of {settings.as_of}",
        file=sys.stderr,
    )
    started = time.perf_counter()
    try:
        if not args.force and is_up_to_date(settings):
            record = record_up_to_date(settings)
            elapsed = time.perf_counter() - started
            print(f"Refresh SUCCEEDED as of {settings.as_of} in {elapsed:.1f} s")
            print(f"  {record.reason}")
            return 0
    except RefreshError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.force:
        settings = settings.with_overrides(rebuild_models=True)
    record = run_refresh(settings, quiet=args.quiet)
    print_run_summary(record, time.perf_counter() - started)
    if record.outcome != "succeeded":
        hint = _disk_space_hint(settings)
        if hint:
            print(f"  {hint}")
        # Last on stderr too, below Dagster's log of the failed step: what happened, in one line.
        print(f"error: {record.reason}{' ' + hint if hint else ''}", file=sys.stderr)
        return 1
    return 0


def _disk_space_hint(settings: Settings) -> str:
    """After a failed refresh: say so when the warehouse folder's disk is (nearly) full, the
    cause hidden behind a failed dbt model or a DuckDB write error."""
    import shutil

    try:
        free = shutil.disk_usage(settings.warehouse_dir).free
        size = settings.published_path.stat().st_size if settings.published_path.exists() else 0
    except OSError:
        return ""
    if free >= size + 64 * 2**20:
        return ""
    return (
        f"The disk holding {settings.warehouse_dir} is nearly full ({free / 2**20:.1f} MiB "
        "free; a refresh needs room for a copy of the warehouse and its growth): free space, "
        "then refresh again."
    )


# ---- status / rollback -------------------------------------------------------------------------
def cmd_status(args: argparse.Namespace) -> int:
    from pipelines.storage import history, open_published, read_run_records

    settings = _settings(args)
    records = read_run_records(settings)
    if not records:
        print(f"No refresh has run yet for {settings.warehouse_dir}.")
        return 1
    last = records[-1]
    print(
        f"Last refresh: {last['outcome']} (as of {last['as_of']}, {last['trigger']}), "
        f"started {last['started_at']}, ended {last['ended_at']}"
    )
    print(f"  {last['reason']}")
    for name in last["checks_failed"]:
        print(f"  FAILED check {name}")
    good = next((r for r in reversed(records) if r["outcome"] == "succeeded"), None)
    if settings.published_path.exists():
        modified = datetime.fromtimestamp(settings.published_path.stat().st_mtime)
        age_hours = (datetime.now() - modified).total_seconds() / 3600
        print(
            f"Published warehouse: {settings.published_path} "
            f"({settings.published_path.stat().st_size / 2**20:.1f} MiB, published "
            f"{modified:%Y-%m-%d %H:%M}, {age_hours:.1f} h ago; "
            f"as of {good['as_of'] if good else 'unknown'})"
        )
        print(f"  {len(history(settings))} earlier publish(es) kept for rollback")
        con = open_published(settings.published_path)
        try:
            rejected = con.execute(
                "select extract, file_name, message from raw.file_manifest "
                "where status = 'rejected' order by extract, file_name"
            ).fetchall()
            quarantine = con.execute(
                "select extract, rule, count(*) from raw.quarantine group by all order by all"
            ).fetchall()
        finally:
            con.close()
        for extract, file_name, message in rejected:
            print(f"  rejected file {extract}/{file_name}: {message}")
        if quarantine:
            print("  quarantined rows:")
            for extract, rule, count in quarantine:
                print(f"    {extract:<22}{rule:<30}{count:>10,}")
    else:
        print("Nothing published yet.")
    return 0 if last["outcome"] == "succeeded" else 1


def cmd_rollback(args: argparse.Namespace) -> int:
    from pipelines.storage import RefreshError, rollback

    settings = _settings(args)
    try:
        restored = rollback(settings)
    except RefreshError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Rolled back: {settings.published_path} is again the publish {restored.name}")
    return 0


def cmd_reopen(args: argparse.Namespace) -> int:
    from pipelines.exports import ExportError, month_end

    try:
        month_end(args.month)
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    os.environ["CW_REOPEN_MONTHS"] = args.month
    settings = _settings(args).with_overrides(reopen_months=(args.month,))
    print(
        f"Reopening {args.month}: refreezing it with today's data as of {settings.as_of}",
        file=sys.stderr,
    )
    started = time.perf_counter()
    record = run_refresh(settings, trigger="reopen", quiet=args.quiet)
    print_run_summary(record, time.perf_counter() - started)
    return 0 if record.outcome == "succeeded" else 1


# ---- export -----------------------------------------------------------------------------------
def cmd_export(args: argparse.Namespace) -> int:
    from pipelines.exports import ExportError, export_receivables

    settings = _settings(args)
    try:
        written = export_receivables(
            settings,
            args.month,
            args.format,
            Path(args.out_dir).resolve() if args.out_dir else None,
        )
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


# ---- bench ------------------------------------------------------------------------------------
def cmd_bench(args: argparse.Namespace) -> int:
    from pipelines.bench import format_table, run_benchmark, write_result

    result = run_benchmark(
        args.customers,
        args.months,
        keep=args.keep,
        file_format=args.format,
        full_only=args.full_only,
        progress=lambda message: print(f"bench: {message}", file=sys.stderr),
    )
    path = write_result(result)
    print(format_table(result))
    print(f"  written to {path}")
    return 0


# ---- import -----------------------------------------------------------------------------------
def cmd_import(args: argparse.Namespace) -> int:
    from pipelines.mapping import MappingError, parse_param, run_import, write_report

    to_dir = Path(args.to).resolve() if args.to else load_settings().raw_dir
    try:
        params = dict(parse_param(p) for p in args.param)
        report = run_import(
            Path(args.mapping).resolve(),
            Path(args.from_dir).resolve(),
            to_dir,
            params=params,
            dry_run=args.dry_run,
        )
    except MappingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(report.lines()))
    if args.report:
        write_report(report, Path(args.report).resolve())
    return 0 if report.ok else 1


# ---- argument parsing --------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="customer-warehouse",
        description="Customer-management data warehouse: extracts -> DuckDB -> dbt marts.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def locations(sub: argparse.ArgumentParser, raw: bool = True) -> None:
        if raw:
            sub.add_argument("--raw-dir", help="extract folders (env CW_RAW_DIR; data/raw)")
        sub.add_argument(
            "--warehouse-dir",
            help="where warehouse.duckdb lives (env CW_WAREHOUSE_DIR; data/warehouse)",
        )

    generate = commands.add_parser("generate", help="write deterministic demo extracts")
    generate.add_argument("--raw-dir", help="output folder (env CW_RAW_DIR; data/raw)")
    generate.add_argument("--customers", type=int, default=2000)
    generate.add_argument("--months", type=int, default=24)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--end-date", type=_date, help="last day of history (default yesterday)")
    generate.add_argument("--format", choices=["csv", "parquet"], default="csv")
    generate.set_defaults(handler=cmd_generate)

    refresh = commands.add_parser("refresh", help="load, validate, build and publish")
    locations(refresh)
    refresh.add_argument("--as-of", type=_date, help="compute marts as of this date (env CW_AS_OF)")
    refresh.add_argument("--quiet", action="store_true", help="only warnings and the summary")
    refresh.add_argument(
        "--var",
        type=_dbt_var,
        action="append",
        metavar="NAME=VALUE",
        help="override a business default (a dbt var of dbt_project.yml) for this refresh, "
        "e.g. --var complaint_handling_cost=150 (env CW_DBT_VARS as JSON)",
    )
    refresh.add_argument(
        "--engine",
        choices=ENGINES,
        help="engine that builds the models: duckdb, or spark / postgres with the same models "
        "(env CW_ENGINE; duckdb; docs/engines.md)",
    )
    refresh.add_argument(
        "--force",
        action="store_true",
        help="rebuild every model from all history (dbt --full-refresh), even when nothing "
        "changed since the last publish; closed receivables months stay as published",
    )
    refresh.set_defaults(handler=cmd_refresh)

    status = commands.add_parser("status", help="last refresh, freshness, failures")
    locations(status, raw=False)
    status.set_defaults(handler=cmd_status)

    reopen = commands.add_parser(
        "reopen", help="refreeze a closed receivables month with today's data (a refresh)"
    )
    reopen.add_argument("--month", required=True, help="the closed month, YYYY-MM")
    reopen.add_argument("--as-of", type=_date, help="as-of date of the refresh (env CW_AS_OF)")
    reopen.add_argument("--quiet", action="store_true", help="only warnings and the summary")
    reopen.add_argument(
        "--engine", choices=ENGINES, help="engine that builds the models (env CW_ENGINE; duckdb)"
    )
    locations(reopen)
    reopen.set_defaults(handler=cmd_reopen)

    export = commands.add_parser("export", help="write finance's monthly receivables export")
    export.add_argument("what", choices=["receivables"])
    export.add_argument("--month", required=True, help="the month, YYYY-MM")
    export.add_argument("--format", choices=["xlsx", "csv", "parquet"], default="xlsx")
    export.add_argument("--out-dir", help="default <warehouse-dir>/exports")
    locations(export, raw=False)
    export.set_defaults(handler=cmd_export)

    bench = commands.add_parser("bench", help="measure refresh speed, memory and query latency")
    bench.add_argument("--customers", type=int, default=100_000)
    bench.add_argument("--months", type=int, default=24)
    bench.add_argument("--format", choices=["csv", "parquet"], default="csv")
    bench.add_argument(
        "--keep",
        action="store_true",
        help="keep the generated data under benchmarks/data/ for the next run",
    )
    bench.add_argument(
        "--full-only",
        action="store_true",
        help="measure T_floor, the full refresh and the queries only: the incremental refresh "
        "copies the published warehouse, which needs its size again in free disk",
    )
    bench.set_defaults(handler=cmd_bench)

    rollback = commands.add_parser("rollback", help="serve the previous publish again")
    locations(rollback, raw=False)
    rollback.set_defaults(handler=cmd_rollback)

    import_ = commands.add_parser(
        "import", help="map a source system's own exports onto the raw contract (docs/mappings.md)"
    )
    import_.add_argument(
        "--mapping", required=True, help="the mapping YAML (e.g. mappings/olist.yaml)"
    )
    import_.add_argument("--from", dest="from_dir", required=True, help="folder with the exports")
    import_.add_argument("--to", help="raw extract folders to write (env CW_RAW_DIR; data/raw)")
    import_.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a params: value of the mapping (repeatable)",
    )
    import_.add_argument("--dry-run", action="store_true", help="report only, write nothing")
    import_.add_argument("--report", help="also write the import report as JSON to this file")
    import_.set_defaults(handler=cmd_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)
