"""The writer thread: the one owner of the write transaction, committing in groups.

Whatever has queued up since the last commit runs inside one transaction and commits once
(see `store/database.py` for why). If anything in a group raises, the group is rolled back
and re-run piece by piece, each in a transaction of its own, so one bad job cannot fail the
others; a batched function's `fallback` is used for that second run. Background jobs (the
fulfilment worker) ride along one per commit, only once the foreground has paused.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from core.clock import utcnow
from store import heartbeat, postgres

log = logging.getLogger(__name__)

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
# A background job (fulfilment) can take 10+ ms, and a webhook's 200 waits for the whole
# commit it is in. So background jobs run one per commit, and only once no foreground job
# has come for a moment: 2 ms at a steady trickle of webhooks, so the worker keeps up;
# 20 ms under a burst, so it waits and catches up when the burst ends.
# DuckDB folds its write-ahead log into the database file inside the commit that crosses
# `checkpoint_threshold`, and every acknowledgement queued behind that commit waits: on a
# database of a million orders one checkpoint takes 0.4 s to seconds (it rewrites the
# indexes of every table written since the last one). So the writer also checkpoints when
# nothing at all has been committed for QUIET_BEFORE_CHECKPOINT (no webhook, no fulfilment
# work) and the log holds at least CHECKPOINT_WHEN_QUIET: the next burst starts with an
# empty log, and the memory the log's rows hold is given back. Measured with `make bench`:
# checkpointing after 0.2 s without webhooks, while the worker was still busy, put the
# checkpoint at the start of the next burst (p99 1 to 3 s instead of 0.16 s).
QUIET_BEFORE_CHECKPOINT = 2.0  # seconds without any commit
# DuckDB keeps every block it has read cached up to its memory limit, and gives none back: an
# export reads every table and leaves the store process at the limit for good (RSS 380 MB
# with a million orders at 200 MB). After an export the writer lowers the limit to the first
# of these fractions that can be met (indexes and reads in flight hold what they hold) for an
# instant, which evicts the cached blocks nobody is using (re-read from the file, through
# the OS's cache, when next needed), and sets it back. In the writer thread, between two
# commits, so that no write of ours is in flight. Not at every quiet moment: the next burst
# of webhooks would read back the blocks of the inbox and its key.
RELEASE_TO_FRACTIONS = (0.25, 0.35, 0.5, 0.75)  # tried in turn (indexes may hold more)
CHECKPOINT_WHEN_QUIET = 16 << 20  # bytes of write-ahead log
IDLE_BEFORE_BACKGROUND = 0.002  # seconds, at a steady trickle of webhooks
IDLE_UNDER_BURST = 0.02  # seconds, when commits carry many webhooks each (a burst)
BURST_GROUP = 8  # webhooks per commit, on average, that count as a burst
# On a big database one background job can take far longer than 20 ms (a payment's order
# made one by one, its rows checked against indexes of millions of keys: 0.1 to 0.3 s), and
# every webhook that arrives meanwhile waits for it. Under a burst, background work waits
# for a pause at least this many times as long as its last job took.
PAUSE_PER_BACKGROUND_SECOND = 2
# PostgreSQL, several sidecars: a job that lost a race with another sidecar's transaction
# (postgres.lost_a_race) is run this many times alone before its error stands.
CONTENDED_TRIES = 3


class DatabaseUnavailable(RuntimeError):
    """The database cannot be opened or written; the message says why."""


@dataclass(frozen=True)
class StorageFailure:
    """A write that failed because the database could not be written (not a bad query)."""

    at: datetime
    message: str


def is_storage_failure(exc: BaseException) -> bool:
    """Disk full, file too large, I/O error, a database DuckDB has invalidated …"""
    if isinstance(exc, (duckdb.IOException, duckdb.FatalException, duckdb.OutOfMemoryException)):
        return True
    if isinstance(exc, postgres.Unavailable):  # disk full, server gone, connection lost
        return True
    text = str(exc)
    return "Failed to commit" in text or "invalidated" in text or isinstance(exc, OSError)


@dataclass(slots=True)
class Job:
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
    jobs: list[Job] = field(default_factory=list)
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


class Writer:
    """The thread that owns `conn` for writing; jobs reach it through `enqueue`."""

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        wal_path: str | None = None,
        memory_limit: str | None = None,
    ) -> None:
        self._conn = conn
        self._wal_path = wal_path  # the write-ahead log's file, None in memory
        # DuckDB's memory limit as configured ("200MB"), None when the cache is not released
        self._memory_limit = memory_limit
        self._released: collections.deque[threading.Event] = collections.deque()
        self._checkpointed: collections.deque[threading.Event] = collections.deque()
        self.releases = 0  # times the cache was released
        self._logged = False  # committed since the last look at the log's size
        self._last_commit = time.monotonic()
        self.checkpoints = 0  # taken at quiet moments
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._background: collections.deque[Job] = collections.deque()
        self.closed = False
        self.commits = 0
        # Whether webhooks are coming in a burst (many to a commit), as the writer last saw:
        # the worker then hands over smaller jobs (fulfilment/worker.py), since every webhook
        # that comes while one runs waits for it.
        self.under_burst = False
        # The last write that failed for want of storage, until a foreground write succeeds
        # (see _proves_writable).
        self.storage_failure: StorageFailure | None = None
        self._thread = threading.Thread(target=self._run, name="db-writer", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def enqueue(self, job: Job | list[Job]) -> None:
        """Queue a job, or a frame's worth of batched jobs taken in one go."""
        self._check_open()
        self._queue.put(job)

    def enqueue_background(self, job: Job) -> None:
        self._check_open()
        self._background.append(job)
        self._queue.put(_WAKE)

    def checkpoint_soon(self) -> threading.Event:
        """Have the writer fold the write-ahead log into the file between two commits (the
        rows committed since the last checkpoint are held in memory until then); the event
        is set once it has tried."""
        done = threading.Event()
        if self._wal_path is None:
            done.set()
            return done
        self._checkpointed.append(done)
        self._queue.put(_WAKE)
        return done

    def release_cache(self) -> threading.Event:
        """Have the writer evict DuckDB's unused cached blocks between two commits; the
        event is set once it has (at once when there is nothing to release)."""
        done = threading.Event()
        if self._memory_limit is None:
            done.set()
            return done
        self._released.append(done)
        self._queue.put(_WAKE)
        return done

    def _checkpoint_now(self) -> None:
        try:
            self._conn.execute("CHECKPOINT")
            self.checkpoints += 1
            self._logged = False
        except duckdb.Error as exc:
            log.warning("checkpoint asked for failed: %s", exc)
        finally:
            while self._checkpointed:
                self._checkpointed.popleft().set()

    def _release_cache_now(self) -> None:
        try:
            self._release()
        finally:
            while self._released:
                self._released.popleft().set()

    def _release(self) -> None:
        limit = _bytes(self._memory_limit)
        if limit is None:
            return
        try:
            for fraction in RELEASE_TO_FRACTIONS:  # the lowest that can be met
                try:
                    self._conn.execute(f"SET memory_limit = '{int(limit * fraction)}B'")
                except duckdb.Error as exc:  # more is in use than that
                    log.debug("cache not released to %s of the limit: %s", fraction, exc)
                    continue
                self.releases += 1
                return
        finally:
            self._conn.execute(f"SET memory_limit = '{self._memory_limit}'")

    def _check_open(self) -> None:
        if self.closed or not self._thread.is_alive():
            raise DatabaseUnavailable("the database writer has stopped")

    def stop(self, timeout: float | None) -> bool:
        """Finish the queued foreground writes and stop; False when the thread is still busy
        after `timeout`. Background work not yet started is dropped, its waiters told."""
        self.closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        while self._background:  # never started: tell whoever is waiting
            job = self._background.popleft()
            _settle([(job, False, DatabaseUnavailable("the database is closed"))])
        return True

    def _run(self) -> None:
        carried: Any = None  # a job taken off the queue while waiting for idleness
        last_foreground = 0.0
        busy = 0.0  # moving average of foreground group sizes: how hard webhooks are coming
        last_background = 0.0  # seconds the last background job took
        while True:
            first = carried if carried is not None else self._next()
            carried = None
            if self._checkpointed:  # asked for (checkpoint_soon)
                self._checkpoint_now()
            if self._released:  # asked for (release_cache)
                self._release_cache_now()
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
                self.under_burst = busy >= BURST_GROUP
            elif self._background:
                # Background work waits until foreground work has paused for a moment, so
                # that under a burst of webhooks it never stands between two commits.
                wait = (
                    max(IDLE_UNDER_BURST, PAUSE_PER_BACKGROUND_SECOND * last_background)
                    if busy >= BURST_GROUP
                    else IDLE_BEFORE_BACKGROUND
                )
                idle_for = wait - (time.monotonic() - last_foreground)
                if idle_for > 0:
                    try:
                        carried = self._queue.get(timeout=idle_for)
                    except queue.Empty:
                        carried = None
                    if carried is None or carried is _WAKE:
                        carried = _WAKE
                    continue
                began = time.monotonic()
                self._run_group([self._background.popleft()])
                last_background = time.monotonic() - began
            if stopping:
                break
            if self._background:
                self._queue.put(_WAKE)  # more background work: come back after this commit

    def _next(self) -> Any:
        """The next item of the queue; at a quiet moment, a checkpoint first when due."""
        while self._logged:
            quiet_in = QUIET_BEFORE_CHECKPOINT - (time.monotonic() - self._last_commit)
            if quiet_in > 0:
                try:
                    return self._queue.get(timeout=quiet_in)
                except queue.Empty:
                    pass
            self._checkpoint_if_due()
        return self._queue.get()

    def _checkpoint_if_due(self) -> None:
        """Fold the write-ahead log into the file when it has grown past
        CHECKPOINT_WHEN_QUIET (a failure is logged; DuckDB's threshold still applies)."""
        self._logged = False
        try:
            size = os.path.getsize(self._wal_path) if self._wal_path else 0
        except OSError:  # no log: nothing to fold
            return
        if size < CHECKPOINT_WHEN_QUIET:
            return
        try:
            self._conn.execute("CHECKPOINT")
            self.checkpoints += 1
        except duckdb.Error as exc:
            log.warning("checkpoint at a quiet moment failed: %s", exc)

    def _run_group(self, jobs: list[Job]) -> None:
        try:
            self._run_jobs([j for j in jobs if j.future is None or _claim(j.future)])
        except BaseException:  # never leave a caller waiting on a dead thread
            log.exception("database writer failed")
            _settle([(j, False, DatabaseUnavailable("the database writer failed")) for j in jobs])
            raise

    def _run_jobs(self, jobs: list[Job]) -> None:
        groups = _group(jobs)
        try:
            results = self._transaction(groups, retrying=False)
        except Exception as exc:
            if (
                len(jobs) == 1
                and not (jobs[0].batched and jobs[0].fallback)
                and not postgres.lost_a_race(exc)
            ):
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

    def _run_alone(self, group: _Group) -> list[tuple[Job, bool, Any]]:
        """Second chance after a failed group: this group alone, then each job alone."""
        try:
            results = self._second_chance(group)
        except Exception as exc:
            if len(group.jobs) == 1:
                return [(group.jobs[0], False, exc)]
            outcomes = []
            for job in group.jobs:
                single = _Group(job.fn, [job], job.batched, job.fallback)
                try:
                    (result,) = self._second_chance(single)
                except Exception as job_exc:
                    outcomes.append((job, False, job_exc))
                else:
                    outcomes.append((job, True, result))
            return outcomes
        return [(job, True, result) for job, result in zip(group.jobs, results, strict=True)]

    def _second_chance(self, group: _Group) -> list[Any]:
        """The group alone; on PostgreSQL once more if another sidecar's transaction won a
        race with it (a unique key both inserted, a deadlock): run again, it finds the
        other's row and does what a check on DuckDB's single writer would have done."""
        for tries_left in range(CONTENDED_TRIES, 0, -1):
            try:
                return self._transaction([group], retrying=True)
            except Exception as exc:
                if tries_left == 1 or not postgres.lost_a_race(exc):
                    raise
        raise AssertionError("unreachable")

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
        self._logged = self._wal_path is not None
        self._last_commit = time.monotonic()
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
            with contextlib.suppress(duckdb.Error, postgres.Error):  # gone after a failed COMMIT
                conn.execute("ROLLBACK")
            raise
        return results


def _group(jobs: list[Job]) -> list[_Group]:
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


def _proves_writable(job: Job) -> bool:
    """Whether a job's commit shows that storing works again after a storage failure: a
    foreground write does; the probe's one-row write and the worker's small updates fit
    where a webhook's payload may not, so they do not."""
    return not job.background and job.fn is not heartbeat.beat


def _claim(future: Future) -> bool:
    """False when the caller cancelled before the writer got to the job."""
    return future.set_running_or_notify_cancel()


def _jobs_of(groups: list[_Group]) -> list[Job]:
    return [job for group in groups for job in group.jobs]


def _settle(outcomes: list[tuple[Job, bool, Any]]) -> None:
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


_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2,
          "gib": 1024**3}  # fmt: skip


def _bytes(limit: str | None) -> int | None:
    """ "200MB" (DuckDB's units) in bytes; None when it is not a plain size."""
    text = (limit or "").strip().lower().replace(" ", "")
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(number) :] or "b"
    try:
        return int(float(number) * _UNITS[unit])
    except (KeyError, ValueError):
        return None
