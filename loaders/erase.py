"""Forget one person everywhere the project keeps data (the right to erasure).

    python -m loaders.erase --email ADDRESS [--customer-id N ...] [--dry-run]
                            [--destination duckdb|snowflake]
    echo ADDRESS | python -m loaders.erase --email - ...   # the address stays out of `ps`

On the warehouse (the DuckDB file in SHOPSPHERE_DUCKDB_PATH, or Snowflake with the dbt
profile's SNOWFLAKE_* variables and DBT_TARGET), in one transaction:
- every table that holds declared PII (`meta: {pii: ...}` in the dbt YAML: raw, dlt's staging
  datasets, staging, snapshots, marts) has the person's rows redacted: their PII columns and
  keyed hashes set to null. Rows stay, so counts and revenue do not move: their orders stay in
  every figure, attached to an anonymous customer;
- the person's keyed hash and ids go into `privacy.erased_subjects` (in raw's database), which
  every later load applies (loaders.privacy.suppression), while the source systems still hold them;
- the request goes into `privacy.erasure_requests`: request id, keyed hash, time, rows touched
  per table; never the clear-text address.

Then dlt's local load packages and traces are deleted. A person's rows are found by their
normalised email, by `--customer-id`, and by the shop customer and HubSpot contact ids that
their email leads to. Running it again finds nothing more to change: it is idempotent.
`--dry-run` prints what it would touch and changes nothing.
Exit codes: 0 done, 1 refused (the warehouse is missing, a load is pending), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from loaders.privacy.pii import PiiKeyError, key_from_env, keyed_hash
from loaders.privacy.suppression import (
    ID_KINDS,
    REQUESTS,
    SUBJECTS,
    Suppressed,
    TablePii,
    normalised,
    read_suppressed,
    subject_hash,
)
from loaders.privacy.tables import (
    DuckDBWarehouse,
    Relation,
    SnowflakeWarehouse,
    Warehouse,
    declared_relations,
    lit,
)
from loaders.settings import settings
from loaders.shared.errors import EXIT_FAILED, EXIT_OK
from loaders.shared.locks import warehouse_lock
from loaders.shared.pipeline import pipelines_dir
from loaders.shared.warehouse import duckdb_path

EXIT_USAGE = 2


def _existing(wh: Warehouse, relations: list[Relation]) -> list[Relation]:
    tables = wh.columns(relations)
    out = []
    for r in relations:
        columns = tables.get((r.database.lower(), r.schema.lower(), r.name.lower()))
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
        out.append(dataclasses.replace(r, pii=pii))
    return out


def _belongs(wh: Warehouse, r: Relation, erased: Suppressed, email: str, email_key: str) -> str:
    """SQL: the row holds the person's PII (as loaders.privacy.suppression.belongs, in SQL)."""
    q = wh.column
    terms = [f"lower(trim({q(c)})) = {lit(email)}" for c in r.pii.emails]
    terms += [f"{q(c)} = {lit(email_key)}" for c, k in r.pii.columns.items() if k == "keyed_hash"]
    for kind, column in r.pii.subject.items():
        if kind == "contact_ids_json":  # a JSON list of id strings: '["3362", "17"]'
            terms += [
                f"cast({q(column)} as varchar) like {lit(f'%{json.dumps(i)}%')}"
                for i in sorted(erased.ids["contact_id"])
            ]
        elif erased.ids.get(kind):
            ids = ", ".join(lit(i) for i in sorted(erased.ids[kind]))
            terms.append(f"cast({q(column)} as varchar) in ({ids})")
    return " or ".join(f"({t})" for t in terms) or "1 = 0"


def _not_redacted(wh: Warehouse, r: Relation) -> str:
    q = wh.column
    return " or ".join(
        f"{q(c)}" if kind == "false" else f"{q(c)} is not null" for c, kind in r.pii.columns.items()
    )


def _pii_set_clause(wh: Warehouse, r: Relation) -> str:
    return ", ".join(
        f"{wh.column(c)} = " + ("false" if kind == "false" else "null")
        for c, kind in r.pii.columns.items()
    )


def _subject_ids(wh: Warehouse, relations: list[Relation], email: str, erased: Suppressed) -> None:
    """Adds to `erased` the ids their email leads to, in every table that keys a person."""
    for r in relations:
        for kind, column in r.pii.subject.items():
            if kind not in erased.ids or not r.pii.emails:
                continue
            match = " or ".join(f"lower(trim({wh.column(c)})) = {lit(email)}" for c in r.pii.emails)
            rows = wh.rows(
                f"select distinct cast({wh.column(column)} as varchar) from {wh.table(r)}"
                f" where {match}"
            )
            erased.ids[kind].update(v for (v,) in rows if v is not None)


def _recorded_ids(wh: Warehouse, erased_key: str) -> Suppressed:
    """The ids an earlier request for this person recorded: a source that has blanked their
    email since still leads to their rows."""
    out = Suppressed()
    if not read_suppressed(wh.rows):
        return out
    for kind in ID_KINDS:
        rows = wh.rows(
            f"select distinct {kind} from {wh.privacy}.{SUBJECTS}"
            f" where subject_hash = {lit(erased_key)} and {kind} is not null"
        )
        out.ids[kind].update(str(v) for (v,) in rows)
    return out


def _record(
    wh: Warehouse,
    request_id: str,
    erased_key: str,
    erased: Suppressed,
    touched: dict[str, int],
    at: datetime,
) -> None:
    wh.run(f"create schema if not exists {wh.privacy}")
    wh.run(
        f"create table if not exists {wh.privacy}.{SUBJECTS} (request_id varchar, subject_hash"
        " varchar, customer_id varchar, contact_id varchar, erased_at timestamp)"
    )
    wh.run(
        f"create table if not exists {wh.privacy}.{REQUESTS} (request_id varchar, subject_hash"
        " varchar, requested_at timestamp, relation varchar, rows_touched bigint)"
    )
    when = f"cast({lit(at.strftime('%Y-%m-%d %H:%M:%S.%f'))} as timestamp)"
    head = f"{lit(request_id)}, {lit(erased_key)}"
    subjects = [f"({head}, null, null, {when})"]
    subjects += [f"({head}, {lit(i)}, null, {when})" for i in sorted(erased.ids["customer_id"])]
    subjects += [f"({head}, null, {lit(i)}, {when})" for i in sorted(erased.ids["contact_id"])]
    wh.run(f"insert into {wh.privacy}.{SUBJECTS} values {', '.join(subjects)}")
    requests = [f"({head}, {when}, {lit(t)}, {n})" for t, n in sorted(touched.items())]
    wh.run(
        f"insert into {wh.privacy}.{REQUESTS} values "
        + (", ".join(requests) or f"({head}, {when}, null, 0)")
    )


def _pending_packages(root: Path) -> list[str]:
    """Load packages extracted but not yet loaded: they may hold the person, so erase waits."""
    return sorted(
        str(p.relative_to(root))
        for folder in ("normalize/extracted", "load/new", "load/normalized")
        for p in root.glob(f"*/{folder}/*")
        if p.is_dir()
    )


def local_packages(root: Path) -> list[Path]:
    """dlt's completed load packages and run traces under the pipelines' folder."""
    return sorted([*root.glob("*/load/loaded/*"), *root.glob("*/trace.pickle")])


def _open(destination: str, dry_run: bool, relations: list[Relation]) -> Warehouse:
    if destination == "snowflake":
        raw = settings().raw_database or next(
            r.database for r in relations if r.schema.startswith("raw_")
        )
        return SnowflakeWarehouse(raw)
    return DuckDBWarehouse(duckdb_path(), read_only=dry_run)


def erase(email: str, customer_ids: list[int], dry_run: bool, destination: str = "duckdb") -> int:
    key = key_from_env()
    email = normalised(email)
    email_key = keyed_hash(email, key)  # as the marts hold it: only in memory
    erased_key = subject_hash(email, key)  # as the suppression list and the audit hold it
    if destination == "duckdb" and not Path(duckdb_path()).exists():
        print(f"erase: no warehouse at {duckdb_path()} (SHOPSPHERE_DUCKDB_PATH)", file=sys.stderr)
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
    with warehouse_lock(destination, "erase"):
        wh = _open(destination, dry_run, relations)
        try:
            present = _existing(wh, relations)
            previous = _recorded_ids(wh, erased_key)
            previous.ids["customer_id"].update(str(c) for c in customer_ids)
            _subject_ids(wh, present, email, previous)
            if not dry_run:
                wh.run("begin transaction")
            for r in present:
                # Rows already redacted are left alone: a second run touches nothing.
                where = (
                    f"({_belongs(wh, r, previous, email, email_key)}) and ({_not_redacted(wh, r)})"
                )
                ((n,),) = wh.rows(f"select count(*) from {wh.table(r)} where {where}")
                if n:
                    touched[f"{r.schema}.{r.name}".lower()] = n
                    if not dry_run:
                        wh.run(f"update {wh.table(r)} set {_pii_set_clause(wh, r)} where {where}")
            if not dry_run:
                _record(wh, request_id, erased_key, previous, touched, datetime.now(UTC))
                wh.run("commit")
        finally:
            wh.close()
    files = local_packages(pipelines)
    if not dry_run:
        for path in files:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
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
    parser.add_argument("--destination", choices=["duckdb", "snowflake"], default="duckdb")
    args = parser.parse_args(argv)
    email = sys.stdin.readline().strip() if args.email == "-" else args.email
    if "@" not in email:
        print("erase: --email is not an email address", file=sys.stderr)
        return EXIT_USAGE
    try:
        return erase(email, args.customer_id, args.dry_run, args.destination)
    except PiiKeyError as exc:
        print(f"erase: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
