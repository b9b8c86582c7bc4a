"""Parse the database URLs the world is pointed at (SQLAlchemy style, driver part optional)."""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, unquote, urlsplit


@dataclasses.dataclass(frozen=True)
class DbUrl:
    scheme: str  # mysql | postgresql | sqlite
    host: str | None
    port: int | None
    user: str | None
    password: str | None
    database: str  # database name, or the file path for sqlite
    query: dict[str, str]

    @classmethod
    def parse(cls, url: str) -> DbUrl:
        parts = urlsplit(url)
        scheme = parts.scheme.split("+", 1)[0]
        if scheme in ("mariadb",):
            scheme = "mysql"
        if scheme == "postgres":
            scheme = "postgresql"
        if scheme not in ("mysql", "postgresql", "sqlite"):
            raise ValueError(f"unsupported database URL scheme {parts.scheme!r} in {redact(url)}")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if scheme == "sqlite":
            path = url.split(":///", 1)[1] if ":///" in url else ""
            return cls(scheme, None, None, None, None, path.split("?", 1)[0], query)
        return cls(
            scheme,
            parts.hostname or query.get("host"),
            parts.port,
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
            parts.path.lstrip("/"),
            query,
        )

    def with_database(self, database: str) -> DbUrl:
        return dataclasses.replace(self, database=database)

    def libpq(self) -> str:
        """A libpq keyword/value connection string (works for sockets and TCP)."""
        items = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "dbname": self.database or "postgres",
        }
        return " ".join(f"{k}={v}" for k, v in items.items() if v not in (None, ""))

    def sqlalchemy(self) -> str:
        """The URL again, in the form SQLAlchemy and dlt expect."""
        if self.scheme == "sqlite":
            return f"sqlite:///{self.database}"
        auth = ""
        if self.user:
            auth = self.user + (f":{self.password}" if self.password else "") + "@"
        host = self.host or ""
        driver = {"mysql": "mysql+pymysql", "postgresql": "postgresql"}[self.scheme]
        if self.scheme == "postgresql" and host.startswith("/"):
            return f"{driver}://{auth}/{self.database}?host={host}"
        port = f":{self.port}" if self.port else ""
        return f"{driver}://{auth}{host}{port}/{self.database}"


def redact(url: str) -> str:
    """The URL with any password replaced, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url
