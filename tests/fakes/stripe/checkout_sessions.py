"""Checkout Sessions: create (validated like Stripe does), expire, and the test's
`complete_session`/`expire_session`, each emitting its event."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tests.fakes.stripe.errors import (
    _invalid,
    _missing,
    _no_such,
    _one_of,
)
from tests.fakes.stripe.line_items import LineItems
from tests.fakes.stripe.params import (
    EMBEDDED_UI_MODES,
    HOSTED_UI_MODES,
    MAX_EXPIRY_SECONDS,
    MIN_EXPIRY_SECONDS,
    MODES,
    PAYMENT_INTENT_DATA_PARAMS,
    SESSION_CREATE_PARAMS,
    SESSION_EXPANDABLE,
    SUBSCRIPTION_DATA_PARAMS,
    UI_MODES,
    _boolean,
    _check_known,
    _currency,
    _enum,
    _expand,
    _hash,
    _integer,
    _metadata,
    _paginate,
    _reject_empty_strings,
    _string,
    _url,
    new_id,
)


class CheckoutSessions(LineItems):
    """FakeStripe's Checkout Sessions (its state is set up by `FakeStripe.__init__`)."""

    @property
    def sessions(self) -> dict[str, dict[str, Any]]:
        """The Checkout Sessions created so far, by id (copies)."""
        with self._lock:
            return copy.deepcopy(self._sessions)

    def session(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._sessions[session_id])

    def complete_session(
        self, session_id: str, *, customer_email: str | None = None, created: int | None = None
    ) -> dict[str, Any]:
        """The customer paid: mark the session complete and emit checkout.session.completed."""
        with self._lock:
            session = self._sessions[session_id]
            if session["status"] != "open":
                raise ValueError(f"{session_id} is {session['status']}, not open")
            mode = session["mode"]
            session["status"] = "complete"
            session["url"] = None
            if mode == "setup":
                session["setup_intent"] = new_id("seti_")
            elif mode == "subscription":
                session["payment_status"] = "paid"
                session["subscription"] = new_id("sub_")
                session["invoice"] = new_id("in_")
                session["customer"] = session["customer"] or new_id("cus_", 14)
                self.add_subscription(session["subscription"], customer=session["customer"])
            elif session["amount_total"]:
                session["payment_status"] = "paid"
                session["payment_intent"] = new_id("pi_")
                # The payment it made, which refunds name (tests/fakes/stripe/refunds.py).
                self.add_payment_intent(
                    session["payment_intent"], amount=session["amount_total"],
                    currency=session["currency"], metadata=session["metadata"],
                )  # fmt: skip
            email = customer_email or session["customer_email"] or "customer@example.com"
            session["customer_details"] = {
                "address": None,
                "business_name": None,
                "email": email,
                "individual_name": None,
                "name": None,
                "phone": None,
                "tax_exempt": "none",
                "tax_ids": [],
            }
            return self._emit("checkout.session.completed", session, created=created)

    def expire_session(self, session_id: str, *, created: int | None = None) -> dict[str, Any]:
        """The session ran out: mark it expired and emit checkout.session.expired."""
        with self._lock:
            session = self._sessions[session_id]
            if session["status"] != "open":
                raise ValueError(f"{session_id} is {session['status']}, not open")
            session["status"] = "expired"
            session["url"] = None
            return self._emit("checkout.session.expired", session, created=created)

    def _create_session(self, params: dict[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        now = self.clock()
        _check_known(params, SESSION_CREATE_PARAMS)
        _reject_empty_strings(params)
        expand = _expand(params, SESSION_EXPANDABLE)

        if params.get("mode") is None:
            raise _missing("mode")
        mode = _enum(params["mode"], MODES, "mode")
        ui_mode = _enum(params.get("ui_mode", "hosted_page"), sorted(UI_MODES), "ui_mode")
        hosted = ui_mode in HOSTED_UI_MODES
        items = self._session_line_items(params, mode)

        urls: dict[str, str | None] = {}
        for field in ("success_url", "cancel_url", "return_url"):
            urls[field] = _url(params[field], field) if field in params else None
        if hosted:
            if urls["success_url"] is None:
                raise _missing("success_url")
            if urls["return_url"] is not None:
                raise _invalid(
                    f"`return_url` cannot be used with `ui_mode: {ui_mode}`.", "return_url"
                )
        else:
            for field in ("success_url", "cancel_url"):
                if urls[field] is not None:
                    raise _invalid(f"`{field}` cannot be used with `ui_mode: {ui_mode}`.", field)
        redirect = params.get("redirect_on_completion")
        if redirect is not None:
            redirect = _enum(redirect, ("always", "if_required", "never"), "redirect_on_completion")
            if hosted:
                raise _invalid(
                    "`redirect_on_completion` can only be used with `ui_mode: embedded_page`.",
                    "redirect_on_completion",
                )
        if ui_mode in EMBEDDED_UI_MODES and urls["return_url"] is None and redirect != "never":
            raise _missing("return_url")

        currency: str | None = items[0].currency if items else None
        if params.get("currency") is not None:
            requested = _currency(params["currency"], "currency")
            if currency is not None and requested != currency:
                raise _invalid(
                    f"`currency` ({requested}) does not match the line items ({currency}).",
                    "currency",
                )
            currency = requested
        if mode == "setup" and currency is None and "allowed_payment_method_types" not in params:
            raise _missing("currency")

        for field, allowed_modes in (
            ("payment_intent_data", ("payment",)),
            ("subscription_data", ("subscription",)),
            ("setup_intent_data", ("setup",)),
            ("customer_creation", ("payment", "setup")),
        ):
            if field in params and mode not in allowed_modes:
                raise _invalid(f"You can not pass `{field}` in `{mode}` mode.", field)
        self._linked_data(params, "payment_intent_data", PAYMENT_INTENT_DATA_PARAMS)
        self._linked_data(params, "subscription_data", SUBSCRIPTION_DATA_PARAMS)
        customer_creation = None
        if mode != "subscription":
            customer_creation = _enum(
                params.get("customer_creation", "if_required"),
                ("always", "if_required"),
                "customer_creation",
            )

        created = int(now)
        expires_at = created + MAX_EXPIRY_SECONDS
        if params.get("expires_at") is not None:
            expires_at = _integer(params["expires_at"], "expires_at")
            lifetime = expires_at - now
            if lifetime < MIN_EXPIRY_SECONDS - self.expires_at_slack:
                raise _invalid(
                    "The `expires_at` timestamp must be at least 30 minutes from Checkout "
                    "Session creation.",
                    "expires_at",
                )
            if lifetime > MAX_EXPIRY_SECONDS + self.expires_at_slack:
                raise _invalid(
                    "The `expires_at` timestamp must be less than 24 hours from Checkout "
                    "Session creation.",
                    "expires_at",
                )

        if params.get("customer") is not None and params.get("customer_email") is not None:
            raise _one_of("customer", "customer_email")
        customer = params.get("customer")
        if customer is not None:
            customer = _string(customer, "customer")
        customer_email = params.get("customer_email")
        if customer_email is not None:
            customer_email = _string(customer_email, "customer_email", max_length=800)
            if "@" not in customer_email:
                raise _invalid("Invalid email address: " + customer_email, "customer_email")
        client_reference_id = params.get("client_reference_id")
        if client_reference_id is not None:
            client_reference_id = _string(
                client_reference_id, "client_reference_id", max_length=200
            )
        metadata = _metadata(params.get("metadata"), "metadata")
        allow_promotion_codes = (
            _boolean(params["allow_promotion_codes"], "allow_promotion_codes")
            if "allow_promotion_codes" in params
            else None
        )

        session_id = new_id("cs_test_", 58)
        amount = sum(item.amount for item in items) if mode != "setup" else None
        payment_status = "no_payment_required" if mode == "setup" or amount == 0 else "unpaid"
        session: dict[str, Any] = {
            "id": session_id,
            "object": "checkout.session",
            "adaptive_pricing": None,
            "after_expiration": None,
            "allow_promotion_codes": allow_promotion_codes,
            "amount_subtotal": amount,
            "amount_total": amount,
            "automatic_tax": {
                "enabled": False,
                "liability": None,
                "provider": None,
                "status": None,
            },
            "billing_address_collection": params.get("billing_address_collection"),
            "branding_settings": None,
            "cancel_url": urls["cancel_url"],
            "client_reference_id": client_reference_id,
            "client_secret": None if hosted else f"{session_id}_secret_{new_id('', 40)}",
            "collected_information": None,
            "consent": None,
            "consent_collection": None,
            "created": created,
            "currency": currency,
            "currency_conversion": None,
            "custom_fields": [],
            "custom_text": {
                "after_submit": None,
                "shipping_address": None,
                "submit": None,
                "terms_of_service_acceptance": None,
            },
            "customer": customer,
            "customer_account": None,
            "customer_creation": customer_creation,
            "customer_details": None,
            "customer_email": customer_email,
            "discounts": [],
            "excluded_payment_method_types": [],
            "expires_at": expires_at,
            "integration_identifier": params.get("integration_identifier"),
            "invoice": None,
            "invoice_creation": (
                {"enabled": False, "invoice_data": {"metadata": {}}} if mode == "payment" else None
            ),
            "livemode": False,
            "locale": params.get("locale"),
            "metadata": metadata,
            "mode": mode,
            "origin_context": params.get("origin_context"),
            "payment_intent": None,
            "payment_link": None,
            "payment_method_collection": "if_required" if mode == "payment" else "always",
            "payment_method_configuration_details": None,
            "payment_method_options": {},
            "payment_method_types": ["card"],
            "payment_status": payment_status,
            "permissions": None,
            "phone_number_collection": {"enabled": False},
            "recovered_from": None,
            "redirect_on_completion": None if hosted else (redirect or "always"),
            "return_url": urls["return_url"],
            "saved_payment_method_options": None,
            "setup_intent": None,
            "shipping_address_collection": None,
            "shipping_cost": None,
            "shipping_options": [],
            "status": "open",
            "submit_type": params.get("submit_type"),
            "subscription": None,
            "success_url": urls["success_url"],
            "tax_id_collection": {"enabled": False, "required": "never"},
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": ui_mode,
            "url": f"https://checkout.stripe.com/c/pay/{session_id}" if hosted else None,
            "wallet_options": None,
        }
        line_items = [self._line_item_object(item) for item in items]
        with self._lock:
            self._sessions[session_id] = session
            self._line_items[session_id] = [
                ((0, -index), obj) for index, obj in enumerate(line_items)
            ]
            return self._session_view(session_id, expand)

    def _linked_data(self, params: Mapping[str, Any], field: str, allowed: frozenset[str]) -> None:
        if field in params:
            data = _hash(params[field], field)
            _check_known(data, allowed, field)
            _metadata(data.get("metadata"), field, "metadata")

    def _session_view(self, session_id: str, expand: set[str]) -> dict[str, Any]:
        with self._lock:
            view = copy.deepcopy(self._sessions[session_id])
            if "line_items" in expand:
                view["line_items"] = _paginate(
                    self._line_items[session_id],
                    {"limit": "100"},
                    f"/v1/checkout/sessions/{session_id}/line_items",
                    lambda cursor, param: (0, 0),
                )
        return view

    def _retrieve_session(self, session_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """`GET /v1/checkout/sessions/{id}` (a payment link reuses its open session)."""
        _check_known(params, frozenset(("expand",)))
        self._session_or_404(session_id)
        return self._session_view(session_id, _expand(params, SESSION_EXPANDABLE))

    def _session_or_404(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None:
            raise _no_such("checkout.session", session_id, "session")
        return session

    def _expire_session(
        self, session_id: str, params: dict[str, Any], headers: Mapping[str, str]
    ) -> dict[str, Any]:
        _check_known(params, frozenset(("expand",)))
        expand = _expand(params, SESSION_EXPANDABLE)
        with self._lock:
            session = self._session_or_404(session_id)
            if session["status"] != "open":
                raise _invalid(
                    f'Only Checkout Sessions with a status in ["open"] can be expired. This '
                    f'Checkout Session has a status of "{session["status"]}".'
                )
            session["status"] = "expired"
            session["url"] = None
            self._emit(
                "checkout.session.expired",
                session,
                request={"id": None, "idempotency_key": headers.get("idempotency-key")},
            )
            return self._session_view(session_id, expand)
