"""The code location `dagster dev` loads (pyproject.toml, [tool.dagster]).

- assets: one per raw table (orchestration.raw), one per dbt model, seed and snapshot with the
  dbt tests as asset checks (orchestration.transform), and the dbt docs;
- jobs: `daily` (every source, then dbt, then the docs), `load_<source>` on demand and
  `history_tests` (every dbt test on every row);
- jobs: `intraday` (the SQL sources, then the dbt assets downstream of them: what has new data;
  HubSpot keeps its daily cadence, its API budget is the limit), `hubspot_hourly` (HubSpot, then
  the dbt assets downstream of it);
- schedules: `daily_schedule`, cron and timezone from SHOPSPHERE_DAILY_CRON (0 2 * * *) and
  SHOPSPHERE_SCHEDULE_TIMEZONE (UTC); `history_tests_schedule` from
  SHOPSPHERE_HISTORY_TESTS_CRON (0 4 * * 0, Sundays); `intraday_schedule` from
  SHOPSPHERE_INTRADAY_CRON (*/15 * * * *), stopped unless SHOPSPHERE_INTRADAY=on, and skipped
  with its reason while a daily or an earlier intraday run is under way (the daily job wins);
  `hubspot_hourly_schedule` from SHOPSPHERE_HUBSPOT_CRON (0 * * * *), stopped unless
  SHOPSPHERE_HUBSPOT_CADENCE=hourly, skipped likewise beside a daily or an earlier HubSpot run;
  every dbt build takes only what has new data (orchestration.build_plan);
- sensors: `alert_on_run_failure` (one message per failed run) and `operations_watch`
  (stale sources, marts late by SHOPSPHERE_MARTS_DEADLINE).
"""

from datetime import UTC, datetime
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource

from loaders import sources as registry
from loaders.shared.errors import TransientLoaderError

from . import alerts
from .monitoring import run_link, watch
from .raw import raw_assets
from .settings import Settings, settings
from .transform import (
    PLANNED_TAG,
    dbt_assets_for,
    dbt_project,
    docs_asset,
    history_tests_job,
    reports_asset,
)

UNDER_WAY = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def gated_schedule(
    name: str, job: Any, cron: str, timezone: str, running: bool, gives_way_to: tuple[str, ...]
) -> dg.ScheduleDefinition:
    """A schedule whose tick is skipped, with the run it gave way to, while a run of one of
    `gives_way_to` (the daily job first: it wins) is under way."""

    @dg.schedule(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=(
            dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED
        ),
    )
    def gated(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        for job_name in gives_way_to:
            busy = context.instance.get_run_records(
                dg.RunsFilter(job_name=job_name, statuses=UNDER_WAY), limit=1
            )
            if busy:
                run_id = busy[0].dagster_run.run_id
                return dg.SkipReason(f"the {job_name} run {run_id} is under way; skipped this tick")
        return dg.RunRequest()

    return gated


def failure_sensor(cfg: Settings) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="alert_on_run_failure", default_status=dg.DefaultSensorStatus.RUNNING
    )
    def alert_on_run_failure(context: dg.RunFailureSensorContext) -> None:
        """One message per failed run: the first failed step and its one-line error."""
        run_id = context.dagster_run.run_id
        steps = context.get_step_failure_events()
        step = steps[0].step_key if steps else context.dagster_run.job_name
        error = ""
        if steps and steps[0].step_failure_data.error is not None:
            failure = steps[0].step_failure_data
            meta = failure.user_failure_data.description if failure.user_failure_data else None
            error = meta or failure.error.message  # type: ignore[union-attr]
        error = error or context.failure_event.message or "the run failed"
        alerts.send(
            alerts.make_alert("run_failed", run_id, str(step), error, run_link(cfg, run_id))
        )

    return alert_on_run_failure


def watch_sensor(daily: Any) -> dg.SensorDefinition:
    cfg = settings()

    @dg.sensor(
        name="operations_watch",
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        job=daily,
    )
    def operations_watch(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        """Stale sources (once until they recover) and marts late by the deadline (once a day)."""
        try:
            sent, cursor = watch(cfg, context.instance, context.cursor, datetime.now(UTC))
        except TransientLoaderError:
            return dg.SkipReason("the warehouse is busy (a load or build); next time")
        context.update_cursor(cursor)
        return dg.SkipReason(f"{len(sent)} alert(s) sent")

    return operations_watch


def build_definitions(cfg: Settings | None = None) -> dg.Definitions:
    cfg = cfg or settings()
    project = dbt_project(cfg)
    loads = [raw_assets(source, cfg) for source in registry.NAMES]
    dbt_build = dbt_assets_for(cfg, project)
    docs = docs_asset(cfg, dbt_build)
    reports = reports_asset(cfg, dbt_build)
    daily, intraday, hubspot_hourly, per_source = load_jobs(loads, docs, reports)
    history_tests = history_tests_job(cfg, [spec.name for spec in registry.sql_sources()])
    schedules = schedules_for(cfg, daily, history_tests, intraday, hubspot_hourly)
    return dg.Definitions(
        assets=[*loads, dbt_build, docs, reports],
        jobs=[daily, intraday, hubspot_hourly, history_tests, *per_source],
        schedules=schedules,
        sensors=[failure_sensor(cfg), watch_sensor(daily)],
        resources={
            "dbt": DbtCliResource(
                project_dir=project,
                profiles_dir=str(project.profiles_dir),
                target=cfg.dbt_target,
                dbt_executable=cfg.dbt_executable,
            )
        },
    )


def load_jobs(loads: list[Any], docs: Any, reports: Any) -> tuple[Any, Any, Any, list[Any]]:
    """The daily job (everything), the intraday one (the SQL sources from their change streams
    and what is downstream of them), HubSpot's hourly one, and one on-demand job per source."""
    names = registry.NAMES
    daily = dg.define_asset_job(
        "daily",
        selection=dg.AssetSelection.all(),
        description="Every source, then dbt build, then the docs and the report pages.",
        tags={"shopsphere/daily": "true", PLANNED_TAG: "true"},  # one at a time (dagster.yaml)
    )
    sql_loads = [load for name, load in zip(names, loads, strict=True) if registry.is_sql(name)]
    # The API sources' loads (HubSpot's), on their own cadence: their API budget is the limit.
    api_loads = [load for name, load in zip(names, loads, strict=True) if not registry.is_sql(name)]
    intraday = dg.define_asset_job(
        "intraday",
        selection=(
            dg.AssetSelection.assets(*sql_loads).downstream()
            - dg.AssetSelection.assets(docs, reports)
        ),
        description=(
            "The SQL sources from their change streams, then the dbt models downstream of them "
            "(every 15 minutes when SHOPSPHERE_INTRADAY=on)."
        ),
        tags={"shopsphere/intraday": "true", PLANNED_TAG: "true"},  # one at a time
    )
    hubspot_hourly = dg.define_asset_job(
        "hubspot_hourly",
        selection=(
            dg.AssetSelection.assets(*api_loads).downstream()
            - dg.AssetSelection.assets(docs, reports)
        ),
        description=(
            "HubSpot, then the dbt models downstream of it (hourly when "
            "SHOPSPHERE_HUBSPOT_CADENCE=hourly; daily with the rest otherwise)."
        ),
        tags={"shopsphere/hubspot": "true", PLANNED_TAG: "true"},  # one at a time
    )
    per_source = [
        dg.define_asset_job(
            f"load_{source}_job",
            selection=dg.AssetSelection.assets(load),
            description=f"Load {source} now (on demand).",
        )
        for source, load in zip(names, loads, strict=True)
    ]
    return daily, intraday, hubspot_hourly, per_source


def schedules_for(
    cfg: Settings, daily: Any, history_tests: Any, intraday: Any, hubspot_hourly: Any
) -> list[dg.ScheduleDefinition]:
    """The daily and weekly schedules, always running; the intraday and HubSpot ones gated by
    their settings and giving way to a run of their own job or the daily one."""
    schedules = [
        dg.ScheduleDefinition(
            name=name,
            job=job,
            cron_schedule=cron,
            execution_timezone=cfg.timezone,
            default_status=dg.DefaultScheduleStatus.RUNNING,
        )
        for name, job, cron in (
            ("daily_schedule", daily, cfg.daily_cron),
            ("history_tests_schedule", history_tests, cfg.history_tests_cron),
        )
    ]
    schedules += [
        gated_schedule(
            "intraday_schedule",
            intraday,
            cfg.intraday_cron,
            cfg.timezone,
            cfg.intraday,
            gives_way_to=("daily", "intraday"),
        ),
        gated_schedule(
            "hubspot_hourly_schedule",
            hubspot_hourly,
            cfg.hubspot_cron,
            cfg.timezone,
            cfg.hubspot_cadence == "hourly",
            gives_way_to=("daily", "hubspot_hourly"),
        ),
    ]
    return schedules


defs = build_definitions()
