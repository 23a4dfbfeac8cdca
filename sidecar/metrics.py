"""`GET /metrics`: Prometheus's text exposition format (version 0.0.4), for staff.

Written by hand: a dozen metric families of counts need no client library, and the
format is a few lines of text per family. The counts come from the database in one read
(`store/metrics.py`), except deliveries by outcome, which only this process saw
(`sidecar/webhook_stats.py`): a restart sets them to zero, as Prometheus expects of a
counter. Protected like the staff API (bearer ADMIN_TOKEN).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response

from core.clock import utcnow
from core.vocabulary import MESSAGE_CHANNELS, MESSAGE_STATUSES
from store import metrics as store_metrics

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "tinkertank_"
OUTBOX_CHANNELS = MESSAGE_CHANNELS
OUTBOX_STATES = MESSAGE_STATUSES

Sample = tuple[dict[str, str], float]


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _value(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def family(name: str, kind: str, help_text: str, samples: Iterable[Sample]) -> list[str]:
    """One metric family: its HELP and TYPE lines, then a line per sample."""
    lines = [f"# HELP {PREFIX}{name} {help_text}", f"# TYPE {PREFIX}{name} {kind}"]
    for labels, value in samples:
        shown = ",".join(f'{key}="{_label(str(v))}"' for key, v in labels.items())
        lines.append(f"{PREFIX}{name}{{{shown}}} {_value(value)}" if shown
                     else f"{PREFIX}{name} {_value(value)}")  # fmt: skip
    return lines


def exposition(deliveries: dict[str, int], counts: dict) -> str:
    hooks = counts["webhooks"]
    outbox = {(channel, state): 0 for channel in OUTBOX_CHANNELS for state in OUTBOX_STATES}
    outbox.update({(channel, state): n for channel, state, n in counts["outbox"]})
    errors = counts["errors"]
    optional = [({}, hooks[key])] if hooks.get(key := "lag_p95_seconds") is not None else []
    oldest = hooks.get("oldest_backlog_seconds") or 0
    lines = [
        *family("webhook_deliveries_total", "counter",
                "Stripe webhook deliveries this process answered, by outcome.",
                (({"outcome": o}, n) for o, n in deliveries.items())),
        *family("webhook_backlog", "gauge", "Stripe events stored and not yet applied.",
                [({}, hooks["backlog"])]),
        *family("webhook_failed", "gauge", "Stripe events that failed for good.",
                [({}, hooks["failed"])]),
        *family("webhook_oldest_backlog_seconds", "gauge",
                "Age of the oldest event waiting to be applied (0 when none waits).",
                [({}, oldest)]),
        *family("webhook_lag_p95_seconds", "gauge",
                "95th percentile of received-to-applied over the last hour.", optional),
        *family("outbox_messages", "gauge", "Outbox messages by channel and state.",
                (({"channel": c, "state": s}, n) for (c, s), n in outbox.items())),
        *family("errors_total", "counter", "Error-log entries by severity.",
                (({"severity": s}, n[0]) for s, n in errors.items())),
        *family("errors_open", "gauge", "Unresolved error-log entries by severity.",
                (({"severity": s}, n[1]) for s, n in errors.items())),
        *family("holds_active", "gauge", "Checkout holds unpaid and not yet lapsed.",
                [({}, counts["holds"]["active"])]),
        *family("holds_active_seats", "gauge", "Places those holds keep.",
                [({}, counts["holds"]["seats"])]),
        *family("checkout_orders", "gauge", "Orders made by the checkout, by payment state.",
                (({"payment_status": s}, n) for s, n in counts["checkouts"].items())),
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


async def metrics(request: Request) -> Response:
    counts = await request.app.state.database.aread(store_metrics.counts, utcnow())
    body = exposition(request.app.state.webhook_stats.deliveries, counts)
    return Response(body, media_type=CONTENT_TYPE)
