"""The analysts' SQL sandbox: each `POST /api/sql` query runs in a process of its own.

The web process starts `python -I -m runtime.analyst_sandbox` for each query, hands it
the query on stdin and reads the answer as JSON on stdout. The sandbox:

- gets an environment with only PATH, LANG and HOME, so no secret (ADMIN_TOKEN,
  STRIPE_SECRET_KEY, the webhook secrets, SMTP_PASSWORD …) is in it to be read;
- before it imports DuckDB, limits itself: its address space to the memory limit plus
  room for Python and DuckDB themselves (RLIMIT_AS), its CPU time (RLIMIT_CPU, a backstop
  should its parent be gone), its priority (nice 10), and makes itself the first thing the
  kernel's OOM killer takes;
- opens the analysts' copy of the database (analyst_snapshot.py) read-only, in a DuckDB
  instance configured with `enable_external_access = false` (no file, network, extension
  or secret-store access at all: DuckDB refuses it for every function, present or future,
  that goes through its file system), its own `memory_limit` and `threads`, and
  `lock_configuration = true`, so the query cannot SET any of it back (nor turn on
  logging or profiling to a file);
- only then parses the analyst's text, and runs it.

The parent kills the whole process (SIGKILL, which no query can ignore) at the time limit.
The store process never sees the query: a runaway one costs the sandbox, not ingest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import sys
from dataclasses import dataclass
from typing import Any

# What a sandbox may know of its parent's environment.
KEPT_ENVIRONMENT = ("PATH", "LANG", "HOME")
# Address space on top of DuckDB's memory limit, for Python, DuckDB's code and its
# allocations outside the buffer manager. Measured: a sandbox maps ~380 MB before a query;
# with 512 MiB a small query under a 64 MB limit now and then failed to allocate in the
# suite. Address space is reserved, not used: DuckDB's own memory_limit is what stops a
# memory bomb (422); this is the backstop.
ADDRESS_SPACE_HEADROOM = 1024 * 1024 * 1024
THREADS = 2
NICE = 10
# An answer bigger than this (10,000 rows of long text, say) is refused, not sent.
MAX_ANSWER_BYTES = 64 * 1024 * 1024
# Exit statuses the parent reads.
EXIT_OK = 0
EXIT_OUT_OF_MEMORY = 3


@dataclass(frozen=True)
class Limits:
    time_seconds: float
    memory: str  # DuckDB's spelling, as configured: "256MB"
    memory_bytes: int


class Refused(ValueError):
    """Not one SELECT statement; the message says why."""


class QueryFailed(ValueError):
    """DuckDB could not run the query (a wrong column, a type error, a parse error …)."""


class TimedOut(RuntimeError):
    """The sandbox ran past the time limit and was killed."""


class OutOfMemory(RuntimeError):
    """The query wanted more memory than the sandbox has."""


class AnswerTooLarge(ValueError):
    """The rows asked for do not fit in an answer."""


class SandboxFailed(RuntimeError):
    """The sandbox died for another reason (the message says how)."""


# --- the parent side (the web process) ------------------------------------------------


def sandbox_environment(environ: dict[str, str]) -> dict[str, str]:
    """Only what Python needs to start: never a secret."""
    kept = {name: environ[name] for name in KEPT_ENVIRONMENT if name in environ}
    # glibc reserves 64 MB of address space per thread's malloc arena: two arenas are enough.
    return {**kept, "MALLOC_ARENA_MAX": "2"}


async def run_query(snapshot: str, sql: str, limit: int, limits: Limits) -> dict[str, Any]:
    """Run `sql` over the copy at `snapshot` in a new sandbox: columns, rows, truncated,
    elapsed_ms; or one of this module's exceptions."""
    request = json.dumps(
        {"snapshot": snapshot, "sql": sql, "limit": limit, "memory": limits.memory,
         "memory_bytes": limits.memory_bytes, "time_seconds": limits.time_seconds}
    ).encode()  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-I", "-m", "runtime.analyst_sandbox",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=sandbox_environment(dict(os.environ)),
        cwd=os.path.dirname(snapshot),
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(process.communicate(request), limits.time_seconds)
    except TimeoutError:
        _kill(process)
        await process.wait()
        raise TimedOut(
            f"the query was stopped after {limits.time_seconds:g} s; narrow it down"
            " (a WHERE clause, fewer joins, a LIMIT)"
        ) from None
    except BaseException:  # the request was cancelled (the client went away): no orphans
        _kill(process)
        raise
    return _answer(process.returncode, out, err, limits)


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.kill()  # SIGKILL: no query can ignore it


def _answer(code: int | None, out: bytes, err: bytes, limits: Limits) -> dict:
    memory = (
        f"the query used more than {limits.memory} of memory and was stopped;"
        " aggregate more, or select fewer rows or columns"
    )
    if code == -signal.SIGXCPU or code == -signal.SIGKILL:
        raise TimedOut(f"the query was stopped after {limits.time_seconds:g} s")
    if code == EXIT_OUT_OF_MEMORY or code == -signal.SIGABRT:  # bad_alloc outside DuckDB
        raise OutOfMemory(memory)
    try:
        answer = json.loads(out)
    except ValueError:
        detail = err.decode(errors="replace").strip().splitlines()[-1:] or [f"status {code}"]
        raise SandboxFailed(f"the query stopped the sandbox ({detail[0][:200]})") from None
    error = answer.get("error")
    if error is None:
        return answer
    message = answer.get("message", "")
    raise {
        "refused": Refused,
        "query_failed": QueryFailed,
        "memory": OutOfMemory,
        "too_large": AnswerTooLarge,
    }.get(error, SandboxFailed)(memory if error == "memory" else message)


# --- the sandbox process --------------------------------------------------------------


def _limit_self(memory_bytes: int, time_seconds: float) -> None:
    address_space = memory_bytes + ADDRESS_SPACE_HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    cpu = int(time_seconds * THREADS) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.nice(NICE)
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as adj:
        adj.write("1000")


def _open(snapshot: str, memory: str):
    import duckdb

    return duckdb.connect(
        snapshot,
        read_only=True,
        config={
            "enable_external_access": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "memory_limit": memory,
            "threads": THREADS,
            "lock_configuration": True,
        },
    )


def _serve(request: dict[str, Any]) -> dict[str, Any]:
    import duckdb

    from store import analyst_sql

    conn = _open(request["snapshot"], request["memory"])
    if conn.execute("SELECT current_setting('enable_external_access')").fetchone() != (False,):
        return {"error": "sandbox", "message": "the sandbox did not lock itself"}
    try:
        return analyst_sql.run(conn, request["sql"], request["limit"])
    except analyst_sql.Refused as exc:
        return {"error": "refused", "message": str(exc)}
    except (duckdb.OutOfMemoryException, MemoryError):
        return {"error": "memory"}
    except duckdb.PermissionException as exc:
        message = analyst_sql.first_line(exc).removeprefix("Permission Error: ")
        return {"error": "refused", "message": f"only the database can be read here: {message}"}
    except RecursionError:
        return {"error": "query_failed", "message": "the query or its answer is nested too deeply"}
    except duckdb.Error as exc:
        return {"error": "query_failed", "message": analyst_sql.first_line(exc)}


def main() -> int:
    request = json.loads(sys.stdin.buffer.read())
    _limit_self(request["memory_bytes"], request["time_seconds"])
    try:
        answer = _serve(request)
    except MemoryError:
        return EXIT_OUT_OF_MEMORY
    try:
        data = json.dumps(answer, allow_nan=False).encode()
    except MemoryError:
        return EXIT_OUT_OF_MEMORY
    except (RecursionError, ValueError):
        data = json.dumps({"error": "query_failed", "message": "the answer cannot be sent"})
        data = data.encode()
    if len(data) > MAX_ANSWER_BYTES:
        data = json.dumps(
            {"error": "too_large",
             "message": f"the answer is over {MAX_ANSWER_BYTES // 2**20} MB; ask for fewer rows"}
        ).encode()  # fmt: skip
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
