"""Running a change stream: an idle PostgreSQL slot that keeps moving, a server or a user that
cannot stream named in one line, and the monitoring that warns before a position is lost."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.loading import Warehouse
from tests.fixtures.services import pg_connect
from tests.fixtures.worlds import SourceWorld
from tests.loaders.stream_checks import catalog_sql, shop_sql
from world.urls import DbUrl

pytestmark = [pytest.mark.mysql, pytest.mark.postgres]

STREAM = pytest.mark.parametrize("capture", ["stream"])


@STREAM
def test_an_idle_postgres_source_keeps_its_slot_moving(
    make_world: Callable[..., SourceWorld], make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    world = make_world(orders=300, seed=74)
    wh = make_warehouse(world)
    wh.load("--source", "catalog")
    slot = (
        "select confirmed_flush_lsn from pg_replication_slots where database = current_database()"
    )
    (before,) = catalog_sql(world, slot)[0]
    # Other databases of the server write WAL; the catalog changes nothing.
    admin = DbUrl.parse(world.catalog_url)
    conn = pg_connect(admin, "postgres")
    with conn.cursor() as cur:
        cur.execute("create table if not exists wal_noise (x text)")
        cur.execute("insert into wal_noise select repeat('x', 1000) from generate_series(1, 2000)")
        cur.execute("select pg_current_wal_lsn()")
        (elsewhere,) = cur.fetchone()
    wh.load("--source", "catalog")
    assert all(r["rows_loaded"] == 0 for r in wh.audit())
    (after,) = catalog_sql(world, slot)[0]
    as_int = lambda lsn: int(lsn.split("/")[0], 16) << 32 | int(lsn.split("/")[1], 16)  # noqa: E731
    assert as_int(after) > as_int(before)
    assert as_int(after) >= as_int(elsewhere)  # the slot holds none of the other database's WAL
    # The WAL kept for the slot (from its restart point) follows one run behind: a confirm
    # applies the restart point of the first snapshot of running transactions decoded after
    # the previous confirm, which may precede the noise (the bgwriter writes one every 15 s of
    # activity). A checkpoint writes one after this run; the next idle run applies it.
    conn = pg_connect(admin, "postgres")
    with conn.cursor() as cur:
        cur.execute("checkpoint")
    conn.close()
    wh.load("--source", "catalog")
    held = wh.sql(
        "select held_bytes from loader_audit.stream_positions where source_name = 'catalog' "
        "order by checked_at desc limit 1"
    )[0][0]
    assert held is not None and held < 1_000_000


def test_a_server_without_a_stream_is_named_in_one_line(
    make_world: Callable[..., SourceWorld], make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    """The machine's own servers: MariaDB without a binlog, PostgreSQL at wal_level=replica."""
    world = make_world(orders=200, seed=75)
    wh = make_warehouse(world)
    result = wh.run(
        extra_env={"SOURCES__SHOP__CAPTURE": "stream", "SOURCES__CATALOG__CAPTURE": "stream"}
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("loaders: ")]
    assert any("shop: capture = stream, but log_bin is OFF" in e for e in errors), errors
    assert any("catalog: capture = stream, but wal_level is" in e for e in errors), errors
    assert not Path(wh.path).exists() or wh.sql(
        "select count(*) from information_schema.tables where table_schema = 'raw_shop'"
    ) == [(0,)]
    # Unset, the stream is used where the server allows it: here, the cursor, said once.
    result = wh.run(extra_env={"SOURCES__SHOP__CAPTURE": "", "SOURCES__CATALOG__CAPTURE": ""})
    assert result.returncode == 0, result.output[-3000:]
    assert "shop: changes found with the updated_at cursor and key scans (log_bin is OFF" in (
        result.stderr
    )
    assert {r["capture"] for r in wh.audit()} == {"cursor"}
    bad = wh.run(extra_env={"SOURCES__SHOP__CAPTURE": "binlog"})
    assert bad.returncode == 1
    assert "sources.shop.capture (SOURCES__SHOP__CAPTURE) is 'binlog'; use stream or cursor" in (
        bad.stderr
    )


@STREAM
def test_a_user_without_the_replication_grants_is_named_in_one_line(
    make_world: Callable[..., SourceWorld], make_warehouse: Callable[[SourceWorld], Warehouse]
) -> None:
    world = make_world(orders=200, seed=76)
    shop, catalog = DbUrl.parse(world.shop_url), DbUrl.parse(world.catalog_url)
    user = f"noreplication_{shop.database[-8:]}"
    shop_sql(
        world,
        f"create user '{user}'@'%' identified by 'ro-secret'",
        f"grant select on `{shop.database}`.* to '{user}'@'%'",
        f"grant binlog monitor on *.* to '{user}'@'%'",
    )
    catalog_sql(
        world,
        f"create role {user} login password 'ro-secret'",
        f"grant usage on schema catalog to {user}",
        f"grant select on all tables in schema catalog to {user}",
    )
    wh = make_warehouse(world)
    wh.env["SOURCES__SHOP__CREDENTIALS"] = (
        f"mysql+pymysql://{user}:ro-secret@{shop.host}:{shop.port}/{shop.database}"  # pragma: allowlist secret
    )
    wh.env["SOURCES__CATALOG__CREDENTIALS"] = (
        f"postgresql://{user}:ro-secret@{catalog.host}:{catalog.port}/{catalog.database}"  # pragma: allowlist secret
    )
    result = wh.run()
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("loaders: ")]
    assert any("shop:" in e and "REPLICATION SLAVE" in e for e in errors), errors
    assert any("catalog:" in e and "REPLICATION attribute" in e for e in errors), errors
    shop_sql(world, f"drop user '{user}'@'%'")


@STREAM
def test_the_monitoring_warns_before_a_stream_position_is_lost(
    make_world: Callable[..., SourceWorld],
    make_warehouse: Callable[[SourceWorld], Warehouse],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from loaders.shared.report import audit_client
    from orchestration.monitoring import stream_warnings
    from orchestration.settings import settings

    def warned() -> dict[str, str]:
        cfg = settings()
        with audit_client(cfg.destination) as client:
            return stream_warnings(cfg, client)

    world = make_world(orders=300, seed=78)
    wh = make_warehouse(world)
    wh.load()
    for name, value in wh.env.items():
        if name.startswith(("SOURCES__", "SHOPSPHERE_")):
            monkeypatch.setenv(name, value)
    assert warned() == {}  # just loaded: nothing at risk
    # The server moves on to newer binlogs, and WAL piles up behind the catalog's slot.
    shop_sql(world, "flush binary logs", "flush binary logs")
    catalog_sql(
        world,
        "create table catalog.noise (x text)",
        "insert into catalog.noise select md5(g::text) || repeat('y', 500) "
        "from generate_series(1, 10000) g",
    )
    monkeypatch.setenv("SHOPSPHERE_STREAM_MAX_HELD_MB", "0.5")
    warnings = warned()
    assert set(warnings) == {"shop:margin", "catalog:held"}, warnings
    assert "oldest binlog the server keeps" in warnings["shop:margin"]
    assert "MB of WAL" in warnings["catalog:held"]
    # A load moves both on. (A slot's restart point moves at the server's next snapshot of
    # running transactions, which a checkpoint writes at once; the bgwriter does every 15 s.)
    catalog_sql(world, "checkpoint")
    wh.load()
    assert warned() == {}
