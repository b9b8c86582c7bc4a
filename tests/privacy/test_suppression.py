"""The load-time suppression list: an erased person's rows land with their declared PII blanked,
found by their keyed hash (under the current key or one rotated out) or by their ids."""

from __future__ import annotations

import pyarrow as pa

from loaders.privacy.pii import key_from_env
from loaders.privacy.suppression import Suppressed, TablePii, redactor, source_pii, subject_hash

KEY = bytes.fromhex("11" * 32)
OLD_KEY = bytes.fromhex("22" * 32)
CONTACTS = TablePii({"email": "email", "firstname": "name", "phone": "phone"}, {"contact_id": "id"})
DEALS = TablePii({"dealname": "name"}, {"contact_ids_json": "associated_contact_ids"})
CUSTOMERS = TablePii(
    {"email": "email", "first_name": "name", "has_valid_email": "derived"},
    {"customer_id": "customer_id"},
)


def test_the_declaration_is_read_from_the_sources_yaml() -> None:
    declared = source_pii()
    assert declared[("shop", "customers")].subject == {"customer_id": "customer_id"}
    assert declared[("hubspot", "contacts")].columns["email"] == "email"
    assert declared[("hubspot", "email_events")].emails == ["recipient"]
    assert declared[("hubspot", "deals")].subject == {"contact_ids_json": "associated_contact_ids"}
    assert ("shop", "orders") not in declared


def test_rows_of_an_erased_person_are_blanked_and_others_pass() -> None:
    erased = Suppressed(hashes={subject_hash("ada@example.org", KEY)})
    redact = redactor(CONTACTS, erased, [KEY])
    ada = {"id": "7", "Email": " ADA@example.org", "firstname": "Ada", "phone": "+44", "x": 1}
    bob = {"id": "8", "Email": "bob@example.org", "firstname": "Bob", "phone": "+1", "x": 2}
    assert redact(dict(ada)) == {
        "id": "7",
        "Email": None,
        "firstname": None,
        "phone": None,
        "x": 1,
    }
    assert redact(dict(bob)) == bob


def test_a_hash_under_a_rotated_key_still_matches_when_that_key_is_given() -> None:
    erased = Suppressed(hashes={subject_hash("ada@example.org", OLD_KEY)})
    row = {"id": "7", "email": "ada@example.org", "firstname": "Ada", "phone": None}
    assert redactor(CONTACTS, erased, [KEY])(dict(row))["email"] == "ada@example.org"
    assert redactor(CONTACTS, erased, [KEY, OLD_KEY])(dict(row))["email"] is None


def test_ids_find_rows_whose_email_is_already_gone_and_deals_naming_a_contact() -> None:
    erased = Suppressed()
    erased.ids["customer_id"].add("14")
    erased.ids["contact_id"].add("3362")
    table = pa.table(
        {
            "customer_id": pa.array([14, 15], pa.int64()),
            "email": ["", "c@example.org"],
            "first_name": ["Leah", "Carl"],
            "has_valid_email": [True, True],
        }
    )
    out = redactor(CUSTOMERS, erased, [KEY])(table)
    assert out.to_pylist() == [
        {"customer_id": 14, "email": None, "first_name": None, "has_valid_email": None},
        {
            "customer_id": 15,
            "email": "c@example.org",
            "first_name": "Carl",
            "has_valid_email": True,
        },
    ]
    assert out.schema == table.schema
    deals = redactor(DEALS, erased, [KEY])
    assert deals({"dealname": "Leah B - order 1", "associated_contact_ids": '["3362"]'}) == {
        "dealname": None,
        "associated_contact_ids": '["3362"]',
    }
    kept = {"dealname": "Carl C - order 2", "associated_contact_ids": ["9", "10"]}
    assert deals(dict(kept)) == kept


def test_an_empty_list_changes_nothing_and_the_development_key_is_the_default() -> None:
    row = {"id": "7", "email": "ada@example.org", "firstname": "Ada", "phone": None}
    assert redactor(CONTACTS, Suppressed(), [KEY])(dict(row)) == row
    assert not Suppressed()
    assert key_from_env({}) != KEY
