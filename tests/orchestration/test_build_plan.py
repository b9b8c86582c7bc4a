"""Build only what has new data (orchestration.build_plan): which nodes a build takes, on a
small made-up project, and the marks it keeps in a real DuckDB warehouse. No service needed."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestration.build_plan import (
    Mark,
    make_plan,
    new_marks,
    outcome,
    plan_build,
    record_build,
)
from orchestration.manifest_graph import node_codes
from reports.source import marts_current_as_of

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _node(kind: str, name: str, parents: list[str], macros: list[str] | None = None) -> dict:
    folder = {"seed": "seeds", "snapshot": "snapshots"}.get(kind)
    layer = folder or ("marts" if name.startswith(("fct_", "dim_")) else "staging")
    return {
        "resource_type": kind,
        "name": name,
        "alias": name,
        "database": "warehouse",
        "schema": layer,
        "fqn": ["shopsphere", layer, name],
        "checksum": {"name": "sha256", "checksum": f"{name}-v1"},
        "config": {"enabled": True, "materialized": "table"},
        "columns": {},
        "depends_on": {"nodes": parents, "macros": macros or []},
    }


def project() -> dict[str, Any]:
    """shop.orders -> stg_orders -> fct_orders (reads the clock through a macro) -> dim_x;
    catalog.products -> stg_products -> dim_products; a seed read by fct_orders."""
    nodes = {
        "model.p.stg_orders": _node("model", "stg_orders", ["source.p.shop.orders"]),
        "model.p.stg_products": _node("model", "stg_products", ["source.p.catalog.products"]),
        "seed.p.fx_rates": _node("seed", "fx_rates", []),
        "model.p.fct_orders": _node(
            "model", "fct_orders", ["model.p.stg_orders", "seed.p.fx_rates"]
        ),
        "model.p.dim_products": _node("model", "dim_products", ["model.p.stg_products"]),
        "test.p.unique_fct_orders": {
            "resource_type": "test",
            "name": "unique_fct_orders",
            "depends_on": {"nodes": ["model.p.fct_orders"], "macros": []},
        },
    }
    sources = {
        f"source.p.{s}.{t}": {
            "schema": f"raw_{s}",
            "name": t,
            "identifier": t,
            "source_name": s,
        }
        for s, t in (("shop", "orders"), ("catalog", "products"))
    }
    parents = {uid: node["depends_on"]["nodes"] for uid, node in nodes.items()}
    # valid() reads the clock through run_timestamp(); dbt's own records of it are left empty,
    # as a full parse leaves them for calls inside is_incremental() blocks.
    macros = {
        f"macro.shopsphere.{name}": {
            "name": name,
            "package_name": "shopsphere",
            "macro_sql": sql,
            "depends_on": {"macros": []},
        }
        for name, sql in (
            ("valid", "{{ run_timestamp() }} > placed_at"),
            ("run_timestamp", "now()"),
        )
    }
    nodes["model.p.fct_orders"]["raw_code"] = (
        "select * from {{ ref('stg_orders') }} {% if is_incremental() %} where {{ valid() }} "
        "{% endif %}"
    )
    return {
        "metadata": {"dbt_version": "1.11.0", "project_name": "shopsphere"},
        "nodes": nodes,
        "sources": sources,
        "macros": macros,
        "parent_map": parents,
    }


def current_marks(manifest: dict[str, Any], at: datetime = T0) -> dict[str, Mark]:
    codes, _ = node_codes(manifest)
    return {uid: Mark(code, at, at, at) for uid, code in codes.items()}


def test_a_build_takes_what_has_new_data_and_what_follows_it() -> None:
    m = project()
    later = T0 + timedelta(hours=1)
    # Never built: everything.
    plan = make_plan(m, {}, {}, later, later)
    assert set(plan.build.values()) == {"never built"} and len(plan.build) == 5
    # Built, and nothing loaded since: nothing, and dbt is not started.
    marks = current_marks(m)
    assert make_plan(m, marks, {}, later, later).nothing_new
    # Unless a person asked for them by hand: then what was selected is built.
    plan = make_plan(m, marks, {}, later, later, ["model.p.dim_products"], everything=True)
    assert plan.build == {"model.p.dim_products": "asked for"}
    # A load that changed the shop's orders before the marks: nothing either.
    assert make_plan(
        m, marks, {("shop", "orders"): T0 - timedelta(minutes=1)}, later, later
    ).nothing_new
    # ... and after them: the orders' staging and what reads it; the catalog's side and the
    # seed are excluded, and so is the catalog's source with its tests.
    plan = make_plan(m, marks, {("shop", "orders"): T0 + timedelta(minutes=5)}, later, later)
    assert plan.build == {
        "model.p.stg_orders": "new raw data",
        "model.p.fct_orders": "upstream rebuilt",
    }
    assert plan.exclude(m) == [
        "dim_products",
        "fx_rates",
        "stg_products",
        "source:catalog.products",
    ]
    # A raw schema with a load the audit does not account for counts as changed whole.
    plan = make_plan(m, marks, {("catalog", "*"): T0 + timedelta(minutes=5)}, later, later)
    assert set(plan.build) == {"model.p.stg_products", "model.p.dim_products"}


def test_code_the_clock_and_earlier_partial_builds_are_changes_too() -> None:
    m = project()
    marks = current_marks(m)
    same_day = T0 + timedelta(hours=3)
    # What a node calls is read from its code: the same whether dbt recorded the call or not.
    recorded = copy.deepcopy(m)
    recorded["nodes"]["model.p.fct_orders"]["depends_on"]["macros"] = ["macro.shopsphere.valid"]
    assert node_codes(recorded) == node_codes(m)
    assert node_codes(m)[1] == {"model.p.fct_orders"}  # it reads the clock
    # A macro that fct_orders calls through another changed: it and what follows it.
    edited = copy.deepcopy(m)
    edited["macros"]["macro.shopsphere.run_timestamp"]["macro_sql"] = "now() at time zone 'UTC'"
    assert make_plan(edited, marks, {}, same_day, same_day).build == {
        "model.p.fct_orders": "code changed"
    }
    # A seed's file changed: the seed and what reads it.
    edited = copy.deepcopy(m)
    edited["nodes"]["seed.p.fx_rates"]["checksum"]["checksum"] = "fx_rates-v2"
    assert set(make_plan(edited, marks, {}, same_day, same_day).build) == {
        "seed.p.fx_rates",
        "model.p.fct_orders",
    }
    # The clock: the same day changes nothing; the next day rebuilds what reads it.
    assert make_plan(m, marks, {}, same_day, same_day).nothing_new
    next_day = T0 + timedelta(days=1)
    assert make_plan(m, marks, {}, next_day, next_day).build == {
        "model.p.fct_orders": "the clock's day moved"
    }
    # A node rebuilt by an earlier build that did not select its child: the child follows.
    marks["model.p.stg_products"] = Mark(
        marks["model.p.stg_products"].code, same_day, same_day, same_day
    )
    plan = make_plan(m, marks, {}, same_day, same_day, selected=["model.p.dim_products"])
    assert plan.build == {"model.p.dim_products": "upstream rebuilt earlier"}
    assert plan.selected == ["model.p.dim_products"]
    # A relation dropped by hand is built again, whatever its mark says.
    existing = {("warehouse", "marts", "fct_orders"), ("warehouse", "seeds", "fx_rates")}
    existing |= {("warehouse", "staging", "stg_orders"), ("warehouse", "staging", "stg_products")}
    plan = make_plan(m, current_marks(m), {}, same_day, same_day, existing=existing)
    assert plan.build == {"model.p.dim_products": "missing in the warehouse"}


def test_the_marks_a_build_leaves() -> None:
    m = project()
    marks = current_marks(m)
    later = T0 + timedelta(hours=2)
    changed = {("shop", "orders"): T0 + timedelta(hours=1)}
    # A build of what the orders changed: those rebuilt get new marks, the rest are current.
    plan = make_plan(m, marks, changed, later, later)
    new = new_marks(m, plan, set(plan.build), marks)
    assert {mark.current_as_of for mark in new.values()} == {later}
    assert {uid for uid, mark in new.items() if mark.built_at == later} == set(plan.build)
    # The next build, with nothing new, takes nothing: no node rebuilds itself forever.
    assert make_plan(m, {**marks, **new}, changed, later + timedelta(minutes=15), later).nothing_new


def test_a_node_whose_test_failed_or_that_was_skipped_is_not_current() -> None:
    m = project()
    results = [
        {"unique_id": "model.p.stg_orders", "status": "success"},
        {"unique_id": "model.p.fct_orders", "status": "success"},
        {"unique_id": "test.p.unique_fct_orders", "status": "fail"},
        {"unique_id": "model.p.dim_products", "status": "skipped"},
        {"unique_id": "model.p.stg_products", "status": "error"},
    ]
    assert outcome(m, results) == {"model.p.stg_orders"}


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("SHOPSPHERE_DUCKDB_PATH", str(path))
    monkeypatch.delenv("DESTINATION__DUCKDB__CREDENTIALS", raising=False)
    monkeypatch.setenv("SHOPSPHERE_PIPELINES_DIR", str(tmp_path / "dlt"))
    monkeypatch.delenv("SHOPSPHERE_AS_OF", raising=False)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema loader_audit")
        con.execute(
            "create table loader_audit.load_runs (source_name varchar, table_name varchar, "
            "rows_loaded bigint, rows_deleted bigint, run_finished_at timestamptz)"
        )
        con.execute("create schema raw_shop")
        con.execute("create table raw_shop._dlt_loads (inserted_at timestamptz, status int)")
        for schema in ("staging", "marts", "seeds"):
            con.execute(f"create schema {schema}")
    return path


def _load(path: Path, table: str, rows: int, deleted: int = 0) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("insert into raw_shop._dlt_loads values (now(), 0)")
        con.execute(
            "insert into loader_audit.load_runs values ('shop', ?, ?, ?, now())",
            [table, rows, deleted],
        )


def _build(path: Path, m: dict[str, Any], plan: Any) -> list[dict[str, str]]:
    """What dbt would have done: create each planned relation, report success."""
    with duckdb.connect(str(path)) as con:
        for uid in plan.build:
            node = m["nodes"][uid]
            con.execute(f"create or replace table {node['schema']}.{node['name']} (x int)")
    return [{"unique_id": uid, "status": "success"} for uid in plan.build]


def test_the_marks_in_the_warehouse_follow_the_loads(warehouse: Path) -> None:
    m = project()
    plan, previous = plan_build("duckdb", m)
    assert len(plan.build) == 5 and not previous
    record_build("duckdb", m, plan, previous, _build(warehouse, m, plan))
    # Nothing loaded since: nothing to build, and the marks say the marts are current now.
    plan, previous = plan_build("duckdb", m)
    assert plan.nothing_new and len(previous) == 5
    record_build("duckdb", m, plan, previous, [])
    with duckdb.connect(str(warehouse)) as con:

        def query(sql: str) -> list[tuple[Any, ...]]:
            return con.execute(sql).fetchall()

        assert marts_current_as_of(query, m) == plan.started
    # A load that deleted orders (and loaded none): the orders' side is built.
    _load(warehouse, "orders", 0, deleted=3)
    plan, previous = plan_build("duckdb", m)
    assert set(plan.build) == {"model.p.stg_orders", "model.p.fct_orders"}
    # The build failed on fct_orders: it stays due; stg_orders is done.
    results = [
        {"unique_id": "model.p.stg_orders", "status": "success"},
        {"unique_id": "model.p.fct_orders", "status": "error"},
    ]
    record_build("duckdb", m, plan, previous, results)
    plan, previous = plan_build("duckdb", m)
    assert plan.build == {"model.p.fct_orders": "upstream rebuilt earlier"}
    # A load the audit lost (its _dlt_loads row is newer than any audit row): the whole source.
    record_build("duckdb", m, plan, previous, _build(warehouse, m, plan))
    with duckdb.connect(str(warehouse)) as con:
        con.execute("insert into raw_shop._dlt_loads values (now() + interval 1 second, 0)")
    plan, _ = plan_build("duckdb", m)
    assert set(plan.build) == {"model.p.stg_orders", "model.p.fct_orders"}
