"""Limits on slow and oversized HTTP clients, in uvicorn's httptools protocol.

uvicorn leaves a connection open for as long as its client takes to send a request's headers
and body, and keeps every header it is sent in memory. So 3,000 connections each sending a
byte now and then stayed open for good, and under a 1,024 file limit about 1,000 of them
made the sidecar unreachable; a 20 MB header was buffered whole. This protocol adds:

- a deadline for a request's headers (from the connection, or from the first byte of the
  next request on a kept-alive one), answered 408 and closed;
- a deadline for its body, from the end of the headers, closed (408 if no answer has begun);
- a cap on the size of the headers, answered 431 and closed as soon as it is crossed;
- a cap on open connections: beyond it, the connection that has waited longest for its
  headers (the likeliest slowloris) is closed to make room, or, if none is waiting, the new
  one is answered 503.

uvicorn's own `timeout_keep_alive` closes a kept-alive connection that sends nothing.
"""

from __future__ import annotations

import asyncio
import logging
import math
import resource
from dataclasses import dataclass

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpLimits:
    header_timeout: float = 10.0  # seconds to send a request's headers
    body_timeout: float = 30.0  # seconds to send its body, after the headers
    max_header_bytes: int = 64 * 1024
    max_connections: int = 1000


def _response(status: int, reason: str, extra: str = "") -> bytes:
    body = f"{reason}\n".encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\n{extra}connection: close\r\n\r\n"
    ).encode() + body


TIMEOUT_408 = _response(408, "Request Timeout")
TOO_LARGE_431 = _response(431, "Request Header Fields Too Large")
BUSY_503 = _response(503, "Service Unavailable", "retry-after: 5\r\n")


def protocol_class(limits: HttpLimits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with these limits (for `uvicorn.Config(http=…)`)."""

    class LimitedHttpToolsProtocol(_Limited):
        pass

    LimitedHttpToolsProtocol.limits = limits
    LimitedHttpToolsProtocol.waiting = {}
    LimitedHttpToolsProtocol.last_full_warning = -math.inf
    return LimitedHttpToolsProtocol


class _Limited(HttpToolsProtocol):
    limits: HttpLimits
    # Connections waiting for a request's headers, oldest first (a dict keeps that order).
    waiting: dict[_Limited, None]
    last_full_warning: float  # loop time of the last "too many connections" log line

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._in_headers = True  # what arrives now is a request line or headers
        self._header_bytes = 0
        self._wait_for_headers()
        if len(self.connections) > self.limits.max_connections:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self.waiting.pop(self, None)
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        # Still in the headers after all of it was parsed: every byte so far was headers.
        if (
            self._in_headers
            and self._header_bytes > self.limits.max_header_bytes
            and not self.transport.is_closing()
        ):
            log.warning("%s: headers over %d bytes: 431", self._peer(), self._header_bytes)
            self._refuse(TOO_LARGE_431)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        if self not in self.waiting:
            self._wait_for_headers()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._header_bytes = 0
        self.waiting.pop(self, None)
        self._set_deadline(self.limits.body_timeout, self._body_timed_out)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._cancel_deadline()
        self._in_headers = True  # the next request, if the connection is kept alive
        super().on_message_complete()

    # --- deadlines and refusals ----------------------------------------------------------

    def _wait_for_headers(self) -> None:
        self.waiting[self] = None
        self._set_deadline(self.limits.header_timeout, self._headers_timed_out)

    def _set_deadline(self, seconds: float, handler) -> None:
        self._cancel_deadline()
        self._deadline = self.loop.call_later(seconds, handler)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_timed_out(self) -> None:
        if self in self.waiting and not self.transport.is_closing():
            timeout = self.limits.header_timeout
            log.info("%s: no complete headers within %g s: 408", self._peer(), timeout)
            self._refuse(TIMEOUT_408)

    def _body_timed_out(self) -> None:
        if self.transport.is_closing():
            return
        log.info("%s: body not sent within %g s: closed", self._peer(), self.limits.body_timeout)
        if self.cycle is not None and not self.cycle.response_started:
            self.transport.write(TIMEOUT_408)
        self.transport.close()

    def _refuse(self, response: bytes) -> None:
        self.waiting.pop(self, None)
        # No longer counted now, rather than once the close completes: uvicorn counts the
        # connections when the next request's headers are in, maybe in this loop iteration.
        self.connections.discard(self)
        self._cancel_deadline()
        self.transport.write(response)
        self.transport.close()

    def _make_room(self) -> None:
        oldest = next((c for c in self.waiting if c is not self), None)
        full = self._warn_once_in_a_while()
        if oldest is not None:
            full("closing the connections that have waited longest for their headers")
            oldest._refuse(TIMEOUT_408)
        else:
            full("answering new connections 503")
            self._refuse(BUSY_503)

    def _warn_once_in_a_while(self):
        """A log line every 10 s at most: a flood of connections must not flood the log."""
        now = self.loop.time()
        if now - type(self).last_full_warning < 10:
            return lambda what: None
        type(self).last_full_warning = now
        return lambda what: log.warning(
            "%d connections open, the cap (HTTP_MAX_CONNECTIONS): %s",
            self.limits.max_connections,
            what,
        )

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "client"


def raise_open_file_limit() -> tuple[int, int]:
    """Raise this process's soft limit on open files to the hard limit (often 1,024 against
    hundreds of thousands): every connection is a file. Answers (soft, hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open file limit from %d to %d: %s", soft, hard, exc)
    return soft, hard
