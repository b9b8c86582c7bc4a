"""The `catalog` product database of docs/spec.md §1b: PostgreSQL, schema `catalog`, timestamptz."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

import duckdb
import psycopg2
import psycopg2.extensions

from world.urls import DbUrl

TABLES = ["categories", "products", "inventory_levels"]

DDL = [
    "create schema catalog",
    """create table catalog.categories (
        category_id integer primary key,
        parent_category_id integer null,
        name text not null,
        updated_at timestamptz not null default now()
    )""",
    """create table catalog.products (
        product_id bigint primary key,
        sku text not null unique,
        name text not null,
        description text null,
        category_id integer null,
        brand text null,
        list_price numeric(12,2) not null,
        cost_price numeric(12,2) not null,
        currency char(3) not null default 'USD',
        attributes jsonb not null default '{}'::jsonb,
        is_active boolean not null default true,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
    )""",
    """create table catalog.inventory_levels (
        product_id bigint not null,
        warehouse_code text not null,
        quantity_on_hand integer not null,
        quantity_reserved integer not null,
        updated_at timestamptz not null default now(),
        primary key (product_id, warehouse_code)
    )""",
]

INDEXES = [
    "create index ix_products_updated_at on catalog.products (updated_at)",
    "create index ix_inventory_levels_updated_at on catalog.inventory_levels (updated_at)",
    "create index ix_categories_updated_at on catalog.categories (updated_at)",
]


class CatalogDB:
    """The catalog database; the URL names the database, the schema is always `catalog`."""

    def __init__(self, url: str) -> None:
        self.url = DbUrl.parse(url)
        if self.url.scheme != "postgresql":
            raise ValueError(f"the catalog database must be PostgreSQL, got {self.url.scheme}")

    @contextlib.contextmanager
    def connect(
        self, database: str | None = None, autocommit: bool = False
    ) -> Iterator[psycopg2.extensions.connection]:
        url = self.url.with_database(database) if database else self.url
        conn = psycopg2.connect(url.libpq())
        conn.autocommit = autocommit
        try:
            with conn.cursor() as cur:
                cur.execute("set time zone 'UTC'")
            yield conn
            conn.commit()
        finally:
            conn.close()

    def recreate(self) -> None:
        """Drop and create the database with the empty `catalog` schema."""
        name = self.url.database
        with self.connect("postgres", autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
            cur.execute(f'create database "{name}"')
        with self.connect() as conn, conn.cursor() as cur:
            for ddl in DDL:
                cur.execute(ddl)

    def load(self, world_db: duckdb.DuckDBPyConnection) -> dict[str, int]:
        """COPY the generator's catalog tables in; returns rows per table."""
        counts: dict[str, int] = {}
        with (
            tempfile.TemporaryDirectory(prefix="catalog_load_") as tmp,
            self.connect() as conn,
            conn.cursor() as cur,
        ):
            for table in TABLES:
                path = os.path.join(tmp, f"{table}.csv")
                query = f"select * from catalog_{table}"
                # Naive timestamps in the file are UTC: the session time zone is UTC.
                world_db.execute(
                    f"copy ({query}) to '{path}' (format csv, header false, nullstr '\\N')"
                )
                cols = ", ".join(world_db.sql(query).columns)
                with open(path, "rb") as fh:
                    cur.copy_expert(
                        f"copy catalog.{table} ({cols}) from stdin with (format csv, null '\\N')",
                        fh,
                    )
                counts[table] = cur.rowcount
            for ddl in INDEXES:
                cur.execute(ddl)
            cur.execute("analyze")
        return counts
