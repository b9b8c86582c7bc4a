"""Marketing: campaigns, marketing emails and the legacy email events, each read whole or since
its cursor, with the versions raw holds skipped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import dlt
from dlt.common.schema.typing import TColumnSchema
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator

from loaders.hubspot.context import (
    ID_HINT,
    HubSpotContext,
    empty_table,
    known_versions,
    unless_missing_scope,
)
from loaders.shared.timestamps import parse_iso, to_ms, utc_text

CAMPAIGN_PROPERTIES = [
    "hs_name",
    "hs_utm",
    "hs_start_date",
    "hs_end_date",
    "hs_budget_items_sum_amount",
    "hs_currency_code",
    "hs_campaign_status",
]
CAMPAIGN_HINTS: list[TColumnSchema] = [ID_HINT]
CAMPAIGN_HINTS += [{"name": p, "data_type": "text", "nullable": True} for p in CAMPAIGN_PROPERTIES]
CAMPAIGN_HINTS += [
    {"name": c, "data_type": "timestamp", "nullable": True} for c in ("created_at", "updated_at")
]


def campaigns_resource(ctx: HubSpotContext) -> Any:
    @dlt.resource(
        name="campaigns",
        table_name="campaigns",
        primary_key="id",
        write_disposition="merge",
        max_table_nesting=0,
        columns=CAMPAIGN_HINTS,
    )
    def campaigns() -> Iterator[list[dict[str, Any]]]:
        metrics = ctx.metrics["campaigns"]
        metrics.mode = "full"
        started = time.perf_counter()
        # A full refresh replaces the table: every campaign must come again, known or not.
        known = set() if ctx.full_refresh else known_versions(ctx, "campaigns", "id", "updated_at")
        paginator = JSONResponseCursorPaginator(
            cursor_path="paging.next.after", cursor_param="after"
        )
        pages = ctx.client.paginate(
            "/marketing/v3/campaigns",
            params={"limit": 100, "properties": ",".join(CAMPAIGN_PROPERTIES)},
            paginator=paginator,
            data_selector="results",
        )
        for page in unless_missing_scope(ctx, "campaigns", pages):
            metrics.rows_extracted += len(page)
            rows = [
                {
                    "id": c["id"],
                    "created_at": parse_iso(c.get("createdAt")),
                    "updated_at": parse_iso(c.get("updatedAt")),
                    **{p: (c.get("properties") or {}).get(p) for p in CAMPAIGN_PROPERTIES},
                }
                for c in page
                if f"{c['id']}|{to_ms(c.get('updatedAt'))}" not in known
            ]
            rows = ctx.first_seen("campaigns", rows, ("id",))
            metrics.rows_loaded += len(rows)
            if rows:
                yield rows
        if not metrics.rows_loaded and not ctx.raw.has("campaigns"):
            yield empty_table(CAMPAIGN_HINTS)
        metrics.extract_seconds += time.perf_counter() - started

    return campaigns


MARKETING_EMAIL_HINTS: list[TColumnSchema] = [ID_HINT]
MARKETING_EMAIL_HINTS += [
    {"name": c, "data_type": "text", "nullable": True}
    for c in ("name", "subject", "state", "campaign_id", "campaign_name")
]
MARKETING_EMAIL_HINTS += [
    {"name": "all_email_campaign_ids", "data_type": "json", "nullable": True},
    {"name": "publish_date", "data_type": "timestamp", "nullable": True},
    {"name": "created_at", "data_type": "timestamp", "nullable": True},
    {"name": "updated_at", "data_type": "timestamp", "nullable": True},
]
EMAIL_EVENT_HINTS: list[TColumnSchema] = [
    {"name": "id", "data_type": "text", "nullable": False, "primary_key": True},
    {"name": "created", "data_type": "bigint", "nullable": False, "primary_key": True},
    {"name": "type", "data_type": "text", "nullable": True},
    {"name": "recipient", "data_type": "text", "nullable": True},
    {"name": "email_campaign_id", "data_type": "bigint", "nullable": True},
    {"name": "sent_by", "data_type": "json", "nullable": True},
    {"name": "category", "data_type": "text", "nullable": True},
    {"name": "portal_subscription_status", "data_type": "text", "nullable": True},
]


def marketing_emails_resource(ctx: HubSpotContext) -> Any:
    @dlt.resource(
        name="marketing_emails",
        table_name="marketing_emails",
        primary_key="id",
        write_disposition="merge",
        max_table_nesting=0,
        columns=MARKETING_EMAIL_HINTS,
    )
    def emails() -> Iterator[list[dict[str, Any]]]:
        metrics = ctx.metrics["marketing_emails"]
        started = time.perf_counter()
        state = dlt.current.resource_state()
        params: dict[str, Any] = {"limit": 100}
        incremental = (
            "cursor_ms" in state and not ctx.full_refresh and ctx.raw.has("marketing_emails")
        )
        metrics.mode = "incremental" if incremental else "full"
        known: set[str] = set()
        if incremental:
            since = int(state["cursor_ms"]) - ctx.crm_lag_ms
            params["updatedAfter"] = utc_text(since * 1000, 3) + "Z"
            known = known_versions(ctx, "marketing_emails", "id", "updated_at")
        paginator = JSONResponseCursorPaginator(
            cursor_path="paging.next.after", cursor_param="after"
        )
        pages = ctx.client.paginate(
            "/marketing/v3/emails", params=params, paginator=paginator, data_selector="results"
        )
        for page in unless_missing_scope(ctx, "marketing_emails", pages):
            metrics.rows_extracted += len(page)
            rows = []
            for e in page:
                if f"{e['id']}|{to_ms(e.get('updatedAt'))}" in known:
                    continue
                rows.append(
                    {
                        "id": e["id"],
                        "name": e.get("name"),
                        "subject": e.get("subject"),
                        "state": e.get("state"),
                        "campaign_id": e.get("campaign"),
                        "campaign_name": e.get("campaignName"),
                        "all_email_campaign_ids": [
                            str(x) for x in e.get("allEmailCampaignIds") or []
                        ],
                        "publish_date": parse_iso(e.get("publishDate")),
                        "created_at": parse_iso(e.get("createdAt")),
                        "updated_at": parse_iso(e.get("updatedAt")),
                    }
                )
            rows = ctx.first_seen("marketing_emails", rows, ("id",))
            metrics.rows_loaded += len(rows)
            if rows:
                yield rows
        if not metrics.rows_loaded and not ctx.raw.has("marketing_emails"):
            yield empty_table(MARKETING_EMAIL_HINTS)
        if "marketing_emails" not in ctx.unserved:
            state["cursor_ms"] = ctx.now_ms
        metrics.extract_seconds += time.perf_counter() - started

    return emails


def email_events_resource(ctx: HubSpotContext) -> Any:
    @dlt.resource(
        name="email_events",
        table_name="email_events",
        primary_key=["id", "created"],
        write_disposition="merge",
        max_table_nesting=0,
        columns=EMAIL_EVENT_HINTS,
    )
    def events() -> Iterator[list[dict[str, Any]]]:
        metrics = ctx.metrics["email_events"]
        started = time.perf_counter()
        state = dlt.current.resource_state()
        incremental = "cursor_ms" in state and not ctx.full_refresh and ctx.raw.has("email_events")
        metrics.mode = "incremental" if incremental else "full"
        start = int(state["cursor_ms"]) - ctx.events_lag_ms if incremental else 0
        end = ctx.now_ms
        known = (
            known_versions(
                ctx, "email_events", "id", "created", f"{ctx.raw.column('created')} >= {start}"
            )
            if incremental
            else set()
        )
        paginator = JSONResponseCursorPaginator(
            cursor_path="offset", cursor_param="offset", has_more_path="hasMore"
        )
        done = 0
        pages = ctx.client.paginate(
            "/email/public/v1/events",
            params={"startTimestamp": start, "endTimestamp": end, "limit": 1000},
            paginator=paginator,
            data_selector="events",
        )
        for page in unless_missing_scope(ctx, "email_events", pages):
            metrics.rows_extracted += len(page)
            rows = [e for e in page if f"{e['id']}|{e['created']}" not in known]
            rows = ctx.first_seen("email_events", rows, ("id", "created"))
            metrics.rows_loaded += len(rows)
            done += len(rows)
            ctx.progress.update("hubspot", "email_events", metrics.mode, done, None, started)
            if rows:
                yield rows
        if not metrics.rows_loaded and not ctx.raw.has("email_events"):
            yield empty_table(EMAIL_EVENT_HINTS)
        if "email_events" not in ctx.unserved:
            state["cursor_ms"] = end
        metrics.extract_seconds += time.perf_counter() - started

    return events
