"""`tinkertank demo-history --days 21`: the demo's past weeks, so that a new `make run` opens
on a business in full swing, not on empty summaries and flat charts.

It plays the simulator's parents (`cli/simulate.py`) day by day over the past weeks, through
the same inbox and the same fulfilment worker as the sidecar, with the clock moved to each
moment (`core.clock.set_shift`): orders are paid, booked, refunded and disputed on the days
they say, and each past day's summary is stored. It opens the database itself, so it runs
before `tinkertank serve` (make run does it once, for a new demo database), never beside it.

A few days before this week's camp the demo's families book it (and on a weekend today's
parties) through the checkout, with notes, emergency contacts and who may collect each
child (cli/demo_week.py); at the end, today's children are checked in and out as their
morning went so far, so the Check-in page and the rosters show a camp day in progress.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from cli import demo_week
from cli.simulate import parents
from core import clock
from core.catalog import Catalog
from core.settings import Settings
from core.stripe_events import parse_event
from core.summary import summary_text
from fulfilment.worker import RetryPolicy, Worker
from store import inbox, summaries
from store.database import Database

OPENING = time(8, 30)  # the first order of a day, local time
SPACING = timedelta(minutes=95)  # between one parent's checkout and the next


def moments(today: datetime, days: int, per_day: int, rng: random.Random) -> list[datetime]:
    """When the past orders were paid: `per_day` a day (give or take), over the `days`
    before `today` (aware, local), oldest first."""
    found = []
    for back in range(days, 0, -1):
        day = (today - timedelta(days=back)).date()
        start = datetime.combine(day, OPENING, tzinfo=today.tzinfo)
        count = max(0, per_day + rng.randint(-2, 2))
        found.extend(
            start + SPACING * n + timedelta(minutes=rng.randint(0, 40)) for n in range(count)
        )
    return found


def play(
    database: Database, catalog: Catalog, settings: Settings, days: int, per_day: int,
    seed: int = 7, say: Callable[[str], None] = print,
) -> int:  # fmt: skip
    """Store and fulfil the past weeks' deliveries; the number of orders made."""
    rng = random.Random(seed)
    real_shift = clock.shift_seconds()
    today = clock.now().astimezone(catalog.tz)
    worker = Worker(
        database, catalog, RetryPolicy(settings.fulfilment_retry_seconds),
        livemode=settings.stripe_livemode, clock=clock.utcnow,
    )  # fmt: skip
    deliveries = parents(catalog, "whsec_demo_history", seed)
    orders = 0
    last_day = None
    families_book_on = demo_week.booking_day(today.date())
    family_orders: list[str] | None = None

    def run_worker() -> None:
        while worker.run_once():
            pass

    try:
        for moment in moments(today, days, per_day, rng):
            clock.set_shift(clock.shift_seconds() + (moment - clock.now()).total_seconds())
            if last_day is not None and moment.date() != last_day:
                _close_day(database, catalog, last_day, worker)
            last_day = moment.date()
            if family_orders is None and moment.date() >= families_book_on:
                family_orders = demo_week.book(
                    database, catalog, settings, today.date(), run_worker, say
                )
            for _label, body, _signature in next(deliveries):
                event = parse_event(body)  # as the webhook stores it: the text as sent
                database.write(inbox.store_events_skipping_duplicates, [(event, clock.utcnow())])
            orders += 1
            while worker.run_once():
                pass
        if last_day is not None:
            _close_day(database, catalog, last_day, worker)
    finally:
        clock.set_shift(real_shift)
    if family_orders is None:  # no past days played: they book now
        family_orders = demo_week.book(database, catalog, settings, today.date(), run_worker, say)
    ticks = demo_week.at_the_door(database, catalog, today.date(), clock.now())
    say(
        f"demo history: {orders} orders over the last {days} days; {len(family_orders)} orders"
        f" of the demo's families this week, {ticks} check-ins and check-outs today"
    )
    return orders


def _close_day(database: Database, catalog: Catalog, day: date, worker: Worker) -> None:
    """Finish the day's work, then store its summary as the daily run would (not posted)."""
    while worker.run_once():
        pass
    now = clock.utcnow()
    figures = database.read(summaries.compute, day, catalog.tz.key, catalog.currency, now)
    text = summary_text(figures)
    database.write(summaries.store, day, figures, text, now, False, False)
