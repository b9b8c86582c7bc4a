"""Marketing v3 campaigns and marketing emails, and the legacy email events API."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from world.hubspot.api.common import (
    PUBLIC_BASE,
    Endpoints,
    csv_values,
    filter_value_iso,
    one_param,
)


class MarketingApi(Endpoints):
    def list_campaigns(self, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = min(100, max(1, int(one_param(query, "limit", "50"))))
        after = one_param(query, "after", "")
        props = csv_values(query.get("properties"))
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
        limit = min(100, max(1, int(one_param(query, "limit", "10"))))
        after = one_param(query, "after", "")
        where, params = ["id > ?"], [after]
        updated_after = one_param(query, "updatedAfter", "")
        if updated_after:
            where.append("updated_at > ?")
            params.append(filter_value_iso(updated_after))
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
        limit = min(1000, max(1, int(one_param(query, "limit", "100"))))
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        # The offset token is the position (created, seq) of the last event returned: newest
        # first. The page's upper bound on `created` (the end's, or the offset's) is one range,
        # so that SQLite starts its index walk there, not at the newest event (a page cost
        # O(events before it): a 2.4M-event walk took 370 s).
        offset = one_param(query, "offset", "")
        after = tuple(int(v) for v in offset.split(":", 1)) if offset else None
        end = one_param(query, "endTimestamp", "")
        bounds = ([int(end)] if end else []) + ([after[0] + 1] if after else [])
        if bounds:
            where.append("created < ?")
            params.append(min(bounds))
        start = one_param(query, "startTimestamp", "")
        if start:
            where.append("created >= ?")
            params.append(int(start))
        for name, col in (
            ("eventType", "type"),
            ("campaignId", "email_campaign_id"),
            ("recipient", "recipient"),
        ):
            value = one_param(query, name, "")
            if value:
                where.append(f"{col} = ?")
                params.append(value.upper() if name == "eventType" else value)
        if after:
            where.append("(created < ? or (created = ? and seq < ?))")
            params += [after[0], after[0], after[1]]
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
