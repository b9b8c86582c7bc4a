"""The DuckDB warehouse: its file and the settings every session on it runs with.

The dbt profile (profiles.yml, `config_options`) reads the same environment variables, so that
the loaders, dbt and the reports are bounded alike: DuckDB's buffer manager stays under
`memory_limit` and spills to `temp_directory` past it. dbt's default limit is 1500MB: it runs two
queries at once in one database.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from loaders.settings import LoaderSettings, settings


def duckdb_path() -> str:
    """The warehouse's DuckDB file, as the loaders and the dbt profile name it: every command's
    default (SHOPSPHERE_DUCKDB_PATH, else data/warehouse.duckdb from where it runs)."""
    return settings().duckdb_path


def duckdb_temp_dir(cfg: LoaderSettings | None = None) -> str:
    """Where DuckDB spills past its memory limit: SHOPSPHERE_DUCKDB_TEMP_DIR, else beside the
    warehouse file (`<file>.tmp`, DuckDB's own default), created so that a run from any folder
    can spill."""
    path = Path((cfg or settings()).duckdb_temp_dir)
    with contextlib.suppress(OSError):  # a read-only place: DuckDB names it if it must spill
        path.mkdir(parents=True, exist_ok=True)
    return str(path)


def duckdb_settings() -> dict[str, str | bool | int | float | list[str]]:
    """DuckDB's global settings for a session on the warehouse (profiles.yml has the same)."""
    cfg = settings()
    return {
        "memory_limit": cfg.duckdb_memory_limit,
        "threads": cfg.duckdb_threads,
        "temp_directory": duckdb_temp_dir(cfg),
        "preserve_insertion_order": False,
    }


@contextlib.contextmanager
def held_open(destination: str) -> Iterator[None]:
    """The warehouse file held open for a whole source run (inside its warehouse lock).

    dlt opens and closes a DuckDB connection per step and per job, and DuckDB checkpoints the
    file whenever its last connection closes: about ten checkpoints a run, 0.05-0.2 s each on a
    2M-order warehouse whatever the run wrote. Held open, the run checkpoints once, when it
    ends; what it committed is in the WAL meanwhile, as durable as before."""
    if destination != "duckdb":
        yield
        return
    import duckdb

    Path(duckdb_path()).parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(duckdb_path())
    except duckdb.Error:  # locked by another program, say: dlt's own connection says so
        yield
        return
    try:
        yield
    finally:
        con.close()
