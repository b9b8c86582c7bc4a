"""Shared fixtures live in tests/fixtures; this file only registers them.

./scripts/test runs the suite on SHOPSPHERE_TEST_WORKERS workers (default 2, `--dist
loadfile`): a module's tests run on one worker, in order, so a module-scoped fixture (a world,
a build) is made once; a session fixture is made once per worker that needs it."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.stream_servers",
    "tests.fixtures.worlds",
    "tests.fixtures.loading",
    "tests.fixtures.hubspot",
    "tests.fixtures.emulator_portal",
    "tests.fixtures.dbt",
    "tests.fixtures.orchestration",
]
