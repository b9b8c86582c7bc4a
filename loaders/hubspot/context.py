"""What every HubSpot resource shares: the run's context (client, raw, metrics, lags), the CRM
objects docs/spec.md §1c reads, and the versions raw already holds."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import dlt
from dlt.common.schema.typing import TColumnSchema
from dlt.sources.helpers.rest_client.client import RESTClient

from loaders.engine.deletes import RawAccess
from loaders.hubspot.client import MissingScopes, check_response
from loaders.shared.errors import LoaderError
from loaders.shared.types import Progress, TableMetrics

PAGE = 100  # list endpoints


SEARCH_PAGE = 200


BATCH = 1000  # v4 association batch read


URL_BUDGET = 4000  # characters of a list request's URL (HubSpot refuses much longer ones)


@dataclasses.dataclass(frozen=True)
class CrmObject:
    name: str
    modified: str  # the last-modified property search filters and sorts on
    associations: tuple[str, ...]
    # the properties docs/spec.md §1c needs; the run fails if the portal lacks one
    required: tuple[str, ...]


CRM_OBJECTS = {
    "contacts": CrmObject(
        "contacts",
        "lastmodifieddate",
        ("companies",),
        (
            "email",
            "firstname",
            "lastname",
            "phone",
            "lifecyclestage",
            "hs_email_optout",
            "createdate",
            "lastmodifieddate",
        ),
    ),
    "companies": CrmObject(
        "companies",
        "hs_lastmodifieddate",
        (),
        ("name", "domain", "industry", "createdate", "hs_lastmodifieddate"),
    ),
    "deals": CrmObject(
        "deals",
        "hs_lastmodifieddate",
        ("contacts", "companies"),
        (
            "dealname",
            "amount",
            "dealstage",
            "pipeline",
            "closedate",
            "createdate",
            "hs_lastmodifieddate",
        ),
    ),
}


@dataclasses.dataclass
class HubSpotContext:
    client: RESTClient
    raw: RawAccess
    metrics: dict[str, TableMetrics]
    progress: Progress
    full_refresh: bool
    crm_lag_ms: int
    events_lag_ms: int
    now_ms: int = dataclasses.field(default_factory=lambda: int(time.time() * 1000))
    # Tables whose endpoint the portal did not serve this run: their cursors stay put, so
    # everything is read once the scope is granted.
    unserved: set[str] = dataclasses.field(default_factory=set)
    _properties: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    _seen: dict[str, set[bytes]] = dataclasses.field(default_factory=dict)

    def replaces(self, table: str) -> bool:
        """Whether this run writes `table` whole (`replace`) rather than merging into it: on a
        full refresh and on its first load. A merge deduplicates its staged rows by key in the
        database (a window over every row: at 2.4M email events it exhausts DuckDB's memory
        limit); a table written whole has each key once because its resource yields it once."""
        return self.full_refresh or not self.raw.has(table)

    def first_seen(
        self, table: str, rows: list[dict[str, Any]], key: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The rows whose key this run has not yielded yet, when `table` is written whole (a
        record listed twice, e.g. archived between the live and the archived pass, lands once:
        its first version; the next run's archived pass lands the later one). Keys are kept as
        16-byte digests: about 100 bytes a row, the price of no duplicate in raw."""
        if not self.replaces(table):
            return rows
        seen = self._seen.setdefault(table, set())
        fresh = []
        for row in rows:
            digest = hashlib.blake2b(
                "\x1f".join(str(row[k]) for k in key).encode(), digest_size=16
            ).digest()
            if digest not in seen:
                seen.add(digest)
                fresh.append(row)
        return fresh

    def properties(self, obj: str) -> list[str]:
        if obj not in self._properties:
            body = check_response(
                self.client.get(f"/crm/v3/properties/{obj}"), f"properties of {obj}"
            )
            names = sorted(p["name"] for p in body.get("results", []))
            missing = [p for p in CRM_OBJECTS[obj].required if p not in names]
            if missing:
                raise LoaderError(f"hubspot.{obj}: the portal has no property {', '.join(missing)}")
            self._properties[obj] = names
        return self._properties[obj]


def known_versions(
    ctx: HubSpotContext, table: str, key: str, version: str, where: str = ""
) -> set[str]:
    """'key|version' of rows raw holds (version as epoch ms when a timestamp)."""
    rows = ctx.raw.select(table, [key, version], where)
    if rows is None:
        return set()
    out = set()
    for k, v in zip(rows[key].to_pylist(), rows[version].to_pylist(), strict=True):
        if isinstance(v, datetime):
            v = int(v.timestamp() * 1000)
        out.add(f"{k}|{v}")
    return out


def empty_table(hints: list[TColumnSchema]) -> Any:
    """What a resource yields when it read nothing: its table, empty, with every declared column."""
    return dlt.mark.with_hints(
        dlt.mark.materialize_table_schema(), dlt.mark.make_hints(columns=hints)
    )


def unless_missing_scope(
    ctx: HubSpotContext, table: str, pages: Iterator[list[dict[str, Any]]]
) -> Iterator[list[dict[str, Any]]]:
    """Pages of an endpoint a portal may not serve (marketing APIs need Marketing Hub): a 403
    MISSING_SCOPES there means no rows and a one-line warning naming the scope, not a failure."""
    try:
        yield from pages
    except MissingScopes as exc:
        scopes = ", ".join(exc.scopes) or "unknown"
        ctx.progress.emit(
            f"  hubspot.{table}: warning: the private app lacks scope {scopes} "
            "(403 MISSING_SCOPES); nothing read, the table stays as it was (empty at first)"
        )
        ctx.metrics[table].note = f"missing scope {scopes}: nothing read"
        ctx.unserved.add(table)


ID_HINT: TColumnSchema = {"name": "id", "data_type": "text", "nullable": False, "primary_key": True}
