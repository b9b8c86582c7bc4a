"""Deterministic generation of the whole source world into an in-memory DuckDB.

Everything is drawn from one numpy Generator seeded by `WorldConfig.seed`, in a fixed order,
so the same config always yields the same rows. The result holds every source table in its
final column types (`shop_*`, `catalog_*`, `hubspot_*`) plus a report of the injected defects;
`world.shop_db`, `world.catalog_db` and `world.hubspot_store` bulk-load it into the real systems.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa

from . import names
from .config import WorldConfig

US_PER_S = 1_000_000
US_PER_DAY = 86_400 * US_PER_S
EPOCH = datetime(1970, 1, 1)


def to_us(value: datetime) -> int:
    """Microseconds since the epoch of a naive UTC datetime."""
    return (value - EPOCH) // timedelta(microseconds=1)


def _ts(us: np.ndarray) -> pa.Array:
    return pa.array(us.astype("int64"), type=pa.timestamp("us"))


def _pick(values: list[str], idx: np.ndarray) -> pa.Array:
    """Strings chosen by index, as a plain string column."""
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype("int32")), pa.array(values)).cast(
        pa.string()
    )


def _mask_null(arr: pa.Array, null_mask: np.ndarray) -> pa.Array:
    return pa.compute.if_else(pa.array(null_mask), pa.nulls(len(arr), arr.type), arr)


@dataclasses.dataclass
class Defect:
    """One SPEC §2 defect: where it lives, how many rows carry it, out of how many."""

    case: str
    table: str
    rows: int
    of: int

    @property
    def rate(self) -> float:
        return self.rows / self.of if self.of else 0.0


@dataclasses.dataclass
class World:
    config: WorldConfig
    db: duckdb.DuckDBPyConnection
    defects: list[Defect]

    def count(self, table: str) -> int:
        row = self.db.execute(f"select count(*) from {table}").fetchone()
        assert row is not None
        return int(row[0])

    def report(self) -> dict[str, dict[str, float | int | str]]:
        return {
            d.case: {"table": d.table, "rows": d.rows, "of": d.of, "rate": round(d.rate, 5)}
            for d in self.defects
        }


class _Gen:
    def __init__(self, cfg: WorldConfig) -> None:
        self.cfg = cfg
        self.rng = np.random.default_rng(cfg.seed)
        self.as_of = to_us(cfg.as_of)
        self.db = duckdb.connect()
        self.defects: list[Defect] = []

    # -- helpers -------------------------------------------------------------------------
    def choose_mask(self, n: int, rate: float, eligible: np.ndarray | None = None) -> np.ndarray:
        """Exactly round(n * rate) rows (from `eligible` if given) set True."""
        mask = np.zeros(n, dtype=bool)
        pool = np.flatnonzero(eligible) if eligible is not None else np.arange(n)
        k = min(len(pool), round(n * rate))
        if k:
            mask[self.rng.choice(pool, size=k, replace=False)] = True
        return mask

    def register(self, name: str, table: pa.Table) -> None:
        self.db.register(f"_{name}_arrow", table)

    def uuid4(self) -> str:
        return str(uuid.UUID(bytes=self.rng.bytes(16), version=4))

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
                    "updated_at": _ts(updated),
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
                    "description": _mask_null(pa.array(description), rng.random(n) < 0.3),
                    "category_id": _mask_null(pa.array(category, pa.int32()), null_cat),
                    "brand": _mask_null(_pick(names.BRANDS, brand_idx), rng.random(n) < 0.1),
                    "list_cents": list_cents,
                    "cost_cents": cost_cents,
                    "attributes": attributes,
                    "is_active": pa.array(rng.random(n) < 0.95),
                    "created_at": _ts(created),
                    "updated_at": _ts(updated),
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
                    "warehouse_code": _pick(names.WAREHOUSES, wh_idx),
                    "quantity_on_hand": pa.array(on_hand, pa.int32()),
                    "quantity_reserved": pa.array(reserved, pa.int32()),
                    "updated_at": _ts(updated),
                }
            ),
        )
        self.db.execute("create table catalog_inventory_levels as select * from _inventory_arrow")

    # -- shop ----------------------------------------------------------------------------
    def customers(self) -> None:
        cfg, rng = self.cfg, self.rng
        n = cfg.customers
        ids = np.arange(1, n + 1)
        first_idx = rng.integers(0, len(names.FIRST_NAMES), n)
        last_idx = rng.integers(0, len(names.LAST_NAMES), n)
        dom_idx = rng.integers(0, len(names.EMAIL_DOMAINS), n)
        weights = np.array([c[2] for c in names.COUNTRIES])
        country_idx = rng.choice(len(names.COUNTRIES), n, p=weights / weights.sum())
        city_pick = rng.integers(0, 1_000, n)
        first = [names.FIRST_NAMES[i] for i in first_idx]
        last = [names.LAST_NAMES[i] for i in last_idx]
        email: list[str | None] = [
            f"{f.lower()}.{la.lower().replace(' ', '').replace(chr(39), '')}{i}@{names.EMAIL_DOMAINS[d]}"
            for f, la, i, d in zip(first, last, ids, dom_idx, strict=True)
        ]
        created = self.as_of - rng.integers(7 * US_PER_DAY, 3 * 365 * US_PER_DAY, n)
        updated = created + (rng.random(n) * (self.as_of - 60 * US_PER_S - created)).astype("int64")

        # Duplicate accounts: the shop compared emails case-sensitively, so the same person
        # signed up again with different case or stray whitespace.
        dup = self.choose_mask(n, cfg.rates.duplicate_customer_email, eligible=ids > n // 10)
        originals = rng.integers(0, n // 10, n)
        for i in np.flatnonzero(dup):
            o = int(originals[i])
            first[i], last[i], country_idx[i] = first[o], last[o], country_idx[o]
            base = email[o]
            assert base is not None
            email[i] = _vary_email(base, rng)
            created[i] = max(int(created[i]), int(created[o]) + US_PER_DAY)
            updated[i] = max(int(updated[i]), int(created[i]))
        invalid = self.choose_mask(n, cfg.rates.invalid_customer_email, eligible=~dup)
        for i in np.flatnonzero(invalid):
            email[i] = _break_email(email[i] or "x@example.com", int(rng.integers(0, 4)))
        null_country = self.choose_mask(n, cfg.rates.null_country)
        deleted = self.choose_mask(n, cfg.rates.soft_deleted_customer, eligible=~(dup | invalid))
        deleted_at = np.where(
            deleted, updated + rng.integers(US_PER_S, 20 * US_PER_DAY, n), 0
        ).clip(max=self.as_of - US_PER_S)
        updated = np.where(deleted, deleted_at, updated)

        countries = [names.COUNTRIES[c] for c in country_idx]
        city = [c[3][p % len(c[3])] for c, p in zip(countries, city_pick, strict=True)]
        phone = [f"+1-555-{int(x):07d}" for x in rng.integers(0, 10_000_000, n)]
        phone_null = rng.random(n) < 0.2
        for i in np.flatnonzero(deleted):  # forgotten: PII blanked
            email[i], first[i], last[i], city[i] = None, "", "", ""
            phone_null[i] = True
        self.customer_created = created
        self.customer_currency = np.array([names.CURRENCIES.index(c[1]) for c in countries])
        self.customer_email = email
        self.customer_first, self.customer_last = first, last
        self.customer_deleted = deleted
        self.customer_dup_or_invalid = dup | invalid
        self.register(
            "customers",
            pa.table(
                {
                    "customer_id": pa.array(ids, pa.int64()),
                    "email": pa.array(email, pa.string()),
                    "first_name": first,
                    "last_name": last,
                    "phone": _mask_null(pa.array(phone), phone_null),
                    "country_code": _mask_null(pa.array([c[0] for c in countries]), null_country),
                    "city": _mask_null(pa.array(city), deleted),
                    "marketing_opt_in": pa.array(rng.random(n) < 0.6),
                    "created_at": _ts(created),
                    "updated_at": _ts(updated),
                    "deleted_at": _mask_null(_ts(deleted_at), ~deleted),
                }
            ),
        )
        self.db.execute("create table shop_customers as select * from _customers_arrow")
        self.defects += [
            Defect("duplicate_customer_email", "shop.customers", int(dup.sum()), n),
            Defect("invalid_customer_email", "shop.customers", int(invalid.sum()), n),
            Defect("null_country", "shop.customers", int(null_country.sum()), n),
            Defect("soft_deleted_customer", "shop.customers", int(deleted.sum()), n),
        ]

    def campaigns(self) -> None:
        """Campaign identities are needed by orders (utm_campaign), so they come first."""
        rng, k = self.rng, self.cfg.campaigns
        themes = rng.permutation(len(names.CAMPAIGN_THEMES))
        self.campaign_rows = []
        used: set[str] = set()
        for j in range(k):
            start = self.as_of - int(rng.integers(10, 720)) * US_PER_DAY
            year = (EPOCH + timedelta(microseconds=start)).year
            theme = names.CAMPAIGN_THEMES[int(themes[j % len(themes)])]
            name = f"{theme} {year}"
            utm = name.lower().replace("'", "").replace(" ", "_")
            if utm in used:
                utm, name = f"{utm}_{j}", f"{name} #{j}"
            used.add(utm)
            self.campaign_rows.append(
                {
                    "id": self.uuid4(),
                    "name": name,
                    "utm": utm,
                    "start_us": start,
                    "end_us": start + int(rng.integers(14, 60)) * US_PER_DAY,
                    "budget": int(rng.integers(10, 500)) * 100,
                }
            )

    def orders(self) -> None:
        cfg, rng = self.cfg, self.rng
        n = cfg.orders
        n_c = cfg.customers
        weights = rng.gamma(0.7, size=n_c)
        cust_idx = rng.choice(n_c, n, p=weights / weights.sum())
        guest = rng.random(n) < 0.08
        lo = np.where(guest, self.as_of - 2 * 365 * US_PER_DAY, self.customer_created[cust_idx])
        placed = lo + (rng.random(n) * (self.as_of - 3600 * US_PER_S - lo)).astype("int64")
        order = np.argsort(placed, kind="stable")  # auto_increment ids follow time
        placed, cust_idx, guest = placed[order], cust_idx[order], guest[order]
        future = self.choose_mask(n, cfg.rates.future_placed_at)
        placed = np.where(
            future, self.as_of + rng.integers(2 * US_PER_DAY, 60 * US_PER_DAY, n), placed
        )
        age = self.as_of - placed
        status = np.empty(n, dtype="int64")
        buckets = [
            (age > 14 * US_PER_DAY, [0.02, 0.02, 0.02, 0.82, 0.07, 0.05]),
            (
                (age > 3 * US_PER_DAY) & (age <= 14 * US_PER_DAY),
                [0.06, 0.10, 0.30, 0.45, 0.07, 0.02],
            ),
            ((age >= 0) & (age <= 3 * US_PER_DAY), [0.25, 0.40, 0.25, 0.05, 0.05, 0.0]),
        ]
        for mask, p in buckets:
            status[mask] = rng.choice(6, int(mask.sum()), p=p)
        status[future] = names.ORDER_STATUSES.index("paid")
        delay_lo = np.array([0, 60, 86_400, 3 * 86_400, 3600, 10 * 86_400]) * US_PER_S
        delay_hi = (
            np.array([3600, 3600, 3 * 86_400, 10 * 86_400, 2 * 86_400, 40 * 86_400]) * US_PER_S
        )
        delay = delay_lo[status] + (rng.random(n) * (delay_hi - delay_lo)[status]).astype("int64")
        updated = np.minimum(placed + delay, self.as_of - US_PER_S)
        updated = np.where(future, self.as_of - rng.integers(US_PER_S, US_PER_DAY, n), updated)
        updated = np.maximum(updated, np.minimum(placed, self.as_of - US_PER_S))
        currency = np.where(
            guest, rng.choice(3, n, p=[0.7, 0.2, 0.1]), self.customer_currency[cust_idx]
        )
        channel = rng.choice(4, n, p=[0.55, 0.2, 0.15, 0.1])
        r = rng.random(n)
        camp_idx = rng.integers(0, len(self.campaign_rows), n)
        tracked = r < 0.30
        untracked = (r >= 0.30) & (r < 0.34)
        case = rng.random(n)
        utm_values: list[str | None] = []
        for i in range(n):
            if tracked[i]:
                v = self.campaign_rows[camp_idx[i]]["utm"]
                if case[i] < 0.15:
                    v = v.upper()
                elif case[i] < 0.25:
                    v = v.title()
                utm_values.append(v)
            elif untracked[i]:
                utm_values.append(names.UNTRACKED_UTM_CAMPAIGNS[camp_idx[i] % 5])
            else:
                utm_values.append(None)
        utm_source = _mask_null(
            _pick(names.UTM_SOURCES, rng.integers(0, len(names.UTM_SOURCES), n)),
            ~(tracked | untracked),
        )
        self.order_placed, self.order_updated = placed, updated
        self.order_status, self.order_currency = status, currency
        self.order_future = future

        # Items (generated here because the order header sums them).
        n_items = 1 + rng.binomial(4, 0.35, n)
        item_order = np.repeat(np.arange(n), n_items)
        m = len(item_order)
        pop = rng.gamma(0.5, size=cfg.products)
        product = rng.choice(cfg.products, m, p=pop / pop.sum()) + 1
        quantity = 1 + rng.binomial(2, 0.25, m)
        fx = np.array([names.USD_PER_UNIT[c] for c in names.CURRENCIES])
        unit = np.round(self.product_list_cents[product - 1] / fx[currency[item_order]]).astype(
            "int64"
        )
        orphan = self.choose_mask(m, cfg.rates.orphan_product)
        product = np.where(orphan, 900_000_000 + rng.integers(1, 1_000_000, m), product)
        unit = np.where(orphan, rng.integers(500, 20_000, m), unit)
        bad_qty = self.choose_mask(m, cfg.rates.nonpositive_quantity)
        quantity = np.where(bad_qty, rng.integers(-1, 1, m), quantity)
        line_disc = np.where(rng.random(m) < 0.15, np.round(0.1 * quantity * unit), 0).astype(
            "int64"
        )
        line_disc = np.where(quantity > 0, line_disc, 0)
        valid_line = quantity > 0
        subtotal = np.round(
            np.bincount(item_order, weights=np.where(valid_line, quantity * unit, 0), minlength=n)
        ).astype("int64")
        discount = np.round(np.bincount(item_order, weights=line_disc, minlength=n)).astype("int64")
        coupon = rng.random(n) < 0.05
        discount += np.where(coupon, np.round(0.05 * (subtotal - discount)), 0).astype("int64")
        shipping = np.where(subtotal >= 5000, 0, 499)
        tax = np.round(0.08 * (subtotal - discount)).astype("int64")
        total = subtotal - discount + shipping + tax
        mismatch = self.choose_mask(n, cfg.rates.total_mismatch)
        total = np.where(
            mismatch, total + rng.choice([-1, 1], n) * rng.integers(1, 5_000, n), total
        )
        self.order_total = total
        order_ids = np.arange(1, n + 1)
        self.register(
            "orders",
            pa.table(
                {
                    "order_id": pa.array(order_ids, pa.int64()),
                    "customer_id": _mask_null(pa.array(cust_idx + 1, pa.int64()), guest),
                    "status": _pick(names.ORDER_STATUSES, status),
                    "currency": _pick(names.CURRENCIES, currency),
                    "subtotal_c": subtotal,
                    "discount_c": discount,
                    "shipping_c": shipping,
                    "tax_c": tax,
                    "total_c": total,
                    "channel": _pick(names.CHANNELS, channel),
                    "utm_source": utm_source,
                    "utm_campaign": pa.array(utm_values, pa.string()),
                    "placed_at": _ts(placed),
                    "updated_at": _ts(updated),
                }
            ),
        )
        self.db.execute(
            f"""create table shop_orders as
            select order_id, customer_id, status, currency,
                {_money("subtotal_c")} as subtotal,
                {_money("discount_c")} as discount_amount,
                {_money("shipping_c")} as shipping_amount,
                {_money("tax_c")} as tax_amount,
                {_money("total_c")} as total_amount,
                channel, utm_source, utm_campaign, placed_at, updated_at
            from _orders_arrow"""
        )
        item_updated = np.minimum(
            placed[item_order] + rng.integers(0, 5, m) * US_PER_S, self.as_of - US_PER_S
        )
        self.register(
            "items",
            pa.table(
                {
                    "order_item_id": pa.array(np.arange(1, m + 1), pa.int64()),
                    "order_id": pa.array(item_order + 1, pa.int64()),
                    "product_id": pa.array(product, pa.int64()),
                    "quantity": pa.array(quantity, pa.int32()),
                    "unit_c": unit,
                    "disc_c": line_disc,
                    "updated_at": _ts(item_updated),
                }
            ),
        )
        self.db.execute(
            f"""create table shop_order_items as
            select order_item_id, order_id, product_id, quantity,
                {_money("unit_c")} as unit_price, {_money("disc_c")} as discount_amount, updated_at
            from _items_arrow"""
        )
        self.defects += [
            Defect("future_placed_at", "shop.orders", int(future.sum()), n),
            Defect("total_mismatch", "shop.orders", int(mismatch.sum()), n),
            Defect("nonpositive_quantity", "shop.order_items", int(bad_qty.sum()), m),
            Defect("orphan_product", "shop.order_items", int(orphan.sum()), m),
        ]

    def payments(self) -> None:
        cfg, rng = self.cfg, self.rng
        n = cfg.orders
        st = self.order_status
        pending = st == names.ORDER_STATUSES.index("pending")
        has_payment = ~pending | (rng.random(n) < 0.4)
        extra_failed = has_payment & (rng.random(n) < 0.04)
        final_status = np.select(
            [
                pending,
                np.isin(st, [1, 2, 3]),
                st == names.ORDER_STATUSES.index("refunded"),
                st == names.ORDER_STATUSES.index("cancelled"),
            ],
            [0, 1, 3, np.where(rng.random(n) < 0.5, 2, 3)],
        )
        # Payment rows in order-id order: optional failed attempt, then the final payment.
        counts = extra_failed.astype(int) + has_payment.astype(int)
        p_order = np.repeat(np.arange(n), counts)
        first_of_pair = np.zeros(len(p_order), dtype=bool)
        starts = np.cumsum(counts) - counts
        first_of_pair[starts[extra_failed]] = True
        status = np.where(first_of_pair, 2, final_status[p_order])
        k = len(p_order)
        method = rng.choice(4, k, p=[0.6, 0.25, 0.05, 0.1])
        placed = self.order_placed[p_order]
        processed = placed + rng.integers(1, 600, k) * US_PER_S
        processed = processed - processed % US_PER_S  # DATETIME without fraction
        processed = np.where(first_of_pair, processed - 60 * US_PER_S, processed)
        authorized = status == 0
        updated = np.where(
            status == 3, np.maximum(self.order_updated[p_order], processed), processed
        )
        updated = np.minimum(np.where(authorized, placed, updated), self.as_of - US_PER_S)
        updated = np.maximum(updated, np.minimum(placed, self.as_of - US_PER_S))
        legacy = (self.as_of - placed > 365 * US_PER_DAY) & ~authorized
        zero = self.choose_mask(k, cfg.rates.zero_processed_at, eligible=legacy)
        processed_text = pa.compute.strftime(_ts(processed), format="%Y-%m-%d %H:%M:%S").to_numpy(
            zero_copy_only=False
        )
        processed_col = pa.array(
            [
                None if a else ("0000-00-00 00:00:00" if z else t)
                for a, z, t in zip(authorized, zero, processed_text, strict=True)
            ],
            pa.string(),
        )
        self.register(
            "payments",
            pa.table(
                {
                    "payment_id": pa.array(np.arange(1, k + 1), pa.int64()),
                    "order_id": pa.array(p_order + 1, pa.int64()),
                    "method": _pick(names.PAYMENT_METHODS, method),
                    "status": _pick(names.PAYMENT_STATUSES, status),
                    "amount_c": self.order_total[p_order],
                    "currency": _pick(names.CURRENCIES, self.order_currency[p_order]),
                    "processed_at": processed_col,
                    "updated_at": _ts(updated),
                }
            ),
        )
        self.db.execute(
            f"""create table shop_payments as
            select payment_id, order_id, method, status, {_money("amount_c")} as amount,
                currency, processed_at, updated_at
            from _payments_arrow"""
        )
        self.defects.append(Defect("zero_processed_at", "shop.payments", int(zero.sum()), k))

    # -- hubspot -------------------------------------------------------------------------
    def hubspot(self) -> None:
        cfg, rng = self.cfg, self.rng
        n_c = cfg.customers
        eligible = np.flatnonzero(~self.customer_deleted & ~self.customer_dup_or_invalid)
        from_customers = rng.choice(eligible, int(len(eligible) * 0.7), replace=False)
        from_customers.sort()
        target = cfg.contacts
        n_leads = int(n_c * 0.3) if target is None else max(0, target - len(from_customers))
        if target is not None and target < len(from_customers):
            from_customers, n_leads = from_customers[:target], 0
        base_n = len(from_customers) + n_leads
        # Contact rows before defects: (email, first, last, created_us, customer_index|-1)
        emails: list[str | None] = []
        firsts: list[str] = []
        lasts: list[str] = []
        created: list[int] = []
        is_customer: list[bool] = []
        variation = rng.random(len(from_customers))
        for ci, v in zip(from_customers, variation, strict=True):
            e = self.customer_email[ci]
            assert e is not None
            emails.append(_vary_email(e, rng) if v < 0.25 else e)
            firsts.append(self.customer_first[ci])
            lasts.append(self.customer_last[ci])
            created.append(int(self.customer_created[ci]) + int(rng.integers(-5, 5)) * US_PER_DAY)
            is_customer.append(True)
        lead_first = rng.integers(0, len(names.FIRST_NAMES), n_leads)
        lead_last = rng.integers(0, len(names.LAST_NAMES), n_leads)
        lead_dom = rng.integers(0, len(names.EMAIL_DOMAINS), n_leads)
        lead_created = self.as_of - rng.integers(US_PER_DAY, 3 * 365 * US_PER_DAY, n_leads)
        for j in range(n_leads):
            f, la = names.FIRST_NAMES[lead_first[j]], names.LAST_NAMES[lead_last[j]]
            slug = la.lower().replace(" ", "").replace("'", "")
            emails.append(f"{f.lower()}.{slug}.lead{j + 1}@{names.EMAIL_DOMAINS[lead_dom[j]]}")
            firsts.append(f)
            lasts.append(la)
            created.append(int(lead_created[j]))
            is_customer.append(False)
        created_arr = np.minimum(np.array(created, dtype="int64"), self.as_of - 2 * US_PER_DAY)
        # Duplicates: a second contact with the same email (possibly varied), appended.
        n_dup = round(base_n * cfg.rates.duplicate_contact_email)
        dup_src = rng.choice(base_n, n_dup, replace=False) if n_dup else np.array([], dtype=int)
        for s in dup_src:
            e = emails[s]
            assert e is not None
            emails.append(_vary_email(e, rng) if rng.random() < 0.5 else e)
            firsts.append(firsts[s])
            lasts.append(lasts[s])
            dup_created = int(created_arr[s]) + int(rng.integers(1, 200)) * US_PER_DAY
            created_arr = np.append(created_arr, min(dup_created, self.as_of - US_PER_DAY))
            is_customer.append(is_customer[s])
        total = len(emails)
        # Sources of duplicates keep their email, or the duplicate would stop being one.
        no_email = self.choose_mask(
            total,
            cfg.rates.contact_without_email,
            eligible=(np.arange(total) < base_n) & ~np.isin(np.arange(total), dup_src),
        )
        for i in np.flatnonzero(no_email):
            emails[i] = None
        modified = created_arr + (rng.random(total) * (self.as_of - US_PER_S - created_arr)).astype(
            "int64"
        )
        stage_idx = np.where(
            np.array(is_customer) & (rng.random(total) < 0.85),
            names.LIFECYCLE_STAGES.index("customer"),
            rng.integers(0, len(names.LIFECYCLE_STAGES), total),
        )
        optout = rng.random(total) < 0.08
        # Duplicates and their sources stay live, or the duplicate would stop being one.
        archived = self.choose_mask(
            total,
            0.01,
            eligible=~no_email & (np.arange(total) < base_n) & ~np.isin(np.arange(total), dup_src),
        )
        archived_at = np.where(
            archived, modified + rng.integers(US_PER_S, 30 * US_PER_DAY, total), 0
        )
        archived_at = np.minimum(archived_at, self.as_of - US_PER_S)
        ids = 1001 + np.arange(total)
        phones = rng.integers(0, 10_000_000, total)
        contact_rows = []
        for i in range(total):
            props = {
                "email": emails[i],
                "firstname": firsts[i],
                "lastname": lasts[i],
                "phone": f"+1-555-{int(phones[i]):07d}" if phones[i] % 3 else None,
                "lifecyclestage": names.LIFECYCLE_STAGES[stage_idx[i]],
                "hs_email_optout": "true" if optout[i] else "false",
                "createdate": _iso(created_arr[i]),
                "lastmodifieddate": _iso(modified[i]),
                "hs_object_id": str(ids[i]),
            }
            contact_rows.append(
                (
                    "contacts",
                    int(ids[i]),
                    json.dumps(props),
                    _iso(created_arr[i]),
                    _iso(modified[i]),
                    bool(archived[i]),
                    _iso(archived_at[i]) if archived[i] else None,
                )
            )
        self.defects += [
            Defect("contact_without_email", "hubspot.contacts", int(no_email.sum()), total),
            Defect("duplicate_contact_email", "hubspot.contacts", n_dup, total),
        ]
        self.contact_ids, self.contact_emails = ids, emails
        self.contact_active = ~archived

        # Companies, each contact optionally working at one.
        n_co = max(5, int(total * cfg.companies_per_contact))
        co_ids = 5_000_001 + np.arange(n_co)
        co_created = self.as_of - rng.integers(30 * US_PER_DAY, 4 * 365 * US_PER_DAY, n_co)
        co_modified = co_created + (rng.random(n_co) * (self.as_of - US_PER_S - co_created)).astype(
            "int64"
        )
        company_rows, used_names = [], set()
        for j in range(n_co):
            w1 = names.COMPANY_WORDS[int(rng.integers(0, len(names.COMPANY_WORDS)))]
            w2 = names.COMPANY_SUFFIXES[int(rng.integers(0, len(names.COMPANY_SUFFIXES)))]
            name = f"{w1} {w2}" if f"{w1} {w2}" not in used_names else f"{w1} {w2} {j}"
            used_names.add(name)
            props = {
                "name": name,
                "domain": name.lower().replace(" ", "") + ".example",
                "industry": names.INDUSTRIES[int(rng.integers(0, len(names.INDUSTRIES)))],
                "createdate": _iso(co_created[j]),
                "hs_lastmodifieddate": _iso(co_modified[j]),
                "hs_object_id": str(co_ids[j]),
            }
            company_rows.append(
                (
                    "companies",
                    int(co_ids[j]),
                    json.dumps(props),
                    _iso(co_created[j]),
                    _iso(co_modified[j]),
                    False,
                    None,
                )
            )
        works_at = rng.random(total) < 0.5
        contact_company = np.where(works_at, rng.choice(co_ids, total), 0)
        assoc = [
            ("contacts", int(ids[i]), "companies", int(contact_company[i]))
            for i in np.flatnonzero(works_at)
        ]
        # Deals, each with one contact and that contact's company.
        n_deals = max(5, int(total * cfg.deals_per_contact))
        deal_ids = 9_000_001 + np.arange(n_deals)
        deal_contact = rng.choice(total, n_deals)
        deal_created = (
            np.maximum(created_arr[deal_contact], self.as_of - 2 * 365 * US_PER_DAY)
            + rng.integers(0, 30, n_deals) * US_PER_DAY
        )
        deal_created = np.minimum(deal_created, self.as_of - 2 * US_PER_DAY)
        deal_modified = deal_created + (
            rng.random(n_deals) * (self.as_of - US_PER_S - deal_created)
        ).astype("int64")
        stage = rng.integers(0, len(names.DEAL_STAGES), n_deals)
        close = deal_created + rng.integers(7, 120, n_deals) * US_PER_DAY
        amount = rng.integers(500, 500_000, n_deals)
        deal_rows = []
        for j in range(n_deals):
            ci = int(deal_contact[j])
            props = {
                "dealname": f"{firsts[ci]} {lasts[ci]} - wholesale order {j + 1}",
                "amount": f"{amount[j] / 100:.2f}",
                "dealstage": names.DEAL_STAGES[stage[j]],
                "pipeline": "default",
                "closedate": _iso(close[j]),
                "createdate": _iso(deal_created[j]),
                "hs_lastmodifieddate": _iso(deal_modified[j]),
                "hs_object_id": str(deal_ids[j]),
            }
            deal_rows.append(
                (
                    "deals",
                    int(deal_ids[j]),
                    json.dumps(props),
                    _iso(deal_created[j]),
                    _iso(deal_modified[j]),
                    False,
                    None,
                )
            )
            assoc.append(("deals", int(deal_ids[j]), "contacts", int(ids[ci])))
            if contact_company[ci]:
                assoc.append(("deals", int(deal_ids[j]), "companies", int(contact_company[ci])))
        self._insert_rows(
            "hubspot_objects",
            contact_rows + company_rows + deal_rows,
            [
                "object_type",
                "id",
                "properties",
                "created_at",
                "updated_at",
                "archived",
                "archived_at",
            ],
        )
        self._insert_rows(
            "hubspot_associations", assoc, ["from_type", "from_id", "to_type", "to_id"]
        )
        self._campaign_tables()

    def _insert_rows(self, table: str, rows: list[tuple], columns: list[str]) -> None:
        cols = list(zip(*rows, strict=True)) if rows else [[] for _ in columns]
        arrow = pa.table({c: list(v) for c, v in zip(columns, cols, strict=True)})
        self.db.register(f"_{table}_rows", arrow)
        self.db.execute(f"drop table if exists {table}")
        self.db.execute(f"create table {table} as select * from _{table}_rows")
        self.db.unregister(f"_{table}_rows")

    def _campaign_tables(self) -> None:
        rng = self.rng
        campaign_rows, email_rows = [], []
        sends: list[tuple[int, int, np.ndarray]] = []
        email_id, send_id = 150_000_001, 310_000_001
        with_email = np.flatnonzero(
            np.array([e is not None for e in self.contact_emails]) & self.contact_active
        )
        for c in self.campaign_rows:
            created = c["start_us"] - int(rng.integers(3, 30)) * US_PER_DAY
            status = "completed" if c["end_us"] < self.as_of else "active"
            props = {
                "hs_name": c["name"],
                "hs_utm": c["utm"],
                "hs_start_date": _iso(c["start_us"])[:10],
                "hs_end_date": _iso(c["end_us"])[:10],
                "hs_budget_items_sum_amount": f"{c['budget']:.2f}",
                "hs_currency_code": "USD",
                "hs_campaign_status": status,
                "hs_object_id": c["id"],
            }
            modified = min(max(c["end_us"], created), self.as_of - US_PER_S)
            campaign_rows.append((c["id"], json.dumps(props), _iso(created), _iso(modified)))
            for _ in range(int(rng.integers(1, 4))):
                span_s = max(1, (c["end_us"] - c["start_us"]) // US_PER_S)
                publish = c["start_us"] + int(rng.integers(0, span_s)) * US_PER_S
                publish = min(publish, self.as_of - 3 * US_PER_DAY)
                email_sends = [send_id] if rng.random() > 0.1 else [send_id, send_id + 1]
                send_id += len(email_sends)
                body = {
                    "id": str(email_id),
                    "name": f"{c['name']} - email {len(email_rows) + 1}",
                    "subject": f"{c['name']}: picked for you",
                    "state": "PUBLISHED",
                    "campaign": c["id"],
                    "campaignName": c["name"],
                    "allEmailCampaignIds": [str(s) for s in email_sends],
                    "publishDate": _iso(publish),
                    "createdAt": _iso(publish - 2 * US_PER_DAY),
                    "updatedAt": _iso(publish),
                }
                email_rows.append((str(email_id), json.dumps(body), _iso(publish)))
                email_id += 1
                for s in email_sends:
                    share = rng.uniform(0.01, 0.03) / len(email_sends)
                    k = min(len(with_email), 20_000, max(1, int(len(with_email) * share)))
                    sends.append((s, publish, rng.choice(with_email, k, replace=False)))
        self._insert_rows(
            "hubspot_campaigns", campaign_rows, ["id", "properties", "created_at", "updated_at"]
        )
        self._insert_rows("hubspot_marketing_emails", email_rows, ["id", "body", "updated_at"])
        recipients = np.array(
            [e.strip().lower() if e is not None else "" for e in self.contact_emails], dtype=object
        )
        self.register("events", email_events(rng, sends, recipients, self.as_of // 1000))
        self.db.execute(
            "create table hubspot_email_events as select * from _events_arrow order by created, id"
        )
        self.db.unregister("_events_arrow")


EVENT_TYPES = ["SENT", "DELIVERED", "BOUNCE", "OPEN", "CLICK", "STATUSCHANGE"]


def email_events(
    rng: np.random.Generator,
    sends: list[tuple[int, int, np.ndarray]],
    recipient_emails: np.ndarray,
    as_of_ms: int,
) -> pa.Table:
    """Email events for each (emailCampaignId, publish time in us, recipient contact indexes).

    Columnar: the emulator renders HubSpot's event JSON from these columns. Every non-SENT
    event points at its SENT event through sent_by_id/sent_by_created, as HubSpot's sentBy does.
    """
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ["created", "type", "recipient", "send", "sent_idx"]
    }
    offset = 0
    for send, publish_us, recipients in sends:
        k = len(recipients)
        t0 = publish_us // 1000 + rng.integers(0, 1_800_000, k)
        delivered = rng.random(k) < 0.96
        opens = np.where(delivered & (rng.random(k) < 0.35), 1 + rng.binomial(2, 0.3, k), 0)
        clicks = np.where((opens > 0) & (rng.random(k) < 0.3), 1 + rng.binomial(1, 0.3, k), 0)
        unsub = delivered & (rng.random(k) < 0.01)
        first_open = t0 + rng.integers(60_000, 3 * 86_400_000, k)
        idx = np.arange(k)
        open_idx = np.repeat(idx, opens)
        open_n = np.arange(len(open_idx)) - np.repeat(np.cumsum(opens) - opens, opens)
        click_idx = np.repeat(idx, clicks)
        click_n = np.arange(len(click_idx)) - np.repeat(np.cumsum(clicks) - clicks, clicks)
        groups = [
            (idx, t0, 0),
            (idx, t0 + rng.integers(1_000, 60_000, k), np.where(delivered, 1, 2)),
            (
                open_idx,
                first_open[open_idx] + open_n * rng.integers(60_000, 86_400_000, len(open_idx)),
                3,
            ),
            (click_idx, first_open[click_idx] + 30_000 + click_n * 60_000, 4),
            (idx[unsub], t0[unsub] + rng.integers(120_000, 86_400_000, int(unsub.sum())), 5),
        ]
        for who, created, typ in groups:
            parts["created"].append(np.minimum(created, as_of_ms - 1000))
            parts["type"].append(np.broadcast_to(typ, len(who)).astype("int8"))
            parts["recipient"].append(recipients[who])
            parts["send"].append(np.full(len(who), send, dtype="int64"))
            parts["sent_idx"].append(offset + who)
        offset += k
    created = np.concatenate(parts["created"]).astype("int64")
    typ = np.concatenate(parts["type"])
    sent_idx = np.concatenate(parts["sent_idx"])
    n = len(created)
    hexes = rng.bytes(16 * n).hex()
    ids = np.array(
        [
            f"{hexes[i : i + 8]}-{hexes[i + 8 : i + 12]}-4{hexes[i + 13 : i + 16]}-a{hexes[i + 17 : i + 20]}-{hexes[i + 20 : i + 32]}"
            for i in range(0, 32 * n, 32)
        ],
        dtype=object,
    )
    # SENT rows are in send order, so the i-th SENT row overall is recipient slot i.
    sent_positions = np.flatnonzero(typ == 0)
    sent_by = sent_positions[sent_idx]
    is_sent = typ == 0
    bounce_hard = rng.random(n) < 0.5
    return pa.table(
        {
            "created": created,
            "id": pa.array(ids, pa.string()),
            "type": _pick(EVENT_TYPES, typ),
            "recipient": pa.array(
                recipient_emails[np.concatenate(parts["recipient"])], pa.string()
            ),
            "email_campaign_id": np.concatenate(parts["send"]),
            "sent_by_id": _mask_null(pa.array(ids[sent_by], pa.string()), is_sent),
            "sent_by_created": _mask_null(pa.array(created[sent_by], pa.int64()), is_sent),
            "bounce_category": _mask_null(
                _pick(["HARD_BOUNCE", "SOFT_BOUNCE"], (~bounce_hard).astype(int)), typ != 2
            ),
        }
    )


def _money(col: str) -> str:
    return f"({col}::decimal(18, 0) / 100)::decimal(12, 2)"


def _iso(us: int | np.integer) -> str:
    """HubSpot's timestamp format: ISO 8601 UTC with milliseconds and Z."""
    value = EPOCH + timedelta(microseconds=int(us))
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _vary_email(email: str, rng: np.random.Generator) -> str:
    """The same address as a human might retype it: other case, stray whitespace."""
    kind = int(rng.integers(0, 4))
    local, _, domain = email.partition("@")
    if kind == 0:
        return email.upper()
    if kind == 1:
        return f"{local.title()}@{domain}"
    if kind == 2:
        return f" {email}"
    return f"{local.capitalize()}@{domain.upper()} "


def _break_email(email: str, kind: int) -> str:
    local, _, domain = email.partition("@")
    return [f"{local}@", f"{local}{domain}", f"{local} {local}@{domain}", f"{local}@@{domain}"][
        kind
    ]


def generate(cfg: WorldConfig) -> World:
    """Draw the whole world for `cfg`; same config, same rows."""
    g = _Gen(cfg)
    g.categories()
    g.products()
    g.inventory()
    g.customers()
    g.campaigns()
    g.orders()
    g.payments()
    g.hubspot()
    for name in ["categories", "products", "inventory", "customers", "orders", "items", "payments"]:
        g.db.unregister(f"_{name}_arrow")
    return World(cfg, g.db, g.defects)
