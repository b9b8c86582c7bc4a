"""The shop's day: new customers and orders, status changes on old orders (some weeks late),
customers forgotten, test orders purged with a hard DELETE."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from world import names
from world.change_common import ChangeReport, share_of, utc_now
from world.shop.db import ShopDB


@dataclass
class ShopDay:
    """One day of change on the shop: its connection and what the day's phases share."""

    shop: ShopDB
    cur: Any
    rng: np.random.Generator
    fraction: float
    report: ChangeReport
    p: str  # the driver's placeholder
    now: datetime
    n_customers: int
    max_customer: int
    n_orders: int
    max_order: int


FMT = "%Y-%m-%d %H:%M:%S.%f"


def shop_changes(
    shop: ShopDB,
    rng: np.random.Generator,
    fraction: float,
    campaign_utms: list[str],
    prices: dict[int, int],
    report: ChangeReport,
) -> None:
    with shop.connect() as conn:
        cur = conn.cursor()
        cur.execute("select count(*), max(customer_id) from customers")
        n_customers, max_customer = cur.fetchone()
        cur.execute("select count(*), max(order_id) from orders")
        n_orders, max_order = cur.fetchone()
        day = ShopDay(
            shop,
            cur,
            rng,
            fraction,
            report,
            shop.placeholder(),
            utc_now(),
            n_customers,
            max_customer,
            n_orders,
            max_order,
        )
        add_customers(day)
        add_orders(day, campaign_utms, prices)
        moved = move_statuses(day)
        live, movers = relocate_customers(day)
        forget_customers(day, live, movers)
        purge_test_orders(day, moved)
        cur.close()


def add_customers(day: ShopDay) -> None:
    """New customers, stamped by the database clock as the application's are."""
    p, cur, rng, fraction, report, shop, n_customers, max_customer = (
        day.p,
        day.cur,
        day.rng,
        day.fraction,
        day.report,
        day.shop,
        day.n_customers,
        day.max_customer,
    )
    # New customers.
    new_customers = share_of(n_customers, fraction * 0.5)
    rows = []
    for j in range(new_customers):
        f = names.FIRST_NAMES[int(rng.integers(0, len(names.FIRST_NAMES)))]
        la = names.LAST_NAMES[int(rng.integers(0, len(names.LAST_NAMES)))]
        country = names.COUNTRIES[int(rng.integers(0, len(names.COUNTRIES)))]
        slug = la.lower().replace(" ", "").replace("'", "")
        rows.append(
            (
                f"{f.lower()}.{slug}.n{max_customer + j + 1}@{names.EMAIL_DOMAINS[j % len(names.EMAIL_DOMAINS)]}",
                f,
                la,
                None,
                country[0],
                country[3][0],
                int(rng.random() < 0.6),
            )
        )
    # Like the application: a new row is stamped by the database clock as it is inserted.
    cur.executemany(
        f"""insert into customers (email, first_name, last_name, phone, country_code, city,
            marketing_opt_in, created_at, updated_at)
            values ({", ".join([p] * 7)}, {shop.now}, {shop.now})""",
        rows,
    )
    report.counts["shop.customers added"] = new_customers


def add_orders(day: ShopDay, campaign_utms: list[str], prices: dict[int, int]) -> None:
    """New orders with their items and, when paid, a payment."""
    p, now, cur, rng, fraction, report, shop, n_orders, fmt = (
        day.p,
        day.now,
        day.cur,
        day.rng,
        day.fraction,
        day.report,
        day.shop,
        day.n_orders,
        FMT,
    )
    # New orders with items and a payment.
    cur.execute(
        "select customer_id, country_code from customers where deleted_at is null order by customer_id"
    )
    customers = cur.fetchall()
    product_ids = np.array(sorted(prices))
    n_new = share_of(n_orders, fraction * 0.5)
    for _ in range(n_new):
        cid, country = customers[int(rng.integers(0, len(customers)))]
        currency = next((c[1] for c in names.COUNTRIES if c[0] == country), "USD")
        placed = (now - timedelta(seconds=int(rng.integers(1, 300)))).strftime(fmt)
        k = 1 + int(rng.binomial(4, 0.35))
        pids = rng.choice(product_ids, k)
        qty = 1 + rng.binomial(2, 0.25, k)
        unit = [round(prices[int(x)] / names.USD_PER_UNIT[currency]) for x in pids]
        subtotal = int(sum(int(q) * u for q, u in zip(qty, unit, strict=True)))
        shipping = 0 if subtotal >= 5000 else 499
        tax = round(0.08 * subtotal)
        total = subtotal + shipping + tax
        utm = (
            campaign_utms[int(rng.integers(0, len(campaign_utms)))] if rng.random() < 0.3 else None
        )
        status = "paid" if rng.random() < 0.7 else "pending"
        cur.execute(
            f"""insert into orders (customer_id, status, currency, subtotal, discount_amount,
                shipping_amount, tax_amount, total_amount, channel, utm_source, utm_campaign,
                placed_at, updated_at) values ({", ".join([p] * 12)}, {shop.now})""",
            (
                cid,
                status,
                currency,
                subtotal / 100,
                0,
                shipping / 100,
                tax / 100,
                total / 100,
                names.CHANNELS[int(rng.integers(0, 4))],
                "newsletter" if utm else None,
                utm,
                placed,
            ),
        )
        order_id = cur.lastrowid
        cur.executemany(
            f"""insert into order_items (order_id, product_id, quantity, unit_price, discount_amount,
                updated_at) values ({", ".join([p] * 5)}, {shop.now})""",
            [
                (order_id, int(x), int(q), u / 100, 0)
                for x, q, u in zip(pids, qty, unit, strict=True)
            ],
        )
        if status == "paid":
            cur.execute(
                f"""insert into payments (order_id, method, status, amount, currency, processed_at,
                    updated_at) values ({", ".join([p] * 6)}, {shop.now})""",
                (order_id, "card", "captured", total / 100, currency, placed[:19]),
            )
    report.counts["shop.orders added"] = n_new


def move_statuses(day: ShopDay) -> list[int]:
    """Status changes, some on orders weeks old; the orders moved."""
    p, cur, rng, fraction, report, shop, max_order = (
        day.p,
        day.cur,
        day.rng,
        day.fraction,
        day.report,
        day.shop,
        day.max_order,
    )
    # Status changes, including late ones on orders weeks old.
    transitions = {
        "pending": "paid",
        "paid": "shipped",
        "shipped": "delivered",
        "delivered": "refunded",
    }
    moved: list[int] = []
    for old, new in transitions.items():
        cur.execute(
            f"select order_id from orders where status = {p} and order_id <= {p} order by order_id",
            (old, max_order),
        )
        candidates = [r[0] for r in cur.fetchall()]
        if not candidates:
            continue
        share = fraction * (0.02 if old == "delivered" else 0.5)
        picked = sorted(
            int(x)
            for x in rng.choice(
                candidates,
                min(len(candidates), share_of(len(candidates), share)),
                replace=False,
            )
        )
        marks = ", ".join([p] * len(picked))
        cur.execute(f"update orders set status = {p} where order_id in ({marks})", (new, *picked))
        if new == "refunded":
            cur.execute(
                f"update payments set status = 'refunded' where status = 'captured' and order_id in ({marks})",
                picked,
            )
        moved += picked
    report.counts["shop.orders status changed"] = len(moved)
    cur.execute(
        f"select order_id from orders where order_id in ({', '.join([p] * len(moved))}) and "
        + (
            "placed_at < utc_timestamp(6) - interval 14 day"
            if shop.dialect == "mysql"
            else "placed_at < strftime('%Y-%m-%d %H:%M:%f', 'now', '-14 days')"
        ),
        moved,
    )
    report.late_updated_order_ids = sorted(r[0] for r in cur.fetchall())
    return moved


def relocate_customers(day: ShopDay) -> tuple[list[int], list[int]]:
    """Customers move city; the live customers and the movers."""
    p, cur, rng, fraction, report, n_customers = (
        day.p,
        day.cur,
        day.rng,
        day.fraction,
        day.report,
        day.n_customers,
    )
    # Customers move city.
    cur.execute("select customer_id from customers where deleted_at is null order by customer_id")
    live = [r[0] for r in cur.fetchall()]
    movers = sorted(
        int(x)
        for x in rng.choice(
            live, min(len(live), share_of(n_customers, fraction * 0.2)), replace=False
        )
    )
    cur.execute(
        f"update customers set city = 'Relocated' where customer_id in ({', '.join([p] * len(movers))})",
        movers,
    )
    report.counts["shop.customers updated"] = len(movers)
    return live, movers


def forget_customers(day: ShopDay, live: list[int], movers: list[int]) -> None:
    """Customers forgotten: deleted_at set, PII blanked."""
    p, cur, rng, fraction, report, shop, n_customers = (
        day.p,
        day.cur,
        day.rng,
        day.fraction,
        day.report,
        day.shop,
        day.n_customers,
    )
    # Customers forgotten: deleted_at set, PII blanked.
    forgotten = sorted(
        int(x)
        for x in rng.choice(
            [c for c in live if c not in set(movers)],
            share_of(n_customers, fraction * 0.05),
            replace=False,
        )
    )
    cur.execute(
        f"""update customers set deleted_at = {shop.now}, email = null, first_name = '', last_name = '',
            phone = null, city = null where customer_id in ({", ".join([p] * len(forgotten))})""",
        forgotten,
    )
    report.soft_deleted_customer_ids = forgotten
    report.counts["shop.customers soft-deleted"] = len(forgotten)


def purge_test_orders(day: ShopDay, moved: list[int]) -> None:
    """Test orders purged with a hard DELETE of orders, items and payments: nothing marks them."""
    p, cur, rng, fraction, report, n_orders = (
        day.p,
        day.cur,
        day.rng,
        day.fraction,
        day.report,
        day.n_orders,
    )
    # Test orders purged: hard DELETE of orders, items, payments. Nothing marks them.
    cur.execute("select order_id from orders order by order_id")
    all_orders = [r[0] for r in cur.fetchall()]
    moved_set = set(moved)
    purge = sorted(
        int(x)
        for x in rng.choice(
            [o for o in all_orders if o not in moved_set],
            share_of(n_orders, fraction * 0.05),
            replace=False,
        )
    )
    marks = ", ".join([p] * len(purge))
    for table in ("payments", "order_items", "orders"):
        cur.execute(f"delete from {table} where order_id in ({marks})", purge)
    report.hard_deleted_order_ids = purge
    report.counts["shop.orders hard-deleted"] = len(purge)
