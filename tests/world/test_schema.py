"""The shop and catalog databases match docs/spec.md §1, as introspected from the live servers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.fixtures.services import mysql_connect, pg_connect
from tests.fixtures.worlds import SourceWorld
from world.urls import DbUrl

pytestmark = [pytest.mark.mysql, pytest.mark.postgres]

UPDATED_AT = ("datetime(6)", "NO", "on update current_timestamp(6)")
# column -> (column_type, is_nullable, extra) as information_schema reports them on MariaDB.
SHOP_SPEC: dict[str, dict[str, tuple[str, str, str]]] = {
    "customers": {
        "customer_id": ("bigint(20) unsigned", "NO", "auto_increment"),
        "email": ("varchar(320)", "YES", ""),
        "first_name": ("varchar(100)", "NO", ""),
        "last_name": ("varchar(100)", "NO", ""),
        "phone": ("varchar(32)", "YES", ""),
        "country_code": ("char(2)", "YES", ""),
        "city": ("varchar(100)", "YES", ""),
        "marketing_opt_in": ("tinyint(1)", "NO", ""),
        "created_at": ("datetime(6)", "NO", ""),
        "updated_at": UPDATED_AT,
        "deleted_at": ("datetime(6)", "YES", ""),
    },
    "orders": {
        "order_id": ("bigint(20) unsigned", "NO", "auto_increment"),
        "customer_id": ("bigint(20) unsigned", "YES", ""),
        "status": ("enum('pending','paid','shipped','delivered','cancelled','refunded')", "NO", ""),
        "currency": ("char(3)", "NO", ""),
        "subtotal": ("decimal(12,2)", "NO", ""),
        "discount_amount": ("decimal(12,2)", "NO", ""),
        "shipping_amount": ("decimal(12,2)", "NO", ""),
        "tax_amount": ("decimal(12,2)", "NO", ""),
        "total_amount": ("decimal(12,2)", "NO", ""),
        "channel": ("enum('web','ios','android','marketplace')", "NO", ""),
        "utm_source": ("varchar(64)", "YES", ""),
        "utm_campaign": ("varchar(128)", "YES", ""),
        "placed_at": ("datetime(6)", "NO", ""),
        "updated_at": UPDATED_AT,
    },
    "order_items": {
        "order_item_id": ("bigint(20) unsigned", "NO", "auto_increment"),
        "order_id": ("bigint(20) unsigned", "NO", ""),
        "product_id": ("bigint(20)", "NO", ""),
        "quantity": ("int(11)", "NO", ""),
        "unit_price": ("decimal(12,2)", "NO", ""),
        "discount_amount": ("decimal(12,2)", "NO", ""),
        "updated_at": UPDATED_AT,
    },
    "payments": {
        "payment_id": ("bigint(20) unsigned", "NO", "auto_increment"),
        "order_id": ("bigint(20) unsigned", "NO", ""),
        "method": ("enum('card','paypal','gift_card','bank_transfer')", "NO", ""),
        "status": ("enum('authorized','captured','failed','refunded')", "NO", ""),
        "amount": ("decimal(12,2)", "NO", ""),
        "currency": ("char(3)", "NO", ""),
        "processed_at": ("datetime", "YES", ""),
        "updated_at": UPDATED_AT,
    },
}
SHOP_PK = {
    "customers": "customer_id",
    "orders": "order_id",
    "order_items": "order_item_id",
    "payments": "payment_id",
}

# column -> (data_type, numeric precision/scale or char length, is_nullable)
CATALOG_SPEC: dict[str, dict[str, tuple[str, object, str]]] = {
    "categories": {
        "category_id": ("integer", None, "NO"),
        "parent_category_id": ("integer", None, "YES"),
        "name": ("text", None, "NO"),
        "updated_at": ("timestamp with time zone", None, "NO"),
    },
    "products": {
        "product_id": ("bigint", None, "NO"),
        "sku": ("text", None, "NO"),
        "name": ("text", None, "NO"),
        "description": ("text", None, "YES"),
        "category_id": ("integer", None, "YES"),
        "brand": ("text", None, "YES"),
        "list_price": ("numeric", (12, 2), "NO"),
        "cost_price": ("numeric", (12, 2), "NO"),
        "currency": ("character", 3, "NO"),
        "attributes": ("jsonb", None, "NO"),
        "is_active": ("boolean", None, "NO"),
        "created_at": ("timestamp with time zone", None, "NO"),
        "updated_at": ("timestamp with time zone", None, "NO"),
    },
    "inventory_levels": {
        "product_id": ("bigint", None, "NO"),
        "warehouse_code": ("text", None, "NO"),
        "quantity_on_hand": ("integer", None, "NO"),
        "quantity_reserved": ("integer", None, "NO"),
        "updated_at": ("timestamp with time zone", None, "NO"),
    },
}
CATALOG_PK = {
    "categories": ["category_id"],
    "products": ["product_id"],
    "inventory_levels": ["product_id", "warehouse_code"],
}


def test_shop_tables_match_spec(make_world: Callable[..., SourceWorld]) -> None:
    world = make_world(orders=1_000, seed=3)
    url = DbUrl.parse(world.shop_url)
    conn = mysql_connect(url, url.database)
    with conn.cursor() as cur:
        for table, columns in SHOP_SPEC.items():
            cur.execute(
                """select column_name, column_type, is_nullable, lower(extra), column_key
                   from information_schema.columns where table_schema = %s and table_name = %s
                   order by ordinal_position""",
                (url.database, table),
            )
            rows = cur.fetchall()
            assert {r[0]: (r[1], r[2], r[3]) for r in rows} == columns, table
            assert [r[0] for r in rows if r[4] == "PRI"] == [SHOP_PK[table]], table
            cur.execute(
                "select engine from information_schema.tables where table_schema = %s and table_name = %s",
                (url.database, table),
            )
            assert cur.fetchone() == ("InnoDB",)
    conn.close()


def test_shop_on_update_moves_updated_at_and_zero_dates_exist(
    make_world: Callable[..., SourceWorld],
) -> None:
    world = make_world(orders=1_000, seed=4)
    url = DbUrl.parse(world.shop_url)
    conn = mysql_connect(url, url.database)
    with conn.cursor() as cur:
        cur.execute("set session time_zone = '+00:00'")
        cur.execute("select updated_at from orders where order_id = 1")
        before = cur.fetchone()[0]
        cur.execute("update orders set utm_source = 'changed' where order_id = 1")
        cur.execute("select updated_at, utc_timestamp(6) from orders where order_id = 1")
        after, now = cur.fetchone()
        assert after > before
        assert abs((now - after).total_seconds()) < 60  # the ON UPDATE clock is UTC
        cur.execute("select count(*) from payments where processed_at = '0000-00-00 00:00:00'")
        assert cur.fetchone()[0] == world.manifest.report["zero_processed_at"]["rows"] > 0
    conn.close()


def test_catalog_tables_match_spec(make_world: Callable[..., SourceWorld]) -> None:
    world = make_world(orders=1_000, seed=5)
    url = DbUrl.parse(world.catalog_url)
    conn = pg_connect(url)
    with conn.cursor() as cur:
        for table, columns in CATALOG_SPEC.items():
            cur.execute(
                """select column_name, data_type, numeric_precision, numeric_scale,
                          character_maximum_length, is_nullable
                   from information_schema.columns where table_schema = 'catalog' and table_name = %s""",
                (table,),
            )
            got = {}
            for name, dtype, precision, scale, length, nullable in cur.fetchall():
                detail = (precision, scale) if dtype == "numeric" else length
                got[name] = (dtype, detail, nullable)
            assert got == columns, table
            cur.execute(
                """select a.attname from pg_index i
                   join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
                   where i.indrelid = %s::regclass and i.indisprimary order by array_position(i.indkey, a.attnum)""",
                (f"catalog.{table}",),
            )
            assert [r[0] for r in cur.fetchall()] == CATALOG_PK[table], table
        cur.execute(
            """select count(*) from pg_indexes where schemaname = 'catalog' and tablename = 'products'
               and indexdef like '%UNIQUE%(sku)%'"""
        )
        assert cur.fetchone()[0] == 1
        # The category tree is at most three levels deep.
        cur.execute(
            """with recursive tree as (
                   select category_id, 1 as depth from catalog.categories where parent_category_id is null
                   union all
                   select c.category_id, t.depth + 1 from catalog.categories c
                   join tree t on c.parent_category_id = t.category_id)
               select max(depth), count(*) from tree"""
        )
        depth, reached = cur.fetchone()
        cur.execute("select count(*) from catalog.categories")
        assert (depth, reached) == (3, cur.fetchone()[0])
    conn.close()


def test_loaded_counts_and_defects_match_the_report(make_world: Callable[..., SourceWorld]) -> None:
    world = make_world(orders=2_000, seed=6)
    report = world.manifest.report
    url = DbUrl.parse(world.shop_url)
    conn = mysql_connect(url, url.database)
    with conn.cursor() as cur:
        cur.execute("select count(*) from orders")
        assert cur.fetchone()[0] == 2_000
        cur.execute("select count(*) from orders where placed_at > utc_timestamp(6)")
        assert cur.fetchone()[0] == report["future_placed_at"]["rows"] > 0
        cur.execute("select count(*) from order_items where quantity <= 0")
        assert cur.fetchone()[0] == report["nonpositive_quantity"]["rows"] > 0
        cur.execute(
            "select count(*) from orders where total_amount <> subtotal - discount_amount + shipping_amount + tax_amount"
        )
        assert cur.fetchone()[0] == report["total_mismatch"]["rows"] > 0
    conn.close()
    conn = pg_connect(DbUrl.parse(world.catalog_url))
    with conn.cursor() as cur:
        cur.execute("select count(*) from catalog.products where category_id is null")
        assert cur.fetchone()[0] == report["null_product_category"]["rows"] > 0
    conn.close()
