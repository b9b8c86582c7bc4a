"""CRM objects (contacts, companies, deals) as resources:
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
change loads nothing. A first load or a full refresh writes a table whole, each key once;
later runs merge on the primary key.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

import dlt
from dlt.common.schema.typing import TColumnSchema

from loaders.hubspot.client import check_response
from loaders.hubspot.context import (
    BATCH,
    CRM_OBJECTS,
    PAGE,
    SEARCH_PAGE,
    URL_BUDGET,
    CrmObject,
    HubSpotContext,
    empty_table,
    known_versions,
)
from loaders.shared.timestamps import parse_iso, to_ms, utc_text


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


def _search(
    ctx: HubSpotContext,
    crm: CrmObject,
    properties: list[str],
    filters: list[tuple[str, str, str]],
    sort: str,
) -> list[dict[str, Any]]:
    """One page of the search API: the records matching every filter, ascending on `sort`.
    Paging is by keyset in the filters (the callers'), never by HubSpot's offset."""
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": p, "operator": op, "value": v} for p, op, v in filters]}
        ],
        "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
        "properties": properties,
        "limit": SEARCH_PAGE,
        "after": "0",
    }
    page = check_response(
        ctx.client.post(f"/crm/v3/objects/{crm.name}/search", json=body), f"search {crm.name}"
    )
    return list(page.get("results", []))


def _search_pages(
    ctx: HubSpotContext, crm: CrmObject, properties: list[str], start_ms: int, end_ms: int
) -> Iterator[list[dict[str, Any]]]:
    """Records modified in [start_ms, end_ms), by keyset on (modified, id): never deep offsets."""
    cursor = start_ms
    seen_at_cursor: set[str] = set()
    while cursor < end_ms:
        results = _search(
            ctx,
            crm,
            properties,
            [(crm.modified, "GTE", str(cursor)), (crm.modified, "LT", str(end_ms))],
            crm.modified,
        )
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
        results = _search(
            ctx,
            crm,
            properties,
            [(crm.modified, "EQ", str(ms)), ("hs_object_id", "GT", after_id)],
            "hs_object_id",
        )
        fresh = [r for r in results if r["id"] not in seen]
        if fresh:
            yield fresh
        if len(results) < SEARCH_PAGE:
            return
        after_id = results[-1]["id"]


def crm_resource(ctx: HubSpotContext, obj: str) -> Any:
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
        if full:
            yield from _full_pages(ctx, obj, properties, started)
        else:
            metrics.mode = "incremental"
            start = int(state["cursor_ms"]) - ctx.crm_lag_ms
            yield from _changed_pages(ctx, obj, properties, start, end, started)
        yield from _archived_pages(ctx, obj, properties, full)
        if not metrics.rows_loaded and not ctx.raw.has(obj):
            yield empty_table(_crm_hints(obj, properties))
        state["cursor_ms"] = end
        state["properties"] = properties
        metrics.extract_seconds += time.perf_counter() - started

    return records


def _full_pages(
    ctx: HubSpotContext, obj: str, properties: list[str], started: float
) -> Iterator[list[dict[str, Any]]]:
    """Every live record, from the list endpoint (associations inline)."""
    crm, metrics, done = CRM_OBJECTS[obj], ctx.metrics[obj], 0
    for records in _list_pages(ctx, obj, properties, archived=False):
        rows = [_crm_row(r, _inline_associations(r), crm.associations) for r in records]
        metrics.rows_extracted += len(rows)
        rows = ctx.first_seen(obj, rows, ("id",))
        metrics.rows_loaded += len(rows)
        done += len(rows)
        ctx.progress.update("hubspot", obj, metrics.mode, done, None, started)
        yield rows


def _changed_pages(
    ctx: HubSpotContext, obj: str, properties: list[str], start: int, end: int, started: float
) -> Iterator[list[dict[str, Any]]]:
    """Records modified in [start, end] (the search API), less the versions raw holds, with
    their associations read in batches."""
    crm, metrics, done = CRM_OBJECTS[obj], ctx.metrics[obj], 0
    known = known_versions(
        ctx,
        obj,
        "id",
        "updated_at",
        f"{ctx.raw.column('updated_at')} >= '{utc_text(start * 1000, 3)}+00:00'",
    )
    for records in _search_pages(ctx, crm, properties, start, end):
        metrics.rows_extracted += len(records)
        records = [r for r in records if f"{r['id']}|{to_ms(r.get('updatedAt'))}" not in known]
        if not records:
            continue
        links = _associations(ctx, obj, [r["id"] for r in records]) if crm.associations else {}
        rows = [
            _crm_row(r, links.get(r["id"], {}) if crm.associations else None, crm.associations)
            for r in records
        ]
        metrics.rows_loaded += len(rows)
        done += len(rows)
        ctx.progress.update("hubspot", obj, "incremental", done, None, started)
        yield rows


def _archived_pages(
    ctx: HubSpotContext, obj: str, properties: list[str], full: bool
) -> Iterator[list[dict[str, Any]]]:
    """Archived records, marked as such in raw, every run (search never returns them)."""
    metrics = ctx.metrics[obj]
    known_archived = known_versions(ctx, obj, "id", "archived_at", f"{ctx.raw.column('archived')}")
    for records in _list_pages(ctx, obj, properties, archived=True):
        metrics.rows_extracted += len(records)
        rows = [
            _crm_row(r, None, ())
            for r in records
            if full or f"{r['id']}|{to_ms(r.get('archivedAt'))}" not in known_archived
        ]
        rows = ctx.first_seen(obj, rows, ("id",))
        if rows:
            metrics.rows_loaded += len(rows)
            metrics.rows_deleted += len(rows)
            yield rows


def _inline_associations(record: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for to, block in (record.get("associations") or {}).items():
        out[to] = sorted({str(a["id"]) for a in block.get("results", [])})
    return out
