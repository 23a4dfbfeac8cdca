"""`GET /healthz` (the process runs) and `GET /readyz` (it can do its job) — SPEC §11."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse

from core.store.database import Database
from core.store.process import StoreClient

# A commit normally takes milliseconds; one that takes this long means the disk or the
# writer is stuck, and a load balancer should stop sending traffic here.
WRITE_PROBE_TIMEOUT = 2.0
# A failed write keeps the sidecar "not ready" until a real write succeeds, or this long:
# a monitor sees the outage, and a load balancer that stopped sending traffic retries.
STORAGE_FAILURE_MEMORY = 300.0


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def database_check(database: StoreClient | Database) -> str | None:
    """None when writes commit; otherwise the reason they do not."""
    try:
        await asyncio.wait_for(database.probe(), WRITE_PROBE_TIMEOUT)
        status = await asyncio.wait_for(database.astatus(), WRITE_PROBE_TIMEOUT)
    except TimeoutError:
        return f"a test write did not commit within {WRITE_PROBE_TIMEOUT:g} s"
    except Exception as exc:
        return f"not writable: {exc}"
    if status.down is not None:
        return status.down
    failure = status.storage_failure
    if failure is not None:
        age = (datetime.now(UTC).replace(tzinfo=None) - failure.at).total_seconds()
        if age < STORAGE_FAILURE_MEMORY:
            return f"not writable: a write failed {age:.0f} s ago: {failure.message}"
    return None


async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, dict[str, object]] = {}
    problem = await database_check(request.app.state.database)
    checks["database"] = {"ok": problem is None, "detail": problem or "writable"}
    for name, check in request.app.state.readiness_checks.items():
        problem = check()
        checks[name] = {"ok": problem is None, "detail": problem or "ok"}
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )
