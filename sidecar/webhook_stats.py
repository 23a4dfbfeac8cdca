"""What the web process counts of Stripe's deliveries, in memory: each delivery by outcome
(for `/metrics`) and refused signatures minute by minute (for the Live page and an alert).

A wrong or rotated `whsec_` refuses every delivery with a 400 and stores nothing, so the
database cannot tell: only the process that refused them can count them. The counts start
at zero with the process, which is what a Prometheus counter expects.
"""

from __future__ import annotations

from typing import Any

# What became of a delivery (sidecar/stripe_webhook.py).
OUTCOMES = (
    "stored",
    "duplicate",
    "invalid_signature",
    "not_an_event",
    "body_refused",
    "not_stored",
)
# Refusals are alerted on over this many minutes, at most once an hour.
WINDOW_MINUTES = 10


class WebhookStats:
    def __init__(self, alert_above: int) -> None:
        self.alert_above = alert_above
        self.deliveries = dict.fromkeys(OUTCOMES, 0)
        self._refusals: dict[int, int] = {}  # Unix minute -> refused signatures
        self._alerted_hour: int | None = None

    def count(self, outcome: str) -> None:
        self.deliveries[outcome] += 1

    def recent_refusals(self, unix_now: int) -> int:
        """Refused signatures in the last `WINDOW_MINUTES` minutes (this one included)."""
        minute = unix_now // 60
        for old in [m for m in self._refusals if m <= minute - WINDOW_MINUTES]:
            del self._refusals[old]
        return sum(self._refusals.values())

    def refuse(self, unix_now: int) -> int | None:
        """Count a refused signature. When the window now holds more than `alert_above`,
        the first time this hour, the number to alert on; else None."""
        self.count("invalid_signature")
        minute = unix_now // 60
        self._refusals[minute] = self._refusals.get(minute, 0) + 1
        recent = self.recent_refusals(unix_now)
        hour = unix_now // 3600
        if recent > self.alert_above and self._alerted_hour != hour:
            self._alerted_hour = hour
            return recent
        return None

    def live(self, unix_now: int) -> dict[str, Any]:
        """What the Live page shows of them (in `/api/kpis`)."""
        return {
            "window_minutes": WINDOW_MINUTES,
            "recent": self.recent_refusals(unix_now),
            "since_start": self.deliveries["invalid_signature"],
            "alert_above": self.alert_above,
        }
