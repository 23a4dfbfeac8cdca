"""SQL: read-only queries for analysts (the sidecar refuses anything but one SELECT/WITH),
results as a table, downloads as CSV and Parquet."""

from __future__ import annotations

import io

import pandas as pd
import streamlit as st

from client.staff_api import ApiError
from dashboard import formatting as fmt
from dashboard import session, ui

RESULT_KEY = "sql-result"
MAX_ROWS = 10_000  # the sidecar's own ceiling
EXAMPLE = """SELECT fulfillment_status, count(*) AS orders
FROM orders
GROUP BY fulfillment_status
ORDER BY orders DESC"""

api, tz = session.api(), session.settings().tz
ui.page_title("SQL")
st.caption(
    "Read-only: one `SELECT` or `WITH` query over a copy of orders, bookings, events and the "
    "rest, refreshed every few minutes (without the raw webhook payloads). The sidecar runs it "
    "in a sandbox with a row limit, a time limit and a memory limit."
)

with st.form("sql"):
    sql = st.text_area("Query", value=EXAMPLE, height=180, key="sql-query")
    limit = st.number_input("Row limit", min_value=1, max_value=MAX_ROWS, value=1000, step=1000)
    run = st.form_submit_button("Run", type="primary", key="sql-run")

if run:
    with ui.section():
        try:
            answer = api.sql(sql, int(limit))
        except ApiError as exc:
            st.session_state.pop(RESULT_KEY, None)
            # DuckDB's messages quote the values they stumbled on: customer text.
            message = fmt.literal(exc.message)
            st.error(f"Refused: {message}" if exc.error == "refused" else message)
        else:
            st.session_state[RESULT_KEY] = answer


def parquet(frame: pd.DataFrame) -> bytes | str:
    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer, index=False)
    except (ValueError, TypeError, ImportError) as exc:  # e.g. a column of mixed types
        return str(exc)
    return buffer.getvalue()


answer = st.session_state.get(RESULT_KEY)
if answer:
    frame = pd.DataFrame(answer["rows"], columns=answer["columns"])
    more = " (truncated at the row limit)" if answer.get("truncated") else ""
    as_of = fmt.local_time(answer.get("data_as_of"), tz) or "unknown"
    st.caption(
        f"{len(frame)} rows{more} in {answer.get('elapsed_ms', 0):.0f} ms · data as of {as_of}"
    )
    st.dataframe(frame, hide_index=True, width="stretch")
    csv, pq = st.columns([1, 4])
    csv.download_button(
        "Download CSV", fmt.csv_text(frame), "query.csv", mime="text/csv", on_click="ignore"
    )
    data = parquet(frame)
    if isinstance(data, bytes):
        pq.download_button(
            "Download Parquet",
            data,
            "query.parquet",
            mime="application/vnd.apache.parquet",
            on_click="ignore",
        )
    else:
        pq.caption(f"Not available as Parquet: {data}")
