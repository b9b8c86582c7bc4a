"""The HubSpot emulator follows HubSpot's public API contract over real HTTP."""

from __future__ import annotations

import json
import time
from datetime import datetime

import requests

from tests.fixtures.emulator_portal import AUTH, TOKEN
from world.hubspot.emulator import HubSpotEmulator
from world.hubspot.store import HubSpotStore


def _ids(store: HubSpotStore, sql: str, *params: object) -> set[int]:
    with store.connect() as conn:
        return {r[0] for r in conn.execute(sql, params)}


def test_list_pages_through_every_live_contact(
    emulator: HubSpotEmulator, store: HubSpotStore
) -> None:
    seen: list[int] = []
    params: dict[str, object] = {"limit": 100, "properties": "email,lifecyclestage"}
    pages = 0
    while True:
        page = requests.get(
            f"{emulator.base_url}/crm/v3/objects/contacts", params=params, headers=AUTH, timeout=10
        )
        assert page.status_code == 200
        body = page.json()
        pages += 1
        assert len(body["results"]) <= 100
        for r in body["results"]:
            assert set(r) >= {"id", "properties", "createdAt", "updatedAt", "archived"}
            assert set(r["properties"]) == {"email", "lifecyclestage"}
            seen.append(int(r["id"]))
        nxt = body.get("paging", {}).get("next")
        if not nxt:
            break
        assert nxt["link"].startswith("https://api.hubapi.com/crm/v3/objects/contacts?")
        params["after"] = nxt["after"]
    live = _ids(store, "select id from objects where object_type = 'contacts' and archived = 0")
    assert len(seen) == len(set(seen)) == len(live)
    assert set(seen) == live
    assert pages == -(-len(live) // 100)


def test_list_limit_is_capped_and_defaults_apply(emulator: HubSpotEmulator) -> None:
    body = requests.get(
        f"{emulator.base_url}/crm/v3/objects/deals", params={"limit": 500}, headers=AUTH, timeout=10
    ).json()
    assert len(body["results"]) == 100
    assert set(body["results"][0]["properties"]) == {
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    }


def test_list_with_associations(emulator: HubSpotEmulator, store: HubSpotStore) -> None:
    body = requests.get(
        f"{emulator.base_url}/crm/v3/objects/deals",
        params={"limit": 50, "associations": "contacts,companies"},
        headers=AUTH,
        timeout=10,
    ).json()
    for deal in body["results"]:
        contacts = deal["associations"]["contacts"]["results"]
        assert contacts and contacts[0]["type"] == "deal_to_contact"
        expected = _ids(
            store,
            "select to_id from associations where from_type='deals' and from_id=? and to_type='contacts'",
            int(deal["id"]),
        )
        assert {int(c["id"]) for c in contacts} == expected


def _search(
    emulator: HubSpotEmulator, obj: str, body: dict[str, object], token: str = TOKEN
) -> requests.Response:
    return requests.post(
        f"{emulator.base_url}/crm/v3/objects/{obj}/search",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_search_filters_sorts_and_pages(emulator: HubSpotEmulator, store: HubSpotStore) -> None:
    since = "2026-06-01T00:00:00.000Z"
    body: dict[str, object] = {
        "filterGroups": [
            {
                "filters": [
                    {
                        "propertyName": "lastmodifieddate",
                        "operator": "GTE",
                        "value": str(
                            int(datetime.fromisoformat(since[:-1] + "+00:00").timestamp() * 1000)
                        ),
                    }
                ]
            }
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["email", "lastmodifieddate"],
        "limit": 200,
    }
    results: list[dict] = []
    while True:
        page = _search(emulator, "contacts", body)
        assert page.status_code == 200
        assert not any(h.lower().startswith("x-hubspot-ratelimit") for h in page.headers)
        data = page.json()
        results += data["results"]
        after = data.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
        body["after"] = after
    expected = _ids(
        store,
        "select id from objects where object_type='contacts' and archived=0 and updated_at >= ?",
        since,
    )
    assert data["total"] == len(expected) == len(results)
    assert {int(r["id"]) for r in results} == expected
    stamps = [r["properties"]["lastmodifieddate"] for r in results]
    assert stamps == sorted(stamps) and min(stamps) >= since


def test_search_stops_at_ten_thousand_results(emulator: HubSpotEmulator) -> None:
    first = _search(emulator, "contacts", {"limit": 200, "after": "9800"})
    assert first.status_code == 200 and first.json()["total"] > 10_000
    over = _search(emulator, "contacts", {"limit": 200, "after": "9900"})
    assert over.status_code == 400
    assert over.json()["category"] == "VALIDATION_ERROR"
    assert _search(emulator, "contacts", {"limit": 201}).status_code == 400


def test_search_never_returns_archived_records(
    emulator: HubSpotEmulator, store: HubSpotStore
) -> None:
    archived = _ids(store, "select id from objects where object_type='contacts' and archived=1")
    assert archived
    ids = ",".join(str(i) for i in sorted(archived)[:50])
    body = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "hs_object_id", "operator": "IN", "values": ids.split(",")}
                ]
            }
        ],
        "limit": 100,
    }
    assert _search(emulator, "contacts", body).json()["total"] == 0


def test_archived_listing(emulator: HubSpotEmulator, store: HubSpotStore) -> None:
    body = requests.get(
        f"{emulator.base_url}/crm/v3/objects/contacts",
        params={"archived": "true", "limit": 100},
        headers=AUTH,
        timeout=10,
    ).json()
    archived = _ids(store, "select id from objects where object_type='contacts' and archived=1")
    got = {int(r["id"]) for r in body["results"]}
    assert got <= archived and got
    assert all(r["archived"] is True and r["archivedAt"] for r in body["results"])


def test_auth_errors(emulator: HubSpotEmulator) -> None:
    url = f"{emulator.base_url}/crm/v3/objects/contacts"
    missing = requests.get(url, timeout=10)
    assert missing.status_code == 401
    assert missing.json()["category"] == "INVALID_AUTHENTICATION"
    wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401
    scopes = requests.get(url, headers={"Authorization": "Bearer pat-na1-noscopes"}, timeout=10)
    assert scopes.status_code == 403
    assert scopes.json()["category"] == "MISSING_SCOPES"


def test_rolling_interval_limit(emulator: HubSpotEmulator) -> None:
    emulator.config.interval_max, emulator.config.interval_ms = 5, 1_000
    url = f"{emulator.base_url}/crm/v3/objects/companies"
    answers = [requests.get(url, headers=AUTH, timeout=10) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    remaining = [int(a.headers["X-HubSpot-RateLimit-Remaining"]) for a in answers[:5]]
    assert remaining == [4, 3, 2, 1, 0]
    assert answers[0].headers["X-HubSpot-RateLimit-Max"] == "5"
    assert answers[0].headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "1000"
    limited = answers[-1]
    assert limited.json()["errorType"] == "RATE_LIMIT"
    assert limited.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert int(limited.headers["Retry-After"]) >= 1
    time.sleep(1.05)
    assert requests.get(url, headers=AUTH, timeout=10).status_code == 200


def test_search_has_its_own_per_second_limit(emulator: HubSpotEmulator) -> None:
    emulator.config.search_per_second = 2
    codes = [_search(emulator, "deals", {"limit": 1}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    # The general budget is untouched by the search limit.
    assert (
        requests.get(
            f"{emulator.base_url}/crm/v3/objects/deals", headers=AUTH, timeout=10
        ).status_code
        == 200
    )


def test_injected_faults_then_success(emulator: HubSpotEmulator) -> None:
    emulator.inject(503, count=2, path_prefix="/crm/v3/objects/contacts")
    emulator.inject(429, count=1, path_prefix="/marketing", retry_after=2)
    url = f"{emulator.base_url}/crm/v3/objects/contacts"
    assert [requests.get(url, headers=AUTH, timeout=10).status_code for _ in range(3)] == [
        503,
        503,
        200,
    ]
    storm = requests.get(f"{emulator.base_url}/marketing/v3/campaigns", headers=AUTH, timeout=10)
    assert storm.status_code == 429 and storm.headers["Retry-After"] == "2"
    assert storm.json()["errorType"] == "RATE_LIMIT"


def test_admin_api_over_http(emulator: HubSpotEmulator) -> None:
    requests.post(f"{emulator.base_url}/__emulator/reset", timeout=10)
    requests.post(
        f"{emulator.base_url}/__emulator/faults", json={"status": 502, "count": 1}, timeout=10
    )
    assert (
        requests.get(
            f"{emulator.base_url}/crm/v3/objects/deals", headers=AUTH, timeout=10
        ).status_code
        == 502
    )
    stats = requests.get(f"{emulator.base_url}/__emulator/stats", timeout=10).json()
    assert stats == {"requests": 1, "status_502": 1}


def test_long_urls_are_refused(emulator: HubSpotEmulator) -> None:
    props = ",".join(f"custom_property_{i}" for i in range(600))
    answer = requests.get(
        f"{emulator.base_url}/crm/v3/objects/contacts",
        params={"properties": props},
        headers=AUTH,
        timeout=10,
    )
    assert answer.status_code == 414


def test_property_definitions(emulator: HubSpotEmulator) -> None:
    body = requests.get(
        f"{emulator.base_url}/crm/v3/properties/contacts", headers=AUTH, timeout=10
    ).json()
    names = {p["name"] for p in body["results"]}
    assert {
        "email",
        "firstname",
        "lastname",
        "phone",
        "lifecyclestage",
        "hs_email_optout",
        "createdate",
        "lastmodifieddate",
    } <= names
    assert len(names) > 30


def test_association_batch_read(emulator: HubSpotEmulator, store: HubSpotStore) -> None:
    contacts = sorted(
        _ids(
            store,
            "select from_id from associations where from_type='contacts' and to_type='companies'",
        )
    )[:5]
    inputs = [{"id": str(c)} for c in contacts] + [{"id": "424242"}]
    answer = requests.post(
        f"{emulator.base_url}/crm/v4/associations/contacts/companies/batch/read",
        json={"inputs": inputs},
        headers=AUTH,
        timeout=10,
    )
    assert answer.status_code == 207
    body = answer.json()
    assert body["status"] == "COMPLETE" and body["numErrors"] == 1
    for result in body["results"]:
        expected = _ids(
            store,
            "select to_id from associations where from_type='contacts' and from_id=? and to_type='companies'",
            int(result["from"]["id"]),
        )
        assert {t["toObjectId"] for t in result["to"]} == expected
        assert {a["typeId"] for a in result["to"][0]["associationTypes"]} == {1, 279}
    too_many = requests.post(
        f"{emulator.base_url}/crm/v4/associations/contacts/companies/batch/read",
        json={"inputs": [{"id": "1"}] * 1001},
        headers=AUTH,
        timeout=10,
    )
    assert too_many.status_code == 400


def test_campaigns_and_marketing_emails(emulator: HubSpotEmulator, store: HubSpotStore) -> None:
    campaigns = requests.get(
        f"{emulator.base_url}/marketing/v3/campaigns",
        params={
            "limit": 3,
            "properties": "hs_name,hs_utm,hs_start_date,hs_end_date,hs_budget_items_sum_amount",
        },
        headers=AUTH,
        timeout=10,
    ).json()
    seen = list(campaigns["results"])
    while "paging" in campaigns:
        campaigns = requests.get(
            f"{emulator.base_url}/marketing/v3/campaigns",
            params={
                "limit": 3,
                "after": campaigns["paging"]["next"]["after"],
                "properties": "hs_utm",
            },
            headers=AUTH,
            timeout=10,
        ).json()
        seen += campaigns["results"]
    with store.connect() as conn:
        assert len(seen) == conn.execute("select count(*) from campaigns").fetchone()[0]
    assert all(c["properties"]["hs_utm"] for c in seen)
    emails = requests.get(
        f"{emulator.base_url}/marketing/v3/emails", params={"limit": 100}, headers=AUTH, timeout=10
    ).json()["results"]
    campaign_ids = {c["id"] for c in seen}
    assert emails and all(
        e["campaign"] in campaign_ids and e["allEmailCampaignIds"] for e in emails
    )


def test_email_events_offset_paging(emulator: HubSpotEmulator, store: HubSpotStore) -> None:
    with store.connect() as conn:
        lo, hi = conn.execute("select min(created), max(created) from email_events").fetchone()
    start, end = lo, lo + (hi - lo) // 2
    params: dict[str, object] = {"startTimestamp": start, "endTimestamp": end, "limit": 1000}
    seen: list[str] = []
    while True:
        body = requests.get(
            f"{emulator.base_url}/email/public/v1/events", params=params, headers=AUTH, timeout=10
        ).json()
        for e in body["events"]:
            assert start <= e["created"] < end
            assert e["type"] == "SENT" or "sentBy" in e
            seen.append(e["id"])
        if not body["hasMore"]:
            break
        params["offset"] = body["offset"]
    expected = _ids(
        store, "select id from email_events where created >= ? and created < ?", start, end
    )
    assert len(seen) == len(set(seen)) == len(expected) > 1000
    assert set(seen) == expected
    typed = requests.get(
        f"{emulator.base_url}/email/public/v1/events",
        params={"eventType": "bounce", "limit": 5},
        headers=AUTH,
        timeout=10,
    ).json()
    assert typed["events"] and all(e["type"] == "BOUNCE" and e["category"] for e in typed["events"])


def test_store_json_is_hubspot_shaped(store: HubSpotStore) -> None:
    with store.connect() as conn:
        props = json.loads(
            conn.execute(
                "select properties from objects where object_type='contacts' limit 1"
            ).fetchone()[0]
        )
    assert all(
        v is None or isinstance(v, str) for v in props.values()
    )  # HubSpot property values are strings
    assert props["createdate"].endswith("Z") and "T" in props["createdate"]
