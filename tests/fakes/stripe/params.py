"""What the fake accepts: Stripe's form-encoded params with bracket notation, their
validation (named the way Stripe names a bad param), and list pages."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.stripe.errors import (
    _invalid,
    _one_of,
    _unknown,
)

API_VERSION = "2026-10-28.endive"  # what stripe-python 16.1 pins; echoed when none is sent
MIN_EXPIRY_SECONDS = 30 * 60
MAX_EXPIRY_SECONDS = 24 * 60 * 60
MAX_BODY_BYTES = 1 << 20
DRAIN_BYTES = 16 << 20
MAX_FIELDS = 5000
MAX_LINE_ITEMS = 100


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
