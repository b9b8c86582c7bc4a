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
import logging
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

from loaders.shared.locks import warehouse_lock
from loaders.shared.report import audit_client, query_rows
from reports.source import last_loads_sql, marts_current_as_of, sources_freshness

from . import alerts
from .settings import ROOT, Settings

log = logging.getLogger("shopsphere.monitoring")
MARTS_SENTINEL = ("marts", "fct_orders")  # the marts count as fresh when this one was built today


def run_link(cfg: Settings, run_id: str) -> str:
    return f"{cfg.dagster_url}/runs/{run_id}"


def manifest(cfg: Settings) -> dict[str, Any]:
    path = ROOT / cfg.dbt_target_path / "manifest.json"  # an absolute target path wins
    return dict(json.loads(path.read_text()))


def dq_breaches(cfg: Settings) -> list[str]:
    """'rule: 4.10% > 3.00% tolerated (shop.customers)' for each rule over its tolerated rate."""
    node = manifest(cfg)["nodes"].get("model.shopsphere.dq_rule_results")
    if node is None or not node.get("relation_name"):
        return []
    with audit_client(cfg.destination) as client:
        rows = query_rows(
            client,
            f"select rule_name, failure_rate, max_failure_rate, source_name, table_name "
            f"from {node['relation_name']} where failure_rate > max_failure_rate "
            f"order by rule_name",
        )
    return [
        f"{rule}: {float(rate):.2%} > {float(limit):.2%} tolerated ({source}.{table})"
        for rule, rate, limit, source, table in rows
    ]


def marts_age(cfg: Settings, client: Any, now: datetime) -> str:
    """'the marts hold the loads up to <when> UTC (<h> h ago)': their age, as the overview
    page shows it (reports.source.marts_current_as_of)."""
    nodes = manifest(cfg)
    fct = nodes["nodes"].get("model.shopsphere.fct_orders", {}).get("relation_name")
    runs = f"{fct.split('.')[0]}.dbt_audit.runs" if fct else None
    held = marts_current_as_of(lambda sql: query_rows(client, sql), nodes, "loader_audit", runs)
    if held is None:
        return "the marts were never built"
    hours = (now - held).total_seconds() / 3600
    return f"the marts hold the loads up to {held:%Y-%m-%d %H:%M} UTC ({hours:.1f} h ago)"


def stale_sources(cfg: Settings, client: Any, now: datetime) -> dict[str, str]:
    """source -> one line, for each source whose last successful load is older than its dbt
    `freshness.error_after` allows (the overview page shows the same: reports.source)."""
    last = dict(query_rows(client, last_loads_sql("loader_audit")))
    stale = {}
    for f in sources_freshness(manifest(cfg), last, now):
        if f.error_after is None:
            continue
        if f.last_load is None:
            stale[f.source] = f"{f.source}: never loaded (allowed: {f.error_after:g} h)"
        elif f.state == "stale":
            stale[f.source] = (
                f"{f.source}: last successful load {f.last_load:%Y-%m-%d %H:%M} UTC, "
                f"{f.hours:.1f} h ago (allowed: {f.error_after:g} h)"
            )
    return stale


def stream_warnings(cfg: Settings, client: Any) -> dict[str, str]:
    """'source:kind' -> one line, for each source whose change stream is at risk now: a slot
    holding more WAL than allowed, a binlog position about to be purged, a position the last
    load found lost (keyed by when, so that each loss alerts once). The stored positions come
    from `loader_audit.stream_positions`; the server is asked where it stands now."""
    from loaders.engine.capture import live_health
    from loaders.sources import sql_source

    rows = query_rows(
        client,
        "select source_name, position_json, lost, checked_at from ("
        "select *, row_number() over (partition by source_name order by checked_at desc) "
        "as newest from loader_audit.stream_positions) s where newest = 1",
    )
    out: dict[str, str] = {}
    for source, position, lost, checked in rows:
        if lost:
            out[f"{source}:lost:{checked:%Y%m%d%H%M%S}"] = (
                f"{source}: the load of {checked:%Y-%m-%d %H:%M} UTC found the stream's position "
                f"lost ({lost}) and resynced its tables from a fresh copy"
            )
        if not position:
            continue
        try:
            health = live_health(sql_source(source), json.loads(position))
        except Exception as exc:  # the source is down: its load will say so
            log.warning(f"stream health of {source} unknown: {str(exc).splitlines()[0][:200]}")
            continue
        if health.held_bytes is not None and health.held_bytes > cfg.stream_max_held_mb * 2**20:
            out[f"{source}:held"] = (
                f"{source}: its replication slot holds {health.held_bytes / 2**20:,.0f} MB of WAL "
                f"(allowed {cfg.stream_max_held_mb:,.0f} MB; last load {checked:%Y-%m-%d %H:%M} "
                "UTC): the server keeps it until a load reads it"
            )
        if health.margin_files is not None and health.margin_files < cfg.stream_min_margin_files:
            out[f"{source}:margin"] = (
                f"{source}: the stored binlog position {health.position} is {health.margin_files} "
                f"file(s) from the oldest binlog the server keeps (last load "
                f"{checked:%Y-%m-%d %H:%M} UTC): load it before the server purges it"
            )
    return out


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
    with warehouse_free(cfg), audit_client(cfg.destination) as client:
        stale = stale_sources(cfg, client, now)
        streams = stream_warnings(cfg, client)
        marts = marts_age(cfg, client, now)
    for source, line in stale.items():
        if source not in state.get("stale", []):
            line = f"{line}; {marts}"
            sent.append(alerts.make_alert("source_stale", run_id, f"load_{source}", line, link))
    state["stale"] = sorted(stale)
    for key, line in streams.items():  # once each, until it clears
        if key not in state.get("streams", []):
            kind = "stream_lost" if ":lost:" in key else "stream_at_risk"
            step = f"load_{key.split(':')[0]}"
            sent.append(alerts.make_alert(kind, run_id, step, line, link))
    state["streams"] = sorted(set(streams) | {k for k in state.get("streams", []) if ":lost:" in k})
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
                    f"(last build: {built:%Y-%m-%d %H:%M} UTC); {marts}",
                    link,
                )
            )
        if built is not None:
            state["late"] = today  # judged for today: once a day
    for alert in sent:
        alerts.send(alert)
    return sent, json.dumps(state, sort_keys=True)
