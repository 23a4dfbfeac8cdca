from __future__ import annotations

from datetime import datetime

from dateutil.rrule import rrulestr

from core.catalog_file import load_catalog, parse_catalog
from core.schedule import ignite_class_dates, ignite_events, ignite_series
from store.bookings import upsert_event
from store.database import Database
from store.recurring import sync_templates
from tests.conftest import REPO

CATALOG_TEXT = (REPO / "data" / "catalog.toml").read_text()
CATALOG = load_catalog(REPO / "data" / "catalog.toml")
NOW = datetime(2026, 12, 1)


def _templates(database: Database) -> list[tuple]:
    return database.read(
        lambda c: c.execute(
            "SELECT template_id, product_id, sequence FROM recurring_templates ORDER BY 1"
        ).fetchall()
    )


def test_each_series_expands_to_exactly_the_programs_class_dates():
    for program in CATALOG.ignite:
        series = ignite_series(CATALOG, program.id)
        rule = rrulestr(series["rrule"], dtstart=series["dtstart"])
        excluded = set(series["exdates"])

        expanded = [start.date() for start in rule if start not in excluded]

        assert expanded == ignite_class_dates(CATALOG, program.id)


def test_sync_creates_one_template_per_program_and_is_idempotent(database: Database):
    assert database.write(sync_templates, CATALOG, NOW) == 3

    assert database.write(sync_templates, CATALOG, NOW) == 0
    assert _templates(database) == [
        ("tpl_ignite-coding-monday", "ignite-coding-monday", 0),
        ("tpl_ignite-engineering-thursday", "ignite-engineering-thursday", 0),
        ("tpl_ignite-robotics-wednesday", "ignite-robotics-wednesday", 0),
    ]


def test_a_changed_rule_raises_the_templates_sequence(database: Database):
    database.write(sync_templates, CATALOG, NOW)
    closed = CATALOG_TEXT.replace("excluded_dates = []", 'excluded_dates = ["2027-03-08"]', 1)

    changed = database.write(sync_templates, parse_catalog(closed), NOW)

    assert changed == 1
    assert ("tpl_ignite-coding-monday", "ignite-coding-monday", 1) in _templates(database)


def test_class_events_point_at_their_template(database: Database):
    planned = ignite_events(CATALOG, "ignite-coding-monday")[0]

    event_id = database.write(upsert_event, planned, NOW)

    row = database.read(
        lambda c: c.execute(
            "SELECT template_id FROM events WHERE event_id = ?", [event_id]
        ).fetchone()
    )
    assert row == ("tpl_ignite-coding-monday",)
