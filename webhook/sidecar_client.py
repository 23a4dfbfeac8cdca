"""The CLI's way to the sidecar's staff API: the sidecar is the only process that opens the
database, so scheduled jobs (`tinkertank remind`, …) ask it over HTTP with `ADMIN_TOKEN`."""

from __future__ import annotations

from typing import Any

import requests


class SidecarError(Exception):
    """The sidecar could not be reached (`unreachable`) or refused the request."""

    def __init__(self, message: str, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def call(
    base_url: str, token: str, method: str, path: str, body: dict[str, Any] | None = None,
    timeout: float = 60,
) -> dict[str, Any]:  # fmt: skip
    url = base_url.rstrip("/") + path
    try:
        response = requests.request(
            method, url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )
    except requests.RequestException as exc:
        raise SidecarError(
            f"the sidecar at {base_url} did not answer ({type(exc).__name__}); is"
            " `tinkertank serve` running and SIDECAR_URL right?",
            unreachable=True,
        ) from None
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code == 401:
        raise SidecarError("the sidecar refused ADMIN_TOKEN (401): use the sidecar's token")
    if response.status_code >= 400:
        message = answer.get("message") or answer.get("error") or response.text[:200]
        raise SidecarError(f"{method} {path} answered {response.status_code}: {message}")
    return answer
