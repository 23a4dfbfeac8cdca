"""`POST /api/support/booking-issue` and the staff's ticket endpoints, against a real sidecar,
a real SMTP server (aiosmtpd) and a local Slack endpoint."""

from __future__ import annotations

import email.policy
import itertools
import json
import secrets
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
import requests

from core.cart_metadata import encode_metadata_cart
from core.support import REQUESTS_PER_CLIENT, TICKETS_PER_ADDRESS
from runtime.sidecar_process import free_port, start_sidecar
from sidecar.support import MAX_BODY_BYTES
from tests.conftest import ADMIN_TOKEN, Sidecar, SlackHook, make_event, sidecar_env
from tests.sidecar.test_alerts import wait_for

# Each test speaks from its own client address (the module's sidecar trusts X-Forwarded-For
# from the test, as if it were the storefront's proxy), so the per-client cap of one test
# does not reach into another's.
_clients = (f"198.51.100.{n}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    tmp_path = tmp_path_factory.mktemp("support")
    env = sidecar_env(tmp_path, FORWARDED_ALLOW_IPS="127.0.0.1")
    server = start_sidecar(free_port(), env, log_path=tmp_path / "sidecar.log")
    yield Sidecar(server)
    server.stop()


def report(**overrides: Any) -> dict[str, Any]:
    body = {
        "order_id": f"ord_{secrets.token_urlsafe(16)}",
        "email": f"parent-{secrets.token_hex(4)}@example.com",
        "category": "wrong_date",
        "message": "We booked Tuesday but meant Wednesday. Could Mia move to Wednesday?",
        "name": "Jane Citizen",
    }
    body.update(overrides)
    return body


def post_issue(
    sidecar: Sidecar, body: Any = None, *, data: Any = None, client: str | None = None
) -> requests.Response:
    headers = {"X-Forwarded-For": client or next(_clients)}
    if data is None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    return requests.post(
        sidecar.url + "/api/support/booking-issue", data=data, headers=headers, timeout=10
    )


def staff_post(sidecar: Sidecar, path: str, body: Any, token: str = ADMIN_TOKEN):
    return requests.post(
        sidecar.url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def tickets_of(sidecar: Sidecar, address: str) -> list[dict]:
    response = sidecar.staff_get("/api/tickets", limit=500)
    assert response.status_code == 200, response.text
    return [t for t in response.json()["tickets"] if t["email"] == address]


def test_a_report_is_answered_with_its_reference_and_stored_for_staff(sidecar: Sidecar):
    body = report(email="Jane.Citizen@Example.com", category="child_details")

    response = post_issue(sidecar, body)

    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["status"] == "open" and answer["ticket_id"].startswith("TT-")
    assert answer["ticket_id"] in answer["message"]
    (ticket,) = tickets_of(sidecar, "jane.citizen@example.com")
    assert ticket["ticket_id"] == answer["ticket_id"]
    assert ticket["category"] == "child_details" and ticket["message"] == body["message"]
    assert ticket["order_reference"] == body["order_id"] and ticket["order_id"] is None
    assert ticket["status"] == "open" and ticket["created_at"].endswith("Z")


def test_invalid_input_lists_every_problem(sidecar: Sidecar):
    body = report(order_id="1234", email="jane@", category="moan", message="")

    response = post_issue(sidecar, body)

    assert response.status_code == 422
    answer = response.json()
    assert answer["error"] == "invalid_request"
    assert [p["path"] for p in answer["problems"]] == ["order_id", "email", "category", "message"]


def test_a_body_over_the_limit_is_refused_with_413(sidecar: Sidecar):
    oversized = json.dumps(report(message="x" * MAX_BODY_BYTES)).encode()

    declared = post_issue(sidecar, data=oversized)

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused while reading
        for start in range(0, len(oversized), 4096):
            yield oversized[start : start + 4096]

    streamed = post_issue(sidecar, data=chunks())

    assert declared.status_code == 413 and streamed.status_code == 413
    assert streamed.json()["error"] == "too_large"


def test_a_body_that_is_not_json_gets_a_clear_422(sidecar: Sidecar):
    response = post_issue(sidecar, data=b"order_id=ord_1&email=a@b.co")

    assert response.status_code == 422
    assert response.json()["problems"][0]["message"].startswith("body is not valid JSON")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"1" * 5000,  # beyond Python's digit limit for integers
        b"1e999999",
        b"[" * 30000,  # deeper than the JSON parser's recursion limit
        b'{"order_id": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001,
        b'{"message": "\xff\xfe broken"}',  # not UTF-8
        json.dumps(report(message="lone \ud800 surrogate")).encode(),
        json.dumps(report(email="jane\u0000@example.com")).encode(),
        json.dumps(report(order_id={"$ne": None}, email=["a@b.co"], category=7, name={})).encode(),
        json.dumps(report(message=10**300, category=1e308)).encode(),
        json.dumps([report()]).encode(),
        json.dumps(report(**{"k" * 20000: 1})).encode(),
    ],
    ids=[
        "empty",
        "huge-integer",
        "huge-float",
        "nested-lists",
        "nested-objects",
        "invalid-utf8",
        "lone-surrogate",
        "nul",
        "wrong-types",
        "numbers",
        "list",
        "long-key",
    ],
)
def test_a_hostile_body_gets_a_4xx_and_stores_nothing(sidecar: Sidecar, data: bytes):
    before = sidecar.staff_get("/api/tickets").json()["total"]

    response = post_issue(sidecar, data=data)

    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request"
    assert sidecar.staff_get("/api/tickets").json()["total"] == before
    assert requests.get(sidecar.url + "/readyz", timeout=10).status_code == 200


def test_a_flood_from_one_address_is_refused_with_retry_after_and_not_stored(sidecar: Sidecar):
    address = f"flood-{secrets.token_hex(4)}@example.com"
    answers = [
        post_issue(sidecar, report(email=address)).status_code
        for _ in range(TICKETS_PER_ADDRESS + 3)
    ]

    refused = post_issue(sidecar, report(email=address.upper()))  # the same address

    assert answers == [201] * TICKETS_PER_ADDRESS + [429] * 3
    assert refused.status_code == 429
    assert refused.json()["error"] == "too_many_requests"
    assert 3000 < int(refused.headers["Retry-After"]) <= 3600
    assert len(tickets_of(sidecar, address)) == TICKETS_PER_ADDRESS


def test_a_flood_of_addresses_from_one_client_is_capped(sidecar: Sidecar):
    client = "203.0.113.50"
    answers = [
        post_issue(sidecar, report(), client=client).status_code
        for _ in range(REQUESTS_PER_CLIENT + 1)
    ]

    assert answers == [201] * REQUESTS_PER_CLIENT + [429]
    assert post_issue(sidecar, report(), client="203.0.113.51").status_code == 201


def test_the_reply_reaches_the_customer_and_staff_hear_without_private_details(
    start_sidecar_process, smtp, slack: SlackHook
):
    inbox, port = smtp
    sidecar = start_sidecar_process(
        SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), SMTP_SECURITY="none",
        SLACK_WEBHOOK_URL=slack.url, EMAIL_FROM="TinkerTank <help@tinkertank.example>",
    )  # fmt: skip
    items = [{"product_id": "summer-robotics", "date": "2027-01-08", "session": "day",
              "student": {"name": "Matilda", "age": 9}}]  # fmt: skip
    metadata = encode_metadata_cart(items, {"email": "kim@example.com", "name": "Kim Lee"})
    intent_id = f"pi_{secrets.token_hex(8)}"
    intent = {"id": intent_id, "object": "payment_intent", "amount": 8900,
              "amount_received": 8900, "currency": "aud", "metadata": metadata,
              "status": "succeeded"}  # fmt: skip
    sidecar.deliver(make_event(type="payment_intent.succeeded", data={"object": intent}))
    status_url = f"{sidecar.url}/api/orders/{intent_id}/status"
    assert wait_for(lambda: requests.get(status_url, timeout=10).status_code == 200)
    order_id = requests.get(status_url, timeout=10).json()["order_id"]
    message = "Matilda has a nut allergy; her EpiPen is in the front pocket of her bag."

    response = post_issue(
        sidecar,
        report(order_id=intent_id, email="Kim@Example.com", name="Kim Lee", message=message,
               category="accessibility_or_medical"),
    )  # fmt: skip

    assert response.status_code == 201, response.text
    ticket_id = response.json()["ticket_id"]
    assert tickets_of(sidecar, "kim@example.com")[0]["order_id"] == order_id

    def support_posts() -> list[str]:
        return [p["text"] for _, p in slack.posts if "support ticket" in p["text"]]

    def replies() -> list:
        return [
            message
            for recipients, message in inbox.messages
            if recipients == ["kim@example.com"] and ticket_id in message["Subject"]
        ]

    assert wait_for(lambda: replies() and support_posts())
    (reply,) = replies()
    mail = message_from_bytes(reply.as_bytes(), policy=email.policy.default)
    assert mail["Subject"] == f"We've received your request [{ticket_id}]"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Hi Kim" in text and "Accessibility or medical needs" in text
    # Their words are not echoed to an address nobody has verified.
    assert "Matilda" not in text and "Matilda" not in html and ticket_id in html
    assert "help@tinkertank.example" in text
    (notice,) = support_posts()
    assert ticket_id in notice and order_id in notice and "Accessibility" in notice
    assert "Matilda" not in notice and "EpiPen" not in notice and "kim@" not in notice


def test_the_answer_does_not_say_whether_the_order_exists(start_sidecar_process):
    sidecar = start_sidecar_process()
    intent_id = f"pi_{secrets.token_hex(8)}"
    items = [{"product_id": "summer-robotics", "date": "2027-01-11", "session": "day",
              "student": {"name": "Ava", "age": 8}}]  # fmt: skip
    metadata = encode_metadata_cart(items, {"email": "sam@example.com", "name": "Sam Roe"})
    intent = {"id": intent_id, "object": "payment_intent", "amount": 8900,
              "amount_received": 8900, "currency": "aud", "metadata": metadata,
              "status": "succeeded"}  # fmt: skip
    sidecar.deliver(make_event(type="payment_intent.succeeded", data={"object": intent}))
    status_url = f"{sidecar.url}/api/orders/{intent_id}/status"
    assert wait_for(lambda: requests.get(status_url, timeout=10).status_code == 200)

    answers = [
        post_issue(sidecar, report(order_id=reference, email="mallory@example.com"))
        for reference in (intent_id, f"pi_{secrets.token_hex(8)}")
    ]

    assert [a.status_code for a in answers] == [201, 201]
    first, second = (a.json() for a in answers)
    assert first["message"].replace(first["ticket_id"], "") == second["message"].replace(
        second["ticket_id"], ""
    )
    assert [t["order_id"] for t in tickets_of(sidecar, "mallory@example.com")] == [None, None]


def test_staff_move_a_ticket_along_and_note_what_they_did(sidecar: Sidecar):
    ticket_id = post_issue(sidecar, report()).json()["ticket_id"]
    path = f"/api/tickets/{ticket_id}"

    working = staff_post(sidecar, path, {"status": "in_progress", "staff_note": "Rang Jane"})
    resolved = staff_post(sidecar, path.lower(), {"status": "resolved"})

    assert working.status_code == 200, working.text
    assert working.json()["updated"] is True
    assert resolved.json()["ticket"]["status"] == "resolved"
    assert resolved.json()["ticket"]["resolved_at"].endswith("Z")
    assert resolved.json()["ticket"]["staff_note"] == "Rang Jane"
    assert sidecar.staff_get(path).json()["status"] == "resolved"
    listed = sidecar.staff_get("/api/tickets", status="resolved", limit=500).json()
    assert ticket_id in [t["ticket_id"] for t in listed["tickets"]]
    assert all(t["status"] == "resolved" for t in listed["tickets"])


def test_a_bad_ticket_change_or_query_is_refused(sidecar: Sidecar):
    ticket_id = post_issue(sidecar, report()).json()["ticket_id"]

    bad_status = staff_post(sidecar, f"/api/tickets/{ticket_id}", {"status": "closed"})
    unknown = staff_post(sidecar, "/api/tickets/TT-22222222", {"status": "resolved"})
    bad_query = sidecar.staff_get("/api/tickets", status="closed")
    bad_page = sidecar.staff_get("/api/tickets", limit=0)

    assert bad_status.status_code == 422
    assert bad_status.json()["problems"][0]["path"] == "status"
    assert unknown.status_code == 404 and unknown.json() == {"error": "not_found"}
    assert bad_query.status_code == 422 and bad_query.json()["error"] == "invalid_query"
    assert bad_page.status_code == 422
    assert sidecar.staff_get(f"/api/tickets/{ticket_id}").json()["status"] == "open"


def test_the_ticket_endpoints_need_the_admin_token(sidecar: Sidecar):
    ticket_id = post_issue(sidecar, report()).json()["ticket_id"]

    listing = requests.get(sidecar.url + "/api/tickets", timeout=10)
    change = staff_post(sidecar, f"/api/tickets/{ticket_id}", {"status": "resolved"}, "wrong")

    assert listing.status_code == 401 and change.status_code == 401
    assert sidecar.staff_get(f"/api/tickets/{ticket_id}").json()["status"] == "open"


# --- abuse (docs/security.md, Abuse limits) ------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "a@example.com,b@example.com,me@evil.example",
        "a@example.com, me@evil.example",
        "Jane <jane@example.com>",
        "jane@example.com\nBcc: me@evil.example",
        "jane\u200b@example.com",
        "jane@exa\u200bmple.com",
        "jane\u0007@example.com",
        '"a,b"@example.com',
        "jane@localhost",
    ],
)
def test_the_email_field_takes_exactly_one_address(sidecar: Sidecar, address: str):
    before = sidecar.staff_get("/api/tickets").json()["total"]

    response = post_issue(sidecar, report(email=address))

    assert response.status_code == 422, response.text
    [problem] = response.json()["problems"]
    assert problem["path"] == "email"
    assert problem["message"].startswith(("expected one email address", "must not contain"))
    assert sidecar.staff_get("/api/tickets").json()["total"] == before


@pytest.mark.parametrize(
    "name",
    [
        "Jane\u00a0please\u00a0pay\u00a0at\u00a0evil.example",
        "Jane visit https://evil.example",
        "Jane <b>",
        "Jane\u200bDoe",
        "Jane\u202eeoD",
        "J" * 61,
    ],
)
def test_a_name_that_is_not_just_a_name_is_refused(sidecar: Sidecar, name: str):
    response = post_issue(sidecar, report(name=name))

    assert response.status_code == 422, response.text
    [problem] = response.json()["problems"]
    assert problem["path"] == "name"


def test_the_reply_to_an_unverified_address_carries_no_typed_text_but_a_first_name(
    start_sidecar_process, smtp
):
    inbox, port = smtp
    sidecar = start_sidecar_process(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port),
                                    SMTP_SECURITY="none")  # fmt: skip
    reference = "ord_Claim-your-refund-at-evil-example"

    response = post_issue(
        sidecar,
        report(order_id=reference, email="victim@example.com", name="Mary-Jane O'Brien",
               message="Send your card number to evil.example"),
    )  # fmt: skip

    assert response.status_code == 201, response.text
    assert wait_for(lambda: len(inbox.messages) == 1)
    [(recipients, reply)] = inbox.messages
    assert recipients == ["victim@example.com"]
    mail = message_from_bytes(reply.as_bytes(), policy=email.policy.default)
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert text.startswith("Hi Mary-Jane,")
    for typed in ("evil", "O'Brien", "Claim", reference):
        assert typed not in text and typed not in html


def test_tag_dot_and_case_variants_of_one_mailbox_share_its_cap(sidecar: Sidecar):
    user = f"jane.doe.{secrets.token_hex(3)}"
    plain = user.replace(".", "")
    variants = [
        f"{user}@gmail.com",
        f"{plain}+a@gmail.com",
        f"{user.upper()}+b@GMail.com",
        f"{plain}@googlemail.com",
        f"{plain[0]}.{plain[1:]}+c@gmail.com",
        f"{plain}+d@gmail.com",
    ]

    answers = [post_issue(sidecar, report(email=address)) for address in variants]

    assert [a.status_code for a in answers] == [201] * TICKETS_PER_ADDRESS + [429]
    assert "this email address" in answers[-1].json()["message"]


def test_x_forwarded_for_is_ignored_unless_its_proxy_is_trusted(start_sidecar_process):
    sidecar = start_sidecar_process(SUPPORT_REQUESTS_PER_CLIENT="3")  # FORWARDED_ALLOW_IPS unset

    answers = [post_issue(sidecar, report(), client=f"203.0.113.{n}") for n in range(5)]

    assert [a.status_code for a in answers] == [201, 201, 201, 429, 429]
    refused = answers[-1]
    assert refused.json()["error"] == "too_many_requests"
    assert "your network" in refused.json()["message"]
    assert 3000 < int(refused.headers["Retry-After"]) <= 3600


def test_a_trusted_proxy_passes_on_the_client_address(start_sidecar_process):
    sidecar = start_sidecar_process(
        SUPPORT_REQUESTS_PER_CLIENT="2", FORWARDED_ALLOW_IPS="127.0.0.1"
    )

    answers = [post_issue(sidecar, report(), client=c) for c in ("203.0.113.7",) * 3]
    other = post_issue(sidecar, report(), client="203.0.113.8")

    assert [a.status_code for a in answers] == [201, 201, 429]
    assert other.status_code == 201
