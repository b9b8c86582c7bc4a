"""The PostgreSQL catalog's tables: the category tree, products and stock per warehouse."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from world import names
from world.draws import (
    US_PER_DAY,
    US_PER_S,
    Defect,
    Draws,
    mask_null,
    pick,
    ts_array,
)


class CatalogDraws(Draws):
    # -- catalog -------------------------------------------------------------------------
    def categories(self) -> None:
        rows: list[tuple[int, int | None, str]] = []
        leaves: list[int] = []
        top_of: dict[int, str] = {}
        next_id = 1
        for top, mids in names.CATEGORY_TREE.items():
            top_id = next_id
            rows.append((top_id, None, top))
            next_id += 1
            for mid, leaf_names in mids.items():
                mid_id = next_id
                rows.append((mid_id, top_id, mid))
                next_id += 1
                for leaf in leaf_names:
                    rows.append((next_id, mid_id, leaf))
                    leaves.append(next_id)
                    top_of[next_id] = top
                    next_id += 1
        self.leaf_categories = np.array(leaves)
        self.leaf_top = top_of
        updated = self.as_of - 400 * US_PER_DAY + self.rng.integers(0, 30 * US_PER_DAY, len(rows))
        self.register(
            "categories",
            pa.table(
                {
                    "category_id": pa.array([r[0] for r in rows], pa.int32()),
                    "parent_category_id": pa.array([r[1] for r in rows], pa.int32()),
                    "name": [r[2] for r in rows],
                    "updated_at": ts_array(updated),
                }
            ),
        )
        self.db.execute(
            """create table catalog_categories as
            select category_id, parent_category_id, name, updated_at from _categories_arrow"""
        )

    def products(self) -> None:
        cfg, rng = self.cfg, self.rng
        n = cfg.products
        ids = np.arange(1, n + 1)
        category = rng.choice(self.leaf_categories, n)
        null_cat = self.choose_mask(n, cfg.rates.null_product_category)
        brand_idx = rng.integers(0, len(names.BRANDS), n)
        adj_idx = rng.integers(0, len(names.ADJECTIVES), n)
        cat_names = {cid: nm for cid, _, nm in self._category_rows()}
        names_col = [
            f"{names.BRANDS[b]} {names.ADJECTIVES[a]} {cat_names[int(c)].rstrip('s')} {i}"
            for i, b, a, c in zip(ids, brand_idx, adj_idx, category, strict=True)
        ]
        price_units = np.floor(np.exp(rng.normal(3.3, 0.8, n))).clip(4, 1999)
        list_cents = (price_units * 100 + 99).astype("int64")
        cost_cents = np.round(list_cents * rng.uniform(0.35, 0.7, n)).astype("int64")
        created = self.as_of - rng.integers(3 * 365 * US_PER_DAY, 5 * 365 * US_PER_DAY, n)
        updated = created + (rng.random(n) * (self.as_of - 60 * US_PER_S - created)).astype("int64")
        colors = rng.integers(0, len(names.COLORS), n)
        sizes = rng.integers(0, len(names.SIZES), n)
        materials = rng.integers(0, len(names.MATERIALS), n)
        weights = rng.integers(50, 5000, n)
        attributes = [
            json.dumps(
                {
                    "color": names.COLORS[c],
                    "size": names.SIZES[s],
                    "material": names.MATERIALS[m],
                    "weight_g": int(w),
                },
                separators=(",", ":"),
            )
            for c, s, m, w in zip(colors, sizes, materials, weights, strict=True)
        ]
        description = [f"The {nm}, built to last." for nm in names_col]
        self.product_list_cents = list_cents
        self.register(
            "products",
            pa.table(
                {
                    "product_id": pa.array(ids, pa.int64()),
                    "sku": [f"SKU-{i:07d}" for i in ids],
                    "name": names_col,
                    "description": mask_null(pa.array(description), rng.random(n) < 0.3),
                    "category_id": mask_null(pa.array(category, pa.int32()), null_cat),
                    "brand": mask_null(pick(names.BRANDS, brand_idx), rng.random(n) < 0.1),
                    "list_cents": list_cents,
                    "cost_cents": cost_cents,
                    "attributes": attributes,
                    "is_active": pa.array(rng.random(n) < 0.95),
                    "created_at": ts_array(created),
                    "updated_at": ts_array(updated),
                }
            ),
        )
        self.db.execute(
            """create table catalog_products as
            select product_id, sku, name, description, category_id, brand,
                (list_cents::decimal(18, 0) / 100)::decimal(12, 2) as list_price,
                (cost_cents::decimal(18, 0) / 100)::decimal(12, 2) as cost_price,
                'USD' as currency, attributes, is_active, created_at, updated_at
            from _products_arrow"""
        )
        self.defects.append(
            Defect("null_product_category", "catalog.products", int(null_cat.sum()), n)
        )

    def _category_rows(self) -> list[tuple[int, int | None, str]]:
        return self.db.execute(
            "select category_id, parent_category_id, name from _categories_arrow"
        ).fetchall()

    def inventory(self) -> None:
        rng, n = self.rng, self.cfg.products
        presence = np.stack([rng.random(n) < p for p in names.WAREHOUSE_PRESENCE], axis=1)
        presence[~presence.any(axis=1), 0] = True
        prod_idx, wh_idx = np.nonzero(presence)
        m = len(prod_idx)
        on_hand = np.where(rng.random(m) < 0.08, 0, rng.integers(1, 500, m))
        reserved = np.minimum(on_hand, rng.integers(0, 21, m))
        updated = self.as_of - rng.integers(60 * US_PER_S, 30 * US_PER_DAY, m)
        self.register(
            "inventory",
            pa.table(
                {
                    "product_id": pa.array(prod_idx + 1, pa.int64()),
                    "warehouse_code": pick(names.WAREHOUSES, wh_idx),
                    "quantity_on_hand": pa.array(on_hand, pa.int32()),
                    "quantity_reserved": pa.array(reserved, pa.int32()),
                    "updated_at": ts_array(updated),
                }
            ),
        )
        self.db.execute("create table catalog_inventory_levels as select * from _inventory_arrow")
