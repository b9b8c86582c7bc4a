"""The HubSpot resources: what is read from which endpoint, and how it lands in raw_hubspot.

CRM objects (contacts, companies, deals):
- first load (or a backfill after new properties appear): the list endpoint, every property
  the portal defines, associations inline, properties split across requests that stay within
  HubSpot's URL limit (pages of the same `after` cursor merged by id);
- incremental: the search API on last-modified time, paged by keyset (modified time, then id)
  rather than by offset, so no query ever approaches the 10,000-result ceiling however many
  records changed, and a record modified mid-run cannot shift pages under the reader;
  associations of the changed records through the v4 batch read;
- archived records: a pass over `archived=true` every run; they land with `archived = true`
  and `archived_at`, never left as live.
Rows whose version raw already holds (same id and updated time) are skipped, so a run with no
change loads nothing. Every table merges on its primary key.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import dlt
from dlt.common.schema.typing import TColumnSchema
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator

from ..common.deletes import RawAccess
from ..common.errors import LoaderError
from ..common.timestamps import parse_iso, to_ms, utc_text
from ..common.types import Progress, TableMetrics
from .client import MissingScopes, check_response

PAGE = 100  # list endpoints
SEARCH_PAGE = 200
BATCH = 1000  # v4 association batch read
URL_BUDGET = 4000  # characters of a list request's URL (HubSpot refuses much longer ones)


@dataclasses.dataclass(frozen=True)
class CrmObject:
    name: str
    modified: str  # the last-modified property search filters and sorts on
    associations: tuple[str, ...]
    required: tuple[str, ...]  # properties SPEC §1c needs; the run fails if the portal lacks one


CRM_OBJECTS = {
    "contacts": CrmObject(
        "contacts",
        "lastmodifieddate",
        ("companies",),
        (
            "email",
            "firstname",
            "lastname",
            "phone",
            "lifecyclestage",
            "hs_email_optout",
            "createdate",
            "lastmodifieddate",
        ),
    ),
    "companies": CrmObject(
        "companies",
        "hs_lastmodifieddate",
        (),
        ("name", "domain", "industry", "createdate", "hs_lastmodifieddate"),
    ),
    "deals": CrmObject(
        "deals",
        "hs_lastmodifieddate",
        ("contacts", "companies"),
        (
            "dealname",
            "amount",
            "dealstage",
            "pipeline",
            "closedate",
            "createdate",
            "hs_lastmodifieddate",
        ),
    ),
}
CAMPAIGN_PROPERTIES = [
    "hs_name",
    "hs_utm",
    "hs_start_date",
    "hs_end_date",
    "hs_budget_items_sum_amount",
    "hs_currency_code",
    "hs_campaign_status",
]


@dataclasses.dataclass
class HubSpotContext:
    client: RESTClient
    raw: RawAccess
    metrics: dict[str, TableMetrics]
    progress: Progress
    full_refresh: bool
    crm_lag_ms: int
    events_lag_ms: int
    now_ms: int = dataclasses.field(default_factory=lambda: int(time.time() * 1000))
    # Tables whose endpoint the portal did not serve this run: their cursors stay put, so
    # everything is read once the scope is granted.
    unserved: set[str] = dataclasses.field(default_factory=set)
    _properties: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def properties(self, obj: str) -> list[str]:
        if obj not in self._properties:
            body = check_response(
                self.client.get(f"/crm/v3/properties/{obj}"), f"properties of {obj}"
            )
            names = sorted(p["name"] for p in body.get("results", []))
            missing = [p for p in CRM_OBJECTS[obj].required if p not in names]
            if missing:
                raise LoaderError(f"hubspot.{obj}: the portal has no property {', '.join(missing)}")
            self._properties[obj] = names
        return self._properties[obj]


def _singular(obj: str) -> str:
    return {"contacts": "contact", "companies": "company", "deals": "deal"}[obj]


def _crm_row(
    record: dict[str, Any], associations: dict[str, list[str]] | None, assoc_types: Sequence[str]
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": str(record["id"]),
        "created_at": parse_iso(record.get("createdAt")),
        "updated_at": parse_iso(record.get("updatedAt")),
        "archived": bool(record.get("archived", False)),
        "archived_at": parse_iso(record.get("archivedAt")),
    }
    row.update(record.get("properties") or {})
    if associations is not None:
        for t in assoc_types:
            row[f"associated_{_singular(t)}_ids"] = associations.get(t, [])
    return row


def _crm_hints(obj: str, properties: Sequence[str]) -> list[TColumnSchema]:
    hints: list[TColumnSchema] = [
        {"name": "id", "data_type": "text", "nullable": False, "primary_key": True},
        {"name": "created_at", "data_type": "timestamp", "nullable": True},
        {"name": "updated_at", "data_type": "timestamp", "nullable": True},
        {"name": "archived", "data_type": "bool", "nullable": True},
        {"name": "archived_at", "data_type": "timestamp", "nullable": True},
    ]
    # HubSpot property values are strings (or null): text in raw, typed in staging.
    hints += [{"name": p, "data_type": "text", "nullable": True} for p in properties]
    hints += [
        {"name": f"associated_{_singular(t)}_ids", "data_type": "json", "nullable": True}
        for t in CRM_OBJECTS[obj].associations
    ]
    return hints


def _property_groups(obj: str, properties: Sequence[str], base_len: int) -> list[list[str]]:
    """Split properties so that each list request's URL stays within URL_BUDGET."""
    groups: list[list[str]] = [[]]
    length = base_len
    for p in properties:
        cost = len(quote(p)) + 3  # the comma, URL-encoded
        if groups[-1] and length + cost > URL_BUDGET:
            groups.append([])
            length = base_len
        groups[-1].append(p)
        length += cost
    return groups


def _list_pages(
    ctx: HubSpotContext, obj: str, properties: list[str], archived: bool
) -> Iterator[list[dict[str, Any]]]:
    """Every (live or archived) record, all properties, associations inline when live."""
    assoc = CRM_OBJECTS[obj].associations if not archived else ()
    base = len(
        f"{ctx.client.base_url}/crm/v3/objects/{obj}?limit={PAGE}&archived=true&after=0000000000000&associations={','.join(assoc)}&properties="
    )
    groups = _property_groups(obj, properties, base)
    after: str | None = None
    while True:
        merged: dict[str, dict[str, Any]] = {}
        next_after: str | None = None
        for i, group in enumerate(groups):
            params: dict[str, Any] = {
                "limit": PAGE,
                "archived": str(archived).lower(),
                "properties": ",".join(group),
            }
            if i == 0 and assoc:
                params["associations"] = ",".join(assoc)
            if after:
                params["after"] = after
            body = check_response(
                ctx.client.get(f"/crm/v3/objects/{obj}", params=params), f"list {obj}"
            )
            for record in body.get("results", []):
                base_record = merged.setdefault(record["id"], {**record, "properties": {}})
                base_record["properties"].update(record.get("properties") or {})
                if "associations" in record:
                    base_record["associations"] = record["associations"]
            if i == 0:
                next_after = (body.get("paging") or {}).get("next", {}).get("after")
        yield list(merged.values())
        if not next_after:
            return
        after = next_after


def _associations(
    ctx: HubSpotContext, obj: str, ids: Sequence[str]
) -> dict[str, dict[str, list[str]]]:
    """{id: {to_type: [ids]}} for the records' associations (v4 batch read)."""
    out: dict[str, dict[str, list[str]]] = {i: {} for i in ids}
    for to in CRM_OBJECTS[obj].associations:
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            response = ctx.client.post(
                f"/crm/v4/associations/{obj}/{to}/batch/read",
                json={"inputs": [{"id": i} for i in chunk]},
            )
            body = check_response(response, f"{obj} to {to} associations")
            for result in body.get("results", []):
                out.setdefault(str(result["from"]["id"]), {})[to] = sorted(
                    str(t["toObjectId"]) for t in result.get("to", [])
                )
    return out


def _search_pages(
    ctx: HubSpotContext, crm: CrmObject, properties: list[str], start_ms: int, end_ms: int
) -> Iterator[list[dict[str, Any]]]:
    """Records modified in [start_ms, end_ms), by keyset on (modified, id): never deep offsets."""
    cursor = start_ms
    seen_at_cursor: set[str] = set()
    while cursor < end_ms:
        body = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": crm.modified, "operator": "GTE", "value": str(cursor)},
                        {"propertyName": crm.modified, "operator": "LT", "value": str(end_ms)},
                    ]
                }
            ],
            "sorts": [{"propertyName": crm.modified, "direction": "ASCENDING"}],
            "properties": properties,
            "limit": SEARCH_PAGE,
            "after": "0",
        }
        page = check_response(
            ctx.client.post(f"/crm/v3/objects/{crm.name}/search", json=body), f"search {crm.name}"
        )
        results = page.get("results", [])
        if not results:
            return
        fresh = [
            r
            for r in results
            if not (
                to_ms(r["properties"].get(crm.modified)) == cursor and r["id"] in seen_at_cursor
            )
        ]
        if fresh:
            yield fresh
        last = to_ms(results[-1]["properties"].get(crm.modified))
        if len(results) < SEARCH_PAGE:
            return
        if last == cursor:
            # A whole page in one millisecond: page that millisecond by id, then move on.
            yield from _search_one_ms(
                ctx, crm, properties, cursor, seen_at_cursor | {r["id"] for r in results}
            )
            cursor += 1
            seen_at_cursor = set()
        else:
            seen_at_cursor = {
                r["id"] for r in results if to_ms(r["properties"].get(crm.modified)) == last
            }
            cursor = last


def _search_one_ms(
    ctx: HubSpotContext, crm: CrmObject, properties: list[str], ms: int, seen: set[str]
) -> Iterator[list[dict[str, Any]]]:
    after_id = "0"
    while True:
        body = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": crm.modified, "operator": "EQ", "value": str(ms)},
                        {"propertyName": "hs_object_id", "operator": "GT", "value": after_id},
                    ]
                }
            ],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": properties,
            "limit": SEARCH_PAGE,
            "after": "0",
        }
        page = check_response(
            ctx.client.post(f"/crm/v3/objects/{crm.name}/search", json=body), f"search {crm.name}"
        )
        results = page.get("results", [])
        fresh = [r for r in results if r["id"] not in seen]
        if fresh:
            yield fresh
        if len(results) < SEARCH_PAGE:
            return
        after_id = results[-1]["id"]


def _known(ctx: HubSpotContext, table: str, key: str, version: str, where: str = "") -> set[str]:
    """'key|version' of rows raw holds (version as epoch ms when a timestamp)."""
    rows = ctx.raw.select(table, [key, version], where)
    if rows is None:
        return set()
    out = set()
    for k, v in zip(rows[key].to_pylist(), rows[version].to_pylist(), strict=True):
        if isinstance(v, datetime):
            v = int(v.timestamp() * 1000)
        out.add(f"{k}|{v}")
    return out


def crm_resource(ctx: HubSpotContext, obj: str) -> Any:
    crm = CRM_OBJECTS[obj]
    properties = ctx.properties(obj)

    @dlt.resource(
        name=obj,
        table_name=obj,
        primary_key="id",
        write_disposition="merge",
        columns=_crm_hints(obj, properties),
        max_table_nesting=0,
    )
    def records() -> Iterator[list[dict[str, Any]]]:
        metrics = ctx.metrics[obj]
        started = time.perf_counter()
        state = dlt.current.resource_state()
        new_properties = sorted(set(properties) - set(state.get("properties", properties)))
        full = (
            ctx.full_refresh
            or "cursor_ms" not in state
            or not ctx.raw.has(obj)
            or bool(new_properties)
        )
        metrics.mode = "full" if not new_properties or ctx.full_refresh else "backfill"
        if new_properties and not ctx.full_refresh and "cursor_ms" in state:
            metrics.note = f"new properties {', '.join(new_properties)}: reloading to backfill"
        end = ctx.now_ms
        done = 0
        if full:
            for records in _list_pages(ctx, obj, properties, archived=False):
                rows = [_crm_row(r, _inline_associations(r), crm.associations) for r in records]
                metrics.rows_extracted += len(rows)
                metrics.rows_loaded += len(rows)
                done += len(rows)
                ctx.progress.update("hubspot", obj, metrics.mode, done, None, started)
                yield rows
        else:
            metrics.mode = "incremental"
            start = int(state["cursor_ms"]) - ctx.crm_lag_ms
            known = _known(
                ctx,
                obj,
                "id",
                "updated_at",
                f"{ctx.raw.column('updated_at')} >= '{utc_text(start * 1000, 3)}+00:00'",
            )
            for records in _search_pages(ctx, crm, properties, start, end):
                metrics.rows_extracted += len(records)
                records = [
                    r for r in records if f"{r['id']}|{to_ms(r.get('updatedAt'))}" not in known
                ]
                if not records:
                    continue
                links = (
                    _associations(ctx, obj, [r["id"] for r in records]) if crm.associations else {}
                )
                rows = [
                    _crm_row(
                        r, links.get(r["id"], {}) if crm.associations else None, crm.associations
                    )
                    for r in records
                ]
                metrics.rows_loaded += len(rows)
                done += len(rows)
                ctx.progress.update("hubspot", obj, "incremental", done, None, started)
                yield rows
        # Archived records: marked as such in raw, every run (search never returns them).
        known_archived = _known(ctx, obj, "id", "archived_at", f"{ctx.raw.column('archived')}")
        for records in _list_pages(ctx, obj, properties, archived=True):
            metrics.rows_extracted += len(records)
            rows = [
                _crm_row(r, None, ())
                for r in records
                if full or f"{r['id']}|{to_ms(r.get('archivedAt'))}" not in known_archived
            ]
            if rows:
                metrics.rows_loaded += len(rows)
                metrics.rows_deleted += len(rows)
                yield rows
        if not done and not metrics.rows_loaded and not ctx.raw.has(obj):
            yield _empty_table(_crm_hints(obj, properties))
        state["cursor_ms"] = end
        state["properties"] = properties
        metrics.extract_seconds += time.perf_counter() - started

    return records


def _empty_table(hints: list[TColumnSchema]) -> Any:
    """What a resource yields when it read nothing: its table, empty, with every declared column."""
    return dlt.mark.with_hints(
        dlt.mark.materialize_table_schema(), dlt.mark.make_hints(columns=hints)
    )


def _unless_missing_scope(
    ctx: HubSpotContext, table: str, pages: Iterator[list[dict[str, Any]]]
) -> Iterator[list[dict[str, Any]]]:
    """Pages of an endpoint a portal may not serve (marketing APIs need Marketing Hub): a 403
    MISSING_SCOPES there means no rows and a one-line warning naming the scope, not a failure."""
    try:
        yield from pages
    except MissingScopes as exc:
        scopes = ", ".join(exc.scopes) or "unknown"
        ctx.progress.emit(
            f"  hubspot.{table}: warning: the private app lacks scope {scopes} "
            "(403 MISSING_SCOPES); nothing read, the table stays as it was (empty at first)"
        )
        ctx.metrics[table].note = f"missing scope {scopes}: nothing read"
        ctx.unserved.add(table)


def _inline_associations(record: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for to, block in (record.get("associations") or {}).items():
        out[to] = sorted({str(a["id"]) for a in block.get("results", [])})
    return out


ID_HINT: TColumnSchema = {"name": "id", "data_type": "text", "nullable": False, "primary_key": True}
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
        known = set() if ctx.full_refresh else _known(ctx, "campaigns", "id", "updated_at")
        paginator = JSONResponseCursorPaginator(
            cursor_path="paging.next.after", cursor_param="after"
        )
        pages = ctx.client.paginate(
            "/marketing/v3/campaigns",
            params={"limit": 100, "properties": ",".join(CAMPAIGN_PROPERTIES)},
            paginator=paginator,
            data_selector="results",
        )
        for page in _unless_missing_scope(ctx, "campaigns", pages):
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
            metrics.rows_loaded += len(rows)
            if rows:
                yield rows
        if not metrics.rows_loaded and not ctx.raw.has("campaigns"):
            yield _empty_table(CAMPAIGN_HINTS)
        metrics.extract_seconds += time.perf_counter() - started

    return campaigns


# Every column staging reads is declared, so that it exists even while no record carries it
# (dlt creates a column only for a non-null value).
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
            known = _known(ctx, "marketing_emails", "id", "updated_at")
        paginator = JSONResponseCursorPaginator(
            cursor_path="paging.next.after", cursor_param="after"
        )
        pages = ctx.client.paginate(
            "/marketing/v3/emails", params=params, paginator=paginator, data_selector="results"
        )
        for page in _unless_missing_scope(ctx, "marketing_emails", pages):
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
            metrics.rows_loaded += len(rows)
            if rows:
                yield rows
        if not metrics.rows_loaded and not ctx.raw.has("marketing_emails"):
            yield _empty_table(MARKETING_EMAIL_HINTS)
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
            _known(ctx, "email_events", "id", "created", f"{ctx.raw.column('created')} >= {start}")
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
        for page in _unless_missing_scope(ctx, "email_events", pages):
            metrics.rows_extracted += len(page)
            rows = [e for e in page if f"{e['id']}|{e['created']}" not in known]
            metrics.rows_loaded += len(rows)
            done += len(rows)
            ctx.progress.update("hubspot", "email_events", metrics.mode, done, None, started)
            if rows:
                yield rows
        if not metrics.rows_loaded and not ctx.raw.has("email_events"):
            yield _empty_table(EMAIL_EVENT_HINTS)
        if "email_events" not in ctx.unserved:
            state["cursor_ms"] = end
        metrics.extract_seconds += time.perf_counter() - started

    return events


RESOURCES: dict[str, Callable[[HubSpotContext], Any]] = {
    "contacts": lambda ctx: crm_resource(ctx, "contacts"),
    "companies": lambda ctx: crm_resource(ctx, "companies"),
    "deals": lambda ctx: crm_resource(ctx, "deals"),
    "campaigns": campaigns_resource,
    "marketing_emails": marketing_emails_resource,
    "email_events": email_events_resource,
}
