"""A read the store could not run for want of memory (DuckDB's `OutOfMemoryException`, when
the indexes fill its limit during a burst of webhooks) answers 503 "busy, try again" with
Retry-After, as a store that does not answer does; any other store error is an unexpected
503. Both are answered by the app, not raised to the server (which would drop the client's
connection)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from core import settings
from core.catalog_file import load_catalog
from runtime.store_client import StoreError
from sidecar.app import create_app

REPO = Path(__file__).resolve().parents[2]
TOKEN = "store-errors-admin-token-0123"


class FailingStore:
    """Stands in for the store process's client: every read fails as `error` does."""

    def __init__(self, error: StoreError) -> None:
        self.error = error

    async def aread(self, fn, *args, **kwargs):
        raise self.error


def answer(error: StoreError) -> tuple[int, dict[str, str], dict]:
    """GET /api/orders through the app itself (the ASGI call uvicorn makes): status,
    headers, JSON body. An exception the app does not answer propagates from here."""
    config = settings.load_settings(
        {"STRIPE_WEBHOOK_SECRET": "whsec_store_errors", "ADMIN_TOKEN": TOKEN}
    )
    app = create_app(config, load_catalog(REPO / "data" / "catalog.toml"), FailingStore(error))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/api/orders", "raw_path": b"/api/orders",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000), "headers": [(b"authorization", f"Bearer {TOKEN}".encode())],
    }  # fmt: skip
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, json.loads(body)


def test_a_read_out_of_memory_is_busy_try_again():
    status, headers, body = answer(StoreError("OutOfMemoryException", "could not allocate"))
    assert status == 503
    assert body["error"] == "store_unavailable"
    assert int(headers["retry-after"]) > 0


def test_another_store_error_is_unavailable_without_details():
    status, _, body = answer(StoreError("BinderException", "no such column secret_detail"))
    assert status == 503
    assert body == {"error": "unavailable"}


def test_a_unique_key_refusing_a_second_copy_is_a_conflict_with_nothing_changed():
    """Two staff on two sidecars making the same change at the same moment: the loser's
    write is refused by the unique key, and it is told so (409), not "unavailable"."""
    for error in (
        StoreError("ConstraintException", 'Duplicate key "refund_key: k" violates primary key'),
        StoreError("UniqueViolation", "duplicate key value violates unique constraint"),
    ):
        status, _, body = answer(error)
        assert status == 409
        assert body["error"] == "conflict" and "same moment" in body["message"]
    # Any other constraint is a bug, not a race.
    status, _, body = answer(StoreError("ConstraintException", "CHECK constraint failed"))
    assert status == 503 and body == {"error": "unavailable"}


def test_on_postgresql_the_drivers_unique_violation_is_the_same_conflict():
    """On PostgreSQL the store runs in the web process: psycopg's own exception arrives."""
    import psycopg

    status, _, body = answer(psycopg.errors.UniqueViolation("duplicate key value violates"))
    assert status == 409 and body["error"] == "conflict"
