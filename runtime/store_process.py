"""The store process: the one process that opens the database (its client in the web
process, and the frames they exchange, are `runtime/store_client.py`).

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

import ctypes
import dataclasses
import gc
import logging
import os
import pickle
import signal
import socket
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core import clock
from core.catalog_file import load_catalog
from core.clock import utcnow
from core.settings import load_settings
from fulfilment.worker import Worker
from runtime.background import background_work
from runtime.store_client import BATCHED, HEADER, READ, STATUS, WRITE, StoreError, frame
from store import analyst_snapshot
from store.database import Database, DatabaseUnavailable
from store.recurring import sync_templates

log = logging.getLogger(__name__)

_READ_THREADS = 4


def _portable(exc: BaseException) -> StoreError:
    return StoreError(type(exc).__name__, str(exc))


class _StoreServer:
    def __init__(self, sock: socket.socket, database: Database, worker: Worker) -> None:
        self.sock = sock
        self.database = database
        self.worker = worker
        self.send_lock = threading.Lock()
        self.reads = ThreadPoolExecutor(_READ_THREADS, thread_name_prefix="db-read")

    def send(self, obj: Any) -> None:
        data = frame(obj)
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
        if kind == BATCHED:  # args: [(token, item), …], one call's item each
            self.database.submit_batch_to_sink(self.reply, fn, args, fallback=extra)
        elif kind == WRITE:
            self.database.submit_to_sink(self.reply, token, fn, args)
        elif kind == READ:
            self.reads.submit(self.read, token, fn, args, extra)
        elif kind == STATUS:
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
            while len(buffer) - offset >= HEADER.size:
                (size,) = HEADER.unpack_from(buffer, offset)
                end = offset + HEADER.size + size
                if len(buffer) < end:
                    break
                message = pickle.loads(buffer[offset + HEADER.size : end])
                offset = end
                try:
                    self.handle(message)
                except DatabaseUnavailable as exc:
                    token, kind, _, args, _ = message
                    tokens = [t for t, _ in args] if kind == BATCHED else [token]
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
        sock.sendall(frame(("failed", str(exc))))
        return 3
    try:
        database.write(sync_templates, catalog, utcnow())
    except Exception as exc:
        database.close()
        sock.sendall(frame(("failed", f"cannot sync recurring templates: {exc}")))
        return 3
    background = background_work(database, settings, catalog)
    server = _StoreServer(sock, database, background.worker)
    background.start()
    gc.freeze()  # what start-up built lives as long as the process (see cli.main serve)
    server.send(("ready", os.getpid()))
    try:
        server.serve()
    except (ConnectionError, OSError) as exc:
        log.warning("connection to the web process lost: %s", exc)
    finally:
        background.stop()
        server.reads.shutdown(wait=True)
        analyst_snapshot.stop()
        database.close()
    return 0
