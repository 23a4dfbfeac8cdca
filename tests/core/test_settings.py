from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from core.settings import DatabaseLocation, SettingsError, load_settings, parse_database_url

REQUIRED = {"STRIPE_WEBHOOK_SECRET": "whsec_abc", "ADMIN_TOKEN": "a-long-enough-admin-token"}


def settings_from(**env: str):
    return load_settings({**REQUIRED, **env})


def test_defaults_give_the_embedded_database_and_sydney_time():
    settings = settings_from()

    assert settings.database == DatabaseLocation("duckdb", "data/tinkertank.duckdb")
    assert settings.timezone == "Australia/Sydney"
    assert settings.catalog_path == Path("data/catalog.toml")
    assert settings.stripe_webhook_secrets == ("whsec_abc",)
    assert settings.summary_at == time(7, 0)
    assert settings.reminders_every_minutes == 60


def test_the_sidecars_own_runs_can_be_moved_or_turned_off():
    assert settings_from(SUMMARY_AT="06:30").summary_at == time(6, 30)
    assert settings_from(SUMMARY_AT="off").summary_at is None
    assert settings_from(REMINDERS_EVERY_MINUTES="0").reminders_every_minutes == 0


def test_settings_are_frozen():
    settings = settings_from()

    with pytest.raises(AttributeError):
        settings.admin_token = "changed"  # type: ignore[misc]


def test_several_webhook_secrets_are_read_for_rotation():
    settings = settings_from(STRIPE_WEBHOOK_SECRET=" whsec_new , whsec_old,")

    assert settings.stripe_webhook_secrets == ("whsec_new", "whsec_old")


@pytest.mark.parametrize("missing", ["STRIPE_WEBHOOK_SECRET", "ADMIN_TOKEN"])
def test_a_missing_required_secret_is_named(missing: str):
    env = {k: v for k, v in REQUIRED.items() if k != missing}

    with pytest.raises(SettingsError) as error:
        load_settings(env)

    assert f"{missing} is required" in str(error.value)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("STRIPE_WEBHOOK_SECRET", "sk_test_123", "must start with 'whsec_'"),
        ("ADMIN_TOKEN", "short", "at least 16 characters"),
        ("DATABASE_URL", "mysql://db/x", "unsupported scheme 'mysql'"),
        ("DATABASE_URL", "duckdb://host/x.duckdb", "has no host"),
        ("DATABASE_URL", "postgresql://db:5432", "a postgresql URL names its database"),
        ("TIMEZONE", "Australia/Sydny", "not an IANA time zone"),
        ("SMTP_PORT", "twenty-five", "not a whole number"),
        ("SMTP_PORT", "70000", "outside 1..65535"),
        ("SMTP_SECURITY", "tls", "not one of none, starttls, ssl"),
        ("PUBLIC_BASE_URL", "tinkertank.example", "not an http(s) URL"),
        ("SLACK_WEBHOOK_URL", "ftp://hooks.example/x", "not an http(s) URL"),
        ("ALERT_EMAILS", "ops@example.com, nobody", "not email addresses: nobody"),
        ("CLOCK_SHIFT_SECONDS", "next week", "not a number of seconds"),
        ("CLOCK_SHIFT_SECONDS", "nan", "not a number of seconds"),
        ("CLOCK_SHIFT_SECONDS", "1e12", "not a number of seconds"),
        ("ANALYST_SQL_TIME_LIMIT_SECONDS", "0", "not a number of seconds 0.5..600"),
        ("ANALYST_SQL_TIME_LIMIT_SECONDS", "nan", "not a number of seconds"),
        ("ANALYST_SQL_MAX_AGE_SECONDS", "-1", "not a number of seconds 0..86400"),
        ("ANALYST_SQL_MEMORY_LIMIT", "lots", "not a size such as 256MB"),
        ("ANALYST_SQL_MEMORY_LIMIT", "1MB", "outside 16MB..64GB"),
        ("SUMMARY_AT", "7am", "not a local time HH:MM"),
        ("SUMMARY_AT", "24:00", "not a local time HH:MM"),
        ("REMINDERS_EVERY_MINUTES", "hourly", "not a whole number"),
        ("REMINDERS_EVERY_MINUTES", "-5", "outside 0..1440"),
    ],
)
def test_a_malformed_value_is_reported_with_its_name(name: str, value: str, message: str):
    with pytest.raises(SettingsError) as error:
        settings_from(**{name: value})

    assert any(p.startswith(f"{name}") and message in p for p in error.value.problems)


def test_every_problem_is_reported_at_once():
    with pytest.raises(SettingsError) as error:
        load_settings({"SMTP_PORT": "x", "TIMEZONE": "Mars/Base"})

    names = [p.split()[0].rstrip(":") for p in error.value.problems]
    assert names == ["STRIPE_WEBHOOK_SECRET", "ADMIN_TOKEN", "TIMEZONE", "SMTP_PORT"]


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("duckdb:///data/tinkertank.duckdb", "data/tinkertank.duckdb"),
        ("duckdb:////var/lib/tinkertank/db.duckdb", "/var/lib/tinkertank/db.duckdb"),
        ("duckdb:///:memory:", ":memory:"),
    ],
)
def test_database_url_uses_three_slashes_for_relative_and_four_for_absolute(url: str, path: str):
    assert parse_database_url(url) == DatabaseLocation("duckdb", path)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://tinkertank:s3cret@db.internal:5432/tinkertank",
        "postgres://tinkertank@/tinkertank?host=/run/postgresql",
    ],
)
def test_a_postgresql_url_selects_the_postgresql_backend(url: str):
    location = parse_database_url(url)

    assert location == DatabaseLocation("postgresql", url)
    assert "s3cret" not in location.shown
    assert location.shown.startswith(url.split(":", 1)[0] + "://tinkertank")


def test_files_go_to_data_dir_else_beside_the_duckdb_file_else_under_data():
    base = {"STRIPE_WEBHOOK_SECRET": "whsec_x", "ADMIN_TOKEN": "0123456789abcdef"}
    postgresql = {**base, "DATABASE_URL": "postgresql://tinkertank@db/tinkertank"}

    assert load_settings({**base, "DATA_DIR": "/srv/tt"}).files_directory == Path("/srv/tt")
    assert load_settings(
        {**base, "DATABASE_URL": "duckdb:////var/lib/tt/db.duckdb"}
    ).files_directory == Path("/var/lib/tt")
    assert load_settings(postgresql).files_directory == Path("data")
    assert load_settings({**postgresql, "DATA_DIR": "/srv/tt"}).files_directory == Path("/srv/tt")


def test_secrets_are_kept_out_of_the_settings_repr_and_str():
    settings = load_settings(
        {
            "STRIPE_WEBHOOK_SECRET": "whsec_sign-me-1,whsec_sign-me-2",
            "ADMIN_TOKEN": "admin-token-do-not-print",
            "STRIPE_SECRET_KEY": "sk_test_do_not_print",
            "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/do-not-print",
            "SMTP_PASSWORD": "hunter2-hunter2",
            "DASHBOARD_PASSWORD": "open-sesame",
            "SMTP_USER": "mailer",
        }
    )

    for text in (repr(settings), str(settings), f"{settings}"):
        for secret in ("sign-me", "admin-token", "sk_test", "do-not-print", "hunter2", "sesame"):
            assert secret not in text
        assert "admin_token=<hidden>" in text
        assert "smtp_user='mailer'" in text  # what is not a secret still shows
    assert "stripe_secret_key=None" in repr(settings_from())  # an unset secret says so


def test_a_client_of_the_sidecar_needs_the_admin_token_but_not_the_webhook_secret():
    settings = load_settings(
        {"ADMIN_TOKEN": "a-long-enough-admin-token", "SIDECAR_URL": "http://10.0.0.5:8000/"},
        client=True,
    )

    assert settings.stripe_webhook_secrets == ()
    assert settings.sidecar_url == "http://10.0.0.5:8000"
    with pytest.raises(SettingsError, match="ADMIN_TOKEN is required"):
        load_settings({}, client=True)


def test_the_clock_is_unshifted_unless_a_shift_is_set():
    assert settings_from().clock_shift_seconds == 0
    assert settings_from(CLOCK_SHIFT_SECONDS="-86400.5").clock_shift_seconds == -86400.5


@pytest.mark.parametrize(
    ("key", "livemode"),
    [("sk_live_abc", True), ("rk_live_abc", True), ("sk_test_abc", False),
     ("rk_test_abc", False), (None, False)],
)  # fmt: skip
def test_the_stripe_keys_prefix_gives_the_mode_events_must_be_in(key: str | None, livemode: bool):
    settings = settings_from(**({"STRIPE_SECRET_KEY": key} if key else {}))

    assert settings.stripe_livemode is livemode


def test_a_stripe_key_of_no_known_mode_is_refused_without_echoing_it():
    with pytest.raises(SettingsError) as error:
        settings_from(STRIPE_SECRET_KEY="pk_live_publishable_not_secret")

    assert "STRIPE_SECRET_KEY must start with sk_live_, rk_live_, sk_test_ or rk_test_" in str(
        error.value
    )
    assert "publishable_not_secret" not in str(error.value)


def test_the_stripe_secret_key_is_kept_out_of_the_settings_repr():
    assert "sk_live_hush" not in repr(settings_from(STRIPE_SECRET_KEY="sk_live_hush"))


def test_no_proxy_is_trusted_and_the_abuse_limits_have_their_defaults_unless_set():
    settings = settings_from()

    assert settings.forwarded_allow_ips == ()
    assert settings.support_requests_per_client == 20
    assert (
        settings.checkout_places_per_email,
        settings.checkout_places_per_client,
        settings.checkout_client_share_percent,
    ) == (6, 40, 50)
    assert settings_from(FORWARDED_ALLOW_IPS="10.0.0.1, 192.168.0.0/16").forwarded_allow_ips == (
        "10.0.0.1",
        "192.168.0.0/16",
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FORWARDED_ALLOW_IPS", "10.0.0.1,proxy.local", "'proxy.local' is not an IP address"),
        ("SUPPORT_REQUESTS_PER_CLIENT", "0", "0 is outside 1..100000"),
        ("CHECKOUT_PLACES_PER_EMAIL", "six", "'six' is not a whole number"),
        ("CHECKOUT_CLIENT_SHARE_PERCENT", "150", "150 is outside 0..100"),
    ],
)
def test_a_malformed_abuse_limit_is_reported_with_its_name(name: str, value: str, message: str):
    with pytest.raises(SettingsError) as error:
        settings_from(**{name: value})

    assert f"{name}: {message}" in str(error.value)


def test_the_analysts_sandbox_has_its_own_limits():
    default = settings_from()
    tuned = settings_from(
        ANALYST_SQL_TIME_LIMIT_SECONDS="2.5",
        ANALYST_SQL_MEMORY_LIMIT="1GiB",
        ANALYST_SQL_MAX_AGE_SECONDS="0",
    )

    assert default.analyst_sql_time_limit_seconds == 5
    assert default.analyst_sql_memory_bytes == 256_000_000
    assert default.analyst_sql_max_age_seconds == 300
    assert tuned.analyst_sql_time_limit_seconds == 2.5
    assert tuned.analyst_sql_memory_bytes == 1024**3
    assert tuned.analyst_sql_max_age_seconds == 0


def test_restart_stall_and_connection_limits_have_defaults_and_can_be_set():
    assert (
        settings_from().database_lock_wait_seconds,
        settings_from().store_timeout_seconds,
        settings_from().http_max_connections,
    ) == (10, 10, 1000)
    settings = settings_from(
        DATABASE_LOCK_WAIT_SECONDS="0", STORE_TIMEOUT_SECONDS="2.5", HTTP_MAX_CONNECTIONS="50"
    )
    assert settings.database_lock_wait_seconds == 0
    assert settings.store_timeout_seconds == 2.5
    assert settings.http_max_connections == 50


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_LOCK_WAIT_SECONDS", "-1"),
        ("DATABASE_LOCK_WAIT_SECONDS", "soon"),
        ("STORE_TIMEOUT_SECONDS", "0"),
        ("STORE_TIMEOUT_SECONDS", "nan"),
        ("HTTP_MAX_CONNECTIONS", "5"),
        ("HTTP_MAX_CONNECTIONS", "many"),
    ],
)
def test_bad_restart_stall_and_connection_limits_are_named(name: str, value: str):
    with pytest.raises(SettingsError, match=name):
        settings_from(**{name: value})


def test_alerts_start_at_high_link_to_the_dashboard_and_count_signature_refusals():
    settings = settings_from()
    assert settings.alert_min_severity == "high"
    assert settings.dashboard_url == "http://127.0.0.1:8501"
    assert settings.signature_refusals_alert == 10

    settings = settings_from(
        ALERT_MIN_SEVERITY="medium", DASHBOARD_URL="https://ops.example/",
        SIGNATURE_REFUSALS_ALERT="3",
    )  # fmt: skip
    assert settings.alert_min_severity == "medium"
    assert settings.dashboard_url == "https://ops.example"
    assert settings.signature_refusals_alert == 3


@pytest.mark.parametrize(
    ("name", "value"),
    [("ALERT_MIN_SEVERITY", "urgent"), ("DASHBOARD_URL", "ops.example"),
     ("SIGNATURE_REFUSALS_ALERT", "0")],
)  # fmt: skip
def test_bad_alert_settings_are_named(name: str, value: str):
    with pytest.raises(SettingsError, match=name):
        settings_from(**{name: value})


def test_the_account_mode_is_dedicated_unless_said_shared_and_floods_gather_a_minute():
    settings = settings_from()
    assert (settings.stripe_account_mode, settings.shared_account) == ("dedicated", False)
    assert settings.alert_group_seconds == 60

    settings = settings_from(STRIPE_ACCOUNT_MODE="shared", ALERT_GROUP_SECONDS="5")
    assert (settings.stripe_account_mode, settings.shared_account) == ("shared", True)
    assert settings.alert_group_seconds == 5


@pytest.mark.parametrize(
    ("name", "value"),
    [("STRIPE_ACCOUNT_MODE", "mixed"), ("ALERT_GROUP_SECONDS", "-1"),
     ("ALERT_GROUP_SECONDS", "7200")],
)  # fmt: skip
def test_a_bad_account_mode_or_group_time_is_named(name: str, value: str):
    with pytest.raises(SettingsError, match=name):
        settings_from(**{name: value})


def test_staff_sign_in_limits_and_the_manage_link_secret_are_read_and_checked():
    settings = settings_from(
        STAFF_SESSION_HOURS="8",
        LOGIN_FAILURES_PER_ACCOUNT="3",
        LOGIN_LOCKOUT_SECONDS="60",
        MANAGE_LINK_SECRET="m" * 32,
    )

    assert (settings.staff_session_hours, settings.login_failures_per_account) == (8, 3)
    assert settings.login_lockout_seconds == 60
    assert settings.manage_link_secret == "m" * 32
    assert "m" * 32 not in repr(settings)
    with pytest.raises(SettingsError) as refused:
        settings_from(LOGIN_FAILURES_PER_CLIENT="0", MANAGE_LINK_SECRET="short")
    assert "LOGIN_FAILURES_PER_CLIENT: 0 is outside 1..100000" in str(refused.value)
    assert "MANAGE_LINK_SECRET must be at least 32 characters long" in str(refused.value)


def test_the_dashboard_may_go_without_the_admin_token_to_sign_staff_in():
    settings = load_settings({"SIDECAR_URL": "http://10.0.0.5:8000"}, client=True, signs_in=True)

    assert settings.admin_token == ""
