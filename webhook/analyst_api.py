"""Staff API for analysts: read-only SQL and Parquet exports (SPEC §1, §8).

    POST /api/sql    {"sql": "SELECT …", "limit": 1000} → columns, rows, truncated, elapsed_ms
    POST /api/export                                    → path, tables {name: rows}, elapsed_ms

Both run in the store process on read cursors (core/store/analyst_sql.py, export.py): they
see committed data and never hold up the writer or the webhook.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.settings import Settings
from core.store import analyst_sql, clock, export
from webhook.request_body import json_object
from webhook.staff_api import staff_only

# The store's exceptions cross the process boundary by name (core/store/process.py).
_SQL_ERRORS = {
    "Refused": (422, "refused"),
    "QueryFailed": (422, "query_failed"),
    "TimedOut": (408, "timeout"),
    "Busy": (429, "busy"),
}


def _store_error(exc: Exception) -> str:
    return getattr(exc, "type_name", type(exc).__name__)


def _message(exc: Exception) -> str:
    return getattr(exc, "message", str(exc))


async def run_sql(request: Request) -> Response:
    body = await json_object(request)
    if isinstance(body, Response):
        return body
    sql, limit = body.get("sql"), body.get("limit", analyst_sql.DEFAULT_LIMIT)
    if not isinstance(sql, str):
        return JSONResponse(
            {"error": "invalid_body", "message": 'send {"sql": "SELECT …"}'}, status_code=422
        )
    if (
        not isinstance(limit, int)
        or isinstance(limit, bool)
        or not (1 <= limit <= analyst_sql.MAX_LIMIT)
    ):
        return JSONResponse(
            {"error": "invalid_body",
             "message": f"limit must be a whole number 1..{analyst_sql.MAX_LIMIT}"},
            status_code=422,
        )  # fmt: skip
    try:
        result = await request.app.state.database.aread(analyst_sql.run, sql, limit)
    except Exception as exc:
        known = _SQL_ERRORS.get(_store_error(exc))
        if known is None:
            raise
        status, error = known
        headers = {"Retry-After": "5"} if status == 429 else None
        return JSONResponse(
            {"error": error, "message": _message(exc)}, status_code=status, headers=headers
        )
    return JSONResponse(result)


def export_root(settings: Settings) -> Path:
    """`exports/` next to the database file (under data/ for an in-memory database)."""
    location = settings.database
    base = Path(location.path).parent if location.is_file else Path("data")
    return (base / "exports").resolve()


async def run_export(request: Request) -> Response:
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    root = export_root(request.app.state.settings)
    try:
        result = await request.app.state.database.aread(export.export_snapshot, str(root), stamp)
    except Exception as exc:
        if _store_error(exc) != "ExportBusy":
            raise
        return JSONResponse({"error": "busy", "message": _message(exc)}, status_code=409)
    return JSONResponse(result)


routes = [
    Route("/api/sql", staff_only(run_sql), methods=["POST"]),
    Route("/api/export", staff_only(run_export), methods=["POST"]),
]
