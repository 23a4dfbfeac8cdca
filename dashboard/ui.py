"""What every page shares: how API failures look, and how a button says what it did."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import streamlit as st

from client.staff_api import ApiError, NotAvailable, SidecarDown, message_of

REFRESH_SECONDS = 5  # the Live page's panels
FLASH_KEY = "flash"
RESULTS_KEY = "action-results"  # place → (level, message) of the last click there


def sidecar_down(exc: SidecarDown) -> None:
    st.error(
        f"**The sidecar is not answering.** {exc}. Nothing can be shown or changed until it "
        "is back: check that `tinkertank serve` runs and that `SIDECAR_URL` points at it.",
        icon=":material/power_off:",
    )


def not_available(exc: NotAvailable) -> None:
    st.info(
        f"Not available on this sidecar yet: it has no `{exc.method} {exc.path}`. "
        "Update the sidecar to use this.",
        icon=":material/construction:",
    )


@contextlib.contextmanager
def section() -> Iterator[None]:
    """Run a part of a page; an API failure shows as a notice in its place, never as a
    traceback, and the rest of the page still renders. (A fragment's own reruns happen
    outside the app's handler, so its body needs this too.)"""
    try:
        yield
    except SidecarDown as exc:
        sidecar_down(exc)
    except NotAvailable as exc:
        not_available(exc)
    except ApiError as exc:
        st.error(exc.message)


def act(
    call: Callable[[], dict[str, Any]],
    done: str,
    place: str | None = None,
    judge: Callable[[dict[str, Any]], tuple[str, str]] | None = None,
) -> None:
    """Run a button's action, then rerun so the page reads fresh data. What happened is kept
    for `result(place)`, drawn next to the button that caused it, in the colour of what
    happened: `judge(answer)` says which (`success`, `warning` or `error`, and the message);
    without it a 2xx is a success with the API's message. A refusal or a down sidecar is an
    error there too. Without `place`, the message shows under the page's title."""
    try:
        answer = call()
    except NotAvailable as exc:
        outcome = ("warning", str(exc))
    except SidecarDown as exc:
        outcome = ("error", f"Nothing was done: {exc}.")
    except ApiError as exc:
        outcome = ("error", exc.message)
    else:
        outcome = judge(answer) if judge else ("success", message_of(answer, done))
    if place is None:
        flash(outcome[1], outcome[0])
    else:
        st.session_state.setdefault(RESULTS_KEY, {})[place] = outcome
    st.rerun()


LEVEL_ICONS = {"success": ":material/check_circle:", "warning": ":material/warning:",
               "error": ":material/error:", "info": ":material/info:"}  # fmt: skip


def result(place: str) -> None:
    """What the button at `place` did on the last click, if anything, in its colour."""
    outcome = st.session_state.get(RESULTS_KEY, {}).pop(place, None)
    if outcome is not None:
        level, message = outcome
        show = getattr(st, level if level in LEVEL_ICONS else "info")
        show(message, icon=LEVEL_ICONS.get(level))


def flash(message: str, level: str = "success") -> None:
    st.session_state.setdefault(FLASH_KEY, []).append((level, message))


def page_title(title: str) -> None:
    """A page's title, then what the last button did (kept across the rerun it asked for)."""
    st.title(title)
    for flashed in st.session_state.pop(FLASH_KEY, []):
        level, message = flashed if isinstance(flashed, tuple) else ("success", flashed)
        getattr(st, level if level in LEVEL_ICONS else "info")(message)


def table(
    rows: list[dict[str, Any]],
    columns: dict[str, str],
    empty: str = "Nothing to show.",
    **config: Any,
) -> None:
    """A dataframe of `rows` showing `columns` (key → heading), in that order; with no rows,
    `empty`: what will appear here, and when."""
    if not rows:
        st.caption(empty)
        return
    frame = pd.DataFrame(
        [{heading: row.get(key) for key, heading in columns.items()} for row in rows]
    )
    config.setdefault("height", fit_height(len(frame)))
    st.dataframe(frame, hide_index=True, width="stretch", **config)


ROW_PIXELS = 35  # a dataframe row in Streamlit's default theme
MAX_FIT_ROWS = 100


def fit_height(rows: int) -> int | str:
    """A table's height showing every row of a page (up to 100), so that nothing hides
    behind a scroll bar; Streamlit's own height for a short table."""
    if rows <= 10:
        return "auto"
    return ROW_PIXELS * (min(rows, MAX_FIT_ROWS) + 1) + 3


def page_key(name: str, *filters: Any) -> str:
    """A pager's widget key: new filters make a new pager, which starts at page 1."""
    return f"{name}-page-{hash(tuple(str(f) for f in filters))}"


def page_offset(key: str, page_size: int) -> int:
    """The offset to ask the API for, from the pager drawn under the previous table."""
    return (int(st.session_state.get(key, 1)) - 1) * page_size


def pager(total: int, page_size: int, key: str) -> None:
    """The page number input under a table (its value is read by `page_offset`)."""
    pages = max(1, -(-total // page_size))
    if pages == 1:
        st.caption(f"{total} in all")
        return
    if int(st.session_state.get(key, 1)) > pages:
        st.session_state[key] = pages
    st.number_input(f"Page (of {pages}; {total} in all)", min_value=1, max_value=pages, key=key)
