from __future__ import annotations

import json
from datetime import datetime

import pytest

from core.stripe_events import NotAnEvent, parse_event
from tests.conftest import make_event


def test_an_event_yields_its_inbox_columns_and_keeps_the_raw_payload():
    event = make_event(created=1767225600, livemode=True)
    payload = json.dumps(event, indent=2)

    parsed = parse_event(payload)

    assert parsed.event_id == event["id"]
    assert parsed.type == "checkout.session.completed"
    assert parsed.object_id == event["data"]["object"]["id"]
    assert parsed.livemode is True
    assert parsed.created == datetime(2026, 1, 1, 0, 0)
    assert parsed.payload == payload
    assert parsed.handled


def test_an_unknown_type_is_parsed_but_not_handled():
    assert not parse_event(json.dumps(make_event(type="customer.tax_id.created"))).handled


def test_a_null_api_version_is_accepted_as_in_stripe_fixtures():
    assert parse_event(json.dumps(make_event(api_version=None))).api_version is None


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "not a JSON object"),
        ('{"object": "charge", "id": "ch_1"}', "not a Stripe event"),
        (json.dumps(make_event(id="ch_1")), "'id' must be a string starting with 'evt_'"),
        (json.dumps(make_event(type="")), "'type' must be a non-empty string"),
        (json.dumps(make_event(created="yesterday")), "'created' must be a Unix timestamp"),
        (json.dumps(make_event(created=True)), "'created' must be a Unix timestamp"),
        (json.dumps(make_event(created=10**15)), "'created' is out of range"),
        (json.dumps(make_event(data={"object": None})), "'data.object' must be an object"),
        (json.dumps(make_event(livemode="no")), "'livemode' must be true or false"),
        (json.dumps(make_event(api_version=7)), "'api_version' must be a string or null"),
    ],
)
def test_a_body_that_is_not_an_event_is_refused_with_the_reason(payload: str, message: str):
    with pytest.raises(NotAnEvent, match=message):
        parse_event(payload)
