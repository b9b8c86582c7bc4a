"""The source registry (loaders/sources.py) is the one declaration of the sources: each dbt
sources file names the tables the loaders land, with their keys tested, and nothing else."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from loaders import sources as registry
from loaders.shared.types import SqlSourceSpec, deleted_keys_table

ROOT = Path(__file__).resolve().parents[2]
BOOKKEEPING = "_dlt_loads"


def _dbt_source(name: str) -> dict[str, Any]:
    path = ROOT / "models" / "staging" / name / f"_{name}__sources.yml"
    assert path.is_file(), f"{name}: no dbt sources file at {path.relative_to(ROOT)}"
    (declared,) = [s for s in yaml.safe_load(path.read_text())["sources"] if s["name"] == name]
    return dict(declared)


def _tests(entry: dict[str, Any]) -> list[Any]:
    return list(entry.get("data_tests") or entry.get("tests") or [])


def _test_names(entry: dict[str, Any]) -> set[str]:
    return {t if isinstance(t, str) else next(iter(t)) for t in _tests(entry)}


def test_the_registry_lists_each_source_once_in_its_run_order() -> None:
    names = [spec.name for spec in registry.sources()]
    assert names == list(registry.NAMES) == ["shop", "catalog", "hubspot"]
    assert [s.name for s in registry.sql_sources()] == ["shop", "catalog"]
    with pytest.raises(Exception, match="not a source"):
        registry.source("erp")


@pytest.mark.parametrize("name", registry.NAMES)
def test_the_dbt_sources_file_matches_the_loaders_declaration(name: str) -> None:
    spec = registry.source(name)
    source = _dbt_source(name)
    assert source["schema"] == spec.dataset
    assert source["meta"]["system"] == spec.system
    assert source["loader"] == f"dlt (loaders/{name})"
    tables = {t["name"]: t for t in source["tables"]}
    expected = {t.name for t in spec.tables} | {BOOKKEEPING}
    if isinstance(spec, SqlSourceSpec):  # the keys each load deleted, landed with their table
        expected |= {deleted_keys_table(t.name) for t in spec.tables}
    assert set(tables) == expected, f"{name}: dbt declares {sorted(tables)}"
    for table in spec.tables:
        entry = tables[table.name]
        columns = {c["name"]: c for c in entry.get("columns") or []}
        if len(table.primary_key) == 1:
            (key,) = table.primary_key
            assert key in columns, f"{name}.{table.name}: its key {key} is not declared"
            assert {"unique", "not_null"} <= _test_names(columns[key]), (
                f"{name}.{table.name}: its key {key} is not tested unique and not null"
            )
        else:
            combinations = [
                t["unique_combination_of_columns"]["arguments"]["combination_of_columns"]
                for t in _tests(entry)
                if isinstance(t, dict) and "unique_combination_of_columns" in t
            ]
            assert list(table.primary_key) in combinations, (
                f"{name}.{table.name}: its key {table.primary_key} is not tested unique"
            )
