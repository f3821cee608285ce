"""Soak test: refreshes in a loop while dashboard-style readers query the published warehouse.

For at least ``--minutes`` (default 10) it delivers a small new extract file (alternately order
lines and interactions, each with one row that must be quarantined) and runs a refresh, again and
again, while ``--readers`` processes open ``warehouse.duckdb`` read-only in a loop and count rows
of a raw, a staging and an intermediate table in one query. At the end it prints:

- refreshes completed (and failed, with their reasons),
- reader queries served, reader errors (must be 0) and reads that match no publish (must be 0),
- rows delivered and rows lost (must be 0): every row of every delivered file is in its raw table
  or in raw.quarantine.

Not run in CI (see docs/reliability.md). Usage, from the repository root:

    .venv/bin/python scripts/soak.py --minutes 10
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
AS_OF = date(2026, 10, 31)
COUNTS_SQL = (
    "select (select count(*) from raw.sales_order_lines),"
    " (select count(*) from staging.stg_erp__sales_order_lines),"
    " (select count(*) from intermediate.int_sales__order_lines),"
    " (select count(*) from raw.interactions)"
)
READER = r"""
import json, os, sys, time
from pathlib import Path
from pipelines.storage import open_published
path, out, stop, sql = sys.argv[1:5]
served = errors = 0
seen, samples = {}, []
while not os.path.exists(stop):
    try:
        con = open_published(Path(path))
        try:
            row = json.dumps(con.execute(sql).fetchone())
        finally:
            con.close()
        served += 1
        seen[row] = seen.get(row, 0) + 1
    except Exception as error:
        errors += 1
        if len(samples) < 5:
            samples.append(repr(error))
    time.sleep(0.05)
with open(out, "w") as log:
    json.dump({"served": served, "errors": errors, "samples": samples, "seen": seen}, log)
"""


def cli(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def first_ids(raw: Path, extract: str, count: int) -> list[str]:
    [path] = sorted((raw / extract).glob("*.csv"))[:1]
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle)
        next(rows)
        return [row[0] for _, row in zip(range(count), rows, strict=False)]


def deliver(raw: Path, night: int, rows: int) -> Path:
    """A small new extract file with fresh keys; its last row names an unknown customer."""
    customers = first_ids(raw, "customers", 20)
    day = AS_OF.isoformat()
    if night % 2:
        path = raw / "interactions" / f"soak_{night:04d}.csv"
        header = "interaction_id,customer_id,interaction_date,kind,cost"
        lines = [
            f"SOAK{night:04d}-{n},{customers[n % len(customers)]},{day},service_call,{n}.50"
            for n in range(rows - 1)
        ]
        lines.append(f"SOAK{night:04d}-X,NOBODY,{day},service_call,-1")  # negative cost
    else:
        path = raw / "sales_order_lines" / f"soak_{night:04d}.csv"
        product = first_ids(raw, "products", 1)[0]
        header = "order_id,line_no,order_date,customer_id,product_id,quantity,unit_price"
        lines = [
            f"SOAK{night:04d},{n},{day},{customers[n % len(customers)]},{product},1,9.90"
            for n in range(1, rows)
        ]
        lines.append(f"SOAK{night:04d},{rows},{day},NOBODY,{product},1,9.90")  # unknown customer
    path.write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_counts(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return json.dumps(con.execute(COUNTS_SQL).fetchone())
    finally:
        con.close()


def rows_lost(raw: Path, published: Path) -> tuple[int, int, int, int, list[str]]:
    """Rows delivered (counted here with Python's csv reader, independently of the loader),
    rows found in raw tables and in the quarantine, and rows found in neither."""
    delivered = loaded = quarantined = lost = 0
    problems = []
    con = duckdb.connect(str(published), read_only=True)
    try:
        for folder in sorted(p for p in raw.iterdir() if p.is_dir()):
            for path in sorted(folder.glob("*.csv")):
                with path.open(encoding="utf-8", newline="") as handle:
                    count = sum(1 for _ in csv.reader(handle)) - 1
                in_raw = con.execute(
                    f"select count(*) from raw.{folder.name} where _source_file = ?", [path.name]
                ).fetchone()[0]
                in_quarantine = con.execute(
                    "select count(*) from raw.quarantine where extract = ? and file_name = ?",
                    [folder.name, path.name],
                ).fetchone()[0]
                delivered += count
                loaded += in_raw
                quarantined += in_quarantine
                if in_raw + in_quarantine != count:
                    lost += max(count - in_raw - in_quarantine, 0)
                    problems.append(
                        f"{folder.name}/{path.name}: delivered {count}, in raw {in_raw}, "
                        f"quarantined {in_quarantine}"
                    )
    finally:
        con.close()
    return delivered, loaded, quarantined, lost, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10, help="run at least this long")
    parser.add_argument("--readers", type=int, default=2, help="reader processes")
    parser.add_argument("--rows", type=int, default=25, help="rows per delivered file")
    parser.add_argument("--customers", type=int, default=150, help="size of the demo data")
    parser.add_argument("--workdir", help="where raw/ and warehouse/ go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="cw-soak-")).resolve()
    raw, warehouse = workdir / "raw", workdir / "warehouse"
    published = warehouse / "warehouse.duckdb"
    location = ["--raw-dir", str(raw), "--warehouse-dir", str(warehouse)]
    refresh_args = ["refresh", *location, "--as-of", AS_OF.isoformat(), "--quiet"]
    print(f"soak in {workdir}: {args.minutes:g} min, {args.readers} readers", flush=True)

    generated = cli("generate", "--raw-dir", str(raw), "--customers", str(args.customers),
                    "--months", "26", "--seed", "7", "--end-date", AS_OF.isoformat())  # fmt: skip
    if generated.returncode != 0:
        print(generated.stderr[-3000:])
        return 2
    first = cli(*refresh_args)
    if first.returncode != 0:
        print("the first refresh failed:\n" + first.stdout[-3000:] + first.stderr[-3000:])
        return 2
    publishes = {read_counts(published)}

    stop = workdir / "stop-readers"
    stop.unlink(missing_ok=True)
    readers = []
    for n in range(args.readers):
        log = workdir / f"reader-{n}.json"
        process = subprocess.Popen(
            [sys.executable, "-c", READER, str(published), str(log), str(stop), COUNTS_SQL]
        )
        readers.append((process, log))

    completed, failed = 0, []
    started = time.monotonic()
    deadline = started + args.minutes * 60
    night = 0
    try:
        while time.monotonic() < deadline:
            night += 1
            deliver(raw, night, args.rows)
            began = time.monotonic()
            result = cli(*refresh_args)
            seconds = time.monotonic() - began
            if result.returncode == 0:
                completed += 1
                publishes.add(read_counts(published))
            else:
                reason = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
                failed.append(f"night {night}: {reason[:300]}")
            print(
                f"  night {night}: refresh {'ok' if result.returncode == 0 else 'FAILED'}"
                f" in {seconds:.0f} s",
                flush=True,
            )
    finally:
        stop.touch()
        for process, _ in readers:
            process.wait(timeout=300)

    served = errors = mixed = 0
    samples = []
    for _, log in readers:
        report = json.loads(log.read_text())
        served += report["served"]
        errors += report["errors"]
        samples += report["samples"]
        mixed += sum(n for row, n in report["seen"].items() if row not in publishes)
    delivered, loaded, quarantined, lost, problems = rows_lost(raw, published)
    minutes = (time.monotonic() - started) / 60

    print(f"soak finished after {minutes:.1f} min ({night} nights delivered)")
    print(f"refreshes completed: {completed}")
    print(f"refreshes failed: {len(failed)}")
    for line in failed[:10]:
        print(f"  {line}")
    print(f"reader queries served: {served}")
    print(f"reader errors: {errors}")
    for sample in samples[:5]:
        print(f"  {sample}")
    print(f"reads matching no publish: {mixed}")
    print(f"rows delivered: {delivered} (in raw tables {loaded}, quarantined {quarantined})")
    print(f"rows lost: {lost}")
    for problem in problems[:10]:
        print(f"  {problem}")
    if not args.keep and not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    ok = not failed and errors == 0 and mixed == 0 and lost == 0 and completed > 0
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("DO_NOT_TRACK", "1")
    sys.exit(main())
