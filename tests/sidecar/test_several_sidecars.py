"""Several sidecars on one PostgreSQL database (issue 14): real `tinkertank serve` processes
with the same DATABASE_URL on the suite's throwaway PostgreSQL server, no store process,
their work claimed (`store/locks.py`) so that each piece of it is done once.

These run in every `make test` (they need the suite's PostgreSQL server, as the PostgreSQL
half of the `database` fixture does), whatever TEST_BACKEND says.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import requests

from core import clock
from core.settings import DatabaseLocation
from core.simulation import checkout_session, event_envelope
from runtime.sidecar_process import ServerProcess, free_port, start_sidecar
from tests.conftest import ADMIN_TOKEN, REPO, Inbox, Sidecar, SlackHook, sidecar_env
from tests.fakes.stripe import FakeStripe
from tests.sidecar.test_fulfilment import (
    STEP_NAMES,
    camp,
    checkout,
    fulfilled,
    post_checkout,
    shop_env,
    status_when,
    wait_for,
)
from tests.sidecar.test_fulfilment_crash import place_orders, roomy_catalog
from tests.sidecar.test_scheduled_runs import local_minutes_ago, schedule, yesterday

IGNITE_PRICE = "price_ignite_coding_monday_2027"
# Orders in the kill -9 burst: each delivered twice, over two sidecars, one killed halfway.
BURST_ORDERS = 1000


@pytest.fixture
def start_several(
    fake: FakeStripe, tmp_path: Path, postgres_url: str
) -> Iterator[Callable[..., list[Sidecar]]]:
    """`start(n, **env)`: n sidecars at once on one fresh PostgreSQL database, each with
    files of its own; all are killed afterwards."""
    started: list[ServerProcess] = []

    def start(count: int = 2, **overrides: str) -> list[Sidecar]:
        servers = []
        for _ in range(count):
            n = len(started)
            folder = tmp_path / f"sidecar-{n}"
            folder.mkdir()
            env = sidecar_env(
                folder, **shop_env(fake), DATABASE_URL=postgres_url, DATA_DIR=str(folder),
                **overrides,
            )  # fmt: skip
            server = start_sidecar(free_port(), env, log_path=tmp_path / f"{n}.log", wait=False)
            started.append(server)
            servers.append(server)
        for server in servers:  # started together, so they migrate and begin at once
            server.wait_ready()
        return [Sidecar(server) for server in servers]

    yield start
    for server in started:
        server.kill()


def rows(url: str, sql: str, params: list | None = None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def smtp_env(smtp: tuple[Inbox, int], slack: SlackHook) -> dict[str, str]:
    _, port = smtp
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_SECURITY": "none",
            "SLACK_WEBHOOK_URL": slack.url}  # fmt: skip


def test_no_store_process_on_postgresql(start_several) -> None:
    (sidecar,) = start_several(1)
    children = Path(f"/proc/{sidecar.server.process.pid}/task/{sidecar.server.process.pid}")
    assert (children / "children").read_text().split() == []  # DuckDB's has its store's pid
    assert requests.get(sidecar.url + "/readyz", timeout=10).status_code == 200


def test_one_event_delivered_three_times_to_each_of_two_sidecars_is_fulfilled_once(
    start_several, fake: FakeStripe, postgres_url: str, smtp: tuple[Inbox, int],
    slack: SlackHook,
) -> None:  # fmt: skip
    first, second = start_several(2, **smtp_env(smtp, slack))
    order_id, session_id = checkout(
        first, fake, [camp("2027-01-04", "day", "Ada"), camp("2027-01-05", "day", "Ada")]
    )
    event = fake.complete_session(session_id)
    deliveries = [first, second] * 3
    random.shuffle(deliveries)
    answers: list[int] = []
    threads = [
        threading.Thread(target=lambda s=s: answers.append(s.deliver(event).status_code))
        for s in deliveries
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert answers == [200] * 6
    status_when(second, order_id, fulfilled)
    # Both messages sent (as each sender marks them): then no other sender still has one.
    wait_for(
        lambda: (
            rows(
                postgres_url,
                "SELECT count(*) FROM outbox WHERE order_id = %s AND status = 'sent'",
                [order_id],
            )
            == [(2,)]
        ),
        timeout=30,
    )
    inbox, _ = smtp
    assert len(inbox.messages) == 1  # the confirmation, once
    assert len(slack.posts) == 1  # the staff notice, once
    assert rows(postgres_url, "SELECT count(*), min(status) FROM webhook_inbox") == [
        (1, "processed")
    ]
    assert rows(
        postgres_url,
        "SELECT step, status, attempts FROM fulfilment_steps WHERE order_id = %s ORDER BY step",
        [order_id],
    ) == sorted((step, "done", 1) for step in STEP_NAMES)
    assert rows(
        postgres_url,
        "SELECT count(*), count(DISTINCT order_item_id), min(status) FROM bookings",
    ) == [(2, 2, "confirmed")]
    assert rows(postgres_url, "SELECT payment_status, fulfillment_status FROM orders") == [
        ("paid", "fulfilled")
    ]


def test_fifty_checkouts_over_two_sidecars_for_the_last_ten_seats_hold_ten(
    start_several, postgres_url: str, tmp_path: Path
) -> None:
    text = (REPO / "data" / "catalog.toml").read_text(encoding="utf-8")
    marker = 'id = "summer-robotics"'
    head, tail = text.split(marker)
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(head + marker + tail.replace("capacity = 24", "capacity = 10", 1))
    sidecars = start_several(2, CATALOG_PATH=str(catalog))
    gate = threading.Barrier(50)
    answers: list[int] = []

    def buy(sidecar: Sidecar) -> None:
        gate.wait()
        answers.append(post_checkout(sidecar, [camp("2027-01-19", "day", "Kid")]).status_code)

    threads = [threading.Thread(target=buy, args=(sidecars[n % 2],)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(answers) == [201] * 10 + [409] * 40
    assert rows(
        postgres_url,
        "SELECT count(*), sum(seats) FROM holds WHERE status = 'active' AND resource_key LIKE %s",
        ["%2027-01-19%"],
    ) == [(10, 10)]


@pytest.mark.slow
def test_kill_9_of_one_of_two_sidecars_in_a_burst_loses_nothing_and_fulfils_each_once(
    start_several, postgres_url: str, tmp_path: Path
) -> None:
    catalog = roomy_catalog(tmp_path)
    placed = place_orders(DatabaseLocation("postgresql", postgres_url), catalog, BURST_ORDERS)
    now = clock.unix()
    events = [
        event_envelope(
            f"evt_burst_{n:05d}",
            "checkout.session.completed",
            checkout_session(
                f"cs_burst_{n:05d}",
                order_id,
                now,
                total,
                "p@example.com",
                "Pat Parent",
                f"pi_burst_{n:05d}",
            ),
            now,
        )
        for n, (order_id, total) in enumerate(placed)
    ]
    # Leases far longer than the test: what the killed sidecar claimed is taken over because
    # its connections are gone (store/locks.py, `orphaned`), not because a lease ran out.
    doomed, survivor = start_several(2, CATALOG_PATH=str(catalog), WORK_LEASE_SECONDS="600")
    acknowledged: set[str] = set()
    lock = threading.Lock()
    # Each event to both sidecars, in turn: a duplicate as Stripe may send one.
    work = iter([(sidecar, e) for e in events for sidecar in (doomed, survivor)])

    def deliver() -> None:
        http = requests.Session()
        while True:
            with lock:
                sidecar, event = next(work, (None, None))
            if sidecar is None:
                return
            try:
                response = sidecar.deliver(event, session=http, timeout=5)
            except requests.RequestException:
                continue  # the killed one: Stripe will redeliver
            if response.status_code == 200:
                with lock:
                    acknowledged.add(event["id"])

    threads = [threading.Thread(target=deliver) for _ in range(16)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(acknowledged) >= len(events) // 2, timeout=60, interval=0.005)
    doomed.server.kill()
    for thread in threads:
        thread.join(60)

    stored = {row[0] for row in rows(postgres_url, "SELECT event_id FROM webhook_inbox")}
    assert acknowledged <= stored  # every acknowledged delivery was stored
    http = requests.Session()
    for event in events:  # Stripe redelivers what it did not see acknowledged
        if event["id"] not in acknowledged:
            assert survivor.deliver(event, session=http).status_code == 200

    def all_fulfilled() -> bool:
        counts = requests.get(
            survivor.url + "/api/orders/counts",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        ).json()
        return counts["fulfillment_status"].get("fulfilled", 0) == len(placed)

    wait_for(all_fulfilled, timeout=120, interval=0.2)
    assert rows(
        postgres_url, "SELECT payment_status, fulfillment_status, count(*) FROM orders"
        " GROUP BY payment_status, fulfillment_status",
    ) == [("paid", "fulfilled", len(placed))]  # fmt: skip
    assert sorted(
        rows(
            postgres_url, "SELECT step, status, attempts, count(*) FROM fulfilment_steps"
            " GROUP BY step, status, attempts",
        )
    ) == sorted((step, "done", 1, len(placed)) for step in STEP_NAMES)  # fmt: skip
    assert rows(postgres_url, "SELECT count(*), count(DISTINCT order_item_id) FROM bookings") == [
        (2 * len(placed), 2 * len(placed))
    ]
    assert (
        rows(postgres_url, "SELECT count(*), count(DISTINCT slot_key) FROM events")[0][0]
        == (rows(postgres_url, "SELECT count(DISTINCT slot_key) FROM events")[0][0])
    )
    assert rows(postgres_url, "SELECT count(*), count(DISTINCT dedupe_key) FROM outbox") == [
        (2 * len(placed), 2 * len(placed))
    ]
    assert rows(postgres_url, "SELECT count(*) FROM webhook_inbox WHERE status <> 'processed'") == [
        (0,)
    ]


def test_two_sidecars_starting_together_post_the_daily_summary_once(
    start_several, postgres_url: str, slack: SlackHook
) -> None:
    sidecars = start_several(
        2, SUMMARY_AT=local_minutes_ago(1), REMINDERS_EVERY_MINUTES="60",
        SLACK_WEBHOOK_URL=slack.url,
    )  # fmt: skip
    # The summary comes before the reminders in each round: once both ran their reminders,
    # both have decided about the summary.
    for sidecar in sidecars:
        wait_for(lambda s=sidecar: schedule(s)["last_reminders"] is not None, timeout=60)
    posted = [s for s in sidecars if (schedule(s)["last_summary"] or {}).get("posted") is True]
    assert len(posted) == 1
    wait_for(
        lambda: (
            rows(
                postgres_url,
                "SELECT status FROM outbox WHERE dedupe_key = %s",
                [f"summary:{yesterday()}"],
            )
            == [("sent",)]
        ),
        timeout=30,
    )
    assert len(slack.posts) == 1
    assert rows(postgres_url, "SELECT post_count FROM daily_summaries") == [(1,)]


def ignite_subscription(sidecar: Sidecar, fake: FakeStripe, name: str) -> tuple[str, str]:
    """An Ignite sign-up checked out and paid through the fake: its order and subscription."""
    fake.add_price(IGNITE_PRICE, unit_amount=14900, currency="aud",
                   recurring={"interval": "month"})  # fmt: skip
    body = {"customer": {"email": f"{name.lower()}@example.com", "name": f"{name} Parent"},
            "items": [{"product_id": "ignite-coding-monday",
                       "student": {"name": name, "age": 9}}]}  # fmt: skip
    made = requests.post(sidecar.url + "/api/checkout", json=body, timeout=30)
    assert made.status_code == 201, made.text
    order_id = made.json()["order_id"]
    (session,) = [s for s in fake.sessions.values() if s["client_reference_id"] == order_id]
    completed = fake.complete_session(session["id"])
    assert sidecar.deliver(completed).status_code == 200
    wait_for(lambda: staff_order(sidecar, order_id)["order"]["subscription_id"])
    return order_id, completed["data"]["object"]["subscription"]


def staff_order(sidecar: Sidecar, order_id: str) -> dict:
    response = sidecar.staff_get(f"/api/orders/{order_id}")
    assert response.status_code == 200, response.text
    return response.json()


def end_subscription(sidecar: Sidecar, order_id: str, when: str, who: str) -> requests.Response:
    return requests.post(
        f"{sidecar.url}/api/orders/{order_id}/end-subscription",
        json={"when": when, "reason": f"{who}: the family is moving"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60,
    )  # fmt: skip


def stripe_calls(fake: FakeStripe, subscription: str) -> list[str]:
    return [r.method for r in fake.requests if r.path == f"/v1/subscriptions/{subscription}"]


def test_two_staff_ending_one_subscription_on_two_sidecars_ask_stripe_once(
    start_several, fake: FakeStripe
) -> None:
    first, second = start_several(2)
    order_id, subscription = ignite_subscription(first, fake, "Ari")
    fake.delay_next(1, 1.5)  # Stripe is slow to answer the first: the other asks meanwhile
    answers: dict[str, requests.Response] = {}
    barrier = threading.Barrier(2)

    def ask(sidecar: Sidecar, who: str) -> None:
        barrier.wait()
        answers[who] = end_subscription(sidecar, order_id, "now", who)

    threads = [threading.Thread(target=ask, args=pair)
               for pair in ((first, "ann"), (second, "ben"))]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    statuses = sorted(a.status_code for a in answers.values())
    assert statuses == [200, 409], [a.text for a in answers.values()]
    (busy,) = [a.json() for a in answers.values() if a.status_code == 409]
    assert busy["error"] == "ending_in_progress" and "is ending this subscription" in (
        busy["message"])  # fmt: skip
    assert stripe_calls(fake, subscription) == ["DELETE"]
    assert fake.subscription(subscription)["status"] == "canceled"
    # Asked again once the first has finished, on either sidecar: the first one's result.
    for sidecar in (first, second):
        again = end_subscription(sidecar, order_id, "now", "cat")
        assert again.status_code == 200 and again.json()["already"] is True, again.text
    assert stripe_calls(fake, subscription) == ["DELETE"]
    actions = first.staff_get("/api/actions", order_id=order_id).json()["actions"]
    assert [a["action"] for a in actions] == ["end_subscription"]


def test_a_sidecar_killed_while_ending_a_subscription_does_not_block_the_next_request(
    start_several, fake: FakeStripe, postgres_url: str
) -> None:
    first, second = start_several(2)
    order_id, subscription = ignite_subscription(first, fake, "Bea")
    fake.delay_next(1, 30)  # the first sidecar's Stripe call is under way when it is killed

    def ask_and_be_killed() -> None:
        with contextlib.suppress(requests.RequestException):  # its connection is cut
            end_subscription(first, order_id, "period_end", "ann")

    thread = threading.Thread(target=ask_and_be_killed)
    thread.start()
    claim = "SELECT status, claimed_by FROM subscription_endings WHERE subscription_id = %s"
    wait_for(lambda: stripe_calls(fake, subscription) == ["POST"])
    ((status, claimed_by),) = rows(postgres_url, claim, [subscription])
    assert status == "claimed"
    # Meanwhile the other sidecar says it is under way.
    busy = end_subscription(second, order_id, "period_end", "ben")
    assert busy.status_code == 409, busy.text
    assert "is ending this subscription (period end)" in busy.json()["message"]
    first.server.kill()
    thread.join(60)
    # Once the server has seen the killed sidecar's connections go, its claim is stale.
    wait_for(lambda: not rows(postgres_url, "SELECT 1 FROM pg_stat_activity"
                              " WHERE application_name = %s", [claimed_by]))  # fmt: skip
    taken_over = end_subscription(second, order_id, "period_end", "ben")
    assert taken_over.status_code == 200 and taken_over.json()["already"] is False, (
        taken_over.text)  # fmt: skip
    # Stripe's idempotency key made the second call the same one.
    assert stripe_calls(fake, subscription) == ["POST", "POST"]
    assert fake.subscription(subscription)["cancel_at_period_end"] is True
    assert rows(postgres_url, claim, [subscription])[0][0] == "done"
    actions = second.staff_get("/api/actions", order_id=order_id).json()["actions"]
    assert [(a["action"], a["reason"]) for a in actions] == [
        ("end_subscription", "ben: the family is moving")]  # fmt: skip
