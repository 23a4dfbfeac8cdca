"""A fake of Stripe's remote API (v1), for tests that drive the real `stripe` library against it.

Only the wire is faked: a threaded HTTP server on 127.0.0.1 that speaks what the library
speaks (form-encoded bodies with bracket notation in, JSON objects and Stripe-shaped errors
out) for the endpoints TinkerTank uses:

    POST /v1/checkout/sessions                 create (validated like Stripe does;
                                               `expand[]=line_items` works)
    POST /v1/checkout/sessions/{id}/expire     expire an open session (emits an event)
    GET  /v1/events                            list what the test registered (add_event) and
                                               what the fake emitted (completion, expiry)
    GET  /v1/prices/{id}                       retrieve a price registered with add_price
    GET  /v1/invoice_payments                  list invoice payments (add_invoice_payment)
                                               by `invoice` or `payment[type]` and
                                               `payment[payment_intent]`; `expand[]=data.invoice`
    POST /v1/refunds                           refund a registered PaymentIntent (emits
                                               `charge.refunded`)

Anything else answers 404 "Unrecognized request URL", as Stripe does.

    with FakeStripe() as fake:
        client = stripe.StripeClient("sk_test_123", base_addresses={"api": fake.url},
                                     max_network_retries=0)
        session = client.v1.checkout.sessions.create(params={...})
        fake.requests[-1].params  # the nested params the library sent

Idempotency follows Stripe's rules: a successful POST's response is saved under its
`Idempotency-Key` and replayed (header `Idempotent-Replayed: true`) for the same endpoint and
params; other params or another endpoint under the same key get a 400 `idempotency_error`; a
key whose first request is still running gets a 409. Failed requests (validation errors,
injected faults) are not saved, so a retry with the same key runs afresh.

Fault injection: `fail_next(n, status)` answers the next n requests with a Stripe-shaped error
before doing anything else; `delay_next(n, seconds)` does the work (and saves the idempotent
result) but waits before answering, like a slow network after Stripe committed;
`down()`/`up()` close and reopen the listening socket on the same port.

Internal failures of the fake itself answer 500 and are kept in `fake.errors` (a test can
assert it is empty); the server never dies of a bad request.
"""

from tests.fakes.stripe.params import parse_params
from tests.fakes.stripe.server import FakeStripe, RecordedRequest

__all__ = ["FakeStripe", "RecordedRequest", "parse_params"]
