"""HubSpot's day: contacts and deals edited, created and archived, a new email send with its
events; and the portal edits the HubSpot loader's tests make on their own."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from world import names
from world.change_common import ChangeReport, iso_ms, share_of, utc_now
from world.generate import email_events
from world.hubspot.store import HubSpotStore


def hubspot_changes(
    store: HubSpotStore,
    rng: np.random.Generator,
    fraction: float,
    number: int,
    report: ChangeReport,
) -> None:
    now = utc_now()
    with store.connect() as conn:
        edit_objects(conn, rng, now, fraction, report)
        contact_ids = archive_contacts(conn, rng, now, fraction, report)
        add_contacts(conn, rng, now, share_of(len(contact_ids), fraction * 0.5), report)
        send_email(conn, rng, now, fraction, report)
        campaigns = conn.execute("select id, properties from campaigns order by id").fetchall()
        move_email(conn, now, campaigns, report)
        rename_utm(conn, now, campaigns, report)


def edit_objects(
    conn: Any, rng: np.random.Generator, now: datetime, fraction: float, report: ChangeReport
) -> None:
    """Contacts, deals and companies edited: a stage or an industry changes."""
    for obj, prop, values in (
        ("contacts", "lifecyclestage", names.LIFECYCLE_STAGES),
        ("deals", "dealstage", names.DEAL_STAGES),
        ("companies", "industry", names.INDUSTRIES),
    ):
        ids = [
            r[0]
            for r in conn.execute(
                "select id from objects where object_type = ? and archived = 0 order by id",
                (obj,),
            )
        ]
        picked = rng.choice(ids, min(len(ids), share_of(len(ids), fraction)), replace=False)
        for object_id in sorted(int(x) for x in picked):
            # HubSpot stamps lastmodifieddate as the edit happens: now, give or take a second.
            stamp = iso_ms(now - timedelta(milliseconds=int(rng.integers(0, 1_000))))
            _update_object(
                conn, obj, object_id, {prop: values[int(rng.integers(0, len(values)))]}, stamp
            )
        report.counts[f"hubspot.{obj} modified"] = len(picked)


def archive_contacts(
    conn: Any, rng: np.random.Generator, now: datetime, fraction: float, report: ChangeReport
) -> list[int]:
    """Contacts archived; the live contacts before it."""
    contact_ids = [
        r[0]
        for r in conn.execute(
            "select id from objects where object_type = 'contacts' and archived = 0 order by id"
        )
    ]
    archive = sorted(
        int(x)
        for x in rng.choice(contact_ids, share_of(len(contact_ids), fraction * 0.1), replace=False)
    )
    stamp = iso_ms(now - timedelta(seconds=5))
    conn.executemany(
        "update objects set archived = 1, archived_at = ?, updated_at = ? where object_type = 'contacts' and id = ?",
        [(stamp, stamp, i) for i in archive],
    )
    report.archived_contact_ids = archive
    report.counts["hubspot.contacts archived"] = len(archive)
    return contact_ids


def add_contacts(
    conn: Any, rng: np.random.Generator, now: datetime, n_new: int, report: ChangeReport
) -> None:
    """New contacts, as leads."""
    max_id = conn.execute("select max(id) from objects where object_type = 'contacts'").fetchone()[
        0
    ]
    new_rows = []
    for j in range(n_new):
        cid = max_id + 1 + j
        created = iso_ms(now - timedelta(milliseconds=int(rng.integers(0, 1_000))))
        f = names.FIRST_NAMES[int(rng.integers(0, len(names.FIRST_NAMES)))]
        la = names.LAST_NAMES[int(rng.integers(0, len(names.LAST_NAMES)))]
        props = {
            "email": f"{f.lower()}.new{cid}@{names.EMAIL_DOMAINS[j % len(names.EMAIL_DOMAINS)]}",
            "firstname": f,
            "lastname": la,
            "phone": None,
            "lifecyclestage": "lead",
            "hs_email_optout": "false",
            "createdate": created,
            "lastmodifieddate": created,
            "hs_object_id": str(cid),
        }
        new_rows.append(("contacts", cid, json.dumps(props), created, created, 0, None))
    conn.executemany("insert into objects values (?, ?, ?, ?, ?, ?, ?)", new_rows)
    report.counts["hubspot.contacts added"] = n_new


def send_email(
    conn: Any, rng: np.random.Generator, now: datetime, fraction: float, report: ChangeReport
) -> None:
    # A new email send to 1% of contacts produces fresh events.
    email_row = conn.execute(
        "select body from marketing_emails order by updated_at desc, id limit 1"
    ).fetchone()
    if email_row is not None:
        send = int(json.loads(email_row[0])["allEmailCampaignIds"][0])
        emails = [
            r[0]
            for r in conn.execute(
                "select lower(trim(json_extract(properties, '$.email'))) from objects "
                "where object_type = 'contacts' and archived = 0 and json_extract(properties, '$.email') is not null "
                "order by id"
            )
        ]
        recipients = np.array(emails, dtype=object)
        chosen = rng.choice(
            len(recipients),
            min(len(recipients), share_of(len(recipients), fraction)),
            replace=False,
        )
        now_ms = int(now.replace(tzinfo=UTC).timestamp() * 1000)
        # The send went out minutes ago; its events so far are stamped up to now.
        publish_us = (now_ms - 5 * 60_000) * 1000
        table = email_events(rng, [(send, publish_us, chosen)], recipients, now_ms)
        rows = list(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))
        conn.executemany(
            """insert into email_events (created, id, type, recipient, email_campaign_id, sent_by_id,
                sent_by_created, bounce_category) values (?, ?, ?, ?, ?, ?, ?, ?)""",
            sorted(rows, key=lambda r: (r[0], r[1])),
        )
        report.counts["hubspot.email_events added"] = len(rows)


def move_email(conn: Any, now: datetime, campaigns: list[Any], report: ChangeReport) -> None:
    # A marketer moves the oldest email to another campaign: its sends' past events move too.
    moved = conn.execute("select id, body from marketing_emails order by id limit 1").fetchone()
    if moved is not None and len(campaigns) > 1:
        body = json.loads(moved[1])
        to_id, to_props = next((c, p) for c, p in campaigns if c != body.get("campaign"))
        stamp = iso_ms(now)
        body.update(
            campaign=to_id, campaignName=json.loads(to_props).get("hs_name"), updatedAt=stamp
        )
        conn.execute(
            "update marketing_emails set body = ?, updated_at = ? where id = ?",
            (json.dumps(body), stamp, moved[0]),
        )
        report.moved_marketing_email_id = str(moved[0])
        report.counts["hubspot.marketing_emails moved"] = 1


def rename_utm(conn: Any, now: datetime, campaigns: list[Any], report: ChangeReport) -> None:
    # A marketer renames the first campaign's utm: the orders tagged with the old one lose
    # their campaign.
    if campaigns:
        campaign_id, props_text = campaigns[0]
        props = json.loads(props_text)
        if props.get("hs_utm"):
            report.renamed_utm = (str(campaign_id), props["hs_utm"])
            props["hs_utm"] = f"{props['hs_utm']}_renamed"
            conn.execute(
                "update campaigns set properties = ?, updated_at = ? where id = ?",
                (json.dumps(props), iso_ms(now), campaign_id),
            )
            report.counts["hubspot.campaigns utm renamed"] = 1


def _update_object(
    conn: Any, obj: str, object_id: int, changes: dict[str, Any], stamp: str
) -> None:
    modified = {"contacts": "lastmodifieddate"}.get(obj, "hs_lastmodifieddate")
    row = conn.execute(
        "select properties from objects where object_type = ? and id = ?", (obj, object_id)
    ).fetchone()
    props = json.loads(row[0])
    props.update(changes)
    props[modified] = stamp
    conn.execute(
        "update objects set properties = ?, updated_at = ? where object_type = ? and id = ?",
        (json.dumps(props), stamp, obj, object_id),
    )


def add_contact_property(store: HubSpotStore, name: str, values: dict[int, str]) -> None:
    """A portal admin adds a custom contact property and fills it on some contacts."""
    now = utc_now()
    stamp = iso_ms(now)
    with store.connect() as conn:
        conn.execute(
            "insert or ignore into properties values ('contacts', ?, ?, 'string', 'text', 'contactinformation', ?)",
            (name, name.replace("_", " ").title(), stamp),
        )
        for object_id, value in values.items():
            _update_object(conn, "contacts", object_id, {name: value}, stamp)


def apply_hubspot_change(
    store: HubSpotStore, seed: int, number: int, fraction: float = 0.01
) -> ChangeReport:
    """Only the HubSpot part of a day of change (for tests of the HubSpot loader)."""
    report = ChangeReport()
    hubspot_changes(store, np.random.default_rng([seed, number, 7]), fraction, number, report)
    return report


def touch_contacts(store: HubSpotStore, count: int, stamp_ms: int | None = None) -> list[int]:
    """Edit `count` live contacts at once (a bulk import or workflow): all stamped `stamp_ms`
    (default now), so that many records share one last-modified time."""
    now = (
        utc_now()
        if stamp_ms is None
        else datetime.fromtimestamp(stamp_ms / 1000, UTC).replace(tzinfo=None)
    )
    stamp = iso_ms(now)
    with store.connect() as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "select id from objects where object_type = 'contacts' and archived = 0 order by id limit ?",
                (count,),
            )
        ]
        for object_id in ids:
            _update_object(conn, "contacts", object_id, {"hs_lead_status": "IN_PROGRESS"}, stamp)
    return ids
