"""`dbt build --target prod` on the dbt-snowflake adapter, against fakesnow (Snowflake's
emulation; the real service is unreachable here), on the same raw data as the DuckDB build:
every model, seed, snapshot, test and incremental strategy runs, twice, and the public marts
hold the same rows as DuckDB's. The gaps of the emulation are bridged in
tests/warehouse/snowflake_emulated.py, never in the project's SQL."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from reports.metrics import SemanticLayer
from tests.fixtures.dbt import ROOT, BuiltWorld
from tests.warehouse.snowflake_build import HARNESS, PUBLIC, SnowflakeBuild, rows_as_text

pytestmark = [pytest.mark.slow, pytest.mark.mysql, pytest.mark.postgres]


@pytest.fixture(scope="module")
def snowflake(
    built_warehouse: BuiltWorld, tmp_path_factory: pytest.TempPathFactory
) -> SnowflakeBuild:
    build = SnowflakeBuild(built_warehouse, tmp_path_factory.mktemp("snowflake"))
    build.loaded = build.load()
    build.first = build.run("build")
    return build


def duckdb_rows(world: BuiltWorld, schema: str, table: str) -> list[tuple[str | None, ...]]:
    with duckdb.connect(world.dbt.warehouse, read_only=True) as con:
        return rows_as_text(con, schema, table)


def test_the_loaders_land_raw_on_snowflake_as_on_duckdb(
    snowflake: SnowflakeBuild, built_warehouse: BuiltWorld
) -> None:
    with duckdb.connect(built_warehouse.dbt.warehouse, read_only=True) as con:
        expected = dict(
            con.sql(
                """select lower(schema_name || '.' || table_name), estimated_size from duckdb_tables()
                   where schema_name like 'raw\\_%' escape '\\' and table_name not like '\\_dlt%' escape '\\'"""
            ).fetchall()
        )
        counts = {
            name: con.sql(f"select count(*) from {name}").fetchone()[0]
            for name in expected  # type: ignore[index]
        }
    with duckdb.connect(str(snowflake.db_path / "RAW.db"), read_only=True) as con:
        landed = {
            name: con.sql(f"select count(*) from {name}").fetchone()[0]  # type: ignore[index]
            for name in counts
        }
        audit = con.sql(
            "select count(*), count(*) filter (where status = 'ok') from loader_audit.load_runs"
        ).fetchone()
    assert landed == counts
    assert audit is not None and audit[0] == audit[1] == 13  # every table, from all three sources


def test_every_node_builds_on_snowflake(
    snowflake: SnowflakeBuild, built_warehouse: BuiltWorld
) -> None:
    statuses = snowflake.first
    failed = {k: v for k, v in statuses.items() if v not in ("success", "pass", "warn", "no-op")}
    assert not failed
    assert built_warehouse.build is not None
    # The same nodes, with the same outcome, as on DuckDB (the defects warn on both).
    assert statuses == {k: v for k, v in built_warehouse.build.results.items()}


@pytest.mark.parametrize(
    ("schema", "table"), [(s, t) for s, tables in PUBLIC.items() for t in tables]
)
def test_public_marts_hold_the_same_rows_as_on_duckdb(
    snowflake: SnowflakeBuild, built_warehouse: BuiltWorld, schema: str, table: str
) -> None:
    expected = duckdb_rows(built_warehouse, schema, table)
    assert expected, f"{schema}.{table} is empty: nothing would be compared"
    assert snowflake.rows(schema, table) == expected


def test_the_reporter_role_is_granted_the_marts_and_nothing_else(snowflake: SnowflakeBuild) -> None:
    granted = {
        line.split(" ON ")[1].split(" TO ")[0].lower()
        for line in snowflake.grants_log.read_text().splitlines()
        if line.startswith("GRANT SELECT") and " TO REPORTER" in line
    }
    expected = {f"analytics.{s}.{t}" for s, tables in PUBLIC.items() for t in tables}
    expected.add("analytics.data_quality.dq_rule_history")
    # The rules the data-quality page joins to the rates (a model since issue 15: it was a
    # seed, in a schema the reporter could not read).
    expected.add("analytics.data_quality.dq_rules")
    assert granted == expected


MASKED_KINDS = {"email", "name", "phone", "address"}
ALTER_RE = re.compile(
    r"^alter table (\S+) modify column (\S+) set masking policy analytics\.privacy\.pii_(\w+) force$"
)


def _declared_masked(nodes: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(table, column, kind) of every declared PII column of a masked kind, lower case."""
    out = set()
    for node in nodes:
        for column in node.get("columns", {}).values():
            meta = {**column.get("meta", {}), **column.get("config", {}).get("meta", {})}
            if meta.get("pii") in MASKED_KINDS:
                name = node.get("identifier") or node.get("alias") or node["name"]
                out.add((name.lower(), column["name"].lower(), meta["pii"]))
    return out


def _masked(log: Path) -> set[tuple[str, str, str, str]]:
    """(schema, table, column, kind) of every ALTER ... SET MASKING POLICY in the log."""
    out = set()
    for line in log.read_text().lower().splitlines():
        if match := ALTER_RE.match(line):
            relation, column, kind = match.groups()
            _database, schema, table = (p.strip('"') for p in relation.split("."))
            out.add((schema, table, column.strip('"'), kind))
    return out


def test_masking_policies_generated_from_the_declaration_guard_every_pii_column(
    snowflake: SnowflakeBuild,
) -> None:
    """What the harness can carry: the statements issued. The policies' text and their
    attachment to exactly the declared columns; not Snowflake enforcing them."""
    log = snowflake.grants_log.read_text().lower()
    for kind in sorted(MASKED_KINDS):
        assert (
            f"create masking policy if not exists analytics.privacy.pii_{kind} as (value varchar)"
            " returns varchar -> case when is_role_in_session('pii_reader') then value else null"
            " end"
        ) in log
    manifest = json.loads((snowflake.target / "manifest.json").read_text())
    models = [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] in ("model", "snapshot") and n["config"]["materialized"] != "view"
    ]
    expected = _declared_masked(models)
    assert {t for t, _, _ in expected} >= {"stg_shop__customers", "stg_hubspot__contacts"}
    built = {(t, c, k) for s, t, c, k in _masked(snowflake.grants_log) if s == "staging"}
    assert built == expected
    # Nothing outside staging carries clear text, so nothing else is masked.
    assert {s for s, *_ in _masked(snowflake.grants_log)} <= {
        "staging",
        "raw_shop",
        "raw_hubspot",
        "raw_shop_staging",
        "raw_hubspot_staging",
    }

    snowflake.run("run-operation", "mask_pii_in_raw")
    sources = _declared_masked(list(manifest["sources"].values()))
    raw = {(t, c, k) for s, t, c, k in _masked(snowflake.grants_log) if s.startswith("raw_")}
    assert raw == sources
    assert ("customers", "email", "email") in raw and ("deals", "dealname", "name") in raw


def test_a_second_build_runs_every_incremental_strategy_and_changes_nothing(
    snowflake: SnowflakeBuild, built_warehouse: BuiltWorld
) -> None:
    before = {(s, t): snowflake.rows(s, t) for s, tables in PUBLIC.items() for t in tables}
    statuses = snowflake.run("build")
    assert all(v in ("success", "pass", "warn", "no-op") for v in statuses.values())
    run_sql = (
        (snowflake.target / "run/shopsphere/models/marts/core/fct_orders.sql").read_text().lower()
    )
    assert "delete from" in run_sql and "insert into" in run_sql  # delete+insert, not a rebuild
    snapshot_sql = next(
        (snowflake.target / "run/shopsphere/snapshots").rglob("snap_customers.sql")
    ).read_text()
    assert "merge into" in snapshot_sql.lower()
    after = {(s, t): snowflake.rows(s, t) for s, tables in PUBLIC.items() for t in tables}
    assert after == before


# What the report pages and the quickstart ask most: every metric in total, and the main ones
# per day and dimension.
SNOWFLAKE_QUERIES = {
    "revenue_by_day_and_channel": (
        ["valid_orders", "net_revenue_usd", "average_order_value_usd", "discount_usd"],
        ["metric_time__day", "order__channel"],
    ),
    "revenue_by_week_and_segment": (
        ["net_revenue_usd", "ordering_customers"],
        ["metric_time__week", "customer__customer_segment"],
    ),
    "email_funnel_by_campaign": (
        ["emails_sent", "emails_delivered", "unique_opens", "unique_clicks", "open_rate"],
        ["campaign__campaign_name"],
    ),
    "stock_by_category": (
        ["stock_on_hand", "products_out_of_stock"],
        ["product__top_category_name"],
    ),
    "quarantine_by_month": (["quarantined_order_line_share"], ["metric_time__month"]),
}


def _comparable(row: dict[str, Any]) -> tuple[Any, ...]:
    """Text of each value as both warehouses would print it: numbers to 9 significant digits
    (DuckDB's and Snowflake's doubles differ in the last bits), times to their day."""
    out: list[Any] = []
    for value in row.values():
        text = None if value is None else str(value)
        if text is None:
            out.append(None)
            continue
        try:
            out.append(float(f"{float(text):.9g}"))
        except ValueError:
            out.append(text[:10] if text[:4].isdigit() and text[4:5] == "-" else text)
    return tuple(out)


def test_the_sql_metricflow_writes_for_snowflake_runs_there_with_the_duckdb_answers(
    snowflake: SnowflakeBuild, built_warehouse: BuiltWorld
) -> None:
    on_snowflake = SemanticLayer.from_target(snowflake.target)
    on_duckdb = SemanticLayer.from_target(built_warehouse.dbt.target_dir)
    queries = {name: (metrics, group_by) for name, (metrics, group_by) in SNOWFLAKE_QUERIES.items()}
    windowed = {m for m in on_duckdb.metric_names() if "trailing" in m or "7_day" in m}
    for metric in on_duckdb.metric_names():
        # A moving window has no total: asked per day (below) instead.
        queries[f"total_{metric}" if metric not in windowed else f"daily_{metric}"] = (
            [metric],
            [] if metric not in windowed else ["metric_time__day"],
        )
    sql = {
        name: on_snowflake.sql(metrics, group_by) for name, (metrics, group_by) in queries.items()
    }
    assert all('"ANALYTICS"' in q.upper() or "ANALYTICS." in q.upper() for q in sql.values())
    answers = snowflake.query(sql)
    with duckdb.connect(built_warehouse.dbt.warehouse, read_only=True) as con:
        for name, (metrics, group_by) in queries.items():
            expected = sorted(
                (_comparable(r) for r in on_duckdb.query(con, metrics, group_by)), key=str
            )
            columns = answers[name]["columns"]
            actual = sorted(
                (_comparable(dict(zip(columns, r, strict=True))) for r in answers[name]["rows"]),
                key=str,
            )
            assert actual == expected, name


def _hits(db_file: Path, needles: list[str]) -> dict[str, int]:
    """Rows holding any needle, per table of one emulated database (every column as text)."""
    found = {}
    with duckdb.connect(str(db_file), read_only=True) as con:
        tables = con.sql(
            "select table_schema, table_name from information_schema.tables"
            " where table_type = 'BASE TABLE' and table_schema not like '\\_fs%' escape '\\'"
            " order by all"
        ).fetchall()
        for schema, table in tables:
            condition = " or ".join("contains(lower(cast(r as varchar)), ?)" for _ in needles)
            (n,) = con.execute(
                f'select count(*) from "{schema}"."{table}" r where {condition}', needles
            ).fetchone() or (0,)
            if n:
                found[f"{schema}.{table}".lower()] = n
    return found


def test_a_person_is_erased_on_snowflake_too(snowflake: SnowflakeBuild) -> None:
    """Last in this module: it changes the emulated warehouse. loaders.erase on Snowflake
    redacts the person in RAW and ANALYTICS and records the request in RAW.privacy."""
    with duckdb.connect(str(snowflake.db_path / "RAW.db"), read_only=True) as con:
        row = con.sql(
            "select c.customer_id, lower(trim(c.email)), c.phone"
            " from raw_shop.customers c join raw_hubspot.contacts h"
            "   on lower(trim(h.email)) = lower(trim(c.email))"
            " where c.phone is not null and c.deleted_at is null"
            "   and exists (select 1 from raw_hubspot.email_events e"
            "               where lower(trim(e.recipient)) = lower(trim(c.email)))"
            " order by 1 limit 1"
        ).fetchone()
    assert row, "no customer who is a contact with email events"
    customer_id, email, phone = row
    needles = [email, phone.lower()]
    before = {db: _hits(snowflake.db_path / f"{db}.db", needles) for db in ("RAW", "ANALYTICS")}
    assert (
        "raw_shop.customers" in before["RAW"]
        and "staging.stg_shop__customers" in before["ANALYTICS"]
    )
    done = subprocess.run(
        [
            sys.executable,
            str(HARNESS),
            str(snowflake.db_path),
            "--erase",
            "--",
            "--email",
            email,
            "--customer-id",
            str(customer_id),
            "--destination",
            "snowflake",
        ],
        cwd=ROOT,
        env={
            **snowflake.env,
            "DBT_TARGET": "prod",
            "SHOPSPHERE_RAW_DATABASE": "RAW",
            "SHOPSPHERE_PIPELINES_DIR": str(snowflake.db_path.parent / "dlt"),
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    summary = json.loads(done.stdout[done.stdout.index("{") :])
    assert summary["customer_ids"] == [str(customer_id)]
    assert {"raw_shop.customers", "raw_hubspot.contacts", "staging.stg_shop__customers"} <= set(
        summary["rows redacted"]
    )
    after = {db: _hits(snowflake.db_path / f"{db}.db", needles) for db in ("RAW", "ANALYTICS")}
    assert after == {"RAW": {}, "ANALYTICS": {}}
    with duckdb.connect(str(snowflake.db_path / "RAW.db"), read_only=True) as con:
        recorded = con.sql("select count(*) from privacy.erasure_requests").fetchone()
    assert recorded and recorded[0] == len(summary["rows redacted"])
