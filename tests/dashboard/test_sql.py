"""SQL page: a read-only query's rows as a table, with CSV and Parquet downloads."""

from __future__ import annotations

from tests.dashboard.conftest import Seeded, no_trouble


def test_a_select_shows_its_rows_and_offers_csv_and_parquet(dashboard, seeded: Seeded):
    at = dashboard("sql")
    no_trouble(at)

    at.text_area(key="sql-query").input(
        "SELECT fulfillment_status, count(*) AS n FROM orders GROUP BY 1 ORDER BY 1"
    )
    at.button(key="sql-run").click().run()

    no_trouble(at)
    result = at.dataframe[0].value
    counts = dict(zip(result["fulfillment_status"], result["n"], strict=True))
    assert sum(counts.values()) == 7  # the seeded orders (other tests retry the failed ones)
    assert counts["fulfilled"] >= 4
    assert any("data as of " in caption.value for caption in at.caption)
    downloads = [d.proto.label for d in at.get("download_button")]
    assert downloads == ["Download CSV", "Download Parquet"]


def test_anything_but_a_select_is_refused_with_the_sidecars_reason(dashboard):
    at = dashboard("sql")

    at.text_area(key="sql-query").input("DELETE FROM orders")
    at.button(key="sql-run").click().run()

    assert not at.exception
    (error,) = at.error
    assert error.value.startswith("Refused: ")
    assert not at.dataframe
