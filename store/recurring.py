"""Recurring templates: each Ignite program's weekly rule, kept in step with the catalog.

Synced at start (several sidecars starting at once on PostgreSQL take turns: `locks`).
A template whose rule changed (a new closure date, a moved term) gets a
higher SEQUENCE, so calendar clients that hold the series replace it (RFC 5545 §3.8.7.4).
"""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

from core.catalog import Catalog
from core.schedule import ignite_series, template_id
from store import locks


def sync_templates(conn: duckdb.DuckDBPyConnection, catalog: Catalog, now: datetime) -> int:
    """Create or update one template per Ignite program; returns how many changed."""
    locks.lock_keys(conn, locks.TEMPLATES, ["sync"])
    changed = 0
    for program in catalog.ignite:
        series = ignite_series(catalog, program.id)
        first_start = series["dtstart"].replace(tzinfo=None)  # local wall-clock time
        excluded = json.dumps([d.date().isoformat() for d in series["exdates"]])
        until = series["rrule"].rsplit("UNTIL=", 1)[1]
        until_date = datetime.strptime(until, "%Y%m%dT%H%M%SZ").date()
        rule = (series["rrule"], series["timezone"], first_start, program.duration_minutes,
                until_date, excluded)  # fmt: skip
        row = conn.execute(
            "SELECT rrule, timezone, first_start, duration_minutes, until_date, excluded_dates"
            " FROM recurring_templates WHERE template_id = ?",
            [template_id(program.id)],
        ).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO recurring_templates (template_id, product_id, rrule, timezone,"
                " first_start, duration_minutes, until_date, excluded_dates, uid, sequence,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
                [template_id(program.id), program.id, *rule,
                 f"ignite.{program.id}@tinkertank.com.au", now],
            )  # fmt: skip
            changed += 1
        elif tuple(row) != rule:
            conn.execute(
                "UPDATE recurring_templates SET rrule = ?, timezone = ?, first_start = ?,"
                " duration_minutes = ?, until_date = ?, excluded_dates = ?,"
                " sequence = sequence + 1, updated_at = ? WHERE template_id = ?",
                [*rule, now, template_id(program.id)],
            )
            changed += 1
    return changed
