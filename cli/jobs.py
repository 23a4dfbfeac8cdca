"""`tinkertank summary`, `export` and `reprocess`: scheduled and manual jobs, each a client
of the sidecar's staff API. Each prints what it did; `cli.py` turns a `SidecarError` into
a message and an exit code. All are safe to run twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from client.sidecar_client import (
    EXIT_REFUSED,
    SidecarError,
    StaffClient,
    exit_code,
    json_of,
    message_of,
    refusal,
)
from core.summary import summary_text

Print = Callable[[str], None]


def summary(
    client: StaffClient, day: date | None, post: bool, force: bool, out: Print = print
) -> None:
    """Compute and store a day's summary (default: yesterday in the business time zone),
    posting it to Slack at most once per day unless forced."""
    body = {"post": post or force, "force": force}
    if day is not None:
        body["date"] = day.isoformat()
    response = client.call("POST", "/api/summaries/run", body)
    answer = json_of(response)
    if "summary" in answer:  # also when it was stored but could not be posted
        out(summary_text(answer["summary"]["figures"]))
        out("")
    if response.status_code != 200:
        raise SidecarError(refusal(response), exit_code(response.status_code))
    out(answer["message"])


def export(client: StaffClient, out: Print = print) -> None:
    """A Parquet snapshot of the analyst tables, next to the database."""
    answer = client.json("POST", "/api/export")
    out(f"exported to {answer['path']} in {answer['elapsed_ms'] / 1000:.1f} s:")
    width = max(len(name) for name in answer["tables"])
    for name, rows in answer["tables"].items():
        out(f"  {name:<{width}}  {rows:>10,} rows")


def reprocess(client: StaffClient, event_ids: list[str], out: Print = print) -> None:
    """Put failed or ignored inbox events back in the worker's queue, one line per event;
    fails (after trying them all) when any could not be."""
    refused = 0
    for event_id in event_ids:
        response = client.call("POST", f"/api/inbox/{event_id}/reprocess")
        if response.status_code == 200:
            out(f"{event_id}: queued for processing again")
            continue
        refused += 1
        missing = client.call("GET", f"/api/inbox/{event_id}").status_code == 404
        if missing:
            out(f"{event_id}: not in the inbox")
        else:
            out(f"{event_id}: not reprocessed: {message_of(response)}")
    if refused:
        raise SidecarError(f"{refused} of {len(event_ids)} event(s) not reprocessed", EXIT_REFUSED)
