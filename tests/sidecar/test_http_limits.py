"""Slow and oversized clients, with raw sockets: against a real uvicorn running the limited
protocol with short deadlines (so the tests take seconds), and against a real sidecar."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
import uvicorn

from runtime.sidecar_process import free_port
from sidecar.http_limits import HttpLimits, protocol_class

pytestmark = pytest.mark.slow

LIMITS = HttpLimits(header_timeout=1.0, body_timeout=1.0, max_connections=20)


async def echo_app(scope, receive, send) -> None:
    """Reads the whole body, answers 200 with its length."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A real uvicorn (in a thread of this process) with the limited protocol."""
    port = free_port()
    config = uvicorn.Config(
        echo_app,
        host="127.0.0.1",
        port=port,
        loop="asyncio",
        http=protocol_class(LIMITS),
        lifespan="off",
        log_level="warning",
        timeout_keep_alive=5,
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    while not uv.started:
        time.sleep(0.01)
    yield f"127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(10)


def connect(address: str) -> socket.socket:
    host, port = address.split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (10 s at most)."""
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_a_connection_that_sends_nothing_is_answered_408_and_closed(server):
    with connect(server) as sock:
        assert read_until_closed(sock).startswith(b"HTTP/1.1 408 ")


def test_slowloris_connections_dripping_headers_are_closed_after_the_header_deadline(server):
    socks = [connect(server) for _ in range(10)]
    closed: list[bytes] = []

    def drip(sock: socket.socket) -> None:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        sock.settimeout(0.2)
        with contextlib.suppress(OSError):
            for n in range(100):  # 20 s of a header line every 0.2 s, unless closed
                sock.sendall(b"X-Drip-%d: y\r\n" % n)
                with contextlib.suppress(TimeoutError):
                    if chunk := sock.recv(65536):
                        closed.append(chunk)
                        return
                    closed.append(b"")  # closed without a word
                    return

    threads = [threading.Thread(target=drip, args=(s,)) for s in socks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for sock in socks:
        sock.close()

    assert len(closed) == 10
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in closed)


def test_a_body_that_is_not_sent_in_time_is_answered_408_and_closed(server):
    with connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")

        assert read_until_closed(sock).startswith(b"HTTP/1.1 408 ")


def test_a_1_mb_header_is_refused_with_431_before_it_is_all_read(server):
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sent = 0
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < 1024 * 1024:
                sock.sendall(b"a" * 8192)
                sent += 8192
        answer = read_until_closed(sock)

    assert answer.startswith(b"HTTP/1.1 431 ") or answer == b""


def test_a_request_is_served_while_more_idle_connections_than_the_cap_are_open(server):
    idle = [connect(server) for _ in range(3 * LIMITS.max_connections)]
    try:
        time.sleep(0.2)  # let the server accept them all
        response = requests.post(f"http://{server}/", data=b"x" * 1000, timeout=10)
    finally:
        for sock in idle:
            sock.close()

    assert response.status_code == 200
    assert response.text == "1000"


def test_a_normal_request_with_a_body_is_served(server):
    response = requests.post(f"http://{server}/", data=b"x" * 200_000, timeout=10)

    assert (response.status_code, response.text) == (200, "200000")


# --- the real sidecar ------------------------------------------------------------------------


def test_the_sidecar_refuses_a_huge_header_and_serves_beside_many_idle_connections(
    start_sidecar_process,
):
    sidecar = start_sidecar_process(HTTP_MAX_CONNECTIONS="100")
    address = sidecar.url.removeprefix("http://")

    with connect(address) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(128):
                sock.sendall(b"a" * 8192)
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 ") or answer == b""

    idle = [connect(address) for _ in range(300)]
    try:
        time.sleep(0.5)
        alive = requests.get(sidecar.url + "/healthz", timeout=10)
        ready = requests.get(sidecar.url + "/readyz", timeout=10)
    finally:
        for sock in idle:
            sock.close()
    assert alive.status_code == 200
    assert ready.status_code == 200


def test_the_sidecar_closes_a_connection_that_sends_no_headers(start_sidecar_process):
    sidecar = start_sidecar_process()
    with connect(sidecar.url.removeprefix("http://")) as sock:
        sock.settimeout(30)  # the sidecar's header deadline is 10 s
        assert read_until_closed(sock).startswith(b"HTTP/1.1 408 ")
