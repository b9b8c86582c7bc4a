"""HubSpot faults a production portal produces: a connection dropped mid-answer, an endpoint the
portal's app has no scope for, an empty list. Each ends in a complete, truthful raw_hubspot."""

from __future__ import annotations

from collections.abc import Callable

from tests.fixtures.hubspot import Portal, assert_raw_equals_portal


def test_a_connection_dropped_mid_body_is_retried(make_portal: Callable[..., Portal]) -> None:
    portal = make_portal(orders=1_000)
    portal.emulator.inject(200, count=2, path_prefix="/crm/v3/objects/contacts", truncate=True)
    portal.emulator.inject(200, count=1, path_prefix="/email/public/v1/events", truncate=True)
    result = portal.warehouse.load("--source", "hubspot")
    assert "3 retried after errors" in result.stderr
    assert_raw_equals_portal(portal)


def test_an_endpoint_without_its_scope_gives_an_empty_table_and_a_warning(
    make_portal: Callable[..., Portal],
) -> None:
    portal = make_portal(orders=1_000)
    portal.emulator.config.missing_scopes = {"/marketing/v3/emails": "content"}
    result = portal.warehouse.load("--source", "hubspot")
    warnings = [line for line in result.stderr.splitlines() if "MISSING_SCOPES" in line]
    assert len(warnings) == 1 and "hubspot.marketing_emails" in warnings[0]
    assert "scope content" in warnings[0]
    assert portal.warehouse.sql("select count(*) from raw_hubspot.marketing_emails") == [(0,)]
    columns = {r[0] for r in portal.warehouse.sql("describe raw_hubspot.marketing_emails")}
    assert {"id", "campaign_id", "all_email_campaign_ids", "updated_at"} <= columns
    # Once the scope is granted, everything is read: the cursor did not move while unserved.
    portal.emulator.config.missing_scopes = {}
    portal.warehouse.load("--source", "hubspot")
    assert_raw_equals_portal(portal)


def test_a_portal_without_campaigns_still_gets_its_tables(
    make_portal: Callable[..., Portal],
) -> None:
    portal = make_portal(orders=1_000)
    with portal.store.connect() as conn:
        conn.execute("delete from campaigns")
    portal.warehouse.load("--source", "hubspot")
    assert portal.warehouse.sql("select count(*) from raw_hubspot.campaigns") == [(0,)]
    columns = {r[0] for r in portal.warehouse.sql("describe raw_hubspot.campaigns")}
    assert {"id", "hs_utm", "hs_start_date", "created_at", "updated_at"} <= columns
