"""A staff action's JSON body: an object, read with the one body reader
(`webhook/json_body.py`), or the 4xx that says what is wrong with it."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webhook.json_body import read_json

MAX_BODY = 1024 * 1024


async def json_object(request: Request, limit: int = MAX_BODY) -> dict[str, Any] | Response:
    """The body as a JSON object (an empty body is `{}`), or the response that refuses it."""
    value = await read_json(request, limit, error="invalid_body", empty={})
    if isinstance(value, Response):
        return value
    if not isinstance(value, dict):
        return JSONResponse(
            {"error": "invalid_body", "message": "body must be a JSON object"}, status_code=422
        )
    return value
