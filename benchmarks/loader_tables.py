"""The loader benchmark's tables: each capture mode against the direct path, and the modes side
by side (benchmarks/loaders.py)."""

from __future__ import annotations

import argparse
import os

SHOP_TABLES = ["customers", "orders", "order_items", "payments"]
CATALOG_TABLES = ["categories", "products", "inventory_levels"]


def print_modes(full: dict, incremental: dict, idle: dict, modes: list[str]) -> None:
    """Stream and cursor side by side: each source's process wall seconds."""
    print("\nCapture modes side by side (process wall seconds)")
    head = f"{'source':<10}{'mode':<8}{'full s':>9}{'incr s':>9}{'incr/full':>11}{'RSS full':>10}{'RSS incr':>10}"
    print(head)
    print("-" * len(head))
    for source in ("shop", "catalog"):
        for mode in modes:
            f, i = full[mode][source], incremental[mode][source]
            print(
                f"{source:<10}{mode:<8}{f['wall']:>9.1f}{i['wall']:>9.1f}{i['wall'] / f['wall']:>11.1%}"
                f"{f['rss']:>10.0f}{i['rss']:>10.0f}"
            )
    for mode in modes:
        print(f"no change, shop and catalog ({mode}): {idle[mode]['wall']:.1f} s (target <= 2 s)")


def print_table(
    direct: dict, full: dict, incremental: dict, args: argparse.Namespace, mode: str = "cursor"
) -> None:
    print(
        f"\nLoader benchmark ({mode}): {args.orders:,} orders, incremental after a {args.fraction:.0%} day of change"
    )
    print(
        f"machine: {os.cpu_count()} cores; direct path = connectorx into DuckDB (MySQL), DuckDB postgres scanner (PostgreSQL)\n"
    )
    head = (
        f"{'table':<26}{'rows':>11}{'direct s':>10}{'direct r/s':>12}{'full s':>9}{'full r/s':>11}"
        f"{'full/direct':>12}{'incr rows':>11}{'incr s':>8}{'incr/full':>10}"
    )
    print(head)
    print("-" * len(head))
    for source, tables in (("shop", SHOP_TABLES), ("catalog", CATALOG_TABLES)):
        d_total = f_total = i_total = 0.0
        rows_total = 0
        for t in tables:
            d_s, rows = direct[source]["tables"][t]
            f = full[source]["tables"][f"{source}.{t}"]
            i = incremental[source]["tables"][f"{source}.{t}"]
            ratio = (rows / f["seconds"]) / (rows / d_s) if f["seconds"] and d_s else 0
            print(
                f"{source + '.' + t:<26}{rows:>11,}{d_s:>10.2f}{rows / d_s:>12,.0f}{f['seconds']:>9.2f}"
                f"{rows / f['seconds'] if f['seconds'] else 0:>11,.0f}{ratio:>12.2f}"
                f"{int(i['loaded']) + int(i['deleted']):>11,}{i['seconds']:>8.2f}{i['seconds'] / f['seconds']:>10.1%}"
            )
            d_total += d_s
            f_total += f["seconds"]
            i_total += i["seconds"]
            rows_total += rows
        dw, fw, iw = direct[source]["wall"], full[source]["wall"], incremental[source]["wall"]
        print(
            f"{source + ' (tables)':<26}{rows_total:>11,}{d_total:>10.2f}{rows_total / d_total:>12,.0f}{f_total:>9.2f}"
            f"{rows_total / f_total:>11,.0f}{(d_total / f_total):>12.2f}{'':>11}{i_total:>8.2f}{i_total / f_total:>10.1%}"
        )
        print(
            f"{source + ' (process wall)':<26}{rows_total:>11,}{dw:>10.2f}{rows_total / dw:>12,.0f}{fw:>9.2f}"
            f"{rows_total / fw:>11,.0f}{dw / fw:>12.2f}{'':>11}{iw:>8.2f}{iw / fw:>10.1%}"
        )
        print()
    print(
        "peak RSS (MB):  "
        + "  ".join(
            f"{s}: direct {direct[s]['rss']:.0f}, full {full[s]['rss']:.0f}, incremental {incremental[s]['rss']:.0f}"
            for s in ("shop", "catalog")
        )
    )
    print("targets: full/direct >= 0.80 per source; incr/full <= 5%; peak RSS < 1024 MB")
