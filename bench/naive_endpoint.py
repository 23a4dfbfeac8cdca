"""For context in `make bench`: the receiver Stripe's documentation sketches, made durable
the obvious way. It builds the library's `Event` with `stripe.Webhook.construct_event`
and inserts one row per request into DuckDB, one commit each."""

from __future__ import annotations

import os
import threading

import duckdb
import stripe
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bench.bare_endpoint import serve

SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_bench")
conn = duckdb.connect(os.environ.get("NAIVE_DATABASE", ":memory:"))
conn.execute(
    "CREATE TABLE IF NOT EXISTS events (id VARCHAR PRIMARY KEY, type VARCHAR, body VARCHAR)"
)
lock = threading.Lock()


async def webhook(request: Request) -> Response:
    body = await request.body()
    try:
        event = stripe.Webhook.construct_event(
            body, request.headers.get("stripe-signature"), SECRET
        )
    except (ValueError, stripe.SignatureVerificationError):
        return JSONResponse({"error": "invalid"}, status_code=400)
    with lock:
        conn.execute(
            "INSERT INTO events VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [event.id, event.type, body.decode()],
        )
    return Response(b'{"received":true}', media_type="application/json")


if __name__ == "__main__":
    serve(webhook)
