"""Payments that are not bookings, events that wait, one alert for a flood (issue 16), in the
store process's own terms: a real DuckDB file, the real worker, and an injected clock, so
that two hours of backoff run in a moment without sleeping."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from core.cart_rules import validate_checkout
from core.catalog_file import load_catalog
from core.simulation import checkout_session, event_envelope
from core.stripe_events import parse_event
from fulfilment.events import DEFER_ATTEMPTS, defer_delay
from fulfilment.worker import RetryPolicy, Worker
from senders.sender import queue_alerts
from store import inbox, orders
from store.database import Database
from tests import foreign_payments as foreign
from tests.conftest import REPO

CATALOG = load_catalog(REPO / "data" / "catalog.toml")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC).replace(tzinfo=None)
CREATED = int(NOW.replace(tzinfo=UTC).timestamp())


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def store(database: Database, *events: dict) -> list[str]:
    parsed = [parse_event(json.dumps(event)) for event in events]
    database.write(inbox.store_events, [(event, NOW) for event in parsed])
    return [event.event_id for event in parsed]


def worker(database: Database, clock: Clock, shared: bool) -> Worker:
    return Worker(database, CATALOG, RetryPolicy(), livemode=False, shared=shared, clock=clock)


def next_due(database: Database) -> datetime | None:
    return database.read(
        lambda c: c.execute(
            "SELECT min(next_attempt_at) FROM webhook_inbox WHERE status = 'received'"
        ).fetchone()[0]
    )


def run_until_settled(database: Database, clock: Clock, work: Worker) -> None:
    """Apply every event, moving the clock to each next try (at most a day ahead)."""
    while True:
        work.run_events(clock.now)
        due = next_due(database)
        if due is None:
            return
        assert due - NOW < timedelta(days=1), "an event is still waiting after a day"
        clock.now = max(clock.now, due)


def scalar(database: Database, sql: str, *params) -> int:
    return database.read(lambda c: c.execute(sql, list(params)).fetchone()[0])


def row(database: Database, event_id: str) -> dict:
    return database.read(inbox.get_event, event_id)


def alerts_queued(database: Database, at: datetime, group_seconds: float = 60) -> int:
    return database.write(
        queue_alerts, True, ("office@tinkertank.example",), at, "high", None, group_seconds
    )


def other_sales() -> list[dict]:
    """A morning of sales that are not bookings on the same account."""
    desk = foreign.front_desk_payment(CREATED)
    return [
        desk,
        foreign.front_desk_refund(desk, CREATED + 60),
        *foreign.dashboard_invoice(CREATED + 120),
        *foreign.foreign_subscription(CREATED + 180),
    ]


# --- ours or not ---------------------------------------------------------------------------


def test_in_a_shared_account_other_sales_are_recorded_as_not_ours_and_nothing_else(
    database: Database,
):
    clock = Clock()
    ids = store(database, *other_sales())

    run_until_settled(database, clock, worker(database, clock, shared=True))

    rows = [row(database, event_id) for event_id in ids]
    assert [(r["status"], r["not_ours"]) for r in rows] == [("ignored", True)] * len(ids)
    assert all(r["last_error"].startswith("not ours:") for r in rows)
    assert "front-desk" in rows[0]["last_error"]
    assert scalar(database, "SELECT count(*) FROM orders") == 0
    assert scalar(database, "SELECT count(*) FROM error_log") == 0
    assert alerts_queued(database, clock.now + timedelta(hours=1)) == 0
    assert database.read(inbox.count_views) == {"not_ours": len(ids), "waiting": 0}
    assert database.read(inbox.count_by_status)["ignored"] == len(ids)
    listed, total = database.read(inbox.list_events, status="not_ours")
    assert total == len(ids) and {r["event_id"] for r in listed} == set(ids)


def test_the_payment_of_a_dashboard_invoice_waits_for_a_subscription_then_is_not_ours(
    database: Database,
):
    clock = Clock()
    payment, _ = foreign.dashboard_invoice(CREATED)
    (payment_id,) = store(database, payment)
    work = worker(database, clock, shared=True)

    work.run_events(clock.now)
    waiting, total = database.read(inbox.list_events, status="waiting")
    assert total == 1 and waiting[0]["event_id"] == payment_id
    assert waiting[0]["last_error"].startswith("waiting: ")
    assert waiting[0]["next_attempt_at"] == NOW + timedelta(seconds=2)
    run_until_settled(database, clock, work)

    assert row(database, payment_id)["not_ours"] is True
    assert timedelta(minutes=10) <= clock.now - NOW < timedelta(minutes=20)
    assert scalar(database, "SELECT count(*) FROM orders") == 0


def test_in_a_dedicated_account_the_same_sales_are_flagged_as_today(database: Database):
    clock = Clock()
    sales = other_sales()
    ids = store(database, *sales)

    run_until_settled(database, clock, worker(database, clock, shared=False))

    rows = {event_id: row(database, event_id) for event_id in ids}
    assert not any(r["not_ours"] for r in rows.values())
    # The front-desk payment and the invoice's payment: orders that need attention.
    assert scalar(database, "SELECT count(*) FROM orders WHERE fulfillment_status IN"
                  " ('needs_attention', 'cancelled')") == 2  # fmt: skip
    # The other shop's subscription waited for an order, then failed with an entry.
    subscription = rows[ids[4]]
    assert (subscription["status"], subscription["attempts"]) == ("failed", DEFER_ATTEMPTS)
    assert scalar(database, "SELECT count(*) FROM error_log WHERE dedupe_key = ?",
                  f"gave-up:{ids[4]}") == 1  # fmt: skip


@pytest.mark.parametrize("shared", [True, False])
def test_a_payment_with_a_marker_of_ours_but_a_broken_cart_is_always_flagged(
    database: Database, shared: bool
):
    clock = Clock()
    (event_id,) = store(database, foreign.cartless_payment(CREATED, tt_items="[{broken"))

    run_until_settled(database, clock, worker(database, clock, shared=shared))

    assert row(database, event_id)["status"] == "processed"
    assert not row(database, event_id)["not_ours"]
    assert scalar(database, "SELECT count(*) FROM orders WHERE fulfillment_status ="
                  " 'needs_attention'") == 1  # fmt: skip
    assert scalar(database, "SELECT count(*) FROM error_log WHERE group_kind = 'no-cart'") == 1
    assert alerts_queued(database, clock.now + timedelta(minutes=2)) == 1


# --- waiting with manners ------------------------------------------------------------------


def refund_of(payment_intent_id: str, order_id: str | None, amount: int = 8900) -> dict:
    charge = {
        "id": f"ch_{payment_intent_id[3:]}",
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount,
        "currency": "aud",
        "metadata": {"order_id": order_id} if order_id else {},
        "payment_intent": payment_intent_id,
        "payment_method_details": {"card": {"brand": "visa", "last4": "4242"}, "type": "card"},
        "refunded": True,
        "status": "succeeded",
    }
    return event_envelope(f"evt_refund_{payment_intent_id}", "charge.refunded", charge, CREATED)


def tries(database: Database, clock: Clock, work: Worker, event_id: str) -> list[timedelta]:
    """Run the worker at each of the event's tries until it ends; the waits between them."""
    waits = []
    while True:
        work.run_events(clock.now)
        after = row(database, event_id)
        if after["status"] != "received":
            return waits
        waits.append(after["next_attempt_at"] - clock.now)
        clock.now = after["next_attempt_at"]


def test_a_deferred_event_backs_off_exponentially_then_fails_by_rule(database: Database):
    clock = Clock()
    (event_id,) = store(database, refund_of("pi_never_paid", "ord_someone_else"))

    waits = tries(database, clock, worker(database, clock, shared=False), event_id)

    seconds = [wait.total_seconds() for wait in waits]
    assert seconds == [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1800, 1800, 1800]
    assert [defer_delay(n) for n in range(1, DEFER_ATTEMPTS)] == waits
    ended = row(database, event_id)
    assert (ended["status"], ended["attempts"]) == ("failed", DEFER_ATTEMPTS)
    assert ended["last_error"].startswith(f"gave up after {DEFER_ATTEMPTS} tries")
    # Fourteen tries in a little under two hours, where 2-second retries made 43,200 a day.
    assert timedelta(hours=1) < clock.now - NOW < timedelta(hours=3)
    assert scalar(database, "SELECT count(*) FROM error_log WHERE stripe_event_id = ?",
                  event_id) == 1  # fmt: skip


def test_in_a_shared_account_an_unmarked_refund_that_waits_in_vain_ends_as_not_ours(
    database: Database,
):
    clock = Clock()
    (event_id,) = store(database, refund_of("pi_of_another_shop", None))

    waits = tries(database, clock, worker(database, clock, shared=True), event_id)

    assert len(waits) == DEFER_ATTEMPTS - 1
    ended = row(database, event_id)
    assert (ended["status"], ended["not_ours"]) == ("ignored", True)
    assert scalar(database, "SELECT count(*) FROM error_log") == 0


def test_a_refund_before_its_payment_is_applied_on_the_pass_after_the_payment(
    database: Database,
):
    body = {
        "customer": {"email": "p@example.com", "name": "Pat Parent"},
        "items": [{"product_id": "summer-robotics", "date": "2027-01-05", "session": "day",
                   "student": {"name": "Kid", "age": 8}}],
    }  # fmt: skip
    cart = validate_checkout(body, CATALOG, today=date(2026, 12, 1))
    placed = orders.new_order("ord_early", cart, CATALOG, NOW)
    assert database.write(orders.place_order, placed) == []
    total = cart.amount_total
    clock = Clock()
    work = worker(database, clock, shared=False)
    (refund_id,) = store(database, refund_of("pi_early", "ord_early", total))
    # The refund has waited a while: its next try is minutes away.
    for _ in range(8):
        work.run_events(clock.now)
        clock.now = row(database, refund_id)["next_attempt_at"]
    work.run_events(clock.now)
    waiting = row(database, refund_id)
    assert waiting["waiting_for"] == "pi_early"
    assert waiting["next_attempt_at"] - clock.now == timedelta(seconds=512)

    session = checkout_session("cs_early", "ord_early", CREATED, total, "p@example.com",
                               "Pat", "pi_early")  # fmt: skip
    store(database, event_envelope("evt_paid_early", "checkout.session.completed", session, 1))
    work.run_events(clock.now)  # the payment, which wakes the refund
    work.run_events(clock.now)  # the refund, at the same moment: no wait

    assert row(database, refund_id)["status"] == "processed"
    assert database.read(
        lambda c: c.execute(
            "SELECT payment_status, fulfillment_status FROM orders WHERE order_id = 'ord_early'"
        ).fetchone()
    ) == ("refunded", "cancelled")


# --- one alert for a flood -----------------------------------------------------------------


def test_a_flood_of_500_payments_without_a_cart_is_one_entry_and_one_alert(database: Database):
    clock = Clock()
    store(database, *(foreign.cartless_payment(CREATED + n) for n in range(500)))

    run_until_settled(database, clock, worker(database, clock, shared=False))

    assert scalar(database, "SELECT count(*) FROM orders WHERE fulfillment_status ="
                  " 'needs_attention'") == 500  # fmt: skip
    assert database.read(
        lambda c: c.execute("SELECT group_kind, occurrences FROM error_log").fetchall()
    ) == [("no-cart", 500)]
    assert alerts_queued(database, clock.now) == 0  # still gathering
    assert alerts_queued(database, clock.now + timedelta(seconds=61)) == 1
    assert alerts_queued(database, clock.now + timedelta(minutes=5)) == 0
    messages = database.read(
        lambda c: c.execute("SELECT channel, payload FROM outbox ORDER BY channel").fetchall()
    )
    assert [channel for channel, _ in messages] == ["email", "slack"]
    text = json.loads(messages[0][1])["text"]
    assert text.startswith("High (payment): 500 payments received without a usable cart")


def test_in_a_shared_account_a_flood_of_unmarked_payments_alerts_nothing(database: Database):
    clock = Clock()
    store(database, *(foreign.cartless_payment(CREATED + n) for n in range(50)))

    run_until_settled(database, clock, worker(database, clock, shared=True))

    assert database.read(inbox.count_views)["not_ours"] == 50
    assert scalar(database, "SELECT count(*) FROM orders") == 0
    assert alerts_queued(database, clock.now + timedelta(hours=1)) == 0


def mixed_payments() -> list[dict]:
    """Payments without a usable cart of every kind the bulk path takes."""
    return [
        foreign.cartless_payment(CREATED, order_id="ord_we_never_made"),
        foreign.cartless_payment(CREATED + 1, tt_items="[{broken"),
        foreign.cartless_payment(CREATED + 2),
        foreign.front_desk_payment(CREATED + 3),
        foreign.cartless_payment(CREATED + 4, order_id="ord_nor_this_one"),
    ]


def decided(database: Database) -> list[tuple]:
    """What fulfilment made of them, without the random order ids."""
    return database.read(
        lambda c: (
            c.execute(
                "SELECT i.event_id, i.status, coalesce(i.not_ours, false), i.last_error,"
                " o.payment_status, o.fulfillment_status, o.amount_total, o.amount_paid,"
                " o.currency, o.attention_reason, o.payment_intent_id,"
                " (SELECT list(s.step || '=' || s.status || '/' || s.attempts ORDER BY s.step)"
                "  FROM fulfilment_steps s WHERE s.order_id = o.order_id)"
                " FROM webhook_inbox i LEFT JOIN orders o USING (order_id) ORDER BY i.created_at"
            ).fetchall()
            + c.execute(
                "SELECT group_kind, occurrences, category, severity, message FROM error_log"
                " ORDER BY group_kind"
            ).fetchall()
        )
    )


@pytest.mark.parametrize("shared", [True, False])
def test_payments_without_a_usable_cart_end_in_bulk_where_one_by_one_does(tmp_path, shared: bool):
    from core.settings import DatabaseLocation
    from fulfilment import bulk_payments
    from fulfilment.events import handle_event

    results = []
    payments = mixed_payments()
    for way in ("one_by_one", "bulk"):
        database = Database.open(DatabaseLocation("duckdb", str(tmp_path / f"{way}.duckdb")))
        try:
            ids = store(database, *payments)
            if way == "one_by_one":
                for event_id in ids:
                    database.write(handle_event, event_id, CATALOG, NOW, False, shared)
            else:
                left = database.write(
                    bulk_payments.record_unusable_payments, ids, CATALOG, NOW, False, shared
                )
                assert left == []
            results.append(decided(database))
        finally:
            database.close()

    one_by_one, bulk = results
    assert bulk == one_by_one
    statuses = [row[1:3] for row in one_by_one[:5]]
    if shared:  # the broken cart and the unknown orders carry our markers
        assert sorted(statuses) == [("ignored", True)] * 2 + [("processed", False)] * 3
    else:
        assert statuses == [("processed", False)] * 5


def old_api_invoice(price: str) -> dict:
    """`invoice.paid` as older API versions send it: `subscription` at the top level, no
    subscription metadata; its one line of `price`."""
    invoice = {
        "id": f"in_old_{price}", "object": "invoice", "amount_paid": 2900,
        "billing_reason": "subscription_cycle", "currency": "aud", "customer": "cus_old",
        "subscription": f"sub_old_{price}", "metadata": {},
        "lines": {"object": "list", "has_more": False, "data": [{
            "id": "il_old", "object": "line_item", "amount": 2900, "currency": "aud",
            "price": {"id": price, "object": "price"},
            "period": {"start": CREATED, "end": CREATED + 7 * 86400},
        }]},
    }  # fmt: skip
    return event_envelope(f"evt_old_{price}", "invoice.paid", invoice, CREATED)


def test_an_old_api_invoice_is_ours_by_its_price_and_waits_else_is_not_ours_at_once(
    database: Database,
):
    clock = Clock()
    foreign_id, ours_id = store(
        database, old_api_invoice("price_kit_box_monthly"),
        old_api_invoice("price_ignite_coding_monday_2027"),
    )  # fmt: skip
    work = worker(database, clock, shared=True)

    work.run_events(clock.now)

    assert row(database, foreign_id)["not_ours"] is True
    waiting = row(database, ours_id)
    assert waiting["status"] == "received"
    assert waiting["waiting_for"] == "sub_old_price_ignite_coding_monday_2027"
    run_until_settled(database, clock, work)
    # Ours by its price, and no order ever came: failed, for staff, even in a shared account.
    assert row(database, ours_id)["status"] == "failed"
    assert scalar(database, "SELECT count(*) FROM error_log WHERE stripe_event_id = ?",
                  ours_id) == 1  # fmt: skip


def test_under_a_burst_of_webhooks_the_worker_hands_over_smaller_jobs(database: Database):
    """Every webhook that comes while a background job runs waits for it: under a burst
    (as the writer last saw it) a bulk job takes 20 payments, not 100, and they all end
    the same."""
    from fulfilment import worker as worker_module

    clock = Clock()
    store(database, *(foreign.cartless_payment(CREATED + n) for n in range(60)))
    sizes: list[int] = []
    submit = database.submit_background

    def counted(fn, *args):
        if fn is worker_module.bulk_payments.record_unusable_payments:
            sizes.append(len(args[0]))
        return submit(fn, *args)

    database.submit_background = counted  # type: ignore[method-assign]
    database._writer.under_burst = True  # as after commits of many webhooks each
    run_until_settled(database, clock, worker(database, clock, shared=False))

    assert sizes and max(sizes) == worker_module.BULK_SLICE_UNDER_BURST and sum(sizes) == 60
    assert scalar(database, "SELECT count(*) FROM orders WHERE fulfillment_status ="
                  " 'needs_attention'") == 60  # fmt: skip
