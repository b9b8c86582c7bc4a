"""What the alerts watch: data-quality rules over tolerance, stale sources, late marts, failed runs.

Each figure is read from one table the pipeline already keeps: `dq_rule_results` (dbt) for
the rules, `loader_audit.load_runs` (the loaders) for the last successful load of a source, the
Dagster instance for the marts' last materialization. Thresholds come from where they are
declared: the rules' tolerance from their declaration (macro dq_rules), the sources' from their
dbt `freshness` (`error_after`), the marts' deadline from SHOPSPHERE_MARTS_DEADLINE.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

from loaders.common.locks import warehouse_lock
from loaders.common.pipeline import make_pipeline
from reports.source import freshness_thresholds as source_freshness

from . import alerts
from .settings import ROOT, Settings

MARTS_SENTINEL = ("marts", "fct_orders")  # the marts count as fresh when this one was built today


def run_link(cfg: Settings, run_id: str) -> str:
    return f"{cfg.dagster_url}/runs/{run_id}"


def manifest(cfg: Settings) -> dict[str, Any]:
    path = ROOT / cfg.dbt_target_path / "manifest.json"  # an absolute target path wins
    return dict(json.loads(path.read_text()))


@contextlib.contextmanager
def warehouse(cfg: Settings) -> Iterator[Any]:
    """A SQL client on the warehouse (dlt's, as the loaders' audit uses)."""
    with make_pipeline("audit", cfg.destination, "loader_audit").sql_client() as client:
        yield client


def _rows(client: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with client.execute_query(sql, *params) as cur:
        return list(cur.fetchall())


def dq_breaches(cfg: Settings) -> list[str]:
    """'rule: 4.10% > 3.00% tolerated (shop.customers)' for each rule over its tolerated rate."""
    node = manifest(cfg)["nodes"].get("model.shopsphere.dq_rule_results")
    if node is None or not node.get("relation_name"):
        return []
    try:
        with warehouse(cfg) as client:
            rows = _rows(
                client,
                f"select rule_name, failure_rate, max_failure_rate, source_name, table_name "
                f"from {node['relation_name']} where failure_rate > max_failure_rate "
                f"order by rule_name",
            )
    except Exception as exc:
        if "does not exist" in str(exc) or "not found" in str(exc).lower():
            return []
        raise
    return [
        f"{rule}: {float(rate):.2%} > {float(limit):.2%} tolerated ({source}.{table})"
        for rule, rate, limit, source, table in rows
    ]


def freshness_thresholds(cfg: Settings) -> dict[str, float]:
    """Hours after which each source is stale: its dbt source `freshness.error_after` (the
    report pages show the same thresholds: reports.source.freshness_thresholds)."""
    return {
        source: limits["error"]
        for source, limits in source_freshness(manifest(cfg)).items()
        if "error" in limits
    }


def stale_sources(cfg: Settings, now: datetime) -> dict[str, str]:
    """source -> one line, for each source whose last successful load is older than allowed."""
    thresholds = freshness_thresholds(cfg)
    with warehouse(cfg) as client:
        try:
            last = dict(
                _rows(
                    client,
                    "select source_name, max(run_finished_at) from loader_audit.load_runs "
                    "where status = 'ok' group by source_name",
                )
            )
        except Exception as exc:
            if "does not exist" in str(exc) or "not found" in str(exc).lower():
                last = {}
            else:
                raise
    stale = {}
    for source, hours in sorted(thresholds.items()):
        when = last.get(source)
        if when is None:
            stale[source] = f"{source}: never loaded (allowed: {hours:g} h)"
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        age = (now - when).total_seconds() / 3600
        if age > hours:
            stale[source] = (
                f"{source}: last successful load {when:%Y-%m-%d %H:%M} UTC, "
                f"{age:.1f} h ago (allowed: {hours:g} h)"
            )
    return stale


def deadline_passed(cfg: Settings, now: datetime) -> tuple[bool, datetime]:
    """Whether today's marts deadline has passed, and the start of today, in the schedule's zone."""
    zone = ZoneInfo(cfg.timezone)
    local = now.astimezone(zone)
    hour, minute = (int(x) for x in cfg.marts_deadline.split(":"))
    day_start = datetime.combine(local.date(), time(0, 0), zone)
    return local >= day_start + timedelta(hours=hour, minutes=minute), day_start


def warehouse_free(cfg: Settings) -> contextlib.AbstractContextManager[None]:
    """The writer lock without waiting: TransientLoaderError when a load or build holds it."""
    return warehouse_lock(cfg.destination, "operations watch", wait_seconds=0)


def watch(
    cfg: Settings, instance: dg.DagsterInstance, cursor: str | None, now: datetime
) -> tuple[list[alerts.Alert], str]:
    """One pass of the operations watch (the `operations_watch` sensor): the alerts it sent and
    its new cursor. A stale source alerts once until it recovers; late marts once a day.
    TransientLoaderError when the warehouse is busy (try again next time)."""
    state = json.loads(cursor or "{}")
    runs = instance.get_runs(filters=dg.RunsFilter(job_name="daily"), limit=1)
    run_id = runs[0].run_id if runs else "-"
    link = run_link(cfg, run_id) if runs else cfg.dagster_url
    sent: list[alerts.Alert] = []
    with warehouse_free(cfg):
        stale = stale_sources(cfg, now)
    for source, line in stale.items():
        if source not in state.get("stale", []):
            sent.append(alerts.make_alert("source_stale", run_id, f"load_{source}", line, link))
    state["stale"] = sorted(stale)
    passed, day_start = deadline_passed(cfg, now)
    today = day_start.date().isoformat()
    if passed and state.get("late") != today:
        event = instance.get_latest_materialization_event(dg.AssetKey(list(MARTS_SENTINEL)))
        # A deployment that never built the marts has nothing to be late about yet.
        built = datetime.fromtimestamp(event.timestamp, UTC) if event is not None else None
        if built is not None and built < day_start:
            sent.append(
                alerts.make_alert(
                    "marts_late",
                    run_id,
                    "/".join(MARTS_SENTINEL),
                    f"the marts were not built today by {cfg.marts_deadline} {cfg.timezone} "
                    f"(last build: {built:%Y-%m-%d %H:%M} UTC)",
                    link,
                )
            )
        if built is not None:
            state["late"] = today  # judged for today: once a day
    for alert in sent:
        alerts.send(alert)
    return sent, json.dumps(state, sort_keys=True)
