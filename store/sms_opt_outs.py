"""Numbers that texted STOP: the only writer of `sms_opt_outs`. One row per number (E.164);
START again turns it back on. The sender reads it before each text (senders/sender.py)."""

from __future__ import annotations

from datetime import datetime

import duckdb


def record(
    conn: duckdb.DuckDBPyConnection, phone: str, opted_out: bool, keyword: str, now: datetime
) -> None:
    """The number's latest word: STOP (`opted_out`) or START."""
    conn.execute(
        "INSERT INTO sms_opt_outs (phone, opted_out, keyword, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (phone) DO UPDATE SET opted_out = excluded.opted_out,"
        " keyword = excluded.keyword, updated_at = excluded.updated_at",
        [phone, opted_out, keyword, now],
    )


def is_opted_out(conn: duckdb.DuckDBPyConnection, phone: str) -> bool:
    row = conn.execute("SELECT opted_out FROM sms_opt_outs WHERE phone = ?", [phone]).fetchone()
    return bool(row and row[0])
