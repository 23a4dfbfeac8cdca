"""A camp day at the door, for the check-in tests: a real sidecar whose clock is shifted
(CLOCK_SHIFT_SECONDS, as the suite pins its own) to 09:20 on Wednesday 6 January 2027, a
day of the Robotics Bootcamp in data/catalog.toml, with children booked into today's
sessions through the real checkout and webhook. Time still flows from there, so the
sessions have started (09:00) and the 15-minute "not arrived" flag is already up for a
child nobody checked in; late pickup is after 15:00 and is tested with an injected `now`
(tests/core/test_attendance.py).

The same day whatever day the suite runs on: the shift is worked out from the real clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import SYDNEY, Sidecar, sidecar_env
from tests.dashboard.conftest import order_status, place_and_pay, wait_for
from tests.fakes.stripe import FakeStripe

DOOR_NOW = datetime(2027, 1, 6, 9, 20, tzinfo=SYDNEY)
DOOR_DAY = DOOR_NOW.date().isoformat()
DOOR_SHIFT = DOOR_NOW.timestamp() - time.time()


def camp_today(child: str, session: str = "day", **student: object) -> dict:
    return {
        "product_id": "summer-robotics",
        "date": DOOR_DAY,
        "session": session,
        "student": {"name": child, "age": 9, **student},
    }


@dataclass
class Door:
    sidecar: Sidecar
    bookings: dict[str, str]  # child's name -> booking id of today's session
    orders: dict[str, str]  # child's name -> order id

    @property
    def url(self) -> str:
        return self.sidecar.url


@contextmanager
def door_day(tmp_path: Path) -> Iterator[Door]:
    """The sidecar with today's camp booked: Ada (notes, an emergency contact, Grace may
    collect her), Bo (nothing but his parent) and Cy (all day)."""
    # Stripe's clock is the door's too, as it is the real one's for a real sidecar.
    with FakeStripe(clock=lambda: time.time() + DOOR_SHIFT) as fake:
        env = sidecar_env(
            tmp_path,
            STRIPE_SECRET_KEY="sk_test_123",
            STRIPE_API_BASE=fake.url,
            CLOCK_SHIFT_SECONDS=str(DOOR_SHIFT),
        )
        server = start_sidecar(free_port(), env, log_path=tmp_path / "door-sidecar.log")
        sidecar = Sidecar(server)
        try:
            orders = {
                "Ada": place_and_pay(sidecar, fake, "Ann Parent", [camp_today(
                    "Ada", notes="Peanut allergy: EpiPen in her bag",
                    emergency_contacts=[{"name": "Wei Chen", "phone": "0412 345 678"}],
                    authorised_collectors=[{"name": "Grace Chen", "phone": "0498 765 432"}],
                )]),
                "Bo": place_and_pay(sidecar, fake, "Ben Parent", [camp_today("Bo")]),
                "Cy": place_and_pay(sidecar, fake, "Cat Parent", [camp_today("Cy", "all_day")]),
            }  # fmt: skip
            bookings = {}
            for child, order_id in orders.items():
                wait_for(lambda o=order_id: order_status(sidecar.url, o)["fulfillment_status"]
                         == "fulfilled")  # fmt: skip
                (booking,) = order_status(sidecar.url, order_id)["bookings"]
                bookings[child] = booking["booking_id"]
            yield Door(sidecar=sidecar, bookings=bookings, orders=orders)
        finally:
            server.stop()
