"""The demo's families at the door: this week's camp and today's parties, booked through the
real checkout (so each child has the notes, emergency contacts and authorised collectors a
parent gives there, which never travel through Stripe), paid with a Checkout Session
completed through the same inbox and worker as the sidecar's, and, for today, children
checked in and out by the clock as the door's staff would have done so far today.

Part of `tinkertank demo-history` (cli/demo_history.py), which runs before the sidecar
starts. Exactly once: each family's order has a fixed id and its payment a fixed event id
(the inbox's primary key skips a second copy), and a check-in is one row per booking.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from cli.simulate import price
from core import clock
from core.business_days import day_bounds
from core.cart import InvalidCart
from core.cart_rules import validate_checkout
from core.catalog import Catalog
from core.demo_catalog import WEEK_CAMP_ID, camp_week
from core.settings import Settings
from core.simulation import checkout_session, event_envelope
from core.stripe_events import parse_event
from sidecar.checkout import hold_limits
from store import attendance, inbox, order_views, orders
from store.database import Database

ORDER_PREFIX = "ord_demo_"  # the demo families' orders
DOOR_STAFF = "Priya"  # who ticked the demo's children in and out
BIRTHDAY_PARTY_ID = "slime-lab-party"  # the simulator books the other party first
BIRTHDAY_SLOTS = ("10:00", "13:00")


@dataclass(frozen=True)
class Family:
    """A demo family: one child, the parent who books, and how their day at the door goes:
    minutes after the session's start the child arrives (None: not yet), and minutes after
    its end the child is collected (None: not yet)."""

    child: str
    age: int
    parent: str
    mobile: str
    session: str = "day"
    notes: str | None = None
    emergency_contacts: tuple[tuple[str, str], ...] = ()
    collectors: tuple[tuple[str, str], ...] = ()
    arrives: int | None = -10
    collected: int | None = None
    collected_by: str | None = None  # default: the parent
    days: int | None = None  # camp days booked from today on (None: the whole week)


CAMP_FAMILIES = (
    Family("Olivia Tran", 8, "Mai Tran", "0412 555 101",
           notes="Severe peanut allergy: EpiPen in her front pocket",
           emergency_contacts=(("Duc Tran", "0412 555 102"),),
           collectors=(("Lan Tran", "0412 555 103"),),
           arrives=-12, collected=-60, collected_by="Lan Tran"),
    Family("Jack Wilson", 10, "Emma Wilson", "0423 555 201", arrives=-8, collected=-30),
    Family("Aarav Sharma", 7, "Priyanka Sharma", "0434 555 301", session="all_day",
           notes="Asthma: puffer in his backpack",
           emergency_contacts=(("Raj Sharma", "0434 555 302"),), arrives=-5),
    Family("Chloe Martin", 9, "Sophie Martin", "0413 555 401",
           collectors=(("Grandma Ruth Martin", "0413 555 402"),), arrives=3, collected=-5),
    Family("Lucas Rossi", 11, "Marco Rossi", "0456 555 501", arrives=6, days=3),
    Family("Harper Kelly", 6, "Aoife Kelly", "0467 555 601", session="all_day",
           notes="Gluten free lunch, please check labels",
           emergency_contacts=(("Sean Kelly", "0467 555 602"),),
           collectors=(("Niamh Kelly", "0467 555 603"),), arrives=-2, collected=20),
    Family("Ethan Nguyen", 9, "Linh Nguyen", "0478 555 701", arrives=None),
    Family("Amelia Brown", 12, "Kate Brown", "0489 555 801", arrives=None, days=2,
           notes="Leaves at 2pm on Friday for a dentist appointment"),
    Family("Zara Patel", 5, "Anika Patel", "0491 555 901",
           emergency_contacts=(("Dev Patel", "0491 555 902"),), arrives=1, collected=8),
)  # fmt: skip

PARTY_FAMILIES = (
    Family("Ruby Chen", 7, "Grace Chen", "0400 555 111", notes="Birthday girl! Turning 7",
           collectors=(("Wei Chen", "0400 555 112"),), arrives=-5),
    Family("Noah Singh", 9, "Harpreet Singh", "0400 555 222", arrives=-2, collected=-10),
)  # fmt: skip


def booking_day(today: date) -> date:
    """When the families booked: a few days before this week's camp (or today's parties)."""
    return min(today, camp_week(today)[0]) - timedelta(days=3)


def book(
    database: Database, catalog: Catalog, settings: Settings, today: date,
    run_worker: Callable[[], None], say: Callable[[str], None],
) -> list[str]:  # fmt: skip
    """Each family's checkout and payment, at the clock's present moment (a past one while
    the history plays); the ids of the orders."""
    booked_on = clock.now().astimezone(catalog.tz).date()
    made = []
    week_days = _week_camp_days(catalog)
    for n, family in enumerate(CAMP_FAMILIES):
        first = booked_on if family.days is None else max(booked_on, today)
        days = [d for d in week_days if d >= first][: family.days]
        items = [_item(family, WEEK_CAMP_ID, {"date": d.isoformat(),
                                             "session": family.session}) for d in days]  # fmt: skip
        made += _check_out(database, catalog, settings, today, f"camp{n:02d}", family, items, say)
    if today.weekday() >= 5:
        for n, (family, slot) in enumerate(zip(PARTY_FAMILIES, BIRTHDAY_SLOTS, strict=True)):
            items = [_item(family, BIRTHDAY_PARTY_ID, {"date": today.isoformat(),
                                                      "start_time": slot})]  # fmt: skip
            made += _check_out(database, catalog, settings, today, f"party{n}", family, items,
                               say)  # fmt: skip
    run_worker()
    return made


def _week_camp_days(catalog: Catalog) -> tuple[date, ...]:
    """This week's camp days in the demo's catalog (none in another catalog)."""
    return next((camp.dates for camp in catalog.camps if camp.id == WEEK_CAMP_ID), ())


def _item(family: Family, product_id: str, fields: dict) -> dict:
    student = {"name": family.child, "age": family.age}
    if family.notes:
        student["notes"] = family.notes
    if family.emergency_contacts:
        student["emergency_contacts"] = [
            {"name": name, "phone": phone} for name, phone in family.emergency_contacts
        ]
    if family.collectors:
        student["authorised_collectors"] = [
            {"name": name, "phone": phone} for name, phone in family.collectors
        ]
    return {"product_id": product_id, **fields, "student": student}


def _check_out(
    database: Database, catalog: Catalog, settings: Settings, today: date, key: str,
    family: Family, items: list[dict], say: Callable[[str], None],
) -> list[str]:  # fmt: skip
    """The family's checkout as `POST /api/checkout` places it, then its payment as Stripe
    delivers it; the order's id, or nothing when it cannot be placed."""
    if not items:
        return []
    ref = f"demo_{today:%Y%m%d}_{key}"
    order_id = f"{ORDER_PREFIX}{today:%Y%m%d}_{key}"
    if database.read(order_views.find_order_id, order_id) is not None:
        return [order_id]  # played before: its order and payment are stored
    email = f"{family.parent.lower().replace(' ', '.')}@example.com"
    body = {"customer": {"email": email, "name": family.parent, "phone": family.mobile},
            "items": items}  # fmt: skip
    now = clock.now()
    try:
        cart = validate_checkout(body, catalog, today=now.astimezone(catalog.tz).date())
    except InvalidCart as exc:
        say(f"demo history: {family.child} not booked: {exc}")
        return []
    placed = database.write(
        orders.place_checkout, orders.new_order(order_id, cart, catalog, now), hold_limits(settings)
    )
    if placed.problems or placed.refusal:
        say(f"demo history: {family.child} not booked: {placed.refusal or placed.problems}")
        return []
    session_id = f"cs_{ref}"
    database.write(orders.attach_checkout_session, order_id, session_id, clock.utcnow())
    created = int(now.timestamp())
    session = checkout_session(
        session_id, order_id, created, price(catalog, items), email, family.parent, f"pi_{ref}"
    )
    event = event_envelope(f"evt_{ref}", "checkout.session.completed", session, created)
    database.write(
        inbox.store_events_skipping_duplicates, [(parse_event(json.dumps(event)), clock.utcnow())]
    )
    return [order_id]


def at_the_door(database: Database, catalog: Catalog, today: date, now: datetime) -> int:
    """Today's children checked in and out by `now` (aware), as each one's day went: the
    demo's families as written above, every other child by `usual_day`; the number of
    ticks made."""
    families = {f.child: f for f in (*CAMP_FAMILIES, *PARTY_FAMILIES)}
    ticks = 0
    for event in database.read(attendance.day_sheet, *day_bounds(today, catalog.tz)):
        starts_at, ends_at = _aware(event["starts_at"]), _aware(event["ends_at"])
        for child in event["children"]:
            family = families.get(child["student"])
            if family is None or not child["order_id"].startswith(ORDER_PREFIX):
                arrives, collected = usual_day(child["booking_id"])
                collector = child["customer_name"]
            else:
                arrives, collected = family.arrives, family.collected
                collector = family.collected_by or child["customer_name"]
            if arrives is None or starts_at + timedelta(minutes=arrives) > now:
                continue
            arrived = starts_at + timedelta(minutes=arrives)
            booking = child["booking_id"]
            result = database.write(attendance.check_in, booking, DOOR_STAFF, _naive(arrived))
            ticks += result["outcome"] == "checked_in"
            if collected is None or ends_at + timedelta(minutes=collected) > now:
                continue
            picked_up = _naive(ends_at + timedelta(minutes=collected))
            result = database.write(
                attendance.check_out, booking, DOOR_STAFF, collector, None, picked_up
            )
            ticks += result["outcome"] == "checked_out"
    return ticks


def usual_day(booking_id: str) -> tuple[int, int]:
    """When a child the simulator booked arrives (10 minutes early to 5 late) and is
    collected (15 minutes before the end to 5 after), the same at every run."""
    spread = zlib.crc32(booking_id.encode())
    return spread % 16 - 10, spread // 16 % 21 - 15


def _aware(stored: datetime) -> datetime:
    """A stored time (naive UTC) as an aware one."""
    return stored.replace(tzinfo=UTC) if stored.tzinfo is None else stored


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)
