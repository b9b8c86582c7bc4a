"""A variant world: what production holds and the default world never makes (docs/spec.md §2,
last part).

Applied on top of a created world, in the source systems themselves, so loaders and marts meet
it as they would in production:

- shop: orders placed years before 2020 and others stamped far ahead; a new channel and a new
  order status the shop team added to their ENUMs; accounts created "in the future" (clock
  skew); a payment method nobody announced;
- catalog: SKUs in another scheme, a new warehouse, oversold stock (negative on hand, more
  reserved than on hand), an empty `categories` table (every product then uncategorised);
- HubSpot: a portal without Marketing Hub (403 MISSING_SCOPES on marketing emails, kept in the
  store's meta for the emulator), no campaigns, contacts in a lifecycle stage of its own, deals
  in a pipeline of its own, email events whose recipient was mistyped.

Deterministic: rows are picked by key arithmetic. Returns what it changed, per surprise.
"""

from __future__ import annotations

from datetime import datetime

from world.catalog.db import CatalogDB
from world.hubspot.store import HubSpotStore
from world.shop.db import ShopDB

# What the emulator answers 403 MISSING_SCOPES on, per path prefix (the scope it lacks).
MISSING_SCOPES = {"/marketing/v3/emails": "content"}


def apply_variant(
    shop: ShopDB, catalog: CatalogDB, store: HubSpotStore, as_of: datetime
) -> dict[str, int]:
    """Make the created world a variant one; {surprise: rows touched}."""
    counts: dict[str, int] = {}
    counts.update(_shop(shop, as_of))
    counts.update(_catalog(catalog))
    counts.update(_hubspot(store))
    return counts


def future_orders(shop: ShopDB, as_of: datetime) -> int:
    """Orders placed after the world's history ends (the clock bug's, and those moved ahead)."""
    with shop.connect() as conn:
        cur = conn.cursor()
        cur.execute(
            f"select count(*) from orders where placed_at > {shop.placeholder()}",
            (as_of.strftime("%Y-%m-%d %H:%M:%S"),),
        )
        return int(cur.fetchone()[0])


def _shop(shop: ShopDB, as_of: datetime) -> dict[str, int]:
    mysql = shop.dialect == "mysql"
    far = as_of.replace(year=as_of.year + 3).strftime("%Y-%m-%d %H:%M:%S")
    years_back = (
        "date_sub(placed_at, interval 9 year)" if mysql else "datetime(placed_at, '-9 years')"
    )
    created_back = (
        "date_sub(created_at, interval 9 year)" if mysql else "datetime(created_at, '-9 years')"
    )
    ahead = (
        "date_add(created_at, interval 400 day)" if mysql else "datetime(created_at, '+400 days')"
    )
    counts: dict[str, int] = {}
    with shop.connect() as conn:
        cur = conn.cursor()
        if mysql:  # the shop team extends its ENUMs; the stand-in's CHECKs are switched off
            cur.execute(
                "alter table orders modify channel "
                "enum('web','ios','android','marketplace','kiosk') not null"
            )
            cur.execute(
                "alter table orders modify status enum('pending','paid','shipped','delivered',"
                "'cancelled','refunded','on_hold') not null"
            )
            cur.execute(
                "alter table payments modify method "
                "enum('card','paypal','gift_card','bank_transfer','klarna') not null"
            )
        else:
            cur.execute("pragma ignore_check_constraints = on")

        def run(name: str, sql: str) -> None:
            cur.execute(sql)
            counts[name] = int(cur.rowcount)

        # Years of history from before the warehouse existed, with their customers' accounts.
        run(
            "shop.customers opened years before 2020",
            f"update customers set created_at = {created_back} where customer_id % 23 = 0",
        )
        run(
            "shop.orders placed years before 2020",
            f"update orders set placed_at = {years_back} where order_id % 29 = 0 "
            f"and customer_id is not null and customer_id % 23 = 0",
        )
        run(
            "shop.orders placed far ahead",
            f"update orders set placed_at = '{far}' where order_id % 997 = 5",
        )
        run(
            "shop.orders new channel", "update orders set channel = 'kiosk' where order_id % 41 = 3"
        )
        run(
            "shop.orders new status", "update orders set status = 'on_hold' where order_id % 59 = 7"
        )
        run(
            "shop.customers created in the future",
            f"update customers set created_at = {ahead} where customer_id % 211 = 9",
        )
        run(
            "shop.payments new method",
            "update payments set method = 'klarna' where payment_id % 67 = 1",
        )
    return counts


def _catalog(catalog: CatalogDB) -> dict[str, int]:
    counts: dict[str, int] = {}
    with catalog.connect() as conn, conn.cursor() as cur:

        def run(name: str, sql: str) -> None:
            cur.execute(sql)
            counts[name] = int(cur.rowcount)

        run(
            "catalog.products another SKU scheme",
            "update catalog.products set sku = 'ACME/' || lpad(product_id::text, 5, '0') || '-X' "
            "where product_id % 9 = 0",
        )
        run(
            "catalog.inventory_levels new warehouse",
            "insert into catalog.inventory_levels "
            "select product_id, 'FRA2', 25 + product_id % 7, 0, updated_at "
            "from catalog.inventory_levels where warehouse_code = 'AMS1' and product_id % 5 = 0",
        )
        run(
            "catalog.inventory_levels negative stock",
            "update catalog.inventory_levels set quantity_on_hand = -3, quantity_reserved = 0 "
            "where product_id % 31 = 0 and warehouse_code <> 'FRA2'",
        )
        run(
            "catalog.inventory_levels reserved above on hand",
            "update catalog.inventory_levels set quantity_reserved = quantity_on_hand + 5 "
            "where product_id % 37 = 1 and quantity_on_hand >= 0",
        )
        run("catalog.categories emptied", "delete from catalog.categories")
    return counts


def _hubspot(store: HubSpotStore) -> dict[str, int]:
    counts: dict[str, int] = {}
    with store.connect() as conn:
        counts["hubspot.campaigns removed"] = conn.execute("delete from campaigns").rowcount
        counts["hubspot.contacts own lifecycle stage"] = conn.execute(
            """update objects set properties = json_set(properties, '$.lifecyclestage', 'partner')
               where object_type = 'contacts' and id % 43 = 0"""
        ).rowcount
        counts["hubspot.deals own pipeline stage"] = conn.execute(
            """update objects set properties = json_set(properties, '$.dealstage', 'negotiation')
               where object_type = 'deals' and id % 7 = 0"""
        ).rowcount
        counts["hubspot.email_events mistyped recipient"] = conn.execute(
            """update email_events set recipient = replace(recipient, '@', '@@')
               where seq % 97 = 0 and recipient like '%@%'"""
        ).rowcount
    store.set_meta("missing_scopes", MISSING_SCOPES)
    counts["hubspot.marketing_emails 403 MISSING_SCOPES"] = 1
    return counts
