"""The catalog's day: products repriced, stock moved destructively, products added, and
optionally a column nobody announced."""

from __future__ import annotations

import json
import math

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
        cur.execute("select max(product_id) from catalog.products")
        start = int(cur.fetchone()[0]) + 1
        cur.execute(
            "select category_id from catalog.categories c where not exists "
            "(select 1 from catalog.categories k where k.parent_category_id = c.category_id) order by 1"
        )
        leaves = [r[0] for r in cur.fetchall()]
        n_new = share_of(len(ids), fraction * 0.5)
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
        if new_column:
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
    return prices
