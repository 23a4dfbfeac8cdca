"""The fields of one booking (the parent, the child, what they book), drawn inside a form,
and the checkout body they make: what the phone-booking and repair forms send. The sidecar
validates it as it validates a checkout, and says what is wrong, field by field."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from core.bookable import label


def cart_fields(prefix: str, products: list[dict[str, Any]]) -> dict[str, Any]:
    """Draw the fields (widget keys `<prefix>-…`); the cart they make, as a checkout body.
    `products` are what can be booked (`GET /api/catalog`): staff pick one by its name."""
    left, right = st.columns(2)
    email = left.text_input("Parent's email", key=f"{prefix}-email")
    name = right.text_input("Parent's name", key=f"{prefix}-name")
    child = left.text_input("Child's name", key=f"{prefix}-child")
    age = right.number_input("Child's age", min_value=1, max_value=18, value=8, key=f"{prefix}-age")
    notes = st.text_input("Notes (allergies, needs)", key=f"{prefix}-notes")
    by_id = {p["product_id"]: p for p in products}
    product = st.selectbox(
        "What", list(by_id), index=None, format_func=lambda p: label(by_id[p]),
        placeholder="Choose a camp, a party or an Ignite class", key=f"{prefix}-product",
        help="From the catalog: camps with days still to come, parties, Ignite classes.",
    ) or ""  # fmt: skip
    kind = by_id[product]["kind"] if product else None
    # A form does not redraw as it is filled in, so every field is shown; what the kind
    # does not take is left out of the cart.
    left, middle, right = st.columns(3)
    day = left.date_input("Day (camp, party)", value=None, format="DD/MM/YYYY", key=f"{prefix}-day")
    session = middle.selectbox(
        "Session (camp)", ["day", "all_day"], format_func=lambda s: s.replace("_", " "),
        key=f"{prefix}-session",
    )  # fmt: skip
    start = right.text_input("Start time (party, HH:MM)", key=f"{prefix}-start")
    item: dict[str, Any] = {"product_id": product}
    if kind in ("camp", "party"):
        item["date"] = day.isoformat() if isinstance(day, date) else ""
    if kind == "camp":
        item["session"] = session
    if kind == "party":
        item["start_time"] = start.strip()
    student: dict[str, Any] = {"name": child.strip(), "age": int(age)}
    if notes.strip():
        student["notes"] = notes.strip()
    item["student"] = student
    return {"customer": {"email": email.strip(), "name": name.strip()}, "items": [item]}
