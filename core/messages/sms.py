"""Text messages to families: the day-before reminder and the day-of notice of a booking,
and when they may be queued. Short (one 160-character GSM message where the names allow),
in Sydney time (the catalog's `TIMEZONE`). Pure: `now` and `tz` come in as arguments.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SEGMENT = 160  # characters of one GSM-7 text message
OPT_OUT = "Reply STOP to opt out."
# No texts at night: reminders are queued, and so sent, from 7 am until 8 pm local time.
SENDING_HOURS = (time(7, 0), time(20, 0))
# The kinds of reminder text, each its own outbox key (`sms-<kind>:<booking>`).
DAY_BEFORE, DAY_OF = "day_before", "day_of"

# GSM 03.38's basic character set: text made only of these goes as 7-bit characters, 160
# to a message; one character outside it (an emoji, a curly quote) makes it 70.
_GSM = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_PLAIN = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
     "\u2026": "..."}
)  # fmt: skip


def is_gsm(text: str) -> bool:
    return set(text) <= _GSM


def plain(text: str) -> str:
    """Typographic quotes and dashes as their GSM look-alikes."""
    return text.translate(_PLAIN)


def clock_time(moment: datetime) -> str:
    """`9:00am`, `1:30pm`."""
    return f"{moment:%-I:%M}{'am' if moment.hour < 12 else 'pm'}"


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """Local midnight of `day`, as naive UTC (how the database keeps times)."""
    return datetime.combine(day, time(0), tz).astimezone(UTC).replace(tzinfo=None)


def reminder_windows(now: datetime, tz: ZoneInfo) -> list[tuple[str, datetime, datetime]]:
    """(kind, from, until) in naive UTC: events starting in (from, until] get that kind of
    text if queued at `now` (aware). The day-of notice covers what is still to start today,
    the day-before reminder all of tomorrow; none outside `SENDING_HOURS`."""
    local = now.astimezone(tz)
    if not SENDING_HOURS[0] <= local.time() < SENDING_HOURS[1]:
        return []
    today = local.date()
    utc_now = now.astimezone(UTC).replace(tzinfo=None)
    tomorrow, after = today + timedelta(days=1), today + timedelta(days=2)
    return [
        (DAY_OF, utc_now, day_start(tomorrow, tz)),
        (DAY_BEFORE, day_start(tomorrow, tz), day_start(after, tz)),
    ]


def reminder_text(
    kind: str, student: str, title: str, start: datetime, venue: str, tz: ZoneInfo
) -> str:
    """`TinkerTank: Mia has Robotics Bootcamp tomorrow, Mon 4 Jan, 9:00am at TinkerTank
    Marrickville. Reply STOP to opt out.` Shortened to one message when the names are
    long: the venue goes first, then the title is cut."""
    local = start.astimezone(tz)
    day = "tomorrow" if kind == DAY_BEFORE else "today"
    first = plain(student).split(" ")[0] or "Your child"
    title = plain(title)
    when = f"{day}, {local:%a %-d %b}, {clock_time(local)}"

    def text(title: str, venue: str | None) -> str:
        where = f" at {plain(venue)}" if venue else ""
        return f"TinkerTank: {first} has {title} {when}{where}. {OPT_OUT}"

    for candidate in (text(title, venue), text(title, None)):
        if len(candidate) <= SEGMENT:
            return candidate
    room = SEGMENT - len(text("", None)) - len("...")
    return text(title[: max(room, 10)].rstrip() + "...", None)
