"""A day of change in every source: what incremental loads, deletes and drift are tested on.

The shop behaves like its application: new customers and orders, status changes on old orders
(some weeks late), customers forgotten (deleted_at set, PII blanked), test orders purged with a
hard DELETE. The catalog reprices products and moves stock destructively, adds products and,
optionally, gains a column nobody announced. HubSpot contacts and deals are edited, created and
archived, and a new email send produces events.

Updates run through the databases' own clocks (ON UPDATE CURRENT_TIMESTAMP(6) in the shop), so
one multi-row UPDATE gives many rows the same `updated_at`: cursor ties happen naturally.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from . import names
from .catalog_db import CatalogDB
from .generate import email_events
from .hubspot_store import HubSpotStore
from .shop_db import ShopDB


@dataclasses.dataclass
class ChangeReport:
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    hard_deleted_order_ids: list[int] = dataclasses.field(default_factory=list)
    soft_deleted_customer_ids: list[int] = dataclasses.field(default_factory=list)
    late_updated_order_ids: list[int] = dataclasses.field(default_factory=list)
    archived_contact_ids: list[int] = dataclasses.field(default_factory=list)
    moved_marketing_email_id: str | None = None
    renamed_utm: tuple[str, str] | None = None  # (campaign id, its utm before the change)
    new_column: str | None = None
    new_contact_property: str | None = None


def _k(n: int, share: float) -> int:
    return max(1, math.ceil(n * share))


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _iso_ms(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def apply_change(
    shop: ShopDB,
    catalog: CatalogDB,
    store: HubSpotStore,
    seed: int,
    number: int,
    fraction: float = 0.01,
    new_column: bool = False,
) -> ChangeReport:
    """Apply change number `number` (1, 2, ...) touching about `fraction` of each source."""
    rng = np.random.default_rng([seed, number])
    report = ChangeReport()
    campaign_utms = _campaign_utms(store)
    prices = _catalog_changes(catalog, rng, fraction, new_column, number, report)
    _shop_changes(shop, rng, fraction, campaign_utms, prices, report)
    _hubspot_changes(store, rng, fraction, number, report)
    return report


def _campaign_utms(store: HubSpotStore) -> list[str]:
    with store.connect() as conn:
        rows = conn.execute("select properties from campaigns order by id").fetchall()
    return [json.loads(r[0])["hs_utm"] for r in rows]


def _catalog_changes(
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
        repriced = rng.choice(ids, min(len(ids), _k(len(ids), fraction * 2)), replace=False)
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
        picks = rng.choice(len(stock), min(len(stock), _k(len(stock), fraction * 5)), replace=False)
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
        n_new = _k(len(ids), fraction * 0.5)
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


def _shop_changes(
    shop: ShopDB,
    rng: np.random.Generator,
    fraction: float,
    campaign_utms: list[str],
    prices: dict[int, int],
    report: ChangeReport,
) -> None:
    p = shop.placeholder()
    now = _now()
    with shop.connect() as conn:
        cur = conn.cursor()
        cur.execute("select count(*), max(customer_id) from customers")
        n_customers, max_customer = cur.fetchone()
        cur.execute("select count(*), max(order_id) from orders")
        n_orders, max_order = cur.fetchone()
        fmt = "%Y-%m-%d %H:%M:%S.%f"

        # New customers.
        new_customers = _k(n_customers, fraction * 0.5)
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

        # New orders with items and a payment.
        cur.execute(
            "select customer_id, country_code from customers where deleted_at is null order by customer_id"
        )
        customers = cur.fetchall()
        product_ids = np.array(sorted(prices))
        n_new = _k(n_orders, fraction * 0.5)
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
                campaign_utms[int(rng.integers(0, len(campaign_utms)))]
                if rng.random() < 0.3
                else None
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
                    candidates, min(len(candidates), _k(len(candidates), share)), replace=False
                )
            )
            marks = ", ".join([p] * len(picked))
            cur.execute(
                f"update orders set status = {p} where order_id in ({marks})", (new, *picked)
            )
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

        # Customers move city.
        cur.execute(
            "select customer_id from customers where deleted_at is null order by customer_id"
        )
        live = [r[0] for r in cur.fetchall()]
        movers = sorted(
            int(x)
            for x in rng.choice(
                live, min(len(live), _k(n_customers, fraction * 0.2)), replace=False
            )
        )
        cur.execute(
            f"update customers set city = 'Relocated' where customer_id in ({', '.join([p] * len(movers))})",
            movers,
        )
        report.counts["shop.customers updated"] = len(movers)

        # Customers forgotten: deleted_at set, PII blanked.
        forgotten = sorted(
            int(x)
            for x in rng.choice(
                [c for c in live if c not in set(movers)],
                _k(n_customers, fraction * 0.05),
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

        # Test orders purged: hard DELETE of orders, items, payments. Nothing marks them.
        cur.execute("select order_id from orders order by order_id")
        all_orders = [r[0] for r in cur.fetchall()]
        moved_set = set(moved)
        purge = sorted(
            int(x)
            for x in rng.choice(
                [o for o in all_orders if o not in moved_set],
                _k(n_orders, fraction * 0.05),
                replace=False,
            )
        )
        marks = ", ".join([p] * len(purge))
        for table in ("payments", "order_items", "orders"):
            cur.execute(f"delete from {table} where order_id in ({marks})", purge)
        report.hard_deleted_order_ids = purge
        report.counts["shop.orders hard-deleted"] = len(purge)
        cur.close()


def _hubspot_changes(
    store: HubSpotStore,
    rng: np.random.Generator,
    fraction: float,
    number: int,
    report: ChangeReport,
) -> None:
    now = _now()
    with store.connect() as conn:
        for obj, prop, values in (
            ("contacts", "lifecyclestage", names.LIFECYCLE_STAGES),
            ("deals", "dealstage", names.DEAL_STAGES),
            ("companies", "industry", names.INDUSTRIES),
        ):
            ids = [
                r[0]
                for r in conn.execute(
                    "select id from objects where object_type = ? and archived = 0 order by id",
                    (obj,),
                )
            ]
            picked = rng.choice(ids, min(len(ids), _k(len(ids), fraction)), replace=False)
            for object_id in sorted(int(x) for x in picked):
                # HubSpot stamps lastmodifieddate as the edit happens: now, give or take a second.
                stamp = _iso_ms(now - timedelta(milliseconds=int(rng.integers(0, 1_000))))
                _update_object(
                    conn, obj, object_id, {prop: values[int(rng.integers(0, len(values)))]}, stamp
                )
            report.counts[f"hubspot.{obj} modified"] = len(picked)

        contact_ids = [
            r[0]
            for r in conn.execute(
                "select id from objects where object_type = 'contacts' and archived = 0 order by id"
            )
        ]
        archive = sorted(
            int(x)
            for x in rng.choice(contact_ids, _k(len(contact_ids), fraction * 0.1), replace=False)
        )
        stamp = _iso_ms(now - timedelta(seconds=5))
        conn.executemany(
            "update objects set archived = 1, archived_at = ?, updated_at = ? where object_type = 'contacts' and id = ?",
            [(stamp, stamp, i) for i in archive],
        )
        report.archived_contact_ids = archive
        report.counts["hubspot.contacts archived"] = len(archive)

        max_id = conn.execute(
            "select max(id) from objects where object_type = 'contacts'"
        ).fetchone()[0]
        n_new = _k(len(contact_ids), fraction * 0.5)
        new_rows = []
        for j in range(n_new):
            cid = max_id + 1 + j
            created = _iso_ms(now - timedelta(milliseconds=int(rng.integers(0, 1_000))))
            f = names.FIRST_NAMES[int(rng.integers(0, len(names.FIRST_NAMES)))]
            la = names.LAST_NAMES[int(rng.integers(0, len(names.LAST_NAMES)))]
            props = {
                "email": f"{f.lower()}.new{cid}@{names.EMAIL_DOMAINS[j % len(names.EMAIL_DOMAINS)]}",
                "firstname": f,
                "lastname": la,
                "phone": None,
                "lifecyclestage": "lead",
                "hs_email_optout": "false",
                "createdate": created,
                "lastmodifieddate": created,
                "hs_object_id": str(cid),
            }
            new_rows.append(("contacts", cid, json.dumps(props), created, created, 0, None))
        conn.executemany("insert into objects values (?, ?, ?, ?, ?, ?, ?)", new_rows)
        report.counts["hubspot.contacts added"] = n_new

        # A new email send to 1% of contacts produces fresh events.
        email_row = conn.execute(
            "select body from marketing_emails order by updated_at desc, id limit 1"
        ).fetchone()
        if email_row is not None:
            send = int(json.loads(email_row[0])["allEmailCampaignIds"][0])
            emails = [
                r[0]
                for r in conn.execute(
                    "select lower(trim(json_extract(properties, '$.email'))) from objects "
                    "where object_type = 'contacts' and archived = 0 and json_extract(properties, '$.email') is not null "
                    "order by id"
                )
            ]
            recipients = np.array(emails, dtype=object)
            chosen = rng.choice(
                len(recipients), min(len(recipients), _k(len(recipients), fraction)), replace=False
            )
            now_ms = int(now.replace(tzinfo=UTC).timestamp() * 1000)
            # The send went out minutes ago; its events so far are stamped up to now.
            publish_us = (now_ms - 5 * 60_000) * 1000
            table = email_events(rng, [(send, publish_us, chosen)], recipients, now_ms)
            rows = list(
                zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True)
            )
            conn.executemany(
                """insert into email_events (created, id, type, recipient, email_campaign_id, sent_by_id,
                    sent_by_created, bounce_category) values (?, ?, ?, ?, ?, ?, ?, ?)""",
                sorted(rows, key=lambda r: (r[0], r[1])),
            )
            report.counts["hubspot.email_events added"] = len(rows)

        # A marketer moves the oldest email to another campaign: its sends' past events move too.
        moved = conn.execute("select id, body from marketing_emails order by id limit 1").fetchone()
        campaigns = conn.execute("select id, properties from campaigns order by id").fetchall()
        if moved is not None and len(campaigns) > 1:
            body = json.loads(moved[1])
            to_id, to_props = next((c, p) for c, p in campaigns if c != body.get("campaign"))
            stamp = _iso_ms(now)
            body.update(
                campaign=to_id, campaignName=json.loads(to_props).get("hs_name"), updatedAt=stamp
            )
            conn.execute(
                "update marketing_emails set body = ?, updated_at = ? where id = ?",
                (json.dumps(body), stamp, moved[0]),
            )
            report.moved_marketing_email_id = str(moved[0])
            report.counts["hubspot.marketing_emails moved"] = 1

        # A marketer renames the first campaign's utm: the orders tagged with the old one lose
        # their campaign.
        if campaigns:
            campaign_id, props_text = campaigns[0]
            props = json.loads(props_text)
            if props.get("hs_utm"):
                report.renamed_utm = (str(campaign_id), props["hs_utm"])
                props["hs_utm"] = f"{props['hs_utm']}_renamed"
                conn.execute(
                    "update campaigns set properties = ?, updated_at = ? where id = ?",
                    (json.dumps(props), _iso_ms(now), campaign_id),
                )
                report.counts["hubspot.campaigns utm renamed"] = 1


def _update_object(
    conn: Any, obj: str, object_id: int, changes: dict[str, Any], stamp: str
) -> None:
    modified = {"contacts": "lastmodifieddate"}.get(obj, "hs_lastmodifieddate")
    row = conn.execute(
        "select properties from objects where object_type = ? and id = ?", (obj, object_id)
    ).fetchone()
    props = json.loads(row[0])
    props.update(changes)
    props[modified] = stamp
    conn.execute(
        "update objects set properties = ?, updated_at = ? where object_type = ? and id = ?",
        (json.dumps(props), stamp, obj, object_id),
    )


def add_contact_property(store: HubSpotStore, name: str, values: dict[int, str]) -> None:
    """A portal admin adds a custom contact property and fills it on some contacts."""
    now = _now()
    stamp = _iso_ms(now)
    with store.connect() as conn:
        conn.execute(
            "insert or ignore into properties values ('contacts', ?, ?, 'string', 'text', 'contactinformation', ?)",
            (name, name.replace("_", " ").title(), stamp),
        )
        for object_id, value in values.items():
            _update_object(conn, "contacts", object_id, {name: value}, stamp)


def apply_hubspot_change(
    store: HubSpotStore, seed: int, number: int, fraction: float = 0.01
) -> ChangeReport:
    """Only the HubSpot part of a day of change (for tests of the HubSpot loader)."""
    report = ChangeReport()
    _hubspot_changes(store, np.random.default_rng([seed, number, 7]), fraction, number, report)
    return report


def touch_contacts(store: HubSpotStore, count: int, stamp_ms: int | None = None) -> list[int]:
    """Edit `count` live contacts at once (a bulk import or workflow): all stamped `stamp_ms`
    (default now), so that many records share one last-modified time."""
    now = (
        _now()
        if stamp_ms is None
        else datetime.fromtimestamp(stamp_ms / 1000, UTC).replace(tzinfo=None)
    )
    stamp = _iso_ms(now)
    with store.connect() as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "select id from objects where object_type = 'contacts' and archived = 0 order by id limit ?",
                (count,),
            )
        ]
        for object_id in ids:
            _update_object(conn, "contacts", object_id, {"hs_lead_status": "IN_PROGRESS"}, stamp)
    return ids
