"""The source registry: every source the project lands, declared once.

A source is a package `loaders/<name>` declaring `SOURCE`: a `SqlSourceSpec` (a database the
loaders' SQL engine reads: from its change stream or by cursor, its deletes found and kept as
deleted keys, reconciled weekly) or an `ApiSourceSpec` (a source with a loader of its own:
HubSpot's). `NAMES` is the order `python -m loaders.run --source all` runs them. The loaders'
CLI, the Dagster assets and jobs and the monitoring read this module, and a test holds each
dbt sources file to it (docs/loaders.md, "Adding a source table or a source").
"""

from __future__ import annotations

import importlib

from loaders.shared.errors import LoaderError
from loaders.shared.types import ApiSourceSpec, SqlSourceSpec

NAMES = ("shop", "catalog", "hubspot")

SourceSpec = SqlSourceSpec | ApiSourceSpec


def source(name: str) -> SourceSpec:
    """The declaration of the source `name` (loaders.<name>.SOURCE)."""
    if name not in NAMES:
        raise LoaderError(f"{name}: not a source of loaders.sources.NAMES ({', '.join(NAMES)})")
    spec = importlib.import_module(f"{__package__}.{name}").SOURCE
    if not isinstance(spec, SqlSourceSpec | ApiSourceSpec) or spec.name != name:
        raise LoaderError(f"{name}: loaders.{name}.SOURCE is not this source's declaration")
    return spec


def sources() -> list[SourceSpec]:
    return [source(name) for name in NAMES]


def is_sql(name: str) -> bool:
    """Whether `name` is a SQL source: streamed, reconciled, its deleted keys kept."""
    return isinstance(source(name), SqlSourceSpec)


def sql_source(name: str) -> SqlSourceSpec:
    spec = source(name)
    if not isinstance(spec, SqlSourceSpec):
        raise LoaderError(f"{name}: not a SQL source")
    return spec


def sql_sources() -> list[SqlSourceSpec]:
    return [spec for spec in sources() if isinstance(spec, SqlSourceSpec)]
