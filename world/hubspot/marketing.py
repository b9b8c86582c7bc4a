"""HubSpot's marketing: campaigns, their marketing emails and each send's email events."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from world import names
from world.draws import (
    EPOCH,
    US_PER_DAY,
    US_PER_S,
    Draws,
    hubspot_iso,
    mask_null,
    pick,
)


class MarketingDraws(Draws):
    def campaigns(self) -> None:
        """Campaign identities are needed by orders (utm_campaign), so they come first."""
        rng, k = self.rng, self.cfg.campaigns
        themes = rng.permutation(len(names.CAMPAIGN_THEMES))
        self.campaign_rows = []
        used: set[str] = set()
        for j in range(k):
            start = self.as_of - int(rng.integers(10, 720)) * US_PER_DAY
            year = (EPOCH + timedelta(microseconds=start)).year
            theme = names.CAMPAIGN_THEMES[int(themes[j % len(themes)])]
            name = f"{theme} {year}"
            utm = name.lower().replace("'", "").replace(" ", "_")
            if utm in used:
                utm, name = f"{utm}_{j}", f"{name} #{j}"
            used.add(utm)
            self.campaign_rows.append(
                {
                    "id": self.uuid4(),
                    "name": name,
                    "utm": utm,
                    "start_us": start,
                    "end_us": start + int(rng.integers(14, 60)) * US_PER_DAY,
                    "budget": int(rng.integers(10, 500)) * 100,
                }
            )

    def _insert_rows(self, table: str, rows: list[tuple], columns: list[str]) -> None:
        cols: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in columns]
        arrow = pa.table({c: list(v) for c, v in zip(columns, cols, strict=True)})
        self.db.register(f"_{table}_rows", arrow)
        self.db.execute(f"drop table if exists {table}")
        self.db.execute(f"create table {table} as select * from _{table}_rows")
        self.db.unregister(f"_{table}_rows")

    def _campaign_tables(self) -> None:
        rng = self.rng
        campaign_rows: list[tuple[Any, ...]] = []
        email_rows: list[tuple[Any, ...]] = []
        sends: list[tuple[int, int, np.ndarray]] = []
        email_id, send_id = 150_000_001, 310_000_001
        with_email = np.flatnonzero(
            np.array([e is not None for e in self.contact_emails]) & self.contact_active
        )
        for c in self.campaign_rows:
            created = c["start_us"] - int(rng.integers(3, 30)) * US_PER_DAY
            status = "completed" if c["end_us"] < self.as_of else "active"
            props = {
                "hs_name": c["name"],
                "hs_utm": c["utm"],
                "hs_start_date": hubspot_iso(c["start_us"])[:10],
                "hs_end_date": hubspot_iso(c["end_us"])[:10],
                "hs_budget_items_sum_amount": f"{c['budget']:.2f}",
                "hs_currency_code": "USD",
                "hs_campaign_status": status,
                "hs_object_id": c["id"],
            }
            modified = min(max(c["end_us"], created), self.as_of - US_PER_S)
            campaign_rows.append(
                (c["id"], json.dumps(props), hubspot_iso(created), hubspot_iso(modified))
            )
            for _ in range(int(rng.integers(1, 4))):
                span_s = max(1, (c["end_us"] - c["start_us"]) // US_PER_S)
                publish = c["start_us"] + int(rng.integers(0, span_s)) * US_PER_S
                publish = min(publish, self.as_of - 3 * US_PER_DAY)
                email_sends = [send_id] if rng.random() > 0.1 else [send_id, send_id + 1]
                send_id += len(email_sends)
                body = {
                    "id": str(email_id),
                    "name": f"{c['name']} - email {len(email_rows) + 1}",
                    "subject": f"{c['name']}: picked for you",
                    "state": "PUBLISHED",
                    "campaign": c["id"],
                    "campaignName": c["name"],
                    "allEmailCampaignIds": [str(s) for s in email_sends],
                    "publishDate": hubspot_iso(publish),
                    "createdAt": hubspot_iso(publish - 2 * US_PER_DAY),
                    "updatedAt": hubspot_iso(publish),
                }
                email_rows.append((str(email_id), json.dumps(body), hubspot_iso(publish)))
                email_id += 1
                for s in email_sends:
                    share = rng.uniform(0.01, 0.03) / len(email_sends)
                    k = min(len(with_email), 20_000, max(1, int(len(with_email) * share)))
                    sends.append((s, publish, rng.choice(with_email, k, replace=False)))
        self._insert_rows(
            "hubspot_campaigns", campaign_rows, ["id", "properties", "created_at", "updated_at"]
        )
        self._insert_rows("hubspot_marketing_emails", email_rows, ["id", "body", "updated_at"])
        recipients = np.array(
            [e.strip().lower() if e is not None else "" for e in self.contact_emails], dtype=object
        )
        self.register("events", email_events(rng, sends, recipients, self.as_of // 1000))
        self.db.execute(
            "create table hubspot_email_events as select * from _events_arrow order by created, id"
        )
        self.db.unregister("_events_arrow")


EVENT_TYPES = ["SENT", "DELIVERED", "BOUNCE", "OPEN", "CLICK", "STATUSCHANGE"]


def email_events(
    rng: np.random.Generator,
    sends: list[tuple[int, int, np.ndarray]],
    recipient_emails: np.ndarray,
    as_of_ms: int,
) -> pa.Table:
    """Email events for each (emailCampaignId, publish time in us, recipient contact indexes).

    Columnar: the emulator renders HubSpot's event JSON from these columns. Every non-SENT
    event points at its SENT event through sent_by_id/sent_by_created, as HubSpot's sentBy does.
    """
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ["created", "type", "recipient", "send", "sent_idx"]
    }
    offset = 0
    for send, publish_us, recipients in sends:
        k = len(recipients)
        t0 = publish_us // 1000 + rng.integers(0, 1_800_000, k)
        delivered = rng.random(k) < 0.96
        opens = np.where(delivered & (rng.random(k) < 0.35), 1 + rng.binomial(2, 0.3, k), 0)
        clicks = np.where((opens > 0) & (rng.random(k) < 0.3), 1 + rng.binomial(1, 0.3, k), 0)
        unsub = delivered & (rng.random(k) < 0.01)
        first_open = t0 + rng.integers(60_000, 3 * 86_400_000, k)
        idx = np.arange(k)
        open_idx = np.repeat(idx, opens)
        open_n = np.arange(len(open_idx)) - np.repeat(np.cumsum(opens) - opens, opens)
        click_idx = np.repeat(idx, clicks)
        click_n = np.arange(len(click_idx)) - np.repeat(np.cumsum(clicks) - clicks, clicks)
        groups = [
            (idx, t0, 0),
            (idx, t0 + rng.integers(1_000, 60_000, k), np.where(delivered, 1, 2)),
            (
                open_idx,
                first_open[open_idx] + open_n * rng.integers(60_000, 86_400_000, len(open_idx)),
                3,
            ),
            (click_idx, first_open[click_idx] + 30_000 + click_n * 60_000, 4),
            (idx[unsub], t0[unsub] + rng.integers(120_000, 86_400_000, int(unsub.sum())), 5),
        ]
        for who, created, typ in groups:
            parts["created"].append(np.minimum(created, as_of_ms - 1000))
            parts["type"].append(np.full(len(who), typ, dtype="int8"))
            parts["recipient"].append(recipients[who])
            parts["send"].append(np.full(len(who), send, dtype="int64"))
            parts["sent_idx"].append(offset + who)
        offset += k
    created = np.concatenate(parts["created"]).astype("int64")
    typ = np.concatenate(parts["type"])
    sent_idx = np.concatenate(parts["sent_idx"])
    n = len(created)
    hexes = rng.bytes(16 * n).hex()
    ids = np.array(
        [
            f"{hexes[i : i + 8]}-{hexes[i + 8 : i + 12]}-4{hexes[i + 13 : i + 16]}-a{hexes[i + 17 : i + 20]}-{hexes[i + 20 : i + 32]}"
            for i in range(0, 32 * n, 32)
        ],
        dtype=object,
    )
    # SENT rows are in send order, so the i-th SENT row overall is recipient slot i.
    sent_positions = np.flatnonzero(typ == 0)
    sent_by = sent_positions[sent_idx]
    is_sent = typ == 0
    bounce_hard = rng.random(n) < 0.5
    return pa.table(
        {
            "created": created,
            "id": pa.array(ids, pa.string()),
            "type": pick(EVENT_TYPES, typ),
            "recipient": pa.array(
                recipient_emails[np.concatenate(parts["recipient"])], pa.string()
            ),
            "email_campaign_id": np.concatenate(parts["send"]),
            "sent_by_id": mask_null(pa.array(ids[sent_by], pa.string()), is_sent),
            "sent_by_created": mask_null(pa.array(created[sent_by], pa.int64()), is_sent),
            "bounce_category": mask_null(
                pick(["HARD_BOUNCE", "SOFT_BOUNCE"], (~bounce_hard).astype(int)), typ != 2
            ),
        }
    )
