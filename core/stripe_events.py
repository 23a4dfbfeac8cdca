"""Stripe events as the inbox stores them: shape checks on a verified webhook body.

Pure: no clock, no I/O. The signature has already been checked on the raw body by the
sidecar; this module only decides whether that body is a Stripe event and pulls out the
columns the inbox is keyed and filtered by.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from core import json_depth

# The event types the fulfilment worker acts on. Anything else is stored and
# marked `ignored`, so turning a new type on later can reprocess it from the inbox.
HANDLED_EVENT_TYPES = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "charge.refunded",
        "charge.dispute.created",
        "invoice.paid",
        "invoice.payment_failed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
    }
)


class NotAnEvent(ValueError):
    """The body is signed but is not a Stripe event we can store (400, nothing stored)."""


class InboxEvent(NamedTuple):
    # A named tuple, not a dataclass: it crosses to the store process with every
    # delivery, and a tuple pickles several times faster.
    event_id: str
    type: str
    object_id: str | None
    livemode: bool
    api_version: str | None
    created: datetime  # UTC, naive: every timestamp in the store is naive UTC
    payload: str  # the raw body exactly as signed

    @property
    def handled(self) -> bool:
        return self.type in HANDLED_EVENT_TYPES


def parse_event(payload: str) -> InboxEvent:
    """Check that `payload` is a v1 (snapshot) Stripe event and return its inbox columns."""
    try:
        body = json_depth.loads(payload)
    except json_depth.TooDeep as exc:
        raise NotAnEvent(f"body is {exc}") from None
    except ValueError as exc:
        raise NotAnEvent(f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise NotAnEvent("body is not a JSON object")
    if body.get("object") != "event":
        raise NotAnEvent("body is not a Stripe event: 'object' is not \"event\"")

    event_id = body.get("id")
    if not isinstance(event_id, str) or not event_id.startswith("evt_") or len(event_id) > 255:
        raise NotAnEvent("event 'id' must be a string starting with 'evt_'")
    event_type = body.get("type")
    if not isinstance(event_type, str) or not event_type or len(event_type) > 255:
        raise NotAnEvent("event 'type' must be a non-empty string")
    created = body.get("created")
    if not isinstance(created, int) or isinstance(created, bool) or created < 0:
        raise NotAnEvent("event 'created' must be a Unix timestamp")
    data = body.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise NotAnEvent("event 'data.object' must be an object")
    livemode = body.get("livemode", False)
    if not isinstance(livemode, bool):
        raise NotAnEvent("event 'livemode' must be true or false")
    api_version = body.get("api_version")
    if api_version is not None and not isinstance(api_version, str):
        raise NotAnEvent("event 'api_version' must be a string or null")
    object_id = data["object"].get("id")

    try:
        created_at = datetime.fromtimestamp(created, UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        raise NotAnEvent("event 'created' is out of range") from None
    return InboxEvent(
        event_id=event_id,
        type=event_type,
        object_id=object_id if isinstance(object_id, str) else None,
        livemode=livemode,
        api_version=api_version,
        created=created_at,
        payload=payload,
    )
