"""A dbt-duckdb plugin (profiles.yml, `plugins`): every session dbt opens on DuckDB holds the PII
key's HMAC pads as the variables `shopsphere_pii_ipad` and `shopsphere_pii_opad`, which the macro
`hash_pii` reads. The key stays out of every statement, log and artifact."""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from loaders.privacy.pii import key_from_env, pads


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.inner, self.outer = pads(key_from_env())

    def _set(self, con: DuckDBPyConnection) -> None:
        con.execute("set variable shopsphere_pii_ipad = ?", [self.inner])
        con.execute("set variable shopsphere_pii_opad = ?", [self.outer])

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        self._set(conn)

    def configure_cursor(self, cursor: DuckDBPyConnection) -> None:
        self._set(cursor)
