"""Reading a client's JSON body: bounded, and every way it can be wrong answered with a 4xx
that says so (never a 5xx).

413  larger than the limit (by Content-Length, or while reading)
400  the client went away mid-body
422  not UTF-8, not JSON, nested more than 64 levels deep (core/json_depth.py), or holding
     an unpaired surrogate (`"\\ud800"` is valid JSON but not text:
     it could be neither stored nor emailed)
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from core import json_depth


class BodyRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def parse_body(request: Request, limit: int, empty: Any = None) -> Any:
    """The parsed body, or BodyRefused; never reads more than `limit` bytes. An empty body
    is `empty` when one is given (an action with nothing to say), else refused."""
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
        if exc.status == 413:
            return too_large(limit)
        if exc.status == 400:
            return Response(status_code=400)
        return JSONResponse(
            {"error": error, "problems": [{"path": "", "message": exc.message}]},
            status_code=422,
        )


def too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"error": "too_large", "message": f"body exceeds {limit} bytes"}, status_code=413
    )
