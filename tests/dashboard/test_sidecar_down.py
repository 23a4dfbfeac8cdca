"""With the sidecar gone, every page says so plainly: no traceback, nothing half drawn."""

from __future__ import annotations

import pytest

from runtime.sidecar_process import free_port
from tests.dashboard.conftest import PAGES, dashboard_settings, log_in, new_dashboard


@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_the_sidecar_down_banner_instead_of_a_traceback(page: str):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    at = log_in(new_dashboard(dashboard_settings(url)))
    at.switch_page(f"pages/{page}.py").run()

    assert not at.exception, [e.value for e in at.exception]
    if page == "sql":  # nothing is asked of the sidecar until a query is run
        at.button(key="sql-run").click().run()
    assert at.error, "no banner"
    assert all("The sidecar is not answering" in e.value for e in at.error)
    assert all(f"the sidecar at {url} did not answer" in e.value for e in at.error)
