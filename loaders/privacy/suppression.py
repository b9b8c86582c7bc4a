"""Erased people stay erased: the suppression list, and what PII raw holds of whom.

PII is declared once, in the dbt YAML: `meta: {pii: email | name | phone | address |
keyed_hash}` on a column, and on a table `meta: {pii_subject: {<id kind>: <column>}}` saying
whose PII a row holds (`customer_id`, `contact_id`, or `contact_ids_json`: a JSON list of
contact ids). A row belongs to an erased person when one of its `pii: email` columns hashes,
normalised, to their keyed hash, or when its subject column names one of their ids.

`python -m loaders.erase` writes the person into `privacy.erased_subjects` (keyed hash and ids,
never clear text). Every later load reads that list and blanks the declared PII columns of
their rows before anything lands (`suppression_maps`), so raw never gets them back while the
source systems still hold them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml  # type: ignore[import-untyped]

from loaders.privacy.pii import key_from_env, keyed_hash, previous_keys_from_env

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = "privacy"
SUBJECTS = "erased_subjects"  # request_id, subject_hash, customer_id, contact_id, erased_at
REQUESTS = "erasure_requests"  # request_id, subject_hash, requested_at, relation, rows_touched
ID_KINDS = ("customer_id", "contact_id")


@dataclasses.dataclass(frozen=True)
class TablePii:
    """The declared PII columns of one table (column -> kind) and its subject columns."""

    columns: Mapping[str, str]
    subject: Mapping[str, str]  # id kind -> column

    @property
    def emails(self) -> list[str]:
        return [c for c, kind in self.columns.items() if kind == "email"]


@dataclasses.dataclass
class Suppressed:
    """The erased people: their keyed hashes and their ids in each source system."""

    hashes: set[str] = dataclasses.field(default_factory=set)
    ids: dict[str, set[str]] = dataclasses.field(
        default_factory=lambda: {kind: set() for kind in ID_KINDS}
    )

    def __bool__(self) -> bool:
        return bool(self.hashes or any(self.ids.values()))


def table_pii(meta: Mapping[str, Any], columns: Sequence[Mapping[str, Any]]) -> TablePii | None:
    """A table's declaration from its YAML (or manifest) meta and columns; None without PII."""
    declared = {}
    for column in columns:
        kind = {**column.get("meta", {}), **column.get("config", {}).get("meta", {})}.get("pii")
        if kind:
            declared[str(column["name"]).lower()] = str(kind)
    if not declared:
        return None
    subject = {k: str(v).lower() for k, v in (meta.get("pii_subject") or {}).items()}
    return TablePii(declared, subject)


def source_pii(root: Path = ROOT) -> dict[tuple[str, str], TablePii]:
    """(source, table) -> what its raw table holds, from the sources' YAML."""
    out: dict[tuple[str, str], TablePii] = {}
    for path in sorted((root / "models").rglob("_*__sources.yml")):
        for source in yaml.safe_load(path.read_text()).get("sources", []):
            for table in source.get("tables", []):
                meta = {**table.get("meta", {}), **table.get("config", {}).get("meta", {})}
                pii = table_pii(meta, table.get("columns", []))
                if pii:
                    out[(source["name"], table["name"])] = pii
    return out


def read_suppressed(rows: Callable[[str], Sequence[Sequence[Any]]]) -> Suppressed:
    """The suppression list, through a query on the destination (empty before any erasure)."""
    ((exists,),) = rows(
        "select count(*) from information_schema.tables"
        f" where lower(table_schema) = '{SCHEMA}' and lower(table_name) = '{SUBJECTS}'"
    )
    out = Suppressed()
    if not exists:
        return out
    for subject, *ids in rows(
        f"select subject_hash, {', '.join(ID_KINDS)} from {SCHEMA}.{SUBJECTS}"
    ):
        if subject:
            out.hashes.add(subject)
        for kind, value in zip(ID_KINDS, ids, strict=True):
            if value is not None:
                out.ids[kind].add(str(value))
    return out


def normalised(email: str) -> str:
    """How the warehouse normalises an email before hashing it (staging: lower, trimmed)."""
    return email.strip().lower()


def subject_hash(email: str, key: bytes) -> str:
    """The erased person's key in the suppression list and the audit: keyed like the marts'
    hashes but distinct from them (`erasure:` before the normalised email), so that once
    the marts' `email_key` is gone no table holds it."""
    return keyed_hash("erasure:" + normalised(email), key)


def _contact_ids(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [str(v) for v in value] if isinstance(value, list) else []


def belongs(
    pii: TablePii, row: Mapping[str, Any], erased: Suppressed, keys: Sequence[bytes]
) -> bool:
    """Whether a row (column -> value, lower-case names) holds an erased person's PII; `keys`
    are the current PII key and those rotated out."""
    for column in pii.emails:
        value = row.get(column)
        if isinstance(value, str) and any(subject_hash(value, k) in erased.hashes for k in keys):
            return True
    for kind, column in pii.subject.items():
        value = row.get(column)
        if kind == "contact_ids_json":
            if any(c in erased.ids["contact_id"] for c in _contact_ids(value)):
                return True
        elif value is not None and str(value) in erased.ids.get(kind, set()):
            return True
    return False


def redactor(pii: TablePii, erased: Suppressed, keys: Sequence[bytes]) -> Callable[[Any], Any]:
    """A dlt map step: blanks the declared PII columns of the erased people's rows (a dict
    row, or every matching row of an Arrow table). Other rows pass untouched."""

    def redact_row(row: dict[str, Any]) -> dict[str, Any]:
        lowered = {k.lower(): v for k, v in row.items()}
        if belongs(pii, lowered, erased, keys):
            for name in row:
                if name.lower() in pii.columns:
                    row[name] = None
        return row

    def redact(item: Any) -> Any:
        if isinstance(item, dict):
            return redact_row(item)
        if isinstance(item, pa.Table):
            names = {n.lower(): n for n in item.column_names}
            wanted = [names[c] for c in {*pii.emails, *pii.subject.values()} if c in names]
            rows = item.select(wanted).to_pylist()
            mask = pa.array(
                [belongs(pii, {k.lower(): v for k, v in r.items()}, erased, keys) for r in rows],
                pa.bool_(),
            )
            if not pc.any(mask).as_py():
                return item
            for lower, name in names.items():
                if lower in pii.columns:
                    i = item.column_names.index(name)
                    column = item.column(name)
                    blank = pa.nulls(len(item), column.type)
                    item = item.set_column(i, name, pc.if_else(mask, blank, column))
            return item
        return item

    return redact


def suppression_maps(
    source: str, resources: Sequence[Any], rows: Callable[[str], Sequence[Sequence[Any]]]
) -> int:
    """Adds the redacting map step to each resource whose raw table holds declared PII, when
    anyone is erased; the number of resources it guards."""
    declared = {table: pii for (src, table), pii in source_pii().items() if src == source}
    guarded = [r for r in resources if r.name in declared]
    if not guarded:
        return 0
    erased = read_suppressed(rows)
    if not erased:
        return 0
    keys = [key_from_env(), *previous_keys_from_env()]
    for resource in guarded:
        resource.add_map(redactor(declared[resource.name], erased, keys))
    return len(guarded)
