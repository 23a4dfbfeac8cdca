"""What a command that runs the business reads first: the settings and the catalog, each
problem reported by name with exit 2, and the clock set as the settings say."""

from __future__ import annotations

from cli.errors import EXIT_CONFIG, CommandError
from core import clock
from core.catalog import Catalog, CatalogError
from core.catalog_file import load_catalog
from core.settings import Settings, SettingsError, load_settings


def settings_and_catalog() -> tuple[Settings, Catalog]:
    try:
        settings = load_settings()
        catalog = load_catalog(settings.catalog_path)
    except (SettingsError, CatalogError) as exc:
        raise CommandError(str(exc), EXIT_CONFIG) from None
    clock.set_shift(settings.clock_shift_seconds)
    return settings, catalog
