"""Deletes by key against whole-table comparisons, statement by statement, on a built warehouse.

    python -m benchmarks.deletes [--warehouse data/bench/warehouse_dbt.duckdb] [--repeat 3]

Copies the warehouse (a benchmark's, after its incremental day) to a temporary file of the same
name, then times in DuckDB (2 threads, 1500MB, each statement in a transaction rolled back,
best of `--repeat`) what drops the rows the shop deleted, per model:

- before: the anti-join of the whole model with the whole table above it (staging against
  raw, the order facts and the customers against staging);
- after: the delete by the keys the loads deleted (macros drop_rows_the_source_deleted and
  drop_rows_deleted_upstream), with the check that decides it (a reload to take in);

and the utm pairs `fct_orders` holds: joined from staging before, read from the fact after.
It prints one table: statement, rows of the model, before ms, after ms.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

COMPLETED = "select load_id from raw_shop._dlt_loads where status = 0"

# (model, its key, the table above it, raw's table of the deleted keys or the staging view)
STAGING = [
    ("staging.stg_shop__orders", "order_id", "raw_shop.orders", "raw_shop._deleted_orders"),
    (
        "staging.stg_shop__order_items",
        "order_item_id",
        "raw_shop.order_items",
        "raw_shop._deleted_order_items",
    ),
    ("staging.stg_shop__payments", "payment_id", "raw_shop.payments", "raw_shop._deleted_payments"),
]
DOWNSTREAM = [
    (
        "marts.fct_orders",
        "order_id",
        "staging.stg_shop__orders",
        "staging.stg_shop__deleted_orders",
    ),
    (
        "marts.fct_order_items",
        "order_item_id",
        "staging.stg_shop__order_items",
        "staging.stg_shop__deleted_order_items",
    ),
    (
        "intermediate.int_orders_joined_to_items_and_payments",
        "order_id",
        "staging.stg_shop__orders",
        "staging.stg_shop__deleted_orders",
    ),
    (
        "marts.dim_customers",
        "customer_id",
        "staging.stg_shop__customers",
        "staging.stg_shop__deleted_customers",
    ),
]


def staging_after(model: str, key: str, deleted: str) -> list[str]:
    newest = (
        f"select max(_dlt_load_id) from {deleted} where _reloaded and _dlt_load_id in ({COMPLETED})"
    )
    return [
        newest,
        f"select count(*) from (select 1 from {model} where _load_id >= ({newest}) limit 1)",
        f"delete from {model} as held using {deleted} as gone where not gone._reloaded "
        f"and gone.{key} = held.{key} and gone._dlt_load_id > held._load_id "
        f"and gone._dlt_load_id in ({COMPLETED})",
    ]


def downstream_after(model: str, key: str, parent: str, deleted: str) -> list[str]:
    return [
        f"select count(*) from {deleted} where is_reload and _completed_at > "
        f"(select coalesce(max(_built_at), cast('1900-01-01' as timestamp)) from {model})",
        f"delete from {model} where {key} in (select gone.{key} from {deleted} as gone "
        f"where not gone.is_reload and gone.{key} not in (select kept.{key} from {parent} as kept "
        f"where kept.{key} in (select again.{key} from {deleted} as again "
        f"where not again.is_reload)))",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--warehouse", default="data/bench/warehouse_dbt.duckdb")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    source = Path(args.warehouse)
    if not source.exists():
        raise SystemExit(f"benchmarks.deletes: {source} does not exist; run benchmarks.warehouse")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / source.name  # same name: the views name the file's catalog
        shutil.copyfile(source, copy)
        con = duckdb.connect(str(copy))
        con.execute("set threads = 2; set memory_limit = '1500MB'")

        def best(statements: list[str]) -> float:
            times = []
            for _ in range(args.repeat):
                con.execute("begin")
                started = time.perf_counter()
                for sql in statements:
                    con.execute(sql).fetchall()
                times.append(time.perf_counter() - started)
                con.execute("rollback")
            return min(times) * 1000

        def rows(relation: str) -> int:
            return int((con.sql(f"select count(*) from {relation}").fetchone() or (0,))[0])

        table = []
        for model, key, above, deleted in STAGING:
            before = best([f"delete from {model} where {key} not in (select {key} from {above})"])
            table.append((model, rows(model), before, best(staging_after(model, key, deleted))))
        for model, key, parent, deleted in DOWNSTREAM:
            before = best([f"delete from {model} where {key} not in (select {key} from {parent})"])
            after = best(downstream_after(model, key, parent, deleted))
            table.append((model, rows(model), before, after))
        utm_before = best(
            [
                "select distinct orders.utm_campaign_normalized, facts.campaign_id "
                "from marts.fct_orders as facts inner join staging.stg_shop__orders as orders "
                "on facts.order_id = orders.order_id "
                "where orders.utm_campaign_normalized is not null"
            ]
        )
        utm_after = best(
            [
                "select distinct lower(facts.utm_campaign), facts.campaign_id "
                "from marts.fct_orders as facts where facts.utm_campaign is not null"
            ]
        )
        table.append(
            ("fct_orders: the utm pairs it holds", rows("marts.fct_orders"), utm_before, utm_after)
        )
        con.close()
    print(
        f"\n{'statement (drop what the shop deleted, per model)':58s} {'rows':>11s} {'before ms':>10s} {'after ms':>9s}"
    )
    for name, n, before, after in table:
        print(f"{name:58s} {n:>11,} {before:>10.1f} {after:>9.1f}")
    total_before = sum(r[2] for r in table)
    total_after = sum(r[3] for r in table)
    print(f"{'total':58s} {'':>11s} {total_before:>10.1f} {total_after:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
