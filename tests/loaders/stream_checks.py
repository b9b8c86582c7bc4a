"""What the change-stream tests share (tests/loaders/test_change_streams.py and
test_stream_operations.py): SQL on the world's two servers, raw compared with them, the
binlogs purged, the audit by table."""

from __future__ import annotations

import time

from tests.fixtures.loading import Warehouse
from tests.fixtures.raw_compare import CATALOG_TABLES, SHOP_TABLES, assert_raw_equals_source
from tests.fixtures.services import mysql_connect, pg_connect
from tests.fixtures.worlds import SourceWorld
from world.urls import DbUrl


def equal_raw(world: SourceWorld, wh: Warehouse) -> None:
    assert_raw_equals_source(world.shop_url, wh.path, "raw_shop", SHOP_TABLES)
    assert_raw_equals_source(world.catalog_url, wh.path, "raw_catalog", CATALOG_TABLES)


def shop_sql(world: SourceWorld, *statements: str) -> list[tuple]:
    url = DbUrl.parse(world.shop_url)
    conn = mysql_connect(url, url.database)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
            return list(cur.fetchall() or [])
    finally:
        conn.close()


def catalog_sql(world: SourceWorld, *statements: str) -> list[tuple]:
    url = DbUrl.parse(world.catalog_url)
    conn = pg_connect(url, url.database)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
            return list(cur.fetchall()) if cur.description else []
    finally:
        conn.close()


def purge_binlogs(world: SourceWorld) -> None:
    """Purge every binlog but a new one. MariaDB keeps a file until its binlog checkpoint (InnoDB
    durability of the transactions in it) has passed, so the purge is repeated until it took."""
    for _ in range(50):
        shop_sql(world, "flush binary logs")
        (newest,) = shop_sql(world, "show master status")[0][:1]
        shop_sql(world, f"purge binary logs to '{newest}'")
        if [r[0] for r in shop_sql(world, "show binary logs")] == [newest]:
            return
        time.sleep(0.2)
    raise AssertionError("MariaDB kept its older binlogs")


def by_table(audit: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {f"{r['source_name']}.{r['table_name']}": r for r in audit}
