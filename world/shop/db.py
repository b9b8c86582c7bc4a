"""The `shop` OLTP database of docs/spec.md §1a: MySQL 8 / MariaDB 10.11, or a SQLite stand-in.

DDL follows the spec to the letter (unsigned ids, ENUMs, DATETIME(6) naive UTC,
ON UPDATE CURRENT_TIMESTAMP(6), TINYINT(1)); bulk load is LOAD DATA LOCAL INFILE from
files DuckDB writes, so a million orders load in seconds, not minutes.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from typing import Any

import duckdb
import pymysql

from world.urls import DbUrl

TABLES = ["customers", "orders", "order_items", "payments"]

ORDER_STATUS_ENUM = "'pending','paid','shipped','delivered','cancelled','refunded'"
CHANNEL_ENUM = "'web','ios','android','marketplace'"
METHOD_ENUM = "'card','paypal','gift_card','bank_transfer'"
PAYMENT_STATUS_ENUM = "'authorized','captured','failed','refunded'"

MYSQL_DDL = {
    "customers": """
        create table customers (
            customer_id bigint unsigned not null auto_increment,
            email varchar(320) null,
            first_name varchar(100) not null,
            last_name varchar(100) not null,
            phone varchar(32) null,
            country_code char(2) null,
            city varchar(100) null,
            marketing_opt_in tinyint(1) not null default 0,
            created_at datetime(6) not null default current_timestamp(6),
            updated_at datetime(6) not null default current_timestamp(6)
                on update current_timestamp(6),
            deleted_at datetime(6) null,
            primary key (customer_id)
        ) engine=InnoDB default charset=utf8mb4 collate=utf8mb4_unicode_ci""",
    "orders": f"""
        create table orders (
            order_id bigint unsigned not null auto_increment,
            customer_id bigint unsigned null,
            status enum({ORDER_STATUS_ENUM}) not null default 'pending',
            currency char(3) not null,
            subtotal decimal(12,2) not null,
            discount_amount decimal(12,2) not null default 0.00,
            shipping_amount decimal(12,2) not null default 0.00,
            tax_amount decimal(12,2) not null default 0.00,
            total_amount decimal(12,2) not null,
            channel enum({CHANNEL_ENUM}) not null,
            utm_source varchar(64) null,
            utm_campaign varchar(128) null,
            placed_at datetime(6) not null,
            updated_at datetime(6) not null default current_timestamp(6)
                on update current_timestamp(6),
            primary key (order_id)
        ) engine=InnoDB default charset=utf8mb4 collate=utf8mb4_unicode_ci""",
    "order_items": """
        create table order_items (
            order_item_id bigint unsigned not null auto_increment,
            order_id bigint unsigned not null,
            product_id bigint not null,
            quantity int not null,
            unit_price decimal(12,2) not null,
            discount_amount decimal(12,2) not null default 0.00,
            updated_at datetime(6) not null default current_timestamp(6)
                on update current_timestamp(6),
            primary key (order_item_id)
        ) engine=InnoDB default charset=utf8mb4 collate=utf8mb4_unicode_ci""",
    "payments": f"""
        create table payments (
            payment_id bigint unsigned not null auto_increment,
            order_id bigint unsigned not null,
            method enum({METHOD_ENUM}) not null,
            status enum({PAYMENT_STATUS_ENUM}) not null,
            amount decimal(12,2) not null,
            currency char(3) not null,
            processed_at datetime null,
            updated_at datetime(6) not null default current_timestamp(6)
                on update current_timestamp(6),
            primary key (payment_id)
        ) engine=InnoDB default charset=utf8mb4 collate=utf8mb4_unicode_ci""",
}

# Secondary indexes, built after the bulk load (faster than maintaining them row by row).
INDEXES = {
    "customers": ["updated_at"],
    "orders": ["customer_id", "updated_at"],
    "order_items": ["order_id", "updated_at"],
    "payments": ["order_id", "updated_at"],
}

# SQLite stand-in: same names and declared types; CHECKs play the ENUMs, triggers play
# ON UPDATE CURRENT_TIMESTAMP(6). Times are text 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC).
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"
SQLITE_DDL = {
    "customers": """
        create table customers (
            customer_id integer primary key autoincrement,
            email varchar(320) null,
            first_name varchar(100) not null,
            last_name varchar(100) not null,
            phone varchar(32) null,
            country_code char(2) null,
            city varchar(100) null,
            marketing_opt_in tinyint(1) not null default 0,
            created_at datetime(6) not null,
            updated_at datetime(6) not null,
            deleted_at datetime(6) null
        )""",
    "orders": f"""
        create table orders (
            order_id integer primary key autoincrement,
            customer_id bigint null,
            status varchar(9) not null default 'pending' check (status in ({ORDER_STATUS_ENUM})),
            currency char(3) not null,
            subtotal decimal(12,2) not null,
            discount_amount decimal(12,2) not null default 0,
            shipping_amount decimal(12,2) not null default 0,
            tax_amount decimal(12,2) not null default 0,
            total_amount decimal(12,2) not null,
            channel varchar(11) not null check (channel in ({CHANNEL_ENUM})),
            utm_source varchar(64) null,
            utm_campaign varchar(128) null,
            placed_at datetime(6) not null,
            updated_at datetime(6) not null
        )""",
    "order_items": """
        create table order_items (
            order_item_id integer primary key autoincrement,
            order_id bigint not null,
            product_id bigint not null,
            quantity int not null,
            unit_price decimal(12,2) not null,
            discount_amount decimal(12,2) not null default 0,
            updated_at datetime(6) not null
        )""",
    "payments": f"""
        create table payments (
            payment_id integer primary key autoincrement,
            order_id bigint not null,
            method varchar(13) not null check (method in ({METHOD_ENUM})),
            status varchar(10) not null check (status in ({PAYMENT_STATUS_ENUM})),
            amount decimal(12,2) not null,
            currency char(3) not null,
            processed_at datetime null,
            updated_at datetime(6) not null
        )""",
}

PRIMARY_KEYS = {
    "customers": "customer_id",
    "orders": "order_id",
    "order_items": "order_item_id",
    "payments": "payment_id",
}

# What the generator's DuckDB tables become on the wire (MySQL wants 1/0 for TINYINT).
EXPORT_SELECT = {
    "customers": """select customer_id, email, first_name, last_name, phone, country_code, city,
        marketing_opt_in::int as marketing_opt_in, created_at, updated_at, deleted_at
        from shop_customers""",
    "orders": "select * from shop_orders",
    "order_items": "select * from shop_order_items",
    "payments": "select * from shop_payments",
}


class ShopDB:
    """A connection to the shop database, MySQL/MariaDB or SQLite, with the app's session settings."""

    def __init__(self, url: str) -> None:
        self.url = DbUrl.parse(url)
        if self.url.scheme not in ("mysql", "sqlite"):
            raise ValueError(
                f"the shop database must be MySQL/MariaDB or SQLite, got {self.url.scheme}"
            )
        self.dialect = self.url.scheme

    @property
    def now(self) -> str:
        """SQL for the current UTC time with microseconds."""
        return "utc_timestamp(6)" if self.dialect == "mysql" else SQLITE_NOW

    def placeholder(self) -> str:
        return "%s" if self.dialect == "mysql" else "?"

    @contextlib.contextmanager
    def connect(self, database: bool = True) -> Iterator[Any]:
        if self.dialect == "sqlite":
            lite = sqlite3.connect(self.url.database)
            try:
                yield lite
                lite.commit()
            finally:
                lite.close()
            return
        conn = pymysql.connect(
            host=self.url.host or "127.0.0.1",
            port=self.url.port or 3306,
            user=self.url.user or "root",
            password=self.url.password or "",
            database=self.url.database if database else None,
            local_infile=True,
            autocommit=False,
            charset="utf8mb4",
        )
        try:
            with conn.cursor() as cur:
                # The shop application's session: UTC clock, permissive mode (zero dates).
                cur.execute("set session time_zone = '+00:00'")
                cur.execute("set session sql_mode = 'NO_ENGINE_SUBSTITUTION'")
            yield conn
            conn.commit()
        finally:
            conn.close()

    def recreate(self) -> None:
        """Drop and create the database (or file) with empty tables."""
        if self.dialect == "sqlite":
            if os.path.exists(self.url.database):
                os.remove(self.url.database)
            os.makedirs(os.path.dirname(os.path.abspath(self.url.database)), exist_ok=True)
            with self.connect() as conn:
                for table in TABLES:
                    conn.execute(SQLITE_DDL[table])
                    conn.execute(_sqlite_on_update_trigger(table))
            return
        name = self.url.database
        with self.connect(database=False) as conn, conn.cursor() as cur:
            cur.execute(f"drop database if exists `{name}`")
            cur.execute(f"create database `{name}` character set utf8mb4")
            cur.execute(f"use `{name}`")
            for table in TABLES:
                cur.execute(MYSQL_DDL[table])

    def load(self, world_db: duckdb.DuckDBPyConnection) -> dict[str, int]:
        """Bulk-load the generator's shop tables; returns rows per table."""
        counts: dict[str, int] = {}
        if self.dialect == "sqlite":
            with self.connect() as conn:
                for table in TABLES:
                    rel = world_db.sql(EXPORT_SELECT[table])
                    cols = rel.columns
                    rows = rel.fetchall()
                    marks = ", ".join("?" * len(cols))
                    conn.executemany(
                        f"insert into {table} ({', '.join(cols)}) values ({marks})",
                        [tuple(_sqlite_value(v) for v in row) for row in rows],
                    )
                    counts[table] = len(rows)
            return counts
        with tempfile.TemporaryDirectory(prefix="shop_load_") as tmp, self.connect() as conn:
            with conn.cursor() as cur:
                cur.execute("set session unique_checks = 0")
                cur.execute("set session foreign_key_checks = 0")
            for table in TABLES:
                path = os.path.join(tmp, f"{table}.tsv")
                world_db.execute(
                    f"copy ({EXPORT_SELECT[table]}) to '{path}' "
                    "(format csv, delimiter '\t', header false, nullstr '\\N', quote '\"')"
                )
                with conn.cursor() as cur:
                    cur.execute(
                        f"load data local infile %s into table {table} character set utf8mb4 "
                        "fields terminated by '\\t' optionally enclosed by '\"' "
                        "lines terminated by '\\n'",
                        (path,),
                    )
                    counts[table] = cur.rowcount
                conn.commit()
            with conn.cursor() as cur:
                for table, cols in INDEXES.items():
                    adds = ", ".join(f"add index ix_{table}_{c} ({c})" for c in cols)
                    cur.execute(f"alter table {table} {adds}")
        return counts


def _sqlite_on_update_trigger(table: str) -> str:
    pk = PRIMARY_KEYS[table]
    return f"""
        create trigger {table}_on_update after update on {table}
        for each row when new.updated_at = old.updated_at
        begin
            update {table} set updated_at = {SQLITE_NOW} where {pk} = new.{pk};
        end"""


def _sqlite_value(value: Any) -> Any:
    from datetime import datetime
    from decimal import Decimal

    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, Decimal):
        return str(value)
    return value
