"""The shop's orders and their items: the header sums the items, so both are drawn together."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from world import names
from world.draws import (
    US_PER_DAY,
    US_PER_S,
    Defect,
    Draws,
    mask_null,
    money_sql,
    pick,
    ts_array,
)


class OrderDraws(Draws):
    def orders(self) -> None:
        """Orders with their items: the header sums the items, so both are drawn here."""
        n = self.cfg.orders
        h = self._order_headers(n)
        it = self._order_items(n, h["currency"])
        am = self._order_amounts(n, it)
        self.order_total = am["total"]
        self._register_orders(n, h, am)
        self._register_items(h["placed"], it)
        n, m = self.cfg.orders, it["m"]
        future, mismatch, bad_qty, orphan = h["future"], am["mismatch"], it["bad_qty"], it["orphan"]
        self.defects += [
            Defect("future_placed_at", "shop.orders", int(future.sum()), n),
            Defect("total_mismatch", "shop.orders", int(mismatch.sum()), n),
            Defect("nonpositive_quantity", "shop.order_items", int(bad_qty.sum()), m),
            Defect("orphan_product", "shop.order_items", int(orphan.sum()), m),
        ]

    def _order_headers(self, n: int) -> dict[str, Any]:
        """Who ordered, when, the status reached, the currency, the channel and the utm tags."""
        cfg, rng = self.cfg, self.rng
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
        utm_values, utm_source = self._order_utms(n)
        self.order_placed, self.order_updated = placed, updated
        self.order_status, self.order_currency = status, currency
        self.order_future = future

        return {
            "cust_idx": cust_idx,
            "guest": guest,
            "placed": placed,
            "updated": updated,
            "future": future,
            "status": status,
            "currency": currency,
            "channel": channel,
            "utm_values": utm_values,
            "utm_source": utm_source,
        }

    def _order_utms(self, n: int) -> tuple[list[str | None], pa.Array]:
        """utm_campaign (a campaign's utm, in any case, or one no campaign has) and utm_source."""
        rng = self.rng
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
        utm_source = mask_null(
            pick(names.UTM_SOURCES, rng.integers(0, len(names.UTM_SOURCES), n)),
            ~(tracked | untracked),
        )
        return utm_values, utm_source

    def _order_items(self, n: int, currency: np.ndarray) -> dict[str, Any]:
        """Items per order: products by popularity, quantities, prices in the order's currency."""
        cfg, rng = self.cfg, self.rng
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
        return {
            "item_order": item_order,
            "m": m,
            "product": product,
            "quantity": quantity,
            "unit": unit,
            "line_disc": line_disc,
            "orphan": orphan,
            "bad_qty": bad_qty,
        }

    def _order_amounts(self, n: int, it: dict[str, Any]) -> dict[str, Any]:
        """The header's amounts from its items, coupons, shipping, tax, and mismatched totals."""
        cfg, rng = self.cfg, self.rng
        item_order = it["item_order"]
        quantity = it["quantity"]
        unit = it["unit"]
        line_disc = it["line_disc"]
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
        return {
            "subtotal": subtotal,
            "discount": discount,
            "shipping": shipping,
            "tax": tax,
            "total": total,
            "mismatch": mismatch,
        }

    def _register_orders(self, n: int, h: dict[str, Any], am: dict[str, Any]) -> None:
        cust_idx = h["cust_idx"]
        guest = h["guest"]
        placed = h["placed"]
        updated = h["updated"]
        status = h["status"]
        currency = h["currency"]
        channel = h["channel"]
        utm_values = h["utm_values"]
        utm_source = h["utm_source"]
        subtotal = am["subtotal"]
        discount = am["discount"]
        shipping = am["shipping"]
        tax = am["tax"]
        total = am["total"]
        order_ids = np.arange(1, n + 1)
        self.register(
            "orders",
            pa.table(
                {
                    "order_id": pa.array(order_ids, pa.int64()),
                    "customer_id": mask_null(pa.array(cust_idx + 1, pa.int64()), guest),
                    "status": pick(names.ORDER_STATUSES, status),
                    "currency": pick(names.CURRENCIES, currency),
                    "subtotal_c": subtotal,
                    "discount_c": discount,
                    "shipping_c": shipping,
                    "tax_c": tax,
                    "total_c": total,
                    "channel": pick(names.CHANNELS, channel),
                    "utm_source": utm_source,
                    "utm_campaign": pa.array(utm_values, pa.string()),
                    "placed_at": ts_array(placed),
                    "updated_at": ts_array(updated),
                }
            ),
        )
        self.db.execute(
            f"""create table shop_orders as
            select order_id, customer_id, status, currency,
                {money_sql("subtotal_c")} as subtotal,
                {money_sql("discount_c")} as discount_amount,
                {money_sql("shipping_c")} as shipping_amount,
                {money_sql("tax_c")} as tax_amount,
                {money_sql("total_c")} as total_amount,
                channel, utm_source, utm_campaign, placed_at, updated_at
            from _orders_arrow"""
        )

    def _register_items(self, placed: np.ndarray, it: dict[str, Any]) -> None:
        rng = self.rng
        item_order = it["item_order"]
        m = it["m"]
        product = it["product"]
        quantity = it["quantity"]
        unit = it["unit"]
        line_disc = it["line_disc"]
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
                    "updated_at": ts_array(item_updated),
                }
            ),
        )
        self.db.execute(
            f"""create table shop_order_items as
            select order_item_id, order_id, product_id, quantity,
                {money_sql("unit_c")} as unit_price, {money_sql("disc_c")} as discount_amount, updated_at
            from _items_arrow"""
        )
