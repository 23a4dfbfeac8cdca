"""Staff API: check-in and check-out at the door (docs/http-api.md, Attendance).

    GET  /api/attendance?date=YYYY-MM-DD              a day's events and their children
    POST /api/attendance/{booking_id}/check-in        {"by"}
    POST /api/attendance/{booking_id}/check-out       {"by", "collected_by", "override_reason"}
    POST /api/attendance/{booking_id}/undo            {"action": "check_in" | "check_out"}

`by` is the staff member's name as typed on the dashboard; without it, the action is put
down to the admin token (`TOKEN_IDENTITY`). Each child's state and flags (not arrived 15
minutes after the start, late pickup) are worked out at the time of the request by
`core/attendance.py`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.attendance import MAX_NAME_LENGTH, MAX_REASON_LENGTH, standing
from core.business_days import day_bounds, local_today
from core.calendar_slots import place_names
from core.clock import utcnow
from core.validation import MISSING, Problems, text
from core.vocabulary import ATTENDANCE_ACTIONS, ATTENDANCE_STATES
from sidecar.staff_api import day, fast_json, json_body, jsonable, not_found, staff_only
from sidecar.staff_identity import acting_name
from store import attendance

TOKEN_IDENTITY = "staff (admin token)"
BODY_KEYS = {
    "check-in": ("by",),
    "check-out": ("by", "collected_by", "override_reason"),
    "undo": ("by", "action"),
}

_REFUSALS = {
    "not_confirmed": (409, "{student}'s booking is not confirmed (cancelled or in conflict)"),
    "not_checked_in": (409, "{student} is not checked in: check them in first"),
    "not_authorised": (
        409,
        "{collected_by} is not allowed to collect {student} (allowed: {allowed}); give an"
        " override_reason to hand them over anyway",
    ),
    "undo_check_out_first": (409, "{student} is checked out: undo the check-out first"),
}


async def day_attendance(request: Request) -> Response:
    tz = request.app.state.catalog.tz
    now = utcnow()
    business_day = day(request, "date") or local_today(now, tz)
    start, stop = day_bounds(business_day, tz)
    # The day's sheet is kept with the fingerprint of what it was made from
    # (store/attendance.py): while that holds, the store sends nothing and the kept sheet is
    # shaped again for `now` (who is late, who is not here yet).
    kept = _kept_sheets(request.app.state)
    known, sheet = kept.get((start, stop), (None, []))
    mark, rows = await request.app.state.database.aread(
        attendance.day_sheet_if_changed, start, stop, known
    )
    if rows is not None:
        sheet = rows
        kept.pop((start, stop), None)
        if mark is not None:
            while len(kept) >= KEPT_SHEETS:
                kept.pop(next(iter(kept)))  # the oldest
            kept[(start, stop)] = (mark, sheet)
    catalog = request.app.state.catalog
    events = []
    for stored in sheet:
        event = {k: v for k, v in stored.items() if k != "children"}
        event["venue_name"], event["room_name"] = place_names(
            catalog, event["venue_id"], event["room_id"]
        )
        counts = dict.fromkeys(ATTENDANCE_STATES, 0)
        event["children"] = []
        for child in stored["children"]:
            where = standing(
                event["starts_at"], event["ends_at"], child["checked_in_at"],
                child["checked_out_at"], now,
            )  # fmt: skip
            event["children"].append({**child, "state": where.state, "flags": where.flags})
            counts[where.state] += 1
        event["counts"] = {"booked": len(event["children"]), **counts}
        events.append(event)
    return fast_json({"date": business_day, "now": now, "timezone": str(tz), "events": events})


# The sheets of the last few days asked for (today's, mostly), with their fingerprints.
KEPT_SHEETS = 3


def _kept_sheets(state) -> dict[tuple, tuple[int, list[dict]]]:
    kept = getattr(state, "attendance_sheets", None)
    if kept is None:
        kept = state.attendance_sheets = {}
    return kept


def _read_body(body: dict[str, Any], action: str) -> tuple[dict[str, Any], Problems]:
    """The fields of an action's body; every problem with its path."""
    problems = Problems()
    problems.reject_unknown_keys(body, BODY_KEYS[action], "")
    fields: dict[str, Any] = {"by": TOKEN_IDENTITY}
    if body.get("by") not in (None, ""):
        fields["by"] = problems.check(
            "by", body["by"], lambda v: text(v, max_length=MAX_NAME_LENGTH)
        )
    if action == "check-out":
        fields["collected_by"] = problems.check(
            "collected_by",
            body.get("collected_by", MISSING),
            lambda v: text(v, max_length=MAX_NAME_LENGTH),
        )
        fields["override_reason"] = None
        if body.get("override_reason") not in (None, ""):
            fields["override_reason"] = problems.check(
                "override_reason",
                body["override_reason"],
                lambda v: text(v, max_length=MAX_REASON_LENGTH, multiline=True),
            )
    if action == "undo":
        chosen = body.get("action", MISSING)
        if chosen is MISSING:
            problems.add("action", f"missing (required: {' or '.join(ATTENDANCE_ACTIONS)})")
        elif chosen not in ATTENDANCE_ACTIONS:
            problems.add("action", f"must be {' or '.join(ATTENDANCE_ACTIONS)}, got {chosen!r}")
        fields["action"] = chosen
    return fields, problems


async def check_in(request: Request) -> Response:
    return await act(request, "check-in")


async def check_out(request: Request) -> Response:
    return await act(request, "check-out")


async def undo(request: Request) -> Response:
    return await act(request, "undo")


async def act(request: Request, action: str) -> Response:
    booking_id = request.path_params["booking_id"]
    fields, problems = _read_body(await json_body(request), action)
    if problems:
        return JSONResponse(
            {"error": "invalid_body", "message": "; ".join(str(p) for p in problems.found),
             "problems": [p.as_dict() for p in problems.found]},
            status_code=422,
        )  # fmt: skip
    database = request.app.state.database
    by = fields["by"] = acting_name(request, fields["by"])
    if action == "check-in":
        result = await database.awrite(attendance.check_in, booking_id, by, utcnow())
    elif action == "check-out":
        result = await database.awrite(
            attendance.check_out, booking_id, by, fields["collected_by"],
            fields["override_reason"], utcnow(),
        )  # fmt: skip
    else:
        result = await database.awrite(attendance.undo, booking_id, fields["action"])
    outcome = result["outcome"]
    if outcome == "not_found":
        return not_found(f"no booking {booking_id}")
    booking = result["booking"]
    names = {
        "student": booking["student"],
        "collected_by": fields.get("collected_by"),
        "allowed": ", ".join(n for n in (booking["customer_name"], *booking["collectors"]) if n)
        or "nobody named",
    }
    if outcome in _REFUSALS:
        status, template = _REFUSALS[outcome]
        return JSONResponse(
            {"error": outcome, "message": template.format(**names), "booking_id": booking_id},
            status_code=status,
        )
    return JSONResponse(
        jsonable({
            "outcome": outcome,
            "booking_id": booking_id,
            "attendance": result.get("attendance"),
            "message": _message(outcome, action, fields, names),
        })
    )  # fmt: skip


def _message(outcome: str, action: str, fields: dict[str, Any], names: dict[str, Any]) -> str:
    student = names["student"]
    if outcome == "checked_in":
        return f"{student} checked in by {fields['by']}"
    if outcome == "checked_out":
        override = f" (override: {fields['override_reason']})" if fields["override_reason"] else ""
        return f"{student} checked out to {fields['collected_by']} by {fields['by']}{override}"
    if outcome == "already":
        return f"{student} was already {'checked in' if action == 'check-in' else 'checked out'}"
    undone = "check-in" if fields.get("action") == "check_in" else "check-out"
    if outcome == "undone":
        return f"{student}'s {undone} undone by {fields['by']}"
    return f"{student} has no {undone} to undo"


routes = [
    # Children's emergency contacts and collectors: staff only (docs/security.md, Staff roles).
    Route("/api/attendance", staff_only(day_attendance, role="staff")),
    Route("/api/attendance/{booking_id}/check-in", staff_only(check_in), methods=["POST"]),
    Route("/api/attendance/{booking_id}/check-out", staff_only(check_out), methods=["POST"]),
    Route("/api/attendance/{booking_id}/undo", staff_only(undo), methods=["POST"]),
]
