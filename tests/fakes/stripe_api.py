"""A fake of Stripe's remote API (v1), for tests that drive the real `stripe` library against it.

Only the wire is faked: a threaded HTTP server on 127.0.0.1 that speaks what the library
speaks (form-encoded bodies with bracket notation in, JSON objects and Stripe-shaped errors
out) for the endpoints TinkerTank uses:

    POST /v1/checkout/sessions                 create (validated like Stripe does)
    GET  /v1/checkout/sessions                 list (status, customer, payment_intent, ...)
    GET  /v1/checkout/sessions/{id}            retrieve (`expand[]=line_items` works)
    POST /v1/checkout/sessions/{id}/expire     expire an open session (emits an event)
    GET  /v1/checkout/sessions/{id}/line_items list its line items
    GET  /v1/events                            list what the test registered (add_event) and
                                               what the fake emitted (completion, expiry)
    GET  /v1/events/{id}                       retrieve one
    GET  /v1/prices/{id}                       retrieve a price registered with add_price

Anything else answers 404 "Unrecognized request URL", as Stripe does.

    with FakeStripe() as fake:
        client = stripe.StripeClient("sk_test_123", base_addresses={"api": fake.url},
                                     max_network_retries=0)
        session = client.v1.checkout.sessions.create(params={...})
        fake.requests[-1].params  # the nested params the library sent

Idempotency follows Stripe's rules: a successful POST's response is saved under its
`Idempotency-Key` and replayed (header `Idempotent-Replayed: true`) for the same endpoint and
params; other params or another endpoint under the same key get a 400 `idempotency_error`; a
key whose first request is still running gets a 409. Failed requests (validation errors,
injected faults) are not saved, so a retry with the same key runs afresh.

Fault injection: `fail_next(n, status)` answers the next n requests with a Stripe-shaped error
before doing anything else; `delay_next(n, seconds)` does the work (and saves the idempotent
result) but waits before answering, like a slow network after Stripe committed;
`down()`/`up()` close and reopen the listening socket on the same port.

Internal failures of the fake itself answer 500 and are kept in `fake.errors` (a test can
assert it is empty); the server never dies of a bad request.
"""

from __future__ import annotations

import base64
import binascii
import copy
import itertools
import json
import re
import secrets
import string
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from core import clock as business_clock

API_VERSION = "2026-10-28.endive"  # what stripe-python 16.1 pins; echoed when none is sent
MIN_EXPIRY_SECONDS = 30 * 60
MAX_EXPIRY_SECONDS = 24 * 60 * 60
MAX_BODY_BYTES = 1 << 20
DRAIN_BYTES = 16 << 20
MAX_FIELDS = 5000
MAX_LINE_ITEMS = 100
DOCS = "https://stripe.com/docs"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Stripe-supported presentment currencies (lowercase ISO 4217).
CURRENCIES = _words(
    """
    aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp
    byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel
    gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw kwd
    kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn
    nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd
    shp sle sos srd std szl thb tjs tnd top try ttd twd tzs uah ugx usd uyu uzs vnd vuv wst
    xaf xcd xof xpf yer zar zmw
    """
)

# The parameters `POST /v1/checkout/sessions` accepts (API 2026-10-28), level by level.
SESSION_CREATE_PARAMS = _words(
    """
    adaptive_pricing after_expiration allow_promotion_codes allowed_payment_method_types
    automatic_tax billing_address_collection branding_settings cancel_url client_reference_id
    consent_collection currency custom_fields custom_text customer customer_account
    customer_creation customer_email customer_update discounts excluded_payment_method_types
    expand expires_at integration_identifier invoice_creation line_items locale
    managed_payments metadata mode name_collection optional_items origin_context
    payment_intent_data payment_method_collection payment_method_configuration
    payment_method_data payment_method_options permissions phone_number_collection
    redirect_on_completion return_url saved_payment_method_options setup_intent_data
    shipping_address_collection shipping_options submit_type subscription_data success_url
    tax_id_collection ui_mode wallet_options
    """
)
LINE_ITEM_PARAMS = _words("adjustable_quantity metadata price price_data quantity tax_rates")
PRICE_DATA_PARAMS = _words(
    "currency product product_data recurring tax_behavior unit_amount unit_amount_decimal"
)
PRODUCT_DATA_PARAMS = _words("description images metadata name tax_code tax_details unit_label")
RECURRING_PARAMS = frozenset(("interval", "interval_count"))
PAYMENT_INTENT_DATA_PARAMS = _words(
    """
    application_fee_amount capture_method description metadata on_behalf_of receipt_email
    setup_future_usage shipping statement_descriptor statement_descriptor_suffix
    transfer_data transfer_group
    """
)
SUBSCRIPTION_DATA_PARAMS = _words(
    """
    application_fee_percent billing_cycle_anchor billing_cycle_anchor_config billing_mode
    default_tax_rates description invoice_settings metadata on_behalf_of
    pending_invoice_item_interval proration_behavior transfer_data trial_end
    trial_period_days trial_settings
    """
)
SESSION_EXPANDABLE = _words(
    "line_items payment_intent subscription customer invoice setup_intent payment_link"
)
HOSTED_UI_MODES = frozenset(("hosted_page", "hosted"))
EMBEDDED_UI_MODES = frozenset(("embedded_page", "embedded"))
UI_MODES = HOSTED_UI_MODES | EMBEDDED_UI_MODES | {"elements", "custom", "form"}
MODES = ("payment", "setup", "subscription")
INTERVALS = ("day", "week", "month", "year")

_ID_ALPHABET = string.ascii_letters + string.digits
_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_INTEGER = re.compile(r"-?[0-9]{1,18}")


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


# --------------------------------------------------------------------------------------
# Errors


class StripeErrorResponse(Exception):
    """An error answer in Stripe's shape: `{"error": {"type", "message", "param", "code"}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"{DOCS}/error-codes/{self.code.replace('_', '-')}"
        error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": error}


def _invalid(message: str, param: str | None = None, code: str | None = None) -> Exception:
    return StripeErrorResponse(400, message, param=param, code=code)


def _missing(param: str) -> Exception:
    return _invalid(f"Missing required param: {param}.", param, "parameter_missing")


def _unknown(param: str) -> Exception:
    return _invalid(f"Received unknown parameter: {param}", param, "parameter_unknown")


def _one_of(*params: str) -> Exception:
    names = ", ".join(params)
    return _invalid(f"You may only specify one of these parameters: {names}.", params[-1])


def _no_such(kind: str, object_id: str, param: str, status: int = 404) -> Exception:
    return StripeErrorResponse(
        status, f"No such {kind}: '{object_id}'", param=param, code="resource_missing"
    )


def _unrecognized(method: str, path: str) -> Exception:
    return StripeErrorResponse(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see {DOCS} or we can help at "
        "https://support.stripe.com/.",
    )


# --------------------------------------------------------------------------------------
# Request bodies


def parse_params(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nest form pairs the way Stripe reads them.

    `a[b][c]=v` becomes `{"a": {"b": {"c": "v"}}}`; a hash whose keys are all integers
    (`line_items[0]`, `line_items[1]`) becomes a list in index order; `expand[]=x` appends.
    A `metadata` hash stays a hash whatever its keys. Values stay strings: types are
    checked by the endpoint, as Stripe does. A name used both as a value and as a hash is a
    400 ("Invalid hash").
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.fullmatch(key)
        if match is None:
            raise _invalid(f"Invalid parameter name: {key!r}", key)
        parts = [match.group(1), *_SEGMENT.findall(match.group(2))]
        node = root
        name = ""
        for position, part in enumerate(parts):
            if part == "":
                part = str(sum(1 for existing in node if _is_index(existing)))
            name = part if position == 0 else f"{name}[{part}]"
            if position == len(parts) - 1:
                if isinstance(node.get(part), dict):
                    raise _invalid("Invalid hash", name)
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise _invalid("Invalid hash", name)
                node = child
    return _listify(root, None)  # type: ignore[return-value]


def _is_index(key: str) -> bool:
    return key.isascii() and key.isdigit() and len(key) <= 9


def _listify(value: Any, key: str | None) -> Any:
    if not isinstance(value, dict):
        return value
    if key != "metadata" and value and all(_is_index(k) for k in value):
        return [_listify(value[k], None) for k in sorted(value, key=int)]
    return {k: _listify(v, k) for k, v in value.items()}


def _name(*parts: str | int) -> str:
    head, *rest = parts
    return str(head) + "".join(f"[{part}]" for part in rest)


def _reject_empty_strings(value: Any, *path: str | int) -> None:
    """Stripe reads `param=` as "unset", which a create cannot do (metadata keys excepted)."""
    if path and path[-1] == "metadata":
        return
    if isinstance(value, dict):
        for key, child in value.items():
            _reject_empty_strings(child, *path, key)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _reject_empty_strings(child, *path, index)
    elif value == "" and path:
        name = _name(*path)
        raise _invalid(
            f"You passed an empty string for '{name}'. We assume empty values are an attempt "
            f"to unset a parameter; however '{name}' cannot be unset. You should remove "
            f"'{name}' from your request or supply a non-empty value.",
            name,
            "parameter_invalid_empty",
        )


def _check_known(params: Mapping[str, Any], allowed: frozenset[str], *path: str | int) -> None:
    for key in params:
        if key not in allowed:
            raise _unknown(_name(*path, key))


def _hash(value: Any, *path: str | int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid("Invalid hash", _name(*path))
    return value


def _array(value: Any, *path: str | int) -> list[Any]:
    if not isinstance(value, list):
        raise _invalid("Invalid array", _name(*path))
    return value


def _string(value: Any, *path: str | int, max_length: int | None = None) -> str:
    name = _name(*path)
    if not isinstance(value, str):
        raise _invalid(f"Invalid string: {value!r}", name)
    if max_length is not None and len(value) > max_length:
        raise _invalid(
            f"Invalid string: {value[:50]}...; must be at most {max_length} characters", name
        )
    return value


def _integer(
    value: Any, *path: str | int, minimum: int | None = None, maximum: int | None = None
) -> int:
    name = _name(*path)
    if not isinstance(value, str) or not _INTEGER.fullmatch(value):
        raise _invalid(f"Invalid integer: {value!r}", name, "parameter_invalid_integer")
    number = int(value)
    if minimum is not None and number < minimum:
        raise _invalid(f"This value must be greater than or equal to {minimum}.", name)
    if maximum is not None and number > maximum:
        raise _invalid(f"This value must be less than or equal to {maximum}.", name)
    return number


def _boolean(value: Any, *path: str | int) -> bool:
    if value in ("true", "false"):
        return value == "true"
    raise _invalid(f"Invalid boolean: {value!r}", _name(*path))


def _enum(value: Any, choices: Iterable[str], *path: str | int) -> str:
    choices = tuple(choices)
    if value not in choices:
        listed = ", ".join(f"`{choice}`" for choice in choices)
        raise _invalid(
            f"Invalid {path[-1]}: must be one of {listed}", _name(*path), "parameter_invalid"
        )
    return value


def _currency(value: Any, *path: str | int) -> str:
    text = _string(value, *path).lower()
    if text not in CURRENCIES:
        raise _invalid(
            f"Invalid currency: {text}. Stripe currently supports these currencies: "
            + ", ".join(sorted(CURRENCIES)),
            _name(*path),
        )
    return text


def _url(value: Any, *path: str | int) -> str:
    text = _string(value, *path, max_length=5000)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _invalid("Not a valid URL", _name(*path), "url_invalid")
    return text


def _metadata(value: Any, *path: str | int) -> dict[str, str]:
    if value is None or value == "":
        return {}
    metadata = _hash(value, *path)
    if len(metadata) > 50:
        raise _invalid("Metadata can have at most 50 keys.", _name(*path))
    result: dict[str, str] = {}
    for key, item in metadata.items():
        if len(key) > 40:
            raise _invalid(
                f"Metadata keys can be at most 40 characters long ({key!r}).", _name(*path, key)
            )
        text = _string(item, *path, key)
        if len(text) > 500:
            raise _invalid("Metadata values can be at most 500 characters long.", _name(*path, key))
        if text:
            result[key] = text
    return result


def _created_filter(value: Any, param: str) -> Callable[[int], bool]:
    if isinstance(value, str):
        exact = _integer(value, param)
        return lambda created: created == exact
    bounds = _hash(value, param)
    checks: list[tuple[str, int]] = []
    for op, raw in bounds.items():
        if op not in ("gt", "gte", "lt", "lte"):
            raise _unknown(_name(param, op))
        checks.append((op, _integer(raw, param, op)))

    def accept(created: int) -> bool:
        for op, bound in checks:
            if op == "gt" and not created > bound:
                return False
            if op == "gte" and not created >= bound:
                return False
            if op == "lt" and not created < bound:
                return False
            if op == "lte" and not created <= bound:
                return False
        return True

    return accept


def _expand(params: Mapping[str, Any], allowed: Iterable[str]) -> set[str]:
    raw = params.get("expand")
    if raw is None:
        return set()
    paths = _array(raw, "expand")
    allowed = set(allowed)
    result = set()
    for index, path in enumerate(paths):
        text = _string(path, "expand", index)
        if text not in allowed:
            raise _invalid(f"This property cannot be expanded ({text}).", _name("expand", index))
        result.add(text)
    return result


SortKey = tuple[int, int]


def _paginate(
    entries: list[tuple[SortKey, dict[str, Any]]],
    params: Mapping[str, Any],
    url: str,
    cursor: Callable[[str, str], SortKey],
) -> dict[str, Any]:
    """A Stripe list page over `entries` (sorted newest first) from limit/cursor params."""
    limit = 10 if params.get("limit") is None else _integer(params["limit"], "limit", minimum=1)
    if limit > 100:
        raise _invalid("This value must be less than or equal to 100.", "limit")
    after, before = params.get("starting_after"), params.get("ending_before")
    if after is not None and before is not None:
        raise _one_of("ending_before", "starting_after")
    if after is not None:
        key = cursor(_string(after, "starting_after"), "starting_after")
        rest = [obj for sort_key, obj in entries if sort_key < key]
        page, has_more = rest[:limit], len(rest) > limit
    elif before is not None:
        key = cursor(_string(before, "ending_before"), "ending_before")
        rest = [obj for sort_key, obj in entries if sort_key > key]
        page, has_more = rest[-limit:], len(rest) > limit
    else:
        page, has_more = [obj for _, obj in entries[:limit]], len(entries) > limit
    return {"object": "list", "data": page, "has_more": has_more, "url": url}


# --------------------------------------------------------------------------------------
# Recorded requests


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake answered: its parsed params and what it was told."""

    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]
    status: int
    request_id: str
    query: str = ""
    body: str = ""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    @property
    def idempotency_key(self) -> str | None:
        return self.header("Idempotency-Key")

    @property
    def api_key(self) -> str | None:
        return _api_key(self.header("Authorization"))


def _api_key(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return credentials or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


def _redact(key: str) -> str:
    if len(key) <= 12:
        return key[:3] + "*" * max(len(key) - 3, 0)
    prefix = key[: key.index("_", 3) + 1] if key.count("_") >= 2 else key[:3]
    return prefix + "*" * 4 + key[-4:]


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


@dataclass
class _LineItem:
    price: dict[str, Any]
    quantity: int
    amount: int
    currency: str
    description: str
    recurring: bool


# --------------------------------------------------------------------------------------
# HTTP plumbing


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: down() really refuses
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        self.close_connection = True
        fake = self.server.fake
        try:
            body: bytes | None
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = 0
            if length <= MAX_BODY_BYTES:
                body = self.rfile.read(length) if length > 0 else b""
            else:
                body = None  # refused with a 413, after draining what is reasonable to drain
                remaining = min(length, DRAIN_BYTES)
                while remaining > 0 and (chunk := self.rfile.read(min(remaining, 65536))):
                    remaining -= len(chunk)
            status, headers, data, delay = fake._serve(
                self.command, self.path, dict(self.headers.items()), body
            )
        except OSError:
            return  # the client went away while we were reading
        if delay:
            time.sleep(delay)
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (e.g. timed out during delay_next)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeStripe) -> None:
        self.fake = fake
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn); skip it.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client hanging up is no error
            self.fake._record_error(traceback.format_exc())


# --------------------------------------------------------------------------------------
# The fake


class FakeStripe:
    """Stripe's API on 127.0.0.1 (ephemeral port); see the module docstring.

    `api_keys`: if given, only these keys authenticate; otherwise any `sk_test_`/`rk_test_`
    key does. `clock`: the server's idea of now (seconds), used for `created` and for the
    `expires_at` window, which tolerates `expires_at_slack` seconds either side.
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] | None = None,
        clock: Callable[[], float] = business_clock.timestamp,
        expires_at_slack: float = 2.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.clock = clock
        self.expires_at_slack = expires_at_slack
        self.errors: list[str] = []
        self._api_keys = frozenset(api_keys) if api_keys is not None else None
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
        self._session_keys: dict[str, SortKey] = {}
        self._line_items: dict[str, list[tuple[SortKey, dict[str, Any]]]] = {}
        self._events: dict[str, dict[str, Any]] = {}
        self._event_keys: dict[str, SortKey] = {}
        self._idempotency: dict[str, _IdempotentEntry] = {}
        self._failures: list[tuple[int, bool | None]] = []
        self._delays: list[float] = []

    # lifecycle ---------------------------------------------------------------------------

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

    # test-facing state --------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request answered so far, oldest first (a snapshot)."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    @property
    def sessions(self) -> dict[str, dict[str, Any]]:
        """The Checkout Sessions created so far, by id (copies)."""
        with self._lock:
            return copy.deepcopy(self._sessions)

    def session(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._sessions[session_id])

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event, newest first (copies)."""
        with self._lock:
            return [copy.deepcopy(obj) for _, obj in self._sorted_events()]

    def add_price(
        self,
        price_id: str,
        *,
        unit_amount: int,
        currency: str,
        recurring: Mapping[str, Any] | None = None,
        product: str | None = None,
        product_name: str | None = None,
        active: bool = True,
        nickname: str | None = None,
        lookup_key: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Register a Price that line items may name by id; returns the price object."""
        price = {
            "id": price_id,
            "object": "price",
            "active": active,
            "billing_scheme": "per_unit",
            "created": int(self.clock()),
            "currency": currency.lower(),
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": lookup_key,
            "metadata": dict(metadata or {}),
            "nickname": nickname,
            "product": product or new_id("prod_", 14),
            "recurring": _recurring_object(recurring) if recurring else None,
            "tax_behavior": "unspecified",
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "recurring" if recurring else "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount),
        }
        with self._lock:
            self._prices[price_id] = price
            self._price_products[price_id] = product_name or nickname or price_id
        return copy.deepcopy(price)

    def add_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Register an event for `GET /v1/events`; missing envelope fields get defaults."""
        if "type" not in event:
            raise ValueError("an event needs a type")
        stored = copy.deepcopy(dict(event))
        stored.setdefault("id", new_id("evt_test_"))
        stored.setdefault("object", "event")
        stored.setdefault("api_version", API_VERSION)
        stored.setdefault("created", int(self.clock()))
        stored.setdefault("data", {"object": {}})
        stored.setdefault("livemode", False)
        stored.setdefault("pending_webhooks", 0)
        stored.setdefault("request", {"id": None, "idempotency_key": None})
        with self._lock:
            if stored["id"] in self._events:
                raise ValueError(f"event {stored['id']} is already registered")
            self._events[stored["id"]] = stored
            self._event_keys[stored["id"]] = (int(stored["created"]), next(self._seq))
        return copy.deepcopy(stored)

    def complete_session(
        self, session_id: str, *, customer_email: str | None = None, created: int | None = None
    ) -> dict[str, Any]:
        """The customer paid: mark the session complete and emit checkout.session.completed."""
        with self._lock:
            session = self._sessions[session_id]
            if session["status"] != "open":
                raise ValueError(f"{session_id} is {session['status']}, not open")
            mode = session["mode"]
            session["status"] = "complete"
            session["url"] = None
            if mode == "setup":
                session["setup_intent"] = new_id("seti_")
            elif mode == "subscription":
                session["payment_status"] = "paid"
                session["subscription"] = new_id("sub_")
                session["invoice"] = new_id("in_")
                session["customer"] = session["customer"] or new_id("cus_", 14)
            elif session["amount_total"]:
                session["payment_status"] = "paid"
                session["payment_intent"] = new_id("pi_")
            email = customer_email or session["customer_email"] or "customer@example.com"
            session["customer_details"] = {
                "address": None,
                "business_name": None,
                "email": email,
                "individual_name": None,
                "name": None,
                "phone": None,
                "tax_exempt": "none",
                "tax_ids": [],
            }
            return self._emit("checkout.session.completed", session, created=created)

    def expire_session(self, session_id: str, *, created: int | None = None) -> dict[str, Any]:
        """The session ran out: mark it expired and emit checkout.session.expired."""
        with self._lock:
            session = self._sessions[session_id]
            if session["status"] != "open":
                raise ValueError(f"{session_id} is {session['status']}, not open")
            session["status"] = "expired"
            session["url"] = None
            return self._emit("checkout.session.expired", session, created=created)

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

    # request handling -----------------------------------------------------------------------

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
        if self._api_keys is not None:
            valid = key in self._api_keys
        else:
            valid = key.startswith(("sk_test_", "rk_test_")) and len(key) > len("sk_test_")
        if not valid:
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
            case ("GET", ["v1", "checkout", "sessions"]):
                body = self._list_sessions(params)
            case ("GET", ["v1", "checkout", "sessions", session_id]) if session_id:
                body = self._retrieve_session(session_id, params)
            case ("POST", ["v1", "checkout", "sessions", session_id, "expire"]) if session_id:
                body = self._expire_session(session_id, params, headers)
            case ("GET", ["v1", "checkout", "sessions", session_id, "line_items"]) if session_id:
                body = self._list_line_items(session_id, params)
            case ("GET", ["v1", "events"]):
                body = self._list_events(params)
            case ("GET", ["v1", "events", event_id]) if event_id:
                body = self._retrieve_event(event_id, params)
            case ("GET", ["v1", "prices", price_id]) if price_id:
                body = self._retrieve_price(price_id, params)
            case _:
                raise _unrecognized(method, path)
        return _Response(200, body, {})

    # checkout sessions ----------------------------------------------------------------------

    def _create_session(self, params: dict[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        now = self.clock()
        _check_known(params, SESSION_CREATE_PARAMS)
        _reject_empty_strings(params)
        expand = _expand(params, SESSION_EXPANDABLE)

        if params.get("mode") is None:
            raise _missing("mode")
        mode = _enum(params["mode"], MODES, "mode")
        ui_mode = _enum(params.get("ui_mode", "hosted_page"), sorted(UI_MODES), "ui_mode")
        hosted = ui_mode in HOSTED_UI_MODES
        items = self._session_line_items(params, mode)

        urls: dict[str, str | None] = {}
        for field in ("success_url", "cancel_url", "return_url"):
            urls[field] = _url(params[field], field) if field in params else None
        if hosted:
            if urls["success_url"] is None:
                raise _missing("success_url")
            if urls["return_url"] is not None:
                raise _invalid(
                    f"`return_url` cannot be used with `ui_mode: {ui_mode}`.", "return_url"
                )
        else:
            for field in ("success_url", "cancel_url"):
                if urls[field] is not None:
                    raise _invalid(f"`{field}` cannot be used with `ui_mode: {ui_mode}`.", field)
        redirect = params.get("redirect_on_completion")
        if redirect is not None:
            redirect = _enum(redirect, ("always", "if_required", "never"), "redirect_on_completion")
            if hosted:
                raise _invalid(
                    "`redirect_on_completion` can only be used with `ui_mode: embedded_page`.",
                    "redirect_on_completion",
                )
        if ui_mode in EMBEDDED_UI_MODES and urls["return_url"] is None and redirect != "never":
            raise _missing("return_url")

        currency: str | None = items[0].currency if items else None
        if params.get("currency") is not None:
            requested = _currency(params["currency"], "currency")
            if currency is not None and requested != currency:
                raise _invalid(
                    f"`currency` ({requested}) does not match the line items ({currency}).",
                    "currency",
                )
            currency = requested
        if mode == "setup" and currency is None and "allowed_payment_method_types" not in params:
            raise _missing("currency")

        for field, allowed_modes in (
            ("payment_intent_data", ("payment",)),
            ("subscription_data", ("subscription",)),
            ("setup_intent_data", ("setup",)),
            ("customer_creation", ("payment", "setup")),
        ):
            if field in params and mode not in allowed_modes:
                raise _invalid(f"You can not pass `{field}` in `{mode}` mode.", field)
        self._linked_data(params, "payment_intent_data", PAYMENT_INTENT_DATA_PARAMS)
        self._linked_data(params, "subscription_data", SUBSCRIPTION_DATA_PARAMS)
        customer_creation = None
        if mode != "subscription":
            customer_creation = _enum(
                params.get("customer_creation", "if_required"),
                ("always", "if_required"),
                "customer_creation",
            )

        created = int(now)
        expires_at = created + MAX_EXPIRY_SECONDS
        if params.get("expires_at") is not None:
            expires_at = _integer(params["expires_at"], "expires_at")
            lifetime = expires_at - now
            if lifetime < MIN_EXPIRY_SECONDS - self.expires_at_slack:
                raise _invalid(
                    "The `expires_at` timestamp must be at least 30 minutes from Checkout "
                    "Session creation.",
                    "expires_at",
                )
            if lifetime > MAX_EXPIRY_SECONDS + self.expires_at_slack:
                raise _invalid(
                    "The `expires_at` timestamp must be less than 24 hours from Checkout "
                    "Session creation.",
                    "expires_at",
                )

        if params.get("customer") is not None and params.get("customer_email") is not None:
            raise _one_of("customer", "customer_email")
        customer = params.get("customer")
        if customer is not None:
            customer = _string(customer, "customer")
        customer_email = params.get("customer_email")
        if customer_email is not None:
            customer_email = _string(customer_email, "customer_email", max_length=800)
            if "@" not in customer_email:
                raise _invalid("Invalid email address: " + customer_email, "customer_email")
        client_reference_id = params.get("client_reference_id")
        if client_reference_id is not None:
            client_reference_id = _string(
                client_reference_id, "client_reference_id", max_length=200
            )
        metadata = _metadata(params.get("metadata"), "metadata")
        allow_promotion_codes = (
            _boolean(params["allow_promotion_codes"], "allow_promotion_codes")
            if "allow_promotion_codes" in params
            else None
        )

        session_id = new_id("cs_test_", 58)
        amount = sum(item.amount for item in items) if mode != "setup" else None
        payment_status = "no_payment_required" if mode == "setup" or amount == 0 else "unpaid"
        session: dict[str, Any] = {
            "id": session_id,
            "object": "checkout.session",
            "adaptive_pricing": None,
            "after_expiration": None,
            "allow_promotion_codes": allow_promotion_codes,
            "amount_subtotal": amount,
            "amount_total": amount,
            "automatic_tax": {
                "enabled": False,
                "liability": None,
                "provider": None,
                "status": None,
            },
            "billing_address_collection": params.get("billing_address_collection"),
            "branding_settings": None,
            "cancel_url": urls["cancel_url"],
            "client_reference_id": client_reference_id,
            "client_secret": None if hosted else f"{session_id}_secret_{new_id('', 40)}",
            "collected_information": None,
            "consent": None,
            "consent_collection": None,
            "created": created,
            "currency": currency,
            "currency_conversion": None,
            "custom_fields": [],
            "custom_text": {
                "after_submit": None,
                "shipping_address": None,
                "submit": None,
                "terms_of_service_acceptance": None,
            },
            "customer": customer,
            "customer_account": None,
            "customer_creation": customer_creation,
            "customer_details": None,
            "customer_email": customer_email,
            "discounts": [],
            "excluded_payment_method_types": [],
            "expires_at": expires_at,
            "integration_identifier": params.get("integration_identifier"),
            "invoice": None,
            "invoice_creation": (
                {"enabled": False, "invoice_data": {"metadata": {}}} if mode == "payment" else None
            ),
            "livemode": False,
            "locale": params.get("locale"),
            "metadata": metadata,
            "mode": mode,
            "origin_context": params.get("origin_context"),
            "payment_intent": None,
            "payment_link": None,
            "payment_method_collection": "if_required" if mode == "payment" else "always",
            "payment_method_configuration_details": None,
            "payment_method_options": {},
            "payment_method_types": ["card"],
            "payment_status": payment_status,
            "permissions": None,
            "phone_number_collection": {"enabled": False},
            "recovered_from": None,
            "redirect_on_completion": None if hosted else (redirect or "always"),
            "return_url": urls["return_url"],
            "saved_payment_method_options": None,
            "setup_intent": None,
            "shipping_address_collection": None,
            "shipping_cost": None,
            "shipping_options": [],
            "status": "open",
            "submit_type": params.get("submit_type"),
            "subscription": None,
            "success_url": urls["success_url"],
            "tax_id_collection": {"enabled": False, "required": "never"},
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": ui_mode,
            "url": f"https://checkout.stripe.com/c/pay/{session_id}" if hosted else None,
            "wallet_options": None,
        }
        line_items = [self._line_item_object(item) for item in items]
        with self._lock:
            key = (created, next(self._seq))
            self._sessions[session_id] = session
            self._session_keys[session_id] = key
            self._line_items[session_id] = [
                ((0, -index), obj) for index, obj in enumerate(line_items)
            ]
            return self._session_view(session_id, expand)

    def _linked_data(self, params: Mapping[str, Any], field: str, allowed: frozenset[str]) -> None:
        if field in params:
            data = _hash(params[field], field)
            _check_known(data, allowed, field)
            _metadata(data.get("metadata"), field, "metadata")

    def _session_line_items(self, params: Mapping[str, Any], mode: str) -> list[_LineItem]:
        raw = params.get("line_items")
        if raw is None:
            if mode == "setup":
                return []
            raise _missing("line_items")
        if mode == "setup":
            raise _invalid("You can not pass `line_items` in `setup` mode.", "line_items")
        entries = _array(raw, "line_items")
        if not entries:
            raise _missing("line_items")
        if len(entries) > MAX_LINE_ITEMS:
            raise _invalid(f"`line_items` can have at most {MAX_LINE_ITEMS} items.", "line_items")
        items = [self._line_item(entry, index) for index, entry in enumerate(entries)]
        for index, item in enumerate(items):
            if item.currency != items[0].currency:
                raise _invalid(
                    f"All line items must use the same currency: line_items[{index}] is "
                    f"{item.currency}, line_items[0] is {items[0].currency}.",
                    _name("line_items", index),
                )
            if item.recurring and mode == "payment":
                raise _invalid(
                    "You specified `payment` mode but passed a recurring price. Either switch "
                    "to `subscription` mode or use only one-time prices.",
                    _name("line_items", index),
                )
        if mode == "subscription" and not any(item.recurring for item in items):
            raise _invalid(
                "You must provide at least one recurring price in `subscription` mode when "
                "using prices.",
                "line_items",
            )
        return items

    def _line_item(self, raw: Any, index: int) -> _LineItem:
        path: tuple[str | int, ...] = ("line_items", index)
        entry = _hash(raw, *path)
        _check_known(entry, LINE_ITEM_PARAMS, *path)
        _metadata(entry.get("metadata"), *path, "metadata")
        if "price" in entry and "price_data" in entry:
            raise _one_of(_name(*path, "price"), _name(*path, "price_data"))
        if "quantity" not in entry:
            raise _missing(_name(*path, "quantity"))
        quantity = _integer(entry["quantity"], *path, "quantity", minimum=0, maximum=999_999)
        if "price" in entry:
            price_id = _string(entry["price"], *path, "price")
            with self._lock:
                price = copy.deepcopy(self._prices.get(price_id))
                description = self._price_products.get(price_id, price_id)
            if price is None:
                raise _no_such("price", price_id, _name(*path, "price"), status=400)
            if not price["active"]:
                raise _invalid(
                    "The price specified is inactive. This field only accepts active prices.",
                    _name(*path, "price"),
                )
            unit = Decimal(price["unit_amount_decimal"])
        elif "price_data" in entry:
            price, unit, description = self._price_data(entry["price_data"], *path, "price_data")
        else:
            raise _invalid(
                "You must specify either `price` or `price_data` for each line item.",
                _name(*path, "price"),
            )
        amount = int((unit * quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        return _LineItem(
            price=price,
            quantity=quantity,
            amount=amount,
            currency=price["currency"],
            description=description,
            recurring=price["recurring"] is not None,
        )

    def _price_data(self, raw: Any, *path: str | int) -> tuple[dict[str, Any], Decimal, str]:
        data = _hash(raw, *path)
        _check_known(data, PRICE_DATA_PARAMS, *path)
        if "currency" not in data:
            raise _missing(_name(*path, "currency"))
        currency = _currency(data["currency"], *path, "currency")
        if "unit_amount" in data and "unit_amount_decimal" in data:
            raise _one_of(_name(*path, "unit_amount"), _name(*path, "unit_amount_decimal"))
        if "unit_amount" in data:
            unit = Decimal(_integer(data["unit_amount"], *path, "unit_amount", minimum=0))
        elif "unit_amount_decimal" in data:
            text = _string(data["unit_amount_decimal"], *path, "unit_amount_decimal")
            try:
                unit = Decimal(text)
            except InvalidOperation:
                unit = Decimal("NaN")
            exponent = unit.as_tuple().exponent
            if not unit.is_finite() or unit < 0 or not isinstance(exponent, int) or exponent < -12:
                raise _invalid(f"Invalid decimal: {text}", _name(*path, "unit_amount_decimal"))
        else:
            raise _missing(_name(*path, "unit_amount"))
        if "product" in data and "product_data" in data:
            raise _one_of(_name(*path, "product"), _name(*path, "product_data"))
        if "product" in data:
            product = _string(data["product"], *path, "product")
            description = product
        elif "product_data" in data:
            product_data = _hash(data["product_data"], *path, "product_data")
            _check_known(product_data, PRODUCT_DATA_PARAMS, *path, "product_data")
            _metadata(product_data.get("metadata"), *path, "product_data", "metadata")
            if "name" not in product_data:
                raise _missing(_name(*path, "product_data", "name"))
            description = _string(product_data["name"], *path, "product_data", "name")
            product = new_id("prod_", 14)
        else:
            raise _missing(_name(*path, "product_data"))
        recurring = None
        if "recurring" in data:
            raw_recurring = _hash(data["recurring"], *path, "recurring")
            _check_known(raw_recurring, RECURRING_PARAMS, *path, "recurring")
            if "interval" not in raw_recurring:
                raise _missing(_name(*path, "recurring", "interval"))
            interval = _enum(raw_recurring["interval"], INTERVALS, *path, "recurring", "interval")
            count = 1
            if "interval_count" in raw_recurring:
                count = _integer(
                    raw_recurring["interval_count"],
                    *path,
                    "recurring",
                    "interval_count",
                    minimum=1,
                    maximum=365,
                )
            recurring = _recurring_object({"interval": interval, "interval_count": count})
        tax_behavior = data.get("tax_behavior", "unspecified")
        _enum(tax_behavior, ("exclusive", "inclusive", "unspecified"), *path, "tax_behavior")
        unit_amount = int(unit) if unit == unit.to_integral_value() else None
        price = {
            "id": new_id("price_"),
            "object": "price",
            "active": False,
            "billing_scheme": "per_unit",
            "created": int(self.clock()),
            "currency": currency,
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": None,
            "metadata": {},
            "nickname": None,
            "product": product,
            "recurring": recurring,
            "tax_behavior": tax_behavior,
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "recurring" if recurring else "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit),
        }
        return price, unit, description

    def _line_item_object(self, item: _LineItem) -> dict[str, Any]:
        return {
            "id": new_id("li_"),
            "object": "item",
            "adjustable_quantity": None,
            "amount_discount": 0,
            "amount_subtotal": item.amount,
            "amount_tax": 0,
            "amount_total": item.amount,
            "currency": item.currency,
            "description": item.description,
            "metadata": {},
            "price": item.price,
            "quantity": item.quantity,
        }

    def _session_view(self, session_id: str, expand: set[str]) -> dict[str, Any]:
        with self._lock:
            view = copy.deepcopy(self._sessions[session_id])
            if "line_items" in expand:
                view["line_items"] = _paginate(
                    self._line_items[session_id],
                    {"limit": "100"},
                    f"/v1/checkout/sessions/{session_id}/line_items",
                    lambda cursor, param: (0, 0),
                )
        return view

    def _session_or_404(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None:
            raise _no_such("checkout.session", session_id, "session")
        return session

    def _retrieve_session(self, session_id: str, params: dict[str, Any]) -> dict[str, Any]:
        _check_known(params, frozenset(("expand",)))
        expand = _expand(params, SESSION_EXPANDABLE)
        self._session_or_404(session_id)
        return self._session_view(session_id, expand)

    def _expire_session(
        self, session_id: str, params: dict[str, Any], headers: Mapping[str, str]
    ) -> dict[str, Any]:
        _check_known(params, frozenset(("expand",)))
        expand = _expand(params, SESSION_EXPANDABLE)
        with self._lock:
            session = self._session_or_404(session_id)
            if session["status"] != "open":
                raise _invalid(
                    f'Only Checkout Sessions with a status in ["open"] can be expired. This '
                    f'Checkout Session has a status of "{session["status"]}".'
                )
            session["status"] = "expired"
            session["url"] = None
            self._emit(
                "checkout.session.expired",
                session,
                request={"id": None, "idempotency_key": headers.get("idempotency-key")},
            )
            return self._session_view(session_id, expand)

    def _list_sessions(self, params: dict[str, Any]) -> dict[str, Any]:
        _check_known(
            params,
            _words(
                """created customer customer_details ending_before expand limit payment_intent
                payment_link starting_after status subscription"""
            ),
        )
        expand = {
            path.removeprefix("data.")
            for path in _expand(params, {f"data.{name}" for name in SESSION_EXPANDABLE})
        }
        checks: list[Callable[[dict[str, Any]], bool]] = []
        if "status" in params:
            status = _enum(params["status"], ("complete", "expired", "open"), "status")
            checks.append(lambda s: s["status"] == status)
        for field in ("customer", "payment_intent", "payment_link", "subscription"):
            if field in params:
                wanted = _string(params[field], field)
                checks.append(lambda s, field=field, wanted=wanted: s[field] == wanted)
        if "customer_details" in params:
            details = _hash(params["customer_details"], "customer_details")
            _check_known(details, frozenset(("email",)), "customer_details")
            email = _string(details.get("email"), "customer_details", "email")
            checks.append(lambda s: (s["customer_details"] or {}).get("email") == email)
        if "created" in params:
            accept = _created_filter(params["created"], "created")
            checks.append(lambda s: accept(s["created"]))
        with self._lock:
            entries = sorted(
                (
                    (self._session_keys[sid], self._session_view(sid, expand))
                    for sid, session in self._sessions.items()
                    if all(check(session) for check in checks)
                ),
                key=lambda entry: entry[0],
                reverse=True,
            )
            return _paginate(
                entries, params, "/v1/checkout/sessions", self._cursor(self._session_keys)
            )

    def _list_line_items(self, session_id: str, params: dict[str, Any]) -> dict[str, Any]:
        _check_known(params, frozenset(("ending_before", "expand", "limit", "starting_after")))
        _expand(params, ())
        self._session_or_404(session_id)
        with self._lock:
            entries = copy.deepcopy(self._line_items[session_id])
        keys = {obj["id"]: key for key, obj in entries}
        return _paginate(
            entries,
            params,
            f"/v1/checkout/sessions/{session_id}/line_items",
            self._cursor(keys),
        )

    # events and prices ----------------------------------------------------------------------

    def _emit(
        self,
        event_type: str,
        obj: Mapping[str, Any],
        *,
        created: int | None = None,
        request: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self.add_event(
            {
                "id": new_id("evt_test_"),
                "object": "event",
                "api_version": API_VERSION,
                "created": int(self.clock()) if created is None else created,
                "data": {"object": copy.deepcopy(dict(obj))},
                "livemode": False,
                "pending_webhooks": 1,
                "request": dict(request or {"id": None, "idempotency_key": None}),
                "type": event_type,
            }
        )

    def _sorted_events(self) -> list[tuple[SortKey, dict[str, Any]]]:
        return sorted(
            ((self._event_keys[eid], event) for eid, event in self._events.items()),
            key=lambda entry: entry[0],
            reverse=True,
        )

    def _cursor(self, keys: Mapping[str, SortKey]) -> Callable[[str, str], SortKey]:
        def find(object_id: str, param: str) -> SortKey:
            key = keys.get(object_id)
            if key is None:
                kind = object_id.partition("_")[0] or "object"
                raise _invalid(
                    f"Invalid {param} id: no such {kind} '{object_id}'",
                    param,
                    "resource_missing",
                )
            return key

        return find

    def _list_events(self, params: dict[str, Any]) -> dict[str, Any]:
        _check_known(
            params,
            _words(
                """created delivery_success ending_before expand limit starting_after type
                types"""
            ),
        )
        _expand(params, ())
        checks: list[Callable[[dict[str, Any]], bool]] = []
        if "type" in params and "types" in params:
            raise _one_of("type", "types")
        if "type" in params:
            pattern = _string(params["type"], "type")
            regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")))
            checks.append(lambda e: regex.fullmatch(str(e["type"])) is not None)
        if "types" in params:
            types = {_string(t, "types", i) for i, t in enumerate(_array(params["types"], "types"))}
            if len(types) > 20:
                raise _invalid("`types` can have at most 20 entries.", "types")
            checks.append(lambda e: e["type"] in types)
        if "created" in params:
            accept = _created_filter(params["created"], "created")
            checks.append(lambda e: accept(int(e["created"])))
        if "delivery_success" in params:
            _boolean(params["delivery_success"], "delivery_success")
        with self._lock:
            entries = [
                (key, copy.deepcopy(event))
                for key, event in self._sorted_events()
                if all(check(event) for check in checks)
            ]
            return _paginate(entries, params, "/v1/events", self._cursor(self._event_keys))

    def _retrieve_event(self, event_id: str, params: dict[str, Any]) -> dict[str, Any]:
        _check_known(params, frozenset(("expand",)))
        _expand(params, ())
        with self._lock:
            event = self._events.get(event_id)
            if event is None:
                raise _no_such("event", event_id, "id")
            return copy.deepcopy(event)

    def _retrieve_price(self, price_id: str, params: dict[str, Any]) -> dict[str, Any]:
        _check_known(params, frozenset(("expand",)))
        _expand(params, ())
        with self._lock:
            price = self._prices.get(price_id)
            if price is None:
                raise _no_such("price", price_id, "price")
            return copy.deepcopy(price)


def _recurring_object(recurring: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "interval": recurring["interval"],
        "interval_count": int(recurring.get("interval_count", 1)),
        "meter": None,
        "trial_period_days": recurring.get("trial_period_days"),
        "usage_type": recurring.get("usage_type", "licensed"),
    }


def _injected(status: int, should_retry: bool | None) -> StripeErrorResponse:
    headers = {}
    if should_retry is not None:
        headers["Stripe-Should-Retry"] = "true" if should_retry else "false"
    if status == 429:
        return StripeErrorResponse(
            429,
            "Too many requests hit the API too quickly. We recommend an exponential backoff of "
            "your requests.",
            code="rate_limit",
            headers=headers,
        )
    if status >= 500:
        return StripeErrorResponse(
            status,
            "An unknown error occurred (injected by FakeStripe.fail_next).",
            type="api_error",
            headers=headers,
        )
    return StripeErrorResponse(
        status, "Request failed (injected by FakeStripe.fail_next).", headers=headers
    )


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
