"""The whole asset graph, materialized in-process on a small world: sources -> raw -> dbt -> docs."""

import json
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from tests.fixtures.orchestration import OpsWorld

pytestmark = [pytest.mark.slow, pytest.mark.mysql, pytest.mark.postgres]


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    out = {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        out[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
    return out


def test_every_asset_materializes_and_raw_figures_equal_the_audit(
    ops: OpsWorld, ops_built: dg.ExecuteInProcessResult
) -> None:
    graph = ops.definitions().resolve_asset_graph()
    result = ops_built
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    meta = _metadata(result)
    every = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert set(meta) == every, sorted(every - set(meta))

    # dbt tests are asset checks: all ran; none of severity error failed. The warn ones that
    # fire flag the world's dirty rows, as they are meant to (docs/data-quality.md, "Severity policy").
    checks = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    assert {c.asset_check_key for c in checks} == set(graph.asset_check_keys)
    failed_errors = [
        c.asset_check_key.name
        for c in checks
        if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR
    ]
    assert failed_errors == []

    # The figures on each raw asset are the run's row of loader_audit.load_runs.
    audit = {
        (run_id, f"raw_{source}/{table}"): (run_id, extracted, loaded, deleted)
        for run_id, source, table, extracted, loaded, deleted in ops.sql(
            "select run_id, source_name, table_name, rows_extracted, rows_loaded, rows_deleted "
            "from loader_audit.load_runs"
        )
    }
    raw = {
        k: v
        for k, v in meta.items()
        if k.startswith("raw_") and not k.endswith("_dlt_loads") and "/_deleted_" not in k
    }
    assert len(raw) == 13
    # Each SQL table's deleted keys land with it, as an asset of their own.
    deleted = {k: v for k, v in meta.items() if "/_deleted_" in k}
    assert sorted(deleted) == sorted(
        f"raw_{k.split('/')[0].removeprefix('raw_')}/_deleted_{k.split('/')[1]}"
        for k in raw
        if not k.startswith("raw_hubspot/")
    )
    assert all(m["dlt_load_id"] for m in deleted.values())
    for key, m in raw.items():
        assert (
            m["audit_run_id"],
            m["rows_extracted"],
            m["rows_loaded"],
            m["rows_deleted"],
        ) == audit[(m["audit_run_id"], key)]
        assert m["rows_loaded"] > 0 and m["seconds"] > 0 and m["dlt_load_id"]
    assert meta["raw_shop/orders"]["rows_extracted"] == 1_500
    assert ops.sql("select count(*) from marts.fct_orders")[0][0] > 0


def test_the_weekly_history_job_runs_the_tests_the_daily_build_leaves_out(
    ops: OpsWorld, ops_built: dg.ExecuteInProcessResult
) -> None:
    """The daily build's checks leave out the tests tagged history; the weekly job runs every
    test, on every row, and its schedule is Sunday's."""
    assert ops_built.success
    defs = ops.definitions()
    graph = defs.resolve_asset_graph()
    daily_checks = {key.name for key in graph.asset_check_keys}
    assert "source_unique_shop_orders_order_id" not in daily_checks
    assert "unique_stg_shop__orders_order_id" in daily_checks

    schedule = defs.get_schedule_def("history_tests_schedule")
    assert (schedule.cron_schedule, schedule.job_name) == ("0 4 * * 0", "history_tests")
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("history_tests").execute_in_process(instance=instance)
    assert result.success
    # dagster-dbt gives each invocation its own target folder: the newest `dbt test` one.
    runs = sorted(
        Path(ops.env["DBT_TARGET_PATH"]).rglob("run_results.json"), key=lambda p: p.stat().st_mtime
    )
    (ran,) = [p for p in runs if json.loads(p.read_text())["args"]["which"] == "test"][-1:]
    names = {r["unique_id"].split(".")[2] for r in json.loads(ran.read_text())["results"]}
    assert {"source_unique_shop_orders_order_id", "unique_stg_shop__orders_order_id"} <= names
    assert len(names) > len(daily_checks)
    compiled = next(
        (ran.parent / "compiled").rglob("not_null_stg_shop__orders_order_id.sql")
    ).read_text()
    assert "_built_at" not in compiled  # every row, not the latest build's
