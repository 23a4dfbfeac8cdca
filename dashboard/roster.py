"""A roster as staff use it on the day: a table on screen, a CSV to download and a clean page
to print. Pure: the API's roster rows in, text out.

Notes (allergies, who collects a child) are flagged so that nobody misses them; the parent's
mobile shows once orders keep one (`customer_phone`), and until then the column says so.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from core.phones import as_dialled
from dashboard import formatting as fmt

NO_MOBILE = "—"
SESSIONS = {"day": "Day session", "all_day": "All-day session"}
COLUMNS = ("Session", "Child", "Age", "Notes", "Parent", "Mobile", "Email", "Emergency contacts",
           "May also collect", "Status", "Order")  # fmt: skip


def flagged(notes: str | None) -> str:
    """`⚠ nut allergy` for a child with notes; empty otherwise."""
    text = (notes or "").strip()
    return f"⚠ {text}" if text else ""


def frame(rows: list[dict[str, Any]], with_session: bool = False) -> pd.DataFrame:
    """The roster's rows as the table staff read, children with notes marked."""
    columns = COLUMNS if with_session else COLUMNS[1:]
    records = []
    for row in rows:
        record = {
            "Session": SESSIONS.get(row.get("session") or "", row.get("session") or ""),
            "Child": row.get("student") or "",
            "Age": row.get("age"),
            "Notes": flagged(row.get("notes")),
            "Parent": row.get("customer_name") or "",
            "Mobile": as_dialled(row.get("customer_phone")) or NO_MOBILE,
            "Email": row.get("customer_email") or "",
            "Emergency contacts": fmt.contacts(row.get("emergency_contacts")),
            "May also collect": fmt.contacts(row.get("authorised_collectors")),
            "Status": row.get("status") or "",
            "Order": row.get("order_id") or "",
        }
        records.append({c: record[c] for c in columns})
    return pd.DataFrame(records, columns=list(columns))


def has_mobiles(rows: list[dict[str, Any]]) -> bool:
    return any(row.get("customer_phone") for row in rows)


def csv(table: pd.DataFrame) -> str:
    """The roster as CSV, safe to open in a spreadsheet."""
    return fmt.csv_text(table)


def print_page(title: str, subtitle: str, table: pd.DataFrame) -> str:
    """A standalone HTML page of the roster for printing: the heading, a tick column for the
    door, and every child; everything escaped (names and notes are what families typed)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in ("✓", *table.columns))
    body = []
    for record in table.to_dict("records"):
        cells = "".join(
            f"<td>{html.escape('' if pd.isna(v) else str(v))}</td>" for v in record.values()
        )
        marked = ' class="notes"' if record.get("Notes") else ""
        body.append(f"<tr{marked}><td class=tick></td>{cells}</tr>")
    rows = (
        "\n".join(body)
        or f'<tr><td colspan="{len(table.columns) + 1}">Nobody booked yet.</td></tr>'
    )
    return f"""<!doctype html>
<html lang="en-AU"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5cm; }}
h1 {{ font-size: 1.4em; margin: 0; }} p {{ margin: 0.2em 0 1em; color: #444; }}
table {{ border-collapse: collapse; width: 100%; font-size: 0.95em; }}
th, td {{ border: 1px solid #999; padding: 0.35em 0.5em; text-align: left; }}
th {{ background: #eee; }} td.tick {{ width: 1.5em; }}
tr.notes td {{ background: #fff4d6; font-weight: 600; }}
@page {{ size: A4 landscape; margin: 1cm; }}
@media print {{ body {{ margin: 0; }} }}
</style></head>
<body><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p>
<table><thead><tr>{head}</tr></thead><tbody>
{rows}
</tbody></table></body></html>
"""
