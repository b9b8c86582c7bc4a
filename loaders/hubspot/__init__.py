"""HubSpot: contacts, companies, deals, marketing campaigns and emails, email events
(docs/spec.md §1c), landed in raw_hubspot from HubSpot's public API with a private-app token.

Settings: SOURCES__HUBSPOT__ACCESS_TOKEN (required), SOURCES__HUBSPOT__BASE_URL (default
https://api.hubapi.com), and in [sources.hubspot]: crm_lag_seconds (600; the search index lags
behind edits), events_lag_seconds (3600; events arrive late), request_timeout (60),
max_attempts (5, for 5xx and network errors), search_per_second (4).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dlt

from loaders.engine.deletes import RawAccess
from loaders.engine.runner import select_tables
from loaders.hubspot.client import HUBSPOT_API, HubSpotSession, check_response, make_client
from loaders.hubspot.resources import RESOURCES, HubSpotContext
from loaders.shared.load import load_resources
from loaders.shared.locks import source_lock, warehouse_lock
from loaders.shared.pipeline import existing_tables, open_pipeline, pipelines_dir, secret
from loaders.shared.types import ApiSourceSpec, Progress, TableMetrics, TableSpec, emit
from loaders.shared.warehouse import held_open

TABLES = tuple(
    TableSpec(name, ("id", "created") if name == "email_events" else ("id",), cursor="updated_at")
    for name in RESOURCES
)


def run_hubspot(
    tables: Sequence[str] | None, full_refresh: bool, destination: str
) -> list[TableMetrics]:
    """Land `tables` (default: all) of the HubSpot portal; one TableMetrics per table."""
    token = secret("sources.hubspot.access_token", "hubspot", "pat-na1-…")
    base_url = str(dlt.config.get("sources.hubspot.base_url") or HUBSPOT_API)
    names = select_tables("hubspot", list(RESOURCES), tables)

    def setting(key: str, default: float) -> float:
        value: Any = dlt.config.get(f"sources.hubspot.{key}")
        return float(value) if value is not None else default

    session = HubSpotSession(
        timeout=setting("request_timeout", 60),
        max_attempts=int(setting("max_attempts", 5)),
        search_per_second=setting("search_per_second", 4),
        backoff=setting("backoff_seconds", 1.0),
    )
    client = make_client(base_url, token, session)
    # The token, the scopes and the network are checked before anything is written.
    check_response(client.get("/crm/v3/properties/contacts"), "the properties API")
    with (
        source_lock(pipelines_dir(), "hubspot", destination),
        warehouse_lock(destination, "hubspot load"),
        held_open(destination),
    ):
        pipeline, recovered = open_pipeline("hubspot", destination, "raw_hubspot", TABLES)
        raw = RawAccess(pipeline, existing_tables(pipeline, TABLES))
        metrics = {t: TableMetrics("hubspot", t, "-") for t in names}
        ctx = HubSpotContext(
            client=client,
            raw=raw,
            metrics=metrics,
            progress=Progress(emit),
            full_refresh=full_refresh,
            crm_lag_ms=int(setting("crm_lag_seconds", 600) * 1000),
            events_lag_ms=int(setting("events_lag_seconds", 3600) * 1000),
        )
        resources = [RESOURCES[t](ctx) for t in names]
        # A full refresh (the whole portal again, swapped in atomically: records gone go too)
        # and a first load write their tables whole; later runs merge what changed.
        for resource in resources:
            if ctx.replaces(resource.name):
                resource.apply_hints(write_disposition="replace")
        results = recovered + load_resources(
            pipeline, "hubspot", resources, metrics, raw, atomic_replace=full_refresh
        )
    stats = session.stats
    emit(
        f"  hubspot: {stats.requests} requests, {stats.rate_limited} answered 429, "
        f"{stats.retried_errors} retried after errors, {stats.seconds_waiting:.1f} s waiting on limits"
    )
    for m in results:
        m.note = (
            m.note + "; " if m.note else ""
        ) + f"source requests {stats.requests}, 429s {stats.rate_limited}"
    return results


SOURCE = ApiSourceSpec(
    name="hubspot", system="HubSpot portal (api.hubapi.com)", tables=TABLES, run=run_hubspot
)
