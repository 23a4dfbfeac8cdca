"""Customer emails, rendered from templates (Jinja2): text and HTML parts and the links
that add each event to Google Calendar, Outlook (personal and work accounts) and Apple
Calendar. Pure: the order's details, the catalog and the base URL come in as arguments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

_TEXT = Environment(
    loader=PackageLoader("core", "templates"),
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
)
_HTML = Environment(
    loader=PackageLoader("core", "templates"),
    undefined=StrictUndefined,
    autoescape=select_autoescape(["html"]),
)

# What a family needs to know, by kind of booking.
NEXT_STEPS = {
    "camp": "Drop-off from 8:45 am. Pack lunch, two snacks, a water bottle and a hat; closed "
    "shoes please. Tell us about allergies or medical needs by replying to this email.",
    "party": "Arrive 10 minutes early; the party room is set up for you. Bring the cake and "
    "candles, we bring everything else. Guest numbers can change until 48 hours before.",
    "ignite": "Classes run weekly during school terms (not on public holidays). Collect your "
    "child from the front desk at the end of each class.",
}


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def calendar_links(
    title: str, start: datetime, end: datetime, location: str, details: str, ics_url: str,
    tz: ZoneInfo,
) -> dict[str, str]:  # fmt: skip
    """Add-to-calendar links for one event."""
    google = "https://calendar.google.com/calendar/render?" + urlencode(
        {
            "action": "TEMPLATE",
            "text": title,
            "dates": f"{start.astimezone(UTC):%Y%m%dT%H%M%SZ}/{end.astimezone(UTC):%Y%m%dT%H%M%SZ}",
            "details": details,
            "location": location,
            "ctz": str(tz),
        }
    )
    outlook = {
        "rru": "addevent",
        "subject": title,
        "startdt": start.astimezone(tz).isoformat(),
        "enddt": end.astimezone(tz).isoformat(),
        "location": location,
        "body": details,
    }
    return {
        "google": google,
        "outlook": "https://outlook.live.com/calendar/0/action/compose?" + urlencode(outlook),
        "office": "https://outlook.office.com/calendar/0/action/compose?" + urlencode(outlook),
        "apple": ics_url,
    }


def confirmation(
    order: dict[str, Any], bookings: list[dict[str, Any]], tz: ZoneInfo, ics_url: str,
    support_email: str,
) -> Email:  # fmt: skip
    """The booking confirmation. `bookings`: student, title, kind, start, end (aware UTC),
    location, status; grouped by student in the email."""
    students: dict[str, list[dict[str, Any]]] = {}
    for booking in sorted(bookings, key=lambda b: (b["student"], b["start"])):
        start, end = booking["start"].astimezone(tz), booking["end"].astimezone(tz)
        item = dict(booking)
        item["when"] = f"{start:%A %-d %B %Y}, {start:%-I:%M %p} to {end:%-I:%M %p}"
        item["links"] = calendar_links(
            booking["title"], start, end, booking["location"], "TinkerTank booking", ics_url, tz
        )
        students.setdefault(booking["student"], []).append(item)
    kinds = sorted({b["kind"] for b in bookings})
    context = {
        "name": (order.get("customer_name") or "").split(" ")[0] or "there",
        "order_id": order["order_id"],
        "students": students,
        "next_steps": [NEXT_STEPS[kind] for kind in kinds if kind in NEXT_STEPS],
        "ics_url": ics_url,
        "support_email": support_email,
    }
    return Email(
        subject="Your TinkerTank booking is confirmed",
        text=_TEXT.get_template("confirmation.txt.j2").render(context),
        html=_HTML.get_template("confirmation.html.j2").render(context),
    )


def support_reply(
    ticket_id: str, category: str, excerpt: str, order_reference: str, name: str | None,
    support_email: str, medical: bool,
) -> Email:  # fmt: skip
    """The automatic answer to a support request: its reference, what they asked about (the
    category's label and the start of their message) and what happens next."""
    context = {
        "ticket_id": ticket_id,
        "name": (name or "").split(" ")[0] or "there",
        "category": category,
        "excerpt": excerpt,
        "order_reference": order_reference,
        "support_email": support_email,
        "medical": medical,
    }
    return Email(
        subject=f"We've received your request [{ticket_id}]",
        text=_TEXT.get_template("support_reply.txt.j2").render(context),
        html=_HTML.get_template("support_reply.html.j2").render(context),
    )
