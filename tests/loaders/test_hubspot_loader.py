"""The HubSpot loader against the emulator over HTTP: exact, incremental, within HubSpot's limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.fixtures.hubspot import Portal, assert_raw_equals_portal
from world.change import add_contact_property, apply_hubspot_change, touch_contacts


def _audit(portal: Portal) -> dict[str, dict[str, object]]:
    return {str(r["table_name"]): r for r in portal.warehouse.audit()}


def test_full_then_incremental_equals_the_portal(make_portal: Callable[..., Portal]) -> None:
    portal = make_portal(orders=4_000)
    portal.warehouse.load("--source", "hubspot")
    assert_raw_equals_portal(portal)
    assert {r["load_mode"] for r in _audit(portal).values()} == {"full"}
    report = apply_hubspot_change(portal.store, seed=5, number=1, fraction=0.05)
    portal.emulator.reset_stats()
    portal.warehouse.load("--source", "hubspot")
    assert_raw_equals_portal(portal)
    audit = _audit(portal)
    assert audit["contacts"]["load_mode"] == "incremental"
    assert audit["contacts"]["rows_loaded"] == (
        report.counts["hubspot.contacts modified"]
        + report.counts["hubspot.contacts added"]
        + report.counts["hubspot.contacts archived"]
    )
    assert audit["contacts"]["rows_deleted"] == len(report.archived_contact_ids)
    assert audit["email_events"]["rows_loaded"] == report.counts["hubspot.email_events added"]
    archived = ",".join(f"'{i}'" for i in report.archived_contact_ids)
    assert portal.warehouse.sql(
        f"select count(*) from raw_hubspot.contacts where id in ({archived}) and archived and archived_at is not null"
    ) == [(len(report.archived_contact_ids),)]


def test_a_full_refresh_after_a_load_reloads_every_table(
    make_portal: Callable[..., Portal],
) -> None:
    """A full refresh replaces each table whole, with what the portal holds now, even the
    records raw already held unchanged (campaigns were once skipped as known, and lost)."""
    portal = make_portal(orders=2_000)
    portal.warehouse.load("--source", "hubspot")
    portal.warehouse.load("--source", "hubspot", "--full-refresh")
    assert_raw_equals_portal(portal)
    audit = _audit(portal)
    assert {r["load_mode"] for r in audit.values()} == {"full"}
    assert all(r["rows_loaded"] == r["rows_extracted"] > 0 for r in audit.values()), audit


def test_a_run_without_change_makes_few_requests_and_loads_nothing(
    make_portal: Callable[..., Portal],
) -> None:
    portal = make_portal(orders=4_000)
    portal.warehouse.load("--source", "hubspot")
    first = portal.emulator.stats["requests"]
    portal.emulator.reset_stats()
    portal.warehouse.load("--source", "hubspot")
    assert all(r["rows_loaded"] == 0 for r in _audit(portal).values())
    # properties x3, one search x3, archived pages x3, campaigns, emails, events: about a dozen.
    assert portal.emulator.stats["requests"] <= 15 < first


def test_paging_across_many_pages(make_portal: Callable[..., Portal]) -> None:
    portal = make_portal(orders=2_000, contacts=2_600)
    portal.warehouse.load("--source", "hubspot", "--table", "contacts")
    assert_raw_equals_portal_subset(portal)
    afters = {p for m, p, s in portal.emulator.log if p == "/crm/v3/objects/contacts"}
    assert (
        afters
        and sum(1 for m, p, s in portal.emulator.log if p == "/crm/v3/objects/contacts") >= 26
    )


def assert_raw_equals_portal_subset(portal: Portal) -> None:
    from tests.fixtures.hubspot import crm_differences

    assert crm_differences(portal, "contacts") == []


def test_more_than_ten_thousand_changes_in_one_window(make_portal: Callable[..., Portal]) -> None:
    portal = make_portal(
        orders=2_000, contacts=12_500, interval_max=100_000, search_per_second=1_000
    )
    wh = portal.warehouse
    wh.env["SOURCES__HUBSPOT__SEARCH_PER_SECOND"] = "1000"
    wh.load("--source", "hubspot", "--table", "contacts")
    touched = touch_contacts(portal.store, 10_500)  # one bulk edit: all in one millisecond
    touch_contacts(portal.store, 400, stamp_ms=int(time.time() * 1000) + 1)
    portal.emulator.reset_stats()
    wh.load("--source", "hubspot", "--table", "contacts")
    assert _audit(portal)["contacts"]["rows_loaded"] == len(touched)
    assert portal.emulator.stats.get("status_400", 0) == 0  # never hit the search ceiling
    assert_raw_equals_portal_subset(portal)


def test_stays_inside_the_rate_limit(make_portal: Callable[..., Portal]) -> None:
    # A tight budget: 25 requests per second, search 3 per second.
    portal = make_portal(orders=3_000, interval_max=25, interval_ms=1_000, search_per_second=3)
    portal.warehouse.env["SOURCES__HUBSPOT__SEARCH_PER_SECOND"] = "3"
    portal.warehouse.load("--source", "hubspot")
    apply_hubspot_change(portal.store, seed=5, number=1, fraction=0.05)
    portal.warehouse.load("--source", "hubspot")
    assert portal.emulator.stats.get("status_429", 0) == 0
    assert_raw_equals_portal(portal)


def test_a_storm_of_429s_is_waited_out(make_portal: Callable[..., Portal]) -> None:
    portal = make_portal(orders=2_000)
    portal.emulator.inject(429, count=4, path_prefix="/crm/v3/objects/deals", retry_after=1)
    started = time.monotonic()
    result = portal.warehouse.load("--source", "hubspot")
    assert time.monotonic() - started >= 4  # it waited as told, four times
    assert "4 answered 429" in result.stderr
    assert_raw_equals_portal(portal)


def test_server_errors_then_success(make_portal: Callable[..., Portal]) -> None:
    portal = make_portal(orders=2_000)
    portal.emulator.inject(503, count=2, path_prefix="/crm/v3/objects/contacts")
    portal.emulator.inject(500, count=1, path_prefix="/email/public/v1/events")
    result = portal.warehouse.load("--source", "hubspot")
    assert "3 retried after errors" in result.stderr
    assert_raw_equals_portal(portal)


def test_persistent_server_errors_fail_clearly(make_portal: Callable[..., Portal]) -> None:
    portal = make_portal(orders=1_000)
    portal.emulator.inject(502, count=50, path_prefix="/marketing/v3/campaigns")
    result = portal.warehouse.run("--source", "hubspot")
    assert result.returncode == 75  # transient: retry later
    assert any(
        "answered 502 5 times" in line
        for line in result.stderr.splitlines()
        if line.startswith("loaders: ")
    )


def test_a_bad_token_fails_fast_and_writes_nothing(make_portal: Callable[..., Portal]) -> None:
    portal = make_portal(orders=1_000)
    for token, expected in (
        ("pat-na1-wrong", "access token was rejected (401"),
        ("pat-na1-no-scopes", "lacks a scope this loader needs (403"),
    ):
        portal.emulator.reset_stats()
        portal.warehouse.env["SOURCES__HUBSPOT__ACCESS_TOKEN"] = token
        started = time.monotonic()
        result = portal.warehouse.run("--source", "hubspot")
        assert time.monotonic() - started < 15
        assert result.returncode == 1
        lines = [line for line in result.stderr.splitlines() if line.startswith("loaders: ")]
        assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.output
        assert portal.emulator.stats["requests"] == 1  # no retries on 401/403
    assert not Path(portal.warehouse.path).exists() or portal.warehouse.sql(
        "select count(*) from information_schema.tables where table_schema = 'raw_hubspot'"
    ) == [(0,)]


def test_custom_properties_land_as_columns(make_portal: Callable[..., Portal]) -> None:
    portal = make_portal(orders=2_000)
    portal.warehouse.load("--source", "hubspot", "--table", "contacts")
    add_contact_property(portal.store, "loyalty_tier", {1001: "gold", 1002: "silver"})
    portal.warehouse.load("--source", "hubspot", "--table", "contacts")
    audit = _audit(portal)["contacts"]
    assert audit["load_mode"] == "backfill" and "loyalty_tier" in str(audit["note"])
    assert portal.warehouse.sql(
        "select id, loyalty_tier from raw_hubspot.contacts where loyalty_tier is not null order by id"
    ) == [("1001", "gold"), ("1002", "silver")]
    assert_raw_equals_portal_subset(portal)


def test_many_properties_stay_within_url_limits(make_portal: Callable[..., Portal]) -> None:
    portal = make_portal(orders=1_000, max_url_length=4_096)
    values = {1001: "x"}
    for i in range(250):
        add_contact_property(portal.store, f"custom_marketing_attribute_number_{i:03d}", values)
    portal.warehouse.load("--source", "hubspot", "--table", "contacts")
    assert portal.emulator.stats.get("status_414", 0) == 0
    assert_raw_equals_portal_subset(portal)
    assert portal.warehouse.sql(
        "select custom_marketing_attribute_number_249 from raw_hubspot.contacts where id = '1001'"
    ) == [("x",)]


CRASH_RUN = str(Path(__file__).with_name("crash_run.py"))


def test_killed_mid_load_then_rerun_leaves_no_duplicates(
    make_portal: Callable[..., Portal],
) -> None:
    import pytest

    portal = make_portal(orders=3_000)
    wh = portal.warehouse
    for kill_at in ("http:12", "load:3"):
        apply_hubspot_change(portal.store, seed=5, number=int(kill_at[-1]), fraction=0.05)
        result = wh.run(
            "--source", "hubspot", wrapper=CRASH_RUN, extra_env={"SHOPSPHERE_TEST_KILL_AT": kill_at}
        )
        if result.returncode != -9:
            pytest.fail(f"not killed at {kill_at}: {result.output[-2000:]}")
        wh.load("--source", "hubspot")
        assert_raw_equals_portal(portal)
        for table, key in (("contacts", "id"), ("deals", "id"), ("email_events", "id, created")):
            assert wh.sql(
                f"select count(*) = count(distinct ({key})) from raw_hubspot.{table}"
            ) == [(True,)]


def test_a_first_load_writes_each_table_whole_and_each_event_once(
    make_portal: Callable[..., Portal],
) -> None:
    """A first load writes its tables whole, not through a merge: dlt's merge deduplicates the
    staged rows with a window over all of them, which exhausted DuckDB's memory limit at 2.4M
    email events. An event the API lists twice still lands once."""
    import sqlite3

    portal = make_portal(orders=3_000)
    columns = "created, id, type, recipient, email_campaign_id, sent_by_id, sent_by_created, bounce_category"
    with sqlite3.connect(portal.store.path) as con:
        listed_twice = con.execute(
            f"insert into email_events ({columns}) select {columns} from email_events where seq % 40 = 0"
        ).rowcount
        (events,) = con.execute(
            "select count(distinct id || ':' || created) from email_events"
        ).fetchone()
    assert listed_twice > 0
    portal.warehouse.load("--source", "hubspot")
    wh = portal.warehouse
    assert wh.sql(
        "select count(*), count(distinct (id, created)) from raw_hubspot.email_events"
    ) == [(events, events)]
    assert _audit(portal)["email_events"]["rows_loaded"] == events
    # Nothing was staged for a merge.
    assert wh.sql(
        "select count(*) from information_schema.tables where table_schema = 'raw_hubspot_staging'"
    ) == [(0,)]
    # Later runs merge what changed, and still hold each event once.
    apply_hubspot_change(portal.store, seed=5, number=1, fraction=0.05)
    wh.load("--source", "hubspot")
    assert wh.sql(
        "select count(*) = count(distinct (id, created)) from raw_hubspot.email_events"
    ) == [(True,)]
