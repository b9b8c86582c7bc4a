"""Bad input: one clear line naming the source and what to do, exit 1, nothing half-written."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from tests.fixtures.loading import LoaderRun, Warehouse
from tests.fixtures.services import mysql_connect
from tests.fixtures.worlds import SourceWorld
from world.urls import DbUrl

pytestmark = [pytest.mark.mysql, pytest.mark.postgres]


def _error_lines(result: LoaderRun) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("loaders: ")]


def _raw_tables(wh: Warehouse) -> list[str]:
    if not Path(wh.path).exists():
        return []
    with duckdb.connect(wh.path, read_only=True) as con:
        return [
            r[0]
            for r in con.sql(
                "select table_schema || '.' || table_name from information_schema.tables "
                # dlt's bookkeeping (_dlt_*) and the loaders' (_deleted_<table>) left out
                "where table_schema like 'raw_%' and table_name not like '\\_%' escape '\\'"
            ).fetchall()
        ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def world(make_world: Callable[..., SourceWorld]) -> SourceWorld:
    return make_world(orders=500, seed=51)


def test_unreachable_server(
    world: SourceWorld, make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    wh = make_warehouse(world)
    wh.env["SOURCES__SHOP__CREDENTIALS"] = f"mysql+pymysql://root@127.0.0.1:{_free_port()}/shop"
    result = wh.run("--source", "shop")
    assert result.returncode == 75  # transient: an orchestrator retries it later
    (line,) = _error_lines(result)
    assert line.startswith("loaders: shop: cannot connect to MySQL at 127.0.0.1:")
    assert "Traceback" not in result.output
    assert _raw_tables(wh) == []


def test_wrong_password(
    world: SourceWorld, make_warehouse: Callable[[SourceWorld], Warehouse], mysql_admin: DbUrl
) -> None:
    shop = DbUrl.parse(world.shop_url)
    user = f"badpw_{shop.database[-8:]}"
    conn = mysql_connect(mysql_admin)
    with conn.cursor() as cur:
        cur.execute(f"create user '{user}'@'%' identified by 'right-password'")
    conn.close()
    try:
        wh = make_warehouse(world)
        wh.env["SOURCES__SHOP__CREDENTIALS"] = (
            f"mysql+pymysql://{user}:wrong@{shop.host}:{shop.port}/{shop.database}"  # pragma: allowlist secret
        )
        result = wh.run("--source", "shop")
        assert result.returncode == 1
        (line,) = _error_lines(result)
        assert line == (
            f"loaders: shop: access denied for user '{user}' at {shop.host}:{shop.port}; "
            "check the password in the source credentials"
        )
        assert _raw_tables(wh) == []
    finally:
        conn = mysql_connect(mysql_admin)
        with conn.cursor() as cur:
            cur.execute(f"drop user if exists '{user}'@'%'")
        conn.close()


def test_missing_table_fails_before_anything_is_loaded(
    world: SourceWorld, make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    shop = DbUrl.parse(world.shop_url)
    conn = mysql_connect(shop, shop.database)
    with conn.cursor() as cur:
        cur.execute("rename table payments to payments_archive")
    conn.close()
    wh = make_warehouse(world)
    result = wh.run("--source", "shop")
    assert result.returncode == 1
    (line,) = _error_lines(result)
    assert line.startswith("loaders: shop.payments: table not found")
    # Preflight stops the source before its first table: no partial raw_shop.
    assert _raw_tables(wh) == []


def test_missing_setting(
    world: SourceWorld, make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    wh = make_warehouse(world)
    del wh.env["SOURCES__CATALOG__CREDENTIALS"]
    result = wh.run("--source", "catalog")
    assert result.returncode == 1
    (line,) = _error_lines(result)
    assert "catalog: no credentials; set SOURCES__CATALOG__CREDENTIALS" in line
    assert _raw_tables(wh) == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "mysql+pymysql://root:s3cret-pw@127.0.0.1:notaport/shop",  # pragma: allowlist secret
            "shop: the credentials are not a database URL like driver://",
        ),
        ("oracle://root@127.0.0.1/shop", "shop: unsupported credentials URL scheme 'oracle'"),
    ],
)
def test_malformed_credentials_are_named(
    world: SourceWorld, make_warehouse: Callable[[SourceWorld], Warehouse], url: str, expected: str
) -> None:
    wh = make_warehouse(world)
    wh.env["SOURCES__SHOP__CREDENTIALS"] = url
    result = wh.run("--source", "shop")
    assert result.returncode == 1
    (line,) = _error_lines(result)
    assert line.startswith(f"loaders: {expected}"), line
    assert "s3cret-pw" not in result.output and "Traceback" not in result.output
    assert _raw_tables(wh) == []


def test_unknown_table_name(
    world: SourceWorld, make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    wh = make_warehouse(world)
    result = wh.run("--source", "shop", "--table", "ordres")
    assert result.returncode == 1
    (line,) = _error_lines(result)
    assert (
        line
        == "loaders: shop: no table 'ordres' (tables: customers, order_items, orders, payments)"
    )


def test_one_failing_source_does_not_stop_the_other(
    world: SourceWorld, make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    wh = make_warehouse(world)
    wh.env["SOURCES__SHOP__CREDENTIALS"] = f"mysql+pymysql://root@127.0.0.1:{_free_port()}/shop"
    result = wh.run()
    assert result.returncode == 75  # the one failure, a server down, is transient
    assert sorted(t.split(".")[0] for t in _raw_tables(wh)) == ["raw_catalog"] * 3
    audit = wh.audit()
    assert {(r["source_name"], r["status"]) for r in audit} == {
        ("shop", "failed"),
        ("catalog", "ok"),
    }
