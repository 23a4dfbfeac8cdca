"""Money and mode are checked, end to end on real sidecars: a payment of another amount or
currency than its order, or an event of the other mode than the Stripe key, fulfils
nothing, leaves an error-log entry for staff and raises an alert on Slack."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import Sidecar, SlackHook, sidecar_env, storefront_payment
from tests.fakes.stripe import FakeStripe
from tests.sidecar.test_fulfilment import (
    camp,
    checkout,
    delivered,
    errors,
    fulfilled,
    inbox_status,
    status,
    status_when,
    wait_for,
)

CUSTOMER = {"email": "parent@example.com", "name": "Pat Parent"}


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackHook]:
    hook = SlackHook()
    yield hook
    hook.close()


def start(tmp_path_factory, name: str, slack: SlackHook, **env: str) -> Iterator[Sidecar]:
    tmp_path = tmp_path_factory.mktemp(name)
    server = start_sidecar(
        free_port(),
        sidecar_env(tmp_path, SLACK_WEBHOOK_URL=slack.url, **env),
        log_path=tmp_path / "sidecar.log",
    )
    yield Sidecar(server)
    server.stop()


@pytest.fixture(scope="module")
def test_shop(fake: FakeStripe, slack: SlackHook, tmp_path_factory) -> Iterator[Sidecar]:
    """Test-mode key: checkout through the fake Stripe."""
    yield from start(tmp_path_factory, "test-shop", slack, STRIPE_SECRET_KEY="sk_test_123",
                     STRIPE_API_BASE=fake.url)  # fmt: skip


@pytest.fixture(scope="module")
def live_shop(slack: SlackHook, tmp_path_factory) -> Iterator[Sidecar]:
    """Live key (the fake Stripe takes only test keys, so orders come from a payment's cart)."""
    yield from start(tmp_path_factory, "live-shop", slack, STRIPE_SECRET_KEY="sk_live_123")


@pytest.fixture(scope="module")
def keyless_shop(slack: SlackHook, tmp_path_factory) -> Iterator[Sidecar]:
    yield from start(tmp_path_factory, "keyless-shop", slack)


def alert_about(slack: SlackHook, *texts: str) -> str:
    """The Slack alert whose text has all of `texts` (waits for it)."""
    return wait_for(
        lambda: next(
            (post["text"] for _, post in slack.posts
             if post["text"].startswith("Critical") and all(t in post["text"] for t in texts)),
            None,
        )
    )  # fmt: skip


def critical_entries(sidecar: Sidecar, event_id: str) -> list[dict]:
    response = sidecar.staff_get("/api/errors", severity="critical", limit=500)
    assert response.status_code == 200, response.text
    return [e for e in response.json()["errors"] if e["stripe_event_id"] == event_id]


# --- the amount and the currency -------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "problem"),
    [
        (100, "aud", "paid $1.00, but the order is $89.00: underpaid"),
        (1, "jpy", "paid 1 JPY, but the order is $89.00: wrong currency"),
    ],
    ids=["wrong amount", "wrong currency"],
)
def test_a_payment_of_other_money_fulfils_nothing_and_alerts_staff(
    test_shop: Sidecar, fake: FakeStripe, slack: SlackHook, amount: int, currency: str,
    problem: str,
):  # fmt: skip
    day = "2027-01-18" if currency == "aud" else "2027-01-19"
    order_id, session_id = checkout(test_shop, fake, [camp(day, "day", "Ada")])
    event = copy.deepcopy(fake.complete_session(session_id))
    event["data"]["object"].update(amount_total=amount, currency=currency)

    response = test_shop.deliver(event)

    assert response.status_code == 200
    s = status_when(test_shop, order_id, lambda s: s["fulfillment_status"] == "needs_attention")
    assert s["payment_status"] == "paid"
    assert s["bookings"] == []
    (entry,) = [e for e in errors(test_shop, order_id) if e["severity"] == "critical"]
    assert entry["category"] == "payment"
    assert entry["message"].startswith(f"wrong payment: {problem}.")
    assert order_id in alert_about(slack, problem)


def test_the_right_money_fulfils_the_order_without_an_alert(
    test_shop: Sidecar, fake: FakeStripe, slack: SlackHook
):
    order_id, session_id = checkout(test_shop, fake, [camp("2027-01-20", "day", "Ben")])

    delivered(test_shop, fake.complete_session(session_id))

    s = status_when(test_shop, order_id, fulfilled)
    assert s["payment_status"] == "paid"
    assert errors(test_shop, order_id) == []
    wait_for(lambda: any(order_id in p["text"] for _, p in slack.posts))  # the staff notice
    assert not [p for _, p in slack.posts if order_id in p["text"] and "Critical" in p["text"]]


# --- the mode ------------------------------------------------------------------------------


def test_a_live_event_for_a_test_key_is_refused_and_the_order_left_waiting(
    test_shop: Sidecar, fake: FakeStripe, slack: SlackHook
):
    order_id, session_id = checkout(test_shop, fake, [camp("2027-01-21", "day", "Cy")])
    event = copy.deepcopy(fake.complete_session(session_id))
    event["livemode"] = True
    delivered(test_shop, event)

    row = inbox_status(test_shop, event["id"], "failed")
    assert row["last_error"].startswith("wrong mode: a live-mode event")
    (entry,) = critical_entries(test_shop, event["id"])
    assert entry["order_id"] == order_id
    assert "runs in test mode" in entry["message"]
    assert order_id in alert_about(slack, event["type"], "refused: a live-mode event")
    s = status_when(test_shop, order_id, lambda s: True)
    assert (s["payment_status"], s["fulfillment_status"]) == ("pending", "waiting")


def test_a_test_event_for_a_live_key_makes_no_order(live_shop: Sidecar, slack: SlackHook):
    event = storefront_payment([camp("2027-01-04", "day", "Di")], CUSTOMER, 8900)
    assert event["livemode"] is False

    delivered(live_shop, event)

    row = inbox_status(live_shop, event["id"], "failed")
    assert row["last_error"].startswith("wrong mode: a test-mode event")
    (entry,) = critical_entries(live_shop, event["id"])
    assert entry["order_id"] is None
    assert "runs in live mode" in entry["message"]
    alert_about(slack, "refused: a test-mode event", "live mode")
    assert status(live_shop, event["data"]["object"]["id"]) is None


def test_a_live_event_for_a_live_key_is_fulfilled(live_shop: Sidecar):
    event = storefront_payment([camp("2027-01-05", "day", "Ed")], CUSTOMER, 8900)
    event["livemode"] = True

    delivered(live_shop, event)

    status_when(live_shop, event["data"]["object"]["id"], fulfilled)


def test_without_a_key_only_test_mode_is_applied(keyless_shop: Sidecar, slack: SlackHook):
    live = storefront_payment([camp("2027-01-06", "day", "Flo")], CUSTOMER, 8900)
    live["livemode"] = True
    test = storefront_payment([camp("2027-01-06", "day", "Gus")], CUSTOMER, 8900)

    delivered(keyless_shop, live)
    delivered(keyless_shop, test)

    status_when(keyless_shop, test["data"]["object"]["id"], fulfilled)
    inbox_status(keyless_shop, live["id"], "failed")
    assert len(critical_entries(keyless_shop, live["id"])) == 1
    alert_about(slack, "refused: a live-mode event", "test key, or unset")
