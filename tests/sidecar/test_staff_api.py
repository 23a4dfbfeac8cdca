"""The staff API the dashboard reads and acts through, against a real sidecar whose orders
were placed through `POST /api/checkout` and paid, refunded or failed by signed events.

Most tests read one shared, seeded sidecar (`shop`) and change nothing in it, so the
figures they assert are exact. Tests that repair something start their own sidecar with
a fault drill or a mail server that is down.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from aiosmtpd.controller import Controller

from core import clock
from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import ADMIN_TOKEN, Inbox, Sidecar, sidecar_env
from tests.fakes.stripe import FakeStripe
from tests.sidecar.test_fulfilment import (
    camp,
    charge_refunded_event,
    delivered,
    fulfilled,
    inbox_status,
    pay,
    session_object,
    shop_env,
    status_when,
    steps,
    wait_for,
)

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SYDNEY = ZoneInfo("Australia/Sydney")
STEP_NAMES = [
    "record_payment",
    "create_bookings",
    "schedule_events",
    "send_confirmation",
    "notify_staff",
]


# --- helpers -------------------------------------------------------------------------------


def get(sidecar: Sidecar, path: str, **params) -> requests.Response:
    return requests.get(sidecar.url + path, params=params, headers=AUTH, timeout=10)


def ok(sidecar: Sidecar, path: str, **params) -> dict:
    response = get(sidecar, path, **params)
    assert response.status_code == 200, response.text
    return response.json()


def post(sidecar: Sidecar, path: str, body: dict | None = None) -> requests.Response:
    return requests.post(sidecar.url + path, json=body, headers=AUTH, timeout=10)


def place(
    sidecar: Sidecar, fake: FakeStripe, items: list[dict], email: str, name: str
) -> tuple[str, str]:
    """A pending order through the real checkout: (order id, Checkout Session id)."""
    body = {"customer": {"email": email, "name": name}, "items": items}
    response = requests.post(sidecar.url + "/api/checkout", json=body, timeout=10)
    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]
    (session_id,) = [s for s, v in fake.sessions.items() if v["client_reference_id"] == order_id]
    return order_id, session_id


def party(day: str, child: str, notes: str | None = None) -> dict:
    student = {"name": child, "age": 8, **({"notes": notes} if notes else {})}
    return {"product_id": "robot-rampage-party", "date": day, "start_time": "13:00",
            "student": student}  # fmt: skip


def all_pages(sidecar: Sidecar, path: str, key: str, limit: int, **params) -> list[list[dict]]:
    pages, offset = [], 0
    while True:
        page = ok(sidecar, path, limit=limit, offset=offset, **params)
        assert (page["limit"], page["offset"]) == (limit, offset)
        pages.append(page[key])
        offset += limit
        if offset >= page["total"]:
            return pages


# --- the seeded sidecar --------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop(fake: FakeStripe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    tmp_path = tmp_path_factory.mktemp("staff")
    server = start_sidecar(
        free_port(), sidecar_env(tmp_path, **shop_env(fake)), log_path=tmp_path / "sidecar.log"
    )
    yield Sidecar(server)
    server.stop()


@pytest.fixture(scope="module")
def seeded(shop: Sidecar, fake: FakeStripe) -> dict:
    """Five orders: Ada's two camp days (paid), Bo's party (paid), Cy's camp day and party
    (paid, then refunded in full), Dee's camp day (paid) and Eve's (never paid)."""
    placed = {
        "ada": place(shop, fake, [camp("2027-01-18", "day", "Ada"),
                                  camp("2027-01-19", "all_day", "Ada")],
                     "Ada.Parent@Example.com", "Alice Lovelace"),
        "bo": place(shop, fake, [party("2027-01-16", "Bo", notes="nut allergy")],
                    "bo.parent@example.com", "Bob Builder"),
        "cy": place(shop, fake, [camp("2027-01-18", "day", "Cy"), party("2027-01-17", "Cy")],
                    "cy.parent@example.com", "Cyd Charisse"),
        "dee": place(shop, fake, [camp("2027-01-18", "day", "Dee")],
                     "dee.parent@example.com", "Dee Dee"),
        "eve": place(shop, fake, [camp("2027-01-20", "day", "Eve")],
                     "eve.parent@example.com", "Eve Online"),
    }  # fmt: skip
    paid = {}
    for name in ("ada", "bo", "cy", "dee"):
        order_id, session_id = placed[name]
        paid[name] = session_object(pay(shop, fake, session_id))
        status_when(shop, order_id, fulfilled)
    cy_order, _ = placed["cy"]
    cy = paid["cy"]
    refund = delivered(
        shop,
        charge_refunded_event(cy["payment_intent"], cy_order, cy["amount_total"],
                              cy["amount_total"]),
    )  # fmt: skip
    inbox_status(shop, refund["id"], "processed")
    status_when(shop, cy_order, lambda s: s["fulfillment_status"] == "cancelled")
    # The .eml files are written by the sender a moment after the steps are done.
    wait_for(lambda: ok(shop, "/api/outbox", status="pending")["total"] == 0)
    return {
        "orders": {name: order_id for name, (order_id, _) in placed.items()},
        "sessions": {name: session_id for name, (_, session_id) in placed.items()},
        "paid": paid,
        "refund": refund,
    }


# --- authorisation -------------------------------------------------------------------------

NEW_ENDPOINTS = [
    ("GET", "/api/kpis"),
    ("GET", "/api/orders"),
    ("GET", "/api/orders/ord_nothing"),
    ("GET", "/api/events?start=2027-01-01&end=2027-02-01"),
    ("GET", "/api/events/cal_nothing/roster"),
    ("GET", "/api/errors?severity=high"),
    ("POST", "/api/errors/err_nothing/resolve"),
    ("POST", "/api/errors/bulk"),
    ("GET", "/api/outbox"),
    ("POST", "/api/outbox/msg_nothing/retry"),
]


@pytest.mark.parametrize(("method", "path"), NEW_ENDPOINTS)
@pytest.mark.parametrize("token", [None, "Bearer wrong-token-0123456789", ADMIN_TOKEN])
def test_every_new_endpoint_needs_the_admin_token(shop: Sidecar, method, path, token):
    headers = {"Authorization": token} if token else {}
    response = requests.request(method, shop.url + path, headers=headers, json={}, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorised"


# --- orders --------------------------------------------------------------------------------


def test_orders_are_listed_newest_first_in_pages_that_do_not_overlap(shop, seeded):
    pages = all_pages(shop, "/api/orders", "orders", limit=2)

    listed = [order for page in pages for order in page]
    assert ok(shop, "/api/orders", limit=2)["total_exact"] is True
    assert [len(page) for page in pages] == [2, 2, 1]
    assert len({o["order_id"] for o in listed}) == 5
    assert {o["order_id"] for o in listed} == set(seeded["orders"].values())
    created = [o["created_at"] for o in listed]
    assert created == sorted(created, reverse=True)
    assert listed[-1]["order_id"] == seeded["orders"]["ada"]  # the first placed
    assert ok(shop, "/api/orders", limit=2, offset=4)["total"] == 5
    assert ok(shop, "/api/orders", limit=2, offset=10)["orders"] == []


def test_an_order_in_the_list_shows_its_kinds_steps_and_money(shop, seeded):
    (cy,) = ok(shop, "/api/orders", q=seeded["orders"]["cy"])["orders"]

    assert cy["kinds"] == ["camp", "party"]
    assert cy["steps"] == dict.fromkeys(STEP_NAMES, "done")
    assert (cy["payment_status"], cy["fulfillment_status"]) == ("refunded", "cancelled")
    assert cy["amount_total"] == cy["amount_refunded"] == seeded["paid"]["cy"]["amount_total"]
    assert (cy["currency"], cy["customer_name"]) == ("aud", "Cyd Charisse")
    assert cy["created_at"].endswith("Z")
    (eve,) = ok(shop, "/api/orders", q=seeded["orders"]["eve"])["orders"]
    assert (eve["payment_status"], eve["steps"], eve["kinds"]) == ("pending", {}, ["camp"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "ada.parent@example.com"}, ["ada"]),  # an email, in any case
        ({"q": "PARENT@example"}, ["eve", "dee", "cy", "bo", "ada"]),  # part of one
        ({"q": "lovelace"}, ["ada"]),  # a name
        ({"q": "Dee"}, ["dee"]),
        ({"q": "nobody"}, []),
        ({"q": "100%_sure"}, []),  # LIKE wildcards are text
        ({"payment_status": "refunded"}, ["cy"]),
        ({"payment_status": "pending"}, ["eve"]),
        ({"fulfillment_status": "fulfilled"}, ["dee", "bo", "ada"]),
        ({"kind": "party"}, ["cy", "bo"]),
        ({"kind": "party", "payment_status": "paid"}, ["bo"]),
        ({"kind": "ignite"}, []),
    ],
)
def test_orders_are_searched_and_filtered(shop, seeded, params, expected):
    result = ok(shop, "/api/orders", **params)

    assert [o["order_id"] for o in result["orders"]] == [seeded["orders"][n] for n in expected]
    assert result["total"] == len(expected)


def test_orders_are_found_by_their_stripe_ids(shop, seeded):
    ada = seeded["orders"]["ada"]
    by_session = ok(shop, "/api/orders", q=seeded["sessions"]["ada"])["orders"]
    by_intent = ok(shop, "/api/orders", q=seeded["paid"]["ada"]["payment_intent"])["orders"]

    assert [o["order_id"] for o in by_session] == [ada]
    assert [o["order_id"] for o in by_intent] == [ada]
    assert ok(shop, "/api/orders", q="cs_test_unknown")["total"] == 0


def test_orders_are_filtered_by_the_local_day_they_were_placed(shop, seeded):
    (order,) = ok(shop, "/api/orders", q=seeded["orders"]["ada"])["orders"]
    placed = datetime.fromisoformat(order["created_at"]).astimezone(SYDNEY).date()
    day_before, day_after = placed - timedelta(days=1), placed + timedelta(days=1)

    assert ok(shop, "/api/orders", since=str(placed), until=str(placed))["total"] == 5
    assert ok(shop, "/api/orders", since=str(placed))["total"] == 5
    assert ok(shop, "/api/orders", until=str(day_before))["total"] == 0
    assert ok(shop, "/api/orders", since=str(day_after))["total"] == 0


def test_an_orders_detail_tells_its_whole_story_in_time_order(shop, seeded):
    order_id = seeded["orders"]["bo"]

    detail = ok(shop, f"/api/orders/{order_id}")

    assert detail["order"]["order_id"] == order_id
    assert detail["order"]["checkout_session_id"] == seeded["sessions"]["bo"]
    assert detail["order"]["paid_at"].endswith("Z")
    (item,) = detail["items"]
    assert (item["kind"], item["product_id"], item["item_date"], item["start_time"],
            item["student"], item["position"]) == (
        "party", "robot-rampage-party", "2027-01-16", "13:00", "Bo", 0)  # fmt: skip
    (student,) = detail["students"]
    assert (student["name"], student["age"], student["notes"]) == ("Bo", 8, "nut allergy")
    assert [(s["step"], s["status"], s["attempts"]) for s in detail["steps"]] == [
        (name, "done", 1) for name in STEP_NAMES
    ]
    (booking,) = detail["bookings"]
    assert (booking["student"], booking["status"]) == ("Bo", "confirmed")
    assert booking["event"]["kind"] == "party"
    assert booking["event"]["starts_at"] == "2027-01-16T02:00:00Z"  # 13:00 in Sydney
    assert detail["enrolments"] == []
    assert {m["dedupe_key"] for m in detail["messages"]} == {
        f"confirmation:{order_id}",
        f"staff:{order_id}",
    }
    assert {m["status"] for m in detail["messages"]} == {"sent"}
    assert [e["type"] for e in detail["stripe_events"]] == ["checkout.session.completed"]
    assert detail["stripe_events"][0]["status"] == "processed"
    assert detail["errors"] == []

    timeline = detail["timeline"]
    times = [entry["at"] for entry in timeline]
    assert times == sorted(times)
    assert timeline[0]["source"] == "stripe"
    assert "checkout.session.completed" in timeline[0]["text"]
    assert [e["text"] for e in timeline if e["source"] == "step"] == [
        f"{name} done" for name in STEP_NAMES
    ]
    assert {e["source"] for e in timeline} == {"stripe", "step", "message"}
    for message in detail["messages"]:
        queued, sent = (
            next(e for e in timeline if e["text"].startswith(f"{message['channel']} "
                 f"{message['dedupe_key']} {what}"))
            for what in ("queued", "sent")
        )  # fmt: skip
        assert timeline.index(queued) < timeline.index(sent)


def test_a_refunded_orders_detail_shows_the_refund_and_cancelled_bookings(shop, seeded):
    detail = ok(shop, f"/api/orders/{seeded['orders']['cy']}")

    assert [e["type"] for e in detail["stripe_events"]] == [
        "checkout.session.completed",
        "charge.refunded",
    ]
    assert detail["stripe_events"][1]["event_id"] == seeded["refund"]["id"]
    assert {b["status"] for b in detail["bookings"]} == {"cancelled"}
    assert [b["event"]["kind"] for b in detail["bookings"]] == ["party", "camp"]  # by time
    texts = [e["text"] for e in detail["timeline"]]
    refund = next(i for i, t in enumerate(texts) if "charge.refunded received: processed" in t)
    paid = next(i for i, t in enumerate(texts) if "checkout.session.completed received" in t)
    assert paid < refund
    # The refund cancelled the bookings, so the family is sent a cancellation.
    assert any(m["dedupe_key"].startswith("cancellation:") for m in detail["messages"])


def test_an_order_is_found_by_its_checkout_session_id_and_an_unknown_one_is_404(shop, seeded):
    detail = ok(shop, f"/api/orders/{seeded['sessions']['dee']}")
    assert detail["order"]["order_id"] == seeded["orders"]["dee"]

    for unknown in ("ord_unknown", "cs_test_unknown", "pi_unknown"):
        response = get(shop, f"/api/orders/{unknown}")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


# --- the day's figures ---------------------------------------------------------------------


def test_the_kpis_of_the_day_count_orders_payments_refunds_and_bookings(shop, seeded):
    (order,) = ok(shop, "/api/orders", q=seeded["orders"]["ada"])["orders"]
    today = datetime.fromisoformat(order["created_at"]).astimezone(SYDNEY).date()
    paid = {name: session["amount_total"] for name, session in seeded["paid"].items()}

    kpis = ok(shop, "/api/kpis", date=str(today))

    assert (kpis["date"], kpis["currency"]) == (str(today), "aud")
    assert kpis["orders"] == 5
    assert kpis["paid_orders"] == 4
    assert kpis["refunds"] == {"count": 1, "amount": paid["cy"]}
    assert kpis["revenue"] == paid["ada"] + paid["bo"] + paid["dee"]
    # Cy's camp day and party were paid and refunded the same day: they net to nothing.
    assert kpis["revenue_by_kind"] == {
        "camp": paid["ada"] + paid["dee"],
        "party": paid["bo"],
        "ignite": 0,
    }
    assert kpis["bookings"] == 4  # Ada's two days, Bo's party, Dee's day; Cy's are cancelled
    assert kpis["fulfillment_status"] == {
        "waiting": 1, "in_progress": 0, "fulfilled": 3, "needs_attention": 0, "cancelled": 1,
    }  # fmt: skip
    assert kpis["steps"]["schedule_events"] == {
        "pending": 0, "running": 0, "done": 4, "failed": 0, "skipped": 0,
    }  # fmt: skip
    webhooks = kpis["webhooks"]
    assert (webhooks["backlog"], webhooks["failed"], webhooks["oldest_backlog_seconds"]) == (
        0, 0, None)  # fmt: skip
    assert 0 <= webhooks["lag_p95_seconds"] < 60
    assert kpis["errors_open"] == {"low": 0, "medium": 0, "high": 0, "critical": 0}
    assert kpis["tickets_open"] == 0
    assert kpis["outbox"] == {"pending": 0, "failed": 0}


def test_the_kpis_of_another_day_count_nothing_of_today(shop, seeded):
    kpis = ok(shop, "/api/kpis", date="2026-01-01")

    assert (kpis["orders"], kpis["paid_orders"], kpis["revenue"], kpis["bookings"]) == (0, 0, 0, 0)
    assert kpis["refunds"] == {"count": 0, "amount": 0}
    assert kpis["fulfillment_status"]["fulfilled"] == 3  # the state now, whatever the day


def test_the_kpis_default_to_today_in_the_business_time_zone(shop, seeded):
    kpis = ok(shop, "/api/kpis")

    today = clock.now().astimezone(SYDNEY).date()
    assert kpis["date"] in (str(today), str(today + timedelta(days=1)))  # midnight may pass


# --- the calendar --------------------------------------------------------------------------


def _stored(events: list[dict]) -> list[dict]:
    """The events that exist (someone was booked); the rest are catalog slots at 0."""
    return [e for e in events if e["event_id"]]


def test_events_in_a_range_show_how_full_they_are(shop, seeded):
    events = ok(shop, "/api/events", start="2027-01-16", end="2027-01-23")["events"]

    # Bo's and Cy's parties; camp days 18 (day: Ada, Dee, Cy cancelled) and 19 (all day: Ada).
    summary = [(e["kind"], e["starts_at"], e["booked"]) for e in _stored(events)]
    assert summary == [
        ("party", "2027-01-16T02:00:00Z", 1),
        ("party", "2027-01-17T02:00:00Z", 0),
        ("camp", "2027-01-17T22:00:00Z", 2),
        ("camp", "2027-01-18T22:00:00Z", 1),
    ]
    camp_day = _stored(events)[2]
    assert (camp_day["capacity"], camp_day["status"], camp_day["product_id"]) == (
        24, "scheduled", "summer-robotics")  # fmt: skip
    assert camp_day["title"] and camp_day["venue_id"] and camp_day["room_id"]
    assert camp_day["ends_at"] == "2027-01-18T04:00:00Z"
    assert camp_day["slot_key"] == "camp:summer-robotics:2027-01-18:day"
    assert (camp_day["venue_name"], camp_day["room_name"]) == (
        "TinkerTank Marrickville", "The Workshop")  # fmt: skip


def test_every_catalog_slot_is_listed_booked_or_not_with_its_camp_days_fill(shop, seeded):
    events = ok(shop, "/api/events", start="2027-01-18", end="2027-01-19", kind="camp")["events"]

    by_slot = {e["slot_key"]: e for e in events}
    day = by_slot["camp:summer-robotics:2027-01-18:day"]
    all_day = by_slot["camp:summer-robotics:2027-01-18:all_day"]
    # Nobody is in the all-day session: it has no event yet, and is listed at 0 …
    assert (all_day["event_id"], all_day["booked"], all_day["capacity"]) == (None, 0, 24)
    assert all_day["ends_at"] == "2027-01-18T06:00:00Z"
    # … while both sessions show the day's fill: its two sessions share the 24 places.
    assert (day["booked"], day["day_booked"], all_day["day_booked"]) == (2, 2, 2)
    assert day["day_capacity"] == all_day["day_capacity"] == 24
    # Every camp running that day, booked or not.
    assert {e["product_id"] for e in events} >= {"summer-robotics", "summer-game-design"}
    assert len(events) == len(by_slot)  # each slot once


def test_events_are_filtered_by_kind_and_the_end_is_exclusive(shop, seeded):
    parties = ok(shop, "/api/events", start="2027-01-16", end="2027-01-23", kind="party")
    assert {e["kind"] for e in parties["events"]} == {"party"}
    assert len(_stored(parties["events"])) == 2

    # Local days: the 18th's camp starts at 09:00 in Sydney, 22:00 UTC on the 17th.
    only_18th = ok(shop, "/api/events", start="2027-01-18", end="2027-01-19")["events"]
    assert {e["starts_at"] for e in only_18th} == {"2027-01-17T22:00:00Z"}
    assert _stored(ok(shop, "/api/events", start="2027-01-01", end="2027-01-16")["events"]) == []
    assert ok(shop, "/api/events", start="2026-11-01", end="2026-12-01")["events"] == []


def test_a_roster_lists_each_child_with_notes_and_the_family_to_call(shop, seeded):
    (event,) = _stored(ok(shop, "/api/events", start="2027-01-16", end="2027-01-17")["events"])

    result = ok(shop, f"/api/events/{event['event_id']}/roster")

    assert result["event"]["event_id"] == event["event_id"]
    assert result["event"]["booked"] == result["event"]["day_booked"] == 1
    assert result["event"]["room_name"] == "Party Room"
    (bo,) = result["roster"]
    assert bo == {
        "booking_id": bo["booking_id"], "event_id": event["event_id"], "session": None,
        "student": "Bo", "age": 8, "notes": "nut allergy", "order_id": seeded["orders"]["bo"],
        "customer_name": "Bob Builder", "customer_email": "bo.parent@example.com",
        "customer_phone": None, "status": "confirmed",
        "emergency_contacts": [], "authorised_collectors": [],
    }  # fmt: skip


def test_a_roster_puts_confirmed_children_before_cancelled_ones(shop, seeded):
    (day,) = _stored(ok(shop, "/api/events", start="2027-01-18", end="2027-01-19")["events"])

    roster = ok(shop, f"/api/events/{day['event_id']}/roster")["roster"]

    assert [(p["student"], p["status"]) for p in roster] == [
        ("Ada", "confirmed"),
        ("Dee", "confirmed"),
        ("Cy", "cancelled"),
    ]
    assert get(shop, "/api/events/cal_unknown/roster").status_code == 404


def test_a_camp_days_roster_covers_both_sessions(shop, seeded):
    result = ok(shop, "/api/camp-days/summer-robotics/2027-01-18/roster")

    camp = result["camp"]
    assert (camp["title"], camp["capacity"], camp["booked"]) == ("Robotics Bootcamp", 24, 2)
    assert (camp["venue_name"], camp["room_name"]) == ("TinkerTank Marrickville", "The Workshop")
    assert [(p["student"], p["session"], p["status"]) for p in result["roster"]] == [
        ("Ada", "day", "confirmed"),
        ("Dee", "day", "confirmed"),
        ("Cy", "day", "cancelled"),
    ]
    # A day nobody booked: the camp, no one yet.
    empty = ok(shop, "/api/camp-days/summer-robotics/2027-01-20/roster")
    assert (empty["camp"]["booked"], empty["roster"]) == (0, [])


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/camp-days/no-such-camp/2027-01-18/roster", 404),
        ("/api/camp-days/summer-robotics/2027-01-16/roster", 404),  # a Saturday
        ("/api/camp-days/robot-rampage-party/2027-01-16/roster", 404),  # not a camp
        ("/api/camp-days/summer-robotics/18-01-2027/roster", 422),
    ],
)
def test_a_camp_day_that_is_not_one_is_refused_with_the_reason(shop, path, status):
    response = get(shop, path)
    assert response.status_code == status
    assert response.json()["message"]


def test_webhook_lag_is_given_per_day(shop, seeded):
    days = ok(shop, "/api/trends/webhooks", days=7)["days"]

    assert len(days) == 7
    today = days[-1]
    assert today["processed"] >= 1
    assert 0 <= today["lag_p50_seconds"] <= today["lag_p95_seconds"]
    for bad in ("0", "367", "x"):
        response = get(shop, "/api/trends/webhooks", days=bad)
        assert response.status_code == 422
        assert "days must be" in response.json()["message"]


# --- bad parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/orders", {"limit": "0"}),
        ("/api/orders", {"limit": "501"}),
        ("/api/orders", {"offset": "-1"}),
        ("/api/orders", {"limit": "ten"}),
        ("/api/orders", {"payment_status": "lost"}),
        ("/api/orders", {"fulfillment_status": "done"}),
        ("/api/orders", {"kind": "sleepover"}),
        ("/api/orders", {"since": "2027-13-01"}),
        ("/api/orders", {"until": "01/02/2027"}),
        ("/api/orders", {"since": "2027-02-01", "until": "2027-01-01"}),
        ("/api/orders", {"q": "x" * 201}),
        ("/api/kpis", {"date": "yesterday"}),
        ("/api/events", {}),
        ("/api/events", {"start": "2027-01-01"}),
        ("/api/events", {"start": "2027-01-10", "end": "2027-01-10"}),
        ("/api/events", {"start": "2027-01-10", "end": "2027-01-01"}),
        ("/api/events", {"start": "2027-01-01", "end": "2028-03-01"}),
        ("/api/events", {"start": "2027-01-01", "end": "2027-02-01", "kind": "disco"}),
        ("/api/errors", {"severity": "urgent"}),
        ("/api/errors", {"category": "weather"}),
        ("/api/errors", {"resolved": "maybe"}),
        ("/api/errors", {"order": "random"}),
        ("/api/outbox", {"status": "lost"}),
        ("/api/outbox", {"channel": "fax"}),
        ("/api/outbox", {"limit": "1000"}),
    ],
)
def test_bad_query_parameters_get_422_saying_what_is_wrong(shop, path, params):
    response = get(shop, path, **params)

    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_query"
    assert response.json()["message"]


def test_a_year_and_a_month_of_events_is_allowed(shop, seeded):
    assert get(shop, "/api/events", start="2027-01-01", end="2028-02-01").status_code == 200


# --- the error log -------------------------------------------------------------------------


@pytest.fixture
def troubled(start_sidecar_process, fake) -> tuple[Sidecar, str, dict]:
    """A sidecar whose calendar step fails four times: one order needs attention."""
    sidecar = start_sidecar_process(**shop_env(fake, FAULT_DRILL="schedule_events=4"))
    order_id, session_id = place(sidecar, fake, [camp("2027-01-05", "day", "Fay")],
                                 "fay@example.com", "Fay Wray")  # fmt: skip
    pay(sidecar, fake, session_id)
    status_when(
        sidecar, order_id, lambda s: steps(s).get("schedule_events", ("", 0))[0] == "failed"
    )
    (entry,) = ok(sidecar, "/api/errors", order_id=order_id)["errors"]
    return sidecar, order_id, entry


def test_bulk_retry_runs_the_failed_step_again_and_resolves_the_entry(troubled):
    sidecar, order_id, entry = troubled
    assert (entry["step"], entry["category"], entry["resolved_at"]) == (
        "schedule_events", "calendar", None)  # fmt: skip
    assert ok(sidecar, "/api/kpis")["steps"]["schedule_events"]["failed"] == 1
    (listed,) = ok(sidecar, "/api/orders", fulfillment_status="needs_attention")["orders"]
    assert listed["steps"]["schedule_events"] == "failed"

    bulk = {"action": "retry", "error_ids": [entry["error_id"], "err_unknown"], "by": "Sam"}
    response = post(sidecar, "/api/errors/bulk", bulk)

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["done"] == 1
    assert result["skipped"] == [{"error_id": "err_unknown", "reason": "no such entry"}]
    assert "1 of 2" in result["message"]
    done = status_when(sidecar, order_id, fulfilled)
    assert steps(done)["schedule_events"] == ("done", 1)
    assert [b["status"] for b in done["bookings"]] == ["confirmed"]
    (after,) = ok(sidecar, "/api/errors", order_id=order_id)["errors"]
    assert after["resolved_by"] == "Sam"
    assert after["resolved_at"] is not None
    texts = [e["text"] for e in ok(sidecar, f"/api/orders/{order_id}")["timeline"]]
    failed_at = next(i for i, t in enumerate(texts) if "schedule_events failed after 4" in t)
    assert texts[failed_at].startswith("high calendar error")
    assert "schedule_events done" in texts[failed_at:]
    assert any(t.startswith("resolved by Sam") for t in texts[failed_at:])
    # The step is done now: retrying it again is refused, and says why.
    again = post(sidecar, "/api/errors/bulk", {**bulk, "error_ids": [entry["error_id"]]})
    assert again.json()["done"] == 0
    assert "not failed" in again.json()["skipped"][0]["reason"]


def test_an_entry_is_resolved_once_by_name(troubled):
    sidecar, order_id, entry = troubled
    url = f"/api/errors/{entry['error_id']}/resolve"

    assert post(sidecar, url, {}).status_code == 422
    assert post(sidecar, url, {"by": ""}).status_code == 422
    response = post(sidecar, url, {"by": "Pat Staff"})

    assert response.status_code == 200, response.text
    assert response.json()["resolved"] is True
    assert response.json()["error_id"] == entry["error_id"]
    (after,) = ok(sidecar, "/api/errors", order_id=order_id)["errors"]
    assert after["resolved_by"] == "Pat Staff"
    again = post(sidecar, url, {"by": "Pat Staff"})
    assert again.status_code == 409
    assert again.json()["error"] == "already_resolved"
    assert post(sidecar, "/api/errors/err_unknown/resolve", {"by": "Pat"}).status_code == 404
    # Resolving records a decision; the step itself stays failed until someone retries it.
    assert steps(status_when(sidecar, order_id, lambda s: True))["schedule_events"][0] == "failed"


def test_error_log_filters_and_bulk_resolve(start_sidecar_process, fake):
    sidecar = start_sidecar_process(**shop_env(fake, FAULT_DRILL="schedule_events=8"))
    orders = []
    for child, day in (("Gil", "2027-01-18"), ("Hal", "2027-01-19")):  # one after the other
        order_id, session_id = place(sidecar, fake, [camp(day, "day", child)],
                                     f"{child.lower()}@example.com", child)  # fmt: skip
        pay(sidecar, fake, session_id)
        status_when(
            sidecar, order_id, lambda s: steps(s).get("schedule_events", ("", 0))[0] == "failed"
        )
        orders.append(order_id)
    first, second = (ok(sidecar, "/api/errors", order_id=o)["errors"][0] for o in orders)

    assert ok(sidecar, "/api/errors", category="calendar")["total"] == 2
    assert ok(sidecar, "/api/errors", category="payment")["total"] == 0
    assert ok(sidecar, "/api/errors", severity="high")["total"] == 2
    assert ok(sidecar, "/api/errors", severity="critical")["total"] == 0
    oldest = [e["error_id"] for e in ok(sidecar, "/api/errors")["errors"]]
    newest = [e["error_id"] for e in ok(sidecar, "/api/errors", order="newest")["errors"]]
    assert oldest == [first["error_id"], second["error_id"]] == newest[::-1]
    pages = all_pages(sidecar, "/api/errors", "errors", limit=1)
    assert [e["error_id"] for page in pages for e in page] == oldest

    response = post(sidecar, "/api/errors/bulk", {
        "action": "resolve", "error_ids": [first["error_id"], first["error_id"], "err_x"],
        "by": "Sam"})  # fmt: skip

    assert response.status_code == 200, response.text
    assert response.json()["done"] == 1
    assert response.json()["skipped"] == [{"error_id": "err_x", "reason": "no such entry"}]
    resolved = ok(sidecar, "/api/errors", resolved="true")
    assert [e["error_id"] for e in resolved["errors"]] == [first["error_id"]]
    assert [e["error_id"] for e in ok(sidecar, "/api/errors", resolved="false")["errors"]] == [
        second["error_id"]
    ]
    assert ok(sidecar, "/api/kpis")["errors_open"]["high"] == 1
    again = post(sidecar, "/api/errors/bulk",
                 {"action": "resolve", "error_ids": [first["error_id"]], "by": "Sam"})  # fmt: skip
    assert again.json()["skipped"] == [
        {"error_id": first["error_id"], "reason": "already resolved"}
    ]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"action": "delete", "error_ids": ["err_1"], "by": "Sam"},
        {"action": "resolve", "error_ids": [], "by": "Sam"},
        {"action": "resolve", "error_ids": "err_1", "by": "Sam"},
        {"action": "resolve", "error_ids": [1, 2], "by": "Sam"},
        {"action": "resolve", "error_ids": ["err_1"] * 501, "by": "Sam"},
        {"action": "resolve", "error_ids": ["err_1"]},
        {"action": "retry", "error_ids": ["err_1"], "by": "x" * 101},
    ],
)
def test_a_bad_bulk_request_gets_422(shop, body):
    response = post(shop, "/api/errors/bulk", body)

    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_body"


def test_a_body_that_is_not_json_gets_422(shop):
    response = requests.post(shop.url + "/api/errors/bulk", data=b"{nope", headers=AUTH,
                             timeout=10)  # fmt: skip
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["message"]


# --- the outbox ----------------------------------------------------------------------------


@pytest.mark.slow
def test_failed_emails_are_listed_and_sent_when_retried_once_the_mail_server_is_back(
    start_sidecar_process, fake
):
    port = free_port()  # nothing listens there yet: the mail server is down
    sidecar = start_sidecar_process(**shop_env(
        fake, SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), SMTP_SECURITY="none"))  # fmt: skip
    orders = []
    for child, day in (("Ian", "2027-01-20"), ("Jo", "2027-01-21")):
        order_id, session_id = place(sidecar, fake, [camp(day, "day", child)],
                                     f"{child.lower()}@example.com", child)  # fmt: skip
        pay(sidecar, fake, session_id)
        orders.append(order_id)
    wait_for(lambda: ok(sidecar, "/api/outbox", status="failed")["total"] == 2, timeout=30)

    failed = ok(sidecar, "/api/outbox", status="failed", channel="email")
    assert {m["order_id"] for m in failed["messages"]} == set(orders)
    assert all(m["attempts"] == 4 and "SMTP" in m["last_error"] for m in failed["messages"])

    # Each order's staff notice, and, once the failed email is logged (high), its alert.
    def slack_keys() -> list[str]:
        return sorted(m["dedupe_key"].split(":")[0]
                      for m in ok(sidecar, "/api/outbox", channel="slack")["messages"])  # fmt: skip

    wait_for(lambda: slack_keys() == ["alert", "alert", "staff", "staff"], timeout=30)
    keys = {m["dedupe_key"].split(":")[0]
            for m in ok(sidecar, "/api/outbox", order_id=orders[0])["messages"]}  # fmt: skip
    assert keys == {"confirmation", "staff", "alert"}
    pages = all_pages(sidecar, "/api/outbox", "messages", limit=3)
    assert [len(p) for p in pages] == [3, 3]
    assert ok(sidecar, "/api/kpis")["outbox"] == {"pending": 0, "failed": 2}
    first = next(m for m in failed["messages"] if m["order_id"] == orders[0])
    (second_entry,) = [e for e in ok(sidecar, "/api/errors", category="email")["errors"]
                       if e["order_id"] == orders[1]]  # fmt: skip
    sent_before = post(sidecar, f"/api/outbox/{first['message_id']}/retry")
    assert sent_before.status_code == 200  # queued again; the server is still down …
    wait_for(lambda: ok(sidecar, "/api/outbox", status="failed")["total"] == 2, timeout=30)

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        retried = post(sidecar, f"/api/outbox/{first['message_id']}/retry")
        bulk = post(sidecar, "/api/errors/bulk", {
            "action": "retry", "error_ids": [second_entry["error_id"]], "by": "Sam"})  # fmt: skip

        assert retried.status_code == 200, retried.text
        assert retried.json()["retried"] is True
        assert bulk.json()["done"] == 1, bulk.text
        wait_for(lambda: len(inbox.messages) == 2)
    finally:
        controller.stop()
    assert sorted(r for rcpts, _ in inbox.messages for r in rcpts) == [
        "ian@example.com", "jo@example.com"]  # fmt: skip
    assert ok(sidecar, "/api/outbox", status="failed")["total"] == 0
    sent = post(sidecar, f"/api/outbox/{first['message_id']}/retry")
    assert sent.status_code == 409
    assert sent.json()["error"] == "not_retried"
    assert post(sidecar, "/api/outbox/msg_unknown/retry").status_code == 404


def test_the_outbox_lists_newest_first_without_payloads(shop, seeded):
    result = ok(shop, "/api/outbox", channel="email")

    # The four paid orders' confirmations, and the cancellation of the refunded one.
    assert sorted(m["dedupe_key"].split(":")[0] for m in result["messages"]) == [
        "cancellation",
        "confirmation",
        "confirmation",
        "confirmation",
        "confirmation",
    ]
    assert {m["recipient"] for m in result["messages"]} == {
        "Ada.Parent@Example.com", "bo.parent@example.com", "cy.parent@example.com",
        "dee.parent@example.com"}  # fmt: skip
    assert all("payload" not in m for m in result["messages"])
    created = [m["created_at"] for m in result["messages"]]
    assert created == sorted(created, reverse=True)
    assert {m["status"] for m in result["messages"]} == {"sent"}


def test_timeline_dates_are_iso_with_z_and_item_dates_are_plain_dates(shop, seeded):
    detail = ok(shop, f"/api/orders/{seeded['orders']['ada']}")

    assert [i["item_date"] for i in detail["items"]] == ["2027-01-18", "2027-01-19"]
    assert all(e["at"].endswith("Z") for e in detail["timeline"])
    assert date.fromisoformat(detail["items"][0]["item_date"]).year == 2027
