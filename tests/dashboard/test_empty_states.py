"""On a new database every page says what will appear, and when, instead of an empty table."""

from __future__ import annotations

from tests.conftest import Sidecar
from tests.dashboard.conftest import no_trouble, open_page_on


def _said(at) -> str:
    return " ".join(
        [i.value for i in at.info] + [s.value for s in at.success] + [c.value for c in at.caption]
    )


def test_orders_errors_support_and_webhooks_say_what_will_appear(empty_sidecar: Sidecar):
    expected = {
        "orders": "Orders appear here the moment a family starts checkout",
        "errors": "appear here as they happen",
        "support": "appears here as soon as they send it",
        "webhooks": "appears here the moment it arrives",
    }
    for page, sentence in expected.items():
        at = open_page_on(empty_sidecar.url, page)
        no_trouble(at)
        assert sentence in _said(at), (page, _said(at))
        assert not at.dataframe, page


def test_summaries_say_which_charts_will_fill_in(empty_sidecar: Sidecar):
    at = open_page_on(empty_sidecar.url, "summaries")

    no_trouble(at)
    said = _said(at)
    assert "Revenue per day appears here as orders are paid" in said
    assert "Webhook lag per day appears here" in said
