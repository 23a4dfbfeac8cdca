"""A real sidecar with seeded data for the dashboard's tests, and an AppTest that logs in.

Seeding goes through the real endpoints, as a parent would: `POST /api/checkout` against the
fake Stripe, then the signed `checkout.session.completed` the fake emits. A fault drill makes
the first two orders' `schedule_events` fail for good, so there is something to retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from streamlit.testing.v1 import AppTest

from core.settings import Settings, load_settings
from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import ADMIN_TOKEN, REPO, Sidecar, make_event, sidecar_env
from tests.fakes.stripe import FakeStripe
from tests.sidecar.test_alerts import dispute_event
from tests.sidecar.test_fulfilment import charge_refunded_event

APP = REPO / "dashboard" / "app.py"
PASSWORD = "correct horse battery staple"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PAGES = (
    "live", "orders", "calendar", "checkin", "webhooks", "errors", "summaries", "support", "sql",
    "waitlist", "staff",
)  # fmt: skip


@dataclass
class Seeded:
    sidecar: Sidecar
    failed_orders: list[str]  # schedule_events failed for good, one error entry each
    fulfilled_orders: list[str]
    party_order: str
    ignored_event: str  # a delivered event type the worker ignores (can be reprocessed)
    camp_day: str  # a day with two bookings in one camp event
    ticket_id: str  # an open support ticket about the first fulfilled order
    both_sessions_day: str = "2027-01-07"  # Cy all day and Di day, one camp's day

    @property
    def url(self) -> str:
        return self.sidecar.url

    def get(self, path: str, **params: Any) -> dict:
        response = requests.get(self.url + path, params=params, headers=AUTH, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()


def wait_for(predicate: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s; the last answer was {result!r}")
        time.sleep(0.05)


def order_status(url: str, order_id: str) -> dict:
    response = requests.get(f"{url}/api/orders/{order_id}/status", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def step_status(url: str, order_id: str, step: str) -> str:
    steps = {s["name"]: s["status"] for s in order_status(url, order_id)["steps"]}
    return steps.get(step, "")


def place_and_pay(sidecar: Sidecar, fake: FakeStripe, name: str, items: list[dict]) -> str:
    email = f"{name.lower().replace(' ', '.')}@example.com"
    body = {"customer": {"email": email, "name": name}, "items": items}
    response = requests.post(sidecar.url + "/api/checkout", json=body, timeout=10)
    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]
    (session_id,) = [
        sid for sid, s in fake.sessions.items() if s["client_reference_id"] == order_id
    ]
    delivered = sidecar.deliver(fake.complete_session(session_id))
    assert delivered.status_code == 200, delivered.text
    return order_id


def camp(day: str, session: str, child: str, age: int = 9) -> dict:
    return {
        "product_id": "summer-robotics",
        "date": day,
        "session": session,
        "student": {"name": child, "age": age, "notes": "nut allergy"},
    }


@pytest.fixture(scope="session")
def fake_stripe() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


@pytest.fixture(scope="session")
def seeded(fake_stripe: FakeStripe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    tmp_path = tmp_path_factory.mktemp("dashboard-sidecar")
    env = sidecar_env(
        tmp_path,
        STRIPE_SECRET_KEY="sk_test_123",
        STRIPE_API_BASE=fake_stripe.url,
        FULFILMENT_RETRY_SECONDS="0.05",
        # Four failed runs give a step up: the first three orders' scheduling fails for good
        # (one to retry from the Orders page, one from the Errors page, one in a browser).
        FAULT_DRILL="schedule_events=12",
    )
    server = start_sidecar(free_port(), env, log_path=tmp_path / "sidecar.log")
    sidecar = Sidecar(server)
    url = sidecar.url
    try:
        failed = []
        for name, day in (
            ("Fay Failing", "2027-01-04"),
            ("Gus Failing", "2027-01-05"),
            ("Hal Failing", "2027-01-05"),
        ):
            order_id = place_and_pay(sidecar, fake_stripe, name, [camp(day, "day", "Kim")])
            wait_for(lambda o=order_id: step_status(url, o, "schedule_events") == "failed")
            failed.append(order_id)
        fulfilled = [
            place_and_pay(sidecar, fake_stripe, "Ada Parent", [camp("2027-01-06", "day", "Ada")]),
            place_and_pay(sidecar, fake_stripe, "Bo Parent", [camp("2027-01-06", "day", "Bo")]),
            # Both sessions of one camp day, which share its places (Cy all day, Di day).
            place_and_pay(
                sidecar,
                fake_stripe,
                "Cy Parent",
                [camp("2027-01-07", "all_day", "Cy", age=7), camp("2027-01-07", "day", "Di", 8)],
            ),
        ]
        party = place_and_pay(
            sidecar,
            fake_stripe,
            "Dee Parent",
            [{"product_id": "robot-rampage-party", "date": "2027-01-16", "start_time": "10:00",
              "student": {"name": "Dee", "age": 8}}],
        )  # fmt: skip
        fulfilled.append(party)
        for order_id in fulfilled:
            wait_for(lambda o=order_id: order_status(url, o)["fulfillment_status"] == "fulfilled")
        ticket = requests.post(
            url + "/api/support/booking-issue",
            json={"order_id": fulfilled[0], "email": "ada.parent@example.com",
                  "category": "wrong_date", "name": "Ada Parent",
                  "message": "We booked Wednesday but meant Thursday."},
            timeout=10,
        )  # fmt: skip
        assert ticket.status_code == 201, ticket.text
        ignored = make_event(type="customer.updated", data={"object": {"id": "cus_1"}})
        assert sidecar.deliver(ignored).status_code == 200
        wait_for(lambda: (row := sidecar.inbox_row(ignored["id"])) and row["status"] == "ignored")
        yield Seeded(
            sidecar=sidecar,
            failed_orders=failed,
            fulfilled_orders=fulfilled,
            party_order=party,
            ignored_event=ignored["id"],
            ticket_id=ticket.json()["ticket_id"],
            camp_day="2027-01-06",
        )
    finally:
        server.stop()


def dashboard_settings(url: str, **overrides: str) -> Settings:
    env = {"ADMIN_TOKEN": ADMIN_TOKEN, "SIDECAR_URL": url, "DASHBOARD_PASSWORD": PASSWORD}
    env.update(overrides)
    return load_settings({k: v for k, v in env.items() if v}, client=True)


def new_dashboard(settings: Settings) -> AppTest:
    """The dashboard as a fresh browser session would get it, with these settings."""
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["settings"] = settings
    return at


def log_in(at: AppTest, password: str = PASSWORD, name: str = "Robin") -> AppTest:
    at.run()
    at.text_input(key="login-name").input(name)
    at.text_input(key="login-password").input(password)
    at.button(key="login-submit").click().run()
    return at


@pytest.fixture
def dashboard(seeded: Seeded) -> Callable[[str], AppTest]:
    """`dashboard("orders")`: a logged-in session showing that page."""

    def open_page(page: str) -> AppTest:
        at = log_in(new_dashboard(dashboard_settings(seeded.url)))
        assert not at.exception, at.exception
        at.switch_page(f"pages/{page}.py").run()
        return at

    return open_page


def no_trouble(at: AppTest) -> None:
    """No exception and no error box on the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@dataclass
class Troubled:
    """A sidecar whose error log holds one of each kind staff meet: a failed step (a retry
    fixes it), a partial refund and a dispute (no retry can)."""

    sidecar: Sidecar
    failed_order: str
    refunded_order: str

    @property
    def url(self) -> str:
        return self.sidecar.url

    def entry(self, kind: str) -> dict:
        """The open entry whose dedupe key starts with `kind` (or about the failed step)."""
        response = requests.get(self.url + "/api/errors", headers=AUTH, timeout=10)
        entries = response.json()["errors"]
        if kind == "step":
            (found,) = [e for e in entries if e["order_id"] == self.failed_order and e["step"]]
        else:
            (found,) = [e for e in entries if (e["dedupe_key"] or "").startswith(kind + ":")]
        return found


@pytest.fixture(scope="session")
def troubled(
    fake_stripe: FakeStripe, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Troubled]:
    tmp_path = tmp_path_factory.mktemp("troubled-sidecar")
    env = sidecar_env(
        tmp_path,
        STRIPE_SECRET_KEY="sk_test_123",
        STRIPE_API_BASE=fake_stripe.url,
        FULFILMENT_RETRY_SECONDS="0.05",
        FAULT_DRILL="schedule_events=4",  # the first order's scheduling fails for good
    )
    server = start_sidecar(free_port(), env, log_path=tmp_path / "sidecar.log")
    sidecar = Sidecar(server)
    url = sidecar.url
    try:
        failed = place_and_pay(
            sidecar, fake_stripe, "Flo Failing", [camp("2027-01-18", "day", "Flo")]
        )
        wait_for(lambda: step_status(url, failed, "schedule_events") == "failed")
        refunded = place_and_pay(
            sidecar, fake_stripe, "Rae Refund", [camp("2027-01-19", "day", "Rae")]
        )
        wait_for(lambda: order_status(url, refunded)["fulfillment_status"] == "fulfilled")
        (session,) = [
            s for s in fake_stripe.sessions.values() if s["client_reference_id"] == refunded
        ]
        intent = session["payment_intent"]
        intent_id = intent if isinstance(intent, str) else intent["id"]
        assert (
            sidecar.deliver(charge_refunded_event(intent_id, refunded, 8900, 4000)).status_code
            == 200
        )
        assert sidecar.deliver(dispute_event()).status_code == 200
        troubled = Troubled(sidecar, failed, refunded)
        wait_for(lambda: _has_entries(url, 3))
        yield troubled
    finally:
        server.stop()


def _has_entries(url: str, count: int) -> bool:
    response = requests.get(url + "/api/errors", headers=AUTH, timeout=10)
    return response.json()["total"] >= count


@pytest.fixture(scope="session")
def empty_sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    """A sidecar on a new database: nothing sold yet."""
    tmp_path = tmp_path_factory.mktemp("empty-sidecar")
    server = start_sidecar(free_port(), sidecar_env(tmp_path), log_path=tmp_path / "sidecar.log")
    try:
        yield Sidecar(server)
    finally:
        server.stop()


def open_page_on(url: str, page: str) -> AppTest:
    """A logged-in dashboard of the sidecar at `url`, showing `page`."""
    at = log_in(new_dashboard(dashboard_settings(url)))
    assert not at.exception, at.exception
    at.switch_page(f"pages/{page}.py").run()
    return at
