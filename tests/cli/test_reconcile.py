"""`tinkertank reconcile` against the local fake of Stripe's API, and `tinkertank reprocess`,
each against a real sidecar."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
import stripe

from cli.reconcile import parse_since, stripe_pages
from core import clock
from core.cart_metadata import encode_metadata_cart
from tests.conftest import ADMIN_TOKEN, Sidecar, make_event, sidecar_env
from tests.fakes.stripe import FakeStripe
from tests.sidecar.test_alerts import wait_for
from tests.sidecar.test_summary import settled, sql, tinkertank

SYDNEY = ZoneInfo("Australia/Sydney")


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as server:
        yield server


@pytest.fixture
def shop(start_sidecar_process, fake: FakeStripe) -> Sidecar:
    return start_sidecar_process(STRIPE_SECRET_KEY="sk_test_123", STRIPE_API_BASE=fake.url)


def paid_event(created: int | None = None) -> dict:
    """A storefront payment (cart in metadata), as Stripe would list it."""
    items = [{"product_id": "summer-robotics", "date": "2027-01-05", "session": "day",
              "student": {"name": "Mia", "age": 8}}]  # fmt: skip
    metadata = encode_metadata_cart(items, {"email": "kim@example.com", "name": "Kim Lee"})
    intent = {"id": f"pi_{secrets.token_hex(8)}", "object": "payment_intent", "amount": 8900,
              "amount_received": 8900, "currency": "aud", "metadata": metadata,
              "status": "succeeded"}  # fmt: skip
    event = make_event(type="payment_intent.succeeded", data={"object": intent})
    if created is not None:
        event["created"] = created
    return event


@pytest.mark.slow
def test_reconcile_imports_exactly_the_events_the_webhook_missed(
    shop: Sidecar, fake: FakeStripe, tmp_path: Path
):
    events = [fake.add_event(paid_event()) for _ in range(5)]
    old = fake.add_event(paid_event(created=clock.unix() - 3 * 86400))
    for event in events[:2]:  # these two did arrive by webhook
        assert shop.deliver(event).status_code == 200
    env = sidecar_env(tmp_path, SIDECAR_URL=shop.url, STRIPE_SECRET_KEY="sk_test_123",
                      STRIPE_API_BASE=fake.url)  # fmt: skip

    result = tinkertank(env, "reconcile", "--since", "24h")

    assert result.returncode == 0, result.stderr
    assert "5 event(s) in Stripe since" in result.stdout
    assert "3 imported, 2 already in the inbox" in result.stdout
    imported = [line.split()[1] for line in result.stdout.splitlines()
                if line.startswith("imported ")]  # fmt: skip
    assert sorted(imported) == sorted(e["id"] for e in events[2:])
    assert shop.inbox_total() == 5
    assert shop.inbox_row(old["id"]) is None  # older than --since
    assert wait_for(lambda: settled(shop), timeout=30)
    paid = sql(shop, "SELECT payment_intent_id, payment_status FROM orders ORDER BY 1")
    assert paid == sorted([e["data"]["object"]["id"], "paid"] for e in events)

    again = tinkertank(env, "reconcile", "--since", "24h")

    assert again.returncode == 0, again.stderr
    assert "0 imported, 5 already in the inbox" in again.stdout
    assert shop.inbox_total() == 5


def test_stripe_pages_follow_has_more_and_starting_after(fake: FakeStripe):
    ids = {fake.add_event(paid_event())["id"] for _ in range(5)}
    client = stripe.StripeClient(
        "sk_test_123", base_addresses={"api": fake.url}, max_network_retries=0
    )

    pages = list(stripe_pages(client, clock.now() - timedelta(hours=1), page_size=2))

    assert [len(page) for page in pages] == [2, 2, 1]
    assert {event["id"] for page in pages for event in page} == ids
    listed = [r for r in fake.requests if r.path == "/v1/events"]
    assert [r.params.get("starting_after") for r in listed] == [
        None, pages[0][-1]["id"], pages[1][-1]["id"],
    ]  # fmt: skip


def test_reconcile_without_a_stripe_key_names_it(sidecar: Sidecar, tmp_path: Path):
    result = tinkertank(sidecar_env(tmp_path, SIDECAR_URL=sidecar.url), "reconcile",
                        "--since", "24h")  # fmt: skip

    assert result.returncode == 2
    assert "STRIPE_SECRET_KEY is required" in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", datetime(2026, 11, 25, 12, tzinfo=UTC)),
        ("7d", datetime(2026, 11, 19, 12, tzinfo=UTC)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=SYDNEY)),  # local midnight
    ],
)
def test_since_is_a_local_date_or_a_time_back(text, expected):
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)

    assert parse_since(text, now, SYDNEY) == expected


def test_since_that_is_neither_says_what_is_accepted():
    with pytest.raises(ValueError, match="give a date"):
        parse_since("last week", clock.now(), SYDNEY)


def test_import_refuses_what_is_not_an_event_and_stores_nothing(sidecar: Sidecar):
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    good = paid_event()
    body = {"events": [good, {"object": "charge", "id": "ch_1"}]}

    refused = requests.post(sidecar.url + "/api/inbox/import", json=body, headers=headers,
                            timeout=10)  # fmt: skip
    unauthorised = requests.post(sidecar.url + "/api/inbox/import", json=body, timeout=10)

    assert refused.status_code == 422
    assert refused.json()["problems"][0]["path"] == "events[1]"
    assert sidecar.inbox_row(good["id"]) is None
    assert unauthorised.status_code == 401


def test_reprocess_says_what_happened_to_each_event(sidecar: Sidecar, tmp_path: Path):
    ignored = make_event(type="customer.updated", data={"object": {"id": "cus_r"}})
    assert sidecar.deliver(ignored).status_code == 200
    assert wait_for(lambda: sidecar.inbox_row(ignored["id"])["status"] == "ignored")
    env = sidecar_env(tmp_path, SIDECAR_URL=sidecar.url)

    result = tinkertank(env, "reprocess", ignored["id"], "evt_never_seen")

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert f"{ignored['id']}: queued for processing again" in lines
    assert "evt_never_seen: not in the inbox" in lines
    assert "1 of 2 event(s) not reprocessed" in result.stderr
