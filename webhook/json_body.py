"""Reading a client's JSON body: bounded, and every way it can be wrong answered with a 4xx
that says so (never a 5xx).

413  larger than the limit (by Content-Length, or while reading)
400  the client went away mid-body
422  not UTF-8, not JSON, nested too deeply to parse, or holding an unpaired surrogate
     (`"\\ud800"` is valid JSON but not text: it could be neither stored nor emailed)
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response


async def read_json(
    request: Request, limit: int, error: str = "invalid_request", empty: Any = None
) -> Any:
    """The parsed body, or the Response to answer instead; never reads more than `limit`.
    `error` names the 422 (`invalid_cart` for the checkout) with a `problems` list; an empty
    body is `empty` when one is given (an action with nothing to say), else refused."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return too_large(limit)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return too_large(limit)
    except ClientDisconnect:
        return Response(status_code=400)
    if empty is not None and not body.strip():
        return empty
    try:
        value = json.loads(body)
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except RecursionError:
        reason = "body is not valid JSON: nested too deeply"
    except UnicodeEncodeError:
        reason = "body holds an unpaired surrogate escape (such as \\ud800), which is not text"
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        reason = f"body is not valid JSON: {str(exc)[:200]}"
    else:
        return value
    return JSONResponse(
        {"error": error, "problems": [{"path": "", "message": reason}]}, status_code=422
    )


def too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"error": "too_large", "message": f"body exceeds {limit} bytes"}, status_code=413
    )
