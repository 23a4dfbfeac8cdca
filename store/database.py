"""The database handle: one writer thread owns the only write transaction.

DuckDB lets a single process hold a database file read-write, and a commit costs far more
than the rows it writes (about a millisecond of CPU, whatever the size). So, like
datasette's `execute_write_fn`, every write is handed to one thread that owns the
connection; that thread runs whatever has queued up since its last commit inside one
transaction and commits once (group commit). Callers are answered only after the commit,
so the webhook says 200 only for events that are on disk.

A write function takes the connection first and must not commit. If anything in a group
raises, the group is rolled back and re-run piece by piece, each in a transaction of its
own, so one bad job cannot fail the others. A batched function may name a `fallback` for
that second run: the inbox inserts optimistically and lets the primary key catch a
redelivery, then redoes the group with `ON CONFLICT DO NOTHING`.

Reads use cursors of the same database instance (one per thread), which see committed
data and never block the writer.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from core.clock import utcnow
from core.settings import DatabaseLocation
from store import heartbeat, schema

log = logging.getLogger(__name__)

T = TypeVar("T")
# Enough to cover every delivery that arrives while one commit is in flight, small enough
# that a group's transaction stays short.
MAX_GROUP = 512
# DuckDB folds its write-ahead log into the file when the log reaches this size, inside the
# commit that crosses it, so every commit behind it waits. DuckDB's 16 MB means a pause
# every second or so under a burst of webhooks; 64 MB means fewer pauses, each about as
# short (the inbox payloads compress fast), for ~50 MB more memory at the peak.
CHECKPOINT_THRESHOLD = "64MB"
# DuckDB's default row group holds 122,880 rows, and a checkpoint rewrites the table's
# last, partly filled group: with webhook payloads that rewrite grows to hundreds of
# milliseconds, in a doubling pattern, with every commit waiting behind it. Groups of
# 8,192 rows keep each checkpoint's rewrite small (~10 ms) at little cost to queries.
ROW_GROUP_SIZE = 8192
CATALOG = "tinkertank"
# A background job (fulfilment) can take 10+ ms, and a webhook's 200 waits for the whole
# commit it is in. So background jobs run one per commit, and only once no foreground job
# has come for a moment: 2 ms at a steady trickle of webhooks, so the worker keeps up;
# 20 ms under a burst, so it waits and catches up when the burst ends.
IDLE_BEFORE_BACKGROUND = 0.002  # seconds, at a steady trickle of webhooks
IDLE_UNDER_BURST = 0.02  # seconds, when commits carry many webhooks each (a burst)
BURST_GROUP = 8  # webhooks per commit, on average, that count as a burst
LOCK_RETRY_SECONDS = 0.1  # how often a locked database file is tried again


def single_statement(fn: Callable[..., T]) -> Callable[..., T]:
    """Mark a batched write function that issues exactly one statement.

    When such a function makes up a whole group, the writer runs it in autocommit mode
    (the statement is its own transaction) instead of BEGIN … COMMIT: two fewer round
    trips into DuckDB, each of which has to win the GIL back from the event loop.
    """
    fn.single_statement = True  # type: ignore[attr-defined]
    return fn


def long_running(fn: Callable[..., T]) -> Callable[..., T]:
    """Mark a store function that may take longer than STORE_TIMEOUT_SECONDS (an export of
    every table): the web process waits for its answer however long it takes."""
    fn.long_running = True  # type: ignore[attr-defined]
    return fn


class DatabaseUnavailable(RuntimeError):
    """The database cannot be opened or written; the message says why."""


@dataclass(frozen=True)
class StorageFailure:
    """A write that failed because the database could not be written (not a bad query)."""

    at: datetime
    message: str


@dataclass(frozen=True)
class StoreStatus:
    down: str | None  # why writes cannot be taken at all, or None
    storage_failure: StorageFailure | None
    worker: str | None = None  # why the fulfilment worker is not running, or None


def is_storage_failure(exc: BaseException) -> bool:
    """Disk full, file too large, I/O error, a database DuckDB has invalidated …"""
    if isinstance(exc, (duckdb.IOException, duckdb.FatalException, duckdb.OutOfMemoryException)):
        return True
    text = str(exc)
    return "Failed to commit" in text or "invalidated" in text or isinstance(exc, OSError)


@dataclass(slots=True)
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    batched: bool = False  # fn(conn, items) -> one result per item, shared across jobs
    fallback: Callable[..., Any] | None = None
    future: Future | None = None  # a thread waits on this …
    loop: asyncio.AbstractEventLoop | None = None  # … or a coroutine on this …
    afuture: asyncio.Future | None = None
    sink: Callable[[list[tuple[Any, bool, Any]]], None] | None = None  # … or a sink is told
    token: Any = None
    background: bool = False


@dataclass(slots=True)
class _Group:
    fn: Callable[..., Any]
    jobs: list[_Job] = field(default_factory=list)
    batched: bool = False
    fallback: Callable[..., Any] | None = None

    def function(self, retrying: bool) -> Callable[..., Any]:
        return self.fallback if retrying and self.fallback else self.fn

    def run(self, conn: duckdb.DuckDBPyConnection, retrying: bool) -> list[Any]:
        if self.batched:
            fn = self.function(retrying)
            results = fn(conn, [job.args[0] for job in self.jobs])
            if len(results) != len(self.jobs):
                raise RuntimeError(f"{fn.__name__} returned {len(results)} results")
            return list(results)
        (job,) = self.jobs
        return [job.fn(conn, *job.args)]


_STOP = object()
_WAKE = object()  # "there is background work": wakes the writer without a job


class Database:
    def __init__(self, conn: duckdb.DuckDBPyConnection, location: DatabaseLocation) -> None:
        self.location = location
        self._conn = conn
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._background: collections.deque[_Job] = collections.deque()
        self._readers = threading.local()
        self._reader_conns: list[duckdb.DuckDBPyConnection] = []
        self._reader_lock = threading.Lock()
        self._closed = False
        self.commits = 0
        # The last write that failed for want of storage, until a foreground write succeeds
        # (see _proves_writable).
        self.storage_failure: StorageFailure | None = None
        self._thread = threading.Thread(target=self._run, name="db-writer", daemon=True)
        self._thread.start()

    @classmethod
    def open(
        cls, location: DatabaseLocation, memory_limit: str = "200MB", lock_wait_seconds: float = 0
    ) -> Database:
        """Open (creating if needed) the database and bring its schema up to date. A file
        locked by another process is waited for, up to `lock_wait_seconds`: a sidecar
        restarted by its supervisor may start while the old store process is still exiting."""
        if location.backend != "duckdb":
            raise DatabaseUnavailable(f"unsupported database backend {location.backend!r}")
        if location.is_file:
            Path(location.path).parent.mkdir(parents=True, exist_ok=True)
        config = {"memory_limit": memory_limit, "checkpoint_threshold": CHECKPOINT_THRESHOLD}
        deadline = time.monotonic() + lock_wait_seconds
        waiting = False
        while True:
            try:
                conn = _connect(location, config)
                break
            except duckdb.Error as exc:
                if not _is_locked(exc) or time.monotonic() >= deadline:
                    raise DatabaseUnavailable(
                        f"cannot open database {location.path}: {exc}"
                    ) from None
                if not waiting:
                    waiting = True
                    log.warning(
                        "database %s is locked by another process; waiting up to %g s: %s",
                        location.path,
                        lock_wait_seconds,
                        exc,
                    )
            time.sleep(LOCK_RETRY_SECONDS)
        if waiting:
            log.info("database %s: lock acquired", location.path)
        try:
            schema.migrate(conn, now=utcnow())
        except Exception:
            conn.close()
            raise
        return cls(conn, location)

    # --- writes -------------------------------------------------------------------------

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run `fn(conn, *args)` in the writer thread; the future resolves after the commit."""
        job = _Job(fn, args, future=Future())
        self._enqueue(job)
        return job.future

    def submit_background(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """As `submit`, for work nobody is waiting on (the fulfilment worker): it only rides
        along, a few jobs per commit, so a webhook's acknowledgement never waits behind a
        backlog of it."""
        if self._closed or not self._thread.is_alive():
            raise DatabaseUnavailable("the database writer has stopped")
        job = _Job(fn, args, future=Future(), background=True)
        self._background.append(job)
        self._queue.put(_WAKE)
        return job.future

    def submit_batched(
        self,
        fn: Callable[..., Sequence[T]],
        item: Any,
        fallback: Callable[..., Sequence[T]] | None = None,
    ) -> Future[T]:
        """Queue `item` for `fn(conn, items) -> results`, called once for all queued items."""
        job = _Job(fn, (item,), batched=True, fallback=fallback, future=Future())
        self._enqueue(job)
        return job.future

    def submit_to_sink(
        self,
        sink: Callable[[list[tuple[Any, bool, Any]]], None],
        token: Any,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        batched: bool = False,
        fallback: Callable[..., Any] | None = None,
    ) -> None:
        """Queue a job whose outcome goes to `sink([(token, ok, result or exception), …])`,
        called once per commit with every outcome of that commit that shares the sink."""
        self._enqueue(_Job(fn, args, batched, fallback, sink=sink, token=token))

    def submit_batch_to_sink(
        self,
        sink: Callable[[list[tuple[Any, bool, Any]]], None],
        fn: Callable[..., Sequence[Any]],
        items: Sequence[tuple[Any, Any]],
        fallback: Callable[..., Sequence[Any]] | None = None,
    ) -> None:
        """`submit_to_sink` of a batched job for each (token, item), queued in one go: the
        store process hands over all the webhooks of one frame at once, so the writer wakes
        once per frame rather than once per webhook."""
        if self._closed or not self._thread.is_alive():
            raise DatabaseUnavailable("the database writer has stopped")
        self._queue.put(
            [_Job(fn, (item,), True, fallback, sink=sink, token=token) for token, item in items]
        )

    def write(self, fn: Callable[..., T], *args: Any, timeout: float | None = 30) -> T:
        """Blocking `submit`: for the CLI, tests and worker threads."""
        return self.submit(fn, *args).result(timeout)

    async def awrite(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        job = _Job(fn, args, loop=loop, afuture=loop.create_future())
        self._enqueue(job)
        return await job.afuture

    async def awrite_batched(
        self,
        fn: Callable[..., Sequence[T]],
        item: Any,
        fallback: Callable[..., Sequence[T]] | None = None,
    ) -> T:
        loop = asyncio.get_running_loop()
        job = _Job(fn, (item,), True, fallback, loop=loop, afuture=loop.create_future())
        self._enqueue(job)
        return await job.afuture

    def _enqueue(self, job: _Job) -> None:
        if self._closed or not self._thread.is_alive():
            raise DatabaseUnavailable("the database writer has stopped")
        self._queue.put(job)

    @property
    def writer_alive(self) -> bool:
        return self._thread.is_alive()

    async def probe(self) -> datetime:
        """Commit a one-row write (the readiness check); raises when it cannot."""
        return await self.awrite(heartbeat.beat, utcnow())

    def status(self) -> StoreStatus:
        if not self.writer_alive:
            return StoreStatus("the database writer thread has stopped", self.storage_failure)
        return StoreStatus(None, self.storage_failure)

    async def astatus(self) -> StoreStatus:
        return self.status()

    def _run(self) -> None:
        carried: Any = None  # a job taken off the queue while waiting for idleness
        last_foreground = 0.0
        busy = 0.0  # moving average of foreground group sizes: how hard webhooks are coming
        while True:
            first = carried if carried is not None else self._queue.get()
            carried = None
            if first is _STOP:
                break
            jobs = [] if first is _WAKE else first if isinstance(first, list) else [first]
            stopping = False
            while len(jobs) < MAX_GROUP:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is _STOP:
                    stopping = True
                    break
                if isinstance(job, list):  # a frame's worth of batched jobs
                    jobs.extend(job)
                elif job is not _WAKE:
                    jobs.append(job)
            if jobs:
                self._run_group(jobs)
                last_foreground = time.monotonic()
                busy = 0.8 * busy + 0.2 * len(jobs)
            elif self._background:
                # Background work waits until foreground work has paused for a moment, so
                # that under a burst of webhooks it never stands between two commits.
                wait = IDLE_UNDER_BURST if busy >= BURST_GROUP else IDLE_BEFORE_BACKGROUND
                idle_for = wait - (time.monotonic() - last_foreground)
                if idle_for > 0:
                    try:
                        carried = self._queue.get(timeout=idle_for)
                    except queue.Empty:
                        carried = None
                    if carried is None or carried is _WAKE:
                        carried = _WAKE
                    continue
                self._run_group([self._background.popleft()])
            if stopping:
                break
            if self._background:
                self._queue.put(_WAKE)  # more background work: come back after this commit

    def _run_group(self, jobs: list[_Job]) -> None:
        try:
            self._run_jobs([j for j in jobs if j.future is None or _claim(j.future)])
        except BaseException:  # never leave a caller waiting on a dead thread
            log.exception("database writer failed")
            _settle([(j, False, DatabaseUnavailable("the database writer failed")) for j in jobs])
            raise

    def _run_jobs(self, jobs: list[_Job]) -> None:
        groups = _group(jobs)
        try:
            results = self._transaction(groups, retrying=False)
        except Exception as exc:
            if len(jobs) == 1 and not (jobs[0].batched and jobs[0].fallback):
                _settle([(jobs[0], False, exc)])
                return
            outcomes = []
            for group in groups:
                outcomes.extend(self._run_alone(group))
            _settle(outcomes)
            return
        _settle(
            [(job, True, result) for job, result in zip(_jobs_of(groups), results, strict=True)]
        )

    def _run_alone(self, group: _Group) -> list[tuple[_Job, bool, Any]]:
        """Second chance after a failed group: this group alone, then each job alone."""
        try:
            results = self._transaction([group], retrying=True)
        except Exception as exc:
            if len(group.jobs) == 1:
                return [(group.jobs[0], False, exc)]
            outcomes = []
            for job in group.jobs:
                single = _Group(job.fn, [job], job.batched, job.fallback)
                try:
                    (result,) = self._transaction([single], retrying=True)
                except Exception as job_exc:
                    outcomes.append((job, False, job_exc))
                else:
                    outcomes.append((job, True, result))
            return outcomes
        return [(job, True, result) for job, result in zip(group.jobs, results, strict=True)]

    def _transaction(self, groups: list[_Group], retrying: bool) -> list[Any]:
        conn = self._conn
        try:
            if len(groups) == 1 and getattr(groups[0].function(retrying), "single_statement", 0):
                results = groups[0].run(conn, retrying)
            else:
                results = self._begin_run_commit(groups, retrying)
        except Exception as exc:
            if is_storage_failure(exc):
                self.storage_failure = StorageFailure(utcnow(), f"{type(exc).__name__}: {exc}")
            raise
        self.commits += 1
        if any(_proves_writable(job) for group in groups for job in group.jobs):
            self.storage_failure = None
        return results

    def _begin_run_commit(self, groups: list[_Group], retrying: bool) -> list[Any]:
        conn = self._conn
        conn.execute("BEGIN TRANSACTION")
        try:
            results: list[Any] = []
            for group in groups:
                results.extend(group.run(conn, retrying))
            conn.execute("COMMIT")
        except Exception:
            with contextlib.suppress(duckdb.Error):  # already gone after a failed COMMIT
                conn.execute("ROLLBACK")
            raise
        return results

    # --- reads --------------------------------------------------------------------------

    def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(cursor, *args, **kwargs)` on this thread's read cursor, in one read
        transaction: every query of `fn` sees the same committed state (an order's status
        and its steps read apart could straddle a commit and contradict each other)."""
        cursor = getattr(self._readers, "cursor", None)
        if cursor is None:
            if self._closed:
                raise DatabaseUnavailable("the database is closed")
            cursor = self._conn.cursor()
            if self.location.is_file:
                cursor.execute(f"USE {CATALOG}")  # a new cursor starts in the in-memory catalog
            self._readers.cursor = cursor
            with self._reader_lock:
                self._reader_conns.append(cursor)
        cursor.execute("BEGIN TRANSACTION")
        try:
            return fn(cursor, *args, **kwargs)
        finally:
            with contextlib.suppress(duckdb.Error):  # an error may have ended it already
                cursor.execute("ROLLBACK")  # nothing to keep: it only read

    async def aread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(self.read, fn, *args, **kwargs)

    # --- lifecycle ----------------------------------------------------------------------

    async def connect(self) -> None:
        """Nothing to do in-process (the same call as `StoreClient.connect`)."""

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def close(self, timeout: float | None = None) -> None:
        """Finish queued writes, checkpoint, and release the file. Foreground writes queued
        before the call are committed first; background work not yet started is dropped
        (the worker finds it due again on the next start)."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            # Closing the connection under a running statement would crash the process;
            # leave it to the process exit (the write-ahead log keeps what committed).
            log.error("the database writer is still busy after %s s; not closing", timeout)
            return
        while self._background:  # never started: tell whoever is waiting
            job = self._background.popleft()
            _settle([(job, False, DatabaseUnavailable("the database is closed"))])
        with self._reader_lock:
            for cursor in self._reader_conns:
                cursor.close()
        try:
            self._conn.execute("CHECKPOINT")
        except duckdb.Error as exc:
            log.warning("checkpoint at close failed: %s", exc)
        self._conn.close()


def _connect(location: DatabaseLocation, config: dict[str, str]) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(":memory:", config=config)
    if location.is_file:
        path = location.path.replace("'", "''")
        try:
            conn.execute(f"ATTACH '{path}' AS {CATALOG} (ROW_GROUP_SIZE {ROW_GROUP_SIZE})")
            conn.execute(f"USE {CATALOG}")
        except duckdb.Error:
            conn.close()
            raise
    return conn


def _is_locked(exc: duckdb.Error) -> bool:
    """DuckDB's "Could not set lock on file …: Conflicting lock is held in … (PID n)"."""
    return "Could not set lock" in str(exc) or "Conflicting lock" in str(exc)


def _group(jobs: list[_Job]) -> list[_Group]:
    """Batched jobs with the same function share one call; the rest run one by one."""
    groups: list[_Group] = []
    batched: dict[Callable[..., Any], _Group] = {}
    for job in jobs:
        if job.batched:
            group = batched.get(job.fn)
            if group is None:
                group = batched[job.fn] = _Group(job.fn, batched=True, fallback=job.fallback)
                groups.append(group)
            group.jobs.append(job)
        else:
            groups.append(_Group(job.fn, [job]))
    return groups


def _proves_writable(job: _Job) -> bool:
    """Whether a job's commit shows that storing works again after a storage failure: a
    foreground write does; the probe's one-row write and the worker's small updates fit
    where a webhook's payload may not, so they do not."""
    return not job.background and job.fn is not heartbeat.beat


def _claim(future: Future) -> bool:
    """False when the caller cancelled before the writer got to the job."""
    return future.set_running_or_notify_cancel()


def _jobs_of(groups: list[_Group]) -> list[_Job]:
    return [job for group in groups for job in group.jobs]


def _settle(outcomes: list[tuple[_Job, bool, Any]]) -> None:
    """Hand results back: threads directly; coroutines and sinks once per commit."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, bool, Any]]] = {}
    by_sink: dict[Callable[..., None], list[tuple[Any, bool, Any]]] = {}
    for job, ok, value in outcomes:
        if job.sink is not None:
            by_sink.setdefault(job.sink, []).append((job.token, ok, value))
        elif job.future is not None:
            if job.future.done():
                continue
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)
        else:
            by_loop.setdefault(job.loop, []).append((job.afuture, ok, value))
    for sink, results in by_sink.items():
        try:
            sink(results)
        except Exception:
            log.exception("could not hand results back")
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop has nobody waiting
            loop.call_soon_threadsafe(_settle_in_loop, items)


def _settle_in_loop(items: list[tuple[asyncio.Future, bool, Any]]) -> None:
    for afuture, ok, value in items:
        if afuture.done():  # the caller gave up (cancelled)
            continue
        if ok:
            afuture.set_result(value)
        else:
            afuture.set_exception(value)
