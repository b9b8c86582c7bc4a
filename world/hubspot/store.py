"""The HubSpot portal's data: a SQLite file the emulator serves and a day of change edits.

Objects keep HubSpot's shape (string properties, ISO timestamps); email events are columns the
emulator renders into the legacy events API's JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator

import duckdb

SCHEMA = [
    """create table objects (
        object_type text not null, id integer not null, properties text not null,
        created_at text not null, updated_at text not null,
        archived integer not null default 0, archived_at text,
        primary key (object_type, id))""",
    "create index ix_objects_modified on objects (object_type, archived, updated_at, id)",
    """create table associations (
        from_type text not null, from_id integer not null, to_type text not null, to_id integer not null)""",
    "create index ix_associations_from on associations (from_type, from_id)",
    "create index ix_associations_to on associations (to_type, to_id)",
    """create table properties (
        object_type text not null, name text not null, label text not null, type text not null,
        field_type text not null, group_name text not null, created_at text not null,
        primary key (object_type, name))""",
    "create table campaigns (id text primary key, properties text not null, created_at text, updated_at text)",
    "create table marketing_emails (id text primary key, body text not null, updated_at text)",
    """create table email_events (
        seq integer primary key, created integer not null, id text not null, type text not null,
        recipient text not null, email_campaign_id integer not null, sent_by_id text,
        sent_by_created integer, bounce_category text)""",
    "create index ix_email_events_created on email_events (created, seq)",
    "create table meta (key text primary key, value text)",
]

# (name, label, type, fieldType, group) per object type: the properties docs/spec.md §1c needs
# plus the platform's own, so "all properties" is realistically long.
_COMMON = [
    ("hs_object_id", "Record ID", "number", "number", "objectinformation"),
    ("hs_createdate", "Create date (legacy)", "datetime", "date", "objectinformation"),
    ("hs_analytics_source", "Original Source", "enumeration", "select", "analyticsinformation"),
    (
        "hs_analytics_source_data_1",
        "Original Source Drill-Down 1",
        "string",
        "text",
        "analyticsinformation",
    ),
    (
        "hs_analytics_source_data_2",
        "Original Source Drill-Down 2",
        "string",
        "text",
        "analyticsinformation",
    ),
    (
        "hs_analytics_num_page_views",
        "Number of Pageviews",
        "number",
        "number",
        "analyticsinformation",
    ),
    ("hs_analytics_num_visits", "Number of Sessions", "number", "number", "analyticsinformation"),
    ("hs_analytics_first_timestamp", "Time First Seen", "datetime", "date", "analyticsinformation"),
    ("hs_analytics_last_timestamp", "Time Last Seen", "datetime", "date", "analyticsinformation"),
    ("hs_latest_source", "Latest Traffic Source", "enumeration", "select", "analyticsinformation"),
    (
        "hs_latest_source_data_1",
        "Latest Traffic Source Drill-Down 1",
        "string",
        "text",
        "analyticsinformation",
    ),
    (
        "hs_latest_source_data_2",
        "Latest Traffic Source Drill-Down 2",
        "string",
        "text",
        "analyticsinformation",
    ),
    ("hs_all_owner_ids", "All owner IDs", "enumeration", "checkbox", "objectinformation"),
    ("hs_all_team_ids", "All team IDs", "enumeration", "checkbox", "objectinformation"),
    ("hs_all_accessible_team_ids", "All teams", "enumeration", "checkbox", "objectinformation"),
    ("hs_pipeline", "Pipeline", "enumeration", "select", "objectinformation"),
    ("hs_was_imported", "Imported", "bool", "booleancheckbox", "objectinformation"),
    (
        "hs_user_ids_of_all_owners",
        "User IDs of all owners",
        "enumeration",
        "checkbox",
        "objectinformation",
    ),
    ("hs_merged_object_ids", "Merged record IDs", "enumeration", "checkbox", "objectinformation"),
    ("hs_unique_creation_key", "Unique creation key", "string", "text", "objectinformation"),
    ("hubspot_owner_id", "Owner", "enumeration", "select", "objectinformation"),
    ("hubspot_owner_assigneddate", "Owner assigned date", "datetime", "date", "objectinformation"),
    ("hubspot_team_id", "HubSpot Team", "enumeration", "select", "objectinformation"),
    ("notes_last_updated", "Last Activity Date", "datetime", "date", "objectinformation"),
    ("notes_last_contacted", "Last Contacted", "datetime", "date", "objectinformation"),
    ("num_notes", "Number of Sales Activities", "number", "number", "objectinformation"),
    ("num_contacted_notes", "Number of times contacted", "number", "number", "objectinformation"),
]
PROPERTY_DEFINITIONS: dict[str, list[tuple[str, str, str, str, str]]] = {
    "contacts": [
        ("email", "Email", "string", "text", "contactinformation"),
        ("firstname", "First Name", "string", "text", "contactinformation"),
        ("lastname", "Last Name", "string", "text", "contactinformation"),
        ("phone", "Phone Number", "string", "phonenumber", "contactinformation"),
        ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", "contactinformation"),
        (
            "hs_email_optout",
            "Unsubscribed from all email",
            "bool",
            "booleancheckbox",
            "emailinformation",
        ),
        ("createdate", "Create Date", "datetime", "date", "contactinformation"),
        ("lastmodifieddate", "Last Modified Date", "datetime", "date", "contactinformation"),
        ("city", "City", "string", "text", "contactinformation"),
        ("country", "Country/Region", "string", "text", "contactinformation"),
        ("company", "Company Name", "string", "text", "contactinformation"),
        ("jobtitle", "Job Title", "string", "text", "contactinformation"),
        ("hs_lead_status", "Lead Status", "enumeration", "radio", "sales_properties"),
        ("hs_email_domain", "Email Domain", "string", "text", "contactinformation"),
        (
            "associatedcompanyid",
            "Primary Associated Company ID",
            "number",
            "number",
            "contactinformation",
        ),
        *_COMMON,
    ],
    "companies": [
        ("name", "Company name", "string", "text", "companyinformation"),
        ("domain", "Company Domain Name", "string", "text", "companyinformation"),
        ("industry", "Industry", "enumeration", "select", "companyinformation"),
        ("createdate", "Create Date", "datetime", "date", "companyinformation"),
        ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", "companyinformation"),
        ("city", "City", "string", "text", "companyinformation"),
        ("country", "Country/Region", "string", "text", "companyinformation"),
        ("numberofemployees", "Number of Employees", "number", "number", "companyinformation"),
        ("annualrevenue", "Annual Revenue", "number", "number", "companyinformation"),
        *_COMMON,
    ],
    "deals": [
        ("dealname", "Deal Name", "string", "text", "dealinformation"),
        ("amount", "Amount", "number", "number", "dealinformation"),
        ("dealstage", "Deal Stage", "enumeration", "radio", "dealinformation"),
        ("pipeline", "Pipeline", "enumeration", "select", "dealinformation"),
        ("closedate", "Close Date", "datetime", "date", "dealinformation"),
        ("createdate", "Create Date", "datetime", "date", "dealinformation"),
        ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", "dealinformation"),
        ("dealtype", "Deal Type", "enumeration", "radio", "dealinformation"),
        ("hs_forecast_amount", "Forecast amount", "number", "number", "dealinformation"),
        ("hs_is_closed", "Is Deal Closed?", "bool", "booleancheckbox", "dealinformation"),
        *_COMMON,
    ],
}

# What "last modified" is called per object type (the search API's cursor property).
MODIFIED_PROPERTY = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}


class HubSpotStore:
    """The portal's SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
            conn.commit()
        finally:
            conn.close()

    def recreate(self) -> None:
        if os.path.exists(self.path):
            os.remove(self.path)
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with self.connect() as conn:
            conn.execute("pragma journal_mode = wal")
            for ddl in SCHEMA:
                conn.execute(ddl)

    def load(self, world_db: duckdb.DuckDBPyConnection, created_at: str) -> dict[str, int]:
        """Copy the generator's hubspot_* tables in; returns rows per object."""
        counts: dict[str, int] = {}
        with self.connect() as conn:
            conn.execute("pragma synchronous = off")
            objects = world_db.sql(
                """select object_type, id, properties, created_at, updated_at,
                    archived::int, archived_at from hubspot_objects order by object_type, id"""
            ).fetchall()
            conn.executemany("insert into objects values (?, ?, ?, ?, ?, ?, ?)", objects)
            for obj in PROPERTY_DEFINITIONS:
                counts[obj] = sum(1 for o in objects if o[0] == obj)
            conn.executemany(
                "insert into associations values (?, ?, ?, ?)",
                world_db.sql("select * from hubspot_associations").fetchall(),
            )
            conn.executemany(
                "insert into properties values (?, ?, ?, ?, ?, ?, ?)",
                [
                    (obj, *prop, created_at)
                    for obj, props in PROPERTY_DEFINITIONS.items()
                    for prop in props
                ],
            )
            campaigns = world_db.sql("select * from hubspot_campaigns").fetchall()
            conn.executemany("insert into campaigns values (?, ?, ?, ?)", campaigns)
            emails = world_db.sql("select * from hubspot_marketing_emails").fetchall()
            conn.executemany("insert into marketing_emails values (?, ?, ?)", emails)
            events = world_db.sql(
                """select created, id, type, recipient, email_campaign_id, sent_by_id,
                    sent_by_created, bounce_category from hubspot_email_events order by created, id"""
            ).fetchall()
            conn.executemany(
                """insert into email_events (created, id, type, recipient, email_campaign_id,
                    sent_by_id, sent_by_created, bounce_category) values (?, ?, ?, ?, ?, ?, ?, ?)""",
                events,
            )
            counts.update(
                campaigns=len(campaigns), marketing_emails=len(emails), email_events=len(events)
            )
        return counts

    def set_meta(self, key: str, value: object) -> None:
        with self.connect() as conn:
            conn.execute(
                "insert into meta values (?, ?) on conflict (key) do update set value = excluded.value",
                (key, json.dumps(value)),
            )

    def get_meta(self, key: str, default: object = None) -> object:
        with self.connect() as conn:
            row = conn.execute("select value from meta where key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default
