"""The store process's client, in the web process, and the frames both ends speak.

The web process (uvicorn) parses and verifies requests; the store process
(`runtime/store_process.py`), its child, owns the DuckDB file. They talk over a socket pair
in length-prefixed pickle frames: a call is `(token, kind, function, args, extra)`, an
answer a list of `(token, ok, result or StoreError)`. The batched calls of one event-loop
iteration (the webhooks' inserts) travel as one frame, with a token each for its answer.

Functions sent to the store process travel by reference, so they must be module-level
functions; their arguments and results must pickle.

When the child dies, the client fails every pending call with `DatabaseUnavailable` and
reports it. A call the store does not answer within STORE_TIMEOUT_SECONDS (a stopped or
wedged store) fails with `StoreTimeout`, so that no request waits forever.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import pickle
import socket
import struct
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from core.clock import utcnow
from store import heartbeat
from store.database import DatabaseUnavailable, StoreStatus

log = logging.getLogger(__name__)

T = TypeVar("T")
HEADER = struct.Struct("!I")
WRITE, BATCHED, READ, STATUS = "write", "batched", "read", "status"


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


def frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


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
            kind, detail = read_frame_blocking(ours)
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
                header = await reader.readexactly(HEADER.size)
                (size,) = HEADER.unpack(header)
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
        if kind == BATCHED:
            self._batches.setdefault((fn, extra), []).append((token, args[0]))
        else:
            self._outgoing += frame((token, kind, fn, args, extra))
        return future

    def _flush(self) -> None:
        for (fn, fallback), items in self._batches.items():
            try:
                self._outgoing += frame((None, BATCHED, fn, items, fallback))
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
        return await self._call(WRITE, fn, args)

    async def awrite_batched(
        self,
        fn: Callable[..., Sequence[T]],
        item: Any,
        fallback: Callable[..., Sequence[T]] | None = None,
    ) -> T:
        # Sent in one frame with the other batched calls of this loop iteration.
        return await self._call(BATCHED, fn, (item,), fallback)

    async def aread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self._call(READ, fn, args, kwargs)

    async def probe(self) -> datetime:
        """Commit a one-row write (the readiness check); raises when it cannot."""
        return await self.awrite(heartbeat.beat, utcnow())

    async def astatus(self) -> StoreStatus:
        if self.down is not None:
            return StoreStatus(self.down, None)
        return await self._call(STATUS, None, ())

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


def read_frame_blocking(sock: socket.socket) -> Any:
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError("the store process closed the connection")
            data += chunk
        return data

    (size,) = HEADER.unpack(exactly(HEADER.size))
    return pickle.loads(exactly(size))
