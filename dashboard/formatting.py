"""Plain functions that turn the API's values into what staff read: money, local times, fill.

The API speaks integer cents and UTC instants (ISO 8601 with `Z`); staff think in dollars
and in the business's own time zone (`TIMEZONE`).
"""

from __future__ import annotations

import string
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

SYMBOLS = {"aud": "$", "nzd": "$", "usd": "$", "cad": "$", "eur": "€", "gbp": "£"}

# One colour per kind, the same on the calendar and in the charts.
KIND_COLOURS = {"camp": "#1f77b4", "party": "#d62728", "ignite": "#2ca02c"}
OTHER_COLOUR = "#7f7f7f"

STRIPE_DASHBOARD = "https://dashboard.stripe.com"


# CommonMark lets any ASCII punctuation be escaped with a backslash, and Streamlit's Markdown
# honours it; escaping all of it also defuses Streamlit's own directives (`:red[…]`,
# `:material/…:`, `$…$`) and raw HTML.
_MARKDOWN_ESCAPES = {ord(c): "\\" + c for c in string.punctuation}
# A cell a spreadsheet would run as a formula (OWASP, "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def literal(text: Any) -> str:
    """Customer text (a name, an email, an error message quoting them) as Markdown that shows
    exactly that text: `:red[REFUND APPROVED]` stays those characters, not red words, and
    `![](https://…)` loads no image."""
    return str(text).translate(_MARKDOWN_ESCAPES)


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(frame: pd.DataFrame) -> str:
    """`frame` as CSV, with every cell and heading that starts a formula neutralised."""
    safe = frame.map(csv_cell)
    safe.columns = [csv_cell(str(column)) for column in frame.columns]
    return safe.to_csv(index=False)


def money(cents: int | None, currency: str = "aud") -> str:
    """`12345, "aud"` → `$123.45`; a currency without a symbol is named: `123.45 JPY`."""
    if cents is None:
        return "—"
    sign = "-" if cents < 0 else ""
    amount = f"{abs(cents) / 100:,.2f}"
    symbol = SYMBOLS.get(currency.lower())
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency.upper()}"


def parse_instant(text: str | None) -> datetime | None:
    """An API timestamp (`2027-01-04T09:00:00Z`, or naive meaning UTC) as an aware datetime."""
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local_time(text: str | None, tz: ZoneInfo, with_date: bool = True) -> str:
    """`2027-01-03T22:00:00Z` in Sydney → `Mon 4 Jan 2027 09:00`."""
    moment = parse_instant(text)
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M}" if with_date else f"{local:%H:%M}"


def local_iso(text: str | None, tz: ZoneInfo) -> str | None:
    """The same instant as a local ISO string with offset (what FullCalendar wants)."""
    moment = parse_instant(text)
    return moment.astimezone(tz).isoformat() if moment else None


def duration(seconds: float | None) -> str:
    """A lag or an age: `0.31 s`, `4 min 10 s`, `2 h 5 min`; `—` when there is none."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def fill(booked: int, capacity: int | None) -> str:
    """`18/24`; an event without a capacity shows its bookings only."""
    return f"{booked}/{capacity}" if capacity else str(booked)


def stripe_event_url(event_id: str, livemode: bool) -> str:
    """Where Stripe's own Dashboard shows this event (test-mode events live under /test)."""
    return f"{STRIPE_DASHBOARD}/{'' if livemode else 'test/'}events/{event_id}"


def table_times(rows: list[dict[str, Any]], tz: ZoneInfo, *columns: str) -> list[dict[str, Any]]:
    """Copies of `rows` with the named timestamp columns shown in local time."""
    return [{k: (local_time(v, tz) if k in columns else v) for k, v in row.items()} for row in rows]


def contacts(people: list[dict[str, Any]] | None) -> str:
    """Emergency contacts or collectors as one cell: `Wei Chen 0412 345 678, Grace Chen`."""
    return ", ".join(
        f"{p['name']} {p['phone']}" if p.get("phone") else p["name"] for p in people or []
    )


def contact_columns(row: dict[str, Any]) -> dict[str, str]:
    """A roster row's emergency contacts and authorised collectors, for a table."""
    return {
        "emergency": contacts(row.get("emergency_contacts")),
        "collectors": contacts(row.get("authorised_collectors")),
    }


def local_day(text: str | None, tz: ZoneInfo) -> str:
    """`2027-01-03T22:00:00Z` in Sydney → `Mon 4 Jan 2027`: the Australian way round."""
    moment = parse_instant(text)
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %Y}"


def long_day(value: date | str | None) -> str:
    """`2027-01-05` → `Tuesday 5 January 2027`: a heading's day, the Australian way round."""
    if not value:
        return ""
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return f"{day:%A} {day.day} {day:%B %Y}"
