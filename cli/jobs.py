"""`tinkertank summary`, `export` and `reprocess`: scheduled and manual jobs, each a client
of the sidecar's staff API. Each prints what it did; `cli/main.py` turns a `SidecarError` into
a message and an exit code. All are safe to run twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from client.staff_api import EXIT_REFUSED, ApiError, SidecarError, StaffApi
from core.summary import summary_text

Print = Callable[[str], None]


def summary(
    client: StaffApi, day: date | None, post: bool, force: bool, out: Print = print
) -> None:
    """Compute and store a day's summary (default: yesterday in the business time zone),
    posting it to Slack at most once per day unless forced."""
    body = {"post": post or force, "force": force}
    if day is not None:
        body["date"] = day.isoformat()
    try:
        answer = client.post("/api/summaries/run", body)
    except ApiError as exc:
        _print_summary(exc.body, out)  # stored, but it could not be posted
        raise
    _print_summary(answer, out)
    out(answer["message"])


def _print_summary(answer: dict, out: Print) -> None:
    if "summary" in answer:
        out(summary_text(answer["summary"]["figures"]))
        out("")


def export(client: StaffApi, out: Print = print) -> None:
    """A Parquet snapshot of the analyst tables, next to the database."""
    answer = client.post("/api/export")
    out(f"exported to {answer['path']} in {answer['elapsed_ms'] / 1000:.1f} s:")
    width = max(len(name) for name in answer["tables"])
    for name, rows in answer["tables"].items():
        out(f"  {name:<{width}}  {rows:>10,} rows")


def reprocess(client: StaffApi, event_ids: list[str], out: Print = print) -> None:
    """Put failed or ignored inbox events back in the worker's queue, one line per event;
    fails (after trying them all) when any could not be."""
    refused = 0
    for event_id in event_ids:
        try:
            client.post(f"/api/inbox/{event_id}/reprocess")
        except ApiError as exc:
            refused += 1
            if _missing(client, event_id):
                out(f"{event_id}: not in the inbox")
            else:
                out(f"{event_id}: not reprocessed: {exc.message}")
            continue
        out(f"{event_id}: queued for processing again")
    if refused:
        raise SidecarError(f"{refused} of {len(event_ids)} event(s) not reprocessed", EXIT_REFUSED)


def _missing(client: StaffApi, event_id: str) -> bool:
    try:
        client.inbox_event(event_id)
    except ApiError as exc:
        return exc.status == 404
    return False
