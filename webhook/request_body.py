"""Reading a staff action's JSON body: an object, within a size limit, or a clear 4xx."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

MAX_BODY = 1024 * 1024


async def json_object(request: Request, limit: int = MAX_BODY) -> dict[str, Any] | Response:
    """The body as a JSON object (an empty body is `{}`), or the response that refuses it."""
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return JSONResponse(
                    {"error": "too_large", "message": f"body exceeds {limit} bytes"},
                    status_code=413,
                )
    except ClientDisconnect:
        return Response(status_code=400)
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return _invalid(f"body is not valid JSON: {exc}")
    if not isinstance(value, dict):
        return _invalid("body must be a JSON object")
    return value


def _invalid(message: str) -> JSONResponse:
    return JSONResponse({"error": "invalid_body", "message": message}, status_code=422)
