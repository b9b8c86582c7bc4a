"""The world a benchmark measures: the `python -m world create` command each one runs its own
way (a measured step, a checked subprocess), or nothing when it keeps the last one."""

from __future__ import annotations

import sys
from pathlib import Path


def create_world_command(
    world_dir: str | Path,
    orders: int,
    shop_url: str,
    catalog_url: str,
    contacts: int | None = None,
    reuse: bool = False,
) -> list[str] | None:
    """The command that creates the world in `world_dir`, or None when `reuse` keeps the one
    already there (`--reuse-world`)."""
    if reuse and (Path(world_dir) / "manifest.json").exists():
        return None
    argv = [sys.executable, "-m", "world", "--world-dir", str(world_dir), "create"]
    argv += ["--orders", str(orders), "--shop-url", shop_url, "--catalog-url", catalog_url]
    if contacts:
        argv += ["--contacts", str(contacts)]
    return argv
