"""Running itself: retries of transient failures only, one alert per event (failed run, rule over
tolerance, stale source, late marts), the daily schedule, one run of a source at a time."""

import dataclasses
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import duckdb
import pytest

from loaders.shared.locks import source_lock
from orchestration.monitoring import watch
from orchestration.settings import settings
from tests.fixtures.orchestration import FlakyProxy, OpsWorld, Receivers, step_events
from tests.fixtures.services import mysql_connect
from world.urls import DbUrl

pytestmark = [pytest.mark.slow, pytest.mark.mysql, pytest.mark.postgres]

RETRY = dg.DagsterEventType.STEP_UP_FOR_RETRY


def _attempts(instance: dg.DagsterInstance, run_id: str) -> list[dg.EventLogEntry]:
    """The step's starts: the first, then one per retry."""
    return step_events(instance, run_id, dg.DagsterEventType.STEP_START) + step_events(
        instance, run_id, dg.DagsterEventType.STEP_RESTARTED
    )


def _retry_error(entry: dg.EventLogEntry) -> str:
    data = entry.dagster_event.event_specific_data if entry.dagster_event else None
    error, messages = getattr(data, "error", None), []
    while error is not None:  # the policy's RetryRequested, caused by the loader's failure
        messages.append(error.message)
        error = error.cause or error.context
    return "\n".join(messages)


def _url(url: str, **change: object) -> str:
    return dataclasses.replace(DbUrl.parse(url), **change).sqlalchemy()  # type: ignore[arg-type]


def test_a_transient_failure_is_retried_and_succeeds(
    ops: OpsWorld, instance: dg.DagsterInstance
) -> None:
    catalog = DbUrl.parse(ops.manifest.catalog_url)
    proxy = FlakyProxy(catalog.host or "127.0.0.1", catalog.port or 5432, drop=1)
    try:
        result = ops.materialize(
            ["raw_catalog"],
            instance,
            SOURCES__CATALOG__CREDENTIALS=_url(
                ops.manifest.catalog_url, host="127.0.0.1", port=proxy.port
            ),
        )
    finally:
        proxy.close()
    assert result.success
    assert len(_attempts(instance, result.run_id)) == 2
    (retry,) = step_events(instance, result.run_id, RETRY)
    assert "catalog: cannot connect to PostgreSQL" in _retry_error(retry)
    loaded = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {
        "raw_catalog/products",
        "raw_catalog/categories",
        "raw_catalog/inventory_levels",
    } <= loaded


def test_a_terminal_failure_fails_once_and_sends_one_alert(
    ops: OpsWorld, instance: dg.DagsterInstance, alert_receivers: Receivers
) -> None:
    password = "not-the-password-7f3a"  # pragma: allowlist secret
    result = ops.materialize(
        ["raw_shop"],
        instance,
        SOURCES__SHOP__CREDENTIALS=_url(ops.manifest.shop_url, password=password),
    )
    assert not result.success
    assert len(_attempts(instance, result.run_id)) == 1
    assert step_events(instance, result.run_id, RETRY) == []

    run = instance.get_run_by_id(result.run_id)
    (failure,) = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    sensor = ops.definitions().get_sensor_def("alert_on_run_failure")
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure",
        dagster_event=failure.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()
    sensor(context)  # type: ignore[operator]

    (mail,) = alert_receivers.mails
    (post,) = alert_receivers.posts
    body = str(mail.get_payload())
    assert mail["Subject"].strip() == "[ShopSphere] run failed: load_shop"
    for text in (body, post["text"]):
        assert result.run_id in text and "step: load_shop" in text
        assert "shop: access denied for user" in text
        assert f"/runs/{result.run_id}" in text
        assert password not in text and "hooks/T000" not in text
    assert post["kind"] == "run_failed" and post["error"].startswith("shop: access denied")


def test_a_rule_over_its_tolerance_sends_its_alert(
    ops: OpsWorld,
    ops_built: dg.ExecuteInProcessResult,
    instance: dg.DagsterInstance,
    alert_receivers: Receivers,
) -> None:
    assert ops_built.success
    with duckdb.connect(ops.warehouse) as con:  # tolerate nothing of a rule that fires
        (rule,) = con.sql(
            "select rule_name from data_quality.dq_rule_results where rows_failing > 0 "
            "order by rule_name limit 1"
        ).fetchone() or ("",)
        con.execute(
            "update data_quality.dq_rules set max_failure_rate = 0 where rule_name = ?", [rule]
        )
    result = ops.materialize(["data_quality/dq_rule_results"], instance)
    assert result.success  # a warn rule over its rate warns: the build stays green
    (mail,) = alert_receivers.mails
    (post,) = alert_receivers.posts
    assert (
        mail["Subject"].strip()
        == "[ShopSphere] data-quality rule over its tolerated rate: dq_rule_results"
    )
    assert post["kind"] == "dq_breach" and post["run_id"] == result.run_id
    assert post["error"].startswith(f"{rule}: ") and "> 0.00% tolerated" in post["error"]


def test_a_stale_source_and_late_marts_each_alert_once(
    ops: OpsWorld,
    ops_built: dg.ExecuteInProcessResult,
    instance: dg.DagsterInstance,
    alert_receivers: Receivers,
) -> None:
    assert ops_built.success
    cfg = settings()
    early = datetime.now(UTC).replace(hour=1, minute=0)  # today, before the 06:00 deadline
    sent, cursor = watch(cfg, instance, None, early)
    assert sent == []  # loaded today (after 01:00, even): nothing stale, no deadline yet

    later = early + timedelta(days=3)  # every source's last load is over 36 h (error_after) old
    sent, cursor = watch(cfg, instance, cursor, later)
    assert sorted(a.step for a in sent) == ["load_catalog", "load_hubspot", "load_shop"]
    assert all(a.kind == "source_stale" and "allowed: 36 h" in a.error for a in sent)
    # Each says how old the marts are: built today (before 01:00 when the suite runs just
    # after midnight), seen three days later at 01:00.
    ages = [
        re.search(r"; the marts hold the loads up to .+ UTC \(([\d.]+) h ago\)$", a.error)
        for a in sent
    ]
    assert all(age and 48 < float(age.group(1)) <= 73 for age in ages), sent[0].error
    again, cursor = watch(cfg, instance, cursor, later + timedelta(minutes=5))
    assert again == []  # still stale: no storm

    sent, cursor = watch(cfg, instance, cursor, later.replace(hour=6, minute=30))
    assert sent == []  # past the deadline, but this deployment never built the marts

    # The marts were built (now); three days later at 07:00 they were not built that day.
    instance.report_runless_asset_event(dg.AssetMaterialization(["marts", "fct_orders"]))
    after_deadline = later.replace(hour=7, minute=0)
    sent, cursor = watch(cfg, instance, cursor, after_deadline)
    assert [(a.kind, a.step) for a in sent] == [("marts_late", "marts/fct_orders")]
    assert "not built today by 06:00 UTC (last build: " in sent[0].error
    sent, cursor = watch(cfg, instance, cursor, after_deadline + timedelta(minutes=5))
    assert sent == []
    assert len(alert_receivers.posts) == len(alert_receivers.mails) == 4


def test_the_schedule_asks_for_one_daily_run(
    ops: OpsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    schedule = ops.definitions().get_schedule_def("daily_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "UTC")
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    )
    (request,) = schedule.evaluate_tick(context).run_requests or []
    assert schedule.job_name == "daily"
    job = ops.definitions().resolve_job_def("daily")
    assert {"load_shop", "load_catalog", "load_hubspot", "dbt_build", "dbt_docs"} <= {
        n.name for n in job.nodes
    }
    assert request.run_key is None or isinstance(request.run_key, str)

    monkeypatch.setenv("SHOPSPHERE_DAILY_CRON", "30 3 * * *")
    monkeypatch.setenv("SHOPSPHERE_SCHEDULE_TIMEZONE", "Europe/Berlin")
    moved = ops.definitions().get_schedule_def("daily_schedule")
    assert (moved.cron_schedule, moved.execution_timezone) == ("30 3 * * *", "Europe/Berlin")


def test_a_second_run_of_a_source_waits_for_the_first(
    ops: OpsWorld, instance: dg.DagsterInstance
) -> None:
    """Another run of catalog holds its lock: this run's load is refused, retried with backoff,
    and loads only once the other has finished, never alongside it."""
    holder = source_lock(ops.env["SHOPSPHERE_PIPELINES_DIR"], "catalog", "duckdb")
    holder.__enter__()
    outcome: list[dg.ExecuteInProcessResult] = []
    runner = threading.Thread(
        target=lambda: outcome.append(ops.materialize(["raw_catalog"], instance))
    )
    runner.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            runs = instance.get_runs(limit=1)
            if runs and step_events(instance, runs[0].run_id, RETRY):
                break
            time.sleep(0.2)
        else:
            pytest.fail("the second run never tried to load")
        released = time.time()
    finally:
        holder.__exit__(None, None, None)
    runner.join(timeout=300)
    (result,) = outcome
    assert result.success
    retries = step_events(instance, result.run_id, RETRY)
    assert retries and all("catalog: another load is running" in _retry_error(r) for r in retries)
    starts = sorted(e.timestamp for e in _attempts(instance, result.run_id))
    assert len(starts) == len(retries) + 1
    assert starts[-1] >= released  # the load that succeeded began after the release


# schedule -> (its job, default cron, the setting that turns it on, steps it runs, steps it leaves)
GATED = {
    "intraday_schedule": (
        "intraday",
        "*/15 * * * *",
        ("SHOPSPHERE_INTRADAY", "on"),
        {"load_shop", "load_catalog", "dbt_build"},
        {"load_hubspot", "dbt_docs"},  # HubSpot keeps its daily cadence
    ),
    "hubspot_hourly_schedule": (
        "hubspot_hourly",
        "0 * * * *",
        ("SHOPSPHERE_HUBSPOT_CADENCE", "hourly"),
        {"load_hubspot", "dbt_build"},
        {"load_shop", "load_catalog", "dbt_docs"},
    ),
}


@pytest.mark.parametrize("name", sorted(GATED))
def test_a_gated_schedule_is_off_until_set_and_gives_way_to_the_daily_run(
    name: str, ops: OpsWorld, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    job, cron, (setting, value), runs, leaves = GATED[name]
    schedule = ops.definitions().get_schedule_def(name)
    assert (schedule.cron_schedule, schedule.job_name) == (cron, job)
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    nodes = {n.name for n in ops.definitions().resolve_job_def(job).nodes}
    assert runs <= nodes and not nodes & leaves

    def tick() -> Any:
        when = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
        return schedule.evaluate_tick(context)

    assert len(tick().run_requests or []) == 1
    daily = dg.DagsterRun(job_name="daily", status=dg.DagsterRunStatus.STARTED)
    instance.add_run(daily)
    skipped = tick()
    assert not skipped.run_requests
    assert f"the daily run {daily.run_id} is under way" in (skipped.skip_message or "")

    monkeypatch.setenv(setting, value)
    on = ops.definitions().get_schedule_def(name)
    assert on.default_status == dg.DefaultScheduleStatus.RUNNING


def test_the_schedules_settings_are_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPSPHERE_INTRADAY_CRON", "*/5 * * * *")
    monkeypatch.setenv("SHOPSPHERE_HUBSPOT_CRON", "30 * * * *")
    cfg = settings()
    assert (cfg.intraday_cron, cfg.hubspot_cron, cfg.hubspot_cadence) == (
        "*/5 * * * *",
        "30 * * * *",
        "daily",
    )
    monkeypatch.setenv("SHOPSPHERE_HUBSPOT_CADENCE", "weekly")
    with pytest.raises(SystemExit, match="SHOPSPHERE_HUBSPOT_CADENCE must be daily or hourly"):
        settings()


def test_an_intraday_run_loads_the_sql_sources_and_builds_what_follows_them(
    ops: OpsWorld, ops_built: dg.ExecuteInProcessResult, instance: dg.DagsterInstance
) -> None:
    """A status changed in the shop reaches fct_orders through the intraday job; HubSpot is not
    loaded and the docs are not regenerated."""
    url = DbUrl.parse(ops.manifest.shop_url)
    conn = mysql_connect(url, url.database)
    try:
        with conn.cursor() as cur:
            cur.execute("select min(order_id) from orders where status = 'paid'")
            (order_id,) = cur.fetchone()  # type: ignore[misc]
            cur.execute("update orders set status = 'refunded' where order_id = %s", (order_id,))
    finally:
        conn.close()
    result = (
        ops.definitions()
        .resolve_job_def("intraday")
        .execute_in_process(instance=instance, raise_on_error=False)
    )
    assert result.success
    done = rebuilt(result)
    assert {"raw_shop/orders", "marts/fct_orders", "marts/dim_customers"} <= done
    assert not {k for k in done if k.startswith("raw_hubspot/")}
    assert "dbt_docs" not in done
    assert ops.sql(f"select status from marts.fct_orders where order_id = {order_id}") == [
        ("refunded",)
    ]
    # Only what has new data is built: the catalog loaded nothing new, so none of its models
    # was rebuilt; and a run with nothing new anywhere builds no model at all.
    assert not {k for k in done if "stg_catalog__" in k or k.endswith("/dim_products")}, done
    again = (
        ops.definitions()
        .resolve_job_def("intraday")
        .execute_in_process(instance=instance, raise_on_error=False)
    )
    assert again.success
    assert {k for k in rebuilt(again) if not k.startswith("raw_")} == set(), rebuilt(again)


def rebuilt(result: dg.ExecuteInProcessResult) -> set[str]:
    """The assets a run materialized, less the dbt nodes the build plan left alone."""
    return {
        e.asset_key.to_user_string()
        for e in result.get_asset_materialization_events()
        if "rebuilt" not in e.step_materialization_data.materialization.metadata
    }


def test_a_daily_run_with_nothing_new_still_publishes_the_docs_and_the_pages(
    ops: OpsWorld, ops_built: dg.ExecuteInProcessResult, instance: dg.DagsterInstance
) -> None:
    """The build plan leaves every model alone (no source changed), and says so on each; the
    docs and the report pages after dbt still run."""
    assert ops_built.success
    result = ops.definitions().resolve_job_def("daily").execute_in_process(instance=instance)
    assert result.success
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"dbt_docs", "reports", "marts/fct_orders"} <= done
    assert {k for k in rebuilt(result) if not k.startswith("raw_")} == {"dbt_docs", "reports"}
