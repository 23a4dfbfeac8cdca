"""Shared fixtures: signed Stripe deliveries and real sidecar processes."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe

from webhook.processes import ServerProcess, free_port, start_sidecar

REPO = Path(__file__).resolve().parent.parent
SECRET = "whsec_test_current_0123456789abcdef"
OLD_SECRET = "whsec_test_previous_0123456789abcdef"
ADMIN_TOKEN = "test-admin-token-0123456789"


def make_event(**overrides: Any) -> dict[str, Any]:
    """A `checkout.session.completed` event with a fresh id; override any top-level key."""
    suffix = secrets.token_hex(8)
    event = {
        "id": f"evt_test_{suffix}",
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": f"cs_test_{suffix}",
                "object": "checkout.session",
                "amount_total": 8900,
                "currency": "aud",
                "client_reference_id": f"ord_{suffix}",
                "metadata": {"order_id": f"ord_{suffix}"},
                "mode": "payment",
                "payment_intent": f"pi_test_{suffix}",
                "payment_status": "paid",
                "status": "complete",
            }
        },
    }
    event.update(overrides)
    return event


def sign(body: str | bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header for `body`, made by the `stripe` library."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return stripe.WebhookSignature.generate_signature_header(text, secret, timestamp)


class Sidecar:
    """A running `tinkertank serve` with helpers to deliver events and read the inbox."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.url = server.url
        self.session = requests.Session()

    def deliver(
        self,
        event: dict[str, Any] | str | bytes,
        secret: str = SECRET,
        session: requests.Session | None = None,
        timeout: float = 10,
    ) -> requests.Response:
        """POST `event` as Stripe would: pretty-printed JSON, signed now."""
        body = json.dumps(event, indent=2) if isinstance(event, dict) else event
        headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body, secret)}
        data = body.encode("utf-8") if isinstance(body, str) else body
        return (session or requests).post(
            self.url + "/webhooks/stripe", data=data, headers=headers, timeout=timeout
        )

    def staff_get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(
            self.url + path,
            params=params,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        )

    def inbox_row(self, event_id: str) -> dict[str, Any] | None:
        response = self.staff_get(f"/api/inbox/{event_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def inbox_total(self) -> int:
        return sum(self.staff_get("/api/inbox/counts").json().values())


def sidecar_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        "STRIPE_WEBHOOK_SECRET": f"{SECRET},{OLD_SECRET}",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "DATABASE_URL": f"duckdb:///{tmp_path / 'tinkertank.duckdb'}",
    }
    env.update(overrides)
    return env


@pytest.fixture
def start_sidecar_process(tmp_path: Path) -> Iterator[Callable[..., Sidecar]]:
    """Start sidecars on demand (`start(**env_overrides)`); all are stopped afterwards."""
    started: list[ServerProcess] = []

    def start(preexec_fn=None, **overrides: str) -> Sidecar:
        server = start_sidecar(
            free_port(),
            sidecar_env(tmp_path, **overrides),
            log_path=tmp_path / f"sidecar-{len(started)}.log",
            preexec_fn=preexec_fn,
        )
        started.append(server)
        return Sidecar(server)

    yield start
    for server in started:
        server.kill()


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    """One sidecar shared by a test module; tests use fresh event ids, so they don't collide."""
    tmp_path = tmp_path_factory.mktemp("sidecar")
    server = start_sidecar(free_port(), sidecar_env(tmp_path), log_path=tmp_path / "sidecar.log")
    yield Sidecar(server)
    server.stop()
