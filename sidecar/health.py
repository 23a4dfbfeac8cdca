"""`GET /healthz` (the process runs), `GET /readyz` (it can do its job), and
`GET /api/health`, the same checks for staff with what went wrong in words.

`/readyz` is public (a load balancer asks it), so it names each failed check by a reason
code only: the detail can hold file paths and database errors, which are for staff.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse

from core.clock import utcnow
from runtime.store_client import StoreClient
from store.database import Database, DatabaseUnavailable, StoreStatus

# A commit normally takes milliseconds; one that takes this long means the disk or the
# writer is stuck, and a load balancer should stop sending traffic here.
WRITE_PROBE_TIMEOUT = 2.0
# A failed write keeps the sidecar "not ready" until a real write succeeds, or this long:
# a monitor sees the outage, and a load balancer that stopped sending traffic retries.
STORAGE_FAILURE_MEMORY = 300.0


@dataclass(frozen=True)
class Check:
    reason: str  # a code: "writable", "running", or what failed
    detail: str | None = None  # for staff only: what failed, in words

    @property
    def ok(self) -> bool:
        return self.reason in ("writable", "running")

    def public(self) -> dict[str, object]:
        return {"ok": self.ok, "reason": self.reason}

    def for_staff(self) -> dict[str, object]:
        return {**self.public(), "detail": self.detail or self.reason}


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def _probe(store: StoreClient | Database) -> tuple[Check | None, StoreStatus | None]:
    """Commit a test write, then ask how the store is doing."""
    try:
        await asyncio.wait_for(store.probe(), WRITE_PROBE_TIMEOUT)
        status = await asyncio.wait_for(store.astatus(), WRITE_PROBE_TIMEOUT)
    except TimeoutError:
        detail = f"a test write did not commit within {WRITE_PROBE_TIMEOUT:g} s"
        return Check("store_unavailable", detail), None
    except DatabaseUnavailable as exc:  # the store process is gone, stopped or wedged
        return Check("store_unavailable", str(exc)), None
    except Exception as exc:
        return Check("not_writable", f"not writable: {exc}"), None
    return None, status


def _storage_check(status: StoreStatus) -> Check:
    if status.down is not None:
        return Check("store_unavailable", status.down)
    failure = status.storage_failure
    if failure is not None:
        age = (utcnow() - failure.at).total_seconds()
        if age < STORAGE_FAILURE_MEMORY:
            detail = f"not writable: a write failed {age:.0f} s ago: {failure.message}"
            return Check("not_writable", detail)
    return Check("writable")


async def checks(store: StoreClient | Database) -> dict[str, Check]:
    failed, status = await _probe(store)
    if status is None:
        return {
            "database": failed or Check("store_unavailable"),
            "worker": Check("unknown", "unknown: the store did not answer"),
        }
    worker = Check("running") if status.worker is None else Check("worker_stopped", status.worker)
    return {"database": _storage_check(status), "worker": worker}


def _answer(results: dict[str, Check], staff: bool, **extra: object) -> JSONResponse:
    ready = all(check.ok for check in results.values())
    body = {
        "status": "ready" if ready else "not_ready",
        "checks": {
            name: check.for_staff() if staff else check.public() for name, check in results.items()
        },
        **extra,
    }
    return JSONResponse(body, status_code=200 if ready else 503)


async def readyz(request: Request) -> JSONResponse:
    return _answer(await checks(request.app.state.database), staff=False)


async def staff_health(request: Request) -> JSONResponse:
    """The staff API's `GET /api/health`: readyz with each check's detail, and the
    sidecar's own scheduled runs (what ran last; a missed summary is in the error log)."""
    schedule = request.app.state.scheduled_runs.report()
    return _answer(await checks(request.app.state.database), staff=True, schedule=schedule)
