"""The fake Stripe API, driven by the real `stripe` library (and raw HTTP where the library
would never send what is being tested)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import stripe
from stripe.params.checkout import _session_create_params as create_params

from core import clock
from tests.fakes.stripe import FakeStripe, parse_params, wire
from tests.fakes.stripe import params as stripe_params

KEY = "sk_test_123"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as server:
        yield server
        assert server.errors == []


def make_client(fake: FakeStripe, retries: int = 0, **kwargs: Any) -> stripe.StripeClient:
    return stripe.StripeClient(
        kwargs.pop("api_key", KEY),
        base_addresses={"api": fake.url},
        max_network_retries=retries,
        **kwargs,
    )


@pytest.fixture
def client(fake: FakeStripe) -> stripe.StripeClient:
    return make_client(fake)


def payment_params(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "aud",
                    "unit_amount": 8900,
                    "product_data": {"name": "Robotics camp, Mon 13 Jan"},
                },
                "quantity": 2,
            },
            {
                "price_data": {
                    "currency": "aud",
                    "unit_amount": 4500,
                    "product_data": {"name": "Lunch add-on"},
                },
                "quantity": 1,
            },
        ],
        "client_reference_id": "ord_123",
        "customer_email": "parent@example.com",
        "metadata": {"order_id": "ord_123"},
        "payment_intent_data": {"metadata": {"order_id": "ord_123"}},
        "success_url": "https://tinkertank.test/orders/ord_123/processing",
        "cancel_url": "https://tinkertank.test/orders/ord_123/cancelled",
        "expires_at": clock.unix() + 31 * 60,
    }
    params.update(overrides)
    return params


def subscription_params(fake: FakeStripe, **overrides: Any) -> dict[str, Any]:
    fake.add_price(
        "price_ignite",
        unit_amount=14900,
        currency="aud",
        recurring={"interval": "month"},
        product_name="Ignite: Junior Engineers",
    )
    params = payment_params(
        mode="subscription",
        line_items=[
            {"price": "price_ignite", "quantity": 1},
            {
                "price_data": {
                    "currency": "aud",
                    "unit_amount": 2500,
                    "product_data": {"name": "Starter kit"},
                },
                "quantity": 1,
            },
        ],
        subscription_data={"metadata": {"order_id": "ord_123"}},
    )
    del params["payment_intent_data"]
    params.update(overrides)
    return params


# --------------------------------------------------------------------------------------
# Checkout Sessions


def test_payment_session_round_trips(fake: FakeStripe, client: stripe.StripeClient) -> None:
    params = payment_params()
    session = client.v1.checkout.sessions.create(params=params)

    assert isinstance(session, stripe.checkout.Session)
    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert session.url == f"https://checkout.stripe.com/c/pay/{session.id}"
    assert session.mode == "payment"
    assert session.status == "open"
    assert session.payment_status == "unpaid"
    assert session.amount_total == 2 * 8900 + 4500
    assert session.currency == "aud"
    assert session.client_reference_id == "ord_123"
    assert session.customer_email == "parent@example.com"
    assert session.metadata.to_dict() == {"order_id": "ord_123"}
    assert session.expires_at == params["expires_at"]
    assert abs(session.created - clock.timestamp()) < 5
    assert session.success_url == params["success_url"]
    assert session.cancel_url == params["cancel_url"]
    assert session.livemode is False
    assert session.payment_intent is None
    assert session.subscription is None

    sent = fake.requests[-1]
    assert (sent.method, sent.path, sent.status) == ("POST", "/v1/checkout/sessions", 200)
    assert sent.params["line_items"][0] == {
        "price_data": {
            "currency": "aud",
            "unit_amount": "8900",
            "product_data": {"name": "Robotics camp, Mon 13 Jan"},
        },
        "quantity": "2",
    }
    assert sent.params["metadata"] == {"order_id": "ord_123"}
    assert sent.params["payment_intent_data"] == {"metadata": {"order_id": "ord_123"}}
    assert sent.params["expires_at"] == str(params["expires_at"])
    assert sent.idempotency_key  # the library sends one with every POST
    assert sent.api_key == KEY
    assert sent.header("stripe-version") == stripe_params.API_VERSION

    assert fake.session(session.id) == session.to_dict()
    assert fake.session(session.id)["amount_total"] == 22300


def test_line_items_can_be_expanded(client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=payment_params(expand=["line_items"]))

    items = session.line_items.data
    assert [(i.description, i.quantity, i.amount_total) for i in items] == [
        ("Robotics camp, Mon 13 Jan", 2, 17800),
        ("Lunch add-on", 1, 4500),
    ]
    assert items[0].price.unit_amount == 8900


def test_subscription_session_with_registered_price(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    session = client.v1.checkout.sessions.create(params=subscription_params(fake))

    assert session.mode == "subscription"
    assert session.amount_total == 14900 + 2500
    assert session.currency == "aud"
    assert session.subscription is None
    assert fake.requests[-1].params["subscription_data"] == {"metadata": {"order_id": "ord_123"}}
    assert fake.requests[-1].params["line_items"][0] == {"price": "price_ignite", "quantity": "1"}

    price = client.v1.prices.retrieve("price_ignite")
    assert price.recurring.interval == "month"
    assert price.unit_amount == 14900


def test_embedded_session_needs_return_url_not_success_url(client: stripe.StripeClient) -> None:
    params = payment_params(ui_mode="embedded_page", return_url="https://tinkertank.test/r")
    del params["success_url"], params["cancel_url"]
    session = client.v1.checkout.sessions.create(params=params)
    assert session.url is None
    assert session.client_secret.startswith(session.id + "_secret_")
    assert session.ui_mode == "embedded_page"


def test_expires_at_window_allows_both_edges(client: stripe.StripeClient) -> None:
    for lifetime in (30 * 60, 24 * 60 * 60):
        params = payment_params(expires_at=clock.unix() + lifetime)
        assert client.v1.checkout.sessions.create(params=params).expires_at == params["expires_at"]


def _drop(*path: str | int) -> Callable[[dict[str, Any], FakeStripe], None]:
    def mutate(params: dict[str, Any], fake: FakeStripe) -> None:
        node: Any = params
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


def _set(value: Any, *path: str | int) -> Callable[[dict[str, Any], FakeStripe], None]:
    def mutate(params: dict[str, Any], fake: FakeStripe) -> None:
        node: Any = params
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value() if callable(value) else value

    return mutate


def _subscription_with(**extra: Any) -> Callable[[dict[str, Any], FakeStripe], None]:
    def mutate(params: dict[str, Any], fake: FakeStripe) -> None:
        params.clear()
        params.update(subscription_params(fake, **extra))

    return mutate


VALIDATION_CASES = [
    ("no mode", _drop("mode"), "mode"),
    ("bad mode", _set("donation", "mode"), "mode"),
    ("no line items", _drop("line_items"), "line_items"),
    ("empty line items", _set([], "line_items"), "line_items"),
    ("no quantity", _drop("line_items", 1, "quantity"), "line_items[1][quantity]"),
    ("bad quantity", _set("two", "line_items", 0, "quantity"), "line_items[0][quantity]"),
    (
        "no currency",
        _drop("line_items", 0, "price_data", "currency"),
        "line_items[0][price_data][currency]",
    ),
    (
        "bad currency",
        _set("aus", "line_items", 0, "price_data", "currency"),
        "line_items[0][price_data][currency]",
    ),
    (
        "no unit amount",
        _drop("line_items", 0, "price_data", "unit_amount"),
        "line_items[0][price_data][unit_amount]",
    ),
    (
        "negative unit amount",
        _set(-1, "line_items", 0, "price_data", "unit_amount"),
        "line_items[0][price_data][unit_amount]",
    ),
    (
        "no product name",
        _set({"description": "nameless"}, "line_items", 0, "price_data", "product_data"),
        "line_items[0][price_data][product_data][name]",
    ),
    ("no price at all", _drop("line_items", 0, "price_data"), "line_items[0][price]"),
    (
        "unknown price",
        _set({"price": "price_nope", "quantity": 1}, "line_items", 0),
        "line_items[0][price]",
    ),
    (
        "recurring price data in payment mode",
        _set({"interval": "month"}, "line_items", 0, "price_data", "recurring"),
        "line_items[0]",
    ),
    ("no success url", _drop("success_url"), "success_url"),
    ("bad success url", _set("/orders/ok", "success_url"), "success_url"),
    ("expires too soon", _set(lambda: clock.unix() + 29 * 60, "expires_at"), "expires_at"),
    ("expires too late", _set(lambda: clock.unix() + 25 * 3600, "expires_at"), "expires_at"),
    (
        "payment_intent_data in subscription mode",
        _subscription_with(payment_intent_data={"metadata": {"order_id": "ord_123"}}),
        "payment_intent_data",
    ),
    (
        "subscription_data in payment mode",
        _set({"metadata": {"order_id": "ord_123"}}, "subscription_data"),
        "subscription_data",
    ),
    (
        "subscription without a recurring price",
        _subscription_with(line_items=payment_params()["line_items"]),
        "line_items",
    ),
    ("unknown parameter", _set("blue", "colour"), "colour"),
    (
        "unknown nested parameter",
        _set("x", "line_items", 0, "price_data", "product_data", "colour"),
        "line_items[0][price_data][product_data][colour]",
    ),
    ("empty string", _set("", "client_reference_id"), "client_reference_id"),
    ("customer and email", _set("cus_123", "customer"), "customer_email"),
    ("long metadata key", _set({"k" * 41: "v"}, "metadata"), f"metadata[{'k' * 41}]"),
]


@pytest.mark.parametrize(
    ("mutate", "param"),
    [case[1:] for case in VALIDATION_CASES],
    ids=[case[0] for case in VALIDATION_CASES],
)
def test_validation_errors_name_the_param(
    fake: FakeStripe,
    client: stripe.StripeClient,
    mutate: Callable[[dict[str, Any], FakeStripe], None],
    param: str,
) -> None:
    params = payment_params()
    mutate(params, fake)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(params=params)
    assert raised.value.param == param
    assert raised.value.http_status == 400
    assert raised.value.error.type == "invalid_request_error"
    assert fake.sessions == {}


def test_unknown_session_is_a_stripe_404(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.expire("cs_test_nope")
    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"
    assert "cs_test_nope" in str(raised.value.user_message)


def test_expire_and_complete_emit_events(fake: FakeStripe, client: stripe.StripeClient) -> None:
    paid = client.v1.checkout.sessions.create(params=payment_params())
    dropped = client.v1.checkout.sessions.create(params=payment_params())

    completed = fake.complete_session(paid.id)
    expired = client.v1.checkout.sessions.expire(dropped.id)

    assert expired.status == "expired"
    assert expired.url is None
    done = fake.session(paid.id)
    assert (done["status"], done["payment_status"]) == ("complete", "paid")
    assert done["payment_intent"].startswith("pi_")
    events = client.v1.events.list()
    assert [e.type for e in events.data] == [
        "checkout.session.expired",
        "checkout.session.completed",
    ]
    assert events.data[1].id == completed["id"]
    assert events.data[1].data.object.client_reference_id == "ord_123"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(dropped.id)


# --------------------------------------------------------------------------------------
# Authentication and idempotency


@pytest.mark.parametrize("key", ["sk_live_123", "pk_test_123", "nope"])
def test_bad_key_is_authentication_error(fake: FakeStripe, key: str) -> None:
    client = make_client(fake, api_key=key)
    with pytest.raises(stripe.AuthenticationError) as raised:
        client.v1.checkout.sessions.create(params=payment_params())
    assert raised.value.http_status == 401
    assert fake.requests[-1].status == 401
    assert fake.sessions == {}


def test_restricted_test_key_is_accepted(fake: FakeStripe) -> None:
    client = make_client(fake, api_key="rk_test_abc")
    assert client.v1.checkout.sessions.create(params=payment_params()).status == "open"


def test_missing_key_is_401_in_stripe_shape(fake: FakeStripe) -> None:
    response = requests.post(fake.url + "/v1/checkout/sessions", data={"mode": "x"}, timeout=5)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "API key" in error["message"]


def test_idempotency_key_replays_the_same_session(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    params = payment_params()
    options: stripe.RequestOptions = {"idempotency_key": "ord_123"}
    first = client.v1.checkout.sessions.create(params=params, options=options)
    second = client.v1.checkout.sessions.create(params=params, options=options)

    assert second.id == first.id
    assert second.to_dict() == first.to_dict()
    assert list(fake.sessions) == [first.id]
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert [r.idempotency_key for r in fake.requests] == ["ord_123", "ord_123"]


def test_idempotency_key_with_other_params_is_refused(client: stripe.StripeClient) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "ord_123"}
    client.v1.checkout.sessions.create(params=payment_params(), options=options)
    with pytest.raises(stripe.IdempotencyError) as raised:
        client.v1.checkout.sessions.create(
            params=payment_params(client_reference_id="ord_999"), options=options
        )
    assert raised.value.http_status == 400
    assert raised.value.error.type == "idempotency_error"


def test_refused_request_is_not_saved_under_its_key(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "ord_123"}
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.create(params=payment_params(mode="x"), options=options)
    session = client.v1.checkout.sessions.create(params=payment_params(), options=options)
    assert list(fake.sessions) == [session.id]


# --------------------------------------------------------------------------------------
# Faults


def test_fail_next_raises_api_error_then_succeeds(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    fake.fail_next(2)
    for _ in range(2):
        with pytest.raises(stripe.APIError) as raised:
            client.v1.checkout.sessions.create(params=payment_params())
        assert raised.value.http_status == 503
        assert raised.value.error.type == "api_error"
    session = client.v1.checkout.sessions.create(params=payment_params())

    assert [r.status for r in fake.requests] == [503, 503, 200]
    assert list(fake.sessions) == [session.id]
    assert fake.requests[0].params["mode"] == "payment"  # failed requests are recorded too


def test_library_retries_through_failures_with_one_idempotency_key(
    fake: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.01)
    monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0.02)
    client = make_client(fake, retries=2)
    fake.fail_next(2, status=500)

    session = client.v1.checkout.sessions.create(params=payment_params())

    assert [r.status for r in fake.requests] == [500, 500, 200]
    assert len({r.idempotency_key for r in fake.requests}) == 1
    assert list(fake.sessions) == [session.id]


def test_rate_limit_and_should_retry_header(fake: FakeStripe) -> None:
    fake.fail_next(1, status=429)
    with pytest.raises(stripe.RateLimitError):
        make_client(fake).v1.events.list()
    fake.fail_next(1, status=503, should_retry=False)
    with pytest.raises(stripe.APIError):
        make_client(fake, retries=3).v1.events.list()  # the header forbids retrying
    assert [r.status for r in fake.requests] == [429, 503]


def test_down_refuses_connections_until_up(fake: FakeStripe, client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=payment_params())
    url = fake.url
    fake.down()
    assert not fake.is_up
    with pytest.raises(stripe.APIConnectionError):
        client.v1.checkout.sessions.expire(session.id)
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/v1/events", timeout=2)
    fake.up()
    assert fake.url == url
    assert client.v1.checkout.sessions.expire(session.id).id == session.id


def test_delayed_answer_times_out_and_the_retry_is_replayed(fake: FakeStripe) -> None:
    client = make_client(fake, http_client=stripe.RequestsClient(timeout=0.3))
    options: stripe.RequestOptions = {"idempotency_key": "ord_slow"}
    params = payment_params()
    fake.delay_next(1, 1.0)
    started = time.monotonic()
    with pytest.raises(stripe.APIConnectionError):
        client.v1.checkout.sessions.create(params=params, options=options)
    assert time.monotonic() - started < 0.9

    session = client.v1.checkout.sessions.create(params=params, options=options)
    assert list(fake.sessions) == [session.id]  # Stripe did the work the first time
    assert session.last_response.headers["Idempotent-Replayed"] == "true"
    time.sleep(0.8)  # let the delayed answer hit the closed socket: no error in the fake


# --------------------------------------------------------------------------------------
# Events


def _add_events(fake: FakeStripe, count: int, start: int = 1_700_000_000) -> list[str]:
    ids = []
    for n in range(count):
        event = fake.add_event(
            {
                "id": f"evt_{n}",
                "type": "checkout.session.completed" if n % 2 == 0 else "charge.refunded",
                "created": start + n * 60,
                "data": {"object": {"id": f"obj_{n}"}},
            }
        )
        ids.append(event["id"])
    return ids


def test_events_paginate_newest_first(fake: FakeStripe, client: stripe.StripeClient) -> None:
    ids = _add_events(fake, 5)
    newest_first = ids[::-1]

    page = client.v1.events.list(params={"limit": 2})
    assert page.object == "list"
    assert page.url == "/v1/events"
    assert [e.id for e in page.data] == newest_first[:2]
    assert page.has_more is True
    assert isinstance(page.data[0], stripe.Event)

    page = client.v1.events.list(params={"limit": 2, "starting_after": page.data[-1].id})
    assert [e.id for e in page.data] == newest_first[2:4]
    assert page.has_more is True
    page = client.v1.events.list(params={"limit": 2, "starting_after": page.data[-1].id})
    assert [e.id for e in page.data] == newest_first[4:]
    assert page.has_more is False

    everything = client.v1.events.list(params={"limit": 2}).auto_paging_iter()
    assert [e.id for e in everything] == newest_first
    assert fake.requests[-1].params == {"limit": "2", "starting_after": ids[1]}

    before = client.v1.events.list(params={"limit": 2, "ending_before": ids[0]})
    assert [e.id for e in before.data] == [ids[2], ids[1]]
    assert before.has_more is True


def test_events_filter_by_created_and_type(fake: FakeStripe, client: stripe.StripeClient) -> None:
    ids = _add_events(fake, 5)
    recent = client.v1.events.list(params={"created": {"gte": 1_700_000_000 + 120}})
    assert [e.id for e in recent.data] == [ids[4], ids[3], ids[2]]
    completed = client.v1.events.list(params={"type": "checkout.session.*"})
    assert [e.id for e in completed.data] == [ids[4], ids[2], ids[0]]
    refunds = client.v1.events.list(params={"types": ["charge.refunded"]})
    assert [e.id for e in refunds.data] == [ids[3], ids[1]]
    default = client.v1.events.list()
    assert len(default.data) == 5
    assert default.has_more is False


def test_events_default_limit_is_ten(fake: FakeStripe, client: stripe.StripeClient) -> None:
    _add_events(fake, 12)
    page = client.v1.events.list()
    assert len(page.data) == 10
    assert page.has_more is True


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"starting_after": "evt_nope"}, "starting_after"),
        ({"created": {"after": 1}}, "created[after]"),
        ({"starting_after": "evt_0", "ending_before": "evt_1"}, "starting_after"),
    ],
)
def test_bad_event_list_params(
    fake: FakeStripe, client: stripe.StripeClient, params: dict[str, Any], param: str
) -> None:
    _add_events(fake, 2)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.events.list(params=params)
    assert raised.value.param == param


# --------------------------------------------------------------------------------------
# The wire


def test_parse_params_nests_like_stripe() -> None:
    parsed = parse_params(
        [
            ("line_items[0][price_data][product_data][name]", "Camp"),
            ("line_items[0][quantity]", "1"),
            ("line_items[1][price]", "price_x"),
            ("metadata[order_id]", "ord_1"),
            ("metadata[0]", "kept as a hash key"),
            ("payment_intent_data[metadata][order_id]", "ord_1"),
            ("expand[]", "line_items"),
            ("expand[]", "customer"),
            ("expires_at", "1700000000"),
        ]
    )
    assert parsed == {
        "line_items": [
            {"price_data": {"product_data": {"name": "Camp"}}, "quantity": "1"},
            {"price": "price_x"},
        ],
        "metadata": {"order_id": "ord_1", "0": "kept as a hash key"},
        "payment_intent_data": {"metadata": {"order_id": "ord_1"}},
        "expand": ["line_items", "customer"],
        "expires_at": "1700000000",
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status"),
    [
        ("GET", "/v1/nope", b"", {}, 404),
        ("DELETE", "/v1/checkout/sessions", b"", {}, 404),
        ("GET", "/", b"", {}, 404),
        ("POST", "/v1/checkout/sessions", b"\xff\xfe", {}, 400),
        ("POST", "/v1/checkout/sessions", b"a[b=1", {}, 400),
        ("POST", "/v1/checkout/sessions", b"a=1&a[b]=2", {}, 400),
        ("POST", "/v1/checkout/sessions", b"line_items[0]=x", {}, 400),
        ("POST", "/v1/checkout/sessions", b"line_items[x][y]=1&mode=payment", {}, 400),
        ("POST", "/v1/checkout/sessions", b"mode=payment&expand[0][x]=1", {}, 400),
        ("POST", "/v1/checkout/sessions", b'{"mode": "payment"}', {"Content-Type": "json"}, 400),
        ("POST", "/v1/checkout/sessions", b"%%%&&&==", {}, 400),
        ("GET", "/v1/events?limit=abc", b"", {}, 400),
        ("GET", "/v1/events?limit=99999999999999999999999", b"", {}, 400),
        ("GET", "/v1/events?created[gte][x]=1", b"", {}, 400),
    ],
)
def test_bad_input_gets_a_stripe_error_never_a_crash(
    fake: FakeStripe,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    response = requests.request(
        method,
        fake.url + path,
        data=body,
        headers={"Authorization": f"Bearer {KEY}", **headers},
        timeout=5,
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    assert response.headers["Request-Id"].startswith("req_")
    assert requests.get(fake.url + "/v1/events", auth=(KEY, ""), timeout=5).status_code == 200


def test_oversized_body_is_refused(fake: FakeStripe, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "MAX_BODY_BYTES", 64)
    response = requests.post(
        fake.url + "/v1/checkout/sessions",
        data={"mode": "payment", "success_url": "https://x.test/" + "a" * 100},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=5,
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_concurrent_creates_are_all_recorded(fake: FakeStripe) -> None:
    ids: list[str] = []
    lock = threading.Lock()

    def create(n: int) -> None:
        session = make_client(fake).v1.checkout.sessions.create(
            params=payment_params(client_reference_id=f"ord_{n}")
        )
        with lock:
            ids.append(session.id)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(set(ids)) == 16
    assert len(fake.requests) == 16
    assert {s["client_reference_id"] for s in fake.sessions.values()} == {
        f"ord_{n}" for n in range(16)
    }


def _typed_keys(typed_dict: type) -> set[str]:
    request_options = set(stripe.RequestOptions.__annotations__)
    return set(typed_dict.__annotations__) - request_options


@pytest.mark.parametrize(
    ("known", "typed_dict"),
    [
        (stripe_params.SESSION_CREATE_PARAMS, create_params.SessionCreateParams),
        (stripe_params.LINE_ITEM_PARAMS, create_params.SessionCreateParamsLineItem),
        (stripe_params.PRICE_DATA_PARAMS, create_params.SessionCreateParamsLineItemPriceData),
        (
            stripe_params.PRODUCT_DATA_PARAMS,
            create_params.SessionCreateParamsLineItemPriceDataProductData,
        ),
        (
            stripe_params.RECURRING_PARAMS,
            create_params.SessionCreateParamsLineItemPriceDataRecurring,
        ),
        (
            stripe_params.PAYMENT_INTENT_DATA_PARAMS,
            create_params.SessionCreateParamsPaymentIntentData,
        ),
        (stripe_params.SUBSCRIPTION_DATA_PARAMS, create_params.SessionCreateParamsSubscriptionData),
    ],
    ids=["session", "line_item", "price_data", "product_data", "recurring", "pi_data", "sub_data"],
)
def test_accepted_params_are_the_librarys(known: frozenset[str], typed_dict: type) -> None:
    """The fake invents no parameter names, and refuses none the library can send."""
    assert set(known) == _typed_keys(typed_dict)
