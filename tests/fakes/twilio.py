"""Twilio's Messages API, faked locally: `POST /2010-04-01/Accounts/{sid}/Messages.json`
with the form fields To, From and Body and HTTP basic auth (account SID and auth token),
answered as Twilio answers (201 and the message resource, or 4xx with Twilio's error body).
It can be told to fail: `failures[number]`, statuses to answer for that number before
accepting its messages again."""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake_twilio_auth_token_0123456789"
SMS_FROM = "+61480000000"
_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json$")


class FakeTwilio:
    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []  # each accepted message: To, From, Body
        self.failures: dict[str, list[int]] = {}  # number -> statuses to answer first
        self.refused: list[tuple[str, int]] = []  # (number, status) answered
        self.unsubscribed: set[str] = set()  # numbers that texted STOP to Twilio itself
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                match = _PATH.match(self.path)
                if not match:
                    return self._answer(404, {"code": 20404, "message": "not found"})
                expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
                if match[1] != ACCOUNT_SID or self.headers.get("Authorization") != (
                    f"Basic {expected}"
                ):
                    return self._answer(401, {"code": 20003, "message": "Authenticate"})
                form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
                if fake.failures.get(form.get("To", "")):
                    status = fake.failures[form["To"]].pop(0)
                    fake.refused.append((form["To"], status))
                    return self._answer(status, {"code": 20500, "message": "Internal error"})
                if not re.fullmatch(r"\+[1-9][0-9]{6,14}", form.get("To", "")):
                    return self._answer(
                        400, {"code": 21211, "message": f"The 'To' number {form.get('To')} is "
                              "not a valid phone number."})  # fmt: skip
                if form["To"] in fake.unsubscribed:
                    return self._answer(
                        400, {"code": 21610, "message": "Attempt to send to unsubscribed "
                              "recipient"})  # fmt: skip
                if not form.get("Body") or not form.get("From"):
                    return self._answer(
                        400, {"code": 21602, "message": "Message body is required."}
                    )
                fake.messages.append(form)
                sid = "SM" + secrets.token_hex(16)
                return self._answer(201, {"sid": sid, "account_sid": ACCOUNT_SID, "to": form["To"],
                                          "from": form["From"], "body": form["Body"],
                                          "status": "queued", "num_segments": "1"})  # fmt: skip

            def _answer(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self) -> dict[str, str]:
        """The sidecar's settings for this fake."""
        return {"SMS_PROVIDER_URL": self.url, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "SMS_FROM": SMS_FROM}  # fmt: skip

    def to(self, number: str) -> list[str]:
        return [m["Body"] for m in self.messages if m["To"] == number]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeTwilio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
