"""Forget one person everywhere the project keeps data (the right to erasure).

    python -m loaders.erase --email ADDRESS [--customer-id N ...] [--dry-run]
    echo ADDRESS | python -m loaders.erase --email - ...   # the address stays out of `ps`

On the DuckDB warehouse (SHOPSPHERE_DUCKDB_PATH), in one transaction:
- every table that holds declared PII (`meta: {pii: ...}` in the dbt YAML: raw, dlt's staging
  datasets, staging, snapshots, marts) has the person's rows redacted: their PII columns and
  keyed hashes set to null. Rows stay, so counts and revenue do not move: their orders stay in
  every figure, attached to an anonymous customer;
- the person's keyed hash and ids go into `privacy.erased_subjects`, which every later load
  applies (loaders.common.privacy), while the source systems still hold them;
- the request goes into `privacy.erasure_requests`: request id, keyed hash, time, rows touched
  per table; never the clear-text address.

Then dlt's local load packages and traces are deleted. A person's rows are found by their
normalised email, by `--customer-id`, and by the shop customer and HubSpot contact ids that
their email leads to. Running it again finds nothing more to change: it is idempotent.
`--dry-run` prints what it would touch and changes nothing. Snowflake is not covered yet.
Exit codes: 0 done, 1 refused (the warehouse is missing, a load is pending), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from .common.errors import EXIT_FAILED, EXIT_OK
from .common.locks import warehouse_lock
from .common.pii import PiiKeyError, key_from_env, keyed_hash
from .common.privacy import (
    ID_KINDS,
    REQUESTS,
    ROOT,
    SCHEMA,
    SUBJECTS,
    Suppressed,
    TablePii,
    normalised,
    read_suppressed,
    subject_hash,
    table_pii,
)
from .common.runner import pipelines_dir
from .common.warehouse import duckdb_path, duckdb_settings

EXIT_USAGE = 2


@dataclasses.dataclass(frozen=True)
class Relation:
    schema: str
    name: str
    pii: TablePii

    @property
    def sql(self) -> str:
        return f'"{self.schema}"."{self.name}"'


def declared_relations() -> Iterator[Relation]:
    """Every table the project declares PII in: sources (and dlt's `<schema>_staging` copy),
    models and snapshots, as dbt's parse of the YAML names them. Views hold nothing."""
    from dbt.cli.main import dbtRunner

    os.environ.setdefault("DBT_PROFILES_DIR", str(ROOT))
    # dbt logs its process's command line, and this one holds the address: it is hidden from
    # dbt, which writes no log file here either.
    argv, sys.argv = sys.argv, [sys.argv[0]]
    try:
        done = dbtRunner().invoke(
            ["parse", "--quiet", "--log-level-file", "none", "--project-dir", str(ROOT)]
        )
    finally:
        sys.argv = argv
    if not done.success:
        raise SystemExit(f"erase: dbt parse failed: {done.exception}")
    from dbt.contracts.graph.manifest import Manifest

    assert isinstance(done.result, Manifest)
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
        yield Relation(node["schema"], name, pii)
        if node["resource_type"] == "source":
            yield Relation(f"{node['schema']}_staging", name, pii)


def _existing(con: duckdb.DuckDBPyConnection, relations: list[Relation]) -> list[Relation]:
    tables: dict[tuple[str, str], dict[str, str]] = {}
    for s, t, c, data_type in con.sql(
        "select table_schema, table_name, column_name, data_type from information_schema.columns"
        " join information_schema.tables using (table_catalog, table_schema, table_name)"
        " where table_type = 'BASE TABLE'"
    ).fetchall():
        tables.setdefault((s.lower(), t.lower()), {})[c.lower()] = data_type
    out = []
    for r in relations:
        columns = tables.get((r.schema.lower(), r.name.lower()))
        if columns is None:
            continue
        pii = TablePii(
            {  # a boolean computed from PII (has_valid_email) reads false once it is gone
                c: "false" if k == "derived" and columns[c] == "BOOLEAN" else k
                for c, k in r.pii.columns.items()
                if c in columns
            },
            {k: c for k, c in r.pii.subject.items() if c in columns},
        )
        out.append(Relation(r.schema, r.name, pii))
    return out


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in(values: set[str]) -> str:
    return "[" + ", ".join(_lit(v) for v in sorted(values)) + "]"


def _belongs(r: Relation, erased: Suppressed, email: str, email_key: str) -> str:
    """SQL: the row holds the person's PII (as loaders.common.privacy.belongs, in SQL)."""
    terms = [f'lower(trim("{c}")) = {_lit(email)}' for c in r.pii.emails]
    terms += [
        f'"{c}" = {_lit(email_key)}' for c, kind in r.pii.columns.items() if kind == "keyed_hash"
    ]
    for kind, column in r.pii.subject.items():
        if kind == "contact_ids_json" and erased.ids["contact_id"]:
            terms.append(
                f'list_has_any(cast(from_json(cast("{column}" as json), \'["VARCHAR"]\')'
                f" as varchar[]), {_in(erased.ids['contact_id'])})"
            )
        elif erased.ids.get(kind):
            terms.append(f'list_contains({_in(erased.ids[kind])}, cast("{column}" as varchar))')
    return " or ".join(f"({t})" for t in terms) or "false"


def _subject_ids(
    con: duckdb.DuckDBPyConnection, relations: list[Relation], email: str, erased: Suppressed
) -> None:
    """Adds to `erased` the ids their email leads to, in every table that keys a person."""
    for r in relations:
        for kind, column in r.pii.subject.items():
            if kind not in erased.ids or not r.pii.emails:
                continue
            match = " or ".join(f'lower(trim("{c}")) = ?' for c in r.pii.emails)
            rows = con.execute(
                f'select distinct cast("{column}" as varchar) from {r.sql} where {match}',
                [email] * len(r.pii.emails),
            ).fetchall()
            erased.ids[kind].update(v for (v,) in rows if v is not None)


def _not_redacted(r: Relation) -> str:
    return " or ".join(
        f'"{c}"' if kind == "false" else f'"{c}" is not null' for c, kind in r.pii.columns.items()
    )


def _recorded_ids(con: duckdb.DuckDBPyConnection, erased_key: str) -> Suppressed:
    """The ids an earlier request for this person recorded: a source that has blanked their
    email since still leads to their rows."""
    out = Suppressed()
    if not read_suppressed(lambda sql: con.sql(sql).fetchall()):
        return out
    for kind in ID_KINDS:
        rows = con.execute(
            f"select distinct {kind} from {SCHEMA}.{SUBJECTS}"
            f" where subject_hash = ? and {kind} is not null",
            [erased_key],
        ).fetchall()
        out.ids[kind].update(v for (v,) in rows)
    return out


def _pii_set_clause(r: Relation) -> str:
    return ", ".join(
        f'"{c}" = ' + ("false" if kind == "false" else "null") for c, kind in r.pii.columns.items()
    )


def _record(
    con: duckdb.DuckDBPyConnection,
    request_id: str,
    erased_key: str,
    erased: Suppressed,
    touched: dict[str, int],
    at: datetime,
) -> None:
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(
        f"create table if not exists {SCHEMA}.{SUBJECTS} (request_id varchar, subject_hash"
        " varchar, customer_id varchar, contact_id varchar, erased_at timestamp)"
    )
    con.execute(
        f"create table if not exists {SCHEMA}.{REQUESTS} (request_id varchar, subject_hash"
        " varchar, requested_at timestamp, relation varchar, rows_touched bigint)"
    )
    rows: list[tuple[Any, ...]] = [(request_id, erased_key, None, None, at)]
    for kind in ("customer_id", "contact_id"):
        for value in sorted(erased.ids[kind]):
            rows.append(
                (
                    request_id,
                    erased_key,
                    *((value, None) if kind == "customer_id" else (None, value)),
                    at,
                )
            )
    con.executemany(f"insert into {SCHEMA}.{SUBJECTS} values (?, ?, ?, ?, ?)", rows)
    con.executemany(
        f"insert into {SCHEMA}.{REQUESTS} values (?, ?, ?, ?, ?)",
        [(request_id, erased_key, at, name, n) for name, n in sorted(touched.items())]
        or [(request_id, erased_key, at, None, 0)],
    )


def _pending_packages(root: Path) -> list[str]:
    """Load packages extracted but not yet loaded: they may hold the person, so erase waits."""
    return sorted(
        str(p.relative_to(root))
        for folder in ("normalize/extracted", "load/new", "load/normalized")
        for p in root.glob(f"*/{folder}/*")
        if p.is_dir()
    )


def forget_local_packages(root: Path) -> list[str]:
    """Deletes dlt's completed load packages and run traces under the pipelines' folder."""
    gone = []
    for path in [*root.glob("*/load/loaded/*"), *root.glob("*/trace.pickle")]:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        gone.append(str(path.relative_to(root)))
    return gone


def erase(email: str, customer_ids: list[int], dry_run: bool) -> int:
    key = key_from_env()
    email = normalised(email)
    email_key = keyed_hash(email, key)  # as the marts hold it: only in memory
    erased_key = subject_hash(email, key)  # as the suppression list and the audit hold it
    warehouse = duckdb_path()
    if not Path(warehouse).exists():
        print(f"erase: no warehouse at {warehouse} (SHOPSPHERE_DUCKDB_PATH)", file=sys.stderr)
        return EXIT_FAILED
    pipelines = Path(pipelines_dir())
    pending = _pending_packages(pipelines)
    if pending and not dry_run:
        print(
            f"erase: {len(pending)} load package(s) not yet loaded ({pending[0]}): run the"
            " loaders first, then erase",
            file=sys.stderr,
        )
        return EXIT_FAILED
    relations = list(declared_relations())
    request_id = str(uuid.uuid4())
    touched: dict[str, int] = {}
    with warehouse_lock("duckdb", "erase"):
        con = duckdb.connect(warehouse, read_only=dry_run, config=duckdb_settings())
        try:
            present = _existing(con, relations)
            previous = _recorded_ids(con, erased_key)
            previous.ids["customer_id"].update(str(c) for c in customer_ids)
            _subject_ids(con, present, email, previous)
            con.execute("begin transaction")
            for r in present:
                # Rows already redacted are left alone: a second run touches nothing.
                where = f"({_belongs(r, previous, email, email_key)}) and ({_not_redacted(r)})"
                (n,) = con.sql(f"select count(*) from {r.sql} where {where}").fetchone() or (0,)
                if n:
                    touched[f"{r.schema}.{r.name}"] = n
                    if not dry_run:
                        con.execute(f"update {r.sql} set {_pii_set_clause(r)} where {where}")
            if not dry_run:
                _record(con, request_id, erased_key, previous, touched, datetime.now(UTC))
            con.execute("commit" if not dry_run else "rollback")
        finally:
            con.close()
    files = (
        sorted(
            str(p.relative_to(pipelines))
            for p in [*pipelines.glob("*/load/loaded/*"), *pipelines.glob("*/trace.pickle")]
        )
        if dry_run
        else forget_local_packages(pipelines)
    )
    verb = "would redact" if dry_run else "redacted"
    print(
        json.dumps(
            {
                "request_id": None if dry_run else request_id,
                "dry_run": dry_run,
                "customer_ids": sorted(previous.ids["customer_id"]),
                "contact_ids": sorted(previous.ids["contact_id"]),
                f"rows {verb}": touched,
                "local files " + ("to delete" if dry_run else "deleted"): len(files),
            },
            indent=2,
        )
    )
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loaders.erase", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--email",
        required=True,
        help="the person's email address; '-' reads it from stdin (out of the process list)",
    )
    parser.add_argument(
        "--customer-id", type=int, action="append", default=[], help="their shop customer id"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would change; change nothing"
    )
    args = parser.parse_args(argv)
    email = sys.stdin.readline().strip() if args.email == "-" else args.email
    if "@" not in email:
        print("erase: --email is not an email address", file=sys.stderr)
        return EXIT_USAGE
    try:
        return erase(email, args.customer_id, args.dry_run)
    except PiiKeyError as exc:
        print(f"erase: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
