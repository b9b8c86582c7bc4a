"""Shared fixtures live in tests/fixtures; this file registers them and says how the suite is
split across workers when pytest-xdist runs it (`-n 2 --dist loadgroup`, as ./scripts/test does)."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.stream_servers",
    "tests.fixtures.worlds",
    "tests.fixtures.loading",
    "tests.fixtures.hubspot",
    "tests.fixtures.dbt",
    "tests.fixtures.orchestration",
]

# Modules that share one Dagster world (ops_world) run on one worker, in collection order:
# the world is made once, and the in-process materializations keep their order.
SHARED_WORKER = {"tests/orchestration/": "orchestration"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each module's tests run on one worker, so its module-scoped fixtures (a world, a build)
    are made once; a session fixture is made once per worker that needs it."""
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        path = item.nodeid.split("::", 1)[0]
        group = next((g for prefix, g in SHARED_WORKER.items() if path.startswith(prefix)), path)
        item.add_marker(pytest.mark.xdist_group(group))
