"""Formatting helpers: money, local times, fill, links to Stripe, calendar entries."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from dashboard import formatting as fmt

SYDNEY = ZoneInfo("Australia/Sydney")


@pytest.mark.parametrize(
    ("cents", "currency", "shown"),
    [
        (8900, "aud", "$89.00"),
        (123456789, "AUD", "$1,234,567.89"),
        (-2500, "aud", "-$25.00"),
        (0, "gbp", "£0.00"),
        (1000, "jpy", "10.00 JPY"),
        (None, "aud", "—"),
    ],
)
def test_money_is_shown_in_dollars_with_the_currency_symbol(cents, currency, shown):
    assert fmt.money(cents, currency) == shown


def test_times_from_the_api_are_shown_in_the_business_time_zone():
    # 22:00 UTC on 3 January is 09:00 on Monday 4 January in Sydney (daylight time, +11).
    assert fmt.local_time("2027-01-03T22:00:00Z", SYDNEY) == "Mon 4 Jan 2027 09:00"
    assert fmt.local_time("2027-01-03T22:00:00", SYDNEY, with_date=False) == "09:00"
    assert fmt.local_time("2027-07-05T23:30:00.123456Z", SYDNEY) == "Tue 6 Jul 2027 09:30"  # +10
    assert fmt.local_time(None, SYDNEY) == ""


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "—"), (0.314, "0.31 s"), (42.4, "42 s"), (250, "4 min 10 s"), (7500, "2 h 5 min")],
)
def test_durations_read_naturally(seconds, shown):
    assert fmt.duration(seconds) == shown


def test_stripe_links_go_to_the_test_or_live_dashboard():
    assert fmt.stripe_event_url("evt_1", livemode=False) == (
        "https://dashboard.stripe.com/test/events/evt_1"
    )
    assert fmt.stripe_event_url("evt_1", livemode=True) == (
        "https://dashboard.stripe.com/events/evt_1"
    )


def test_a_local_day_is_written_the_australian_way_round():
    assert fmt.local_day("2027-01-10T22:00:00Z", SYDNEY) == "Mon 11 Jan 2027"
    assert fmt.local_day(None, SYDNEY) == ""


def _commonmark_unescape(markdown: str) -> str:
    """What CommonMark shows for text made only of characters and backslash escapes."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


@pytest.mark.parametrize(
    "text",
    [
        ":red[REFUND APPROVED]",
        "![](https://tracker.example/pixel.png?who=staff)",
        "**bold** _italic_ `code` ~~gone~~ $x^2$ :material/check: :smile:",
        "# heading\n---\n> quote\n1. list\n| a | b |",
        "<img src=x onerror=alert(1)> &amp; <b>",
        "jane_doe+camp@example.com",
        "C:\\path\\to\\file",
        "",
    ],
)
def test_literal_text_shows_exactly_as_typed_and_escapes_every_markdown_character(text):
    shown = fmt.literal(text)

    assert _commonmark_unescape(shown) == text
    # Every ASCII punctuation character is escaped: none is left for Markdown to read.
    assert not re.search(r"(?<!\\)[!-/:-@\[-`{-~]", re.sub(r"\\.", "", shown))


def test_literal_leaves_plain_words_alone():
    assert fmt.literal("Ada Parent") == "Ada Parent"


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        (
            '=HYPERLINK("https://evil.example","refund")',
            '\'=HYPERLINK("https://evil.example","refund")',
        ),
        ("+61 400 000 000", "'+61 400 000 000"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Ada Parent", "Ada Parent"),
        (-25, -25),  # a number is a number, not a formula
        (None, None),
    ],
)
def test_csv_cells_a_spreadsheet_would_run_get_an_apostrophe(cell, written):
    assert fmt.csv_cell(cell) == written


def test_csv_text_neutralises_cells_and_headings_and_keeps_the_rest():
    frame = pd.DataFrame({"=cmd": ["=1+1", "Ada"], "n": [-3, 4]})

    rows = list(csv.reader(io.StringIO(fmt.csv_text(frame))))

    assert rows == [["'=cmd", "n"], ["'=1+1", "-3"], ["Ada", "4"]]


def test_a_headings_day_is_written_the_australian_way_round():
    assert fmt.long_day("2027-01-05") == "Tuesday 5 January 2027"
    assert fmt.long_day(date(2026, 11, 26)) == "Thursday 26 November 2026"
    assert fmt.long_day(None) == ""
