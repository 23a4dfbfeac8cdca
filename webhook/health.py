"""`GET /healthz` (the process runs) and `GET /readyz` (it can do its job) — SPEC §11."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse

from core.store.clock import utcnow
from core.store.database import Database, StoreStatus
from core.store.process import StoreClient

# A commit normally takes milliseconds; one that takes this long means the disk or the
# writer is stuck, and a load balancer should stop sending traffic here.
WRITE_PROBE_TIMEOUT = 2.0
# A failed write keeps the sidecar "not ready" until a real write succeeds, or this long:
# a monitor sees the outage, and a load balancer that stopped sending traffic retries.
STORAGE_FAILURE_MEMORY = 300.0


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def _probe(store: StoreClient | Database) -> tuple[str | None, StoreStatus | None]:
    """Commit a test write, then ask how the store is doing."""
    try:
        await asyncio.wait_for(store.probe(), WRITE_PROBE_TIMEOUT)
        status = await asyncio.wait_for(store.astatus(), WRITE_PROBE_TIMEOUT)
    except TimeoutError:
        return f"a test write did not commit within {WRITE_PROBE_TIMEOUT:g} s", None
    except Exception as exc:
        return f"not writable: {exc}", None
    return None, status


def _storage_problem(status: StoreStatus) -> str | None:
    if status.down is not None:
        return status.down
    failure = status.storage_failure
    if failure is not None:
        age = (utcnow() - failure.at).total_seconds()
        if age < STORAGE_FAILURE_MEMORY:
            return f"not writable: a write failed {age:.0f} s ago: {failure.message}"
    return None


def _check(problem: str | None, fine: str) -> dict[str, object]:
    return {"ok": problem is None, "detail": problem or fine}


async def readyz(request: Request) -> JSONResponse:
    problem, status = await _probe(request.app.state.database)
    if status is not None:
        problem = _storage_problem(status)
    checks = {"database": _check(problem, "writable")}
    if status is not None:
        checks["worker"] = _check(status.worker, "running")
    else:
        checks["worker"] = _check("unknown: the store did not answer", "running")
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )
