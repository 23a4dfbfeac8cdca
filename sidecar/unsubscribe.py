"""`GET /unsubscribe/{token}` (a page with a button) and `POST /unsubscribe/{token}` (the
one-click unsubscribe of RFC 8058, which mail programs send, and the button): the signed
address (core/unsubscribe.py) gets no more reminder emails. Confirmations, cancellations
and replies are transactional and keep coming.

Both answer a page (200; 404 for a link that is not genuine). The GET changes nothing, so
a mail scanner that follows links does not unsubscribe anyone.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core import clock, unsubscribe
from core.messages import pages
from sidecar.customer import _Page
from store import optouts


async def unsubscribe_page(request: Request) -> Response:
    page = _Page(request)
    key = unsubscribe.key_from(request.app.state.settings.admin_token)
    found = unsubscribe.read(key, request.path_params["token"])
    action = request.url.path
    if found is None:
        body = pages.render_unsubscribe("invalid", None, action, page.base_url,
                                        page.support_email, page.nonce)  # fmt: skip
        return page.html(body, status_code=404)
    email, list_name = found
    if request.method == "POST":
        await request.app.state.database.awrite(optouts.opt_out, email, list_name,
                                                clock.utcnow())  # fmt: skip
        state = "done"
    else:
        state = "ask"
    body = pages.render_unsubscribe(state, email, action, page.base_url, page.support_email,
                                    page.nonce)  # fmt: skip
    return page.html(body, forms=True)


routes = [Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET", "POST"])]
