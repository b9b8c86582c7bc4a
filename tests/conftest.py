"""Shared fixtures live in tests/fixtures; this file only registers them."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.stream_servers",
    "tests.fixtures.worlds",
    "tests.fixtures.loading",
    "tests.fixtures.hubspot",
    "tests.fixtures.dbt",
    "tests.fixtures.orchestration",
]
