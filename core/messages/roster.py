"""A staff message to every family booked on an event (a heatwave closure, a room change):
from a template (`core/messages/templates/roster_<name>.txt.j2`) or staff's own subject and
body, and the validation of `POST /api/events/{event_id}/messages`. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

from core import validation
from core.messages import sms
from core.messages.emails import when
from core.support import InvalidRequest
from core.validation import MISSING, Problems

# Template name -> subject; the body is roster_<name>.txt.j2. {title} and {day} are filled.
TEMPLATES = {
    "heatwave_closure": "Closed today: {title} on {day} (extreme heat)",
    "weather_closure": "Closed: {title} on {day} (severe weather)",
    "time_change": "Time change: {title} on {day}",
}
# The text message of each template: what happened, in a few words (see `sms_text`).
SMS_HEADLINES = {
    "heatwave_closure": "closed (extreme heat)",
    "weather_closure": "closed (severe weather)",
    "time_change": "time change",
}
# Channels a roster message goes by: an email to each family, and a text to each family
# with a mobile where SMS is configured (`Settings.sms_enabled`).
CHANNELS = ("email", "sms")
SMS_NOT_CONFIGURED = "SMS is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, SMS_FROM)"
MAX_SUBJECT = 200
MAX_BODY = 5000
MAX_NOTE = 1000
_MESSAGE_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
_KEYS = ("message_id", "template", "subject", "body", "note", "channels", "by")

_TEXT = Environment(
    loader=PackageLoader("core.messages", "templates"),
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class RosterMessage:
    message_id: str  # made once by the sending form: a double submit carries the same
    template: str | None
    subject: str | None  # own text, when no template
    body: str | None
    note: str | None  # a line staff add to a template (a new time, where to collect)
    channels: tuple[str, ...]
    sent_by: str


def validate(body: object, sms_enabled: bool = False) -> RosterMessage:
    """The request body, or InvalidRequest listing every problem with its path. `sms`
    is refused, saying why, where SMS is not configured."""
    if not isinstance(body, dict):
        raise InvalidRequest([validation.Problem("", "expected a JSON object")])
    problems = Problems()
    problems.reject_unknown_keys(body, _KEYS, "")
    message_id = problems.check("message_id", body.get("message_id", MISSING), _message_id)
    template = body.get("template")
    subject = body_text = note = None
    if template is not None:
        if template not in TEMPLATES:
            problems.add("template", f"expected one of {', '.join(TEMPLATES)}, got"
                         f" {validation.describe(template)}")  # fmt: skip
        for key in ("subject", "body"):
            if body.get(key) is not None:
                problems.add(key, "give a template or a subject and body, not both")
        if body.get("note") is not None:
            note = problems.check("note", body["note"], lambda v: validation.text(
                v, max_length=MAX_NOTE, multiline=True))  # fmt: skip
    else:
        subject = problems.check("subject", body.get("subject", MISSING),
                                 lambda v: validation.text(v, max_length=MAX_SUBJECT))  # fmt: skip
        body_text = problems.check("body", body.get("body", MISSING), lambda v: validation.text(
            v, max_length=MAX_BODY, multiline=True))  # fmt: skip
    channels = body.get("channels", ["email"])
    if not isinstance(channels, list) or not channels:
        problems.add("channels", f"expected a list of {', '.join(CHANNELS)}")
        channels = []
    for index, channel in enumerate(channels):
        if channel not in CHANNELS:
            problems.add(f"channels.{index}", f"expected one of {', '.join(CHANNELS)}, got"
                         f" {validation.describe(channel)}")  # fmt: skip
        elif channel == "sms" and not sms_enabled:
            problems.add(f"channels.{index}", SMS_NOT_CONFIGURED)
    sent_by = problems.check("by", body.get("by", MISSING),
                             lambda v: validation.text(v, max_length=100))  # fmt: skip
    if problems.found:
        raise InvalidRequest(problems.found)
    return RosterMessage(message_id, template, subject, body_text, note,
                         tuple(dict.fromkeys(channels)), sent_by)  # fmt: skip


def _message_id(value: Any) -> str:
    if not isinstance(value, str) or not _MESSAGE_ID.fullmatch(value):
        raise validation.Invalid("expected 8 to 64 letters, digits, _ or - (made once per form)")
    return value


def render(
    message: RosterMessage, event: dict[str, Any], location: str, tz: ZoneInfo,
    support_email: str,
) -> tuple[str, str]:  # fmt: skip
    """(subject, text) of the email to each family; `event` has title, starts_at, ends_at
    (aware)."""
    start: datetime = event["starts_at"]
    day = f"{start.astimezone(tz):%A %-d %B}"
    if message.template is None:
        return message.subject or "", (message.body or "") + (
            f"\n\n--\nTinkerTank, about {event['title']} on {day}."
            f" Questions? Reply to this email or write to {support_email}.\n"
        )
    context = {
        "title": event["title"],
        "when": when(event["starts_at"], event["ends_at"], tz),
        "location": location,
        "note": message.note,
        "support_email": support_email,
    }
    text = _TEXT.get_template(f"roster_{message.template}.txt.j2").render(context)
    return TEMPLATES[message.template].format(title=event["title"], day=day), text


def sms_text(message: RosterMessage, event: dict[str, Any], tz: ZoneInfo) -> str:
    """The text to each family's mobile, derived from the email: `TinkerTank: Robotics
    Bootcamp, Thu 7 Jan: closed (extreme heat). <the note> Reply STOP to opt out.` One
    160-character GSM message where the words allow: the note (or own text) is cut first,
    with a pointer to the email, then the title."""
    start: datetime = event["starts_at"]
    day = f"{start.astimezone(tz):%a %-d %b}"
    if message.template is None:
        headline, detail = message.subject or "", message.body or ""
    else:
        headline, detail = SMS_HEADLINES[message.template], message.note or ""
    title, headline = sms.plain(event["title"]), sms.plain(headline).rstrip(".")
    detail = " ".join(sms.plain(detail).split())  # one line
    ending = f" {sms.OPT_OUT}"

    def text(title: str, detail: str) -> str:
        return f"TinkerTank: {title}, {day}: {headline}.{' ' + detail if detail else ''}{ending}"

    if len(text(title, detail)) <= sms.SEGMENT:
        return text(title, detail)
    more = "... More in your email."
    room = sms.SEGMENT - len(text(title, more))
    if room >= 20:
        return text(title, detail[:room].rstrip() + more)
    short = "More in your email."
    room = sms.SEGMENT - len(text("", short)) - len("...")
    return text(title[: max(room, 10)].rstrip() + "...", short)
