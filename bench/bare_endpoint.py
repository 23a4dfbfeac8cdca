"""The yardstick for `make bench`: a webhook endpoint that only checks the signature with
the `stripe` library and parses the JSON, on the same server stack as the sidecar.

The sidecar's acknowledgement rate is reported as a ratio to this one, measured in the
same run, so the figure says what durability costs rather than how fast the machine is.
"""

from __future__ import annotations

import argparse
import json
import os

import stripe
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_bench")


async def webhook(request: Request) -> Response:
    body = await request.body()
    try:
        payload = body.decode("utf-8")
        stripe.WebhookSignature.verify_header(
            payload, request.headers.get("stripe-signature"), SECRET, 300
        )
        json.loads(payload)
    except (ValueError, stripe.SignatureVerificationError):
        return JSONResponse({"error": "invalid"}, status_code=400)
    return Response(b'{"received":true}', media_type="application/json")


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def serve(webhook_endpoint) -> None:
    """Run `webhook_endpoint` at /webhooks/stripe on the sidecar's server stack."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = Starlette(
        routes=[
            Route("/webhooks/stripe", webhook_endpoint, methods=["POST"]),
            Route("/healthz", healthz),
        ]
    )
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    serve(webhook)
