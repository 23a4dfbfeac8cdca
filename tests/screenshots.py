"""`make screenshots` (`python -m tests.screenshots`): the dashboard's pictures in the docs,
taken again from a business in full swing.

Everything runs on one fixed moment, 09:20 on Wednesday 6 January 2027 in Sydney, a day of
the Robotics Bootcamp in data/catalog.toml (the processes' CLOCK_SHIFT_SECONDS, as the tests
pin theirs), so that the pictures do not change with the day they are taken:

- `tinkertank demo-history --days 21` plays three weeks of orders into a new database;
- a real sidecar (`tinkertank serve`) with the fake Stripe API, and three families booked
  into today's camp through the real checkout (notes, an emergency contact, a collector);
- `tinkertank simulate --count 12`: orders arriving while the pictures are taken;
- `tinkertank dashboard`, driven by Playwright through Debian's headless Chromium at
  1280x800, logged in as Robin.

Each page must show no error box, or the run fails. The pictures are reduced to a 256-colour
palette with Pillow and written to docs/images/ (each well under 250 KB).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import requests
from PIL import Image

from runtime.sidecar_process import free_port, inherited_env, start_sidecar
from tests.conftest import ADMIN_TOKEN, CHROMIUM, CHROMIUM_ARGS, REPO, SYDNEY, Sidecar, sidecar_env
from tests.dashboard.browser import running_dashboard, settled, trouble
from tests.fakes.stripe import FakeStripe
from tests.fakes.twilio import FakeTwilio

DOCS_NOW = datetime(2027, 1, 6, 9, 20, tzinfo=SYDNEY)
DOCS_DAY = DOCS_NOW.date().isoformat()
IMAGES = REPO / "docs" / "images"
VIEWPORT = {"width": 1280, "height": 800}
PASSWORD = "screenshots-only-password"
MAX_BYTES = 250_000


def wait_for(predicate: Callable[[], object], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting after {timeout} s")
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False


def camp_today(child: str, session: str = "day", **student: object) -> dict:
    return {"product_id": "summer-robotics", "date": DOCS_DAY, "session": session,
            "student": {"name": child, "age": 9, **student}}  # fmt: skip


def book(sidecar: Sidecar, fake: FakeStripe, name: str, phone: str, items: list[dict]) -> str:
    """Check out through the sidecar, pay in the fake Stripe's Checkout; the order id."""
    email = f"{name.lower().replace(' ', '.')}@example.com"
    body = {"customer": {"email": email, "name": name, "phone": phone}, "items": items}
    response = requests.post(sidecar.url + "/api/checkout", json=body, timeout=30)
    response.raise_for_status()
    order_id = response.json()["order_id"]
    (session_id,) = [s for s, v in fake.sessions.items() if v["client_reference_id"] == order_id]
    assert sidecar.deliver(fake.complete_session(session_id)).status_code == 200
    return order_id


@contextmanager
def business(workdir: Path) -> Iterator[tuple[Sidecar, dict[str, str]]]:
    """The sidecar of a busy day, and the environment its dashboard needs."""
    shift = DOCS_NOW.timestamp() - time.time()
    with FakeStripe(clock=lambda: time.time() + shift) as fake, FakeTwilio() as twilio:
        env = {**inherited_env(), **sidecar_env(workdir, CLOCK_SHIFT_SECONDS=str(shift),
               STRIPE_SECRET_KEY="sk_test_123", STRIPE_API_BASE=fake.url,
               **twilio.env())}  # fmt: skip
        subprocess.run([sys.executable, "-m", "cli.main", "demo-history", "--days", "21"],
                       env=env, cwd=REPO, check=True)  # fmt: skip
        server = start_sidecar(free_port(), env, log_path=workdir / "sidecar.log")
        sidecar = Sidecar(server)
        try:
            orders = [
                book(sidecar, fake, "Ann Chen", "0412 345 678", [camp_today(
                    "Ada Chen", notes="Peanut allergy: EpiPen in her bag",
                    emergency_contacts=[{"name": "Wei Chen", "phone": "0412 345 679"}],
                    authorised_collectors=[{"name": "Grace Chen", "phone": "0498 765 432"}],
                )]),
                book(sidecar, fake, "Ben Okafor", "0423 456 789", [camp_today("Bo Okafor")]),
                book(sidecar, fake, "Cat Nguyen", "0434 567 890",
                     [camp_today("Cy Nguyen", "all_day"), camp_today("Di Nguyen", age=7)]),
            ]  # fmt: skip
            for order_id in orders:
                wait_for(lambda o=order_id: requests.get(
                    f"{sidecar.url}/api/orders/{o}/status", timeout=10
                ).json()["fulfillment_status"] == "fulfilled")  # fmt: skip
            waiting_list(sidecar)
            subprocess.run([sys.executable, "-m", "cli.main", "simulate", "--count", "12",
                            "--url", sidecar.url, "--quiet"], env=env, cwd=REPO,
                           check=True)  # fmt: skip
            yield sidecar, env
        finally:
            server.stop()


def waiting_list(sidecar: Sidecar) -> None:
    """Tomorrow's Robotics Bootcamp made full (a room closed), and three families waiting."""
    tomorrow = "2027-01-07"
    events = _staff_get(sidecar, "/api/events", start=tomorrow, end="2027-01-08")["events"]
    (event,) = [e for e in events if e["product_id"] == "summer-robotics" and e["event_id"]]
    full = requests.post(
        f"{sidecar.url}/api/events/{event['event_id']}/capacity",
        json={
            "capacity": event["booked"],
            "reason": "The Workshop is being painted",
        },
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert full.status_code == 200, full.text
    for parent, child in (
        ("Eve Park", "Finn Park"),
        ("Gus Li", "Hana Li"),
        ("Ivy Ross", "Jo Ross"),
    ):
        email = f"{parent.lower().replace(' ', '.')}@example.com"
        joined = requests.post(sidecar.url + "/api/waitlist", timeout=10, json={
            "customer": {"email": email, "name": parent},
            "items": [{"product_id": "summer-robotics", "date": tomorrow, "session": "day",
                       "student": {"name": child, "age": 8}}]})  # fmt: skip
        assert joined.status_code in (200, 201), joined.text


def compress(source: Path, target: Path) -> int:
    """A 256-colour palette PNG of `source` at `target`; its size in bytes."""
    with Image.open(source) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
            target, optimize=True
        )
    return target.stat().st_size


def take(page, raw: Path, out: Path, name: str) -> None:
    settled(page, 0.5)
    found = trouble(page)
    if found:
        raise SystemExit(f"{name}: an error on screen: {found}")
    page.screenshot(path=raw / f"{name}.png")
    size = compress(raw / f"{name}.png", out / f"{name}.png")
    print(f"{out / name}.png: {size // 1000} KB")
    if size > MAX_BYTES:
        raise SystemExit(f"{name}.png is {size} bytes, more than {MAX_BYTES}")


def to_top(locator) -> None:
    """Scroll the page so that `locator` is at the top of the screen."""
    locator.evaluate("element => element.scrollIntoView({block: 'start'})")


def open_page(page, title: str) -> None:
    page.get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title, exact=True).wait_for()
    settled(page)


def photograph(url: str, out: Path, raw: Path, sidecar: Sidecar) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(url)
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        page.get_by_role("textbox", name="Your name").fill("Robin")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("heading", name="Live").wait_for()
        take(page, raw, out, "live")

        open_page(page, "Check-in")
        page.get_by_text("Robotics Bootcamp — day session").first.wait_for()
        take(page, raw, out, "checkin")
        page.locator(".st-key-checkin-in-" + _booking(sidecar, "Bo Okafor") + " button").click()
        page.get_by_text("Bo Okafor checked in by Robin").wait_for()
        take(page, raw, out, "checkin-in")

        open_page(page, "Calendar")
        take(page, raw, out, "calendar-month")
        calendar = page.frame_locator('iframe[title="streamlit_calendar.calendar"]')
        today = calendar.locator(f'td[data-date="{DOCS_DAY}"] .fc-event')
        today.filter(has_text="Robotics Bootcamp").first.click()
        heading = page.get_by_role("heading", name="Robotics Bootcamp, Wed 6 Jan 2027")
        heading.wait_for()
        settled(page)
        to_top(page.get_by_text("Roster of").first)
        take(page, raw, out, "calendar-roster")
        page.get_by_text("Message every family booked").first.click()
        settled(page)
        page.get_by_role("textbox", name="Add a line (templates)").first.fill(
            "We will email about a make-up day by Friday."
        )
        page.get_by_text("SMS", exact=True).first.click()
        to_top(page.get_by_text("Message every family booked").first)
        take(page, raw, out, "roster-message")
        page.get_by_role("button", name="Send to every family").first.click()
        page.get_by_text("(4 emails, 3 SMS)").first.wait_for()
        settled(page)
        page.get_by_text("Message every family booked").first.click()  # open it again
        settled(page)
        to_top(page.get_by_role("button", name="Send to every family").first)
        take(page, raw, out, "roster-message-sent")

        open_page(page, "Orders")
        take(page, raw, out, "orders")
        order_id = _order_of(sidecar, "Cat Nguyen")
        page.get_by_role("textbox", name="Open an order by order, cs_ or pi_ id").fill(order_id)
        page.keyboard.press("Enter")
        settled(page)
        to_top(page.get_by_role("textbox", name="Open an order by order, cs_ or pi_ id"))
        take(page, raw, out, "order-detail")
        page.get_by_text("Act on this order").click()
        settled(page)
        refund = page.locator('[data-testid="stForm"]').filter(has_text="Items to refund")
        refund.locator('[data-testid="stMultiSelect"]').click()
        page.get_by_role("option", name="Di Nguyen", exact=False).click()
        page.keyboard.press("Escape")
        refund.get_by_role("textbox", name="Why").fill("Di is unwell")
        to_top(page.get_by_text("Act on this order"))
        take(page, raw, out, "order-refund")

        open_page(page, "Bookings")
        to_top(page.get_by_role("heading", name="Bookings", exact=True))
        take(page, raw, out, "bookings")
        open_page(page, "Waitlist")
        page.locator('[data-testid="stDataFrame"]').first.wait_for()
        page.locator('[data-testid="stSelectbox"]').last.click()
        page.get_by_role("option", name="Robotics Bootcamp", exact=False).first.click()
        settled(page)
        take(page, raw, out, "waitlist")

        # Not the Errors page: its red banner of critical entries (the demo's disputes) is
        # the page working, but the pictures show no error box.
        open_page(page, "Summaries")
        take(page, raw, out, "summaries")
        browser.close()


def _staff_get(sidecar: Sidecar, path: str, **params: str) -> dict:
    response = sidecar.staff_get(path, **params)
    response.raise_for_status()
    return response.json()


def _order_of(sidecar: Sidecar, name: str) -> str:
    email = f"{name.lower().replace(' ', '.')}@example.com"
    (order,) = _staff_get(sidecar, "/api/orders", q=email)["orders"]
    return order["order_id"]


def _booking(sidecar: Sidecar, child: str) -> str:
    order_id = _order_of(sidecar, {"Bo Okafor": "Ben Okafor"}[child])
    (booking,) = _staff_get(sidecar, f"/api/orders/{order_id}")["bookings"]
    return booking["booking_id"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.screenshots", description=__doc__)
    parser.add_argument("--out", type=Path, default=IMAGES, help="where the PNGs go")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        raise SystemExit(f"screenshots need Debian's chromium at {CHROMIUM} (make chromium)")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="screenshots-") as temporary:
        workdir = Path(temporary)
        raw = workdir / "raw"
        raw.mkdir()
        with (
            business(workdir) as (sidecar, env),
            running_dashboard(
                sidecar.url, workdir, env["CLOCK_SHIFT_SECONDS"], env, PASSWORD
            ) as url,
        ):
            photograph(url, args.out, raw, sidecar)
    total = sum(p.stat().st_size for p in args.out.glob("*.png"))
    print(f"{args.out}: {total // 1000} KB in all")


if __name__ == "__main__":
    main()
