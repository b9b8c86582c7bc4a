"""Warehouse benchmark: a whole day of the pipeline on a big world, full then incremental.

    python -m benchmarks.warehouse [--orders 2000000] [--reuse-world] [--fraction 0.01]

Builds (or reuses) a world of `--orders` orders on the MariaDB and PostgreSQL servers (the
same databases and work folder as benchmarks.loaders, so one world serves both), serves its
HubSpot portal with the emulator (HubSpot's rate limits lifted: the HubSpot loader has its own
benchmark, benchmarks.hubspot), then measures the daily run's steps, each in its own process:

1. full: `python -m loaders.run --source all` into an empty warehouse, the daily job's
   `dbt build --exclude tag:history` (seeds, models, snapshots, tests) from scratch,
   `dbt docs generate`, `python -m reports build`;
2. a day of change touching `--fraction` of the rows;
3. incremental: the same four steps again (incremental loads and facts, snapshots taking the
   changes, tests reading the rows the build wrote);
   the dbt build is the daily job's: what has new data (`python -m orchestration.build_plan`);
   then once more with nothing loaded since (no change: dbt is not started);
4. weekly: the history job's `dbt test --vars '{test_history: true}'` (every test, every row).

It prints wall seconds, rows and peak RSS per step, the slowest dbt nodes, and the
data-quality report (dq_rule_results: rows checked, failing, rate per rule) of the last build.
`benchmarks.scale` runs it at several sizes and prints the curve.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import duckdb

from benchmarks.loaders import CATALOG_URL, SHOP_URL, measured
from benchmarks.worlds import create_world_command
from scripts.dq_report import print_dq_report

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "pat-na1-benchmark-token"  # noqa: S105  # the emulator's  # pragma: allowlist secret
DAY_STEPS = ("loaders", "dbt build", "dbt docs", "reports")


@dataclasses.dataclass
class Step:
    name: str
    phase: str  # world | full | incremental
    wall: float
    rss: float
    rows: int = 0  # rows the step processed: landed or deleted (loaders), orders held (others)


@dataclasses.dataclass
class Day:
    """What one benchmark run measured."""

    orders: int
    fraction: float
    steps: list[Step]
    slowest: dict[str, list[tuple[str, float]]]
    warehouse: Path

    def step(self, phase: str, name: str) -> Step | None:
        return next((s for s in self.steps if s.phase == phase and s.name == name), None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=2_000_000)
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--reuse-world", action="store_true")
    parser.add_argument(
        "--contacts", type=int, help="HubSpot contacts of a new world (default: from customers)"
    )
    parser.add_argument(
        "--reuse-raw",
        action="store_true",
        help="keep the raw schemas of the previous run (skips the full load; dbt's schemas are dropped)",
    )
    parser.add_argument("--work-dir", default="data/bench")
    args = parser.parse_args(argv)
    day = run_day(
        args.orders,
        args.fraction,
        Path(args.work_dir),
        args.reuse_world,
        args.contacts,
        reuse_raw=args.reuse_raw,
        # The servers of benchmarks.loaders, so that one world serves both.
        shop_url=os.environ.get("SHOP_DATABASE_URL", SHOP_URL),
        catalog_url=os.environ.get("CATALOG_DATABASE_URL", CATALOG_URL),
    )
    print_report(day)
    return 0


class StepRunner:
    """Runs a benchmark's commands one by one, measuring each (wall seconds, peak RSS); a
    failed one stops the benchmark with its output."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def __call__(self, name: str, phase: str, argv: list[str], env: dict[str, str]) -> Step:
        print(f"-- {phase}: {name} ...", flush=True)
        wall, rss, out, rc = measured(argv, env)
        if rc:
            print(out[-3000:])
            raise SystemExit(f"benchmark: step '{phase}: {name}' failed (exit {rc})")
        self.steps.append(Step(name, phase, wall, rss))
        return self.steps[-1]


def run_day(
    orders: int,
    fraction: float,
    work_dir: Path,
    reuse_world: bool = False,
    contacts: int | None = None,
    reuse_raw: bool = False,
    shop_url: str = SHOP_URL,
    catalog_url: str = CATALOG_URL,
) -> Day:
    """Create (or reuse) the world on the two database servers, then run and measure a full and
    an incremental day."""
    from world.hubspot.emulator import EmulatorConfig, HubSpotEmulator

    work = work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    world_dir = work / "world"
    step = StepRunner()
    world_cmd = create_world_command(
        world_dir, orders, shop_url, catalog_url, contacts=contacts, reuse=reuse_world
    )
    if world_cmd is not None:
        step("create", "world", world_cmd, {**os.environ})
    manifest = json.loads((world_dir / "manifest.json").read_text())
    warehouse, target, reuse_raw = fresh_warehouse(work, reuse_raw)
    limits = EmulatorConfig(
        tokens={TOKEN}, interval_max=1_000_000, search_per_second=1_000, daily_max=10**9
    )
    emulator = HubSpotEmulator(manifest["hubspot_store"], limits).start()
    slow: dict[str, list[tuple[str, float]]] = {}
    try:
        env = day_env(manifest, emulator.base_url, warehouse, work, target)
        day = day_commands(warehouse, target, work)
        for phase in ("full", "incremental"):
            if phase == "incremental":
                change = [sys.executable, "-m", "world", "--world-dir", str(world_dir), "change"]
                step(
                    "a day of change",
                    "world",
                    [*change, "--fraction", str(fraction)],
                    {**os.environ},
                )
            for name, argv in day.items():
                if name == "loaders" and phase == "full" and reuse_raw:
                    continue
                done = step(name, phase, argv, env)
                if name == "loaders":
                    done.rows = rows_landed(warehouse)
                if name == "dbt build":
                    slow[phase] = slowest(target)
                    # Every node's time, for a closer look: run_results_<phase>.json.
                    shutil.copy(target / "run_results.json", work / f"run_results_{phase}.json")
        # Nothing loaded since: the planned build finds nothing new and does not start dbt.
        step("dbt build", "no change", day["dbt build"], env)
        # The weekly job: every test on every row (not part of a day).
        dbt = str(Path(sys.executable).parent / "dbt")
        weekly = [dbt, "test", "--target", "dev", "--vars", "{test_history: true}", "--quiet"]
        step("dbt test (history)", "weekly", weekly, env)
    finally:
        emulator.stop()
    held = held_orders(warehouse)
    for s in step.steps:
        if s.phase != "world" and s.name != "loaders":
            s.rows = held
    return Day(orders, fraction, step.steps, slow, warehouse)


def fresh_warehouse(work: Path, reuse_raw: bool) -> tuple[Path, Path, bool]:
    """The warehouse and target folder a day builds into: new, or with the raw schemas a
    previous run loaded kept (`reuse_raw`, when there is one) and dbt's dropped."""
    warehouse = work / "warehouse_dbt.duckdb"
    reuse_raw = reuse_raw and warehouse.exists()
    if reuse_raw:
        drop_dbt_schemas(warehouse)
    else:
        for stale in (warehouse, work / "warehouse_dbt.duckdb.wal"):
            stale.unlink(missing_ok=True)
        shutil.rmtree(work / "dlt_dbt", ignore_errors=True)
    target = work / "target_dbt"
    shutil.rmtree(target, ignore_errors=True)
    return warehouse, target, reuse_raw


def day_env(
    manifest: dict[str, Any], hubspot_url: str, warehouse: Path, work: Path, target: Path
) -> dict[str, str]:
    """The loaders' and dbt's settings: the world's sources, this run's warehouse and target."""
    from world.urls import DbUrl

    base = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    return {
        **base,
        "SOURCES__SHOP__CREDENTIALS": DbUrl.parse(manifest["shop_url"]).sqlalchemy(),
        "SOURCES__CATALOG__CREDENTIALS": DbUrl.parse(manifest["catalog_url"]).sqlalchemy(),
        "SOURCES__HUBSPOT__ACCESS_TOKEN": TOKEN,
        "SOURCES__HUBSPOT__BASE_URL": hubspot_url,
        "SHOPSPHERE_DUCKDB_PATH": str(warehouse),
        "SHOPSPHERE_PIPELINES_DIR": str(work / "dlt_dbt"),
        "DBT_PROFILES_DIR": str(ROOT),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target / "logs"),
        "RUNTIME__LOG_LEVEL": "WARNING",
    }


def day_commands(warehouse: Path, target: Path, work: Path) -> dict[str, list[str]]:
    """A day's steps, in order, as the daily job runs them."""
    py = sys.executable
    dbt = str(Path(py).parent / "dbt")
    return {
        "loaders": [py, "-m", "loaders.run", "--source", "all"],
        # The daily job's build: what has new data (orchestration.build_plan); the tests
        # tagged history run weekly.
        "dbt build": [
            *(py, "-m", "orchestration.build_plan", "--"),
            *("--target", "dev", "--exclude", "tag:history", "--quiet"),
        ],
        "dbt docs": [dbt, "docs", "generate", "--target", "dev", "--quiet"],
        "reports": [
            *(py, "-m", "reports", "build", "--warehouse", str(warehouse)),
            *("--target-path", str(target), "--out", str(work / "reports")),
        ],
    }


def drop_dbt_schemas(warehouse: Path) -> None:
    """Everything but what the loaders wrote, so that dbt builds from scratch."""
    with duckdb.connect(str(warehouse)) as con:
        schemas = con.sql(
            """select schema_name from information_schema.schemata
               where catalog_name = current_database()
                 and schema_name not like 'raw\\_%' escape '\\'
                 and schema_name not in ('loader_audit', 'main', 'information_schema', 'pg_catalog')"""
        ).fetchall()
        for (schema,) in schemas:
            con.execute(f'drop schema "{schema}" cascade')
        con.execute("drop table if exists loader_audit.dbt_node_marks")  # orchestration.build_plan


def rows_landed(warehouse: Path) -> int:
    """Rows the last loaders run landed or deleted, all tables (loader_audit.load_runs)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (rows,) = con.sql(
            """select coalesce(sum(rows_loaded + rows_deleted), 0) from loader_audit.load_runs
               where run_id = (select run_id from loader_audit.load_runs
                               order by run_finished_at desc limit 1)"""
        ).fetchone() or (0,)
    return int(rows)


def held_orders(warehouse: Path) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (rows,) = con.sql("select count(*) from marts.fct_orders").fetchone() or (0,)
    return int(rows)


def slowest(target: Path, n: int = 6) -> list[tuple[str, float]]:
    results = json.loads((target / "run_results.json").read_text())["results"]
    timed = [(r["unique_id"].split(".")[-1], r["execution_time"]) for r in results]
    return sorted(timed, key=lambda t: -t[1])[:n]


def print_report(day: Day) -> None:
    with duckdb.connect(str(day.warehouse), read_only=True) as con:
        sizes = dict(
            con.sql(
                """select 'orders', count(*) from marts.fct_orders union all
                   select 'order items', count(*) from marts.fct_order_items union all
                   select 'customers', count(*) from marts.dim_customers union all
                   select 'products', count(*) from marts.dim_products"""
            ).fetchall()
        )
    print()
    print(f"warehouse benchmark: world of {day.orders:,} orders, change fraction {day.fraction}")
    print("  marts: " + ", ".join(f"{v:,} {k}" for k, v in sizes.items()))
    print()
    print(f"{'step':<28}{'wall s':>10}{'rows':>12}{'peak RSS MB':>14}")
    for s in day.steps:
        print(f"{s.phase + ': ' + s.name:<28}{s.wall:>10.1f}{s.rows:>12,}{s.rss:>14.0f}")
    for phase in ("full", "incremental"):
        total = sum(s.wall for s in day.steps if s.phase == phase)
        print(f"{phase + ': the whole day':<28}{total:>10.1f}")
    print()
    for phase, slow in day.slowest.items():
        print(f"slowest dbt nodes, {phase} build: " + ", ".join(f"{n} {s:.1f}s" for n, s in slow))
    print()
    with duckdb.connect(str(day.warehouse), read_only=True) as con:
        print_dq_report(con, digits=4)


if __name__ == "__main__":
    raise SystemExit(main())
