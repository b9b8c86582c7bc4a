"""The right to erasure: `python -m loaders.erase` forgets one person everywhere the project keeps
data, and they stay forgotten.

A person of the world who is a shop customer with orders, a HubSpot contact and a recipient of
email events is erased after a build. The warehouse is built again, then every source is loaded
again in full while the source systems still hold them. Then no table of any
schema, no dbt artifact or log and no file of dlt's holds their email, name, phone or the
hash the marts knew them by; daily revenue has not moved. On the default world and the variant
one.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.fixtures.dbt import ROOT, BuiltWorld, built_world
from tests.fixtures.services import DatabaseFactory

pytestmark = [pytest.mark.slow, pytest.mark.mysql, pytest.mark.postgres]

REVENUE = "select * from marts.fct_daily_revenue order by all"


@dataclasses.dataclass
class Person:
    customer_id: int
    contact_id: str
    email: str
    full_name: str
    phones: list[str]
    email_key: str

    @property
    def traces(self) -> list[str]:
        """What must be found nowhere, lower case."""
        return [t.lower() for t in (self.email, self.full_name, *self.phones, self.email_key)]


@dataclasses.dataclass
class Erasure:
    world: BuiltWorld
    person: Person
    revenue_before: list[tuple[Any, ...]]
    dry_run: subprocess.CompletedProcess[str]
    fingerprint_before_dry_run: dict[str, tuple[Any, ...]]
    fingerprint_after_dry_run: dict[str, tuple[Any, ...]]
    first: dict[str, Any]
    again: dict[str, Any]
    fingerprint_after_erase: dict[str, tuple[Any, ...]]
    fingerprint_after_again: dict[str, tuple[Any, ...]]


def _pick_person(con: duckdb.DuckDBPyConnection) -> Person:
    """A customer with orders who is also a contact with email events, and whose full name no
    one else in the world has."""
    row = con.sql(
        """
        with names as (
            select lower(first_name || ' ' || last_name) as full_name from raw_shop.customers
            union all
            select lower(firstname || ' ' || lastname) from raw_hubspot.contacts
        ),
        people as (
            select c.customer_id, h.id as contact_id, lower(trim(c.email)) as email,
                c.first_name || ' ' || c.last_name as full_name, c.phone, h.phone as crm_phone
            from raw_shop.customers c
            join raw_hubspot.contacts h on lower(trim(h.email)) = lower(trim(c.email))
            where c.deleted_at is null and c.phone is not null and c.first_name is not null
              and c.last_name is not null and c.email like '%@%.%'
        )
        select p.*, d.email_key
        from people p
        join marts.dim_customers d using (customer_id)
        where (select count(*) from names n where n.full_name = lower(p.full_name)) = 2
          and (select count(*) from raw_shop.customers c
               where lower(trim(c.email)) = p.email) = 1
          and (select count(*) from raw_hubspot.contacts h
               where lower(trim(h.email)) = p.email) = 1
          and exists (select 1 from raw_shop.orders o where o.customer_id = p.customer_id)
          and exists (select 1 from raw_hubspot.email_events e
                      where lower(trim(e.recipient)) = p.email)
          and d.email_key is not null
        order by p.customer_id
        limit 1
        """
    ).fetchone()
    assert row, "the world has no customer who is also a contact with email events"
    customer_id, contact_id, email, full_name, phone, crm_phone, email_key = row
    phones = sorted({p for p in (phone, crm_phone) if p})
    return Person(customer_id, str(contact_id), email, full_name, phones, email_key)


def fingerprint(warehouse: str) -> dict[str, tuple[Any, ...]]:
    """Every base table's row count and a hash of its rows."""
    with duckdb.connect(warehouse, read_only=True) as con:
        tables = con.sql(
            "select table_schema, table_name from information_schema.tables"
            " where table_type = 'BASE TABLE' order by all"
        ).fetchall()
        return {
            f"{s}.{t}": con.sql(f'select count(*), bit_xor(hash(r)) from "{s}"."{t}" r').fetchone()
            or ()
            for s, t in tables
        }


def hits_in_tables(warehouse: str, traces: list[str]) -> dict[str, int]:
    """Rows holding any of the traces, per table, in every schema (every column as text)."""
    found = {}
    with duckdb.connect(warehouse, read_only=True) as con:
        tables = con.sql(
            "select table_schema, table_name from information_schema.tables order by all"
        ).fetchall()
        for schema, table in tables:
            condition = " or ".join("contains(lower(cast(r as varchar)), ?)" for _ in traces)
            (n,) = con.execute(
                f'select count(*) from "{schema}"."{table}" r where {condition}', traces
            ).fetchone() or (0,)
            if n:
                found[f"{schema}.{table}"] = n
    return found


def hits_in_files(folders: list[Path], traces: list[str]) -> list[str]:
    found = []
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file() and not path.name.endswith(".duckdb"):
                text = path.read_bytes().decode("utf-8", "replace").lower()
                found += [f"{path}: {t[:6]}…" for t in traces if t in text]
    return found


def erase(
    world: BuiltWorld, person: Person, *extra: str, stdin: bool = False
) -> subprocess.CompletedProcess[str]:
    """The erasure as an operator types it: the address in another case, with spaces."""
    email = f"  {person.email.upper()} "
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "loaders.erase",
            "--email",
            "-" if stdin else email,
            "--customer-id",
            str(person.customer_id),
            *extra,
        ],
        input=email + "\n" if stdin else None,
        cwd=ROOT,
        env={**world.loader_env, "DBT_PROFILES_DIR": str(ROOT), **_dbt_paths(world)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _dbt_paths(world: BuiltWorld) -> dict[str, str]:
    return {k: v for k, v in world.dbt.env.items() if k in ("DBT_TARGET_PATH", "DBT_LOG_PATH")}


def _summary(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


@pytest.fixture(scope="module", params=["default", "variant"])
def erasure(
    request: pytest.FixtureRequest,
    module_databases: tuple[DatabaseFactory, DatabaseFactory],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Erasure]:
    mysql, postgres = module_databases
    variant = request.param == "variant"
    tmp = tmp_path_factory.mktemp(f"erasure_{request.param}")
    with built_world(tmp, mysql, postgres, orders=800, seed=31, variant=variant) as world:
        warehouse = world.dbt.warehouse
        with duckdb.connect(warehouse, read_only=True) as con:
            person = _pick_person(con)
            revenue_before = con.sql(REVENUE).fetchall()
        before = fingerprint(warehouse)
        dry_run = erase(world, person, "--dry-run")
        after_dry_run = fingerprint(warehouse)
        first = _summary(erase(world, person, stdin=True))
        after_erase = fingerprint(warehouse)
        again = _summary(erase(world, person))
        after_again = fingerprint(warehouse)
        world.build_all()
        world.load("--full-refresh")  # the sources still hold them
        yield Erasure(
            world,
            person,
            revenue_before,
            dry_run,
            before,
            after_dry_run,
            first,
            again,
            after_erase,
            after_again,
        )


def test_the_person_is_found_nowhere_after_erasure_builds_and_a_full_reload(
    erasure: Erasure,
) -> None:
    world, person = erasure.world, erasure.person
    assert erasure.first["customer_ids"] == [str(person.customer_id)]
    assert erasure.first["contact_ids"] == [person.contact_id]
    assert hits_in_tables(world.dbt.warehouse, person.traces) == {}
    folders = [world.dbt.target_dir, Path(world.loader_env["SHOPSPHERE_PIPELINES_DIR"])]
    assert hits_in_files(folders, person.traces) == []


def test_the_search_finds_a_person_who_was_not_erased(erasure: Erasure) -> None:
    """The search above can fail: another customer's email is found in raw and staging."""
    with duckdb.connect(erasure.world.dbt.warehouse, read_only=True) as con:
        (other,) = con.sql(
            "select lower(trim(email)) from raw_shop.customers where email like '%@%.%'"
            f" and customer_id <> {erasure.person.customer_id} order by customer_id limit 1"
        ).fetchone() or ("",)
    found = hits_in_tables(erasure.world.dbt.warehouse, [other])
    assert {"raw_shop.customers", "staging.stg_shop__customers"} <= set(found)


def test_loaded_packages_are_removed_from_disk(erasure: Erasure) -> None:
    """Retention: once raw holds a load, its package (the rows in clear text) is deleted."""
    pipelines = Path(erasure.world.loader_env["SHOPSPHERE_PIPELINES_DIR"])
    assert sorted(p.parent.parent.parent.name for p in pipelines.glob("*/load/loaded/*/*")) == []
    assert len(list(pipelines.glob("*/schemas/*.json"))) == 3  # the pipelines are there


def test_daily_revenue_is_unchanged_and_the_orders_stay(erasure: Erasure) -> None:
    world, person = erasure.world, erasure.person
    with duckdb.connect(world.dbt.warehouse, read_only=True) as con:
        assert con.sql(REVENUE).fetchall() == erasure.revenue_before
        orders = con.execute(
            "select count(*) from marts.fct_orders where customer_id = ?", [person.customer_id]
        ).fetchone()
    assert orders and orders[0] > 0


def test_a_dry_run_prints_what_it_would_touch_and_changes_nothing(erasure: Erasure) -> None:
    done = erasure.dry_run
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["dry_run"] is True
    assert summary["rows would redact"] == erasure.first["rows redacted"]
    assert erasure.fingerprint_after_dry_run == erasure.fingerprint_before_dry_run
    assert "privacy.erasure_requests" not in erasure.fingerprint_after_dry_run


def test_the_erasure_is_recorded_without_clear_text_and_a_second_run_changes_nothing(
    erasure: Erasure,
) -> None:
    first, person = erasure.first, erasure.person
    touched = first["rows redacted"]
    for table in (
        "raw_shop.customers",
        "raw_hubspot.contacts",
        "raw_hubspot.email_events",
        "staging.stg_shop__customers",
        "snapshots.snap_customers",
        "marts.dim_customers",
        "marts.fct_email_sends",
    ):
        assert touched.get(table, 0) > 0, table
    assert erasure.again["rows redacted"] == {}
    changed = {
        t
        for t, v in erasure.fingerprint_after_again.items()
        if erasure.fingerprint_after_erase.get(t) != v
    }
    assert changed <= {"privacy.erased_subjects", "privacy.erasure_requests"}
    with duckdb.connect(erasure.world.dbt.warehouse, read_only=True) as con:
        requests = con.sql(
            "select request_id, relation, rows_touched from privacy.erasure_requests"
        ).fetchall()
        audit_text = str(con.sql("select * from privacy.erasure_requests").fetchall()).lower()
    assert {(first["request_id"], t, n) for t, n in touched.items()} <= set(requests)
    assert not any(t in audit_text for t in person.traces)
