"""`tinkertank simulate`: realistic, signed Stripe deliveries against a running sidecar.

For demos (`make run` feeds it when no real Stripe secret is set) and for load. Every
product kind is bought the way the storefront's own flows pay for it, with the cart in the
payment's metadata, so the whole pipeline runs (an order is created, paid, its places taken
and its events booked):

- camp days and parties: `payment_intent.succeeded`; now and then a declined card first
  (`payment_intent.payment_failed`, then the parent pays with another card);
- Ignite: `checkout.session.completed` in subscription mode, `customer.subscription.created`
  and the first `invoice.paid`, which books the classes of the month.

Around them, as in real traffic: Stripe redelivers an event, a parent is refunded in full or
in part, a bank opens a dispute (a critical alert), a parent walks away from a checkout
(`checkout.session.expired`), and an event type we do not handle arrives.
"""

from __future__ import annotations

import itertools
import json
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

import requests
import stripe

from core import clock
from core.cart_metadata import encode_metadata_cart
from core.catalog import Catalog
from core.schedule import ignite_class_dates
from core.simulation import (
    charge_refunded,
    dispute,
    event_envelope,
    expired_checkout_session,
    failed_payment_intent,
    paid_invoice,
    payment_intent,
    subscription,
    subscription_checkout_session,
)


def signed_delivery(
    event: dict[str, Any], secret: str, timestamp: int, *, indent: int | None = None
) -> tuple[str, str]:
    """The body and `Stripe-Signature` header Stripe would send for `event`."""
    body = json.dumps(event, indent=indent, separators=None if indent else (",", ":"))
    return body, stripe.WebhookSignature.generate_signature_header(body, secret, timestamp)


FIRST_NAMES = ("Mia", "Leo", "Ava", "Noah", "Isla", "Kai", "Zoe", "Finn", "Ruby", "Max")
SURNAMES = ("Nguyen", "Smith", "Chen", "Patel", "Brown", "Kelly", "Singh", "Rossi")
# How often each thing happens, per order.
PARTY_SHARE = 0.15
IGNITE_SHARE = 0.15
DECLINED_FIRST = 0.08
REDELIVERED = 0.1
REFUNDED = 0.05
PARTLY_REFUNDED = 0.03
DISPUTED = 0.01
ABANDONED = 0.05
UNHANDLED = 0.05
BAR_WIDTH = 24


def carts(catalog: Catalog, rng: random.Random) -> Iterator[list[dict[str, Any]]]:
    """Plausible carts, forever: mostly camp days, sometimes a party or an Ignite class."""
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
        student = {"name": name, "age": rng.randint(5, 12)}
        roll = rng.random()
        if roll < IGNITE_SHARE and catalog.ignite:
            program = rng.choice(catalog.ignite)
            student["age"] = rng.randint(program.min_age, program.max_age)
            yield [{"product_id": program.id, "student": student}]
            continue
        if roll < IGNITE_SHARE + PARTY_SHARE and catalog.parties:
            party, day, slot = next(party_slots)
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


def _first_month(catalog: Catalog, program_id: str) -> tuple[int, int]:
    """The service period of an Ignite sign-up's first invoice: the program's first month
    (so the demo books real classes whatever today's date is)."""
    first = ignite_class_dates(catalog, program_id)[0]
    start = datetime.combine(first, clock_time(), catalog.tz).astimezone(UTC)
    return int(start.timestamp()), int((start + timedelta(days=30)).timestamp())


class _Deliveries:
    """Builds the signed deliveries of one simulated parent after another."""

    def __init__(self, catalog: Catalog, secret: str, rng: random.Random) -> None:
        self.catalog = catalog
        self.secret = secret
        self.rng = rng
        self.tag = f"{rng.getrandbits(32):08x}"

    def signed(self, label: str, event_id: str, event_type: str, obj: dict, created: int):
        event = event_envelope(event_id, event_type, obj, created)
        return (label, *signed_delivery(event, self.secret, int(time.time()), indent=2))

    def parent(self, n: int, items: list[dict[str, Any]]) -> Iterator[tuple]:
        rng, ref = self.rng, f"{self.tag}_{n:06d}"
        now = clock.unix()  # `created`: the business clock; the signature below: the real one
        surname = rng.choice(SURNAMES)
        email = f"{surname.lower()}.{n}@example.com"
        customer = {"email": email, "name": f"Sam {surname}"}
        metadata = encode_metadata_cart(items, customer)
        amount = price(self.catalog, items)
        if rng.random() < ABANDONED:  # someone else gave up on a checkout
            yield self.signed(
                "expired", f"evt_sim_{ref}_expired", "checkout.session.expired",
                expired_checkout_session(f"cs_sim_{ref}_gone", now - 1800, amount, email), now,
            )  # fmt: skip
        product = self.catalog.product(items[0]["product_id"])
        if product.kind == "ignite":
            yield from self.ignite_sign_up(ref, now, amount, customer, metadata, product)
            return
        pi_id = f"pi_sim_{ref}"
        if rng.random() < DECLINED_FIRST:  # a card declined a minute before the one that paid
            yield self.signed(
                "declined", f"evt_sim_{ref}_declined", "payment_intent.payment_failed",
                failed_payment_intent(pi_id, now - 60, amount, metadata, email), now - 60,
            )  # fmt: skip
        paid = self.signed(
            "order", f"evt_sim_{ref}", "payment_intent.succeeded",
            payment_intent(pi_id, now, amount, metadata, email), now,
        )  # fmt: skip
        yield paid
        if rng.random() < REDELIVERED:
            yield ("duplicate", *paid[1:])
        charge_id = f"ch_sim_{ref}"
        roll = rng.random()
        if roll < REFUNDED:
            refund = charge_refunded(charge_id, pi_id, None, amount, now + 1)
            yield self.signed("refund", f"evt_sim_{ref}_refund", "charge.refunded", refund,
                              now + 1)  # fmt: skip
        elif roll < REFUNDED + PARTLY_REFUNDED:
            refund = charge_refunded(charge_id, pi_id, None, amount, now + 1)
            refund.update({"amount_refunded": amount // 4, "refunded": False})
            yield self.signed("partial refund", f"evt_sim_{ref}_partial", "charge.refunded",
                              refund, now + 1)  # fmt: skip
        elif roll < REFUNDED + PARTLY_REFUNDED + DISPUTED:
            yield self.signed(
                "dispute", f"evt_sim_{ref}_dispute", "charge.dispute.created",
                dispute(f"dp_sim_{ref}", charge_id, pi_id, amount, now + 1), now + 1,
            )  # fmt: skip
        if rng.random() < UNHANDLED:
            yield self.signed(
                "other", f"evt_sim_{ref}_customer", "customer.updated",
                {"id": f"cus_sim_{ref}", "object": "customer", "email": email}, now,
            )  # fmt: skip

    def ignite_sign_up(self, ref, now, amount, customer, metadata, program) -> Iterator[tuple]:
        sub_id, cus_id, invoice_id = f"sub_sim_{ref}", f"cus_sim_{ref}", f"in_sim_{ref}"
        start, end = _first_month(self.catalog, program.id)
        session = subscription_checkout_session(
            f"cs_sim_{ref}", now, amount, customer["email"], customer["name"], metadata,
            sub_id, cus_id, invoice_id,
        )  # fmt: skip
        completed = self.signed("order", f"evt_sim_{ref}", "checkout.session.completed",
                                session, now)  # fmt: skip
        yield completed
        yield self.signed(
            "subscription", f"evt_sim_{ref}_sub", "customer.subscription.created",
            subscription(sub_id, cus_id, program.stripe_price_id, amount, now, start, end), now,
        )  # fmt: skip
        yield self.signed(
            "invoice", f"evt_sim_{ref}_invoice", "invoice.paid",
            paid_invoice(invoice_id, sub_id, cus_id, amount, now, start, end), now,
        )  # fmt: skip
        if self.rng.random() < REDELIVERED:
            yield ("duplicate", *completed[1:])


def parents(catalog: Catalog, secret: str, seed: int | None = None) -> Iterator[list[tuple]]:
    """The deliveries of one simulated parent after another, forever: a list of (label,
    body, signature header) each, exactly one labelled "order" (the payment that makes
    the order). Signed as they are built, so build each just before sending it."""
    rng = random.Random(seed)
    builder = _Deliveries(catalog, secret, rng)
    for n, items in enumerate(carts(catalog, rng)):
        yield list(builder.parent(n, items))


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
    for deliveries in parents(catalog, secret):
        if count is not None and orders >= count:
            break
        orders += 1
        pause = started + orders / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        for label, body, header in deliveries:
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
                print(f"\nsimulate: {response.status_code} {response.text[:200]}",
                      file=sys.stderr)  # fmt: skip
                return 1
            counts[label] = counts.get(label, 0) + 1
        if not quiet and sys.stdout.isatty():
            print(f"\rsimulate: {_progress(orders, count, counts)}", end="", flush=True)
    print(f"\rsimulate: {_progress(orders, count, counts)}")
    return 0


def _progress(orders: int, count: int | None, counts: dict[str, int]) -> str:
    summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
    if count is None:
        return f"{orders} orders delivered ({summary})"
    done = round(BAR_WIDTH * orders / count) if count else BAR_WIDTH
    bar = "#" * done + "-" * (BAR_WIDTH - done)
    return f"[{bar}] {orders}/{count} orders delivered ({summary})"
