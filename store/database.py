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

The writer thread itself is `store/writer.py`. Reads use cursors of the same database
instance (one per thread), which see committed data and never block the writer.

With DATABASE_URL=postgresql://… the same handle runs on PostgreSQL (`store/postgres.py`):
the writer thread owns one connection and commits in groups just the same, and each read
takes a connection from a pool for one REPEATABLE READ, READ ONLY transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from core.clock import utcnow
from core.settings import DatabaseLocation
from store import analyst_role, heartbeat, postgres, schema
from store.writer import (
    DatabaseUnavailable,
    Job,
    StorageFailure,
    Writer,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
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
# PostgreSQL: connections for reads (the store process reads from 4 threads, the worker and
# the sender from one each), and the advisory lock that lets one process migrate at a time.
POSTGRES_READERS = 8
MIGRATION_LOCK = 7_247_001
# How long a long read (an export) waits for the writer to give back the blocks it cached,
# between two commits, before it answers.
RELEASE_WAIT_SECONDS = 5
CHECKPOINT_WAIT_SECONDS = 60  # and for the checkpoint it asks for first
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


@dataclass(frozen=True)
class StoreStatus:
    down: str | None  # why writes cannot be taken at all, or None
    storage_failure: StorageFailure | None
    worker: str | None = None  # why the fulfilment worker is not running, or None


class Database:
    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        location: DatabaseLocation,
        readers: postgres.ConnectionPool | None = None,
        memory_limit: str | None = None,
    ) -> None:
        self.location = location
        self._conn = conn
        self._pool = readers  # PostgreSQL's read connections; None on DuckDB
        self._readers = threading.local()
        self._reader_conns: list[duckdb.DuckDBPyConnection] = []
        self._reader_lock = threading.Lock()
        self._closed = False
        self._writer = Writer(
            conn,
            f"{location.path}.wal" if location.is_file else None,
            memory_limit if location.backend == "duckdb" else None,
        )

    @property
    def commits(self) -> int:
        return self._writer.commits

    @property
    def under_burst(self) -> bool:
        """Whether webhooks are coming in a burst (many to a commit), as the writer last saw
        them: background work then comes in small jobs."""
        return self._writer.under_burst

    @property
    def storage_failure(self) -> StorageFailure | None:
        """The last write that failed for want of storage, until a foreground write
        succeeds."""
        return self._writer.storage_failure

    @classmethod
    def open(
        cls, location: DatabaseLocation, memory_limit: str = "200MB", lock_wait_seconds: float = 0
    ) -> Database:
        """Open (creating if needed) the database and bring its schema up to date. A file
        locked by another process is waited for, up to `lock_wait_seconds`: a sidecar
        restarted by its supervisor may start while the old store process is still exiting."""
        if location.backend == "postgresql":
            return cls._open_postgres(location)
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
        return cls(conn, location, memory_limit=memory_limit)

    @classmethod
    def _open_postgres(cls, location: DatabaseLocation) -> Database:
        """Connect the writer, migrate (one process at a time), and open the readers' pool."""
        try:
            conn = postgres.connect(location.path)
        except Exception as exc:
            raise DatabaseUnavailable(f"cannot open database {location.shown}: {exc}") from None
        try:
            conn.execute("SELECT pg_advisory_lock(?)", [MIGRATION_LOCK])
            try:
                schema.migrate(conn, now=utcnow())
                _ensure_analyst_roles(conn, location.path)
            finally:
                conn.execute("SELECT pg_advisory_unlock(?)", [MIGRATION_LOCK])
            readers = postgres.pool(location.path, POSTGRES_READERS)
        except Exception:
            conn.close()
            raise
        return cls(conn, location, readers)  # type: ignore[arg-type]

    # --- writes -------------------------------------------------------------------------

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run `fn(conn, *args)` in the writer thread; the future resolves after the commit."""
        job = Job(fn, args, future=Future())
        self._enqueue(job)
        return job.future

    def submit_background(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """As `submit`, for work nobody is waiting on (the fulfilment worker): it only rides
        along, a few jobs per commit, so a webhook's acknowledgement never waits behind a
        backlog of it."""
        job = Job(fn, args, future=Future(), background=True)
        self._writer.enqueue_background(job)
        return job.future

    def submit_batched(
        self,
        fn: Callable[..., Sequence[T]],
        item: Any,
        fallback: Callable[..., Sequence[T]] | None = None,
    ) -> Future[T]:
        """Queue `item` for `fn(conn, items) -> results`, called once for all queued items."""
        job = Job(fn, (item,), batched=True, fallback=fallback, future=Future())
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
        self._enqueue(Job(fn, args, batched, fallback, sink=sink, token=token))

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
        self._writer.enqueue(
            [Job(fn, (item,), True, fallback, sink=sink, token=token) for token, item in items]
        )

    def write(self, fn: Callable[..., T], *args: Any, timeout: float | None = 30) -> T:
        """Blocking `submit`: for the CLI, tests and worker threads."""
        return self.submit(fn, *args).result(timeout)

    async def awrite(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        job = Job(fn, args, loop=loop, afuture=loop.create_future())
        self._enqueue(job)
        return await job.afuture

    async def awrite_batched(
        self,
        fn: Callable[..., Sequence[T]],
        item: Any,
        fallback: Callable[..., Sequence[T]] | None = None,
    ) -> T:
        loop = asyncio.get_running_loop()
        job = Job(fn, (item,), True, fallback, loop=loop, afuture=loop.create_future())
        self._enqueue(job)
        return await job.afuture

    def _enqueue(self, job: Job) -> None:
        self._writer.enqueue(job)

    @property
    def writer_alive(self) -> bool:
        return self._writer.alive

    async def probe(self) -> datetime:
        """Commit a one-row write (the readiness check); raises when it cannot."""
        return await self.awrite(heartbeat.beat, utcnow())

    def status(self) -> StoreStatus:
        if not self.writer_alive:
            return StoreStatus("the database writer thread has stopped", self.storage_failure)
        return StoreStatus(None, self.storage_failure)

    async def astatus(self) -> StoreStatus:
        return self.status()

    # --- reads --------------------------------------------------------------------------

    def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(cursor, *args, **kwargs)` on this thread's read cursor, in one read
        transaction: every query of `fn` sees the same committed state (an order's status
        and its steps read apart could straddle a commit and contradict each other). After
        a long read (an export), the blocks it cached are given back (`Writer.release_cache`)."""
        if self._pool is not None:
            return self._read_postgres(fn, *args, **kwargs)
        if getattr(fn, "long_running", False):
            # What was committed since the last checkpoint is held in memory until one: fold
            # it into the file first, so that it does not crowd the long read out of DuckDB's
            # memory limit (an export after bursts of webhooks ran out of memory).
            with contextlib.suppress(DatabaseUnavailable):
                self._writer.checkpoint_soon().wait(CHECKPOINT_WAIT_SECONDS)
            try:
                return self._read_duckdb(fn, *args, **kwargs)
            finally:
                with contextlib.suppress(DatabaseUnavailable):
                    self._writer.release_cache().wait(RELEASE_WAIT_SECONDS)
        return self._read_duckdb(fn, *args, **kwargs)

    def _read_duckdb(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
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

    def _read_postgres(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._closed:
            raise DatabaseUnavailable("the database is closed")
        with self._pool.connection() as raw:  # type: ignore[union-attr]
            conn = postgres.PostgresConnection(raw)
            conn.execute("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                return fn(conn, *args, **kwargs)
            finally:
                with contextlib.suppress(postgres.Error):  # a broken connection: pool's to drop
                    conn.execute("ROLLBACK")  # nothing to keep: it only read

    async def aread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(self.read, fn, *args, **kwargs)

    def claim(self, fn: Callable[..., T], *args: Any) -> T:
        """Take a share of the work several sidecars do (`claim_due` of the inbox, the
        steps, the outbox; see `store/locks.py`). On PostgreSQL `fn(conn, *args)` is one
        statement on a pooled connection, committed at once, beside the writer: the claim
        must be seen by the other sidecars before the work begins. On DuckDB, whose file
        one sidecar owns, it is a read (the functions only read there)."""
        if self._pool is None:
            return self.read(fn, *args)
        if self._closed:
            raise DatabaseUnavailable("the database is closed")
        with self._pool.connection() as raw:  # in autocommit: the statement commits itself
            return fn(postgres.PostgresConnection(raw), *args)

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
        if not self._writer.stop(timeout):
            # Closing the connection under a running statement would crash the process;
            # leave it to the process exit (the write-ahead log keeps what committed).
            log.error("the database writer is still busy after %s s; not closing", timeout)
            return
        with self._reader_lock:
            for cursor in self._reader_conns:
                cursor.close()
        if self._pool is not None:  # PostgreSQL: the server keeps what committed
            self._pool.close()
            self._conn.close()
            return
        try:
            self._conn.execute("CHECKPOINT")
        except duckdb.Error as exc:
            log.warning("checkpoint at close failed: %s", exc)
        self._conn.close()


def _ensure_analyst_roles(conn: postgres.PostgresConnection, url: str) -> None:
    """The analysts' views and read-only roles (store/analyst_role.py); a failure leaves
    `POST /api/sql` to say why, not the sidecar unable to start."""
    try:
        analyst_role.ensure(conn, url)
    except postgres.Error as exc:
        log.error("the analysts' views and roles could not be made: %s", exc)


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
