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
