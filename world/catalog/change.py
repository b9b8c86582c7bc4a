"""The catalog's day: products repriced, stock moved destructively, products added, and
optionally a column nobody announced."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from world import names
from world.catalog.db import CatalogDB
from world.change_common import ChangeReport, share_of


def catalog_changes(
    catalog: CatalogDB,
    rng: np.random.Generator,
    fraction: float,
    new_column: bool,
    number: int,
    report: ChangeReport,
) -> dict[int, int]:
    """Returns list prices in cents by product id (for new orders)."""
    with catalog.connect() as conn, conn.cursor() as cur:
        cur.execute("select product_id, list_price from catalog.products order by product_id")
        prices = {int(pid): round(float(p) * 100) for pid, p in cur.fetchall()}
        n_products = len(prices)
        reprice(cur, rng, fraction, prices, report)
        restock(cur, rng, fraction, report)
        add_products(cur, rng, share_of(n_products, fraction * 0.5), prices, report)
        if new_column:
            add_unannounced_column(cur, number, report)
    return prices


def reprice(
    cur: Any,
    rng: np.random.Generator,
    fraction: float,
    prices: dict[int, int],
    report: ChangeReport,
) -> None:
    """Products repriced by up to 15% either way, ending in .99 (`prices` follows)."""
    ids = np.array(sorted(prices))
    repriced = rng.choice(ids, min(len(ids), share_of(len(ids), fraction * 2)), replace=False)
    factors = rng.uniform(0.85, 1.15, len(repriced))
    rows = []
    for pid, f in zip(repriced, factors, strict=True):
        cents = int(max(499, math.floor(prices[int(pid)] * f / 100) * 100 + 99))
        prices[int(pid)] = cents
        rows.append((cents / 100, int(pid)))
    cur.executemany(
        "update catalog.products set list_price = %s, updated_at = now() where product_id = %s",
        rows,
    )
    report.counts["catalog.products repriced"] = len(rows)


def restock(cur: Any, rng: np.random.Generator, fraction: float, report: ChangeReport) -> None:
    """Stock counted again: quantities overwritten, the reserved capped at what is on hand."""
    cur.execute("select product_id, warehouse_code from catalog.inventory_levels order by 1, 2")
    stock = cur.fetchall()
    picks = rng.choice(
        len(stock), min(len(stock), share_of(len(stock), fraction * 5)), replace=False
    )
    qty = rng.integers(0, 500, len(picks))
    cur.executemany(
        """update catalog.inventory_levels
           set quantity_on_hand = %s, quantity_reserved = least(quantity_reserved, %s), updated_at = now()
           where product_id = %s and warehouse_code = %s""",
        [(int(q), int(q), stock[i][0], stock[i][1]) for i, q in zip(picks, qty, strict=True)],
    )
    report.counts["catalog.inventory_levels restocked"] = len(picks)


def add_products(
    cur: Any, rng: np.random.Generator, n_new: int, prices: dict[int, int], report: ChangeReport
) -> None:
    """New products in leaf categories, each with stock in the first warehouse."""
    cur.execute("select max(product_id) from catalog.products")
    start = int(cur.fetchone()[0]) + 1
    cur.execute(
        "select category_id from catalog.categories c where not exists "
        "(select 1 from catalog.categories k where k.parent_category_id = c.category_id) order by 1"
    )
    leaves = [r[0] for r in cur.fetchall()]
    new_rows, inv_rows = [], []
    for j in range(n_new):
        pid = start + j
        cents = int(math.floor(math.exp(rng.normal(3.3, 0.8))) * 100 + 99)
        prices[pid] = cents
        brand = names.BRANDS[int(rng.integers(0, len(names.BRANDS)))]
        new_rows.append(
            (
                pid,
                f"SKU-{pid:07d}",
                f"{brand} New Arrival {pid}",
                None,
                int(rng.choice(leaves)),
                brand,
                cents / 100,
                round(cents * 0.5) / 100,
                "USD",
                json.dumps(
                    {"color": "black", "size": "M", "weight_g": int(rng.integers(50, 5000))}
                ),
                True,
            )
        )
        inv_rows.append((pid, names.WAREHOUSES[0], int(rng.integers(1, 200)), 0))
    cur.executemany(
        """insert into catalog.products (product_id, sku, name, description, category_id, brand,
            list_price, cost_price, currency, attributes, is_active)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)""",
        new_rows,
    )
    cur.executemany(
        """insert into catalog.inventory_levels (product_id, warehouse_code, quantity_on_hand,
            quantity_reserved) values (%s, %s, %s, %s)""",
        inv_rows,
    )
    report.counts["catalog.products added"] = n_new


def add_unannounced_column(cur: Any, number: int, report: ChangeReport) -> None:
    """A column catalog admins add and backfill without touching updated_at."""
    cur.execute(
        "select column_name from information_schema.columns "
        "where table_schema = 'catalog' and table_name = 'products'"
    )
    existing = {r[0] for r in cur.fetchall()}
    column = "weight_kg" if "weight_kg" not in existing else f"extra_attribute_{number}"
    # Catalog admins add and backfill a column without touching updated_at.
    cur.execute(f"alter table catalog.products add column {column} numeric(8,3)")
    cur.execute(
        f"update catalog.products set {column} = "
        "round((attributes->>'weight_g')::numeric / 1000, 3) where attributes ? 'weight_g'"
    )
    report.new_column = column
