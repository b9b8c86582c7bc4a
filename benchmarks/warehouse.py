"""Warehouse benchmark: the whole pipeline on a big world, full then incremental, with dbt's times.

    python -m benchmarks.warehouse [--orders 2000000] [--reuse-world] [--fraction 0.01]

Builds (or reuses) a world of `--orders` orders on the MariaDB and PostgreSQL servers (the
same databases and work folder as benchmarks.loaders, so one world serves both), serves its
HubSpot portal with the emulator (HubSpot's rate limits lifted: the HubSpot loader has its own
benchmark, benchmarks.hubspot), then measures, each step in its own process:

1. `python -m loaders.run --source all` into an empty warehouse;
2. `dbt build` (seeds, models, snapshots, tests) from scratch;
3. a day of change touching `--fraction` of the rows, the loaders again (incremental);
4. `dbt build` again: incremental facts, snapshots taking the changes.

It prints wall seconds and peak RSS per step, the slowest dbt nodes, and the data-quality
report (dq_rule_results: rows checked, failing, rate per rule) of the last build.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import duckdb

from benchmarks.loaders import measured
from scripts.dq_report import print_dq_report

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "pat-na1-benchmark-token"  # noqa: S105  # the emulator's  # pragma: allowlist secret


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=2_000_000)
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--reuse-world", action="store_true")
    parser.add_argument(
        "--reuse-raw",
        action="store_true",
        help="keep the raw schemas of the previous run (skips the first load; dbt's schemas are dropped)",
    )
    parser.add_argument("--work-dir", default="data/bench")
    args = parser.parse_args(argv)

    from world.hubspot_emulator import EmulatorConfig, HubSpotEmulator

    work = Path(args.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    world_dir = work / "world"
    py = sys.executable
    shop_url = os.environ.get(
        "SHOP_DATABASE_URL", "mysql://root@127.0.0.1:3306/shopsphere_bench_shop"
    )
    catalog_url = os.environ.get(
        "CATALOG_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/shopsphere_bench_catalog"
    )
    steps: list[tuple[str, float, float]] = []

    def step(name: str, argv: list[str], env: dict[str, str]) -> str:
        print(f"-- {name} ...", flush=True)
        wall, rss, out, rc = measured(argv, env)
        if rc:
            print(out[-3000:])
            raise SystemExit(f"benchmark: step '{name}' failed (exit {rc})")
        steps.append((name, wall, rss))
        return out

    if not args.reuse_world or not (world_dir / "manifest.json").exists():
        world_cmd = [py, "-m", "world", "--world-dir", str(world_dir), "create"]
        world_cmd += ["--orders", str(args.orders), "--shop-url", shop_url]
        world_cmd += ["--catalog-url", catalog_url]
        step("world: create", world_cmd, {**os.environ})
    manifest = json.loads((world_dir / "manifest.json").read_text())

    from world.urls import DbUrl

    warehouse = work / "warehouse_dbt.duckdb"
    reuse_raw = args.reuse_raw and warehouse.exists()
    if reuse_raw:
        drop_dbt_schemas(str(warehouse))
    else:
        for stale in (warehouse, work / "warehouse_dbt.duckdb.wal"):
            stale.unlink(missing_ok=True)
        shutil.rmtree(work / "dlt_dbt", ignore_errors=True)
    target = work / "target_dbt"
    shutil.rmtree(target, ignore_errors=True)

    limits = EmulatorConfig(
        tokens={TOKEN}, interval_max=1_000_000, search_per_second=1_000, daily_max=10**9
    )
    emulator = HubSpotEmulator(manifest["hubspot_store"], limits).start()
    try:
        base = {
            k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))
        }
        env = {
            **base,
            "SOURCES__SHOP__CREDENTIALS": DbUrl.parse(manifest["shop_url"]).sqlalchemy(),
            "SOURCES__CATALOG__CREDENTIALS": DbUrl.parse(manifest["catalog_url"]).sqlalchemy(),
            "SOURCES__HUBSPOT__ACCESS_TOKEN": TOKEN,
            "SOURCES__HUBSPOT__BASE_URL": emulator.base_url,
            "SHOPSPHERE_DUCKDB_PATH": str(warehouse),
            "SHOPSPHERE_PIPELINES_DIR": str(work / "dlt_dbt"),
            "DBT_PROFILES_DIR": str(ROOT),
            "DBT_TARGET_PATH": str(target),
            "DBT_LOG_PATH": str(target / "logs"),
            "RUNTIME__LOG_LEVEL": "WARNING",
        }
        dbt = [str(Path(py).parent / "dbt"), "build", "--target", "dev", "--quiet"]
        if not reuse_raw:
            step("loaders: full", [py, "-m", "loaders.run", "--source", "all"], env)
        step("dbt build: full", dbt, env)
        slow_full = slowest(target)
        change = [py, "-m", "world", "--world-dir", str(world_dir), "change"]
        step("world: a day of change", [*change, "--fraction", str(args.fraction)], {**os.environ})
        step("loaders: incremental", [py, "-m", "loaders.run", "--source", "all"], env)
        step("dbt build: incremental", dbt, env)
        slow_incremental = slowest(target)
    finally:
        emulator.stop()

    print_report(args, steps, slow_full, slow_incremental, str(warehouse))
    return 0


def drop_dbt_schemas(warehouse: str) -> None:
    """Everything but what the loaders wrote, so that dbt builds from scratch."""
    with duckdb.connect(warehouse) as con:
        schemas = con.sql(
            """select schema_name from information_schema.schemata
               where catalog_name = current_database()
                 and schema_name not like 'raw\\_%' escape '\\'
                 and schema_name not in ('loader_audit', 'main', 'information_schema', 'pg_catalog')"""
        ).fetchall()
        for (schema,) in schemas:
            con.execute(f'drop schema "{schema}" cascade')


def slowest(target: Path, n: int = 6) -> list[tuple[str, float]]:
    results = json.loads((target / "run_results.json").read_text())["results"]
    timed = [(r["unique_id"].split(".")[-1], r["execution_time"]) for r in results]
    return sorted(timed, key=lambda t: -t[1])[:n]


def print_report(
    args: argparse.Namespace,
    steps: list[tuple[str, float, float]],
    slow_full: list[tuple[str, float]],
    slow_incremental: list[tuple[str, float]],
    warehouse: str,
) -> None:
    with duckdb.connect(warehouse, read_only=True) as con:
        sizes = dict(
            con.sql(
                """select 'orders', count(*) from marts.fct_orders union all
                   select 'order items', count(*) from marts.fct_order_items union all
                   select 'customers', count(*) from marts.dim_customers union all
                   select 'products', count(*) from marts.dim_products"""
            ).fetchall()
        )
    print()
    print(f"warehouse benchmark: world of {args.orders:,} orders, change fraction {args.fraction}")
    print("  marts: " + ", ".join(f"{v:,} {k}" for k, v in sizes.items()))
    print()
    print(f"{'step':<28}{'wall s':>10}{'peak RSS MB':>14}")
    for name, wall, rss in steps:
        print(f"{name:<28}{wall:>10.1f}{rss:>14.0f}")
    print()
    for title, slow in (("full", slow_full), ("incremental", slow_incremental)):
        print(f"slowest dbt nodes, {title} build: " + ", ".join(f"{n} {s:.1f}s" for n, s in slow))
    print()
    with duckdb.connect(warehouse, read_only=True) as con:
        print_dq_report(con, digits=4)


if __name__ == "__main__":
    raise SystemExit(main())
