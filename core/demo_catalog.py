"""The demo's catalog: the real catalog file moved in time to start just after today.

`make run` sells from this, so that the demo has camps, parties and Ignite terms to sell
whatever the date (the catalog file itself is a year's plan and goes stale). Every date in
the file moves by the same whole number of weeks: a camp day stays a weekday, a party slot
keeps its weekday, a public holiday keeps falling on the camp days it was taken out of, and
a term keeps its length, so a file that was valid stays valid. Only the date literals move;
names and ids that mention a year ("Term 1 2027") are left as they are.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

# A date literal as the catalog writes them (YYYY-MM-DD), not part of a longer token.
_DATE = re.compile(r"(?<![\w-])(\d{4})-(\d{2})-(\d{2})(?![\w-])")
# The first camp day of the demo is this many days after today, or up to a week more.
LEAD_DAYS = 7


def catalog_dates(text: str) -> list[date]:
    """Every date literal in the catalog text (comments included), in order."""
    found = []
    for match in _DATE.finditer(text):
        try:
            found.append(date(*(int(part) for part in match.groups())))
        except ValueError:
            continue
    return found


def weeks_to_move(text: str, today: date) -> int:
    """Whole weeks to add so that the file's earliest date is LEAD_DAYS to LEAD_DAYS + 6
    days after `today` (negative when the file lies further ahead than that)."""
    dates = catalog_dates(text)
    if not dates:
        return 0
    earliest = min(dates)
    return -((earliest - today - timedelta(days=LEAD_DAYS)).days // 7)


def moved_catalog(text: str, today: date) -> str:
    """The catalog text with every date moved by `weeks_to_move(text, today)` weeks."""
    shift = timedelta(weeks=weeks_to_move(text, today))

    def move(match: re.Match[str]) -> str:
        try:
            day = date(*(int(part) for part in match.groups()))
        except ValueError:
            return match.group(0)
        return (day + shift).isoformat()

    header = (
        f"# The demo catalog, made by `tinkertank demo-catalog` on {today.isoformat()}: the "
        f"catalog file with every date moved by {shift.days // 7} weeks.\n"
    )
    return header + _DATE.sub(move, text)


# --- this week, so that the demo has a camp day at the door whatever the date -----------------

WEEK_CAMP_ID = "makers-week"
DEMO_TERM_ID = "demo-term"
TERM_WEEKS_BEFORE = 3  # the demo's Ignite term began this many weeks before this week
TERM_WEEKS_AFTER = 3  # and ends this many weeks after it
_IGNITE_TERMS = re.compile(r"^terms = \[", re.MULTILINE)
_PARTY_FIRST_DATE = re.compile(r"^first_date = .*$", re.MULTILINE)


def camp_week(today: date) -> tuple[date, date]:
    """Monday and Friday of the demo's camp week: this week, or the next one on a weekend
    (when today's events are parties)."""
    monday = today - timedelta(days=today.weekday())
    if today.weekday() >= 5:
        monday += timedelta(weeks=1)
    return monday, monday + timedelta(days=4)


def demo_term(today: date) -> tuple[date, date]:
    """First and last day of the demo's Ignite term: around today, so that every Ignite
    class of this week and the weeks either side runs."""
    monday = today - timedelta(days=today.weekday())
    return (
        monday - timedelta(weeks=TERM_WEEKS_BEFORE),
        monday + timedelta(weeks=TERM_WEEKS_AFTER, days=4),
    )


def this_week_text(today: date) -> str:
    """The catalog entries that put the demo's business in this week: a camp on its weekdays
    (public holidays skipped, as every date range skips them) and an Ignite term around it.
    """
    monday, friday = camp_week(today)
    term_start, term_end = demo_term(today)
    return f"""
# ---------------------------------------------------------------------------------------------
# This week, for the demo only (tinkertank demo-catalog): a camp on this week's weekdays (the
# next week's on a weekend), an Ignite term around today, and parties from today on.
# ---------------------------------------------------------------------------------------------

[[terms]]
id = "{DEMO_TERM_ID}"
name = "This term (demo)"
start = "{term_start.isoformat()}"
end = "{term_end.isoformat()}"

[[camps]]
id = "{WEEK_CAMP_ID}"
name = "Makers Week"
venue = "chatswood"
room = "launch-pad"
date_ranges = [["{monday.isoformat()}", "{friday.isoformat()}"]]
capacity = 20
prices = {{ day = 8900, all_day = 11900 }}
min_age = 5
max_age = 12
description = "A different build every day: circuits, catapults, robots and a rocket launch."
"""


def demo_catalog(text: str, today: date) -> str:
    """What `make run`'s demo sells: the catalog moved to just after today
    (`moved_catalog`), with this week's camp and Ignite term added and parties bookable
    from today, so that today has events at the door whatever the date."""
    moved = moved_catalog(text, today)
    moved = _IGNITE_TERMS.sub(f'terms = ["{DEMO_TERM_ID}", ', moved)
    moved = _PARTY_FIRST_DATE.sub(
        f'first_date = "{today.isoformat()}" # the demo: from today', moved
    )
    return moved + this_week_text(today)
