"""The command line's way to the sidecar's staff API (SIDECAR_URL, bearer ADMIN_TOKEN).

The sidecar is the only process that opens the database, so every CLI job that reads or
changes data (`tinkertank remind`, `summary`, `export` …) asks it over HTTP. Failures
become `SidecarError`s that say what went wrong and carry the exit code: 3 when the
sidecar cannot be reached (retrying later may work), 2 when it refuses the token (fix the
configuration), 1 when it refuses the request.
"""

from __future__ import annotations

from typing import Any

import requests

EXIT_REFUSED = 1
EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3


class SidecarError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class StaffClient:
    def __init__(self, url: str, token: str, timeout: float = 120) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        """The sidecar's answer, whatever its status, unless it could not be asked at all
        or refused the token."""
        try:
            response = self.session.request(
                method, self.url + path, json=body, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise SidecarError(
                f"the sidecar at {self.url} did not answer ({type(exc).__name__}); is"
                " `tinkertank serve` running and SIDECAR_URL right?",
                EXIT_UNAVAILABLE,
            ) from None
        if response.status_code == 401:
            raise SidecarError(
                f"the sidecar at {self.url} refused the token: check ADMIN_TOKEN", EXIT_CONFIG
            )
        return response

    def json(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """The answer of a call that must succeed (2xx), as JSON."""
        response = self.call(method, path, body)
        if response.status_code >= 300:
            raise SidecarError(refusal(response), exit_code(response.status_code))
        return response.json()


def json_of(response: requests.Response) -> dict[str, Any]:
    """The JSON object the sidecar answered, or {} when it answered something else."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def message_of(response: requests.Response) -> str:
    """What the sidecar said: the message of its JSON answer, or the HTTP status."""
    message = json_of(response).get("message")
    return str(message) if message else f"HTTP {response.status_code} {response.reason}"


def refusal(response: requests.Response) -> str:
    return f"the sidecar refused ({response.status_code}): {message_of(response)}"


def exit_code(status: int) -> int:
    """3 for a server error (retrying later may work), 1 for a refused request."""
    return EXIT_UNAVAILABLE if status >= 500 else EXIT_REFUSED
