"""What every page shares: how API failures look, and how a button says what it did."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from client.staff_api import ApiError, NotAvailable, SidecarDown, message_of

REFRESH_SECONDS = 5  # the Live page's panels
FLASH_KEY = "flash"


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


def act(call: Callable[[], dict[str, Any]], done: str) -> None:
    """Run a button's action: on success, rerun with the API's message shown at the top
    (so the page reads fresh data); on refusal, say why here."""
    try:
        answer = call()
    except NotAvailable as exc:
        not_available(exc)
        return
    except ApiError as exc:
        st.error(exc.message)
        return
    flash(message_of(answer, done))
    st.rerun()


def flash(message: str) -> None:
    st.session_state.setdefault(FLASH_KEY, []).append(message)


def page_title(title: str) -> None:
    """A page's title, then what the last button did (kept across the rerun it asked for)."""
    st.title(title)
    for message in st.session_state.pop(FLASH_KEY, []):
        st.success(message)
        st.toast(message)


def table(rows: list[dict[str, Any]], columns: dict[str, str], **config: Any) -> None:
    """A dataframe of `rows` showing `columns` (key → heading), in that order."""
    if not rows:
        st.caption("Nothing to show.")
        return
    frame = pd.DataFrame(
        [{heading: row.get(key) for key, heading in columns.items()} for row in rows]
    )
    st.dataframe(frame, hide_index=True, width="stretch", **config)


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


def preset(choices: Sequence[str], value: str | None) -> int | None:
    """The index of `value` (from the page's address, `?name=value`) among `choices`; None
    (nothing chosen) for anything else."""
    return choices.index(value) if value in choices else None
