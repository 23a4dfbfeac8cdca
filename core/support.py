"""Support requests: a customer reports a problem with a booking (docs/http-api.md, Support).

``validate_booking_issue`` checks the body of ``POST /api/support/booking-issue`` and reports
every problem at once, each at the path of the value at fault, as the checkout does.
``ClientLimiter`` caps how many requests one client address may make; the cap per email
address is enforced in the database, where it holds across restarts.

Pure: no I/O and no clock; callers pass ``now``.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from core import validation
from core.validation import (
    MAX_ADDRESS_LENGTH,
    MAX_PLAIN_NAME_LENGTH,
    MISSING,
    InvalidAddress,
    Problem,
    Problems,
    address_key,
    is_plain_name,
    parse_address,
)
from core.vocabulary import TICKET_STATUSES

# What a request can be about; the key is stored, the label is what customers and staff read.
CATEGORIES: Mapping[str, str] = {
    "wrong_date": "Wrong date, session or time",
    "child_details": "Child's details (name, age or notes)",
    "cancel_or_refund": "Cancellation or refund",
    "payment": "Payment or receipt",
    "calendar_invite": "Confirmation email or calendar invite",
    "accessibility_or_medical": "Accessibility or medical needs",
    "other": "Something else",
}

MAX_MESSAGE_LENGTH = 4000
MAX_STAFF_NOTE_LENGTH = 4000
MAX_REFERENCE_LENGTH = 255

# Per email address, counted in the database (store/tickets.py).
TICKETS_PER_ADDRESS = 5
ADDRESS_WINDOW = timedelta(hours=1)
# Per client IP address, counted in memory: against a flood of different email addresses.
# The default of SUPPORT_REQUESTS_PER_CLIENT (core/settings.py).
REQUESTS_PER_CLIENT = 20
CLIENT_WINDOW_SECONDS = 3600.0

_BODY_KEYS = ("order_id", "email", "category", "message", "name")
_REFERENCE_PREFIXES = ("ord_", "cs_", "pi_")
_REFERENCE_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
)
# Ticket references are read aloud and typed from emails: no 0/O, 1/I/L.
_TICKET_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_TICKET_LENGTH = 8


@dataclass(frozen=True)
class BookingIssue:
    """A valid report. `order_reference` is as the customer gave it (ord_, cs_ or pi_ id);
    whether it names one of their orders is decided by the store, and never told to them."""

    order_reference: str
    email: str  # one address (core/validation.parse_address), lower-cased
    category: str
    message: str
    name: str | None  # letters, spaces, hyphens and apostrophes only (it goes in our email)

    @property
    def email_key(self) -> str:
        """The mailbox, for the per-address cap: tag and dot variants count as one."""
        return address_key(self.email)


class InvalidRequest(ValueError):
    """The request cannot be taken; ``problems`` lists every reason, in body order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "; ".join(str(problem) for problem in self.problems)

    def as_dict(self) -> dict[str, Any]:
        """The 422 response body."""
        return {"error": "invalid_request", "problems": [p.as_dict() for p in self.problems]}


def new_ticket_id() -> str:
    return "TT-" + "".join(secrets.choice(_TICKET_ALPHABET) for _ in range(_TICKET_LENGTH))


def validate_booking_issue(body: object) -> BookingIssue:
    """The report in `body` (parsed JSON), or InvalidRequest listing every problem."""
    problems = _object_with_keys(body, _BODY_KEYS)
    reference = _read_text(problems, body, "order_id", MAX_REFERENCE_LENGTH)
    if reference is not None and not _is_order_reference(reference):
        problems.add(
            "order_id",
            "expected the order reference from your confirmation email (ord_…), or the "
            "Stripe checkout or payment id (cs_… or pi_…)",
        )
        reference = None

    email = _read_text(problems, body, "email", MAX_ADDRESS_LENGTH)
    if email is not None:
        try:
            email = parse_address(email)
        except InvalidAddress as exc:
            problems.add("email", f"expected one email address, such as jane@example.com: {exc}")
            email = None

    category = body.get("category", MISSING)
    if category is MISSING:
        problems.add("category", "missing (required)")
    elif not isinstance(category, str) or category not in CATEGORIES:
        problems.add(
            "category", f"expected one of {', '.join(CATEGORIES)}, got {_describe(category)}"
        )

    message = _read_text(problems, body, "message", MAX_MESSAGE_LENGTH, multiline=True)

    name = body.get("name")
    # Optional: absent, null and blank all mean "not given" (an empty form field).
    if name is None or (isinstance(name, str) and not name.strip()):
        name = None
    else:
        name = _read_text(problems, body, "name", MAX_PLAIN_NAME_LENGTH)
        if name is not None and not is_plain_name(name):
            problems.add(
                "name",
                "may hold only letters, single spaces, hyphens and apostrophes "
                f"(up to {MAX_PLAIN_NAME_LENGTH} characters)",
            )
            name = None

    if problems.found:
        raise InvalidRequest(problems.found)
    assert reference is not None and email is not None and message is not None
    return BookingIssue(reference, email.lower(), category, message, name)


@dataclass(frozen=True)
class TicketUpdate:
    """What staff change on a ticket; None leaves a field as it is, "" clears the note."""

    status: str | None
    staff_note: str | None


def validate_ticket_update(body: object) -> TicketUpdate:
    """The body of `POST /api/tickets/{ticket_id}`, or InvalidRequest."""
    problems = _object_with_keys(body, ("status", "staff_note"))
    status = body.get("status")
    if status is not None and (not isinstance(status, str) or status not in TICKET_STATUSES):
        problems.add(
            "status", f"expected one of {', '.join(TICKET_STATUSES)}, got {_describe(status)}"
        )
        status = None
    note = body.get("staff_note")
    if isinstance(note, str) and not note.strip():
        note = ""
    elif note is not None:
        note = _read_text(problems, body, "staff_note", MAX_STAFF_NOTE_LENGTH, multiline=True)
    if not problems.found and status is None and note is None:
        problems.add("", "nothing to change: give status, staff_note or both")
    if problems.found:
        raise InvalidRequest(problems.found)
    return TicketUpdate(status, note)


def _object_with_keys(body: object, keys: Iterable[str]) -> Problems:
    """A problem for each key of the JSON object `body` not among `keys`; InvalidRequest
    when `body` is not an object at all."""
    if not isinstance(body, dict):
        raise InvalidRequest([Problem("", f"expected a JSON object, got {_describe(body)}")])
    known = tuple(keys)
    problems = Problems()
    for key in body:
        if key not in known:
            problems.add(_shorten(key, 60), f"unknown key; expected {', '.join(known)}")
    return problems


def _is_order_reference(text: str) -> bool:
    return (
        text.startswith(_REFERENCE_PREFIXES)
        and len(text) > 4
        and set(text) <= _REFERENCE_CHARACTERS
    )


def _read_text(
    problems: Problems, body: dict[str, Any], key: str, max_length: int, multiline: bool = False
) -> str | None:
    """Stripped, non-empty text without control characters, or None after saying why not."""
    return problems.check(
        key,
        body.get(key, MISSING),
        lambda value: validation.text(
            value, max_length=max_length, multiline=multiline, describe=_describe
        ),
    )


def _shorten(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def _describe(value: Any) -> str:
    """As `validation.describe`, but shortening text and never repeating a number."""
    if isinstance(value, str):
        return f"text {_shorten(value, 60)!r}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return validation.describe(value)


class ClientLimiter:
    """At most `limit` requests per client in any `window` seconds, counted in memory.

    Only a backstop against one machine sending many addresses' worth of requests: it is
    per process and forgets on restart, which the per-address cap in the database does not.
    """

    def __init__(
        self,
        limit: int = REQUESTS_PER_CLIENT,
        window: float = CLIENT_WINDOW_SECONDS,
        max_clients: int = 10_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self._seen: dict[str, deque[float]] = {}

    def check(self, client: str, now: float) -> float:
        """Count a request from `client` at `now` (seconds, any monotonic clock); 0 when it
        is allowed, else how many seconds until it would be (the request is not counted)."""
        times = self._seen.get(client)
        if times is None:
            if len(self._seen) >= self.max_clients:
                self._forget_idle(now)
            times = self._seen[client] = deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            return times[0] + self.window - now
        times.append(now)
        return 0.0

    def _forget_idle(self, now: float) -> None:
        idle = [c for c, times in self._seen.items() if not times or times[-1] <= now - self.window]
        for client in idle:
            del self._seen[client]
        if len(self._seen) >= self.max_clients:  # all active: drop the oldest tracked half
            for client in list(self._seen)[: self.max_clients // 2]:
                del self._seen[client]


@dataclass(frozen=True)
class TicketReply:
    """A staff reply to a ticket: emailed to the parent, kept on the ticket's history."""

    reply_id: str  # made once by the reply form: a double submit is the same reply
    body: str
    close: bool  # the ticket is resolved by it; otherwise it is answered (in_progress)
    by: str

    @property
    def status(self) -> str:
        return "resolved" if self.close else "in_progress"


def validate_ticket_reply(body: object) -> TicketReply:
    """The body of `POST /api/tickets/{ticket_id}/replies`, or InvalidRequest."""
    problems = _object_with_keys(body, ("reply_id", "body", "close", "by"))
    reply_id = body.get("reply_id", MISSING)
    if reply_id is MISSING:
        problems.add("reply_id", "missing (required)")
    elif not (
        isinstance(reply_id, str)
        and 8 <= len(reply_id) <= 64
        and set(reply_id) <= _REFERENCE_CHARACTERS
    ):
        problems.add("reply_id", "expected 8 to 64 letters, digits, _ or - (made once per form)")
    text = _read_text(problems, body, "body", MAX_MESSAGE_LENGTH, multiline=True)
    close = body.get("close", False)
    if not isinstance(close, bool):
        problems.add("close", f"expected true or false, got {_describe(close)}")
    by = _read_text(problems, body, "by", 100)
    if problems.found:
        raise InvalidRequest(problems.found)
    return TicketReply(reply_id, text, close, by)  # type: ignore[arg-type]
