"""The staff API client: the three ways a call can fail, told apart."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from client.staff_api import ApiError, NotAvailable, SidecarDown, StaffApi
from runtime.sidecar_process import free_port

ANSWERS: dict[str, tuple[int, str, str]] = {
    "/api/kpis": (200, "application/json", '{"orders": 3}'),
    "/api/orders/ord_missing": (404, "application/json", '{"error": "not_found"}'),
    "/api/tickets": (404, "text/plain", "Not Found"),  # Starlette: no such route
    "/api/errors/bulk": (405, "text/plain", "Method Not Allowed"),
    "/api/sql": (422, "application/json", '{"error": "refused", "message": "one SELECT only"}'),
    "/api/inbox": (401, "application/json", '{"error": "unauthorised"}'),
    "/api/trends": (503, "application/json", '{"error": "unavailable"}'),
}


@pytest.fixture(scope="module")
def fake_sidecar() -> Iterator[tuple[str, list[dict]]]:
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen.append({"path": self.path, "auth": self.headers["Authorization"],
                         "body": json.loads(body) if body else None})  # fmt: skip
            status, kind, text = ANSWERS.get(self.path.split("?")[0], (404, "text/plain", "?"))
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.end_headers()
            self.wfile.write(text.encode())

        do_GET = do_POST = answer

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()


def test_an_answer_is_read_as_json_with_the_bearer_token_sent(fake_sidecar):
    url, seen = fake_sidecar

    assert StaffApi(url, "token-0123456789abcdef").kpis() == {"orders": 3}
    assert seen[-1]["auth"] == "Bearer token-0123456789abcdef"


def test_an_unknown_id_is_an_api_error_but_a_missing_route_is_not_available(fake_sidecar):
    api = StaffApi(fake_sidecar[0], "token-0123456789abcdef")

    with pytest.raises(ApiError) as missing:
        api.order("ord_missing")
    assert (missing.value.status, missing.value.error) == (404, "not_found")
    with pytest.raises(NotAvailable, match="GET /api/tickets is not available"):
        api.tickets()
    with pytest.raises(NotAvailable, match="POST /api/errors/bulk"):
        api.bulk_errors("resolve", ["err_1"], "Robin")


def test_a_refusal_carries_the_apis_message_and_a_401_names_the_token(fake_sidecar):
    url, seen = fake_sidecar
    api = StaffApi(url, "token-0123456789abcdef")

    with pytest.raises(ApiError) as refused:
        api.sql("DROP TABLE orders", 10)
    assert (refused.value.status, refused.value.message) == (422, "one SELECT only")
    assert seen[-1]["body"] == {"sql": "DROP TABLE orders", "limit": 10}
    with pytest.raises(ApiError, match="refused the token: check ADMIN_TOKEN"):
        api.inbox()


def test_a_server_error_or_no_answer_at_all_is_sidecar_down(fake_sidecar):
    with pytest.raises(SidecarDown, match="answered 503"):
        StaffApi(fake_sidecar[0], "token-0123456789abcdef").trends()
    with pytest.raises(SidecarDown, match=r"the sidecar at .* did not answer"):
        StaffApi(f"http://127.0.0.1:{free_port()}", "token-0123456789abcdef").kpis()
