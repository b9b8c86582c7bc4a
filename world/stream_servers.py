"""Private database servers with their change streams on, started from the installed binaries.

The machine's MariaDB may run without a binlog and its PostgreSQL at `wal_level=replica`;
these start servers of their own in a folder, on free ports: MariaDB with a ROW binlog (full
images, full metadata) and PostgreSQL with `wal_level=logical`. The stream-mode tests and the
loader benchmark's stream worlds use them (`python -m world servers` keeps a pair running).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import pymysql

from world.urls import DbUrl


def _mysql_ping(url: DbUrl) -> None:
    pymysql.connect(
        host=url.host or "127.0.0.1", port=url.port or 3306, user=url.user or "root",
        password=url.password or "", connect_timeout=5,
    ).close()  # fmt: skip


def _pg_ping(url: DbUrl) -> None:
    psycopg2.connect(url.libpq(), connect_timeout=5).close()


@contextlib.contextmanager
def private_folder(prefix: str) -> Iterator[Path]:
    """A folder the servers' own users can reach (pytest's tmp folders are root's, mode 700)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as(user: str) -> list[str]:
    """Run as `user` when we are root (the servers refuse to run as root)."""
    return ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []


def _owned_folder(base: Path, name: str, user: str) -> Path:
    folder = base / name
    folder.mkdir(parents=True)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        for p in (base, folder):
            os.chown(p, entry.pw_uid, entry.pw_gid)
    return folder


def _binary(name: str, *candidates: str) -> str | None:
    for c in (name, *candidates):
        found = shutil.which(c) or (c if Path(c).exists() else None)
        if found:
            return found
    return None


def _wait(check: Callable[[], None], what: str, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            check()
            return
        except Exception as exc:
            last = exc
            time.sleep(0.3)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"{what} did not start ({last}); log: {tail}")


def _mariadb_argv(folder: Path, port: int, server_id: int, buffer_pool: str) -> list[str]:
    mariadbd = _binary("mariadbd", "/usr/sbin/mariadbd")
    install = _binary("mariadb-install-db", "mysql_install_db")
    if not (mariadbd and install):
        raise RuntimeError("mariadbd / mariadb-install-db are not installed")
    data = folder / "data"
    if not data.exists():
        subprocess.run(
            [install, "--user=mysql", f"--datadir={data}", "--skip-test-db",
             "--auth-root-authentication-method=normal"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    return [
        *_as("mysql"),
        mariadbd,
        "--no-defaults",
        f"--datadir={data}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        f"--socket={folder / 'mysqld.sock'}",
        f"--log-bin={data / 'binlog'}",
        "--binlog-format=ROW",
        "--binlog-row-image=FULL",
        "--binlog-row-metadata=FULL",
        f"--server-id={server_id}",
        "--skip-name-resolve",
        f"--innodb-buffer-pool-size={buffer_pool}",
        "--innodb-flush-log-at-trx-commit=2",
        "--sync-binlog=0",
        "--max-allowed-packet=256M",
        f"--log-error={folder / 'server.log'}",
    ]


def _postgres_start(folder: Path, port: int) -> list[str]:
    initdb = _binary("initdb")
    pg_ctl = _binary("pg_ctl")
    if not (initdb and pg_ctl):
        raise RuntimeError("PostgreSQL's initdb / pg_ctl are not installed")
    data = folder / "data"
    if not data.exists():
        subprocess.run(
            [*_as("postgres"), initdb, "-D", str(data), "-A", "trust", "-U", "postgres"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    options = (
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c wal_level=logical "
        "-c max_replication_slots=64 -c max_wal_senders=32 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off"
    )
    log = folder / "server.log"
    return [*_as("postgres"), pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]


def _postgres_stop(folder: Path) -> None:
    pg_ctl = _binary("pg_ctl") or "pg_ctl"
    subprocess.run(
        [*_as("postgres"), pg_ctl, "-D", str(folder / "data"), "-m", "immediate", "stop"],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip


@contextlib.contextmanager
def binlog_mariadb(base: Path, server_id: int = 7101) -> Iterator[DbUrl]:
    """A private MariaDB writing a ROW binlog, stopped at the end; yields its root URL."""
    folder = _owned_folder(base, "mariadb", "mysql")
    port = free_port()
    argv = _mariadb_argv(folder, port, server_id, "64M")
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = DbUrl.parse(f"mysql://root@127.0.0.1:{port}")
    try:
        _wait(lambda: _mysql_ping(url), "MariaDB with a binlog", folder / "server.log")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def logical_postgres(base: Path) -> Iterator[DbUrl]:
    """A private PostgreSQL with wal_level=logical, stopped at the end; yields its URL."""
    folder = _owned_folder(base, "postgres", "postgres")
    port = free_port()
    subprocess.run(_postgres_start(folder, port), check=True, capture_output=True, timeout=120)
    url = DbUrl.parse(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    try:
        _wait(lambda: _pg_ping(url), "PostgreSQL with logical WAL", folder / "server.log")
        yield url
    finally:
        _postgres_stop(folder)


def kept_servers(base: Path, buffer_pool: str = "1G") -> tuple[DbUrl, DbUrl]:
    """A MariaDB and a PostgreSQL with their streams on, kept running in `base` between runs
    (benchmarks reuse their worlds): started if they are not up; their root URLs."""
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)
    info = base / "servers.json"
    ports = json.loads(info.read_text()) if info.exists() else {}
    mysql = DbUrl.parse(f"mysql://root@127.0.0.1:{ports.get('mysql', 0)}")
    pg = DbUrl.parse(f"postgresql://postgres@127.0.0.1:{ports.get('postgres', 0)}/postgres")
    with contextlib.suppress(Exception):
        _mysql_ping(mysql)
        _pg_ping(pg)
        return mysql, pg
    ports = {"mysql": free_port(), "postgres": free_port()}
    info.write_text(json.dumps(ports))
    folder = (
        base / "mariadb" if (base / "mariadb").exists() else _owned_folder(base, "mariadb", "mysql")
    )
    subprocess.Popen(
        _mariadb_argv(folder, ports["mysql"], 7201, buffer_pool),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    mysql = DbUrl.parse(f"mysql://root@127.0.0.1:{ports['mysql']}")
    _wait(lambda: _mysql_ping(mysql), "MariaDB with a binlog", folder / "server.log")
    folder = (
        base / "postgres"
        if (base / "postgres").exists()
        else _owned_folder(base, "postgres", "postgres")
    )
    _postgres_stop(folder)
    subprocess.run(
        _postgres_start(folder, ports["postgres"]), check=True, capture_output=True, timeout=120
    )
    pg = DbUrl.parse(f"postgresql://postgres@127.0.0.1:{ports['postgres']}/postgres")
    _wait(lambda: _pg_ping(pg), "PostgreSQL with logical WAL", folder / "server.log")
    return mysql, pg
