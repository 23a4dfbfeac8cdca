"""The sender: delivers the outbox (email, Slack, text messages), in its own thread of the
store process.

Sending is I/O that can hang for seconds (an SMTP server, Slack), so it never happens inside
a write: a due message is read, sent, and its outcome written afterwards. A message sent
but not yet marked (a crash in between) is sent again on restart: at-least-once is the best
any sender can do, and the outbox key keeps it to one message per cause.

Error-log entries of `ALERT_MIN_SEVERITY` or worse raise alerts here too: one Slack message
and one email to each of `ALERT_EMAILS` per entry, keyed in the outbox so each goes out
once, with the order's amount and its link on the dashboard.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any
from urllib.parse import quote

import duckdb
import requests

from core import clock, manage_link, unsubscribe, waitlist
from core.catalog import Catalog
from core.clock import utcnow
from core.messages import emails, sms
from core.messages.invites import (
    calendar_parties,
    itip_messages,
    order_invites,
    render_calendar,
    venue_line,
)
from core.payments import dollars
from core.settings import Settings
from core.slack_text import escape as slack_escape
from core.vocabulary import SEVERITIES
from senders.sms import SmsFailed, SmsProvider, TwilioSms, Unsubscribed
from store import error_log, manage_views, optouts, order_views, outbox, sms_opt_outs
from store.bookings import invite_rows
from store.database import Database

log = logging.getLogger(__name__)

CLAIM_BATCH = 50  # messages taken at a time


class Skipped(Exception):
    """A message not to send, on purpose: the outbox marks it skipped with this reason."""


class SendFailed(Exception):
    def __init__(self, message: str, permanent: bool = False, retry_after: float = 0) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


def alert_severities(min_severity: str) -> tuple[str, ...]:
    """`min_severity` and every severity worse than it."""
    return SEVERITIES[SEVERITIES.index(min_severity) :]


def order_link(dashboard_url: str, order_id: str) -> str:
    """The order on the dashboard's Orders page, which opens the order named by `?order=`."""
    return f"{dashboard_url}/orders?order={quote(order_id, safe='')}"


def group_link(dashboard_url: str, group_kind: str) -> str:
    """The filtered list behind a grouped entry (`store.error_log.log_grouped`): the orders
    that need attention (payments without a usable cart, unknown orders)."""
    return f"{dashboard_url}/orders?fulfillment=needs_attention"


def queue_alerts(
    conn: duckdb.DuckDBPyConnection,
    slack: bool,
    emails: tuple[str, ...],
    now: datetime,
    min_severity: str = "high",
    dashboard_url: str | None = None,
    group_seconds: float = 0.0,
) -> int:
    """Outbox messages for error-log entries of `min_severity` or worse that have none yet:
    one per entry and channel, whatever happens after (the outbox key dedupes). A grouped
    entry (a flood of one kind of problem) alerts once it has gathered for `group_seconds`,
    with its count and a link to the filtered list."""
    gathered_before = now - timedelta(seconds=group_seconds)
    rows = error_log.unalerted(conn, alert_severities(min_severity), gathered_before)
    for row in rows:
        error_id, severity, category, order_id = (
            row["error_id"], row["severity"], row["category"], row["order_id"])  # fmt: skip
        head = f"{severity.capitalize()} ({category})"
        grouped = row["group_kind"] is not None
        if grouped:
            order_id = None  # the first of many: the alert names the list, not one order
        order = f"order {order_id}" if order_id else ""
        if order_id and row["amount"] is not None:
            order += f", {dollars(row['amount'], row['currency'])}"
        message = row["message"]
        if grouped:
            message = f"{row['occurrences']} {message} (since {row['created_at']:%H:%M} UTC)"
        link = order_link(dashboard_url, order_id) if order_id and dashboard_url else None
        text = f"{head}: {message}" + (f" [{order}]" if order else "")
        # The message and the order id may quote what a customer or a payment's metadata
        # said: Slack must show them as text, never as a mention or a link.
        slack_text = f"{head}: {slack_escape(message)}" + (
            f" [{slack_escape(order)}]" if order else ""
        )
        if link:
            text += f"\nOpen the order: {link}"
            slack_text += f" <{slack_escape(link)}|Open the order>"
        if grouped and dashboard_url:
            listed = group_link(dashboard_url, row["group_kind"])
            text += f"\nOpen the list: {listed}"
            slack_text += f" <{slack_escape(listed)}|Open the list>"
        # The first key marks the entry as alerted, whatever is configured.
        outbox.enqueue(conn, dedupe_key=f"alert:{error_id}", channel="slack",
                       payload={"text": slack_text, "skip": not slack}, now=now,
                       order_id=order_id)  # fmt: skip
        for address in emails:
            outbox.enqueue(
                conn,
                dedupe_key=f"alert:{error_id}:{address}",
                channel="email",
                recipient=address,
                payload={"subject": f"[TinkerTank] {severity} {category} alert", "text": text},
                now=now,
                order_id=order_id,
            )
    return len(rows)


class Sender:
    def __init__(
        self, database: Database, settings: Settings, catalog: Catalog, poll_seconds: float = 0.25
    ):
        self.database = database
        self.settings = settings
        self.catalog = catalog
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-sender", daemon=True)
        self.eml_directory = settings.files_directory / "outbox"
        self.sms: SmsProvider | None = TwilioSms.from_settings(settings)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.run_once(utcnow())
            except Exception:
                log.exception("outbox pass failed")
                sent = 0
            if not sent:
                self._stop.wait(self.poll_seconds)

    def run_once(self, now: datetime) -> int:
        settings = self.settings
        self.database.submit_background(
            queue_alerts, settings.slack_webhook_url is not None, settings.alert_emails, now,
            settings.alert_min_severity, settings.dashboard_url, settings.alert_group_seconds,
        ).result()  # fmt: skip
        # Several sidecars on PostgreSQL: these messages are this sender's until the lease
        # runs out; what it has not sent by nearly then is left for whoever claims it next.
        lease = settings.work_lease_seconds
        messages = self.database.claim(
            outbox.claim_due, now, CLAIM_BATCH, now + timedelta(seconds=lease)
        )
        give_back_at = time.monotonic() + lease * 0.8
        for message in messages:
            if time.monotonic() > give_back_at:
                break
            try:
                self.send(message)
            except Skipped as exc:
                self.database.submit_background(
                    outbox.mark_skipped, message["message_id"], str(exc), utcnow()
                ).result()
                continue
            except SendFailed as exc:
                backoff = settings.fulfilment_retry_seconds * 2 ** message["attempts"]
                retry_in = timedelta(seconds=max(backoff, exc.retry_after))
                self.database.submit_background(
                    outbox.record_failure, message["message_id"], str(exc), retry_in,
                    exc.permanent, utcnow(),
                ).result()  # fmt: skip
                continue
            self.database.submit_background(
                outbox.mark_sent, message["message_id"], utcnow()
            ).result()
        return len(messages)

    def send(self, message: dict[str, Any]) -> None:
        """Send it; or raise Skipped saying why it is deliberately not sent (the outbox
        marks it `skipped` with the reason, which staff see)."""
        payload = json.loads(message["payload"])
        if message["channel"] == "slack":
            # Slack is optional: without a webhook URL there is nowhere to post,
            # which is not a failure to retry and log.
            if not payload.get("skip") and self.settings.slack_webhook_url:
                self.send_slack(payload)
            return
        if message["channel"] == "sms":
            self.send_sms(message, payload)
            return
        template = payload.get("template")
        if template == "confirmation":
            payload = self.render_confirmation(message["order_id"])
        elif template == "cancellation":
            payload = self.render_cancellation(message["order_id"], payload.get("reason"))
        elif template == "change":
            payload = self.render_change(message["order_id"], payload)
        elif template == "reminder":
            recipient = message["recipient"] or ""
            when = self.database.read(optouts.opted_out, recipient, "reminders")
            if when is not None:
                raise Skipped(
                    f"{recipient} unsubscribed from reminders on {when:%Y-%m-%d %H:%M} UTC"
                )
            link = unsubscribe.url(
                self.settings.public_base_url,
                unsubscribe.key_from(self.settings.admin_token),
                recipient,
            )
            payload = self.render_reminder(payload["booking_id"], link)
            if payload is None:
                raise Skipped(
                    "the booking is no longer confirmed (cancelled or moved since queued)"
                )
            payload["list_unsubscribe"] = link
        elif template in ("waitlist_offer", "payment_link"):
            payload = self.render_pay_link(template, message["order_id"], payload)
        self.send_email(message, payload)

    def _links(self, order_id: str) -> tuple[str, str]:
        ics_url = f"{self.settings.public_base_url}/orders/{order_id}/calendar.ics"
        support = emails.support_address(self.settings.email_from)
        return ics_url, support

    def _manage_url(self, order_id: str) -> str:
        """The signed "manage booking" link (core/manage_link.py): it works until the day
        after the order's last booking, and at least 30 days from now."""
        last = self.database.read(manage_views.last_start, order_id)
        expires_at = manage_link.expiry(last.replace(tzinfo=UTC) if last else None, clock.now())
        key = manage_link.key_from(self.settings.admin_token, self.settings.manage_link_secret)
        return manage_link.url(self.settings.public_base_url, key, order_id, expires_at)

    def _calendar(self, rows: dict[str, Any], cancelling: bool) -> dict[str, Any]:
        """The email's iTIP messages (core.messages.invites.itip_messages): the first as the
        `text/calendar; method=…` part mail programs turn into an event card and apply to
        the family's calendar, every one also as an .ics attachment."""
        calendar_rows = rows["calendar"]
        invites = order_invites(calendar_rows, self.catalog)
        organizer, attendee = calendar_parties(self.settings.email_from, calendar_rows)
        messages = [
            (
                method,
                render_calendar(events, self.catalog.tz, utcnow(), method, organizer, attendee),
            )
            for method, events in itip_messages(invites, cancelling)
        ]
        if not messages or not attendee.email:
            return {"attachments": []}
        method, ics = messages[0]
        return {
            "calendar": {"method": method, "content": ics.decode()},
            "attachments": [
                [f"tinkertank-{method.lower()}.ics", "application/ics", content.decode()]
                for method, content in messages
            ],
        }

    def render_confirmation(self, order_id: str) -> dict[str, Any]:
        """The confirmation as the order stands now, with its calendar file attached."""
        rows = self.database.read(order_views.confirmation_rows, order_id)
        if rows is None:
            raise SendFailed(f"order {order_id} not found", permanent=True)
        ics_url, support = self._links(order_id)
        email = emails.confirmation(
            rows["order"],
            emails.order_bookings(rows, self.catalog),
            self.catalog.tz,
            ics_url,
            support,
            self._manage_url(order_id),
        )
        return {"subject": email.subject, "text": email.text, "html": email.html,
                **self._calendar(rows, cancelling=False)}  # fmt: skip

    def render_cancellation(self, order_id: str, reason: str | None) -> dict[str, Any]:
        """The cancellation, with the .ics that takes the events out of the family's
        calendar (same UIDs, a higher SEQUENCE, STATUS:CANCELLED)."""
        rows = self.database.read(order_views.cancellation_rows, order_id)
        if rows is None:
            raise SendFailed(f"order {order_id} not found", permanent=True)
        ics_url, support = self._links(order_id)
        bookings = emails.order_bookings(rows, self.catalog)
        email = emails.cancellation(
            rows["order"], bookings, reason or "refund", self.catalog.tz, ics_url, support
        )
        return {"subject": email.subject, "text": email.text, "html": email.html,
                **self._calendar(rows, cancelling=True)}  # fmt: skip

    def render_change(self, order_id: str, queued: dict[str, Any]) -> dict[str, Any]:
        """What staff changed (fulfilment/staff_actions.queue_change), with iTIP messages
        that update just those bookings in the family's calendar: a CANCEL of the cancelled
        ones and a REQUEST of the moved ones, each under its booking's own UID."""
        rows = self.database.read(order_views.confirmation_rows, order_id)
        if rows is None:
            raise SendFailed(f"order {order_id} not found", permanent=True)
        ics_url, support = self._links(order_id)
        email = emails.booking_change(rows["order"], queued["changes"], ics_url, support)
        calendar_rows = rows["calendar"]
        invites = order_invites(calendar_rows, self.catalog)
        organizer, attendee = calendar_parties(self.settings.email_from, calendar_rows)
        uids = {method: {f"booking.{b}@" for b in queued.get(key, [])}
                for method, key in (("CANCEL", "cancelled"), ("REQUEST", "moved"))}  # fmt: skip
        # An Ignite class is not an event of the order's calendar (the weekly series is):
        # a class moved to a make-up is sent as an event of its own.
        known = {e.uid for e in invites}
        extra = self.database.read(invite_rows, list(queued.get("moved", [])))
        invites += [
            e for e in order_invites({"events": extra, "series": []}, self.catalog)
            if e.uid not in known
        ]  # fmt: skip
        messages = []
        for method, wanted in uids.items():
            events = [e for e in invites if any(e.uid.startswith(u) for u in wanted)]
            if events:
                ics = render_calendar(events, self.catalog.tz, utcnow(), method, organizer,
                                      attendee)  # fmt: skip
                messages.append((method, ics))
        calendar: dict[str, Any] = {"attachments": []}
        if messages and attendee.email:
            calendar = {
                "calendar": {"method": messages[0][0], "content": messages[0][1].decode()},
                "attachments": [
                    [f"tinkertank-{method.lower()}.ics", "application/ics", content.decode()]
                    for method, content in messages
                ],
            }
        return {"subject": email.subject, "text": email.text, "html": email.html, **calendar}

    def render_reminder(
        self, booking_id: str, unsubscribe_url: str | None = None
    ) -> dict[str, Any] | None:
        rows = self.database.read(order_views.reminder_rows, booking_id)
        if rows is None:
            return None
        item = rows["booking"]
        booking = {"student": item["student"], "title": item["title"], "kind": item["kind"],
                   "start": item["starts_at"].replace(tzinfo=UTC),
                   "end": item["ends_at"].replace(tzinfo=UTC),
                   "location": venue_line(self.catalog, item["venue_id"])}  # fmt: skip
        ics_url, support = self._links(rows["order"]["order_id"])
        email = emails.reminder(
            rows["order"],
            booking,
            self.catalog.tz,
            ics_url,
            support,
            unsubscribe_url,
            self._manage_url(rows["order"]["order_id"]),
        )
        return {"subject": email.subject, "text": email.text, "html": email.html}

    def render_pay_link(
        self, template: str, order_id: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """A waitlist offer or a staff booking's email: the link that pays for the places
        held (core/waitlist.py)."""
        link = waitlist.pay_link(self.settings.public_base_url, order_id)
        expires_at = datetime.fromisoformat(payload["expires_at"])
        if template == "waitlist_offer":
            return waitlist.offer_email(
                payload.get("name"), payload["label"], link, expires_at, self.catalog.tz
            )
        return waitlist.payment_link_email(
            payload.get("name"), payload["labels"], link, expires_at, self.catalog.tz
        )

    def send_sms(self, message: dict[str, Any], payload: dict[str, Any]) -> None:
        """A text to the order's mobile: skipped when SMS is off, the number texted STOP or
        the booking it reminds of is no longer on; rendered now, as the emails are."""
        if self.sms is None:
            raise Skipped("SMS is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, SMS_FROM)")
        to = message["recipient"]
        if not to:
            raise Skipped("no mobile number")
        if self.database.read(sms_opt_outs.is_opted_out, to):
            raise Skipped("opted out: the number texted STOP")
        if payload.get("template") == "reminder":
            rows = self.database.read(order_views.reminder_rows, payload["booking_id"])
            if rows is None:
                raise Skipped("the booking is no longer on")
            item = rows["booking"]
            try:
                venue = self.catalog.venue(item["venue_id"]).name
            except KeyError:
                venue = ""
            body = sms.reminder_text(
                payload["kind"], item["student"], item["title"],
                item["starts_at"].replace(tzinfo=UTC), venue, self.catalog.tz,
            )  # fmt: skip
        else:
            body = payload["text"]
        try:
            self.sms.send(to, body)
        except Unsubscribed as exc:
            # Opted out with Twilio itself (STOP before our webhook was set up, say): kept
            # here too, so that no more texts are tried.
            self.database.submit_background(
                sms_opt_outs.record, to, True, "PROVIDER", utcnow()
            ).result()
            raise Skipped(f"opted out: {exc}") from None
        except SmsFailed as exc:
            raise SendFailed(str(exc), exc.permanent, exc.retry_after) from None

    def send_slack(self, payload: dict[str, Any]) -> None:
        try:
            response = requests.post(
                self.settings.slack_webhook_url, json={"text": payload["text"]}, timeout=10
            )
        except requests.RequestException as exc:
            raise SendFailed(f"Slack unreachable: {exc}") from None
        if response.status_code == 429:
            retry_after = response.headers.get("Retry-After", "")
            raise SendFailed(
                "Slack rate limit (429)",
                retry_after=float(retry_after) if retry_after.isdigit() else 30.0,
            )
        if response.status_code >= 500:
            raise SendFailed(f"Slack answered {response.status_code}")
        if response.status_code >= 400:
            raise SendFailed(
                f"Slack refused the message ({response.status_code}: {response.text[:200]})",
                permanent=True,
            )

    def send_email(self, message: dict[str, Any], payload: dict[str, Any]) -> None:
        settings = self.settings
        email = EmailMessage()
        email["From"] = settings.email_from
        email["To"] = message["recipient"]
        email["Subject"] = payload["subject"]
        # A Message-ID on our own sending domain, the time it leaves, and a mark that a
        # program sent it (RFC 3834), so that out-of-office replies do not answer it.
        domain = parseaddr(settings.email_from)[1].rpartition("@")[2] or "tinkertank.invalid"
        email["Message-ID"] = f"<{message['message_id']}@{domain}>"
        email["Date"] = format_datetime(clock.now())
        email["Auto-Submitted"] = "auto-replied" if payload.get("reply") else "auto-generated"
        if payload.get("list_unsubscribe"):
            # Reminders only (RFC 2369, RFC 8058): mail programs show an Unsubscribe button
            # that POSTs to the signed link; transactional emails carry none.
            email["List-Unsubscribe"] = f"<{payload['list_unsubscribe']}>"
            email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        if payload.get("in_reply_to"):
            # A staff reply to a support ticket joins the thread of the ticket's first email.
            email["In-Reply-To"] = payload["in_reply_to"]
            email["References"] = payload["in_reply_to"]
        email.set_content(payload["text"])
        if payload.get("html"):
            email.add_alternative(payload["html"], subtype="html")
        if payload.get("calendar"):
            calendar = payload["calendar"]
            email.add_alternative(
                calendar["content"], subtype="calendar", params={"method": calendar["method"]}
            )
        for filename, content_type, content in payload.get("attachments", []):
            maintype, subtype = content_type.split("/")
            email.add_attachment(
                content.encode(), maintype=maintype, subtype=subtype, filename=filename
            )
        if not settings.smtp_host:
            # No mail server configured: the message is kept as a file to read or send by hand.
            self.eml_directory.mkdir(parents=True, exist_ok=True)
            path = self.eml_directory / f"{message['message_id']}.eml"
            path.write_bytes(bytes(email))
            return
        try:
            if settings.smtp_security == "ssl":
                client = smtplib.SMTP_SSL(
                    settings.smtp_host, settings.smtp_port, timeout=30,
                    context=ssl.create_default_context(),
                )  # fmt: skip
            else:
                client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30)
            with client:
                if settings.smtp_security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if settings.smtp_user:
                    client.login(settings.smtp_user, settings.smtp_password or "")
                client.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise SendFailed(f"recipient refused: {exc}", permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SendFailed(f"SMTP: {type(exc).__name__}: {exc}") from None
