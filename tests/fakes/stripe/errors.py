"""Stripe-shaped error answers: `{"error": {"type", "message", "param", "code"}}`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DOCS = "https://stripe.com/docs"


class StripeErrorResponse(Exception):
    """An error answer in Stripe's shape: `{"error": {"type", "message", "param", "code"}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"{DOCS}/error-codes/{self.code.replace('_', '-')}"
        error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": error}


def _invalid(message: str, param: str | None = None, code: str | None = None) -> Exception:
    return StripeErrorResponse(400, message, param=param, code=code)


def _missing(param: str) -> Exception:
    return _invalid(f"Missing required param: {param}.", param, "parameter_missing")


def _unknown(param: str) -> Exception:
    return _invalid(f"Received unknown parameter: {param}", param, "parameter_unknown")


def _one_of(*params: str) -> Exception:
    names = ", ".join(params)
    return _invalid(f"You may only specify one of these parameters: {names}.", params[-1])


def _no_such(kind: str, object_id: str, param: str, status: int = 404) -> Exception:
    return StripeErrorResponse(
        status, f"No such {kind}: '{object_id}'", param=param, code="resource_missing"
    )


def _unrecognized(method: str, path: str) -> Exception:
    return StripeErrorResponse(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see {DOCS} or we can help at "
        "https://support.stripe.com/.",
    )


def _injected(status: int, should_retry: bool | None) -> StripeErrorResponse:
    headers = {}
    if should_retry is not None:
        headers["Stripe-Should-Retry"] = "true" if should_retry else "false"
    if status == 429:
        return StripeErrorResponse(
            429,
            "Too many requests hit the API too quickly. We recommend an exponential backoff of "
            "your requests.",
            code="rate_limit",
            headers=headers,
        )
    if status >= 500:
        return StripeErrorResponse(
            status,
            "An unknown error occurred (injected by FakeStripe.fail_next).",
            type="api_error",
            headers=headers,
        )
    return StripeErrorResponse(
        status, "Request failed (injected by FakeStripe.fail_next).", headers=headers
    )
