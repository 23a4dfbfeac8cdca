"""`tinkertank …`: the command line. Every command reads the environment once
and exits non-zero with a message that says what is wrong."""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import sys
import tomllib
from collections.abc import Callable
from datetime import date
from pathlib import Path

from cli.configuration import settings_and_catalog
from cli.demo import demo_catalog, demo_history
from cli.errors import EXIT_CONFIG, EXIT_UNAVAILABLE, CommandError
from client.staff_api import JOB_TIMEOUT, ApiError, SidecarDown, SidecarError, StaffApi
from core import clock
from core.catalog import CatalogError
from core.catalog_file import load_catalog
from core.settings import Settings, SettingsError, load_settings
from core.vocabulary import STAFF_ROLES
from runtime.store_client import StoreClient
from store.database import DatabaseUnavailable

log = logging.getLogger("tinkertank")


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from runtime.local_store import LocalStore
    from sidecar import http_limits
    from sidecar.app import create_app

    try:
        settings = load_settings()
    except SettingsError as exc:
        raise CommandError(str(exc), EXIT_CONFIG) from None
    clock.set_shift(settings.clock_shift_seconds)
    try:
        catalog = load_catalog(settings.catalog_path)
    except CatalogError as exc:
        raise CommandError(str(exc), EXIT_CONFIG) from None
    try:
        if settings.database.backend == "postgresql":
            # The server does the concurrency: no store process (runtime/local_store.py).
            store: StoreClient | LocalStore = LocalStore.open(settings, catalog)
        else:
            store = StoreClient.start(call_timeout=settings.store_timeout_seconds)
    except DatabaseUnavailable as exc:
        raise CommandError(str(exc), EXIT_UNAVAILABLE) from None

    log.info(
        "serving on http://%s:%d (database %s, %d products)",
        args.host,
        args.port,
        settings.database.shown,
        len(catalog.products),
    )
    soft, _ = http_limits.raise_open_file_limit()
    if soft < settings.http_max_connections + 100:
        log.warning(
            "open file limit %d is low for HTTP_MAX_CONNECTIONS=%d (each connection is a file)",
            soft,
            settings.http_max_connections,
        )
    limits = http_limits.HttpLimits(max_connections=settings.http_max_connections)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, catalog, store),
            host=args.host,
            port=args.port,
            loop="uvloop",
            # httptools, with deadlines for headers and bodies, a cap on header size and
            # one on connections (sidecar/http_limits.py).
            http=http_limits.protocol_class(limits),
            # uvicorn's own 503 beyond this many connections or requests in progress; the
            # protocol keeps connections at or under the cap, so one more.
            limit_concurrency=limits.max_connections + 1,
            timeout_keep_alive=5,  # a kept-alive connection that sends nothing is closed
            # Per-request access lines would cost more than the webhook's own work;
            # refusals and failures are logged by the handlers that decide them.
            access_log=False,
            log_level="info",
            timeout_graceful_shutdown=10,
            # X-Forwarded-For only from the proxies in FORWARDED_ALLOW_IPS (none by default).
            # uvicorn's own default trusts 127.0.0.1, so that anything on the machine, or a
            # local proxy that passes the header on, could pick its client address.
            proxy_headers=bool(settings.forwarded_allow_ips),
            forwarded_allow_ips=list(settings.forwarded_allow_ips) or None,
        )
    )

    def store_died(reason: str) -> None:
        # Nothing can be stored any more: stop serving, so that Stripe's retries and the
        # supervisor's restart take over, rather than answer 503 forever.
        server.should_exit = True

    store.on_down = store_died
    # Garbage collection, tuned for a burst of webhooks, where it cost about a tenth of
    # this process's CPU. What start-up built (modules, catalog, app) lives as long as the
    # process: frozen, it is no longer walked by every full collection. A request's objects
    # are freed by reference counting, so young collections mostly find nothing; every
    # 10,000 allocations rather than every 700 is plenty.
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    # uvicorn hands a Ctrl+C back as KeyboardInterrupt once it has shut down cleanly.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if store.down is not None and store.down != store.SHUTTING_DOWN:
        raise CommandError(f"stopped: {store.down}", EXIT_UNAVAILABLE)


def simulate(args: argparse.Namespace) -> None:
    from cli import simulate as simulation

    settings, catalog = settings_and_catalog()
    url = (args.url or settings.sidecar_url).rstrip("/")
    code = simulation.run(
        url,
        catalog,
        settings.stripe_webhook_secrets[0],
        args.count,
        args.rate,
        args.wait,
        args.quiet,
    )
    if code:
        raise CommandError("not every delivery was acknowledged", code)


def _settings() -> Settings:
    """The settings of a client of the sidecar (it needs no webhook secret)."""
    try:
        settings = load_settings(client=True)
    except SettingsError as exc:
        raise CommandError(str(exc), EXIT_CONFIG) from None
    clock.set_shift(settings.clock_shift_seconds)
    return settings


def _staff_client(settings: Settings, url: str | None = None) -> StaffApi:
    return StaffApi(url or settings.sidecar_url, settings.admin_token, timeout=JOB_TIMEOUT)


def _client_job(job: Callable[[], None]) -> None:
    try:
        job()
    except SidecarDown as exc:
        hint = "is `tinkertank serve` running and SIDECAR_URL right?"
        raise CommandError(f"{exc}; {hint}", exc.exit_code) from None
    except ApiError as exc:
        if exc.status == 401:
            raise CommandError(str(exc), exc.exit_code) from None
        raise CommandError(f"the sidecar refused ({exc.status}): {exc}", exc.exit_code) from None
    except SidecarError as exc:
        raise CommandError(str(exc), exc.exit_code) from None


def summary(args: argparse.Namespace) -> None:
    from cli import jobs as cli_jobs

    client = _staff_client(_settings())
    _client_job(lambda: cli_jobs.summary(client, args.date, args.post, args.force))


def export(args: argparse.Namespace) -> None:
    from cli import jobs as cli_jobs

    client = _staff_client(_settings())
    _client_job(lambda: cli_jobs.export(client))


def reprocess(args: argparse.Namespace) -> None:
    from cli import jobs as cli_jobs

    client = _staff_client(_settings())
    _client_job(lambda: cli_jobs.reprocess(client, args.event_ids))


def db(args: argparse.Namespace) -> None:
    from cli.database_copy import db_copy

    db_copy(args)  # the one action so far: copy


def reconcile(args: argparse.Namespace) -> None:

    from cli import reconcile as reconciliation
    from sidecar.checkout import stripe_client

    settings = _settings()
    stripe = stripe_client(settings)
    if stripe is None:
        raise CommandError(
            "STRIPE_SECRET_KEY is required: reconcile lists events through Stripe's API",
            EXIT_CONFIG,
        )
    now = clock.now()
    try:
        since = reconciliation.parse_since(args.since, now, settings.tz)
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_CONFIG) from None
    client = _staff_client(settings)
    _client_job(lambda: reconciliation.reconcile(client, stripe, since, now))


def remind(args: argparse.Namespace) -> None:
    """Queue the reminders for bookings starting within the window; safe to run hourly."""
    if not args.window_hours > 0:
        raise CommandError("--window-hours must be more than 0", EXIT_CONFIG)
    settings = _settings()
    client = _staff_client(settings, args.url)

    def job() -> None:
        body = {"window_hours": args.window_hours}
        print(client.post("/api/reminders/run", body)["message"])

    _client_job(job)


def staff(args: argparse.Namespace) -> None:
    """Staff accounts (admin, through the staff API with ADMIN_TOKEN)."""
    from cli import staff as accounts

    client = _staff_client(_settings())
    if args.action == "list":
        _client_job(lambda: accounts.list_accounts(client))
    elif args.action == "disable":
        _client_job(lambda: accounts.disable(client, args.name))
    elif args.action == "enable":
        _client_job(lambda: accounts.enable(client, args.name))
    elif args.action == "role":
        _client_job(lambda: accounts.role(client, args.name, args.role))
    else:
        secret = accounts.read_password()
        if args.action == "add":
            _client_job(lambda: accounts.add(client, args.name, args.role, secret))
        else:
            _client_job(lambda: accounts.password(client, args.name, secret))


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def dashboard(args: argparse.Namespace) -> None:
    """`streamlit run dashboard/app.py` on `--port`, headless, against SIDECAR_URL."""
    import dashboard as dashboard_package

    try:
        settings = load_settings(client=True, signs_in=True)
    except SettingsError as exc:
        raise CommandError(str(exc), EXIT_CONFIG) from None
    app = Path(dashboard_package.__file__).resolve().parent / "app.py"
    if not settings.admin_token:
        log.info("no ADMIN_TOKEN: staff sign in with their own accounts (tinkertank staff add)")
    elif not (settings.dashboard_password or oidc_configured()):
        if args.host not in LOCAL_HOSTS:
            raise CommandError(
                f"refusing to listen on {args.host} without a login: set DASHBOARD_PASSWORD "
                "or configure OIDC ([auth] in .streamlit/secrets.toml), or bind to 127.0.0.1",
                EXIT_CONFIG,
            )
        log.warning(
            "no DASHBOARD_PASSWORD and no OIDC login: the dashboard runs WITHOUT a login, "
            "reachable from this machine only (%s)",
            args.host,
        )
    log.info("dashboard on http://%s:%d against %s", args.host, args.port, settings.sidecar_url)
    command = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.port", str(args.port),
        "--server.address", args.host,
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip
    sys.stdout.flush()
    sys.stderr.flush()
    # Streamlit takes this process over: signals reach it directly, no wrapper to clean up.
    os.execv(sys.executable, command)


def oidc_configured(folders: tuple[Path, ...] | None = None) -> bool:
    """An `[auth]` section where Streamlit reads its secrets (the user's, then the working
    directory's): then the dashboard logs staff in with OIDC (st.login)."""
    for folder in folders or (Path.home(), Path.cwd()):
        secrets = folder / ".streamlit" / "secrets.toml"
        try:
            if "auth" in tomllib.loads(secrets.read_text(encoding="utf-8")):
                return True
        except (OSError, tomllib.TOMLDecodeError):
            continue
    return False


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "serve": serve,
    "simulate": simulate,
    "summary": summary,
    "export": export,
    "reprocess": reprocess,
    "reconcile": reconcile,
    "remind": remind,
    "staff": staff,
    "dashboard": dashboard,
    "demo-catalog": demo_catalog,
    "demo-history": demo_history,
    "db": db,
}


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinkertank", description="TinkerTank Ops")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_parser = commands.add_parser("serve", help="run the sidecar (webhooks, worker, API)")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    simulate_parser = commands.add_parser(
        "simulate", help="send realistic signed Stripe deliveries to a running sidecar"
    )
    simulate_parser.add_argument("--count", type=int, default=50, help="orders (default 50)")
    simulate_parser.add_argument("--forever", dest="count", action="store_const", const=None)
    simulate_parser.add_argument("--rate", type=float, default=5.0, help="orders per second")
    simulate_parser.add_argument("--url", help="the sidecar (default: SIDECAR_URL)")
    simulate_parser.add_argument(
        "--wait", type=float, default=0, help="seconds to wait for the sidecar to answer"
    )
    simulate_parser.add_argument("--quiet", action="store_true", help="no progress line")
    remind_parser = commands.add_parser(
        "remind", help="email a reminder for each booking starting soon (once per booking)"
    )
    remind_parser.add_argument(
        "--window-hours", type=float, default=48, help="events starting within (default 48)"
    )
    remind_parser.add_argument("--url", help="the sidecar (default: SIDECAR_URL)")
    summary_parser = commands.add_parser(
        "summary", help="compute and store a day's summary; --post sends it to Slack once"
    )
    summary_parser.add_argument(
        "--date", type=_date, help="YYYY-MM-DD (default: yesterday in the business time zone)"
    )
    summary_parser.add_argument("--post", action="store_true", help="post it to Slack, once")
    summary_parser.add_argument(
        "--force", action="store_true", help="post it again, even if it was posted"
    )
    commands.add_parser("export", help="write a Parquet snapshot of the analyst tables")
    reprocess_parser = commands.add_parser(
        "reprocess", help="process failed or ignored Stripe events again"
    )
    reprocess_parser.add_argument("event_ids", nargs="+", metavar="EVENT_ID")
    reconcile_parser = commands.add_parser(
        "reconcile", help="import Stripe events that never arrived by webhook"
    )
    reconcile_parser.add_argument(
        "--since", required=True, help="a date (2026-11-01, local) or a time back (24h, 7d)"
    )
    staff_parser = commands.add_parser(
        "staff",
        help="staff accounts: add, list, disable, enable, role, password (needs ADMIN_TOKEN)",
    )
    staff_actions = staff_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add_parser = staff_actions.add_parser(
        "add", help="a new account; the password is asked for (or read from stdin)"
    )
    add_parser.add_argument(
        "name", help="sign-in name: lower-case letters, digits, . _ -, or an email (OIDC)"
    )
    add_parser.add_argument(
        "--role", required=True, choices=STAFF_ROLES, help="analyst, staff or admin"
    )
    staff_actions.add_parser("list", help="every account, its role and whether it is active")
    disable_parser = staff_actions.add_parser("disable", help="end an account and its sessions")
    disable_parser.add_argument("name")
    enable_parser = staff_actions.add_parser("enable", help="let a disabled account sign in again")
    enable_parser.add_argument("name")
    role_parser = staff_actions.add_parser(
        "role", help="change an account's role; it holds from the member's next request"
    )
    role_parser.add_argument("name")
    role_parser.add_argument("role", help="analyst, staff or admin")
    password_parser = staff_actions.add_parser(
        "password", help="set a new password (asked for, or read from stdin); sessions end"
    )
    password_parser.add_argument("name")
    dashboard_parser = commands.add_parser(
        "dashboard", help="run the staff dashboard (Streamlit) against SIDECAR_URL"
    )
    dashboard_parser.add_argument("--host", default="127.0.0.1")
    dashboard_parser.add_argument("--port", type=int, default=8501)
    demo_parser = commands.add_parser(
        "demo-catalog", help="write the catalog with its dates moved to start after today"
    )
    demo_parser.add_argument(
        "--source", default="data/catalog.toml", help="the catalog to move (data/catalog.toml)"
    )
    demo_parser.add_argument("--today", type=_date, help="YYYY-MM-DD (default: today)")
    demo_parser.add_argument("--out", required=True, help="where to write the demo catalog")
    history_parser = commands.add_parser(
        "demo-history", help="play the demo's past weeks into the database (before serve)"
    )
    history_parser.add_argument("--days", type=int, default=21, help="days back (default 21)")
    history_parser.add_argument(
        "--per-day", type=int, default=6, help="orders a day, give or take (default 6)"
    )
    db_parser = commands.add_parser("db", help="the database: copy DuckDB into PostgreSQL")
    db_actions = db_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    copy_parser = db_actions.add_parser(
        "copy", help="copy a stopped DuckDB database into an empty PostgreSQL one, checked"
    )
    copy_parser.add_argument(
        "--from", dest="source", required=True, help="duckdb:///path/to/tinkertank.duckdb"
    )
    copy_parser.add_argument(
        "--to", dest="target", required=True, help="postgresql://user:pass@host:5432/database"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except CommandError as exc:
        print(f"tinkertank {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
