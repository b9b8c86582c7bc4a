"""PostgreSQL's `pgoutput` messages (protocol version 1) decoded into per-table changes.

Begin, Commit, Relation, Insert, Update, Delete, Truncate and logical Message are read; a
transaction's changes are applied when its Commit arrives, so only whole transactions land.
Values stay PostgreSQL's text output (the caller casts them to raw's types); an unchanged
TOASTed value, which the server does not send, is UNCHANGED.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from loaders.engine.streams.base import UNCHANGED, Pending, TableChanges, apply_transaction

HEARTBEAT_PREFIX = "shopsphere_heartbeat"


class Decoder:
    """pgoutput's messages (protocol version 1) into per-table changes, whole transactions only."""

    def __init__(
        self,
        schema: str,
        since: Mapping[str, Mapping[str, Any]],
        key_columns: Mapping[str, Sequence[str]],
        after: Mapping[str, tuple[int]],
    ) -> None:
        self.schema = schema
        self.key_columns = key_columns
        self.after = after
        self.changes = {t: TableChanges() for t in since}
        self.relations: dict[int, tuple[str, list[str]]] = {}
        self.pending: Pending = []
        self.heartbeat_end: int | None = None
        self._heartbeat_seen = False

    def feed(self, data: bytes, token: str) -> None:
        kind = data[:1]
        if kind == b"B":
            self.pending.clear()
        elif kind == b"C":
            (end,) = struct.unpack_from("!Q", data, 10)
            self._commit(end)
            if self._heartbeat_seen:
                self.heartbeat_end = end
        elif kind == b"R":
            self._relation(data)
        elif kind in (b"I", b"U", b"D"):
            self._row(kind, data)
        elif kind == b"T":
            (count,) = struct.unpack_from("!i", data, 1)
            oids = struct.unpack_from(f"!{count}I", data, 6)
            for oid in oids:
                table = self._table(oid)
                if table is not None:
                    self.pending.append((table, "truncate", (), None))
        elif kind == b"M":
            prefix, offset = _string(data, 10)
            (length,) = struct.unpack_from("!i", data, offset)
            content = data[offset + 4 : offset + 4 + length].decode()
            if prefix == HEARTBEAT_PREFIX and content == token:
                self._heartbeat_seen = True

    def _commit(self, end: int) -> None:
        apply_transaction(self.changes, self.pending, (end,), self.after)

    def _relation(self, data: bytes) -> None:
        (oid,) = struct.unpack_from("!I", data, 1)
        namespace, offset = _string(data, 5)
        name, offset = _string(data, offset)
        offset += 1  # replica identity
        (count,) = struct.unpack_from("!h", data, offset)
        offset += 2
        columns = []
        for _ in range(count):
            offset += 1  # flags
            column, offset = _string(data, offset)
            offset += 8  # type oid, type modifier
            columns.append(column)
        if namespace == self.schema and name in self.changes:
            self.relations[oid] = (name, columns)
        else:
            self.relations.pop(oid, None)

    def _table(self, oid: int) -> str | None:
        found = self.relations.get(oid)
        return found[0] if found else None

    def _row(self, kind: bytes, data: bytes) -> None:
        (oid,) = struct.unpack_from("!I", data, 1)
        found = self.relations.get(oid)
        offset = 5
        old: dict[str, Any] | None = None
        if kind in (b"U", b"D") and data[offset : offset + 1] in (b"K", b"O"):
            old, offset = _tuple(data, offset + 1, found[1] if found else [])
        new: dict[str, Any] | None = None
        if kind in (b"I", b"U"):
            new, offset = _tuple(data, offset + 1, found[1] if found else [])  # after 'N'
        if found is None:
            return
        table, _ = found
        keys = self.key_columns[table]
        if kind == b"D":
            assert old is not None
            self.pending.append((table, "row", tuple(old[k] for k in keys), None))
            return
        assert new is not None
        key = tuple(new[k] for k in keys)
        if old is not None and tuple(old.get(k) for k in keys) != key:  # the key itself changed
            self.pending.append((table, "row", tuple(old[k] for k in keys), None))
        if old is not None and any(v is UNCHANGED for v in new.values()):
            new = {k: (old.get(k, v) if v is UNCHANGED else v) for k, v in new.items()}
        self.pending.append((table, "row", key, new))


def _string(data: bytes, offset: int) -> tuple[str, int]:
    end = data.index(b"\0", offset)
    return data[offset:end].decode(), end + 1


def _tuple(data: bytes, offset: int, columns: Sequence[str]) -> tuple[dict[str, Any], int]:
    (count,) = struct.unpack_from("!h", data, offset)
    offset += 2
    values: dict[str, Any] = {}
    for i in range(count):
        kind = data[offset : offset + 1]
        offset += 1
        value: Any
        if kind == b"n":
            value = None
        elif kind == b"u":
            value = UNCHANGED
        else:
            (length,) = struct.unpack_from("!i", data, offset)
            offset += 4
            value = data[offset : offset + length].decode()
            offset += length
        values[columns[i] if i < len(columns) else f"column_{i}"] = value
    return values, offset
