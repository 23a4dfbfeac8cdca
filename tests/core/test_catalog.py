"""Tests for core.catalog: the shipped 2027 catalog, and one family of tests per validation rule.

Invalid catalogs are built by `make_catalog_text`, which starts from a small valid catalog and
applies overrides, so each test shows only the field it breaks.
"""

import copy
import dataclasses
import json
import pickle
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from core.catalog import (
    Camp,
    Catalog,
    CatalogError,
    Ignite,
    Party,
)
from core.catalog_file import load_catalog, parse_catalog

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CATALOG = REPO_ROOT / "data" / "catalog.toml"

SATURDAY, SUNDAY = 5, 6
NSW_2027_PUBLIC_HOLIDAYS = {
    date(2027, 1, 1),
    date(2027, 1, 26),
    date(2027, 3, 26),
    date(2027, 3, 27),
    date(2027, 3, 28),
    date(2027, 3, 29),
    date(2027, 4, 25),
    date(2027, 6, 14),
    date(2027, 10, 4),
    date(2027, 12, 25),
    date(2027, 12, 26),
    date(2027, 12, 27),
    date(2027, 12, 28),
}

REMOVE = object()  # override value meaning "delete this key"


def base_catalog() -> dict[str, Any]:
    """The smallest catalog with one of everything; valid as it stands."""
    return {
        "timezone": "Australia/Sydney",
        "currency": "aud",
        "public_holidays": ["2027-01-26"],
        "camp_sessions": {
            "day": {"start": "09:00", "end": "15:00"},
            "all_day": {"start": "09:00", "end": "17:00"},
        },
        "venues": [
            {
                "id": "marrickville",
                "name": "TinkerTank Marrickville",
                "address": "1 Test Street, Marrickville NSW 2204",
                "rooms": [
                    {"id": "workshop", "name": "The Workshop"},
                    {"id": "party-room", "name": "Party Room"},
                ],
            },
            {
                "id": "chatswood",
                "name": "TinkerTank Chatswood",
                "address": "2 Test Street, Chatswood NSW 2067",
                "rooms": [{"id": "lab", "name": "Maker Lab"}],
            },
        ],
        "terms": [{"id": "2027-t1", "name": "Term 1", "start": "2027-02-02", "end": "2027-04-09"}],
        "camps": [
            {
                "id": "summer-robotics",
                "name": "Robotics Bootcamp",
                "venue": "marrickville",
                "room": "workshop",
                "dates": ["2027-01-11", "2027-01-12"],
                "capacity": 24,
                "prices": {"day": 8900, "all_day": 11900},
                "min_age": 7,
                "max_age": 12,
                "description": "Build a robot.",
            }
        ],
        "parties": [
            {
                "id": "party-robots",
                "name": "Robot Rampage Party",
                "venue": "marrickville",
                "rooms": ["party-room", "workshop"],
                "weekdays": ["saturday", "sunday"],
                "slots": ["10:00", "13:00"],
                "price": 49500,
                "max_guests": 16,
                "first_date": "2027-01-02",
                "last_date": "2027-12-18",
                "description": "Battle robots.",
            }
        ],
        "ignite": [
            {
                "id": "ignite-coding",
                "name": "Ignite Coding",
                "venue": "chatswood",
                "room": "lab",
                "weekday": "monday",
                "start": "15:45",
                "duration_minutes": 75,
                "capacity": 12,
                "terms": ["2027-t1"],
                "excluded_dates": ["2027-03-01"],
                "stripe_price_id": "price_ignite_coding",
                "price": 14900,
                "billing_interval": "month",
                "min_age": 7,
                "max_age": 12,
                "description": "Weekly coding.",
            }
        ],
    }


def make_catalog_text(
    *,
    camp: dict[str, Any] | None = None,
    party: dict[str, Any] | None = None,
    ignite: dict[str, Any] | None = None,
    venue: dict[str, Any] | None = None,
    term: dict[str, Any] | None = None,
    **top_level: Any,
) -> str:
    """TOML for the base catalog, with overrides applied to the first entry of each kind."""
    data = base_catalog()
    for section, overrides in [
        ("camps", camp),
        ("parties", party),
        ("ignite", ignite),
        ("venues", venue),
        ("terms", term),
    ]:
        _apply(data[section][0], overrides or {})
    _apply(data, top_level)
    return to_toml(data)


def _apply(target: dict[str, Any], overrides: dict[str, Any]) -> None:
    for key, value in overrides.items():
        if value is REMOVE:
            target.pop(key, None)
        else:
            target[key] = copy.deepcopy(value)


def to_toml(data: dict[str, Any]) -> str:
    """Just enough of a TOML writer for these tests (stdlib tomllib only reads)."""
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict) and not _is_tables(v)}
    lines = [f"{key} = {_toml_value(value)}" for key, value in scalars.items()]
    for key, value in data.items():
        if isinstance(value, dict):
            lines += ["", f"[{key}]", *(f"{k} = {_toml_value(v)}" for k, v in value.items())]
        elif _is_tables(value):
            for table in value:
                lines += ["", f"[[{key}]]", *(f"{k} = {_toml_value(v)}" for k, v in table.items())]
    return "\n".join(lines) + "\n"


def _is_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date | time):
        return value.isoformat()  # bare TOML date / local time / local date-time
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return str(value)


def expected_as_id(value: Any) -> str | None:
    """Parametrize ids: the expected message fragment says what each case checks."""
    return value if isinstance(value, str) else None


def problems_for(text: str) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(text)
    return caught.value.problems


def assert_single_problem_containing(text: str, expected: str) -> None:
    problems = problems_for(text)
    assert len(problems) == 1, problems
    assert problems[0].startswith("catalog.toml: ")
    assert expected in problems[0]


# --- The shipped catalog ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return load_catalog(SHIPPED_CATALOG)


def test_shipped_catalog_uses_sydney_time_and_australian_dollars(shipped):
    assert shipped.timezone == "Australia/Sydney"
    assert shipped.tz.key == "Australia/Sydney"
    assert shipped.currency == "aud"


def test_shipped_catalog_lists_the_nsw_2027_public_holidays(shipped):
    assert set(shipped.public_holidays) == NSW_2027_PUBLIC_HOLIDAYS
    assert date(2027, 8, 2) not in shipped.public_holidays  # Bank Holiday is not general


def test_shipped_catalog_has_two_venues_with_rooms_and_all_four_2027_terms(shipped):
    assert len(shipped.venues) == 2
    assert all(2 <= len(venue.rooms) <= 3 for venue in shipped.venues)
    assert [(t.id, t.start, t.end) for t in shipped.terms] == [
        ("2027-t1", date(2027, 2, 2), date(2027, 4, 9)),
        ("2027-t2", date(2027, 4, 27), date(2027, 7, 2)),
        ("2027-t3", date(2027, 7, 20), date(2027, 9, 24)),
        ("2027-t4", date(2027, 10, 12), date(2027, 12, 17)),
    ]


def test_shipped_camps_run_on_weekdays_in_the_january_and_april_2027_holidays(shipped):
    all_dates = {day for camp in shipped.camps for day in camp.dates}

    assert {day.month for day in all_dates} == {1, 4}
    assert all(day.year == 2027 and day.weekday() < 5 for day in all_dates)
    assert all(date(2027, 1, 4) <= d <= date(2027, 1, 29) for d in all_dates if d.month == 1)
    assert all(date(2027, 4, 12) <= d <= date(2027, 4, 23) for d in all_dates if d.month == 4)
    assert all(16 <= camp.capacity <= 24 for camp in shipped.camps)


def test_shipped_camps_never_fall_on_australia_day_or_any_public_holiday(shipped):
    all_dates = {day for camp in shipped.camps for day in camp.dates}

    assert date(2027, 1, 26) not in all_dates
    assert not all_dates & NSW_2027_PUBLIC_HOLIDAYS


def test_shipped_catalog_has_two_party_packages_on_saturdays_and_sundays(shipped):
    assert len(shipped.parties) == 2
    for party in shipped.parties:
        assert party.weekdays == (SATURDAY, SUNDAY)
        assert party.duration_minutes == 120
        assert 1 <= len(party.rooms) <= 2


def test_shipped_catalog_has_three_ignite_programs_on_different_weekdays_every_term(shipped):
    assert len(shipped.ignite) == 3
    assert len({program.weekday for program in shipped.ignite}) == 3
    for program in shipped.ignite:
        assert program.terms == ("2027-t1", "2027-t2", "2027-t3", "2027-t4")
        assert program.billing_interval == "month"
        assert program.stripe_price_id.startswith("price_ignite_")
        assert 10 <= program.capacity <= 14


def test_every_shipped_product_has_a_description(shipped):
    assert all(product.description.strip() for product in shipped.products.values())


# --- Parsing a valid catalog -----------------------------------------------------------------


def test_minimal_catalog_parses_into_frozen_dataclasses():
    catalog = parse_catalog(make_catalog_text())

    camp = catalog.product("summer-robotics")
    assert isinstance(camp, Camp)
    assert camp.kind == "camp"
    assert camp.dates == (date(2027, 1, 11), date(2027, 1, 12))
    assert dict(camp.prices) == {"day": 8900, "all_day": 11900}
    with pytest.raises(dataclasses.FrozenInstanceError):
        camp.capacity = 30  # type: ignore[misc]
    with pytest.raises(TypeError):
        camp.prices["day"] = 1  # type: ignore[index]


def test_party_weekdays_are_numbers_from_monday_and_duration_defaults_to_120_minutes():
    party = parse_catalog(make_catalog_text()).product("party-robots")

    assert isinstance(party, Party)
    assert party.kind == "party"
    assert party.weekdays == (SATURDAY, SUNDAY)
    assert party.slots == (time(10, 0), time(13, 0))
    assert party.duration_minutes == 120


def test_ignite_program_is_parsed_with_its_terms_and_billing():
    program = parse_catalog(make_catalog_text()).product("ignite-coding")

    assert isinstance(program, Ignite)
    assert program.kind == "ignite"
    assert (program.weekday, program.start, program.duration_minutes) == (0, time(15, 45), 75)
    assert program.terms == ("2027-t1",)
    assert program.excluded_dates == (date(2027, 3, 1),)
    assert (program.price, program.billing_interval) == (14900, "month")


def test_catalog_looks_up_venues_terms_and_products_by_id():
    catalog = parse_catalog(make_catalog_text())

    assert catalog.venue("chatswood").rooms[0].id == "lab"
    assert catalog.term("2027-t1").end == date(2027, 4, 9)
    assert set(catalog.products) == {"summer-robotics", "party-robots", "ignite-coding"}
    assert catalog.camp_sessions["all_day"].end == time(17, 0)


@pytest.mark.parametrize("lookup", ["product", "venue", "term"])
def test_looking_up_an_unknown_id_raises_key_error(lookup):
    catalog = parse_catalog(make_catalog_text())

    with pytest.raises(KeyError, match="nope"):
        getattr(catalog, lookup)("nope")


def test_timezone_and_currency_default_to_sydney_and_aud():
    catalog = parse_catalog(make_catalog_text(timezone=REMOVE, currency=REMOVE))

    assert (catalog.timezone, catalog.currency) == ("Australia/Sydney", "aud")


def test_native_toml_dates_and_times_are_accepted_as_well_as_strings():
    text = make_catalog_text(
        camp={"dates": [date(2027, 1, 11)]},
        party={"slots": [time(10, 0)], "first_date": date(2027, 1, 2)},
        public_holidays=[date(2027, 1, 26)],
    )

    catalog = parse_catalog(text)

    assert catalog.product("summer-robotics").dates == (date(2027, 1, 11),)
    assert catalog.product("party-robots").slots == (time(10, 0),)
    assert catalog.public_holidays == (date(2027, 1, 26),)


def test_date_ranges_expand_to_weekdays_skipping_weekends_and_public_holidays():
    text = make_catalog_text(camp={"dates": REMOVE, "date_ranges": [["2027-01-22", "2027-01-29"]]})

    camp = parse_catalog(text).product("summer-robotics")

    # Fri 22, then Mon 25 and Wed 27 to Fri 29: the weekend and Australia Day are skipped.
    assert camp.dates == tuple(date(2027, 1, day) for day in (22, 25, 27, 28, 29))


def test_dates_and_date_ranges_combine_into_one_sorted_list():
    text = make_catalog_text(
        camp={"dates": ["2027-04-19"], "date_ranges": [["2027-01-14", "2027-01-15"]]}
    )

    camp = parse_catalog(text).product("summer-robotics")

    assert camp.dates == (date(2027, 1, 14), date(2027, 1, 15), date(2027, 4, 19))


def test_load_catalog_reads_a_file_and_names_it_in_problems(tmp_path):
    path = tmp_path / "catalog.toml"
    path.write_text(make_catalog_text(camp={"capacity": 0}), encoding="utf-8")

    with pytest.raises(CatalogError) as caught:
        load_catalog(path)

    assert caught.value.problems == [
        f"{path}: camps[summer-robotics].capacity: must be greater than zero, got 0"
    ]


# --- Errors: whole-file ----------------------------------------------------------------------


def test_missing_catalog_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere.toml"

    with pytest.raises(CatalogError) as caught:
        load_catalog(path)

    assert str(path) in str(caught.value)
    assert "cannot read catalog" in str(caught.value)


def test_toml_syntax_error_names_the_file_and_line():
    text = make_catalog_text() + "\n[[camps]]\nid = \n"
    broken_line = text.count("\n")  # the last line, "id = "

    problems = problems_for(text)

    assert len(problems) == 1
    assert problems[0].startswith("catalog.toml: not valid TOML:")
    assert f"line {broken_line}" in problems[0]


def test_several_problems_are_all_reported_at_once():
    text = make_catalog_text(
        camp={"capacity": "24", "venue": "nowhere"},
        party={"weekdays": ["saturdy"]},
        ignite={"billing_interval": "fortnight"},
        currency="AUD",
    )

    with pytest.raises(CatalogError) as caught:
        parse_catalog(text)

    assert len(caught.value.problems) == 5
    message = str(caught.value)
    assert message.startswith("catalog has 5 problems:")
    for fragment in [
        "currency:",
        "camps[summer-robotics].capacity:",
        "camps[summer-robotics].venue:",
        "parties[party-robots].weekdays[0]:",
        "ignite[ignite-coding].billing_interval:",
    ]:
        assert fragment in message


def test_catalog_error_is_a_value_error_that_survives_pickling():
    with pytest.raises(CatalogError) as caught:
        parse_catalog(make_catalog_text(currency="AUD", timezone="Mars/Olympus"))

    restored = pickle.loads(pickle.dumps(caught.value))

    assert isinstance(restored, ValueError)
    assert restored.problems == caught.value.problems
    assert str(restored) == str(caught.value)


def test_camp_with_unknown_venue_names_the_entry_and_field():
    problems = problems_for(make_catalog_text(camp={"venue": "nowhere"}))

    assert problems == [
        "catalog.toml: camps[summer-robotics].venue: "
        "unknown venue 'nowhere' (known: marrickville, chatswood)"
    ]


def test_party_with_unknown_venue_names_the_entry_and_field():
    problems = problems_for(make_catalog_text(party={"venue": "nowhere"}))

    assert problems == [
        "catalog.toml: parties[party-robots].venue: "
        "unknown venue 'nowhere' (known: marrickville, chatswood)"
    ]


def test_impossible_camp_date_names_the_entry_field_and_index():
    text = make_catalog_text(camp={"dates": ["2027-01-11", "2027-01-12", "2027-02-30"]})

    assert problems_for(text) == [
        "catalog.toml: camps[summer-robotics].dates[2]: '2027-02-30' is not a date (YYYY-MM-DD)"
    ]


# --- Errors: one family per rule -------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({"colour": "blue"}, "catalog.toml: colour: unknown key", id="top-level-key"),
        pytest.param(
            {"camp": {"capactiy": 24, "capacity": REMOVE}},
            "camps[summer-robotics].capactiy: unknown key; did you mean 'capacity'?",
            id="typo-in-camp",
        ),
        pytest.param(
            {"camp": {"prices": {"day": 8900, "all_day": 11900, "half_day": 5000}}},
            "camps[summer-robotics].prices.half_day: unknown key",
            id="extra-camp-price",
        ),
        pytest.param(
            {"venue": {"rooms": [{"id": "workshop", "name": "W", "size": 3}]}},
            "venues[marrickville].rooms[workshop].size: unknown key",
            id="key-in-room",
        ),
        pytest.param(
            {"camp_sessions": {"day": {"start": "09:00", "end": "15:00", "finsh": "x"}}},
            "camp_sessions.day.finsh: unknown key",
            id="key-in-camp-session",
        ),
    ],
)
def test_unknown_keys_are_reported_by_name(overrides, expected):
    problems = problems_for(make_catalog_text(**overrides))

    assert any(expected in problem for problem in problems), problems


def test_misspelt_key_is_reported_alongside_the_missing_field_it_was_meant_to_be():
    problems = problems_for(make_catalog_text(camp={"capactiy": 24, "capacity": REMOVE}))

    assert problems == [
        "catalog.toml: camps[summer-robotics].capacity: missing (required)",
        "catalog.toml: camps[summer-robotics].capactiy: unknown key; did you mean 'capacity'?",
    ]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"camp": {"capacity": REMOVE}}, "camps[summer-robotics].capacity: missing"),
        ({"camp": {"description": REMOVE}}, "camps[summer-robotics].description: missing"),
        ({"camp": {"prices": {"day": 8900}}}, "camps[summer-robotics].prices.all_day: missing"),
        ({"party": {"slots": REMOVE}}, "parties[party-robots].slots: missing"),
        ({"ignite": {"stripe_price_id": REMOVE}}, "ignite[ignite-coding].stripe_price_id: missing"),
        ({"venue": {"address": REMOVE}}, "venues[marrickville].address: missing"),
        ({"term": {"end": REMOVE}}, "terms[2027-t1].end: missing"),
        ({"camp": {"id": REMOVE}}, "camps[0].id: missing"),
        ({"public_holidays": REMOVE}, "catalog.toml: public_holidays: missing"),
        ({"venues": REMOVE}, "catalog.toml: venues: missing"),
        ({"camp_sessions": {"day": {"start": "09:00", "end": "15:00"}}}, "camp_sessions.all_day"),
    ],
    ids=expected_as_id,
)
def test_missing_required_fields_name_the_entry_and_field(overrides, expected):
    problems = problems_for(make_catalog_text(**overrides))

    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param(
            {"camp": {"capacity": "24"}},
            "camps[summer-robotics].capacity: expected a whole number, got text '24'",
            id="number-as-text",
        ),
        pytest.param(
            {"camp": {"capacity": True}},
            "camps[summer-robotics].capacity: expected a whole number, got boolean true",
            id="boolean-is-not-a-number",
        ),
        pytest.param(
            {"party": {"price": 495.0}},
            "parties[party-robots].price: expected a whole number, got number 495.0",
            id="price-with-decimals",
        ),
        pytest.param(
            {"ignite": {"name": 42}},
            "ignite[ignite-coding].name: expected text, got number 42",
            id="name-as-number",
        ),
        pytest.param(
            {"party": {"rooms": "party-room"}},
            "parties[party-robots].rooms: expected a list, got text 'party-room'",
            id="single-room-not-in-list",
        ),
        pytest.param(
            {"camp": {"prices": 8900}},
            "camps[summer-robotics].prices: expected a table, got number 8900",
            id="prices-not-a-table",
        ),
        pytest.param(
            {"camp": {"description": "  "}},
            "camps[summer-robotics].description: must not be empty",
            id="blank-description",
        ),
    ],
)
def test_wrong_types_name_the_entry_and_field(overrides, expected):
    assert_single_problem_containing(make_catalog_text(**overrides), expected)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"camp": {"capacity": 0}}, "camps[summer-robotics].capacity: must be greater than zero"),
        (
            {"camp": {"prices": {"day": -1, "all_day": 11900}}},
            "camps[summer-robotics].prices.day: must be greater than zero, got -1",
        ),
        ({"party": {"price": 0}}, "parties[party-robots].price: must be greater than zero"),
        ({"party": {"max_guests": 0}}, "parties[party-robots].max_guests: must be greater"),
        ({"party": {"duration_minutes": 0}}, "parties[party-robots].duration_minutes: must be"),
        ({"ignite": {"capacity": -3}}, "ignite[ignite-coding].capacity: must be greater"),
        ({"ignite": {"duration_minutes": 0}}, "ignite[ignite-coding].duration_minutes: must be"),
        ({"ignite": {"min_age": -1}}, "ignite[ignite-coding].min_age: must not be negative"),
    ],
    ids=expected_as_id,
)
def test_amounts_must_be_positive_whole_numbers(overrides, expected):
    assert_single_problem_containing(make_catalog_text(**overrides), expected)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param(
            {"camp": {"id": "Summer Robotics"}},
            "camps[0].id: 'Summer Robotics' is not a valid id",
            id="spaces-and-capitals",
        ),
        pytest.param(
            {"party": {"id": "-party"}},
            "parties[0].id: '-party' is not a valid id",
            id="leading-dash",
        ),
        pytest.param(
            {"party": {"id": "summer-robotics"}},
            "parties[0].id: product id 'summer-robotics' is already used by camps[0]",
            id="same-id-as-a-camp",
        ),
        pytest.param(
            {"ignite": {"id": "party-robots"}},
            "ignite[0].id: product id 'party-robots' is already used by parties[0]",
            id="same-id-as-a-party",
        ),
        pytest.param(
            {"venue": {"id": "chatswood"}},
            "venues[1].id: venue id 'chatswood' is already used by venues[0]",
            id="duplicate-venue",
        ),
        pytest.param(
            {"venue": {"rooms": [{"id": "lab", "name": "A"}, {"id": "lab", "name": "B"}]}},
            "venues[marrickville].rooms[1].id: room id 'lab' is already used by "
            "venues[marrickville].rooms[0]",
            id="duplicate-room-in-venue",
        ),
    ],
)
def test_ids_must_be_well_formed_and_unique(overrides, expected):
    problems = problems_for(make_catalog_text(**overrides))

    assert any(expected in problem for problem in problems), problems


def test_the_same_room_id_may_be_used_at_two_venues():
    text = make_catalog_text(venue={"rooms": [{"id": "lab", "name": "Marrickville Lab"}]})
    text = text.replace('room = "workshop"', 'room = "lab"').replace(
        'rooms = ["party-room", "workshop"]', 'rooms = ["lab"]'
    )

    catalog = parse_catalog(text)

    assert catalog.venue("marrickville").rooms[0].id == catalog.venue("chatswood").rooms[0].id


def test_two_ignite_programs_cannot_share_a_stripe_price():
    data = base_catalog()
    data["ignite"].append({**data["ignite"][0], "id": "ignite-coding-2", "weekday": "tuesday"})

    problems = problems_for(to_toml(data))

    assert problems == [
        "catalog.toml: ignite[1].stripe_price_id: Stripe price 'price_ignite_coding' "
        "is already used by ignite[0]"
    ]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param(
            {"camp": {"room": "attic"}},
            "camps[summer-robotics].room: unknown room 'attic' at venue 'marrickville' "
            "(known: workshop, party-room)",
            id="camp-room",
        ),
        pytest.param(
            {"camp": {"room": "lab"}},
            "camps[summer-robotics].room: unknown room 'lab' at venue 'marrickville'",
            id="camp-room-from-another-venue",
        ),
        pytest.param(
            {"party": {"rooms": ["party-room", "attic"]}},
            "parties[party-robots].rooms[1]: unknown room 'attic'",
            id="party-room",
        ),
        pytest.param(
            {"ignite": {"venue": "bondi"}},
            "ignite[ignite-coding].venue: unknown venue 'bondi'",
            id="ignite-venue",
        ),
        pytest.param(
            {"ignite": {"room": "workshop"}},
            "ignite[ignite-coding].room: unknown room 'workshop' at venue 'chatswood'",
            id="ignite-room",
        ),
        pytest.param(
            {"ignite": {"terms": ["2027-t1", "2027-t9"]}},
            "ignite[ignite-coding].terms[1]: unknown term '2027-t9' (known: 2027-t1)",
            id="ignite-term",
        ),
    ],
)
def test_references_to_unknown_venues_rooms_and_terms_are_rejected(overrides, expected):
    assert_single_problem_containing(make_catalog_text(**overrides), expected)


def test_room_of_an_unknown_venue_is_not_reported_twice():
    problems = problems_for(make_catalog_text(camp={"venue": "nowhere", "room": "attic"}))

    assert len(problems) == 1
    assert "camps[summer-robotics].venue: unknown venue 'nowhere'" in problems[0]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone: 'Mars/Olympus' is not an IANA time zone"),
        ({"timezone": "Australia"}, "timezone: 'Australia' is not an IANA time zone"),
        ({"timezone": "sydney"}, "timezone: 'sydney' is not an IANA time zone"),
        ({"currency": "AUD"}, "currency: 'AUD' is not a currency code"),
        ({"currency": "dollars"}, "currency: 'dollars' is not a currency code"),
    ],
    ids=expected_as_id,
)
def test_timezone_and_currency_must_be_valid(overrides, expected):
    assert_single_problem_containing(make_catalog_text(**overrides), expected)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"camp": {"dates": ["11/01/2027"]}}, "dates[0]: '11/01/2027' is not a date"),
        ({"camp": {"dates": ["20270111"]}}, "dates[0]: '20270111' is not a date"),
        ({"camp": {"dates": [datetime(2027, 1, 11, 9)]}}, "dates[0]: 2027-01-11T09:00:00 has a"),
        ({"public_holidays": ["2027-13-01"]}, "public_holidays[0]: '2027-13-01' is not a date"),
        ({"party": {"first_date": "soon"}}, "parties[party-robots].first_date: 'soon' is not"),
        ({"term": {"start": 20270202}}, "terms[2027-t1].start: number 20270202 is not a date"),
        (
            {"ignite": {"excluded_dates": ["2027-02-29"]}},
            "ignite[ignite-coding].excluded_dates[0]: '2027-02-29' is not a date",
        ),
        ({"party": {"slots": ["10am"]}}, "parties[party-robots].slots[0]: '10am' is not a time"),
        ({"ignite": {"start": "25:00"}}, "ignite[ignite-coding].start: '25:00' is not a time"),
        ({"ignite": {"start": "9:30"}}, "ignite[ignite-coding].start: '9:30' is not a time"),
    ],
    ids=expected_as_id,
)
def test_bad_dates_and_times_name_the_entry_and_field(overrides, expected):
    assert_single_problem_containing(make_catalog_text(**overrides), expected)


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (["2027-01-09"], "dates[0]: 2027-01-09 is a Saturday; camps run on weekdays"),
        (["2027-01-11", "2027-01-17"], "dates[1]: 2027-01-17 is a Sunday"),
        (["2027-01-26"], "dates[0]: 2027-01-26 is a public holiday"),
        (["2027-01-11", "2027-01-11"], "dates[1]: 2027-01-11 is listed twice"),
        ([], "dates: a camp needs at least one date (give dates or date_ranges)"),
    ],
    ids=["saturday", "sunday", "public-holiday", "duplicate", "no-dates"],
)
def test_explicit_camp_dates_must_be_unique_weekdays_that_are_not_holidays(dates, expected):
    text = make_catalog_text(camp={"dates": dates})

    assert_single_problem_containing(text, f"camps[summer-robotics].{expected}")


@pytest.mark.parametrize(
    ("date_ranges", "expected"),
    [
        ([["2027-01-15", "2027-01-11"]], "[0]: ends on 2027-01-11, before it starts on 2027-01-15"),
        ([["2027-01-11"]], "[0]: expected [first, last] dates"),
        ([["2027-01-11", "2027-01-32"]], "[0]: '2027-01-32' is not a date"),
        ([["2027-01-16", "2027-01-17"]], "[0]: 2027-01-16 to 2027-01-17 has no weekdays"),
        (
            [["2027-01-11", "2027-01-13"], ["2027-01-13", "2027-01-15"]],
            "[1]: 2027-01-13 is already covered by the range 2027-01-11 to 2027-01-13",
        ),
    ],
    ids=["reversed", "one-date", "bad-date", "weekend-only", "overlapping"],
)
def test_bad_camp_date_ranges_name_the_range(date_ranges, expected):
    text = make_catalog_text(camp={"dates": REMOVE, "date_ranges": date_ranges})

    assert_single_problem_containing(text, f"camps[summer-robotics].date_ranges{expected}")


def test_camp_date_listed_and_also_inside_a_range_is_reported():
    text = make_catalog_text(
        camp={"dates": ["2027-01-12"], "date_ranges": [["2027-01-11", "2027-01-15"]]}
    )

    assert_single_problem_containing(
        text, "camps[summer-robotics].date_ranges[0]: 2027-01-12 is already covered by dates"
    )


@pytest.mark.parametrize(
    ("session", "expected"),
    [
        ({"start": "09:00", "end": "08:00"}, "camp_sessions.day.end: 08:00 is not after start"),
        ({"start": "09:00", "end": "09:00"}, "camp_sessions.day.end: 09:00 is not after start"),
    ],
    ids=["ends-before-start", "ends-at-start"],
)
def test_camp_sessions_must_end_after_they_start(session, expected):
    sessions = {"day": session, "all_day": {"start": "09:00", "end": "17:00"}}

    assert_single_problem_containing(make_catalog_text(camp_sessions=sessions), expected)


@pytest.mark.parametrize("weekday", ["saturdy", "Saturday", "sat", 5])
def test_party_weekdays_must_be_lowercase_english_names(weekday):
    text = make_catalog_text(party={"weekdays": ["sunday", weekday]})

    assert_single_problem_containing(
        text, f"parties[party-robots].weekdays[1]: {weekday!r} is not a weekday"
    )


def test_party_slot_that_would_run_past_midnight_is_rejected():
    text = make_catalog_text(party={"slots": ["10:00", "22:30"]})

    assert_single_problem_containing(
        text, "parties[party-robots].slots[1]: 22:30 plus 120 minutes runs past midnight"
    )


def test_party_first_date_must_not_be_after_last_date():
    text = make_catalog_text(party={"first_date": "2027-12-18", "last_date": "2027-01-02"})

    assert_single_problem_containing(
        text, "parties[party-robots].last_date: 2027-01-02 is before first_date 2027-12-18"
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"weekday": "funday"}, "weekday: 'funday' is not a weekday"),
        ({"weekday": 0}, "weekday: 0 is not a weekday"),
        ({"terms": []}, "terms: must not be empty"),
        ({"stripe_price_id": "prod_123"}, "stripe_price_id: 'prod_123' must start with 'price_'"),
        ({"billing_interval": "fortnight"}, "billing_interval: 'fortnight' is not a billing"),
        ({"start": "23:30"}, "start: 23:30 plus 75 minutes runs past midnight"),
    ],
    ids=expected_as_id,
)
def test_ignite_program_fields_are_checked(overrides, expected):
    text = make_catalog_text(ignite=overrides)

    assert_single_problem_containing(text, f"ignite[ignite-coding].{expected}")


@pytest.mark.parametrize("interval", ["week", "month"])
def test_ignite_can_bill_weekly_or_monthly(interval):
    catalog = parse_catalog(make_catalog_text(ignite={"billing_interval": interval}))

    assert catalog.product("ignite-coding").billing_interval == interval


@pytest.mark.parametrize(
    ("kind", "path"),
    [("camp", "camps[summer-robotics]"), ("ignite", "ignite[ignite-coding]")],
)
def test_min_age_must_not_be_above_max_age(kind, path):
    text = make_catalog_text(**{kind: {"min_age": 9, "max_age": 6}})

    assert_single_problem_containing(text, f"{path}.min_age: 9 is above max_age 6")


def test_term_must_not_end_before_it_starts():
    text = make_catalog_text(term={"start": "2027-02-02", "end": "2027-02-01"})

    assert_single_problem_containing(
        text, "terms[2027-t1].end: 2027-02-01 is before start 2027-02-02"
    )


# --- Party rooms -----------------------------------------------------------------------------


def _with_second_party(**overrides: Any) -> str:
    data = base_catalog()
    second = {**copy.deepcopy(data["parties"][0]), "id": "party-slime", "name": "Slime Lab"}
    second.update(overrides)
    data["parties"].append(second)
    return to_toml(data)


def test_party_slots_that_overlap_in_one_room_are_rejected():
    text = make_catalog_text(party={"slots": ["10:00", "11:00"]})

    assert_single_problem_containing(
        text,
        "parties[party-robots].slots: 11:00 (120 min) overlaps its 10:00 (120 min)"
        " in party-room, workshop",
    )


def test_two_party_packages_whose_slots_overlap_in_a_shared_room_are_rejected():
    text = _with_second_party(rooms=["workshop"], slots=["11:30"], duration_minutes=90)

    assert_single_problem_containing(
        text,
        "parties[party-slime].slots: 11:30 (90 min) overlaps party-robots's 10:00 (120 min)"
        " in workshop",
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"slots": ["10:00", "13:00"]},  # the same starts: one slot key, so one booking
        {"slots": ["15:00"]},  # starts as the 13:00 party ends
        {"weekdays": ["friday"], "slots": ["11:00"]},
        {"first_date": "2027-12-19", "last_date": "2027-12-31", "slots": ["11:00"]},
        {"rooms": ["lab"], "venue": "chatswood", "slots": ["11:00"]},
    ],
    ids=["same-starts", "back-to-back", "other-weekday", "other-dates", "other-venue"],
)
def test_party_slots_that_cannot_clash_are_accepted(overrides):
    assert len(parse_catalog(_with_second_party(**overrides)).parties) == 2
