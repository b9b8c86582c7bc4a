"""What every endpoint shares: HubSpot's object names and defaults, its error body, and the
reading of query strings and filters."""

from __future__ import annotations

import re
import sqlite3
import uuid
from datetime import UTC, datetime
from typing import Any

from world.hubspot.store import MODIFIED_PROPERTY

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


def object_type_id(name: str) -> str:
    name = OBJECT_TYPE_IDS.get(name, name).lower()
    name = OBJECT_ALIASES.get(name, name)
    if name not in MODIFIED_PROPERTY:
        raise ApiError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {name}")
    return name


def one_param(query: dict[str, list[str]], key: str, default: str) -> str:
    values = query.get(key)
    return values[-1] if values else default


def csv_values(values: list[str] | None) -> list[str]:
    return [p.strip() for v in values or [] for p in v.split(",") if p.strip()]


DATETIME_PROPERTIES = {"createdate", "lastmodifieddate", "hs_lastmodifieddate", "closedate"}


def property_sql(obj: str, prop: str) -> str:
    if prop == MODIFIED_PROPERTY[obj]:
        return "updated_at"
    if prop == "hs_object_id":
        return "id"
    if not re.fullmatch(r"[a-z0-9_]+", prop):
        raise ApiError(400, "VALIDATION_ERROR", f"Invalid property name {prop!r}")
    return f"json_extract(properties, '$.{prop}')"


def filter_value_iso(value: str) -> str:
    """Filter values for datetime properties come as epoch millis or ISO 8601."""
    if re.fullmatch(r"-?\d+", value):
        dt = datetime.fromtimestamp(int(value) / 1000, UTC)
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    dt = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def filter_sql(obj: str, flt: dict[str, Any]) -> tuple[str, list[Any]]:
    prop = flt.get("propertyName", "")
    op = str(flt.get("operator", "EQ")).upper()
    col = property_sql(obj, prop)
    is_dt = prop in DATETIME_PROPERTIES or col == "updated_at"

    def conv(v: Any) -> Any:
        if v is None:
            return None
        if col == "id":
            return int(v)
        return filter_value_iso(str(v)) if is_dt else str(v)

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


def missing_scopes_error(context: dict[str, list[str]]) -> ApiError:
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


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Endpoints:
    """What the endpoints read: the store, one SQLite connection per serving thread."""

    def conn(self) -> sqlite3.Connection:
        raise NotImplementedError
