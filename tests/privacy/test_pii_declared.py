"""PII is declared once: `meta: {pii: email | name | phone | address}` on a column of a source or
a model. A sample of every text column of raw and staging finds no email address or phone number
in a column that does not say so, on the default world and on the variant one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from tests.fixtures.dbt import BuiltWorld

pytestmark = [pytest.mark.slow, pytest.mark.mysql, pytest.mark.postgres]

SAMPLE_ROWS = 5_000
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")
PHONE = re.compile(r"^\+?[0-9(][0-9 ().-]*[0-9]$")
NOT_PHONE = (
    re.compile(r"^-?[0-9]+(\.[0-9]+)?$"),  # an id, an amount, epoch milliseconds
    re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"),  # a date or a timestamp
    re.compile(r"^[0-9]{1,3}(\.[0-9]{1,3}){3}$"),  # an IPv4 address
)


def looks_like_pii(value: str) -> str | None:
    """'email' or 'phone' when the value looks like one, else None."""
    text = value.strip()
    if EMAIL.match(text):
        return "email"
    digits = sum(c.isdigit() for c in text)
    if PHONE.match(text) and 7 <= digits <= 15 and not any(p.match(text) for p in NOT_PHONE):
        return "phone"
    return None


def declared_pii(manifest: dict) -> set[tuple[str, str, str]]:
    """(schema, table, column) of every column declared PII, lower case. dlt's staging dataset
    (`<schema>_staging`, where merges land first) holds what its source does."""
    out: set[tuple[str, str, str]] = set()
    for node in [*manifest["sources"].values(), *manifest["nodes"].values()]:
        table = node.get("identifier") or node.get("alias") or node["name"]
        for column in node.get("columns", {}).values():
            if column.get("config", {}).get("meta", {}).get("pii") or column.get("meta", {}).get(
                "pii"
            ):
                for schema in (node["schema"], f"{node['schema']}_staging"):
                    out.add((schema.lower(), table.lower(), column["name"].lower()))
    return out


def undeclared_pii(
    con: duckdb.DuckDBPyConnection, declared: set[tuple[str, str, str]]
) -> list[str]:
    """`schema.table.column: kind (n of m sampled values)` for each text column of raw and
    staging whose sample holds emails or phone numbers but which is not declared PII. Values
    are never printed."""
    columns = con.sql(
        r"""select table_schema, table_name, column_name from information_schema.columns
            where data_type = 'VARCHAR'
              and (table_schema like 'raw\_%' escape '\' or table_schema = 'staging')
              and table_name not like '\_dlt%' escape '\'
              and column_name not like '\_%' escape '\'
            order by 1, 2, 3"""
    ).fetchall()
    found = []
    for schema, table, column in columns:
        if (schema.lower(), table.lower(), column.lower()) in declared:
            continue
        values = [
            v
            for (v,) in con.sql(
                f'select "{column}" from "{schema}"."{table}" where "{column}" is not null '
                f"using sample reservoir({SAMPLE_ROWS} rows) repeatable (7)"
            ).fetchall()
        ]
        kinds = [k for k in map(looks_like_pii, values) if k]
        if kinds:
            kind = max(set(kinds), key=kinds.count)
            found.append(f"{schema}.{table}.{column}: {kind} ({len(kinds)} of {len(values)})")
    return found


def _undeclared(world: BuiltWorld) -> list[str]:
    manifest = json.loads((Path(world.dbt.target_dir) / "manifest.json").read_text())
    with duckdb.connect(world.dbt.warehouse, read_only=True) as con:
        return undeclared_pii(con, declared_pii(manifest))


def test_every_column_holding_pii_in_raw_and_staging_is_declared(
    built_warehouse: BuiltWorld,
) -> None:
    assert _undeclared(built_warehouse) == []


def test_every_column_holding_pii_in_the_variant_world_is_declared(
    built_variant_warehouse: BuiltWorld,
) -> None:
    assert _undeclared(built_variant_warehouse) == []


def test_an_undeclared_column_holding_pii_is_found() -> None:
    """The check fails on undeclared emails and phone numbers, in any format, and not on ids,
    amounts, dates or addresses of machines."""
    with duckdb.connect() as con:
        con.execute("create schema raw_crm")
        con.execute(
            """create table raw_crm.people as select * from (values
                ('Ada.Lovelace@Example.org ', '+44 20 7946 0958', '1735689600000', '12.50'),
                ('bob@mail.co', '(555) 123-4567', '2026-11-30 10:00:00', '192.168.1.20'),
                (null, '0170 1234567', '310000001', '-3.25')) as t(notes, contact, id, amount)"""
        )
        assert undeclared_pii(con, set()) == [
            "raw_crm.people.contact: phone (3 of 3)",
            "raw_crm.people.notes: email (2 of 2)",
        ]
        declared = {("raw_crm", "people", "notes"), ("raw_crm", "people", "contact")}
        assert undeclared_pii(con, declared) == []
