"""The wire: the threaded HTTP server the fake listens with, and what it records of each
request."""

from __future__ import annotations

import base64
import binascii
import sys
import time
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import TYPE_CHECKING, Any

from tests.fakes.stripe.params import (
    DRAIN_BYTES,
    MAX_BODY_BYTES,
)

if TYPE_CHECKING:
    from tests.fakes.stripe.server import FakeStripe


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake answered: its parsed params and what it was told."""

    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]
    status: int
    request_id: str
    query: str = ""
    body: str = ""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    @property
    def idempotency_key(self) -> str | None:
        return self.header("Idempotency-Key")

    @property
    def api_key(self) -> str | None:
        return _api_key(self.header("Authorization"))


def _api_key(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return credentials or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


def _redact(key: str) -> str:
    if len(key) <= 12:
        return key[:3] + "*" * max(len(key) - 3, 0)
    prefix = key[: key.index("_", 3) + 1] if key.count("_") >= 2 else key[:3]
    return prefix + "*" * 4 + key[-4:]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: down() really refuses
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        self.close_connection = True
        fake = self.server.fake
        try:
            body: bytes | None
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = 0
            if length <= MAX_BODY_BYTES:
                body = self.rfile.read(length) if length > 0 else b""
            else:
                body = None  # refused with a 413, after draining what is reasonable to drain
                remaining = min(length, DRAIN_BYTES)
                while remaining > 0 and (chunk := self.rfile.read(min(remaining, 65536))):
                    remaining -= len(chunk)
            status, headers, data, delay = fake._serve(
                self.command, self.path, dict(self.headers.items()), body
            )
        except OSError:
            return  # the client went away while we were reading
        if delay:
            time.sleep(delay)
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (e.g. timed out during delay_next)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeStripe) -> None:
        self.fake = fake
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn); skip it.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client hanging up is no error
            self.fake._record_error(traceback.format_exc())
