"""SQL: read-only queries for analysts (the sidecar refuses anything but one SELECT/WITH),
results as a table, downloads as CSV and Parquet."""

from __future__ import annotations

import io

import pandas as pd
import streamlit as st

from dashboard import formatting as fmt
from dashboard import session, ui
from dashboard.api import ApiError

RESULT_KEY = "sql-result"
MAX_ROWS = 10_000  # the sidecar's own ceiling
EXAMPLE = """SELECT fulfillment_status, count(*) AS orders
FROM orders
GROUP BY fulfillment_status
ORDER BY orders DESC"""

api = session.api()
ui.page_title("SQL")
st.caption(
    "Read-only: one `SELECT` or `WITH` query over orders, bookings, events and the rest. "
    "The sidecar runs it with a row limit and a time limit."
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
    st.caption(f"{len(frame)} rows{more} in {answer.get('elapsed_ms', 0):.0f} ms")
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
