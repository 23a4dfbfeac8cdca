"""A staff action's JSON body: an object, read with the one body reader
(`sidecar/json_body.py`), or the 4xx that says what is wrong with it, as the staff API
answers every refusal: `{"error", "message"}`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sidecar.json_body import BodyRefused, parse_body

MAX_BODY = 1024 * 1024


async def json_object(request: Request, limit: int = MAX_BODY) -> dict[str, Any] | Response:
    """The body as a JSON object (an empty body is `{}`), or the response that refuses it."""
    try:
        value = await parse_body(request, limit, empty={})
    except BodyRefused as exc:
        error = "too_large" if exc.status == 413 else "invalid_body"
        return JSONResponse({"error": error, "message": exc.message}, status_code=exc.status)
    if not isinstance(value, dict):
        return JSONResponse(
            {"error": "invalid_body", "message": "body must be a JSON object"}, status_code=422
        )
    return value
