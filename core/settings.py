"""Settings: read once from the environment at start, frozen, passed in.

Nothing else in the project reads `os.environ`; tests build their own `Settings` with
`load_settings({...})` instead of patching the process environment.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import time
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.schedule_runs import parse_local_time
from core.validation import parse_bytes
from core.vocabulary import ACCOUNT_MODES, SEVERITIES
from core.watchdog import WatchLimits, parse_trading_hours

DEFAULT_DATABASE_URL = "duckdb:///data/tinkertank.duckdb"
SMTP_SECURITY_CHOICES = ("none", "starttls", "ssl")
CLOCK_SHIFT_LIMIT = 100 * 366 * 86400  # a century either way
# Secret and restricted keys; the prefix is the key's mode, which events are checked against.
LIVE_KEY_PREFIXES = ("sk_live_", "rk_live_")
TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")


# Fields whose values are credentials: the repr (and so str, logs and tracebacks) shows only
# whether each is set. A Slack incoming-webhook URL is itself the credential.
SECRET_FIELDS = frozenset(
    {
        "stripe_webhook_secrets",
        "admin_token",
        "stripe_secret_key",
        "slack_webhook_url",
        "smtp_password",
        "dashboard_password",
        "twilio_auth_token",
        "manage_link_secret",
    }
)
HIDDEN = "<hidden>"


class SettingsError(ValueError):
    """One or more environment variables are missing or malformed; the message names each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class DatabaseLocation:
    """Where the database lives, parsed from DATABASE_URL (SQLAlchemy-style)."""

    backend: str  # "duckdb" (embedded) or "postgresql" (a server, store/postgres.py)
    # A file path for DuckDB, ":memory:" for a throwaway database; for PostgreSQL the whole
    # postgresql:// URL (libpq's form), password included: show `shown`, never this.
    path: str

    @property
    def is_file(self) -> bool:
        return self.backend == "duckdb" and self.path != ":memory:"

    @property
    def shown(self) -> str:
        """The location for logs and error messages, without a password."""
        parts = urlsplit(self.path)
        if self.backend != "postgresql" or parts.password is None:
            return self.path
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()


@dataclass(frozen=True, repr=False)
class Settings:
    stripe_webhook_secrets: tuple[str, ...]
    admin_token: str
    database: DatabaseLocation = DatabaseLocation("duckdb", "data/tinkertank.duckdb")
    catalog_path: Path = Path("data/catalog.toml")
    # Where the sidecar writes files (emails as .eml without SMTP, exports, the analysts'
    # copies): DATA_DIR, else the DuckDB file's folder, else data/ (see `files_directory`).
    data_dir: Path | None = None
    stripe_secret_key: str | None = field(default=None, repr=False)
    stripe_api_base: str = "https://api.stripe.com"
    timezone: str = "Australia/Sydney"
    public_base_url: str = "http://127.0.0.1:8000"
    sidecar_url: str = "http://127.0.0.1:8000"
    slack_webhook_url: str | None = None
    alert_emails: tuple[str, ...] = ()
    # Error-log entries of this severity or worse alert (Slack, ALERT_EMAILS), each once.
    alert_min_severity: str = "high"
    # The staff dashboard, for the link to the order in an alert.
    dashboard_url: str = "http://127.0.0.1:8501"
    # What the Stripe account is (issue 16): "dedicated" to bookings (a payment without a
    # usable cart is a storefront bug, flagged) or "shared" with other sales (a payment with
    # no marker of ours is recorded as not ours, never an order or an error).
    stripe_account_mode: str = "dedicated"
    # A flood of similar problems (payments without a usable cart, unknown orders) is
    # gathered for this long into one error-log entry before its one alert is sent.
    alert_group_seconds: float = 60.0
    # Refused webhook signatures in 10 minutes above which a high entry is logged (alerts).
    signature_refusals_alert: int = 10
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_security: str = "starttls"
    email_from: str = "TinkerTank <hello@tinkertank.example>"
    dashboard_password: str | None = None
    # Webhook bodies above this are refused with 413 before they are read in full.
    webhook_max_body_bytes: int = 1024 * 1024
    # Stripe's default tolerance for signature timestamps (docs.stripe.com/webhooks, replay).
    webhook_tolerance_seconds: int = 300
    # DuckDB would otherwise cache up to 80% of RAM; the sidecar shares a small machine.
    duckdb_memory_limit: str = "200MB"
    # First retry delay of a failed fulfilment step or event; each retry doubles it.
    fulfilment_retry_seconds: float = 2.0
    # Fault drill: step -> how many of its next runs fail ({"schedule_events": 2}).
    fault_drill: dict[str, int] = field(default_factory=dict)
    # Seconds added to the system clock, for tests, drills and demos (core/clock.py).
    clock_shift_seconds: float = 0.0
    # Proxies whose X-Forwarded-For is believed (IPs, networks or "*"); none by default, so
    # a client cannot pick its own address for the per-client limits. uvicorn gets the same.
    forwarded_allow_ips: tuple[str, ...] = ()
    # Support requests one client address may make per hour (in memory, per process).
    support_requests_per_client: int = 20
    # Checkout holds (docs/security.md, Abuse limits): places held unpaid per mailbox and
    # per client, and the share of any one camp day, party slot or program one client may
    # hold. 0 turns a per-client limit off (a storefront that does not forward addresses).
    checkout_places_per_email: int = 6
    checkout_places_per_client: int = 40
    checkout_client_share_percent: int = 50

    # Analysts' SQL runs in a sandbox process (runtime/analyst_sandbox.py): killed after
    # this many seconds, its DuckDB held to this memory, over a copy at most this old.
    analyst_sql_time_limit_seconds: float = 5.0
    analyst_sql_memory_limit: str = "256MB"
    analyst_sql_max_age_seconds: float = 300.0

    @property
    def analyst_sql_memory_bytes(self) -> int:
        return parse_bytes(self.analyst_sql_memory_limit)

    # How long a starting store waits for a database file locked by another process (the
    # store of a sidecar that was just killed, still exiting) before giving up with exit 3.
    database_lock_wait_seconds: float = 10.0
    # How long a request waits for the store process before it answers 503 (Retry-After).
    store_timeout_seconds: float = 10.0
    # PostgreSQL, several sidecars: how long work a sidecar has claimed (events, steps,
    # messages) stays its own; the work of a sidecar that died is due again after it.
    work_lease_seconds: float = 60.0
    # Open HTTP connections the sidecar keeps at most (sidecar/http_limits.py).
    http_max_connections: int = 1000
    # The sidecar's own runs (core/schedule_runs.py): the daily summary at this local time
    # in TIMEZONE (None: off), the reminders every this many minutes (0: off).
    summary_at: time | None = time(7, 0)
    reminders_every_minutes: int = 60
    # Text messages through Twilio's Messages API (senders/sms.py): all three of the
    # account, its auth token and the sending number, or SMS is off.
    sms_provider_url: str = "https://api.twilio.com"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    sms_from: str | None = None

    @property
    def sms_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.sms_from)

    # Staff sign-in (docs/security.md, Staff sign-in): how long a session lasts, and the
    # failed sign-ins allowed per account and per client address within the lockout
    # period before further attempts are refused for that period.
    staff_session_hours: int = 12
    login_failures_per_account: int = 5
    login_failures_per_client: int = 20
    login_lockout_seconds: int = 900
    # Signs parents' manage-booking links (core/manage_link.py); None: a key derived from
    # ADMIN_TOKEN signs them.
    manage_link_secret: str | None = field(default=None, repr=False)
    # The sidecar's watchdog (core/watchdog.py), every WATCH_EVERY_SECONDS; 0 turns one off.
    no_delivery_alert_minutes: int = 120
    trading_hours: tuple[time, time] = (time(8, 0), time(20, 0))
    backlog_alert: int = 1000
    lag_alert_seconds: int = 600
    readyz_alert_seconds: int = 300
    watch_every_seconds: int = 30

    @property
    def watch_limits(self) -> WatchLimits:
        return WatchLimits(
            no_delivery_minutes=self.no_delivery_alert_minutes,
            trading_hours=self.trading_hours,
            backlog_events=self.backlog_alert,
            lag_seconds=self.lag_alert_seconds,
            readyz_seconds=self.readyz_alert_seconds,
        )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            shown = HIDDEN if f.name in SECRET_FIELDS and value else repr(value)
            parts.append(f"{f.name}={shown}")
        return f"Settings({', '.join(parts)})"

    __str__ = __repr__

    @property
    def shared_account(self) -> bool:
        """Whether the Stripe account carries other sales than bookings (STRIPE_ACCOUNT_MODE)."""
        return self.stripe_account_mode == "shared"

    @property
    def files_directory(self) -> Path:
        """DATA_DIR; by default the folder of the DuckDB file, or `data/` when there is no
        file (PostgreSQL, an in-memory DuckDB)."""
        if self.data_dir is not None:
            return self.data_dir
        if self.database.is_file:
            return Path(self.database.path).parent
        return Path("data")

    @property
    def stripe_livemode(self) -> bool:
        """The mode every Stripe event must be in to be applied: that of STRIPE_SECRET_KEY;
        test mode without a key."""
        return self.stripe_secret_key is not None and self.stripe_secret_key.startswith(
            LIVE_KEY_PREFIXES
        )


def parse_database_url(url: str) -> DatabaseLocation:
    """`duckdb:///relative/path`, `duckdb:////absolute/path`, `duckdb:///:memory:`, or
    `postgresql://user:password@host:port/database` (any URL libpq takes, `?host=/socket/dir`
    and `?sslmode=…` included)."""
    parts = urlsplit(url)
    if parts.scheme == "duckdb":
        if parts.netloc:
            raise ValueError("a duckdb URL has no host: use duckdb:///rel/path or duckdb:////abs")
        path = parts.path[1:]  # three slashes before a relative path, four before an absolute one
        if not path:
            raise ValueError(
                "a duckdb URL needs a file path, e.g. duckdb:///data/tinkertank.duckdb"
            )
        return DatabaseLocation("duckdb", path)
    if parts.scheme in ("postgresql", "postgres"):
        if not parts.path.strip("/") and "dbname=" not in parts.query:
            raise ValueError(
                "a postgresql URL names its database: postgresql://user:pass@host:5432/tinkertank"
            )
        return DatabaseLocation("postgresql", url)
    raise ValueError(
        f"unsupported scheme {parts.scheme!r}; expected duckdb:///path or postgresql://…"
    )


def _clock_shift(text: str) -> float | None:
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if abs(seconds) <= CLOCK_SHIFT_LIMIT else None


def clock_shift_seconds(environ: Mapping[str, str] | None = None) -> float:
    """`CLOCK_SHIFT_SECONDS` alone, for the commands that need the clock but none of the
    other settings (`tinkertank demo-catalog`)."""
    text = (os.environ if environ is None else environ).get("CLOCK_SHIFT_SECONDS", "").strip()
    if not text:
        return 0.0
    if (seconds := _clock_shift(text)) is None:
        raise SettingsError([f"CLOCK_SHIFT_SECONDS: {text!r} is not a number of seconds"])
    return seconds


def load_settings(
    environ: Mapping[str, str] | None = None, *, client: bool = False, signs_in: bool = False
) -> Settings:
    """Build the settings from an environment mapping, reporting every problem at once.

    `client=True` is for the processes that only talk to the sidecar (the dashboard, the CLI's
    client commands): they need `ADMIN_TOKEN` and `SIDECAR_URL`, not the webhook secret.
    `signs_in=True` is for the dashboard, which without `ADMIN_TOKEN` signs each member of
    staff in with their own account (`POST /api/login`).
    """
    env = dict(os.environ if environ is None else environ)
    problems: list[str] = []
    values: dict[str, object] = {}

    def text(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    secrets = tuple(
        s.strip() for s in (text("STRIPE_WEBHOOK_SECRET") or "").split(",") if s.strip()
    )
    if not secrets and not client:
        problems.append(
            "STRIPE_WEBHOOK_SECRET is required: the signing secret(s) of the Stripe webhook "
            "endpoint (whsec_…), comma separated when rotating"
        )
    for secret in secrets:
        if not secret.startswith("whsec_"):
            problems.append("STRIPE_WEBHOOK_SECRET: each secret must start with 'whsec_'")
            break
    values["stripe_webhook_secrets"] = secrets

    admin_token = text("ADMIN_TOKEN")
    if admin_token is None and not signs_in:
        problems.append("ADMIN_TOKEN is required: the bearer token of the staff API")
    elif admin_token is not None and len(admin_token) < 16:
        problems.append("ADMIN_TOKEN must be at least 16 characters long")
    values["admin_token"] = admin_token or ""

    try:
        values["database"] = parse_database_url(text("DATABASE_URL") or DEFAULT_DATABASE_URL)
    except ValueError as exc:
        problems.append(f"DATABASE_URL: {exc}")

    if (catalog := text("CATALOG_PATH")) is not None:
        values["catalog_path"] = Path(catalog)
    if (data_dir := text("DATA_DIR")) is not None:
        values["data_dir"] = Path(data_dir)

    timezone = text("TIMEZONE")
    if timezone is not None:
        try:
            ZoneInfo(timezone)
            values["timezone"] = timezone
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"TIMEZONE: {timezone!r} is not an IANA time zone name")

    for name, key in (
        ("STRIPE_API_BASE", "stripe_api_base"),
        ("PUBLIC_BASE_URL", "public_base_url"),
        ("SIDECAR_URL", "sidecar_url"),
        ("SLACK_WEBHOOK_URL", "slack_webhook_url"),
        ("DASHBOARD_URL", "dashboard_url"),
        ("SMS_PROVIDER_URL", "sms_provider_url"),
    ):
        value = text(name)
        if value is None:
            continue
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(f"{name}: {value!r} is not an http(s) URL")
        else:
            values[key] = value.rstrip("/")

    for name, key in (
        ("STRIPE_SECRET_KEY", "stripe_secret_key"),
        ("SMTP_HOST", "smtp_host"),
        ("SMTP_USER", "smtp_user"),
        ("SMTP_PASSWORD", "smtp_password"),
        ("EMAIL_FROM", "email_from"),
        ("DASHBOARD_PASSWORD", "dashboard_password"),
        ("DUCKDB_MEMORY_LIMIT", "duckdb_memory_limit"),
        ("TWILIO_ACCOUNT_SID", "twilio_account_sid"),
        ("TWILIO_AUTH_TOKEN", "twilio_auth_token"),
        ("SMS_FROM", "sms_from"),
    ):
        if (value := text(name)) is not None:
            values[key] = value

    sms_names = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SMS_FROM")
    sms_given = [name for name in sms_names if text(name) is not None]
    if sms_given and len(sms_given) < len(sms_names):
        missing = ", ".join(name for name in sms_names if name not in sms_given)
        problems.append(
            f"SMS needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and SMS_FROM: {missing}"
            " missing (set all three, or none for no text messages)"
        )
    if (manage := text("MANAGE_LINK_SECRET")) is not None:
        if len(manage) < 32:
            problems.append("MANAGE_LINK_SECRET must be at least 32 characters long")
        values["manage_link_secret"] = manage

    key = values.get("stripe_secret_key")
    if isinstance(key, str) and not key.startswith(LIVE_KEY_PREFIXES + TEST_KEY_PREFIXES):
        problems.append(
            "STRIPE_SECRET_KEY must start with sk_live_, rk_live_, sk_test_ or rk_test_"
            " (its mode decides which Stripe events are applied)"
        )

    if (emails := text("ALERT_EMAILS")) is not None:
        addresses = tuple(a.strip() for a in emails.split(",") if a.strip())
        bad = [a for a in addresses if "@" not in a]
        if bad:
            problems.append(f"ALERT_EMAILS: not email addresses: {', '.join(bad)}")
        values["alert_emails"] = addresses

    for name, key, low, high in (
        ("SMTP_PORT", "smtp_port", 1, 65535),
        ("WEBHOOK_MAX_BODY_BYTES", "webhook_max_body_bytes", 1024, 64 * 1024 * 1024),
        ("SUPPORT_REQUESTS_PER_CLIENT", "support_requests_per_client", 1, 100_000),
        ("CHECKOUT_PLACES_PER_EMAIL", "checkout_places_per_email", 1, 1000),
        ("CHECKOUT_PLACES_PER_CLIENT", "checkout_places_per_client", 0, 100_000),
        ("CHECKOUT_CLIENT_SHARE_PERCENT", "checkout_client_share_percent", 0, 100),
        ("HTTP_MAX_CONNECTIONS", "http_max_connections", 10, 1_000_000),
        ("REMINDERS_EVERY_MINUTES", "reminders_every_minutes", 0, 24 * 60),
        ("SIGNATURE_REFUSALS_ALERT", "signature_refusals_alert", 1, 1_000_000),
        ("STAFF_SESSION_HOURS", "staff_session_hours", 1, 24 * 31),
        ("LOGIN_FAILURES_PER_ACCOUNT", "login_failures_per_account", 1, 1000),
        ("LOGIN_FAILURES_PER_CLIENT", "login_failures_per_client", 1, 100_000),
        ("LOGIN_LOCKOUT_SECONDS", "login_lockout_seconds", 1, 7 * 24 * 3600),
        ("NO_DELIVERY_ALERT_MINUTES", "no_delivery_alert_minutes", 0, 7 * 24 * 60),
        ("BACKLOG_ALERT", "backlog_alert", 0, 100_000_000),
        ("LAG_ALERT_SECONDS", "lag_alert_seconds", 0, 7 * 86400),
        ("READYZ_ALERT_SECONDS", "readyz_alert_seconds", 0, 86400),
        ("WATCH_EVERY_SECONDS", "watch_every_seconds", 1, 3600),
    ):
        value = text(name)
        if value is None:
            continue
        try:
            number = int(value)
        except ValueError:
            problems.append(f"{name}: {value!r} is not a whole number")
            continue
        if not low <= number <= high:
            problems.append(f"{name}: {number} is outside {low}..{high}")
        values[key] = number

    if (retry := text("FULFILMENT_RETRY_SECONDS")) is not None:
        try:
            seconds = float(retry)
        except ValueError:
            seconds = -1.0
        if not 0 < seconds <= 3600:
            problems.append(f"FULFILMENT_RETRY_SECONDS: {retry!r} is not a number of seconds")
        values["fulfilment_retry_seconds"] = seconds

    for name, key, high in (
        ("DATABASE_LOCK_WAIT_SECONDS", "database_lock_wait_seconds", 600),
        ("STORE_TIMEOUT_SECONDS", "store_timeout_seconds", 600),
        ("WORK_LEASE_SECONDS", "work_lease_seconds", 3600),
        ("ALERT_GROUP_SECONDS", "alert_group_seconds", 3600),
    ):
        if (value := text(name)) is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            seconds = math.nan
        low_ok = seconds >= 0 if key == "database_lock_wait_seconds" else seconds > 0
        if not (low_ok and seconds <= high):
            problems.append(f"{name}: {value!r} is not a number of seconds (up to {high})")
        else:
            values[key] = seconds

    if (shift := text("CLOCK_SHIFT_SECONDS")) is not None:
        if (seconds := _clock_shift(shift)) is None:
            problems.append(f"CLOCK_SHIFT_SECONDS: {shift!r} is not a number of seconds")
        else:
            values["clock_shift_seconds"] = seconds

    for name, key, low, high in (
        ("ANALYST_SQL_TIME_LIMIT_SECONDS", "analyst_sql_time_limit_seconds", 0.5, 600),
        ("ANALYST_SQL_MAX_AGE_SECONDS", "analyst_sql_max_age_seconds", 0, 86400),
    ):
        if (value := text(name)) is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            seconds = math.nan
        if not low <= seconds <= high:
            problems.append(f"{name}: {value!r} is not a number of seconds {low:g}..{high:g}")
        else:
            values[key] = seconds

    if (memory := text("ANALYST_SQL_MEMORY_LIMIT")) is not None:
        try:
            size = parse_bytes(memory)
        except ValueError as exc:
            problems.append(f"ANALYST_SQL_MEMORY_LIMIT: {exc}")
        else:
            if not 16 * 1000**2 <= size <= 64 * 1000**3:
                problems.append(f"ANALYST_SQL_MEMORY_LIMIT: {memory!r} is outside 16MB..64GB")
            else:
                values["analyst_sql_memory_limit"] = memory.strip()

    if (summary_at := text("SUMMARY_AT")) is not None:
        try:
            values["summary_at"] = parse_local_time(summary_at)
        except ValueError as exc:
            problems.append(f"SUMMARY_AT: {exc}")

    if (hours := text("TRADING_HOURS")) is not None:
        try:
            values["trading_hours"] = parse_trading_hours(hours)
        except ValueError as exc:
            problems.append(f"TRADING_HOURS: {exc}")

    if (drill := text("FAULT_DRILL")) is not None:
        faults: dict[str, int] = {}
        for part in drill.split(","):
            step, _, count = part.strip().partition("=")
            if not step or not count.isdigit():
                problems.append(f"FAULT_DRILL: {part.strip()!r} is not step=count")
                continue
            faults[step] = int(count)
        values["fault_drill"] = faults

    if (proxies := text("FORWARDED_ALLOW_IPS")) is not None:
        trusted = tuple(p.strip() for p in proxies.split(",") if p.strip())
        for proxy in trusted:
            try:
                if proxy != "*":
                    ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                problems.append(
                    f"FORWARDED_ALLOW_IPS: {proxy!r} is not an IP address, a network or *"
                )
        values["forwarded_allow_ips"] = trusted

    if (severity := text("ALERT_MIN_SEVERITY")) is not None:
        if severity not in SEVERITIES:
            problems.append(
                f"ALERT_MIN_SEVERITY: {severity!r} is not one of {', '.join(SEVERITIES)}"
            )
        values["alert_min_severity"] = severity

    if (mode := text("STRIPE_ACCOUNT_MODE")) is not None:
        if mode not in ACCOUNT_MODES:
            problems.append(
                f"STRIPE_ACCOUNT_MODE: {mode!r} is not one of {', '.join(ACCOUNT_MODES)}"
            )
        values["stripe_account_mode"] = mode

    if (security := text("SMTP_SECURITY")) is not None:
        if security not in SMTP_SECURITY_CHOICES:
            problems.append(
                f"SMTP_SECURITY: {security!r} is not one of {', '.join(SMTP_SECURITY_CHOICES)}"
            )
        values["smtp_security"] = security

    if problems:
        raise SettingsError(problems)
    return Settings(**values)  # type: ignore[arg-type]
