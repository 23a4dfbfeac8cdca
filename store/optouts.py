"""Addresses that asked for no more of a kind of email (today: reminders), the only writer
of `email_optouts`. Transactional emails (confirmations, cancellations, replies) are not
affected: a family always hears what happened to their booking."""

from __future__ import annotations

from datetime import datetime

import duckdb


def opt_out(conn: duckdb.DuckDBPyConnection, email: str, list_name: str, now: datetime) -> bool:
    """Record it once (a second click keeps the first time); True when new."""
    rows = conn.execute(
        "INSERT INTO email_optouts (email, list, opted_out_at) SELECT ?, ?, ?"
        " WHERE NOT EXISTS (SELECT 1 FROM email_optouts WHERE email = ? AND list = ?)"
        " RETURNING email",
        [email.lower(), list_name, now, email.lower(), list_name],
    ).fetchall()
    return bool(rows)


def opted_out(conn: duckdb.DuckDBPyConnection, email: str, list_name: str) -> datetime | None:
    row = conn.execute(
        "SELECT opted_out_at FROM email_optouts WHERE email = ? AND list = ?",
        [email.lower(), list_name],
    ).fetchone()
    return row[0] if row else None
