"""The daily summary end to end: orders paid through the real webhook, `tinkertank summary`
against a real sidecar, posted to a local Slack server once per day unless forced."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from core import clock
from core.cart_metadata import encode_metadata_cart
from core.simulation import paid_invoice, subscription, subscription_checkout_session
from runtime.sidecar_process import inherited_env
from tests.conftest import ADMIN_TOKEN, REPO, Sidecar, SlackHook, make_event, sidecar_env
from tests.sidecar.test_alerts import wait_for

SYDNEY = ZoneInfo("Australia/Sydney")


def local_today() -> date:
    return clock.now().astimezone(SYDNEY).date()


def catalog_with_a_party_tomorrow(tmp_path: Path) -> Path:
    """The demo catalog plus a party that can be booked on any day from today, so that
    "tomorrow's events" has one whatever day the tests run."""
    today = local_today()
    party = f"""
[[parties]]
id = "test-party"
name = "Test Party"
venue = "chatswood"
rooms = ["launch-pad"]
weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
slots = ["10:00"]
duration_minutes = 120
price = 30000
max_guests = 10
first_date = "{today}"
last_date = "{today + timedelta(days=3)}"
description = "A party for the tests."
"""
    path = tmp_path / "catalog.toml"
    path.write_text((REPO / "data" / "catalog.toml").read_text() + party)
    return path


def tinkertank(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env={**inherited_env(), **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def staff_post(sidecar: Sidecar, path: str, body: Any = None) -> requests.Response:
    return requests.post(
        sidecar.url + path,
        json=body,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=60,
    )


def sql(sidecar: Sidecar, query: str) -> list[list[Any]]:
    response = staff_post(sidecar, "/api/sql", {"sql": query})
    assert response.status_code == 200, response.text
    return response.json()["rows"]


def settled(sidecar: Sidecar) -> bool:
    """Every delivery processed and every step of every order finished."""
    ((waiting,),) = sql(
        sidecar,
        "SELECT (SELECT count(*) FROM webhook_inbox WHERE status IN ('received', 'processing'))"
        " + (SELECT count(*) FROM fulfilment_steps WHERE status IN ('pending', 'running'))",
    )
    return waiting == 0


def pay(sidecar: Sidecar, items: list[dict], amount: int) -> str:
    """A storefront payment with the cart in its metadata; its PaymentIntent id."""
    metadata = encode_metadata_cart(items, {"email": "kim@example.com", "name": "Kim Lee"})
    intent_id = f"pi_{secrets.token_hex(8)}"
    intent = {"id": intent_id, "object": "payment_intent", "amount": amount,
              "amount_received": amount, "currency": "aud", "metadata": metadata,
              "status": "succeeded"}  # fmt: skip
    response = sidecar.deliver(make_event(type="payment_intent.succeeded", data={"object": intent}))
    assert response.status_code == 200
    return intent_id


def refund(sidecar: Sidecar, intent_id: str, amount: int, refunded: int) -> None:
    charge = {"id": f"ch_{secrets.token_hex(8)}", "object": "charge", "amount": amount,
              "amount_refunded": refunded, "currency": "aud", "payment_intent": intent_id,
              "refunded": refunded == amount, "status": "succeeded"}  # fmt: skip
    response = sidecar.deliver(make_event(type="charge.refunded", data={"object": charge}))
    assert response.status_code == 200


def ignite_sign_up(sidecar: Sidecar) -> None:
    """An Ignite subscription paid through Checkout, its subscription and first invoice."""
    ref = secrets.token_hex(6)
    items = [{"product_id": "ignite-coding-monday", "student": {"name": "Zoe", "age": 9}}]
    metadata = encode_metadata_cart(items, {"email": "pat@example.com", "name": "Pat Parent"})
    now = clock.unix()
    start = int(datetime(2027, 2, 1, tzinfo=UTC).timestamp())
    end = int(datetime(2027, 3, 1, tzinfo=UTC).timestamp())
    sub, cus, inv = f"sub_{ref}", f"cus_{ref}", f"in_{ref}"
    objects = [
        ("checkout.session.completed", subscription_checkout_session(
            f"cs_{ref}", now, 14900, "pat@example.com", "Pat Parent", metadata, sub, cus, inv)),
        ("customer.subscription.created", subscription(
            sub, cus, "price_ignite_coding_monday_2027", 14900, now, start, end)),
        ("invoice.paid", paid_invoice(inv, sub, cus, 14900, now, start, end)),
    ]  # fmt: skip
    for event_type, obj in objects:
        assert sidecar.deliver(make_event(type=event_type, data={"object": obj})).status_code == 200


@pytest.fixture
def shop(start_sidecar_process, tmp_path: Path, slack: SlackHook) -> Sidecar:
    return start_sidecar_process(
        CATALOG_PATH=str(catalog_with_a_party_tomorrow(tmp_path)), SLACK_WEBHOOK_URL=slack.url
    )


@pytest.mark.slow
def test_the_summary_adds_up_the_days_orders_refunds_bookings_and_tomorrows_events(
    shop: Sidecar, tmp_path: Path
):
    today = local_today()
    tomorrow = today + timedelta(days=1)
    camp = {"product_id": "summer-robotics", "date": "2027-01-07", "session": "day",
            "student": {"name": "Mia", "age": 8}}  # fmt: skip
    party = {"product_id": "test-party", "date": str(tomorrow), "start_time": "10:00",
             "student": {"name": "Leo", "age": 7}}  # fmt: skip
    refunded_camp = pay(shop, [camp], 8900)
    pay(shop, [{**camp, "date": "2027-01-08", "session": "all_day"}, party], 11900 + 30000)
    ignite_sign_up(shop)
    assert wait_for(lambda: settled(shop), timeout=30)
    refund(shop, refunded_camp, 8900, 8900)  # in full: its booking is cancelled
    assert wait_for(lambda: settled(shop), timeout=30)

    result = tinkertank(sidecar_env(tmp_path, SIDECAR_URL=shop.url), "summary", "--date",
                        str(today))  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert f"summary for {today} stored (not posted)" in result.stdout
    figures = shop.staff_get(f"/api/summaries/{today}").json()["figures"]
    assert figures["orders"] == {"created": 3, "paid": 3}
    assert figures["revenue"] == {
        "total": 11900 + 30000 + 14900,
        "gross": 8900 + 11900 + 30000 + 14900,
        "refunded": 8900,
        "by_kind": {"camp": 11900, "party": 30000, "ignite": 14900},
    }
    assert figures["refunds"] == {"count": 1, "amount": 8900}
    # the camp day of the refunded order is cancelled; Ignite books February's 3 Mondays
    assert figures["bookings"] == {"total": 5, "by_kind": {"camp": 1, "party": 1, "ignite": 3}}
    assert figures["tomorrow"]["date"] == str(tomorrow)
    assert [(e["title"], e["booked"], e["capacity"]) for e in figures["tomorrow"]["events"]] == [
        ("Test Party", 1, 1)
    ]
    assert figures["tomorrow"]["fill"] == 1.0
    assert figures["webhooks"]["failed"] == 0 and figures["webhooks"]["backlog"] == 0
    assert figures["webhooks"]["received"] == 6
    assert "Revenue: $568.00 net" in result.stdout
    assert "Test Party (party): 1/1" in result.stdout


@pytest.mark.slow
def test_summary_posted_twice_reaches_slack_once_and_force_posts_again(
    shop: Sidecar, slack: SlackHook, tmp_path: Path
):
    env = sidecar_env(tmp_path, SIDECAR_URL=shop.url)

    first = tinkertank(env, "summary", "--post")
    second = tinkertank(env, "summary", "--post")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    yesterday = local_today() - timedelta(days=1)
    assert f"summary for {yesterday} stored and queued for Slack" in first.stdout
    assert "already posted to Slack" in second.stdout
    assert wait_for(lambda: len(slack.posts) >= 1)
    time.sleep(1)  # time for a second message to show up, were one queued
    assert len(slack.posts) == 1
    assert slack.posts[0][1]["text"].startswith("TinkerTank daily summary for")

    forced = tinkertank(env, "summary", "--post", "--force")

    assert forced.returncode == 0, forced.stderr
    assert wait_for(lambda: len(slack.posts) >= 2)
    time.sleep(1)
    assert len(slack.posts) == 2
    stored = shop.staff_get(f"/api/summaries/{yesterday}").json()
    assert stored["post_count"] == 2
    listed = shop.staff_get("/api/summaries", since=str(yesterday)).json()
    assert [s["date"] for s in listed["summaries"]] == [str(yesterday)]


def test_summary_without_a_sidecar_says_so_and_exits_3(tmp_path: Path):
    result = tinkertank(sidecar_env(tmp_path, SIDECAR_URL="http://127.0.0.1:9"), "summary")

    assert result.returncode == 3
    assert "the sidecar at http://127.0.0.1:9 did not answer" in result.stderr


def test_summary_refused_by_the_sidecar_says_why(sidecar: Sidecar, tmp_path: Path):
    env = sidecar_env(tmp_path, SIDECAR_URL=sidecar.url)
    future = local_today() + timedelta(days=2)

    wrong_token = tinkertank({**env, "ADMIN_TOKEN": "not-the-admin-token-at-all"}, "summary")
    too_soon = tinkertank(env, "summary", "--date", str(future))
    no_slack = tinkertank(env, "summary", "--post")

    assert wrong_token.returncode == 2
    assert "refused the token: check ADMIN_TOKEN" in wrong_token.stderr
    assert too_soon.returncode == 1
    assert f"{future} has not begun yet" in too_soon.stderr
    assert no_slack.returncode == 1
    assert "SLACK_WEBHOOK_URL is not set" in no_slack.stderr


def test_summaries_api_refuses_bad_input_and_unknown_days(sidecar: Sidecar):
    assert sidecar.staff_get("/api/summaries/1999-01-01").status_code == 404
    assert sidecar.staff_get("/api/summaries/yesterday").json()["error"] == "invalid_query"
    assert sidecar.staff_get("/api/summaries", since="soon").status_code == 422
    assert sidecar.staff_get("/api/trends", days="0").status_code == 422
    bad = staff_post(sidecar, "/api/summaries/run", {"date": "2026-02-30"})
    assert bad.status_code == 422 and "date" in bad.json()["message"]
    assert staff_post(sidecar, "/api/summaries/run", {"post": "yes"}).status_code == 422
    assert staff_post(sidecar, "/api/summaries/run", {"date": "0001-01-01"}).status_code == 422
    assert staff_post(sidecar, "/api/summaries/run", {"date": 20261101}).status_code == 422
    assert staff_post(sidecar, "/api/summaries/run", [1]).status_code == 422
    assert requests.get(sidecar.url + "/api/trends", timeout=10).status_code == 401


def test_trends_give_each_of_the_last_days_with_todays_revenue(sidecar: Sidecar):
    camp = {"product_id": "summer-space-engineers", "date": "2027-01-05", "session": "day",
            "student": {"name": "Ava", "age": 8}}  # fmt: skip
    pay(sidecar, [camp], 8900)
    assert wait_for(lambda: settled(sidecar), timeout=30)

    days = sidecar.staff_get("/api/trends", days="7").json()["days"]

    assert [d["date"] for d in days] == [
        str(local_today() - timedelta(days=n)) for n in range(6, -1, -1)
    ]
    assert days[-1]["revenue_by_kind"]["camp"] >= 8900
    assert days[-1]["bookings_by_kind"]["camp"] >= 1
    assert json.dumps(days)  # plain JSON all the way down
