"""The sender's text messages, in process, against the local fake of Twilio's API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from core.catalog_file import load_catalog
from core.clock import utcnow
from core.settings import DatabaseLocation, Settings
from senders.sender import Sender
from store import outbox
from store.database import Database
from tests.conftest import REPO
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SMS_FROM, FakeTwilio


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


def _sender(database: Database, database_path, twilio: FakeTwilio | None) -> Sender:
    settings = Settings(
        ("whsec_x",), "x" * 16, database=DatabaseLocation("duckdb", str(database_path))
    )
    if twilio is not None:
        settings = replace(settings, sms_provider_url=twilio.url, twilio_account_sid=ACCOUNT_SID,
                           twilio_auth_token=AUTH_TOKEN, sms_from=SMS_FROM)  # fmt: skip
    return Sender(database, settings, load_catalog(REPO / "data" / "catalog.toml"))


def _queue(database: Database, key: str, to: str) -> None:
    database.write(
        lambda conn: outbox.enqueue(conn, dedupe_key=key, channel="sms", recipient=to,
                                    payload={"text": "Hello from TinkerTank"}, now=utcnow())
    )  # fmt: skip


def _row(database: Database, key: str) -> tuple:
    return database.read(
        lambda conn: conn.execute(
            "SELECT status, attempts, last_error FROM outbox WHERE dedupe_key = ?", [key]
        ).fetchone()
    )


def test_a_number_twilio_refuses_fails_at_once_on_the_error_log(database, database_path, twilio):
    _queue(database, "sms-test:bad", "+999")  # Twilio: 21211, not a valid phone number
    _queue(database, "sms-test:good", "+61412345678")
    sender = _sender(database, database_path, twilio)

    sender.run_once(utcnow())

    status, attempts, error = _row(database, "sms-test:bad")
    assert (status, attempts) == ("failed", 1) and "21211" in error
    assert _row(database, "sms-test:good")[:2] == ("sent", 1)
    assert twilio.to("+61412345678") == ["Hello from TinkerTank"]
    logged = database.read(
        lambda conn: conn.execute("SELECT severity, message FROM error_log").fetchall()
    )
    assert [severity for severity, message in logged if "sms-test:bad" in message] == ["high"]


def test_without_twilio_a_queued_text_is_skipped_and_says_why(database, database_path):
    _queue(database, "sms-test:off", "+61412345678")

    _sender(database, database_path, None).run_once(utcnow())

    status, _, reason = _row(database, "sms-test:off")
    assert status == "skipped" and "not configured" in reason


def test_a_number_unsubscribed_at_twilio_is_skipped_and_kept_as_opted_out(
    database, database_path, twilio
):
    twilio.unsubscribed.add("+61412345678")
    _queue(database, "sms-test:first", "+61412345678")
    sender = _sender(database, database_path, twilio)
    sender.run_once(utcnow())
    status, _, reason = _row(database, "sms-test:first")
    assert status == "skipped" and "21610" in reason

    twilio.unsubscribed.clear()  # were Twilio to forget, our own record still holds
    _queue(database, "sms-test:second", "+61412345678")
    sender.run_once(utcnow())
    assert _row(database, "sms-test:second")[0] == "skipped"
    assert twilio.messages == []
    logged = database.read(lambda conn: conn.execute("SELECT count(*) FROM error_log").fetchone())
    assert logged == (0,)  # an opt-out is no error
