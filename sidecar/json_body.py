"""The one reader of a client's body, for every route: bounded, and every way it can be
wrong answered with a 4xx that says so (never a 5xx).

413  larger than the limit (by Content-Length, or while reading)
400  the client went away mid-body
422  not UTF-8, not JSON, nested more than 64 levels deep (core/json_depth.py), or holding
     an unpaired surrogate (`"\\ud800"` is valid JSON but not text:
     it could be neither stored nor emailed); for a staff action, not a JSON object

Three ways in: `read_bytes` for the Stripe webhook (its signature is checked on the raw
bytes), `read_json` for the customer endpoints (a 422 with a `problems` list, like the
checkout's own), `json_object` for the staff API (`{"error", "message"}`).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from core import json_depth

MAX_BODY = 1024 * 1024  # a staff action's body


class BodyRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_bytes(request: Request, limit: int) -> bytes:
    """The raw body, or BodyRefused (413, 400); never reads more than `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyRefused(413, f"body exceeds {limit} bytes")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise BodyRefused(413, f"body exceeds {limit} bytes")
    except ClientDisconnect:
        raise BodyRefused(400, "the body did not arrive") from None
    return bytes(body)


async def parse_body(request: Request, limit: int, empty: Any = None) -> Any:
    """The parsed body, or BodyRefused; never reads more than `limit` bytes. An empty body
    is `empty` when one is given (an action with nothing to say), else refused."""
    body = await read_bytes(request, limit)
    if empty is not None and not body.strip():
        return empty
    try:
        value = json_depth.loads(body)
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except json_depth.TooDeep as exc:
        raise BodyRefused(422, f"body is {exc}") from None
    except UnicodeEncodeError:
        raise BodyRefused(
            422, "body holds an unpaired surrogate escape (such as \\ud800), which is not text"
        ) from None
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        raise BodyRefused(422, f"body is not valid JSON: {str(exc)[:200]}") from None
    return value


async def read_json(
    request: Request, limit: int, error: str = "invalid_request", empty: Any = None
) -> Any:
    """`parse_body` for customer endpoints: the value, or the Response to answer instead,
    a 422 named `error` (`invalid_cart` for the checkout) with a `problems` list."""
    try:
        return await parse_body(request, limit, empty)
    except BodyRefused as exc:
        if exc.status != 422:
            return refusal(exc)
        return JSONResponse(
            {"error": error, "problems": [{"path": "", "message": exc.message}]},
            status_code=422,
        )


async def json_object(request: Request, limit: int = MAX_BODY) -> dict[str, Any] | Response:
    """A staff action's body as a JSON object (an empty body is `{}`), or the response that
    refuses it, as the staff API answers every refusal: `{"error", "message"}`."""
    try:
        value = await parse_body(request, limit, empty={})
    except BodyRefused as exc:
        return refusal(exc)
    if not isinstance(value, dict):
        return JSONResponse(
            {"error": "invalid_body", "message": "body must be a JSON object"}, status_code=422
        )
    return value


def refusal(exc: BodyRefused) -> JSONResponse:
    """The 4xx for a refused body: `too_large` (413) or `invalid_body`, and why."""
    error = "too_large" if exc.status == 413 else "invalid_body"
    return JSONResponse({"error": error, "message": exc.message}, status_code=exc.status)
