"""`tinkertank demo-catalog` and `tinkertank demo-history`: what `make run`'s demo sells and
the past weeks it opens on."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.configuration import settings_and_catalog
from cli.errors import EXIT_CONFIG, EXIT_UNAVAILABLE, CommandError
from core import clock
from core.catalog import CatalogError
from core.catalog_file import parse_catalog as load_catalog_text
from core.settings import SettingsError, clock_shift_seconds
from store.database import DatabaseUnavailable


def demo_catalog(args: argparse.Namespace) -> None:
    """Write the catalog file moved to start just after today, with this week's camp, an Ignite
    term around today and parties from today (`make run`'s demo)."""
    from core.demo_catalog import demo_catalog as this_weeks_catalog

    try:
        text = Path(args.source).read_text(encoding="utf-8")
        catalog = load_catalog_text(text, args.source)
    except OSError as exc:
        raise CommandError(f"cannot read {args.source}: {exc.strerror}", EXIT_CONFIG) from None
    except CatalogError as exc:
        raise CommandError(str(exc), EXIT_CONFIG) from None
    if args.today is None:
        try:
            clock.set_shift(clock_shift_seconds())
        except SettingsError as exc:
            raise CommandError(str(exc), EXIT_CONFIG) from None
    today = args.today or clock.now().astimezone(catalog.tz).date()
    moved = this_weeks_catalog(text, today)
    try:
        load_catalog_text(moved, args.out)
    except CatalogError as exc:
        raise CommandError(f"the moved catalog is not valid: {exc}", EXIT_CONFIG) from None
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(moved, encoding="utf-8")
    print(f"{args.out}: {args.source} moved to start after {today}, with this week's camp")


def demo_history(args: argparse.Namespace) -> None:
    """The demo's past weeks, played into the database before the sidecar starts."""
    from cli.demo_history import play
    from store.database import Database

    settings, catalog = settings_and_catalog()
    try:
        database = Database.open(settings.database, settings.duckdb_memory_limit)
    except DatabaseUnavailable as exc:
        raise CommandError(str(exc), EXIT_UNAVAILABLE) from None
    try:
        play(database, catalog, settings, args.days, args.per_day)
    finally:
        database.close()
