"""The one client of the sidecar's staff API (bearer `ADMIN_TOKEN`, JSON both ways), used by
the dashboard and by the command line.

Neither opens the database: everything they show or do goes through here. Every failure is
a `SidecarError` carrying the command line's exit code; three kinds, each shown its own way
by the dashboard's pages:

- `SidecarDown` (exit 3, retrying later may work): nothing answered (refused, timed out) or
  the sidecar failed (5xx);
- `NotAvailable` (exit 1): the route does not exist on this sidecar (an older build):
  Starlette's own plain 404/405, as opposed to the API's JSON `{"error": "not_found"}` for
  an unknown id;
- `ApiError` (exit 1; 2 for a refused token, fix the configuration): the API refused the
  request (4xx) and said why in `message`; `body` is the whole JSON answer.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import requests

from core.staff_accounts import TOKEN_PREFIX

EXIT_REFUSED = 1
EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3

# (connect, read) seconds. Reads are paged in SQL and answer well under a second; the
# analysts' SQL endpoint has its own time limit on the sidecar, so it gets a longer read, and
# the command line's jobs (summary, export, import) longer still.
TIMEOUT = (3.05, 20)
SQL_TIMEOUT = (3.05, 90)
JOB_TIMEOUT = (3.05, 120)


class SidecarError(Exception):
    """Anything that kept a call from succeeding, with the command line's exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class SidecarDown(SidecarError):
    """The sidecar did not answer, or answered with a server error."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_UNAVAILABLE)


class NotAvailable(SidecarError):
    """This sidecar has no such endpoint yet."""

    def __init__(self, method: str, path: str) -> None:
        self.method, self.path = method, path
        super().__init__(f"{method} {path} is not available on this sidecar yet", EXIT_REFUSED)


class ApiError(SidecarError):
    """A 4xx with the API's reason."""

    def __init__(self, status: int, error: str, message: str, body: dict[str, Any]) -> None:
        self.status, self.error, self.message, self.body = status, error, message, body
        super().__init__(message, EXIT_CONFIG if status == 401 else EXIT_REFUSED)


class StaffApi:
    def __init__(
        self,
        base_url: str,
        token: str,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.token = ""
        self.use_token(token)

    def use_token(self, token: str) -> None:
        """Call with this bearer token from now on: ADMIN_TOKEN, or a staff session's token
        (`login`); "" for none."""
        self.token = token
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        else:
            self.session.headers.pop("Authorization", None)

    # --- transport ------------------------------------------------------------------------

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        query = {k: _param(v) for k, v in params.items() if v is not None and v != ""}
        return self._call("GET", path, params=query)

    def post(
        self, path: str, body: dict[str, Any] | None = None, timeout=None, key: str | None = None
    ) -> dict:
        """`key`: the Idempotency-Key of an action, so that sending it again does it once."""
        headers = {"Idempotency-Key": key} if key else None
        return self._call("POST", path, json=body or {}, timeout=timeout, headers=headers)

    def _call(self, method: str, path: str, timeout=None, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.session.request(
                method, self.base_url + path, timeout=timeout or self.timeout, **kwargs
            )
        except requests.Timeout:
            raise SidecarDown(
                f"the sidecar at {self.base_url} did not answer {method} {path} in time"
            ) from None
        except requests.RequestException as exc:
            raise SidecarDown(
                f"the sidecar at {self.base_url} did not answer ({type(exc).__name__})"
            ) from None
        body = _json(response)
        if response.status_code >= 500:
            said = (body or {}).get("message") or response.text[:200]
            raise SidecarDown(
                f"the sidecar answered {response.status_code} to {method} {path}: {said}"
            )
        if response.status_code in (404, 405) and (body is None or "error" not in body):
            raise NotAvailable(method, path)
        if response.status_code >= 400:
            body = body or {}
            error = str(body.get("error", response.reason or "refused"))
            message = body.get("message") or _problems(body) or error.replace("_", " ")
            if response.status_code == 401 and path == "/api/login":
                pass  # wrong name or password: the API's own message
            elif response.status_code == 401 and self.token.startswith(TOKEN_PREFIX):
                message = "your session has ended (expired, signed out or disabled): sign in again"
            elif response.status_code == 401:
                message = f"the sidecar at {self.base_url} refused the token: check ADMIN_TOKEN"
            raise ApiError(response.status_code, error, str(message), body)
        if body is None:
            raise SidecarDown(f"the sidecar's answer to {method} {path} is not JSON")
        return body

    # --- reads ----------------------------------------------------------------------------

    def health(self) -> bool:
        try:
            return self.session.get(self.base_url + "/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def kpis(self, day: date | None = None) -> dict:
        return self.get("/api/kpis", date=day)

    def orders(self, **filters: Any) -> dict:
        return self.get("/api/orders", **filters)

    def order(self, order_id: str) -> dict:
        return self.get(f"/api/orders/{order_id}")

    def order_counts(self) -> dict:
        return self.get("/api/orders/counts")

    def events(self, start: date, end: date, kind: str | None = None) -> dict:
        return self.get("/api/events", start=start, end=end, kind=kind)

    def roster(self, event_id: str) -> dict:
        return self.get(f"/api/events/{event_id}/roster")

    def attendance(self, day: date | None = None) -> dict:
        return self.get("/api/attendance", date=day)

    def camp_day_roster(self, product_id: str, day: date) -> dict:
        return self.get(f"/api/camp-days/{product_id}/{day.isoformat()}/roster")

    def inbox(self, **filters: Any) -> dict:
        return self.get("/api/inbox", **filters)

    def inbox_counts(self) -> dict:
        return self.get("/api/inbox/counts")

    def inbox_views(self) -> dict:
        return self.get("/api/inbox/views")

    def inbox_event(self, event_id: str) -> dict:
        return self.get(f"/api/inbox/{event_id}")

    def errors(self, **filters: Any) -> dict:
        return self.get("/api/errors", **filters)

    def summaries(self, since: date | None = None, until: date | None = None) -> dict:
        return self.get("/api/summaries", since=since, until=until)

    def summary(self, day: date) -> dict:
        return self.get(f"/api/summaries/{day.isoformat()}")

    def trends(self, days: int = 30) -> dict:
        return self.get("/api/trends", days=days)

    def webhook_lag(self, days: int = 30) -> dict:
        return self.get("/api/trends/webhooks", days=days)

    def tickets(self, **filters: Any) -> dict:
        return self.get("/api/tickets", **filters)

    # --- actions (each answers with a message saying what was done) -----------------------

    def retry_step(self, order_id: str, step: str) -> dict:
        return self.post(f"/api/orders/{order_id}/steps/{step}/retry")

    def resend_confirmation(self, order_id: str) -> dict:
        return self.post(f"/api/orders/{order_id}/resend-confirmation")

    def reprocess(self, event_id: str) -> dict:
        return self.post(f"/api/inbox/{event_id}/reprocess")

    def resolve_error(self, error_id: str, by: str) -> dict:
        return self.post(f"/api/errors/{error_id}/resolve", {"by": by})

    def bulk_errors(self, action: str, error_ids: list[str], by: str) -> dict:
        return self.post("/api/errors/bulk", {"action": action, "error_ids": error_ids, "by": by})

    def run_summary(self, day: date, post: bool, force: bool = False) -> dict:
        return self.post(
            "/api/summaries/run", {"date": day.isoformat(), "post": post, "force": force}
        )

    def update_ticket(self, ticket_id: str, status: str, staff_note: str) -> dict:
        return self.post(f"/api/tickets/{ticket_id}", {"status": status, "staff_note": staff_note})

    def check_in(self, booking_id: str, by: str | None = None) -> dict:
        return self.post(f"/api/attendance/{booking_id}/check-in", {"by": by})

    def check_out(
        self, booking_id: str, collected_by: str, by: str | None = None,
        override_reason: str | None = None,
    ) -> dict:  # fmt: skip
        return self.post(
            f"/api/attendance/{booking_id}/check-out",
            {"by": by, "collected_by": collected_by, "override_reason": override_reason},
        )

    def undo_attendance(self, booking_id: str, action: str, by: str | None = None) -> dict:
        return self.post(f"/api/attendance/{booking_id}/undo", {"action": action, "by": by})

    # --- staff actions (docs/http-api.md, Staff actions) ------------------------------------

    def refund(self, order_id: str, items: list[str], amount: int | None, reason: str,
               key: str | None = None, end_subscription: str | None = None,
               invoice: str | None = None) -> dict:  # fmt: skip
        """`invoice`: an Ignite order's paid invoice to refund from (default: the one that
        charged the items)."""
        body: dict[str, Any] = {"items": items, "reason": reason}
        if amount is not None:
            body["amount"] = amount
        if end_subscription:
            body["end_subscription"] = end_subscription
        if invoice:
            body["invoice"] = invoice
        return self.post(f"/api/orders/{order_id}/refund", body, key=key)

    def end_subscription(self, order_id: str, when: str, reason: str) -> dict:
        return self.post(f"/api/orders/{order_id}/end-subscription",
                         {"when": when, "reason": reason})  # fmt: skip

    def cancel_booking(self, booking_id: str, reason: str) -> dict:
        return self.post(f"/api/bookings/{booking_id}/cancel", {"reason": reason})

    def move_booking(self, booking_id: str, target: dict[str, Any], reason: str,
                     key: str | None = None) -> dict:  # fmt: skip
        body = {k: _param(v) for k, v in target.items() if v not in (None, "")}
        return self.post(f"/api/bookings/{booking_id}/move", {**body, "reason": reason}, key=key)

    def set_capacity(self, event_id: str, capacity: int, reason: str) -> dict:
        return self.post(f"/api/events/{event_id}/capacity",
                         {"capacity": capacity, "reason": reason})  # fmt: skip

    def actions(self, **filters: Any) -> dict:
        return self.get("/api/actions", **filters)

    def ticket(self, ticket_id: str) -> dict:
        """One ticket with its history of staff replies."""
        return self.get(f"/api/tickets/{ticket_id}")

    def reply_to_ticket(
        self, ticket_id: str, reply_id: str, body: str, close: bool, by: str
    ) -> dict:
        body = {"reply_id": reply_id, "body": body, "close": close, "by": by}
        return self.post(f"/api/tickets/{ticket_id}/replies", body)

    def roster_messages(self, event_id: str) -> dict:
        """What staff sent to the event's families, by whom and when."""
        return self.get(f"/api/events/{event_id}/messages")

    def message_roster(self, event_id: str, message: dict[str, Any]) -> dict:
        """Message every family booked on the event (`message_id` makes a resubmit a no-op)."""
        return self.post(f"/api/events/{event_id}/messages", message)

    def sql(self, sql: str, limit: int) -> dict:
        return self.post("/api/sql", {"sql": sql, "limit": limit}, timeout=SQL_TIMEOUT)

    # --- bookings by phone, repairs, the waitlist -----------------------------------------

    def catalog(self) -> dict:
        return self.get("/api/catalog")

    def add_booking(self, booking: dict[str, Any]) -> dict:
        """`{"cart", "payment", "by", "request_id", "hold_hours"}` (docs/http-api.md)."""
        return self.post("/api/bookings", booking)

    def repair_order(self, order_id: str, cart: dict[str, Any], by: str) -> dict:
        return self.post(f"/api/orders/{order_id}/repair", {"cart": cart, "by": by})

    def waitlist(self, event: str | None = None) -> dict:
        return self.get("/api/waitlist", event=event)

    def reorder_waitlist(self, event: str, entry_ids: list[str], by: str) -> dict:
        return self.post(
            "/api/waitlist/reorder", {"event": event, "entry_ids": entry_ids, "by": by}
        )

    def remove_from_waitlist(self, entry_id: str, by: str, reason: str = "") -> dict:
        return self.post(f"/api/waitlist/{entry_id}/remove", {"by": by, "reason": reason})

    def run_waitlist(self) -> dict:
        return self.post("/api/waitlist/run")

    # --- staff sign-in and accounts ---------------------------------------------------------

    def login(self, name: str, password: str) -> dict:
        """Sign in as a member of staff; calls after this one carry their session token."""
        answer = self.post("/api/login", {"name": name, "password": password})
        self.use_token(str(answer["token"]))
        return answer

    def logout(self) -> dict:
        answer = self.post("/api/logout")
        self.use_token("")
        return answer

    def me(self) -> dict:
        return self.get("/api/me")

    def staff_accounts(self) -> dict:
        return self.get("/api/staff")

    def add_staff(self, name: str, role: str, password: str) -> dict:
        return self.post("/api/staff", {"name": name, "role": role, "password": password})

    def disable_staff(self, name: str) -> dict:
        return self.post(f"/api/staff/{name}/disable")

    def set_staff_password(self, name: str, password: str) -> dict:
        return self.post(f"/api/staff/{name}/password", {"password": password})

    def set_staff_role(self, name: str, role: str) -> dict:
        return self.post(f"/api/staff/{name}/role", {"role": role})

    def enable_staff(self, name: str) -> dict:
        return self.post(f"/api/staff/{name}/enable")

    def session_for(self, email: str) -> dict:
        """With ADMIN_TOKEN: a session of the staff account named `email` (the dashboard,
        after its OIDC sign-in); `{"token", "name", "role", "expires_at"}`. This client
        keeps its own token."""
        return self.post("/api/staff/sessions", {"email": email})


def _param(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _json(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _problems(body: dict[str, Any]) -> str:
    problems = body.get("problems") or []
    return "; ".join(f"{p.get('path', '')}: {p.get('message', '')}" for p in problems)


def message_of(answer: dict[str, Any], fallback: str) -> str:
    """What an action's answer says was done (`message`), or `fallback` when it says nothing."""
    return str(answer.get("message") or fallback)
