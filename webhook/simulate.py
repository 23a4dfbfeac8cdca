"""`tinkertank simulate`: realistic, signed Stripe deliveries against a running sidecar.

For demos (`make run` feeds it when no real Stripe secret is set) and for load. Each
simulated parent pays through the storefront's own flow: a `payment_intent.succeeded` whose
metadata carries the cart (camp days or a party), so the whole pipeline runs: an order is
created, paid, its places taken and its events booked. Now and then Stripe redelivers an
event, a parent is refunded, or an event type we do not handle arrives.
"""

from __future__ import annotations

import itertools
import random
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import requests

from core.cart import encode_metadata_cart
from core.catalog import Catalog
from core.simulation import (
    charge_refunded,
    event_envelope,
    payment_intent,
    signed_delivery,
)

FIRST_NAMES = ("Mia", "Leo", "Ava", "Noah", "Isla", "Kai", "Zoe", "Finn", "Ruby", "Max")
SURNAMES = ("Nguyen", "Smith", "Chen", "Patel", "Brown", "Kelly", "Singh", "Rossi")


def carts(catalog: Catalog, rng: random.Random) -> Iterator[list[dict[str, Any]]]:
    """Plausible carts, forever: mostly camp days, sometimes a party."""
    camp_days = [(camp, day) for camp in catalog.camps for day in camp.dates]
    party_slots = itertools.cycle(
        (party, day, slot)
        for party in catalog.parties
        for day in _days(party.first_date, party.last_date)
        if day.weekday() in party.weekdays
        for slot in party.slots
    )
    while True:
        name = rng.choice(FIRST_NAMES)
        if rng.random() < 0.15:
            party, day, slot = next(party_slots)
            student = {"name": name, "age": rng.randint(5, 12)}
            yield [{"product_id": party.id, "date": str(day), "start_time": f"{slot:%H:%M}",
                    "student": student}]  # fmt: skip
            continue
        camp, day = rng.choice(camp_days)
        student = {"name": name, "age": rng.randint(camp.min_age, camp.max_age)}
        sessions = rng.sample(("day", "all_day"), 1)
        items = [{"product_id": camp.id, "date": str(day), "session": sessions[0],
                  "student": student}]  # fmt: skip
        later = [d for d in camp.dates if d > day]
        if later and rng.random() < 0.5:
            items.append({"product_id": camp.id, "date": str(later[0]), "session": "day",
                          "student": student})  # fmt: skip
        yield items


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def price(catalog: Catalog, items: list[dict[str, Any]]) -> int:
    total = 0
    for item in items:
        product = catalog.product(item["product_id"])
        total += product.prices[item["session"]] if product.kind == "camp" else product.price
    return total


def deliveries(catalog: Catalog, secret: str, seed: int | None = None) -> Iterator[tuple]:
    """(label, body, signature header) for each delivery, forever."""
    rng = random.Random(seed)
    tag = f"{rng.getrandbits(32):08x}"
    for n, items in enumerate(carts(catalog, rng)):
        now = int(time.time())
        surname = rng.choice(SURNAMES)
        email = f"{surname.lower()}.{n}@example.com"
        metadata = encode_metadata_cart(items, {"email": email, "name": f"Sam {surname}"})
        pi_id = f"pi_sim_{tag}_{n:06d}"
        amount = price(catalog, items)
        paid = event_envelope(
            f"evt_sim_{tag}_{n:06d}",
            "payment_intent.succeeded",
            payment_intent(pi_id, now, amount, metadata, email),
            now,
        )
        yield ("order", *signed_delivery(paid, secret, now, indent=2))
        if rng.random() < 0.1:  # Stripe redelivers
            yield ("duplicate", *signed_delivery(paid, secret, int(time.time()), indent=2))
        if rng.random() < 0.05:  # a refund a little later
            refund = event_envelope(
                f"evt_sim_{tag}_{n:06d}_refund",
                "charge.refunded",
                charge_refunded(f"ch_sim_{tag}_{n:06d}", pi_id, None, amount, now + 1),
                now + 1,
            )
            yield ("refund", *signed_delivery(refund, secret, int(time.time()), indent=2))
        if rng.random() < 0.05:
            other = event_envelope(
                f"evt_sim_{tag}_{n:06d}_customer",
                "customer.updated",
                {"id": f"cus_sim_{tag}_{n:06d}", "object": "customer", "email": email},
                now,
            )
            yield ("other", *signed_delivery(other, secret, int(time.time()), indent=2))


def run(
    url: str,
    catalog: Catalog,
    secret: str,
    count: int | None,
    rate: float,
    wait: float = 0,
    quiet: bool = False,
) -> int:
    """Deliver `count` orders (None: until interrupted) at `rate` per second; 0 when every
    delivery was acknowledged."""
    try:
        return _run(url, catalog, secret, count, rate, wait, quiet)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 0


def _run(
    url: str,
    catalog: Catalog,
    secret: str,
    count: int | None,
    rate: float,
    wait: float,
    quiet: bool,
) -> int:
    session = requests.Session()
    deadline = time.monotonic() + wait
    while True:
        try:
            if session.get(url + "/healthz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            print(f"simulate: no sidecar answering at {url}", file=sys.stderr)
            return 3
        time.sleep(0.2)
    counts: dict[str, int] = {}
    orders = 0
    started = time.monotonic()
    for label, body, header in deliveries(catalog, secret):
        if label == "order":
            if count is not None and orders >= count:
                break
            orders += 1
            pause = started + orders / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        try:
            response = session.post(
                url + "/webhooks/stripe",
                data=body.encode(),
                headers={"Stripe-Signature": header, "Content-Type": "application/json"},
                timeout=10,
            )
        except requests.RequestException as exc:
            print(f"\nsimulate: delivery failed: {exc}", file=sys.stderr)
            return 3
        if response.status_code != 200:
            print(f"\nsimulate: {response.status_code} {response.text[:200]}", file=sys.stderr)
            return 1
        counts[label] = counts.get(label, 0) + 1
        if not quiet and sys.stdout.isatty():
            print(f"\rsimulate: {_progress(orders, count, counts)}", end="", flush=True)
    print(f"\rsimulate: {_progress(orders, count, counts)}")
    return 0


def _progress(orders: int, count: int | None, counts: dict[str, int]) -> str:
    summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
    target = f"/{count}" if count is not None else ""
    return f"{orders}{target} orders delivered ({summary})"
