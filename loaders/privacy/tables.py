"""Where declared PII lives: every table the project declares it in (dbt's parse of the YAML),
and one SQL session on the warehouse holding them, DuckDB or Snowflake (used by loaders.erase)."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from loaders.privacy.suppression import (
    ROOT,
    SCHEMA,
    TablePii,
    table_pii,
)
from loaders.settings import settings, snowflake_connection
from loaders.shared.warehouse import duckdb_settings


@dataclasses.dataclass(frozen=True)
class Relation:
    database: str
    schema: str
    name: str
    pii: TablePii


def declared_relations() -> Iterator[Relation]:
    """Every table the project declares PII in: sources (and dlt's `<schema>_staging` copy),
    models and snapshots, as dbt's parse of the YAML names them. Views hold nothing."""
    from dbt.cli.main import dbtRunner
    from dbt.contracts.graph.manifest import Manifest

    os.environ.setdefault("DBT_PROFILES_DIR", str(ROOT))
    # dbt logs its process's command line, and this one holds the address: it is hidden from
    # dbt, which writes no log file here either.
    argv, sys.argv = sys.argv, [sys.argv[0]]
    try:
        # A target folder of its own: the builds' partial-parse state stays theirs, and the
        # next erasure parses only what changed.
        target = Path(settings().dbt_target_path) / "erase"
        args = ["parse", "--quiet", "--log-level-file", "none", "--project-dir", str(ROOT)]
        done = dbtRunner().invoke([*args, "--target-path", str(target)])
    finally:
        sys.argv = argv
    if not done.success or not isinstance(done.result, Manifest):
        raise SystemExit(f"erase: dbt parse failed: {done.exception}")
    manifest = done.result.to_dict()
    for node in [*manifest["sources"].values(), *manifest["nodes"].values()]:
        config = node.get("config", {})
        if node["resource_type"] not in ("source", "model", "snapshot", "seed"):
            continue
        if config.get("materialized") in ("view", "ephemeral"):
            continue
        meta = {**node.get("meta", {}), **config.get("meta", {})}
        pii = table_pii(meta, list(node.get("columns", {}).values()))
        if pii is None:
            continue
        name = node.get("identifier") or node.get("alias") or node["name"]
        yield Relation(node["database"], node["schema"], name, pii)
        if node["resource_type"] == "source":
            yield Relation(node["database"], f"{node['schema']}_staging", name, pii)


class Warehouse:
    """One session on the warehouse. SQL is written once, in what DuckDB and Snowflake share;
    values are inlined as escaped literals (`lit`), so no driver's parameter style matters."""

    privacy = SCHEMA  # where the suppression list and the audit live

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def run(self, sql: str) -> None:
        self.rows(sql)

    def table(self, r: Relation) -> str:
        raise NotImplementedError

    def column(self, name: str) -> str:
        return name

    def columns(self, relations: Sequence[Relation]) -> dict[tuple[str, str, str], dict[str, str]]:
        """(database, schema, table) -> {column: data type}, lower case, of the base tables."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class DuckDBWarehouse(Warehouse):
    def __init__(self, path: str, read_only: bool) -> None:
        import duckdb

        self.con = duckdb.connect(path, read_only=read_only, config=duckdb_settings())

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.con.execute(sql).fetchall()

    def run(self, sql: str) -> None:
        self.con.execute(sql)

    def table(self, r: Relation) -> str:
        return f'"{r.schema}"."{r.name}"'  # the file is the database, whatever its name

    def column(self, name: str) -> str:
        return f'"{name}"'

    def columns(self, relations: Sequence[Relation]) -> dict[tuple[str, str, str], dict[str, str]]:
        out: dict[tuple[str, str, str], dict[str, str]] = {}
        databases = {r.database.lower() for r in relations}
        for s, t, c, data_type in self.rows(
            "select table_schema, table_name, column_name, data_type from information_schema.columns"
            " join information_schema.tables using (table_catalog, table_schema, table_name)"
            " where table_type = 'BASE TABLE'"
        ):
            for database in databases:  # one file: every relation's database is this one
                out.setdefault((database, s.lower(), t.lower()), {})[c.lower()] = data_type
        return out

    def close(self) -> None:
        self.con.close()


class SnowflakeWarehouse(Warehouse):
    """Snowflake, as the dbt profile's variables reach it. The role (SNOWFLAKE_ROLE) must be
    able to update raw's and the analytics database's PII tables (docs/privacy.md)."""

    def __init__(self, raw_database: str) -> None:
        import snowflake.connector

        self.conn = snowflake.connector.connect(
            **{**snowflake_connection(), "database": raw_database}
        )
        self.privacy = f"{raw_database}.{SCHEMA}"

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []

    def table(self, r: Relation) -> str:
        return f"{r.database}.{r.schema}.{r.name}"

    def columns(self, relations: Sequence[Relation]) -> dict[tuple[str, str, str], dict[str, str]]:
        out: dict[tuple[str, str, str], dict[str, str]] = {}
        for database in sorted({r.database for r in relations}):
            for s, t, c, data_type in self.rows(
                "select c.table_schema, c.table_name, c.column_name, c.data_type"
                f" from {database}.information_schema.columns c"
                f" join {database}.information_schema.tables t"
                " on c.table_schema = t.table_schema and c.table_name = t.table_name"
                " where t.table_type = 'BASE TABLE'"
            ):
                key = (database.lower(), s.lower(), t.lower())
                out.setdefault(key, {})[c.lower()] = data_type.upper()
        return out

    def close(self) -> None:
        self.conn.close()


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
