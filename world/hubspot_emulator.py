"""A HubSpot API emulator served over HTTP on loopback.

It implements the slice of HubSpot's public API that SPEC §1c needs, with HubSpot's paths,
parameters, paging, limits and error bodies, so that a client proven here runs unchanged
against api.hubapi.com:

- CRM v3 objects: list (`limit` ≤ 100, `after`, `properties`, `associations`, `archived`),
  read by id, search (`filterGroups`, `sorts`, `properties`, `limit` ≤ 200, `after`,
  400 past 10,000 results, archived records never returned), property definitions.
- CRM v4 association batch read.
- Marketing v3 campaigns and marketing emails; the legacy email events API
  (`offset`/`hasMore`, `limit` ≤ 1000, time range and type filters).
- Private-app bearer tokens: 401 without a valid token, 403 for a token without scopes.
- Rate limits: a rolling ten-second budget per token with HubSpot's `X-HubSpot-RateLimit-*`
  headers, a separate per-second budget for search (whose answers carry no such headers),
  429 with `errorType: RATE_LIMIT`, `policyName` and `Retry-After`.
- Request URLs longer than `max_url_length` get 414, as HubSpot's front end answers.

Tests steer it through `EmulatorConfig` (in process) or `/__emulator/*` (over HTTP): inject
faults (5xx, 429 storms), change limits, read request counts.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import math
import re
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from .hubspot_store import MODIFIED_PROPERTY, HubSpotStore

OBJECT_TYPE_IDS = {"0-1": "contacts", "0-2": "companies", "0-3": "deals"}
OBJECT_ALIASES = {"contact": "contacts", "company": "companies", "deal": "deals"}
DEFAULT_PROPERTIES = {
    "contacts": [
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ],
    "companies": ["createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"],
    "deals": [
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ],
}
# HubSpot-defined association type ids (and labels) per direction.
ASSOCIATION_TYPES: dict[tuple[str, str], list[tuple[int, str | None]]] = {
    ("contacts", "companies"): [(279, None), (1, "Primary")],
    ("companies", "contacts"): [(280, None), (2, "Primary")],
    ("deals", "contacts"): [(3, None)],
    ("contacts", "deals"): [(4, None)],
    ("deals", "companies"): [(341, None), (5, "Primary")],
    ("companies", "deals"): [(342, None), (6, "Primary")],
}
V3_ASSOCIATION_NAMES = {
    ("contacts", "companies"): "contact_to_company",
    ("companies", "contacts"): "company_to_contact",
    ("deals", "contacts"): "deal_to_contact",
    ("contacts", "deals"): "contact_to_deal",
    ("deals", "companies"): "deal_to_company",
    ("companies", "deals"): "company_to_deal",
}
SEARCH_CEILING = 10_000
PUBLIC_BASE = "https://api.hubapi.com"


@dataclasses.dataclass
class Fault:
    """Answer `count` matching requests with `status` instead of serving them."""

    status: int
    count: int
    path_prefix: str = "/"
    retry_after: int | None = None
    # Serve the real answer but drop the connection halfway through its body (IncompleteRead).
    truncate: bool = False


@dataclasses.dataclass
class EmulatorConfig:
    tokens: set[str] = dataclasses.field(default_factory=lambda: {"pat-na1-emulator-token"})
    tokens_without_scopes: set[str] = dataclasses.field(default_factory=set)
    interval_max: int = 190  # requests per rolling interval (Professional/Enterprise private app)
    interval_ms: int = 10_000
    search_per_second: int = 5
    daily_max: int = 1_000_000
    max_url_length: int = 8_192
    latency_ms: float = 0.0
    faults: collections.deque[Fault] = dataclasses.field(default_factory=collections.deque)
    # Path prefix -> the scope the portal's app lacks there: 403 MISSING_SCOPES (a portal
    # without Marketing Hub answers so on marketing emails).
    missing_scopes: dict[str, str] = dataclasses.field(default_factory=dict)


class RateLimiter:
    """HubSpot's budgets: a rolling interval per token, a per-second budget for search, a day."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.interval: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self.search: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self.daily: dict[str, int] = collections.Counter()

    def check(
        self, token: str, is_search: bool
    ) -> tuple[dict[str, str], dict[str, Any] | None, float]:
        """(headers, 429 body or None, retry-after seconds)."""
        cfg = self.config
        now = time.monotonic()
        with self.lock:
            window = cfg.interval_ms / 1000
            calls = self.interval[token]
            while calls and now - calls[0] >= window:
                calls.popleft()
            searches = self.search[token]
            while searches and now - searches[0] >= 1.0:
                searches.popleft()
            if self.daily[token] >= cfg.daily_max:
                return {}, _rate_limit_body("You have reached your daily limit.", "DAILY"), 3600.0
            if is_search and len(searches) >= cfg.search_per_second:
                wait = 1.0 - (now - searches[0])
                return (
                    {},
                    _rate_limit_body("You have reached your secondly limit.", "SECONDLY"),
                    wait,
                )
            if len(calls) >= cfg.interval_max:
                wait = window - (now - calls[0])
                return (
                    self._headers(token, len(calls)),
                    _rate_limit_body(
                        "You have reached your ten_secondly_rolling limit.", "TEN_SECONDLY_ROLLING"
                    ),
                    wait,
                )
            calls.append(now)
            if is_search:
                searches.append(now)
            self.daily[token] += 1
            # The search API's answers carry no rate-limit headers (HubSpot documents this).
            return ({} if is_search else self._headers(token, len(calls))), None, 0.0

    def _headers(self, token: str, used: int) -> dict[str, str]:
        cfg = self.config
        secondly = max(1, cfg.interval_max * 1000 // cfg.interval_ms)
        return {
            "X-HubSpot-RateLimit-Daily": str(cfg.daily_max),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, cfg.daily_max - self.daily[token])),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(cfg.interval_ms),
            "X-HubSpot-RateLimit-Max": str(cfg.interval_max),
            "X-HubSpot-RateLimit-Remaining": str(max(0, cfg.interval_max - used)),
            "X-HubSpot-RateLimit-Secondly": str(secondly),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, secondly - min(used, secondly))),
        }


def _rate_limit_body(message: str, policy: str) -> dict[str, Any]:
    return {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy,
        "groupName": "api-calls",
    }


class ApiError(Exception):
    def __init__(self, status: int, category: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": category,
            **extra,
        }


class HubSpotEmulator:
    """Serve a HubSpotStore over HTTP. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        store_path: str,
        config: EmulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.store = HubSpotStore(store_path)
        self.config = config or EmulatorConfig()
        if not self.config.missing_scopes:  # a variant portal without Marketing Hub says so
            stored = self.store.get_meta("missing_scopes", {})
            self.config.missing_scopes = dict(stored) if isinstance(stored, dict) else {}
        self.limiter = RateLimiter(self.config)
        self.stats: collections.Counter[str] = collections.Counter()
        self.stats_lock = threading.Lock()
        self.log: list[tuple[str, str, int]] = []
        self._local = threading.local()
        emulator = self

        class Handler(_Handler):
            api = emulator

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubSpotEmulator:
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> HubSpotEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.store.path, timeout=30, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    def inject(
        self,
        status: int,
        count: int = 1,
        path_prefix: str = "/",
        retry_after: int | None = None,
        truncate: bool = False,
    ) -> None:
        self.config.faults.append(Fault(status, count, path_prefix, retry_after, truncate))

    def record(self, method: str, path: str, status: int) -> None:
        with self.stats_lock:
            self.stats["requests"] += 1
            self.stats[f"status_{status}"] += 1
            self.log.append((method, path, status))

    def reset_stats(self) -> None:
        with self.stats_lock:
            self.stats.clear()
            self.log.clear()

    def take_fault(self, path: str) -> Fault | None:
        with self.stats_lock:
            for fault in self.config.faults:
                if path.startswith(fault.path_prefix) and fault.count > 0:
                    fault.count -= 1
                    if fault.count == 0:
                        self.config.faults.remove(fault)
                    return fault
        return None

    # -- endpoints ---------------------------------------------------------------------------
    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        m = re.fullmatch(r"/crm/v3/objects/([^/]+)", path)
        if m and method == "GET":
            return self.list_objects(_object_type(m[1]), query)
        m = re.fullmatch(r"/crm/v3/objects/([^/]+)/search", path)
        if m and method == "POST":
            return self.search_objects(_object_type(m[1]), body or {})
        m = re.fullmatch(r"/crm/v3/objects/([^/]+)/(\d+)", path)
        if m and method == "GET":
            return self.read_object(_object_type(m[1]), int(m[2]), query)
        m = re.fullmatch(r"/crm/v3/properties/([^/]+)", path)
        if m and method == "GET":
            return self.list_properties(_object_type(m[1]))
        m = re.fullmatch(r"/crm/v4/associations/([^/]+)/([^/]+)/batch/read", path)
        if m and method == "POST":
            return self.batch_associations(_object_type(m[1]), _object_type(m[2]), body or {})
        if path in ("/marketing/v3/campaigns", "/marketing/v3/campaigns/") and method == "GET":
            return self.list_campaigns(query)
        if path == "/marketing/v3/emails" and method == "GET":
            return self.list_marketing_emails(query)
        if path == "/email/public/v1/events" and method == "GET":
            return self.list_email_events(query)
        raise ApiError(404, "OBJECT_NOT_FOUND", f"No route for {method} {path}")

    def _properties(self, obj: str, requested: Iterable[str] | None) -> list[str]:
        props = [p for p in (requested or []) if p]
        return props or DEFAULT_PROPERTIES[obj]

    def _render(self, obj: str, row: sqlite3.Row, props: list[str]) -> dict[str, Any]:
        stored = json.loads(row["properties"])
        known = self._known_properties(obj)
        out: dict[str, Any] = {
            "id": str(row["id"]),
            "properties": {p: stored.get(p) for p in props if p in known},
            "createdAt": row["created_at"],
            "updatedAt": row["updated_at"],
            "archived": bool(row["archived"]),
        }
        if row["archived"]:
            out["archivedAt"] = row["archived_at"]
        return out

    def _known_properties(self, obj: str) -> set[str]:
        rows = self.conn().execute("select name from properties where object_type = ?", (obj,))
        return {r[0] for r in rows}

    def list_objects(self, obj: str, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = min(100, max(1, int(_one(query, "limit", "10"))))
        after = int(_one(query, "after", "0") or 0)
        archived = _one(query, "archived", "false").lower() == "true"
        props = self._properties(obj, _csv(query.get("properties")))
        rows = (
            self.conn()
            .execute(
                """select * from objects where object_type = ? and archived = ? and id > ?
               order by id limit ?""",
                (obj, int(archived), after, limit + 1),
            )
            .fetchall()
        )
        results = [self._render(obj, r, props) for r in rows[:limit]]
        assoc_types = [_object_type(a) for a in _csv(query.get("associations"))]
        for result in results:
            for to in assoc_types:
                ids = self._associated(obj, int(result["id"]), to)
                if ids:
                    name = V3_ASSOCIATION_NAMES.get((obj, to), f"{obj}_to_{to}")
                    result.setdefault("associations", {})[to] = {
                        "results": [{"id": str(i), "type": name} for i in ids]
                    }
        page: dict[str, Any] = {"results": results}
        if len(rows) > limit:
            nxt = results[-1]["id"]
            q = {k: v[-1] for k, v in query.items() if k != "after"}
            page["paging"] = {
                "next": {
                    "after": nxt,
                    "link": f"{PUBLIC_BASE}/crm/v3/objects/{obj}?{urlencode({**q, 'after': nxt})}",
                }
            }
        return page

    def read_object(self, obj: str, object_id: int, query: dict[str, list[str]]) -> dict[str, Any]:
        archived = _one(query, "archived", "false").lower() == "true"
        row = (
            self.conn()
            .execute(
                "select * from objects where object_type = ? and id = ? and archived = ?",
                (obj, object_id, int(archived)),
            )
            .fetchone()
        )
        if row is None:
            raise ApiError(
                404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric."
            )
        return self._render(obj, row, self._properties(obj, _csv(query.get("properties"))))

    def _associated(self, obj: str, object_id: int, to: str) -> list[int]:
        conn = self.conn()
        rows = conn.execute(
            "select to_id from associations where from_type = ? and from_id = ? and to_type = ?",
            (obj, object_id, to),
        ).fetchall()
        rows += conn.execute(
            "select from_id from associations where to_type = ? and to_id = ? and from_type = ?",
            (obj, object_id, to),
        ).fetchall()
        return sorted({r[0] for r in rows})

    def search_objects(self, obj: str, body: dict[str, Any]) -> dict[str, Any]:
        limit = int(body.get("limit", 10))
        if limit > 200:
            raise ApiError(400, "VALIDATION_ERROR", "limit must be less than or equal to 200")
        after = int(body.get("after") or 0)
        if after + limit > SEARCH_CEILING:
            raise ApiError(
                400,
                "VALIDATION_ERROR",
                f"There was a problem with the request. The search API returns at most {SEARCH_CEILING} "
                "results for any query; narrow the query to page further.",
            )
        groups = body.get("filterGroups") or []
        if len(groups) > 5 or sum(len(g.get("filters", [])) for g in groups) > 25:
            raise ApiError(400, "VALIDATION_ERROR", "Too many filter groups or filters")
        where, params = ["object_type = ?", "archived = 0"], [obj]
        if groups:
            ors = []
            for group in groups:
                ands = []
                for flt in group.get("filters", []):
                    sql, values = _filter_sql(obj, flt)
                    ands.append(sql)
                    params += values
                ors.append("(" + " and ".join(ands or ["1 = 1"]) + ")")
            where.append("(" + " or ".join(ors) + ")")
        sorts = body.get("sorts") or []
        order = "id asc"
        if sorts:
            sort = sorts[0]
            if isinstance(sort, str):
                sort = {
                    "propertyName": sort.lstrip("-"),
                    "direction": "DESCENDING" if sort.startswith("-") else "ASCENDING",
                }
            direction = (
                "desc"
                if str(sort.get("direction", "ASCENDING")).upper().startswith("DESC")
                else "asc"
            )
            order = f"{_property_sql(obj, sort['propertyName'])} {direction}, id {direction}"
        conn = self.conn()
        total = conn.execute(
            f"select count(*) from objects where {' and '.join(where)}", params
        ).fetchone()[0]
        rows = conn.execute(
            f"select * from objects where {' and '.join(where)} order by {order} limit ? offset ?",
            [*params, limit, after],
        ).fetchall()
        props = self._properties(obj, body.get("properties"))
        page: dict[str, Any] = {
            "total": total,
            "results": [self._render(obj, r, props) for r in rows],
        }
        if after + len(rows) < total:
            page["paging"] = {"next": {"after": str(after + len(rows))}}
        return page

    def list_properties(self, obj: str) -> dict[str, Any]:
        rows = (
            self.conn()
            .execute("select * from properties where object_type = ? order by name", (obj,))
            .fetchall()
        )
        return {
            "results": [
                {
                    "name": r["name"],
                    "label": r["label"],
                    "type": r["type"],
                    "fieldType": r["field_type"],
                    "groupName": r["group_name"],
                    "description": "",
                    "options": [],
                    "createdAt": r["created_at"],
                    "updatedAt": r["created_at"],
                    "displayOrder": -1,
                    "calculated": False,
                    "externalOptions": False,
                    "hasUniqueValue": r["name"] == "hs_object_id",
                    "hidden": False,
                    "hubspotDefined": not r["name"].startswith("custom_"),
                    "modificationMetadata": {
                        "archivable": True,
                        "readOnlyDefinition": True,
                        "readOnlyValue": False,
                    },
                    "formField": True,
                }
                for r in rows
            ]
        }

    def batch_associations(
        self, obj: str, to: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        inputs = body.get("inputs") or []
        if len(inputs) > 1000:
            raise ApiError(400, "VALIDATION_ERROR", "Batch size must be less than or equal to 1000")
        started = _now_iso()
        types = ASSOCIATION_TYPES.get((obj, to), [(0, None)])
        results, errors = [], []
        exists = self.conn().execute
        for item in inputs:
            object_id = int(item["id"])
            ids = self._associated(obj, object_id, to)
            if not ids:
                found = exists(
                    "select 1 from objects where object_type = ? and id = ?", (obj, object_id)
                ).fetchone()
                if not found:
                    errors.append(
                        {
                            "status": "error",
                            "category": "OBJECT_NOT_FOUND",
                            "message": f"No {obj} with id {object_id} exists",
                            "context": {"fromObjectId": [str(object_id)]},
                        }
                    )
                continue
            results.append(
                {
                    "from": {"id": str(object_id)},
                    "to": [
                        {
                            "toObjectId": i,
                            "associationTypes": [
                                {"category": "HUBSPOT_DEFINED", "typeId": t, "label": label}
                                for t, label in types
                            ],
                        }
                        for i in ids
                    ],
                }
            )
        page: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": _now_iso(),
        }
        if errors:
            page.update(errors=errors, numErrors=len(errors))
            return 207, page
        return 200, page

    def list_campaigns(self, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = min(100, max(1, int(_one(query, "limit", "50"))))
        after = _one(query, "after", "")
        props = _csv(query.get("properties"))
        conn = self.conn()
        total = conn.execute("select count(*) from campaigns").fetchone()[0]
        rows = conn.execute(
            "select * from campaigns where id > ? order by id limit ?", (after, limit + 1)
        ).fetchall()
        results = []
        for r in rows[:limit]:
            stored = json.loads(r["properties"])
            results.append(
                {
                    "id": r["id"],
                    "properties": {p: stored.get(p) for p in props} if props else {},
                    "createdAt": r["created_at"],
                    "updatedAt": r["updated_at"],
                    "businessUnits": [{"id": 0}],
                }
            )
        page: dict[str, Any] = {"total": total, "results": results}
        if len(rows) > limit:
            page["paging"] = {
                "next": {
                    "after": results[-1]["id"],
                    "link": f"{PUBLIC_BASE}/marketing/v3/campaigns?after={results[-1]['id']}",
                }
            }
        return page

    def list_marketing_emails(self, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = min(100, max(1, int(_one(query, "limit", "10"))))
        after = _one(query, "after", "")
        where, params = ["id > ?"], [after]
        updated_after = _one(query, "updatedAfter", "")
        if updated_after:
            where.append("updated_at > ?")
            params.append(_to_iso(updated_after))
        conn = self.conn()
        total = conn.execute(
            f"select count(*) from marketing_emails where {' and '.join(where[1:]) or '1=1'}",
            params[1:],
        ).fetchone()[0]
        rows = conn.execute(
            f"select * from marketing_emails where {' and '.join(where)} order by id limit ?",
            [*params, limit + 1],
        ).fetchall()
        results = [json.loads(r["body"]) for r in rows[:limit]]
        page: dict[str, Any] = {"total": total, "results": results}
        if len(rows) > limit:
            page["paging"] = {
                "next": {
                    "after": results[-1]["id"],
                    "link": f"{PUBLIC_BASE}/marketing/v3/emails?after={results[-1]['id']}",
                }
            }
        return page

    def list_email_events(self, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = min(1000, max(1, int(_one(query, "limit", "100"))))
        where, params = ["1 = 1"], []
        for name, op in (("startTimestamp", ">="), ("endTimestamp", "<")):
            value = _one(query, name, "")
            if value:
                where.append(f"created {op} ?")
                params.append(int(value))
        for name, col in (
            ("eventType", "type"),
            ("campaignId", "email_campaign_id"),
            ("recipient", "recipient"),
        ):
            value = _one(query, name, "")
            if value:
                where.append(f"{col} = ?")
                params.append(value.upper() if name == "eventType" else value)
        # The offset token is the position (created, seq) of the last event returned: newest first.
        offset = _one(query, "offset", "")
        if offset:
            created_s, seq_s = offset.split(":", 1)
            where.append("(created < ? or (created = ? and seq < ?))")
            params += [int(created_s), int(created_s), int(seq_s)]
        rows = (
            self.conn()
            .execute(
                f"select * from email_events where {' and '.join(where)} order by created desc, seq desc limit ?",
                [*params, limit + 1],
            )
            .fetchall()
        )
        events = [_render_event(r) for r in rows[:limit]]
        has_more = len(rows) > limit
        last = rows[min(limit, len(rows)) - 1] if rows else None
        return {
            "events": events,
            "hasMore": has_more,
            "offset": f"{last['created']}:{last['seq']}" if last is not None else "",
        }


def _render_event(r: sqlite3.Row) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": r["id"],
        "created": r["created"],
        "type": r["type"],
        "recipient": r["recipient"],
        "portalId": 62515,
        "appId": 113,
        "appName": "Batch",
        "emailCampaignId": r["email_campaign_id"],
    }
    if r["sent_by_id"]:
        event["sentBy"] = {"id": r["sent_by_id"], "created": r["sent_by_created"]}
    typ = r["type"]
    if typ == "SENT":
        event["subject"] = "Picked for you"
    elif typ == "DELIVERED":
        event["response"] = "250 2.0.0 OK"
    elif typ == "BOUNCE":
        event.update(
            category=r["bounce_category"], status="5.1.1", response="550 5.1.1 user unknown"
        )
    elif typ in ("OPEN", "CLICK"):
        event["userAgent"] = "Mozilla/5.0"
        if typ == "CLICK":
            event["url"] = "https://shop.example/landing"
    elif typ == "STATUSCHANGE":
        event.update(
            subscriptions=[{"id": 1, "status": "UNSUBSCRIBED"}],
            source="SOURCE_RECIPIENT",
            portalSubscriptionStatus="UNSUBSCRIBED",
        )
    return event


def _object_type(name: str) -> str:
    name = OBJECT_TYPE_IDS.get(name, name).lower()
    name = OBJECT_ALIASES.get(name, name)
    if name not in MODIFIED_PROPERTY:
        raise ApiError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {name}")
    return name


def _one(query: dict[str, list[str]], key: str, default: str) -> str:
    values = query.get(key)
    return values[-1] if values else default


def _csv(values: list[str] | None) -> list[str]:
    return [p.strip() for v in values or [] for p in v.split(",") if p.strip()]


DATETIME_PROPERTIES = {"createdate", "lastmodifieddate", "hs_lastmodifieddate", "closedate"}


def _property_sql(obj: str, prop: str) -> str:
    if prop == MODIFIED_PROPERTY[obj]:
        return "updated_at"
    if prop == "hs_object_id":
        return "id"
    if not re.fullmatch(r"[a-z0-9_]+", prop):
        raise ApiError(400, "VALIDATION_ERROR", f"Invalid property name {prop!r}")
    return f"json_extract(properties, '$.{prop}')"


def _to_iso(value: str) -> str:
    """Filter values for datetime properties come as epoch millis or ISO 8601."""
    if re.fullmatch(r"-?\d+", value):
        dt = datetime.fromtimestamp(int(value) / 1000, UTC)
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    dt = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _filter_sql(obj: str, flt: dict[str, Any]) -> tuple[str, list[Any]]:
    prop = flt.get("propertyName", "")
    op = str(flt.get("operator", "EQ")).upper()
    col = _property_sql(obj, prop)
    is_dt = prop in DATETIME_PROPERTIES or col == "updated_at"

    def conv(v: Any) -> Any:
        if v is None:
            return None
        if col == "id":
            return int(v)
        return _to_iso(str(v)) if is_dt else str(v)

    if op in ("EQ", "NEQ", "LT", "LTE", "GT", "GTE"):
        sym = {"EQ": "=", "NEQ": "!=", "LT": "<", "LTE": "<=", "GT": ">", "GTE": ">="}[op]
        if op in ("EQ", "NEQ") and not is_dt and col != "id":
            return f"lower({col}) {sym} lower(?)", [conv(flt.get("value"))]
        return f"{col} {sym} ?", [conv(flt.get("value"))]
    if op == "BETWEEN":
        return f"{col} between ? and ?", [conv(flt.get("value")), conv(flt.get("highValue"))]
    if op in ("IN", "NOT_IN"):
        values = [conv(v) for v in flt.get("values", [])]
        marks = ", ".join("?" * len(values)) or "null"
        return f"{col} {'not ' if op == 'NOT_IN' else ''}in ({marks})", values
    if op == "HAS_PROPERTY":
        return f"{col} is not null", []
    if op == "NOT_HAS_PROPERTY":
        return f"{col} is null", []
    if op == "CONTAINS_TOKEN":
        token = str(flt.get("value", "")).replace("*", "%")
        return f"lower({col}) like lower(?)", [f"%{token}%"]
    raise ApiError(400, "VALIDATION_ERROR", f"Unsupported operator {op}")


def _missing_scopes(context: dict[str, list[str]]) -> ApiError:
    """HubSpot's 403 for a private app that lacks a scope, naming it as HubSpot does."""
    return ApiError(
        403,
        "MISSING_SCOPES",
        "This app hasn't been granted all required scopes to make this call. "
        "Read more about required scopes here: https://developers.hubspot.com/scopes.",
        errors=[
            {"message": "One or more of the following scopes are required.", "context": context}
        ],
    )


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Handler(BaseHTTPRequestHandler):
    api: HubSpotEmulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _send(
        self,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        truncate: bool = False,
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if truncate:  # the connection drops mid-body, as a flaky proxy does
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        api = self.api
        parts = urlsplit(self.path)
        path = parts.path
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if path.startswith("/__emulator/"):
            self._admin(method, path, raw)
            return
        status = 500
        try:
            if len(self.path) > api.config.max_url_length:
                status = 414
                self._send(
                    414,
                    {"status": "error", "message": "URI Too Long", "category": "VALIDATION_ERROR"},
                )
                return
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
            if token not in api.config.tokens and token not in api.config.tokens_without_scopes:
                status = 401
                raise ApiError(
                    401,
                    "INVALID_AUTHENTICATION",
                    "Authentication credentials not found. This API supports OAuth 2.0 authentication "
                    "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                )
            if token in api.config.tokens_without_scopes:
                status = 403
                raise _missing_scopes({"requiredScopes": ["crm.objects.contacts.read"]})
            scope = next(
                (v for k, v in api.config.missing_scopes.items() if path.startswith(k)), None
            )
            if scope is not None:
                status = 403
                raise _missing_scopes({"requiredGranularScopes": [scope]})
            is_search = path.endswith("/search")
            headers, limited, wait = api.limiter.check(token, is_search)
            if limited is not None:
                status = 429
                self._send(429, limited, {**headers, "Retry-After": str(max(1, math.ceil(wait)))})
                return
            fault = api.take_fault(path)
            truncate = fault is not None and fault.truncate
            if fault is not None and not truncate:
                status = fault.status
                extra = (
                    {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                )
                body = (
                    _rate_limit_body(
                        "You have reached your ten_secondly_rolling limit.", "TEN_SECONDLY_ROLLING"
                    )
                    if fault.status == 429
                    else {
                        "status": "error",
                        "message": "Internal error",
                        "correlationId": str(uuid.uuid4()),
                        "category": "INTERNAL_ERROR",
                    }
                )
                self._send(fault.status, body, {**headers, **extra})
                return
            if api.config.latency_ms:
                time.sleep(api.config.latency_ms / 1000)
            try:
                body = json.loads(raw) if raw else None
            except json.JSONDecodeError as exc:
                raise ApiError(400, "VALIDATION_ERROR", f"Invalid input JSON: {exc}") from exc
            result = api.route(method, path, parse_qs(parts.query), body)
            status, payload = result if isinstance(result, tuple) else (200, result)
            self._send(status, payload, headers, truncate=truncate)
        except ApiError as err:
            status = err.status
            self._send(err.status, err.body)
        except Exception as exc:  # the emulator must answer, as HubSpot would, with a 500
            status = 500
            self._send(
                500,
                {
                    "status": "error",
                    "message": f"internal error: {exc}",
                    "category": "INTERNAL_ERROR",
                },
            )
        finally:
            api.record(method, path, status)

    def _admin(self, method: str, path: str, raw: bytes) -> None:
        api = self.api
        body = json.loads(raw) if raw else {}
        if path == "/__emulator/stats":
            with api.stats_lock:
                self._send(200, dict(api.stats))
            return
        if path == "/__emulator/reset" and method == "POST":
            api.reset_stats()
            self._send(200, {"ok": True})
            return
        if path == "/__emulator/faults" and method == "POST":
            api.inject(
                int(body["status"]),
                int(body.get("count", 1)),
                body.get("path_prefix", "/"),
                body.get("retry_after"),
                bool(body.get("truncate", False)),
            )
            self._send(200, {"ok": True})
            return
        if path == "/__emulator/config" and method == "POST":
            for key in (
                "interval_max",
                "interval_ms",
                "search_per_second",
                "daily_max",
                "max_url_length",
                "latency_ms",
            ):
                if key in body:
                    setattr(api.config, key, body[key])
            self._send(200, {"ok": True})
            return
        self._send(404, {"status": "error", "message": "unknown emulator admin path"})


def serve(store_path: str, host: str, port: int, config: EmulatorConfig) -> None:
    """Serve in the foreground until interrupted."""
    emulator = HubSpotEmulator(store_path, config, host, port)
    print(f"HubSpot emulator on {emulator.base_url} (store {store_path})", flush=True)
    try:
        emulator.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.httpd.server_close()
