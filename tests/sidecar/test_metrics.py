"""Refused webhook signatures counted, shown and alerted on; `GET /metrics` for Prometheus."""

from __future__ import annotations

import re
import time

import requests

from tests.conftest import Sidecar, SlackHook, make_event
from tests.sidecar.test_alerts import wait_for

SAMPLE = re.compile(r"^(tinkertank_\w+)(?:\{(.*)\})? (\S+)$")


def parse(text: str) -> dict[str, float]:
    """Each sample line as `name{labels}` -> value; every other line a HELP or TYPE."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# "):
            assert line.split()[1] in ("HELP", "TYPE"), line
            continue
        match = SAMPLE.match(line)
        assert match, line
        name, labels, value = match.groups()
        samples[f"{name}{{{labels}}}" if labels else name] = float(value)
    return samples


def test_eleven_badly_signed_deliveries_log_one_entry_and_alert_once(
    start_sidecar_process, slack: SlackHook
):
    sidecar: Sidecar = start_sidecar_process(SLACK_WEBHOOK_URL=slack.url)

    for _ in range(12):  # one past the threshold, and one more
        assert sidecar.deliver(make_event(), secret="whsec_rotated").status_code == 400

    def refusal_alerts() -> list[str]:
        return [p["text"] for _, p in slack.posts if "refused for their signature" in p["text"]]

    assert wait_for(refusal_alerts)
    time.sleep(1)  # time for any duplicate to show up
    (text,) = refusal_alerts()
    assert text.startswith("High (payment): 11 Stripe webhook deliveries refused")
    (entry,) = sidecar.staff_get("/api/errors").json()["errors"]
    assert entry["severity"] == "high" and "STRIPE_WEBHOOK_SECRET" in entry["message"]
    refusals = sidecar.staff_get("/api/kpis").json()["signature_refusals"]
    assert refusals == {"window_minutes": 10, "recent": 12, "since_start": 12, "alert_above": 10}


def test_metrics_need_the_staff_token_and_count_deliveries_and_the_store(
    start_sidecar_process,
):
    sidecar: Sidecar = start_sidecar_process()
    event = make_event()
    assert sidecar.deliver(event).status_code == 200
    assert sidecar.deliver(event).status_code == 200  # a redelivery
    assert sidecar.deliver(make_event(), secret="whsec_wrong").status_code == 400

    assert requests.get(f"{sidecar.url}/metrics", timeout=10).status_code == 401
    answer = sidecar.staff_get("/metrics")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = parse(answer.text)
    assert samples['tinkertank_webhook_deliveries_total{outcome="stored"}'] == 1
    assert samples['tinkertank_webhook_deliveries_total{outcome="duplicate"}'] == 1
    assert samples['tinkertank_webhook_deliveries_total{outcome="invalid_signature"}'] == 1
    assert samples['tinkertank_webhook_deliveries_total{outcome="not_stored"}'] == 0
    assert samples["tinkertank_webhook_backlog"] >= 0
    assert samples['tinkertank_outbox_messages{channel="email",state="failed"}'] == 0
    assert samples['tinkertank_errors_open{severity="critical"}'] == 0
    assert samples["tinkertank_holds_active"] == 0
    assert samples['tinkertank_checkout_orders{payment_status="paid"}'] == 0
