"""Events: those a test registers (`add_event`) and those the fake emits, listed as
`GET /v1/events` lists them."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

from tests.fakes.stripe.errors import (
    _invalid,
    _one_of,
)
from tests.fakes.stripe.params import (
    API_VERSION,
    SortKey,
    _array,
    _boolean,
    _check_known,
    _created_filter,
    _expand,
    _paginate,
    _string,
    _words,
    new_id,
)


class Events:
    """FakeStripe's events (its state is set up by `FakeStripe.__init__`)."""

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event, newest first (copies)."""
        with self._lock:
            return [copy.deepcopy(obj) for _, obj in self._sorted_events()]

    def add_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Register an event for `GET /v1/events`; missing envelope fields get defaults."""
        if "type" not in event:
            raise ValueError("an event needs a type")
        stored = copy.deepcopy(dict(event))
        stored.setdefault("id", new_id("evt_test_"))
        stored.setdefault("object", "event")
        stored.setdefault("api_version", API_VERSION)
        stored.setdefault("created", int(self.clock()))
        stored.setdefault("data", {"object": {}})
        stored.setdefault("livemode", False)
        stored.setdefault("pending_webhooks", 0)
        stored.setdefault("request", {"id": None, "idempotency_key": None})
        with self._lock:
            if stored["id"] in self._events:
                raise ValueError(f"event {stored['id']} is already registered")
            self._events[stored["id"]] = stored
            self._event_keys[stored["id"]] = (int(stored["created"]), next(self._seq))
        return copy.deepcopy(stored)

    def _emit(
        self,
        event_type: str,
        obj: Mapping[str, Any],
        *,
        created: int | None = None,
        request: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self.add_event(
            {
                "id": new_id("evt_test_"),
                "object": "event",
                "api_version": API_VERSION,
                "created": int(self.clock()) if created is None else created,
                "data": {"object": copy.deepcopy(dict(obj))},
                "livemode": False,
                "pending_webhooks": 1,
                "request": dict(request or {"id": None, "idempotency_key": None}),
                "type": event_type,
            }
        )

    def _sorted_events(self) -> list[tuple[SortKey, dict[str, Any]]]:
        return sorted(
            ((self._event_keys[eid], event) for eid, event in self._events.items()),
            key=lambda entry: entry[0],
            reverse=True,
        )

    def _cursor(self, keys: Mapping[str, SortKey]) -> Callable[[str, str], SortKey]:
        def find(object_id: str, param: str) -> SortKey:
            key = keys.get(object_id)
            if key is None:
                kind = object_id.partition("_")[0] or "object"
                raise _invalid(
                    f"Invalid {param} id: no such {kind} '{object_id}'",
                    param,
                    "resource_missing",
                )
            return key

        return find

    def _list_events(self, params: dict[str, Any]) -> dict[str, Any]:
        _check_known(
            params,
            _words(
                """created delivery_success ending_before expand limit starting_after type
                types"""
            ),
        )
        _expand(params, ())
        checks: list[Callable[[dict[str, Any]], bool]] = []
        if "type" in params and "types" in params:
            raise _one_of("type", "types")
        if "type" in params:
            pattern = _string(params["type"], "type")
            regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")))
            checks.append(lambda e: regex.fullmatch(str(e["type"])) is not None)
        if "types" in params:
            types = {_string(t, "types", i) for i, t in enumerate(_array(params["types"], "types"))}
            if len(types) > 20:
                raise _invalid("`types` can have at most 20 entries.", "types")
            checks.append(lambda e: e["type"] in types)
        if "created" in params:
            accept = _created_filter(params["created"], "created")
            checks.append(lambda e: accept(int(e["created"])))
        if "delivery_success" in params:
            _boolean(params["delivery_success"], "delivery_success")
        with self._lock:
            entries = [
                (key, copy.deepcopy(event))
                for key, event in self._sorted_events()
                if all(check(event) for check in checks)
            ]
            return _paginate(entries, params, "/v1/events", self._cursor(self._event_keys))
