"""Staff API for analysts: read-only SQL and Parquet exports (docs/http-api.md, Analysts).

    POST /api/sql    {"sql": "SELECT …", "limit": 1000}
                     → columns, rows, truncated, elapsed_ms, data_as_of
    POST /api/export → path, tables {name: rows}, elapsed_ms

On DuckDB a query runs in a sandbox process of its own (runtime/analyst_sandbox.py), over
the analysts' copy of the database that the store keeps (store/analyst_snapshot.py): it
cannot read files or secrets, change settings, or take the store's memory or time, and it
is killed at the time limit. On PostgreSQL it runs on the live database as a read-only
role, cut off by `statement_timeout` (store/analyst_role.py). The export runs in the store
on a read transaction, on either backend (store/export.py).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core import clock
from core.settings import Settings
from runtime import analyst_sandbox
from sidecar.json_body import json_object
from sidecar.staff_api import analysts_too, staff_only
from store import analyst_role, analyst_snapshot, analyst_sql, export, postgres

# Sandboxes at once: each may use its memory limit and two threads.
MAX_RUNNING = 2
_running = 0

_SQL_ERRORS = {
    analyst_sandbox.Refused: (422, "refused"),
    analyst_sandbox.QueryFailed: (422, "query_failed"),
    analyst_sandbox.SandboxFailed: (422, "query_failed"),
    analyst_sandbox.AnswerTooLarge: (422, "too_large"),
    analyst_sandbox.OutOfMemory: (422, "out_of_memory"),
    analyst_sandbox.TimedOut: (408, "timeout"),
}


def _store_error(exc: Exception) -> str:
    return getattr(exc, "type_name", type(exc).__name__)


def _message(exc: Exception) -> str:
    return getattr(exc, "message", str(exc))


def analyst_root(settings: Settings) -> Path:
    """`analyst/` next to the database file (under DATA_DIR, see `Settings.files_directory`)."""
    return (settings.files_directory / "analyst").resolve()


def _refusal(error: str, message: str, status: int = 422) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


async def run_sql(request: Request) -> Response:
    global _running
    body = await json_object(request)
    if isinstance(body, Response):
        return body
    sql, limit = body.get("sql"), body.get("limit", analyst_sql.DEFAULT_LIMIT)
    if not isinstance(sql, str):
        return _refusal("invalid_body", 'send {"sql": "SELECT …"}')
    if (
        not isinstance(limit, int)
        or isinstance(limit, bool)
        or not (1 <= limit <= analyst_sql.MAX_LIMIT)
    ):
        return _refusal("invalid_body", f"limit must be a whole number 1..{analyst_sql.MAX_LIMIT}")
    if not sql.strip():
        return _refusal("refused", "the query is empty")
    if len(sql) > analyst_sql.MAX_SQL_LENGTH:
        return _refusal(
            "refused", f"the query is longer than {analyst_sql.MAX_SQL_LENGTH} characters"
        )
    if _running >= MAX_RUNNING:
        return JSONResponse(
            {"error": "busy",
             "message": f"{MAX_RUNNING} analyst queries are running already; try again shortly"},
            status_code=429, headers={"Retry-After": "5"},
        )  # fmt: skip
    settings: Settings = request.app.state.settings
    if settings.database.backend == "postgresql":
        return await _run_sql_on_postgresql(request, settings, sql, limit)
    limits = analyst_sandbox.Limits(
        time_seconds=settings.analyst_sql_time_limit_seconds,
        memory=settings.analyst_sql_memory_limit,
        memory_bytes=settings.analyst_sql_memory_bytes,
    )
    _running += 1
    try:
        try:
            snapshot = await request.app.state.database.aread(
                analyst_snapshot.analyst_snapshot,
                str(analyst_root(settings)),
                settings.analyst_sql_max_age_seconds,
                settings.analyst_sql_time_limit_seconds,  # the longest wait for a fresh copy
                # The analyst role queries a copy without children's notes or ticket text.
                request.state.staff.role == "analyst",
            )
        except Exception as exc:
            if _store_error(exc) != "SnapshotUnavailable":
                raise
            return _refusal("unavailable", _message(exc), status=503)
        try:
            result = await analyst_sandbox.run_query(snapshot.path, sql, limit, limits)
        except tuple(_SQL_ERRORS) as exc:
            status, error = _SQL_ERRORS[type(exc)]
            return _refusal(error, str(exc), status=status)
    finally:
        _running -= 1
    result["data_as_of"] = snapshot.as_of.isoformat() + "Z"
    return JSONResponse(result)


_POSTGRES_ERRORS = {
    analyst_role.Refused: (422, "refused"),
    analyst_role.QueryFailed: (422, "query_failed"),
    analyst_role.OutOfMemory: (422, "out_of_memory"),
    analyst_role.TimedOut: (408, "timeout"),
    analyst_role.Unavailable: (503, "unavailable"),
}


async def _run_sql_on_postgresql(
    request: Request, settings: Settings, sql: str, limit: int
) -> Response:
    """The live database, as the read-only role (store/analyst_role.py), in a thread."""
    global _running
    as_of = clock.utcnow()
    _running += 1
    try:
        result = await asyncio.to_thread(
            analyst_role.run,
            settings.database.path,
            request.state.staff.role == "analyst",  # the role without notes or ticket text
            sql,
            limit,
            settings.analyst_sql_time_limit_seconds,
        )
    except tuple(_POSTGRES_ERRORS) as exc:
        status, error = _POSTGRES_ERRORS[type(exc)]
        return _refusal(error, str(exc), status=status)
    except postgres.Unavailable as exc:
        return _refusal("unavailable", f"the database cannot be reached: {exc}", status=503)
    finally:
        _running -= 1
    if len(json.dumps(result)) > analyst_sandbox.MAX_ANSWER_BYTES:
        return _refusal(
            "too_large",
            f"the answer is over {analyst_sandbox.MAX_ANSWER_BYTES // 2**20} MB;"
            " ask for fewer rows",
        )
    result["data_as_of"] = as_of.isoformat() + "Z"
    return JSONResponse(result)


def export_root(settings: Settings) -> Path:
    """`exports/` next to the database file (under DATA_DIR, see `Settings.files_directory`)."""
    return (settings.files_directory / "exports").resolve()


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
    Route("/api/sql", analysts_too(run_sql), methods=["POST"]),
    Route("/api/export", staff_only(run_export), methods=["POST"]),
]
