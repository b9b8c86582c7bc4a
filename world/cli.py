"""`python -m world ...`: create, change, serve and inspect the source world.

    python -m world create --orders 20000 --seed 42     # fill shop, catalog and the HubSpot portal
    python -m world create --variant                    # ... with what production holds and the
                                                        # default world never makes (world/variant.py)
    python -m world change --fraction 0.01 [--new-column]
    python -m world serve-hubspot --port 8765
    python -m world env                                 # the loaders' settings for this world
    python -m world stop                                # stop the embedded PostgreSQL, if any

Real servers are used when `--shop-url`/`SHOP_DATABASE_URL` and `--catalog-url`/
`CATALOG_DATABASE_URL` are set; otherwise embedded stand-ins (SQLite, embedded PostgreSQL) live
under the world directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from world.config import WorldConfig, default_as_of

DEFAULT_WORLD_DIR = "data/world"
# The emulator's token: it guards nothing but a local test portal.
DEFAULT_TOKEN = "pat-na1-emulator-token"  # noqa: S105


@dataclasses.dataclass
class Manifest:
    """What a world directory holds: how it was made and where its systems are."""

    seed: int
    orders: int
    as_of: str
    contacts: int | None
    shop_url: str
    catalog_url: str
    hubspot_store: str
    changes: int = 0
    report: dict[str, Any] = dataclasses.field(default_factory=dict)
    variant: dict[str, int] = dataclasses.field(default_factory=dict)  # surprise -> rows

    @staticmethod
    def path(world_dir: str) -> Path:
        return Path(world_dir) / "manifest.json"

    def save(self, world_dir: str) -> None:
        self.path(world_dir).write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, world_dir: str) -> Manifest:
        path = cls.path(world_dir)
        if not path.exists():
            raise SystemExit(f"world: no world in {world_dir} (run `python -m world create` first)")
        return cls(**json.loads(path.read_text()))


def resolve_urls(world_dir: str, shop_url: str | None, catalog_url: str | None) -> tuple[str, str]:
    """Explicit URL, else environment, else the embedded stand-in."""
    from world import embedded

    shop = shop_url or os.environ.get("SHOP_DATABASE_URL") or embedded.embedded_shop_url(world_dir)
    catalog = (
        catalog_url
        or os.environ.get("CATALOG_DATABASE_URL")
        or embedded.embedded_catalog_url(world_dir)
    )
    return shop, catalog


def create_world(
    cfg: WorldConfig,
    world_dir: str,
    shop_url: str,
    catalog_url: str,
    quiet: bool = False,
    variant: bool = False,
) -> tuple[Manifest, dict[str, float], dict[str, int]]:
    """Generate `cfg` and load it into the shop, the catalog and the HubSpot store; with
    `variant`, then apply world.variant's surprises to them."""
    from world.catalog.db import CatalogDB
    from world.generate import generate
    from world.hubspot.store import HubSpotStore
    from world.shop.db import ShopDB

    Path(world_dir).mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    rows: dict[str, int] = {}

    def step(name: str, fn: Any) -> Any:
        t0 = time.perf_counter()
        out = fn()
        timings[name] = time.perf_counter() - t0
        if not quiet:
            print(f"  {name:<28} {timings[name]:7.1f} s", flush=True)
        return out

    world = step("generate", lambda: generate(cfg))
    shop, catalog = ShopDB(shop_url), CatalogDB(catalog_url)
    step("shop: create tables", shop.recreate)
    rows.update(
        {f"shop.{k}": v for k, v in step("shop: bulk load", lambda: shop.load(world.db)).items()}
    )
    step("catalog: create schema", catalog.recreate)
    rows.update(
        {
            f"catalog.{k}": v
            for k, v in step("catalog: bulk load", lambda: catalog.load(world.db)).items()
        }
    )
    store_path = str(Path(world_dir).resolve() / "hubspot.sqlite")
    store = HubSpotStore(store_path)
    store.recreate()
    created = cfg.as_of.strftime("%Y-%m-%dT00:00:00.000Z")
    rows.update(
        {
            f"hubspot.{k}": v
            for k, v in step("hubspot: load portal", lambda: store.load(world.db, created)).items()
        }
    )
    report = world.report()
    surprises: dict[str, int] = {}
    if variant:
        from world.variant import apply_variant, future_orders

        surprises = step(
            "variant: surprises", lambda: apply_variant(shop, catalog, store, cfg.as_of)
        )
        # Orders moved years back or far ahead change how many are in the future.
        report["future_placed_at"]["rows"] = future_orders(shop, cfg.as_of)
        report["future_placed_at"]["rate"] = round(
            report["future_placed_at"]["rows"] / report["future_placed_at"]["of"], 5
        )
    manifest = Manifest(
        seed=cfg.seed,
        orders=cfg.orders,
        as_of=cfg.as_of.date().isoformat(),
        contacts=cfg.contacts,
        shop_url=shop_url,
        catalog_url=catalog_url,
        hubspot_store=store_path,
        report=report,
        variant=surprises,
    )
    manifest.save(world_dir)
    return manifest, timings, rows


def print_report(report: dict[str, Any]) -> None:
    print(f"\n  {'defect (docs/spec.md §2)':<26} {'table':<22} {'rows':>8} {'of':>10} {'rate':>8}")
    for case, r in report.items():
        print(f"  {case:<26} {r['table']:<22} {r['rows']:>8} {r['of']:>10} {r['rate']:>8.2%}")


def cmd_create(args: argparse.Namespace) -> int:
    as_of = datetime.fromisoformat(args.as_of) if args.as_of else default_as_of()
    cfg = WorldConfig(orders=args.orders, seed=args.seed, as_of=as_of, contacts=args.contacts)
    shop_url, catalog_url = resolve_urls(args.world_dir, args.shop_url, args.catalog_url)
    from world.urls import redact

    print(f"world: {cfg.orders} orders, seed {cfg.seed}, as of {cfg.as_of.date()}")
    print(f"  shop    {redact(shop_url)}\n  catalog {redact(catalog_url)}")
    t0 = time.perf_counter()
    manifest, timings, rows = create_world(
        cfg, args.world_dir, shop_url, catalog_url, variant=args.variant
    )
    total = time.perf_counter() - t0
    shop_catalog = sum(
        v for k, v in timings.items() if k.startswith(("generate", "shop", "catalog"))
    )
    print(f"  {'total':<28} {total:7.1f} s   (generate + shop + catalog: {shop_catalog:.1f} s)")
    print("\n  " + "  ".join(f"{k}={v}" for k, v in rows.items()))
    print_report(manifest.report)
    if manifest.variant:
        print(f"\n  {'variant surprise':<48} {'rows':>8}")
        for surprise, count in manifest.variant.items():
            print(f"  {surprise:<48} {count:>8}")
    return 0


def cmd_change(args: argparse.Namespace) -> int:
    from world.catalog.db import CatalogDB
    from world.change import apply_change
    from world.hubspot.store import HubSpotStore
    from world.shop.db import ShopDB

    manifest = Manifest.load(args.world_dir)
    if manifest.catalog_url.startswith("postgresql://postgres@/"):
        from world import embedded

        embedded.postgres_server(args.world_dir)
    manifest.changes += 1
    t0 = time.perf_counter()
    report = apply_change(
        ShopDB(manifest.shop_url),
        CatalogDB(manifest.catalog_url),
        HubSpotStore(manifest.hubspot_store),
        manifest.seed,
        manifest.changes,
        fraction=args.fraction,
        new_column=args.new_column,
    )
    manifest.save(args.world_dir)
    print(f"world: change #{manifest.changes} applied in {time.perf_counter() - t0:.1f} s")
    for k, v in report.counts.items():
        print(f"  {k:<36} {v:>8}")
    if report.new_column:
        print(f"  new column catalog.products.{report.new_column}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from world.hubspot.emulator import EmulatorConfig, serve

    manifest = Manifest.load(args.world_dir)
    serve(manifest.hubspot_store, args.host, args.port, EmulatorConfig(tokens={args.token}))
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    from world.urls import DbUrl

    manifest = Manifest.load(args.world_dir)
    print(f"export SOURCES__SHOP__CREDENTIALS='{DbUrl.parse(manifest.shop_url).sqlalchemy()}'")
    print(
        f"export SOURCES__CATALOG__CREDENTIALS='{DbUrl.parse(manifest.catalog_url).sqlalchemy()}'"
    )
    print(f"export SOURCES__HUBSPOT__ACCESS_TOKEN='{DEFAULT_TOKEN}'")
    print(f"export SOURCES__HUBSPOT__BASE_URL='http://127.0.0.1:{args.port}'")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from world import embedded

    print(
        "world: embedded PostgreSQL stopped"
        if embedded.stop_postgres(args.world_dir)
        else "world: no embedded PostgreSQL running"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m world",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--world-dir", default=DEFAULT_WORLD_DIR)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="generate and load a world")
    create.add_argument("--orders", type=int, default=20_000)
    create.add_argument("--seed", type=int, default=42)
    create.add_argument("--as-of", help="YYYY-MM-DD the history ends (default: today, UTC)")
    create.add_argument("--contacts", type=int, help="HubSpot contacts (default: from customers)")
    create.add_argument("--shop-url")
    create.add_argument("--catalog-url")
    create.add_argument(
        "--variant",
        action="store_true",
        help="add what production holds and the default world never makes (world/variant.py)",
    )
    create.set_defaults(func=cmd_create)
    change = sub.add_parser("change", help="apply a day of change")
    change.add_argument("--fraction", type=float, default=0.01)
    change.add_argument(
        "--new-column", action="store_true", help="add a column to catalog.products"
    )
    change.set_defaults(func=cmd_change)
    serve = sub.add_parser("serve-hubspot", help="serve the HubSpot emulator")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--token", default=DEFAULT_TOKEN)
    serve.set_defaults(func=cmd_serve)
    env = sub.add_parser("env", help="print the loaders' settings for this world")
    env.add_argument("--port", type=int, default=8765)
    env.set_defaults(func=cmd_env)
    stop = sub.add_parser("stop", help="stop the embedded PostgreSQL")
    stop.set_defaults(func=cmd_stop)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (OSError, ValueError) as exc:
        print(f"world: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
