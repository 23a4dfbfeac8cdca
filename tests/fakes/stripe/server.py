"""The fake's HTTP server and `FakeStripe` itself: recording, authentication, idempotency,
injected faults and routing; the resources are `checkout_sessions.py`, `events.py` and
`prices.py`."""

from __future__ import annotations

import copy
import itertools
import json
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from core import clock as business_clock
from tests.fakes.stripe.checkout_sessions import CheckoutSessions
from tests.fakes.stripe.errors import (
    DOCS,
    StripeErrorResponse,
    _injected,
    _invalid,
    _unrecognized,
)
from tests.fakes.stripe.events import Events
from tests.fakes.stripe.params import (
    API_VERSION,
    MAX_FIELDS,
    SortKey,
    new_id,
    parse_params,
)
from tests.fakes.stripe.prices import Prices
from tests.fakes.stripe.refunds import Refunds
from tests.fakes.stripe.subscriptions import Subscriptions
from tests.fakes.stripe.wire import RecordedRequest, _api_key, _redact, _Server


@dataclass
class _Response:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class _IdempotentEntry:
    method: str
    path: str
    params: dict[str, Any]
    response: _Response | None = None  # None while the first request is still running


class FakeStripe(CheckoutSessions, Events, Prices, Refunds, Subscriptions):
    """Stripe's API on 127.0.0.1 (ephemeral port); see the module docstring.

    Any `sk_test_`/`rk_test_` key authenticates. `clock`: the server's idea of now
    (seconds), used for `created` and for the `expires_at` window, which tolerates
    `expires_at_slack` seconds either side.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = business_clock.timestamp,
        expires_at_slack: float = 2.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.clock = clock
        self.expires_at_slack = expires_at_slack
        self.errors: list[str] = []
        self._host = host
        self._port: int | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()
        self._lock = threading.RLock()
        self._seq = itertools.count()
        self._requests: list[RecordedRequest] = []
        self._prices: dict[str, dict[str, Any]] = {}
        self._price_products: dict[str, str] = {}
        self._sessions: dict[str, dict[str, Any]] = {}
        self._line_items: dict[str, list[tuple[SortKey, dict[str, Any]]]] = {}
        self._events: dict[str, dict[str, Any]] = {}
        self._event_keys: dict[str, SortKey] = {}
        self._idempotency: dict[str, _IdempotentEntry] = {}
        self._failures: list[tuple[int, bool | None]] = []
        self._intents: dict[str, dict[str, Any]] = {}
        self._refunds: list[dict[str, Any]] = []
        self._invoice_payments: list[dict[str, Any]] = []
        self._invoices: dict[str, dict[str, Any]] = {}
        self._invoice_payment_reads: dict[str, int] = {}  # PaymentIntent -> listings by it
        self._refund_events: list[dict[str, Any]] = []
        self._subscriptions: dict[str, dict[str, Any]] = {}
        self._delays: list[float] = []

    def start(self) -> Self:
        with self._lifecycle:
            if self._server is None:
                self._listen()
        return self

    def stop(self) -> None:
        with self._lifecycle:
            self._close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def down(self) -> None:
        """Close the listening socket: new connections are refused until `up()`."""
        if self._port is None:
            raise RuntimeError("FakeStripe was never started")
        self.stop()

    def up(self) -> None:
        """Listen again, on the same port as before."""
        if self._port is None:
            raise RuntimeError("FakeStripe was never started")
        self.start()

    @property
    def is_up(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeStripe is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def _listen(self) -> None:
        server = _Server((self._host, self._port or 0), self)
        self._port = server.server_port
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeStripe:{self._port}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread

    def _close(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request answered so far, oldest first (a snapshot)."""
        with self._lock:
            return list(self._requests)

    def fail_next(self, n: int, status: int = 503, *, should_retry: bool | None = None) -> None:
        """Answer the next `n` requests with `status` and a Stripe-shaped error, doing nothing.

        `should_retry` sets the `Stripe-Should-Retry` header the library obeys.
        """
        with self._lock:
            self._failures.extend([(status, should_retry)] * n)

    def delay_next(self, n: int, seconds: float) -> None:
        """Do the next `n` requests' work, then wait `seconds` before answering."""
        with self._lock:
            self._delays.extend([seconds] * n)

    def _record_error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)

    def _serve(
        self, method: str, target: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, dict[str, str], bytes, float]:
        request_id = new_id("req_", 14)
        lowered = {key.lower(): value for key, value in headers.items()}
        path, query, params = "", "", {}
        text = ""
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
            delay = self._delays.pop(0) if self._delays else 0.0
        try:
            split = urlsplit(target)
            path, query = split.path, split.query
            if body is not None:
                text = body.decode("utf-8", errors="replace")
            params_error: StripeErrorResponse | None = None
            try:
                params = self._parse(method, query, lowered, body)
            except StripeErrorResponse as exc:
                params_error = exc
            if failure is not None:
                raise _injected(*failure)
            self._authenticate(lowered.get("authorization"))
            if params_error is not None:
                raise params_error
            response = self._idempotent(method, path, params, lowered)
        except StripeErrorResponse as exc:
            response = _Response(exc.status, exc.body(request_id), exc.headers)
        except Exception:
            self._record_error(traceback.format_exc())
            error = StripeErrorResponse(
                500, "An unknown error occurred in FakeStripe.", type="api_error"
            )
            response = _Response(500, error.body(request_id), {})
        out_headers = {
            "Content-Type": "application/json",
            "Request-Id": request_id,
            "Stripe-Version": lowered.get("stripe-version") or API_VERSION,
            **response.headers,
        }
        if method == "POST" and lowered.get("idempotency-key"):
            out_headers["Idempotency-Key"] = lowered["idempotency-key"]
        with self._lock:
            self._requests.append(
                RecordedRequest(
                    method=method,
                    path=path,
                    params=copy.deepcopy(params),
                    headers=dict(headers),
                    status=response.status,
                    request_id=request_id,
                    query=query,
                    body=text,
                )
            )
        data = json.dumps(response.body, indent=2).encode("utf-8")
        return response.status, out_headers, data, delay

    def _parse(
        self, method: str, query: str, headers: Mapping[str, str], body: bytes | None
    ) -> dict[str, Any]:
        if body is None:
            raise StripeErrorResponse(413, "Request body too large.")
        try:
            pairs = parse_qsl(
                query, keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS
            )
            if body:
                content_type = headers.get("content-type", "application/x-www-form-urlencoded")
                if not content_type.lower().startswith("application/x-www-form-urlencoded"):
                    raise _invalid(
                        f"Invalid request: unsupported Content-Type {content_type}. If error "
                        "persists and you need assistance, please contact support@stripe.com."
                    )
                pairs += parse_qsl(
                    body.decode("utf-8"),
                    keep_blank_values=True,
                    errors="strict",
                    max_num_fields=MAX_FIELDS,
                )
        except (UnicodeDecodeError, ValueError) as exc:
            raise _invalid(f"Invalid request body: {exc}") from None
        return parse_params(pairs)

    def _authenticate(self, authorization: str | None) -> str:
        key = _api_key(authorization)
        if key is None:
            raise StripeErrorResponse(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                f"YOUR_SECRET_KEY'). See {DOCS}/api#authentication for details, or we can "
                "help at https://support.stripe.com/.",
            )
        if not (key.startswith(("sk_test_", "rk_test_")) and len(key) > len("sk_test_")):
            raise StripeErrorResponse(401, f"Invalid API Key provided: {_redact(key)}")
        return key

    def _idempotent(
        self, method: str, path: str, params: dict[str, Any], headers: Mapping[str, str]
    ) -> _Response:
        key = headers.get("idempotency-key")
        if method != "POST" or not key:
            return self._route(method, path, params, headers)
        if len(key) > 255:
            raise _invalid("Idempotency-Key must be at most 255 characters long.")
        with self._lock:
            entry = self._idempotency.get(key)
            if entry is None:
                self._idempotency[key] = _IdempotentEntry(method, path, copy.deepcopy(params))
        if entry is not None:
            return _replay(entry, key, method, path, params)
        try:
            response = self._route(method, path, params, headers)
        except BaseException:
            with self._lock:
                del self._idempotency[key]
            raise
        with self._lock:
            if response.status < 400:
                self._idempotency[key].response = copy.deepcopy(response)
            else:
                del self._idempotency[key]
        return response

    def _route(
        self, method: str, path: str, params: dict[str, Any], headers: Mapping[str, str]
    ) -> _Response:
        parts = [unquote(part) for part in path.split("/")[1:]]
        match (method, parts):
            case ("POST", ["v1", "checkout", "sessions"]):
                body = self._create_session(params, headers)
            case ("POST", ["v1", "checkout", "sessions", session_id, "expire"]) if session_id:
                body = self._expire_session(session_id, params, headers)
            case ("GET", ["v1", "checkout", "sessions", session_id]) if session_id:
                body = self._retrieve_session(session_id, params)
            case ("GET", ["v1", "events"]):
                body = self._list_events(params)
            case ("GET", ["v1", "prices", price_id]) if price_id:
                body = self._retrieve_price(price_id, params)
            case ("GET", ["v1", "invoice_payments"]):
                body = self._list_invoice_payments(params)
            case ("POST", ["v1", "refunds"]):
                body = self._create_refund(params)
            case ("GET", ["v1", "subscriptions", subscription_id]) if subscription_id:
                body = self._retrieve_subscription(subscription_id)
            case ("POST", ["v1", "subscriptions", subscription_id]) if subscription_id:
                body = self._update_subscription(subscription_id, params)
            case ("DELETE", ["v1", "subscriptions", subscription_id]) if subscription_id:
                body = self._cancel_subscription(subscription_id, params)
            case _:
                raise _unrecognized(method, path)
        return _Response(200, body, {})


def _replay(
    entry: _IdempotentEntry, key: str, method: str, path: str, params: dict[str, Any]
) -> _Response:
    if entry.response is None:
        raise StripeErrorResponse(
            409,
            "There is currently another in-progress request using this Idempotent Key (that "
            "probably means you submitted twice, and the other request is still going "
            f"through): {key}. Please try again later.",
            type="idempotency_error",
            code="idempotency_key_in_use",
        )
    if (entry.method, entry.path) != (method, path):
        raise StripeErrorResponse(
            400,
            "Keys for idempotent requests can only be used for the same endpoint they were "
            f"first used for ('{entry.method} {entry.path}' vs '{method} {path}'). Try using a "
            f"key other than '{key}' if you meant to execute a different request.",
            type="idempotency_error",
        )
    if entry.params != params:
        raise StripeErrorResponse(
            400,
            "Keys for idempotent requests can only be used with the same parameters they were "
            f"first used with. Try using a key other than '{key}' if you meant to execute a "
            "different request.",
            type="idempotency_error",
        )
    replay = copy.deepcopy(entry.response)
    replay.headers = {**replay.headers, "Idempotent-Replayed": "true"}
    return replay
