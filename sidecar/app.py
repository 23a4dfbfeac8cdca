"""The sidecar application: `create_app(settings, catalog, database)`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.catalog import Catalog
from core.settings import Settings
from core.support import ClientLimiter
from runtime.store_client import StoreClient, StoreError
from sidecar import (
    analyst_api,
    attendance_api,
    catalog_api,
    checkout,
    customer,
    health,
    inbox_import,
    manage_booking,
    metrics,
    openapi,
    payment_links,
    roster_messages,
    scheduled_runs,
    sms,
    staff_accounts_api,
    staff_actions,
    staff_api,
    staff_bookings,
    staff_orders,
    summaries_api,
    support,
    unsubscribe,
    waitlist,
    watchdog,
)
from sidecar.staff_api import staff_only
from sidecar.stripe_webhook import RETRY_AFTER_SECONDS, StripeWebhook
from sidecar.webhook_stats import WebhookStats
from store import postgres
from store.database import Database, DatabaseUnavailable

log = logging.getLogger(__name__)


def duplicate_key(type_name: str, message: str) -> bool:
    """Whether a store error is a unique key refusing a second copy of a row: DuckDB's
    `ConstraintException` ("Duplicate key …"), PostgreSQL's `UniqueViolation`."""
    return type_name == "UniqueViolation" or (
        type_name == "ConstraintException" and "duplicate key" in message.lower()
    )


def create_app(settings: Settings, catalog: Catalog, database: StoreClient | Database) -> Starlette:
    """`database` is the store process's client on DuckDB, the store in this process on
    PostgreSQL (`runtime/local_store.py`, the same calls), or in tests an in-process
    `Database`; opened by the caller so that a locked file is reported before serving, and
    closed here when the server shuts down."""

    runs = scheduled_runs.ScheduledRuns(settings, catalog, database)
    watch = watchdog.Watchdog(settings, database)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await database.connect()
        scheduler = asyncio.create_task(runs.run_forever(), name="scheduled-runs")
        watching = asyncio.create_task(watch.run_forever(), name="watchdog")
        try:
            yield
        finally:
            for task in (scheduler, watching):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await database.aclose()

    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        # A bug must not look like "your request was fine, try again forever" to Stripe,
        # nor like a crash: log it with its traceback and answer 503 without details.
        if duplicate_key(type(exc).__name__, str(exc)):
            return await same_moment(request, exc)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": "unavailable"}, status_code=503)

    async def same_moment(request: Request, exc: Exception) -> JSONResponse:
        # Two requests made the same change at the same moment (two staff on two sidecars
        # refunding the same item): the database's unique key let one through; the other
        # is told so, with nothing changed by it.
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {"error": "conflict", "message": "another request made the same change at the"
             " same moment, and this one changed nothing: look again, and repeat it if it is"
             " still needed"},
            status_code=409,
        )  # fmt: skip

    async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The store process is stopped, wedged or gone: say so, and when to try again,
        # rather than leave the request hanging. The detail is for the log, not the public.
        log.error("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {"error": "store_unavailable", "message": "the service is busy; try again shortly"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    async def store_error(request: Request, exc: StoreError) -> JSONResponse:
        # DuckDB out of memory (its indexes fill the limit during bursts of webhooks): busy,
        # try again shortly, as with a store that does not answer. Answered here rather than
        # re-raised to the server, so that the client's connection stays open.
        if exc.type_name == "OutOfMemoryException":
            return await store_unavailable(request, exc)
        if duplicate_key(exc.type_name, exc.message):
            return await same_moment(request, exc)
        return await unexpected_error(request, exc)

    # Counted in this process (one per sidecar): deliveries by outcome, refused signatures.
    webhook_stats = WebhookStats(settings.signature_refusals_alert)
    # One per-client limit for the support API and the success page's form.
    booking_issues = support.BookingIssues(ClientLimiter(settings.support_requests_per_client))
    routes = [
        Route(
            "/webhooks/stripe",
            StripeWebhook(settings, database, webhook_stats).handle,
            methods=["POST"],
        ),
        Route(sms.PATH, sms.inbound_sms, methods=["POST"]),
        Route("/api/checkout", checkout.create_checkout, methods=["POST"]),
        Route("/api/orders/{order_id}/status", checkout.order_status),
        Route("/orders/{order_id}/calendar.ics", customer.calendar_file),
        Route("/api/support/booking-issue", booking_issues.handle, methods=["POST"]),
        Route("/orders/{order_id}/support", booking_issues.form, methods=["POST"]),
        Route("/orders/{order_id}/processing", customer.processing_page),
        Route("/orders/{order_id}/success", customer.success_page),
        Route("/orders/{order_id}/cancelled", customer.cancelled_page),
        *unsubscribe.routes,
        *manage_booking.routes,
        Route("/healthz", health.healthz),
        Route("/readyz", health.readyz),
        Route("/openapi.json", openapi.openapi_json),
        Route("/api/health", staff_only(health.staff_health)),
        Route("/metrics", staff_only(metrics.metrics)),
        *inbox_import.routes,
        *waitlist.public_routes,
        *payment_links.routes,
        *staff_api.routes,  # first: /api/orders/counts is not an order id
        *staff_bookings.routes,
        *catalog_api.routes,
        *waitlist.routes,
        *staff_actions.routes,
        *staff_orders.routes,
        *roster_messages.routes,
        *support.staff_routes,
        *summaries_api.routes,
        *analyst_api.routes,
        *attendance_api.routes,
        *staff_accounts_api.routes,
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            DatabaseUnavailable: store_unavailable,
            StoreError: store_error,
            postgres.UniqueViolation: same_moment,
            Exception: unexpected_error,
        },
    )
    app.state.settings = settings
    app.state.catalog = catalog
    app.state.database = database
    app.state.scheduled_runs = runs
    app.state.watchdog = watch
    app.state.webhook_stats = webhook_stats
    app.state.stripe = checkout.stripe_client(settings)
    return app
