"""The store process: the one process that opens the database, and its client.

The sidecar runs as two processes. The web process (uvicorn) parses and verifies requests;
the store process, its child, owns the DuckDB file, its one writer thread and the read
cursors. They talk over a socket pair in length-prefixed pickle frames. The batched calls
of one event-loop iteration (the webhooks' inserts) travel as one frame and reach the
writer as one hand-over, with a token each for its answer.

Why a process and not just a thread: DuckDB's Python binding takes the GIL back several
times during every statement, so a writer thread beside a busy event loop spends as long
waiting for the GIL as committing. In its own process the writer commits at full speed,
and later CPU work beside it (the fulfilment worker) cannot slow the webhook's 200s.

Functions sent to the store process travel by reference, so they must be module-level
functions; their arguments and results must pickle. Write functions take the
connection first and do not commit (see `store.database`).

Lifecycle: the client starts the child and waits for "ready" (or the reason it could not
open the database). When the web process shuts down, the child reads end-of-file, finishes
what it has queued, checkpoints and exits. When the web process dies (kill -9, a crash), the
kernel kills the child at once (PR_SET_PDEATHSIG): nobody is left to answer, and a graceful
finish would hold the database file's lock for seconds against the restarted sidecar. When
the child dies, the client fails every pending call with `DatabaseUnavailable` and reports
it. A call the store does not answer within STORE_TIMEOUT_SECONDS (a stopped or wedged
store) fails with `StoreTimeout`, so that no request waits forever.
"""

from __future__ import annotations

import asyncio
import ctypes
import dataclasses
import gc
import itertools
import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from core import clock
from core.catalog_file import load_catalog
from core.clock import utcnow
from core.settings import load_settings
from fulfilment.worker import RetryPolicy, Worker
from senders.sender import Sender
from store import analyst_snapshot, heartbeat
from store.database import Database, DatabaseUnavailable, StoreStatus
from store.recurring import sync_templates

log = logging.getLogger(__name__)

T = TypeVar("T")
_HEADER = struct.Struct("!I")
_READ_THREADS = 4
_WRITE, _BATCHED, _READ, _STATUS = "write", "batched", "read", "status"


class StoreError(RuntimeError):
    """An exception raised in the store process, carried back by name and message."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(type_name, message)  # the args are what pickle rebuilds it from
        self.type_name = type_name
        self.message = message

    def __str__(self) -> str:
        return f"{self.type_name}: {self.message}"


class StoreTimeout(DatabaseUnavailable):
    """The store process did not answer a call in time: it is stopped, wedged or swamped."""


def _frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def _portable(exc: BaseException) -> StoreError:
    return StoreError(type(exc).__name__, str(exc))


# --- the store process ----------------------------------------------------------------


class _StoreServer:
    def __init__(self, sock: socket.socket, database: Database, worker: Worker) -> None:
        self.sock = sock
        self.database = database
        self.worker = worker
        self.send_lock = threading.Lock()
        self.reads = ThreadPoolExecutor(_READ_THREADS, thread_name_prefix="db-read")

    def send(self, obj: Any) -> None:
        data = _frame(obj)
        with self.send_lock:
            self.sock.sendall(data)

    def reply(self, outcomes: list[tuple[Any, bool, Any]]) -> None:
        """Called by the writer once per commit with every outcome of that commit."""
        self.send([(token, ok, value if ok else _portable(value)) for token, ok, value in outcomes])

    def read(self, token: int, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        try:
            result = self.database.read(fn, *args, **kwargs)
        except Exception as exc:
            self.send([(token, False, _portable(exc))])
        else:
            self.send([(token, True, result)])

    def handle(self, message: tuple) -> None:
        token, kind, fn, args, extra = message
        if kind == _BATCHED:  # args: [(token, item), …], one call's item each
            self.database.submit_batch_to_sink(self.reply, fn, args, fallback=extra)
        elif kind == _WRITE:
            self.database.submit_to_sink(self.reply, token, fn, args)
        elif kind == _READ:
            self.reads.submit(self.read, token, fn, args, extra)
        elif kind == _STATUS:
            status = dataclasses.replace(self.database.status(), worker=self.worker.problem())
            self.send([(token, True, status)])
        else:
            self.send([(token, False, StoreError("ValueError", f"unknown call {kind!r}"))])

    def serve(self) -> None:
        buffer = bytearray()
        while True:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                return  # the web process has gone: finish up
            buffer += chunk
            offset = 0
            while len(buffer) - offset >= _HEADER.size:
                (size,) = _HEADER.unpack_from(buffer, offset)
                end = offset + _HEADER.size + size
                if len(buffer) < end:
                    break
                message = pickle.loads(buffer[offset + _HEADER.size : end])
                offset = end
                try:
                    self.handle(message)
                except DatabaseUnavailable as exc:
                    token, kind, _, args, _ = message
                    tokens = [t for t, _ in args] if kind == _BATCHED else [token]
                    self.send([(t, False, _portable(exc)) for t in tokens])
            del buffer[:offset]


# prctl(2): "deliver this signal to me when my parent dies" (Linux only).
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> bool:
    """Have the kernel kill this process when the web process that started it dies, then
    check that it has not died already (it may, between its fork and this call). Answers
    whether the parent is still there."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    return os.getppid() == parent_pid


def main(argv: list[str]) -> int:
    """The store process's main (`python -m runtime FD PARENT_PID`, started by
    `StoreClient`); it reads the same environment as the web process that started it."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s store %(name)s: %(message)s"
    )
    fd, parent_pid = argv
    if not die_with_parent(int(parent_pid)):
        log.warning("the web process (pid %s) is gone before the store started", parent_pid)
        return 3
    # DuckDB's Python binding takes the GIL back several times during each statement; at
    # the default 5 ms switch interval the writer would queue behind the socket reader and
    # the read threads for most of every commit.
    sys.setswitchinterval(0.0001)
    # Ctrl+C in a terminal and `systemctl stop` signal the whole process group. The web
    # process shuts down in order and then closes the socket; the store stops on that
    # end-of-file, after its last commit, rather than in the middle of one.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sock = socket.socket(fileno=int(fd))
    try:
        settings = load_settings()
        clock.set_shift(settings.clock_shift_seconds)
        catalog = load_catalog(settings.catalog_path)
        database = Database.open(
            settings.database,
            settings.duckdb_memory_limit,
            lock_wait_seconds=settings.database_lock_wait_seconds,
        )
    except Exception as exc:
        sock.sendall(_frame(("failed", str(exc))))
        return 3
    try:
        database.write(sync_templates, catalog, utcnow())
    except Exception as exc:
        database.close()
        sock.sendall(_frame(("failed", f"cannot sync recurring templates: {exc}")))
        return 3
    worker = Worker(
        database,
        catalog,
        RetryPolicy(base_seconds=settings.fulfilment_retry_seconds),
        livemode=settings.stripe_livemode,
        faults=settings.fault_drill,
    )
    sender = Sender(database, settings, catalog)
    server = _StoreServer(sock, database, worker)
    worker.start()
    sender.start()
    gc.freeze()  # what start-up built lives as long as the process (see cli.main serve)
    server.send(("ready", os.getpid()))
    try:
        server.serve()
    except (ConnectionError, OSError) as exc:
        log.warning("connection to the web process lost: %s", exc)
    finally:
        sender.stop()
        worker.stop()
        server.reads.shutdown(wait=True)
        analyst_snapshot.stop()
        database.close()
    return 0


# --- the client, in the web process ---------------------------------------------------


class StoreClient:
    """The web process's handle on the store process; the same calls as `Database`."""

    SHUTTING_DOWN = "the sidecar is shutting down"

    def __init__(
        self, process: subprocess.Popen, sock: socket.socket, call_timeout: float | None = None
    ) -> None:
        self.process = process
        self._sock = sock
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future] = {}
        # Seconds a call waits for its answer (None: for ever), and each waiting call's
        # deadline on the loop's clock, in the order the calls were made.
        self.call_timeout = call_timeout
        self._deadlines: dict[int, float] = {}
        self._watchdog: asyncio.Task | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._outgoing = bytearray()  # frames of this loop iteration, sent in one write
        # Batched calls of this loop iteration, by (function, fallback): one frame each.
        self._batches: dict[tuple[Any, Any], list[tuple[int, Any]]] = {}
        self._reader_task: asyncio.Task | None = None
        self.down: str | None = None  # why the store process is gone, once it is
        self.on_down: Callable[[str], None] | None = None

    @classmethod
    def start(cls, timeout: float = 120, call_timeout: float | None = None) -> StoreClient:
        """Start the store process (it reads the same environment as this process) and wait
        until it has opened the database. Afterwards, a call not answered within
        `call_timeout` seconds fails with `StoreTimeout`."""
        ours, theirs = socket.socketpair()
        # The child dies with the thread that forks it (PR_SET_PDEATHSIG follows the thread,
        # not the process): call this from the thread that lives as long as the server.
        process = subprocess.Popen(
            [sys.executable, "-m", "runtime", str(theirs.fileno()), str(os.getpid())],
            pass_fds=[theirs.fileno()],
        )
        theirs.close()
        ours.settimeout(timeout)
        try:
            kind, detail = _read_frame_blocking(ours)
        except (OSError, EOFError) as exc:
            process.kill()
            raise DatabaseUnavailable(f"the store process did not start: {exc}") from None
        if kind != "ready":
            process.wait(30)
            raise DatabaseUnavailable(detail)
        ours.settimeout(None)
        return cls(process, ours, call_timeout)

    async def connect(self) -> None:
        reader, self._writer = await asyncio.open_unix_connection(sock=self._sock)
        self._reader_task = asyncio.create_task(self._read_replies(reader))
        if self.call_timeout is not None:
            self._watchdog = asyncio.create_task(self._expire_calls(self.call_timeout))

    async def _expire_calls(self, timeout: float) -> None:
        """Fail the calls the store has not answered in time. One timer for all calls, not
        one per call: the webhook's path stays as cheap as it was."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, timeout / 4))
            now = loop.time()
            expired = []
            for token, deadline in self._deadlines.items():
                if deadline > now:
                    break  # in the order they were made: the rest are younger
                expired.append(token)
            if not expired:
                continue
            log.error(
                "the store process has not answered %d call(s) within %g s", len(expired), timeout
            )
            for token in expired:
                del self._deadlines[token]
                future = self._pending.pop(token, None)
                if future is not None and not future.done():
                    future.set_exception(
                        StoreTimeout(f"the store process did not answer within {timeout:g} s")
                    )

    async def _read_replies(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                header = await reader.readexactly(_HEADER.size)
                (size,) = _HEADER.unpack(header)
                for token, ok, value in pickle.loads(await reader.readexactly(size)):
                    self._deadlines.pop(token, None)
                    future = self._pending.pop(token, None)
                    if future is None or future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            code = await asyncio.to_thread(self._exit_code)
            self._fail_all(
                "the store process has exited"
                + (f" with status {code}" if code is not None else f" ({exc})")
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a reply we cannot read: nothing after it can be trusted
            log.exception("unreadable reply from the store process")
            self._fail_all(f"unreadable reply from the store process: {exc}")

    def _fail_all(self, reason: str) -> None:
        if self.down is None:
            self.down = reason
            log.critical("%s: no event can be stored", reason)
            if self.on_down is not None:
                self.on_down(reason)
        pending, self._pending = self._pending, {}
        self._deadlines.clear()
        for future in pending.values():
            if not future.done():
                future.set_exception(DatabaseUnavailable(reason))

    def _call(self, kind: str, fn: Any, args: tuple, extra: Any = None) -> asyncio.Future:
        if self.down is not None or self._writer is None:
            raise DatabaseUnavailable(self.down or "the store process is not connected")
        token = next(self._ids)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending[token] = future
        if self.call_timeout is not None and not getattr(fn, "long_running", False):
            self._deadlines[token] = loop.time() + self.call_timeout
        if not self._outgoing and not self._batches:
            loop.call_soon(self._flush)
        if kind == _BATCHED:
            self._batches.setdefault((fn, extra), []).append((token, args[0]))
        else:
            self._outgoing += _frame((token, kind, fn, args, extra))
        return future

    def _flush(self) -> None:
        for (fn, fallback), items in self._batches.items():
            try:
                self._outgoing += _frame((None, _BATCHED, fn, items, fallback))
            except Exception as exc:  # an argument that cannot be pickled: fail these calls
                for token, _ in items:
                    future = self._pending.pop(token, None)
                    if future is not None and not future.done():
                        future.set_exception(exc)
        self._batches.clear()
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(bytes(self._outgoing))
        self._outgoing.clear()

    async def awrite(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._call(_WRITE, fn, args)

    async def awrite_batched(
        self,
        fn: Callable[..., Sequence[T]],
        item: Any,
        fallback: Callable[..., Sequence[T]] | None = None,
    ) -> T:
        # Sent in one frame with the other batched calls of this loop iteration.
        return await self._call(_BATCHED, fn, (item,), fallback)

    async def aread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self._call(_READ, fn, args, kwargs)

    async def probe(self) -> datetime:
        """Commit a one-row write (the readiness check); raises when it cannot."""
        return await self.awrite(heartbeat.beat, utcnow())

    async def astatus(self) -> StoreStatus:
        if self.down is not None:
            return StoreStatus(self.down, None)
        return await self._call(_STATUS, None, ())

    async def aclose(self, timeout: float = 30) -> None:
        """Let the store process finish its queue, checkpoint and exit."""
        if self._writer is not None:
            self._writer.close()
        self.down = self.down or self.SHUTTING_DOWN
        await asyncio.to_thread(self._wait, timeout)
        if self._reader_task is not None:
            self._reader_task.cancel()
        if self._watchdog is not None:
            self._watchdog.cancel()

    def _exit_code(self) -> int | None:
        try:
            return self.process.wait(5)
        except subprocess.TimeoutExpired:
            return None

    def _wait(self, timeout: float) -> None:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("the store process did not exit within %s s; killing it", timeout)
            self.process.kill()
            self.process.wait()


def _read_frame_blocking(sock: socket.socket) -> Any:
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError("the store process closed the connection")
            data += chunk
        return data

    (size,) = _HEADER.unpack(exactly(_HEADER.size))
    return pickle.loads(exactly(size))
