"""`POST /webhooks/stripe` against a real uvicorn process with signatures from `stripe`."""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import OLD_SECRET, SECRET, Sidecar, make_event, sign


def test_valid_delivery_is_acknowledged_and_stored_once_byte_for_byte(sidecar: Sidecar):
    event = make_event()
    body = json.dumps(event, indent=2)

    response = sidecar.deliver(body)

    assert response.status_code == 200
    assert response.json() == {"received": True}
    row = sidecar.inbox_row(event["id"])
    assert row["payload"] == body
    assert row["type"] == "checkout.session.completed"
    assert row["object_id"] == event["data"]["object"]["id"]
    assert row["status"] == "received"
    assert row["livemode"] is False
    assert row["api_version"] == "2025-09-30.clover"
    assert sidecar.staff_get("/api/inbox", type="checkout.session.completed").json()["total"] >= 1


def test_same_event_delivered_five_times_concurrently_is_stored_once(sidecar: Sidecar):
    event = make_event()
    before = sidecar.inbox_total()

    with ThreadPoolExecutor(5) as pool:
        responses = list(pool.map(lambda _: sidecar.deliver(event), range(5)))

    assert [r.status_code for r in responses] == [200] * 5
    assert sum("duplicate" not in r.json() for r in responses) == 1
    assert sidecar.inbox_total() == before + 1
    assert sidecar.inbox_row(event["id"]) is not None


def test_redelivery_later_is_acknowledged_as_duplicate(sidecar: Sidecar):
    event = make_event()
    assert sidecar.deliver(event).status_code == 200

    again = sidecar.deliver(event)

    assert again.status_code == 200
    assert again.json() == {"received": True, "duplicate": True}


def test_unknown_event_type_is_stored_as_ignored(sidecar: Sidecar):
    event = make_event(type="customer.tax_id.created")

    assert sidecar.deliver(event).status_code == 200

    assert sidecar.inbox_row(event["id"])["status"] == "ignored"


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET])
def test_either_configured_secret_is_accepted_during_rotation(sidecar: Sidecar, secret: str):
    event = make_event()

    assert sidecar.deliver(event, secret=secret).status_code == 200
    assert sidecar.inbox_row(event["id"]) is not None


def _post(sidecar: Sidecar, data: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(sidecar.url + "/webhooks/stripe", data=data, headers=headers, timeout=10)


def _signed(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    return {"Stripe-Signature": sign(body, secret, timestamp)}


def _ago(seconds: int) -> int:
    return int(time.time()) - seconds


def _refusals():
    """(name, body, headers-maker, expected status): each must store nothing."""
    event = json.dumps(make_event()).encode()
    tampered = event.replace(b'"amount_total": 8900', b'"amount_total": 1')
    return [
        ("no signature header", event, lambda b: {}, 400),
        ("empty signature header", event, lambda b: {"Stripe-Signature": ""}, 400),
        ("wrong secret", event, lambda b: _signed(b, "whsec_someone_else"), 400),
        ("tampered body", tampered, lambda b: _signed(event), 400),
        ("signature older than 300 s", event, lambda b: _signed(b, timestamp=_ago(301)), 400),
        ("garbage header", event, lambda b: {"Stripe-Signature": "t=soon,v1=zz"}, 400),
        ("header without v1", event, lambda b: {"Stripe-Signature": f"t={int(time.time())}"}, 400),
        ("malformed JSON, valid signature", b'{"id": "evt_1", "object": "event"', _signed, 400),
        ("JSON array", b"[1, 2, 3]", _signed, 400),
        ("JSON but not an event", b'{"id": "ch_1", "object": "charge"}', _signed, 400),
        ("event without data", b'{"id": "evt_1", "object": "event", "type": "x"}', _signed, 400),
        ("event id of the wrong kind", json.dumps(make_event(id=42)).encode(), _signed, 400),
        ("not UTF-8", b'{"id": "evt_\xff"}', lambda b: {"Stripe-Signature": "t=1,v1=00"}, 400),
        ("oversized body", b'{"pad": "' + b"x" * (1024 * 1024) + b'"}', _signed, 413),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "make_headers", "status"),
    [case[1:] for case in _refusals()],
    ids=[case[0] for case in _refusals()],
)
def test_refused_deliveries_get_their_status_and_store_nothing(
    sidecar: Sidecar, body: bytes, make_headers, status: int
):
    before = sidecar.inbox_total()

    response = _post(sidecar, body, make_headers(body))

    assert response.status_code == status
    assert "error" in response.json()
    assert sidecar.inbox_total() == before


def test_oversized_chunked_body_without_content_length_is_refused(sidecar: Sidecar):
    def chunks():
        for _ in range(40):
            yield b"x" * 65536

    response = requests.post(
        sidecar.url + "/webhooks/stripe",
        data=chunks(),
        headers={"Stripe-Signature": "t=1,v1=00"},
        timeout=10,
    )

    assert response.status_code == 413


def test_client_that_hangs_up_mid_body_does_not_hurt_the_server(sidecar: Sidecar):
    host, port = sidecar.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as conn:
        conn.sendall(
            b'POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{"id"'
        )

    event = make_event()
    assert sidecar.deliver(event).status_code == 200


def test_other_methods_are_refused_without_a_server_error(sidecar: Sidecar):
    response = requests.get(sidecar.url + "/webhooks/stripe", timeout=10)

    assert response.status_code == 405


def test_healthz_answers_while_the_process_runs(sidecar: Sidecar):
    response = requests.get(sidecar.url + "/healthz", timeout=10)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_a_writable_database(sidecar: Sidecar):
    response = requests.get(sidecar.url + "/readyz", timeout=10)

    assert response.status_code == 200
    assert response.json()["checks"]["database"] == {"ok": True, "reason": "writable"}


def test_staff_health_gives_each_check_with_its_detail(sidecar: Sidecar):
    assert requests.get(sidecar.url + "/api/health", timeout=10).status_code == 401

    response = sidecar.staff_get("/api/health")

    assert response.status_code == 200
    assert response.json()["checks"] == {
        "database": {"ok": True, "reason": "writable", "detail": "writable"},
        "worker": {"ok": True, "reason": "running", "detail": "running"},
    }


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": "Basic abc"}],
)
def test_staff_api_requires_the_admin_token(sidecar: Sidecar, headers: dict[str, str]):
    response = requests.get(sidecar.url + "/api/inbox", headers=headers, timeout=10)

    assert response.status_code == 401


def test_inbox_listing_is_paged_and_filtered(sidecar: Sidecar):
    kind = "invoice.paid"
    ids = [make_event(type=kind)["id"] for _ in range(3)]
    for event_id in ids:
        assert sidecar.deliver(make_event(id=event_id, type=kind)).status_code == 200

    first = sidecar.staff_get("/api/inbox", type=kind, limit=2).json()
    second = sidecar.staff_get("/api/inbox", type=kind, limit=2, offset=2).json()

    assert first["total"] == 3
    assert len(first["events"]) == 2
    assert {e["event_id"] for e in first["events"] + second["events"]} == set(ids)
    assert "payload" not in first["events"][0]
    assert sidecar.staff_get("/api/inbox", limit=0).status_code == 422
    assert sidecar.staff_get("/api/inbox", status="nonsense").status_code == 422


@pytest.mark.parametrize("levels", [65, 900, 10_000])
def test_a_signed_event_nested_too_deeply_is_refused_with_400_and_not_stored(
    sidecar: Sidecar, levels: int
):
    # Correctly signed, so only its shape can refuse it: a 503 would have Stripe retry the
    # poison for three days, and stored it could break the worker that re-reads it.
    event = make_event()
    event["data"]["object"]["metadata"] = {"deep": "__DEEP__"}
    body = json.dumps(event).replace('"__DEEP__"', "[" * levels + "]" * levels)
    before = sidecar.inbox_total()

    response = sidecar.deliver(body)

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "not_an_event"
    assert "nested more than 64 levels deep" in response.json()["message"]
    assert sidecar.inbox_total() == before
    assert sidecar.inbox_row(event["id"]) is None
    assert sidecar.deliver(make_event()).status_code == 200


def test_a_signed_event_nested_as_deep_as_stripe_nests_is_stored(sidecar: Sidecar):
    event = make_event()
    event["data"]["object"]["metadata"] = {"deep": "__DEEP__"}
    body = json.dumps(event).replace('"__DEEP__"', "[" * 50 + "]" * 50)

    assert sidecar.deliver(body).status_code == 200
    assert sidecar.inbox_row(event["id"])["payload"] == body
