"""Loader benchmark: full and incremental loads against the fastest direct path, in one run.

    python -m benchmarks.loaders [--orders 2000000] [--reuse-world] [--fraction 0.01]

Builds (or reuses) a world of `--orders` orders on the MariaDB and PostgreSQL servers
(SHOP_DATABASE_URL / CATALOG_DATABASE_URL, default local root/postgres, databases
shopsphere_bench_shop / shopsphere_bench_catalog), then measures, each step in its own process:

1. the direct path per source: every table read in one go and written to a fresh DuckDB file
   (connectorx into DuckDB for MySQL, single and 2-way partitioned, whichever is faster;
   DuckDB's postgres scanner for PostgreSQL);
2. `python -m loaders.run --source S` into an empty warehouse (full load);
3. a day of change touching `--fraction` of the rows, then `python -m loaders.run --source S`
   again (incremental).

It prints per table and per source: rows, seconds, rows/s, the full/direct ratio, the
incremental/full time ratio, and each process's peak RSS. Figures, not pass/fail: targets are
printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from benchmarks.loader_tables import CATALOG_TABLES, SHOP_TABLES, print_modes, print_table
from benchmarks.worlds import create_world_command

ROOT = Path(__file__).resolve().parents[1]
# The benchmark world's databases (SHOP_DATABASE_URL / CATALOG_DATABASE_URL override them);
# benchmarks.warehouse uses the same, so that one world serves both.
SHOP_URL = "mysql://root@127.0.0.1:3306/shopsphere_bench_shop"
CATALOG_URL = "postgresql://postgres@127.0.0.1:5432/shopsphere_bench_catalog"
SHOP_KEYS = {
    "customers": "customer_id",
    "orders": "order_id",
    "order_items": "order_item_id",
    "payments": "payment_id",
}

# The direct path, as a standalone script run in its own process. MySQL zero dates are the
# only rewrite it needs (connectorx cannot read them), on the one column that holds them.
DIRECT = r"""
import json, sys, time, os, sysconfig
import duckdb
kind, url, out, partitions = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
tables = json.loads(sys.argv[5])
con = duckdb.connect(out)
con.execute("set enable_progress_bar = false")
times = {}
if kind == "mysql":
    import connectorx as cx
    for t, key in tables.items():
        t0 = time.perf_counter()
        cols = "*"
        if t == "payments":
            cols = ("payment_id, order_id, method, status, amount, currency, "
                    "if(processed_at < '0001-01-01', null, processed_at) as processed_at, updated_at")
        kw = {"partition_on": key, "partition_num": partitions} if partitions > 1 else {}
        arrow = cx.read_sql(url, f"select {cols} from {t}", return_type="arrow", **kw)
        con.execute(f"create table {t} as select * from arrow")
        times[t] = (time.perf_counter() - t0, arrow.num_rows)
        del arrow
else:
    ext = os.path.join(sysconfig.get_paths()["purelib"], "duckdb_ext", "extensions")
    con.execute("set extension_directory = ?", [ext]); con.execute("load postgres")
    con.execute(f"attach '{url}' as pg (type postgres, read_only)")
    for t in tables:
        t0 = time.perf_counter()
        con.execute(f"create table {t} as select * from pg.catalog.{t}")
        n = con.execute(f"select count(*) from {t}").fetchone()[0]
        times[t] = (time.perf_counter() - t0, n)
con.close()
print(json.dumps(times))
"""


def measured(argv: list[str], env: dict[str, str]) -> tuple[float, float, str, int]:
    """Run a process; (wall seconds, its peak RSS in MB, stdout, exit code)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out_chunks: list[str] = []
    err_chunks: list[str] = []
    import threading

    def drain(stream, sink):
        for line in stream:
            sink.append(line)

    readers = [
        threading.Thread(target=drain, args=(proc.stdout, out_chunks)),
        threading.Thread(target=drain, args=(proc.stderr, err_chunks)),
    ]
    for r in readers:
        r.start()
    _, status, usage = os.wait4(proc.pid, 0)
    for r in readers:
        r.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write("".join(err_chunks)[-3000:])
    return wall, usage.ru_maxrss / 1024, "".join(out_chunks), proc.returncode


def median_run(runs: list[dict[str, object]]) -> dict[str, object]:
    """The run with the median wall time (runs are whole, so its figures stay consistent)."""
    ordered = sorted(runs, key=lambda r: float(r["wall"]))  # type: ignore[arg-type]
    return ordered[len(ordered) // 2]


def audit(warehouse: str) -> dict[str, dict[str, float]]:
    with duckdb.connect(warehouse, read_only=True) as con:
        rows = con.sql(
            """select source_name || '.' || table_name, rows_extracted, rows_loaded, rows_deleted,
                      extract_seconds + load_seconds, load_mode
               from loader_audit.load_runs
               where run_id = (select run_id from loader_audit.load_runs order by run_finished_at desc limit 1)"""
        ).fetchall()
    return {
        r[0]: {"extracted": r[1], "loaded": r[2], "deleted": r[3], "seconds": r[4], "mode": r[5]}
        for r in rows
    }


class StepFailed(Exception):
    """A command the benchmark ran failed: the benchmark exits with its code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=2_000_000)
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument(
        "--reuse-world", action="store_true", help="keep the world from a previous run"
    )
    parser.add_argument("--work-dir", default="data/bench")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per measurement; the median is reported"
    )
    parser.add_argument(
        "--capture",
        choices=["cursor", "stream", "both"],
        default="cursor",
        help="how the loaders find changes; stream and both run the world on private servers "
        "with their change streams on (kept running under WORK_DIR/servers)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(args.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    world_dir = str(work / "world")
    modes = ["cursor", "stream"] if args.capture == "both" else [args.capture]
    shop, catalog = source_urls(work, modes)
    env = {**os.environ}
    try:
        ensure_world(args, world_dir, shop.sqlalchemy(), catalog.sqlalchemy(), env)
        direct = direct_paths(args, work, shop, catalog, env)
        lenvs = {mode: loader_env(work, mode, shop, catalog, env) for mode in modes}
        full = {mode: full_loads(args, work, mode, catalog, lenvs[mode]) for mode in modes}
        change_world(args, world_dir, env)
        incremental, idle = {}, {}
        for mode in modes:
            incremental[mode], idle[mode] = day_loads(work, mode, lenvs[mode])
    except StepFailed as failed:
        return failed.code
    for mode in modes:
        print_table(direct, full[mode], incremental[mode], args, mode)
    print_modes(full, incremental, idle, modes)
    results = {"direct": direct, "full": full, "incremental": incremental, "idle": idle}
    (work / "results.json").write_text(json.dumps(results, indent=2, default=str))
    return 0


def source_urls(work: Path, modes: list[str]) -> tuple[Any, Any]:
    """The shop's and the catalog's URLs: the environment's, or private servers with their
    change streams on when a mode reads streams."""
    from world.urls import DbUrl

    shop_url = os.environ.get("SHOP_DATABASE_URL", SHOP_URL)
    catalog_url = os.environ.get("CATALOG_DATABASE_URL", CATALOG_URL)
    if "stream" in modes and not os.environ.get("SHOP_DATABASE_URL"):
        from world.stream_servers import kept_servers

        mysql_admin, pg_admin = kept_servers(work / "servers")
        shop_url = mysql_admin.with_database("shopsphere_bench_shop").sqlalchemy()
        catalog_url = pg_admin.with_database("shopsphere_bench_catalog").sqlalchemy()
        print(f"stream-enabled servers: MariaDB :{mysql_admin.port}, PostgreSQL :{pg_admin.port}")
    return DbUrl.parse(shop_url), DbUrl.parse(catalog_url)


def ensure_world(
    args: argparse.Namespace, world_dir: str, shop_url: str, catalog_url: str, env: dict[str, str]
) -> None:
    argv = create_world_command(
        world_dir, args.orders, shop_url, catalog_url, reuse=args.reuse_world
    )
    if argv is None:
        return
    print(f"creating a world of {args.orders:,} orders ...", flush=True)
    done = subprocess.run(argv, cwd=ROOT, env=env, check=False)
    if done.returncode:
        raise StepFailed(done.returncode)


def direct_paths(
    args: argparse.Namespace, work: Path, shop: Any, catalog: Any, env: dict[str, str]
) -> dict[str, dict[str, object]]:
    """The direct path per source (the best of its partition counts): the floor a loader is
    measured against."""
    cx_url = f"mysql://{shop.user or 'root'}{':' + shop.password if shop.password else ''}@{shop.host}:{shop.port or 3306}/{shop.database}"
    direct: dict[str, dict[str, object]] = {}
    for source, kind, url, tables in (
        ("shop", "mysql", cx_url, {t: SHOP_KEYS[t] for t in SHOP_TABLES}),
        ("catalog", "postgres", catalog.libpq(), {t: "" for t in CATALOG_TABLES}),
    ):
        best = None
        for partitions in [1, 2] if kind == "mysql" else [1]:
            runs = [
                direct_run(work, kind, url, partitions, tables, env) for _ in range(args.repeat)
            ]
            run = median_run(runs)
            if best is None or float(run["wall"]) < float(best["wall"]):  # type: ignore[arg-type]
                best = run
        assert best is not None
        direct[source] = best
        print(
            f"direct path {source}: {best['wall']:.1f} s (partitions={best['partitions']}), peak RSS {best['rss']:.0f} MB",
            flush=True,
        )
    return direct


def direct_run(
    work: Path, kind: str, url: str, partitions: int, tables: dict[str, str], env: dict[str, str]
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        wall, rss, out, rc = measured(
            [
                sys.executable,
                "-c",
                DIRECT,
                kind,
                url,
                f"{tmp}/direct.duckdb",
                str(partitions),
                json.dumps(tables),
            ],
            env,
        )
    if rc:
        raise StepFailed(rc)
    tables_seen = json.loads(out.strip().splitlines()[-1])
    return {"wall": wall, "rss": rss, "tables": tables_seen, "partitions": partitions}


def loader_env(
    work: Path, mode: str, shop: Any, catalog: Any, env: dict[str, str]
) -> dict[str, str]:
    """The loaders' settings for one capture mode, on a warehouse and dlt folder of its own."""
    return {
        **env,
        "SOURCES__SHOP__CREDENTIALS": shop.sqlalchemy(),
        "SOURCES__CATALOG__CREDENTIALS": catalog.sqlalchemy(),
        "SOURCES__SHOP__CAPTURE": mode,
        "SOURCES__CATALOG__CAPTURE": mode,
        "SHOPSPHERE_DUCKDB_PATH": str(work / f"warehouse_{mode}.duckdb"),
        "SHOPSPHERE_PIPELINES_DIR": str(work / f"dlt_{mode}"),
    }


def full_loads(
    args: argparse.Namespace, work: Path, mode: str, catalog: Any, lenv: dict[str, str]
) -> dict[str, dict[str, object]]:
    """Each SQL source loaded in full, on a new warehouse."""
    import shutil

    warehouse = work / f"warehouse_{mode}.duckdb"
    for path in (warehouse, Path(str(warehouse) + ".wal")):
        path.unlink(missing_ok=True)
    shutil.rmtree(work / f"dlt_{mode}", ignore_errors=True)
    if mode == "stream":  # a fresh slot: the last benchmark's would start behind
        _drop_slots(catalog)
    full: dict[str, dict[str, object]] = {}
    for source in ("shop", "catalog"):
        runs = []
        for _ in range(args.repeat):
            wall, rss, _, rc = measured(
                [sys.executable, "-m", "loaders.run", "--source", source, "--full-refresh"], lenv
            )
            if rc:
                raise StepFailed(rc)
            runs.append({"wall": wall, "rss": rss, "tables": audit(str(warehouse))})
        full[source] = median_run(runs)
        print(
            f"loader full {source} ({mode}): {full[source]['wall']:.1f} s, "
            f"peak RSS {full[source]['rss']:.0f} MB",
            flush=True,
        )
    return full


def change_world(args: argparse.Namespace, world_dir: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "world",
            "--world-dir",
            world_dir,
            "change",
            "--fraction",
            str(args.fraction),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise StepFailed(done.returncode)


def day_loads(
    work: Path, mode: str, lenv: dict[str, str]
) -> tuple[dict[str, dict[str, object]], dict[str, object]]:
    """Each SQL source's incremental load after the day, then both with nothing new."""
    warehouse = work / f"warehouse_{mode}.duckdb"
    incremental: dict[str, dict[str, object]] = {}
    for source in ("shop", "catalog"):
        wall, rss, _, rc = measured([sys.executable, "-m", "loaders.run", "--source", source], lenv)
        if rc:
            raise StepFailed(rc)
        incremental[source] = {"wall": wall, "rss": rss, "tables": audit(str(warehouse))}
        print(
            f"loader incremental {source} ({mode}): {wall:.1f} s, peak RSS {rss:.0f} MB",
            flush=True,
        )
    # Nothing changed since: both SQL sources in one run, as the schedule runs them.
    wall, rss, _, rc = measured(
        [sys.executable, "-m", "loaders.run", "--source", "shop", "--source", "catalog"], lenv
    )
    if rc:
        raise StepFailed(rc)
    print(f"loader with no change, shop and catalog ({mode}): {wall:.1f} s", flush=True)
    return incremental, {"wall": wall, "rss": rss}


def _drop_slots(catalog: object) -> None:
    import psycopg2

    with psycopg2.connect(catalog.libpq()) as conn, conn.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute(
            "select pg_drop_replication_slot(slot_name) from pg_replication_slots "
            "where database = current_database() and not active"
        )


if __name__ == "__main__":
    sys.exit(main())
