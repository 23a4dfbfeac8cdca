"""Customer emails, rendered from templates (Jinja2): text and HTML parts and the links
that add each event to Google Calendar, Outlook (personal and work accounts) and Apple
Calendar. Pure: the order's details, the catalog and the base URL come in as arguments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from core.catalog import Catalog
from core.messages.invites import venue_line
from core.schedule import ignite_events, ignite_series

_TEXT = Environment(
    loader=PackageLoader("core.messages", "templates"),
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
)
_HTML = Environment(
    loader=PackageLoader("core.messages", "templates"),
    undefined=StrictUndefined,
    # The names end in .j2, so "html" alone would match none of them: a child's name could
    # then write markup into the email.
    autoescape=select_autoescape(["html.j2"]),
)

# What a family needs to know, by kind of booking.
NEXT_STEPS = {
    "camp": "Drop-off from 8:45 am. Pack lunch, two snacks, a water bottle and a hat; closed "
    "shoes please. Tell us about allergies or medical needs by replying to your confirmation "
    "email.",
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


def when(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    """`Monday 11 January 2027, 9:00 AM to 3:00 PM`, in the business time zone."""
    start, end = start.astimezone(tz), end.astimezone(tz)
    return f"{start:%A %-d %B %Y}, {start:%-I:%M %p} to {end:%-I:%M %p}"


def _first_name(order: dict[str, Any]) -> str:
    return (order.get("customer_name") or "").split(" ")[0] or "there"


def order_bookings(rows: dict[str, Any], catalog: Catalog) -> list[dict[str, Any]]:
    """What a family is told it booked, from `store.order_views.confirmation_rows`: one
    entry per booked event (camps, parties) and one per Ignite enrolment, shown as the
    student's first class ("weekly from"). Each has student, title, kind, status, start and
    end (aware UTC) and location (venue and address)."""
    bookings = [
        {"student": name, "title": title, "kind": kind, "status": status,
         "start": starts_at.replace(tzinfo=UTC), "end": ends_at.replace(tzinfo=UTC),
         "location": venue_line(catalog, venue_id)}
        for name, title, kind, starts_at, ends_at, venue_id, status in rows["bookings"]
    ]  # fmt: skip
    for name, product_id, status, first_booked, began in rows["programs"]:
        program = catalog.products.get(product_id)
        if program is None:
            continue
        first = first_class(catalog, product_id, first_booked, began)
        bookings.append(
            {"student": name, "title": f"{program.name}, weekly from", "kind": "ignite",
             "status": "cancelled" if status == "ended" else "confirmed", "start": first,
             "end": first + timedelta(minutes=program.duration_minutes),
             "location": venue_line(catalog, program.venue)}
        )  # fmt: skip
    return bookings


def first_class(
    catalog: Catalog, program_id: str, first_booked: datetime | None, began: datetime | None
) -> datetime:
    """An Ignite student's first class (aware UTC): the first one booked; with none booked
    yet, the program's first class on or after the day the enrolment began (naive UTC), so
    that a family joining mid-term is not sent to a class already past; failing that, the
    program's first class."""
    if first_booked is not None:
        return first_booked.replace(tzinfo=UTC)
    if began is not None:
        local_day = began.replace(tzinfo=UTC).astimezone(catalog.tz).date()
        upcoming = ignite_events(catalog, program_id, start=local_day)
        if upcoming:
            return upcoming[0].starts_at
    return ignite_series(catalog, program_id)["dtstart"]


def bookings_by_student(
    bookings: list[dict[str, Any]], tz: ZoneInfo, ics_url: str
) -> dict[str, list[dict[str, Any]]]:
    """`order_bookings` grouped by student, each with its local `when` and calendar `links`."""
    students: dict[str, list[dict[str, Any]]] = {}
    for booking in sorted(bookings, key=lambda b: (b["student"], b["start"])):
        start, end = booking["start"].astimezone(tz), booking["end"].astimezone(tz)
        item = dict(booking)
        item["when"] = when(start, end, tz)
        item["links"] = calendar_links(
            booking["title"], start, end, booking["location"], "TinkerTank booking", ics_url, tz
        )
        students.setdefault(booking["student"], []).append(item)
    return students


def _render(name: str, subject: str, context: dict[str, Any]) -> Email:
    return Email(
        subject=subject,
        text=_TEXT.get_template(f"{name}.txt.j2").render(context),
        html=_HTML.get_template(f"{name}.html.j2").render(context),
    )


def cancellation(
    order: dict[str, Any], bookings: list[dict[str, Any]], reason: str, tz: ZoneInfo,
    ics_url: str, support_email: str,
) -> Email:  # fmt: skip
    """The cancellation: the bookings it takes away (`reason` `refund` or
    `subscription_ended`), sent with the .ics that removes them from the family's calendar."""
    subject = (
        "Your TinkerTank booking is cancelled"
        if reason == "refund"
        else "Your TinkerTank Ignite classes have ended"
    )
    context = {
        "name": _first_name(order),
        "order_id": order["order_id"],
        "reason": reason,
        "students": bookings_by_student(bookings, tz, ics_url),
        "ics_url": ics_url,
        "support_email": support_email,
    }
    return _render("cancellation", subject, context)


def booking_change(
    order: dict[str, Any], changes: list[str], ics_url: str, support_email: str
) -> Email:
    """What staff changed (a booking moved, cancelled or refunded), one line each, sent
    with the .ics that updates the family's calendar in place."""
    context = {
        "name": _first_name(order),
        "order_id": order["order_id"],
        "changes": changes,
        "ics_url": ics_url,
        "support_email": support_email,
    }
    return _render("change", "Your TinkerTank booking has changed", context)


def reminder(
    order: dict[str, Any], booking: dict[str, Any], tz: ZoneInfo, ics_url: str,
    support_email: str, unsubscribe_url: str | None = None, manage_url: str | None = None,
) -> Email:  # fmt: skip
    """The reminder before one booking: student, title, kind, start, end, location; and
    the link that stops reminders to this address."""
    start = booking["start"].astimezone(tz)
    context = {
        "name": _first_name(order),
        "student": booking["student"],
        "title": booking["title"],
        "when": when(booking["start"], booking["end"], tz),
        "location": booking["location"],
        "next_step": NEXT_STEPS.get(booking["kind"], ""),
        "ics_url": ics_url,
        "support_email": support_email,
        "unsubscribe_url": unsubscribe_url,
        "manage_url": manage_url,  # the signed "manage booking" link (core/manage_link.py)
    }
    return _render(
        "reminder", f"Reminder: {booking['title']} on {start:%A %-d %B} at {start:%-I:%M %p}",
        context,
    )  # fmt: skip


def support_address(email_from: str) -> str:
    """`hello@tinkertank.example` of `TinkerTank <hello@tinkertank.example>`."""
    return parseaddr(email_from)[1] or email_from


def next_steps(bookings: list[dict[str, Any]]) -> list[str]:
    kinds = sorted({b["kind"] for b in bookings})
    return [NEXT_STEPS[kind] for kind in kinds if kind in NEXT_STEPS]


def confirmation(
    order: dict[str, Any], bookings: list[dict[str, Any]], tz: ZoneInfo, ics_url: str,
    support_email: str, manage_url: str | None = None,
) -> Email:  # fmt: skip
    """The booking confirmation. `bookings`: as `order_bookings` makes them, grouped by
    student in the email."""
    checking = [b for b in bookings if b.get("status") == "conflict"]
    context = {
        "name": _first_name(order),
        "order_id": order["order_id"],
        "students": bookings_by_student(bookings, tz, ics_url),
        "next_steps": next_steps(bookings),
        "ics_url": ics_url,
        "support_email": support_email,
        # A place a lapsed hold could not get back (overbooked) is not confirmed: the family
        # is told we are checking it, and it gets no add-to-calendar links.
        "checking": bool(checking),
        "all_checking": bool(bookings) and len(checking) == len(bookings),
        "manage_url": manage_url,  # the signed "manage booking" link (core/manage_link.py)
    }
    subject = (
        "We are checking your TinkerTank booking"
        if checking
        else "Your TinkerTank booking is confirmed"
    )
    return _render("confirmation", subject, context)


def support_reply(
    ticket_id: str, category: str, order_reference: str | None, name: str | None,
    support_email: str, medical: bool,
) -> Email:  # fmt: skip
    """The automatic answer to a support request: its reference, what they asked about (the
    category's label) and what happens next. Their message is not quoted: the address is
    unverified, and our email must not carry a stranger's text to whoever they name."""
    # The address is unverified: nothing typed goes in beyond a first name of letters (the
    # form allows no more, core/validation.is_plain_name), and the reference only when it
    # names an order of this address (the caller passes None otherwise).
    first_name = (name or "").split()[0:1]
    context = {
        "ticket_id": ticket_id,
        "name": first_name[0][:30] if first_name else "there",
        "category": category,
        "order_reference": order_reference,
        "support_email": support_email,
        "medical": medical,
    }
    return _render("support_reply", f"We've received your request [{ticket_id}]", context)


def ticket_answer(ticket_id: str, name: str | None, body: str, support_email: str) -> Email:
    """Staff's answer to a support request, in the thread of its first email: the subject
    keeps the reference, so the parent's mail program and ours file it together."""
    first_name = (name or "").split()[0:1]
    context = {
        "ticket_id": ticket_id,
        "name": first_name[0][:30] if first_name else "there",
        "body": body,
        "support_email": support_email,
    }
    return _render("ticket_answer", f"Re: We've received your request [{ticket_id}]", context)
