"""CRM v3 objects (list, read, search, property definitions) and v4 association batch reads."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from world.hubspot.api.common import (
    ASSOCIATION_TYPES,
    DEFAULT_PROPERTIES,
    PUBLIC_BASE,
    SEARCH_CEILING,
    V3_ASSOCIATION_NAMES,
    ApiError,
    Endpoints,
    csv_values,
    filter_sql,
    now_iso,
    object_type_id,
    one_param,
    property_sql,
)


class CrmApi(Endpoints):
    def _properties(self, obj: str, requested: Iterable[str] | None) -> list[str]:
        props = [p for p in (requested or []) if p]
        return props or DEFAULT_PROPERTIES[obj]

    def _render(self, obj: str, row: sqlite3.Row, props: list[str]) -> dict[str, Any]:
        stored = json.loads(row["properties"])
        known = self._known_properties(obj)
        out: dict[str, Any] = {
            "id": str(row["id"]),
            "properties": {p: stored.get(p) for p in props if p in known},
            "createdAt": row["created_at"],
            "updatedAt": row["updated_at"],
            "archived": bool(row["archived"]),
        }
        if row["archived"]:
            out["archivedAt"] = row["archived_at"]
        return out

    def _known_properties(self, obj: str) -> set[str]:
        rows = self.conn().execute("select name from properties where object_type = ?", (obj,))
        return {r[0] for r in rows}

    def list_objects(self, obj: str, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = min(100, max(1, int(one_param(query, "limit", "10"))))
        after = int(one_param(query, "after", "0") or 0)
        archived = one_param(query, "archived", "false").lower() == "true"
        props = self._properties(obj, csv_values(query.get("properties")))
        rows = (
            self.conn()
            .execute(
                """select * from objects where object_type = ? and archived = ? and id > ?
               order by id limit ?""",
                (obj, int(archived), after, limit + 1),
            )
            .fetchall()
        )
        results = [self._render(obj, r, props) for r in rows[:limit]]
        assoc_types = [object_type_id(a) for a in csv_values(query.get("associations"))]
        for result in results:
            for to in assoc_types:
                ids = self._associated(obj, int(result["id"]), to)
                if ids:
                    name = V3_ASSOCIATION_NAMES.get((obj, to), f"{obj}_to_{to}")
                    result.setdefault("associations", {})[to] = {
                        "results": [{"id": str(i), "type": name} for i in ids]
                    }
        page: dict[str, Any] = {"results": results}
        if len(rows) > limit:
            nxt = results[-1]["id"]
            q = {k: v[-1] for k, v in query.items() if k != "after"}
            page["paging"] = {
                "next": {
                    "after": nxt,
                    "link": f"{PUBLIC_BASE}/crm/v3/objects/{obj}?{urlencode({**q, 'after': nxt})}",
                }
            }
        return page

    def read_object(self, obj: str, object_id: int, query: dict[str, list[str]]) -> dict[str, Any]:
        archived = one_param(query, "archived", "false").lower() == "true"
        row = (
            self.conn()
            .execute(
                "select * from objects where object_type = ? and id = ? and archived = ?",
                (obj, object_id, int(archived)),
            )
            .fetchone()
        )
        if row is None:
            raise ApiError(
                404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric."
            )
        return self._render(obj, row, self._properties(obj, csv_values(query.get("properties"))))

    def _associated(self, obj: str, object_id: int, to: str) -> list[int]:
        conn = self.conn()
        rows = conn.execute(
            "select to_id from associations where from_type = ? and from_id = ? and to_type = ?",
            (obj, object_id, to),
        ).fetchall()
        rows += conn.execute(
            "select from_id from associations where to_type = ? and to_id = ? and from_type = ?",
            (obj, object_id, to),
        ).fetchall()
        return sorted({r[0] for r in rows})

    def search_objects(self, obj: str, body: dict[str, Any]) -> dict[str, Any]:
        limit = int(body.get("limit", 10))
        if limit > 200:
            raise ApiError(400, "VALIDATION_ERROR", "limit must be less than or equal to 200")
        after = int(body.get("after") or 0)
        if after + limit > SEARCH_CEILING:
            raise ApiError(
                400,
                "VALIDATION_ERROR",
                f"There was a problem with the request. The search API returns at most {SEARCH_CEILING} "
                "results for any query; narrow the query to page further.",
            )
        groups = body.get("filterGroups") or []
        if len(groups) > 5 or sum(len(g.get("filters", [])) for g in groups) > 25:
            raise ApiError(400, "VALIDATION_ERROR", "Too many filter groups or filters")
        where, params = ["object_type = ?", "archived = 0"], [obj]
        if groups:
            ors = []
            for group in groups:
                ands = []
                for flt in group.get("filters", []):
                    sql, values = filter_sql(obj, flt)
                    ands.append(sql)
                    params += values
                ors.append("(" + " and ".join(ands or ["1 = 1"]) + ")")
            where.append("(" + " or ".join(ors) + ")")
        sorts = body.get("sorts") or []
        order = "id asc"
        if sorts:
            sort = sorts[0]
            if isinstance(sort, str):
                sort = {
                    "propertyName": sort.lstrip("-"),
                    "direction": "DESCENDING" if sort.startswith("-") else "ASCENDING",
                }
            direction = (
                "desc"
                if str(sort.get("direction", "ASCENDING")).upper().startswith("DESC")
                else "asc"
            )
            order = f"{property_sql(obj, sort['propertyName'])} {direction}, id {direction}"
        conn = self.conn()
        total = conn.execute(
            f"select count(*) from objects where {' and '.join(where)}", params
        ).fetchone()[0]
        rows = conn.execute(
            f"select * from objects where {' and '.join(where)} order by {order} limit ? offset ?",
            [*params, limit, after],
        ).fetchall()
        props = self._properties(obj, body.get("properties"))
        page: dict[str, Any] = {
            "total": total,
            "results": [self._render(obj, r, props) for r in rows],
        }
        if after + len(rows) < total:
            page["paging"] = {"next": {"after": str(after + len(rows))}}
        return page

    def list_properties(self, obj: str) -> dict[str, Any]:
        rows = (
            self.conn()
            .execute("select * from properties where object_type = ? order by name", (obj,))
            .fetchall()
        )
        return {
            "results": [
                {
                    "name": r["name"],
                    "label": r["label"],
                    "type": r["type"],
                    "fieldType": r["field_type"],
                    "groupName": r["group_name"],
                    "description": "",
                    "options": [],
                    "createdAt": r["created_at"],
                    "updatedAt": r["created_at"],
                    "displayOrder": -1,
                    "calculated": False,
                    "externalOptions": False,
                    "hasUniqueValue": r["name"] == "hs_object_id",
                    "hidden": False,
                    "hubspotDefined": not r["name"].startswith("custom_"),
                    "modificationMetadata": {
                        "archivable": True,
                        "readOnlyDefinition": True,
                        "readOnlyValue": False,
                    },
                    "formField": True,
                }
                for r in rows
            ]
        }

    def batch_associations(
        self, obj: str, to: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        inputs = body.get("inputs") or []
        if len(inputs) > 1000:
            raise ApiError(400, "VALIDATION_ERROR", "Batch size must be less than or equal to 1000")
        started = now_iso()
        types = ASSOCIATION_TYPES.get((obj, to), [(0, None)])
        results, errors = [], []
        exists = self.conn().execute
        for item in inputs:
            object_id = int(item["id"])
            ids = self._associated(obj, object_id, to)
            if not ids:
                found = exists(
                    "select 1 from objects where object_type = ? and id = ?", (obj, object_id)
                ).fetchone()
                if not found:
                    errors.append(
                        {
                            "status": "error",
                            "category": "OBJECT_NOT_FOUND",
                            "message": f"No {obj} with id {object_id} exists",
                            "context": {"fromObjectId": [str(object_id)]},
                        }
                    )
                continue
            results.append(
                {
                    "from": {"id": str(object_id)},
                    "to": [
                        {
                            "toObjectId": i,
                            "associationTypes": [
                                {"category": "HUBSPOT_DEFINED", "typeId": t, "label": label}
                                for t, label in types
                            ],
                        }
                        for i in ids
                    ],
                }
            )
        page: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": now_iso(),
        }
        if errors:
            page.update(errors=errors, numErrors=len(errors))
            return 207, page
        return 200, page
