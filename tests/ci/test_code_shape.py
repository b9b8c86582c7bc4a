"""Rooms a newcomer can read: no module over 400 lines, no function over 80, and nothing private
imported from another module, in the code the project runs and ships (loaders, orchestration,
reports, world, benchmarks, scripts), and in the tests. One test module runs longer: its
tests share the world its fixture builds, changing it in turn (split, each part would build
the world again)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = ("loaders", "orchestration", "reports", "world", "benchmarks", "scripts")
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 80
# A day of change on one built world, its tests in order (65 s to build the world).
LONG_SCENARIOS = {"tests/warehouse/test_incremental_and_history.py"}


def modules(*roots: str) -> list[Path]:
    return sorted(p for root in roots for p in (ROOT / root).rglob("*.py"))


def private_imports(path: Path) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}: from {node.module} import {alias.name}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in modules(*CODE, "tests")
        if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES
        and str(p.relative_to(ROOT)) not in LONG_SCENARIOS
    }
    assert not long, long


def test_no_function_is_over_80_lines() -> None:
    long = {
        f"{p.relative_to(ROOT)}:{node.lineno} {node.name}": size
        for p in modules(*CODE, "tests")
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (size := (node.end_lineno or node.lineno) - node.lineno + 1) > MAX_FUNCTION_LINES
    }
    assert not long, long


def test_nothing_private_is_imported_from_another_module() -> None:
    found = [line for p in modules(*CODE, "tests") for line in private_imports(p)]
    assert not found, found
