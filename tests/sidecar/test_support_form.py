"""The success page's support form (issue 13): a plain HTML form, no script, answered with a
page; a real sidecar."""

from __future__ import annotations

import html
import re

import requests

from tests.sidecar.test_roster_messages import camp_day, pay


def test_the_success_page_form_opens_a_ticket_and_says_what_to_fix(start_sidecar_process):
    sidecar = start_sidecar_process()
    order_id = pay(sidecar, [camp_day("Mia")], "jane@example.com", "Jane Citizen", 8900)
    success = requests.get(f"{sidecar.url}/orders/{order_id}/success", timeout=10)
    assert success.status_code == 200
    action = f"/orders/{order_id}/support"
    assert f'<form method="post" action="{action}">' in success.text
    assert 'name="email" type="email" autocomplete="email" required value="jane@example.com"' in (
        success.text
    )
    assert "form-action 'self'" in success.headers["Content-Security-Policy"]
    url = sidecar.url + action

    # What a phone's browser sends without JavaScript: form-encoded fields.
    fix = requests.post(url, data={"category": "wrong_date", "message": " ", "name": "Jane",
                                   "email": "not an address"}, timeout=10)  # fmt: skip
    assert fix.status_code == 422
    problems = [html.unescape(p) for p in re.findall(r"<li>(.*?)</li>", fix.text)]
    assert [p.split(":")[0] for p in problems] == ["Your email", "Your message"]
    assert '<option value="wrong_date" selected>' in fix.text  # what they chose is kept
    assert 'value="Jane"' in fix.text

    sent = requests.post(url, data={"category": "wrong_date", "name": "Jane",
                                    "message": "Mia should be on Wednesday, not Thursday.",
                                    "email": "jane@example.com"}, timeout=10)  # fmt: skip
    assert sent.status_code == 201
    (reference,) = re.findall(r"<strong>(TT-[A-Z0-9]+)</strong>", sent.text)
    assert "Thanks, we've got your request" in sent.text
    ticket = sidecar.staff_get(f"/api/tickets/{reference}").json()
    assert ticket["order_id"] == order_id
    assert ticket["message"] == "Mia should be on Wednesday, not Thursday."
