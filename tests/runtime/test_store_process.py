"""The store process and its client: the webhooks of one event-loop iteration cross to the
store process as one frame, and each still gets its own answer."""

from __future__ import annotations

import asyncio
import json

import pytest

from core.clock import utcnow
from core.stripe_events import parse_event
from runtime.store_client import StoreClient
from store import inbox
from tests.conftest import make_event, sidecar_env


@pytest.fixture
def store_env(tmp_path, monkeypatch):
    for name, value in sidecar_env(tmp_path).items():
        monkeypatch.setenv(name, value)


def _store(client: StoreClient, event: dict):
    item = (parse_event(json.dumps(event)), utcnow())
    return client.awrite_batched(
        inbox.store_events, item, fallback=inbox.store_events_skipping_duplicates
    )


def test_webhooks_sent_together_each_get_their_own_answer(store_env):
    events = [make_event() for _ in range(4)]

    async def scenario():
        client = StoreClient.start()
        await client.connect()
        try:
            # gather starts them all in one loop iteration: one frame to the store process.
            together = asyncio.gather(*(_store(client, e) for e in [*events, events[0]]))
            first = await asyncio.wait_for(together, 30)
            # Later, a redelivery of what is stored: the fallback path, still one answer each.
            again = await asyncio.wait_for(
                asyncio.gather(_store(client, events[1]), _store(client, make_event())), 30
            )
            total = await client.aread(inbox.count_events)
        finally:
            await client.aclose()
        return first, again, total

    first, again, total = asyncio.run(scenario())

    assert first == [True, True, True, True, False]  # the copy in the same frame: a duplicate
    assert again == [False, True]
    assert total == 5


def test_calls_that_cannot_cross_fail_instead_of_waiting_forever(store_env):
    async def scenario():
        client = StoreClient.start()
        await client.connect()
        try:
            # One frame: a lambda does not pickle, so neither call reaches the store.
            unpicklable = (lambda: None, utcnow())
            outcomes = await asyncio.wait_for(
                asyncio.gather(
                    client.awrite_batched(inbox.store_events, unpicklable),
                    client.awrite_batched(
                        inbox.store_events, (parse_event(json.dumps(make_event())), utcnow())
                    ),
                    return_exceptions=True,
                ),
                30,
            )
            later = await asyncio.wait_for(_store(client, make_event()), 30)
        finally:
            await client.aclose()
        return outcomes, later

    outcomes, later = asyncio.run(scenario())

    assert all(isinstance(outcome, Exception) for outcome in outcomes)
    assert later is True  # the client goes on working
