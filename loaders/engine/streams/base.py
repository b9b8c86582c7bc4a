"""What every change stream shares: positions, the changes a run collects, and the interface.

A stream is read from a stored position to the server's end as it stood when the read began,
and only whole transactions are kept: the position handed back is the end of the last
transaction read, so a run that stops anywhere is redone from there. The changes are
collapsed per primary key as they arrive (the last image wins, a delete is a key with no
image), so a day costs memory for the rows the day touched, not for its events.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from loaders.shared.errors import LoaderError
from loaders.shared.types import StreamHealth

# A column value the stream did not carry (PostgreSQL's unchanged TOAST values): the row is
# read again from the source by its key.
UNCHANGED = object()


class LostPosition(LoaderError):
    """The stored position can no longer be read (purged, dropped, another server)."""


@dataclasses.dataclass
class TableChanges:
    """One table's changes in a run: the last image per key (None: deleted)."""

    rows: dict[tuple[Any, ...], dict[str, Any] | None] = dataclasses.field(default_factory=dict)
    truncated: bool = False  # emptied in the source: raw's keys not written again are deleted
    events: int = 0
    zero_dates: int = 0

    def upsert(self, key: tuple[Any, ...], row: dict[str, Any]) -> None:
        self.rows[key] = row
        self.events += 1

    def delete(self, key: tuple[Any, ...]) -> None:
        self.rows[key] = None
        self.events += 1

    def truncate(self) -> None:
        self.rows.clear()
        self.truncated = True
        self.events += 1

    @property
    def upserts(self) -> list[dict[str, Any]]:
        return [r for r in self.rows.values() if r is not None]

    @property
    def deleted_keys(self) -> list[tuple[Any, ...]]:
        return [k for k, r in self.rows.items() if r is None]


Pending = list[tuple[str, str, tuple[Any, ...], dict[str, Any] | None]]  # table, op, key, image


def apply_transaction(
    changes: Mapping[str, TableChanges],
    pending: Pending,
    at: tuple[Any, ...],
    after: Mapping[str, tuple[Any, ...]],
) -> None:
    """A whole transaction, ending at position `at`, into each table's changes; a table whose
    stored position is at or past `at` skips it (its copy already holds it). Empties `pending`."""
    for table, op, key, row in pending:
        if at <= after[table]:
            continue
        t = changes[table]
        if op == "truncate":
            t.truncate()
        elif row is None:
            t.delete(key)
        else:
            t.upsert(key, row)
    pending.clear()


class ChangeStream(ABC):
    """One source's change stream (MySQL binlog, PostgreSQL logical replication)."""

    kind: str
    text_values = False  # whether row images carry the server's text output, not typed values
    lost_reason = ""  # set when this run found the stored position lost (for the audit)

    def __init__(self, source: str, tables: Sequence[str]) -> None:
        self.source = source
        self.tables = list(tables)

    @abstractmethod
    def unavailable(self) -> str | None:
        """Why the server cannot stream (the missing setting or grant, in a phrase), or None."""

    @abstractmethod
    def identity(self) -> str:
        """The server's identity (MySQL server_uuid, PostgreSQL system identifier)."""

    @abstractmethod
    def prepare(self) -> dict[str, Any]:
        """Make the stream readable from now on and return the position of 'now': taken before a
        table is copied, so that replaying from it finishes the copy (PostgreSQL creates its
        slot and publication here)."""

    @abstractmethod
    def lost(self, position: Mapping[str, Any]) -> str | None:
        """What is lost if `position` cannot be read any more (purged, dropped, another
        server), or None."""

    @abstractmethod
    def read(
        self,
        since: Mapping[str, Mapping[str, Any]],
        key_columns: Mapping[str, Sequence[str]],
    ) -> tuple[dict[str, TableChanges], dict[str, Any]]:
        """The changes of whole transactions from each table's position in `since` to the
        server's end as it stood when the read began; and the position after them."""

    def confirm(self, position: Mapping[str, Any]) -> None:  # noqa: B027 - optional hook
        """Raw committed everything up to `position`: the server may release what precedes it."""

    @abstractmethod
    def health(self, position: Mapping[str, Any] | None) -> StreamHealth: ...

    @staticmethod
    @abstractmethod
    def order(position: Mapping[str, Any]) -> tuple[Any, ...]:
        """A sort key for positions of this stream."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    @staticmethod
    def describe(position: Mapping[str, Any]) -> str:
        return ", ".join(f"{k}={v}" for k, v in position.items() if k != "server")
