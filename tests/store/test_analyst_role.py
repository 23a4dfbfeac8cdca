"""The analysts' views and roles on PostgreSQL (store/analyst_role.py), made at start."""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg

from core.settings import DatabaseLocation
from store import analyst_role
from store.database import Database


def _can_read(url: str, role: str, schema: str) -> bool:
    with psycopg.connect(url) as conn:
        (yes,) = conn.execute(
            "SELECT has_schema_privilege(%s, %s, 'USAGE')", [role, schema]
        ).fetchone()
    return yes


def test_the_roles_read_their_views_again_after_a_restore_that_lost_their_grants(
    postgres_url: str,
):
    roles = analyst_role.roles_for(urlsplit(postgres_url).path.strip("/"))
    Database.open(DatabaseLocation("postgresql", postgres_url)).close()
    assert _can_read(postgres_url, roles.analyst, analyst_role.ANALYST_SCHEMA)
    assert not _can_read(postgres_url, roles.analyst, analyst_role.STAFF_SCHEMA)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        # what a pg_restore on another server leaves: the views, not the cluster's grants
        conn.execute(f"REVOKE USAGE ON SCHEMA sql_analyst FROM {roles.analyst}")

    Database.open(DatabaseLocation("postgresql", postgres_url)).close()

    assert _can_read(postgres_url, roles.analyst, analyst_role.ANALYST_SCHEMA)
    with psycopg.connect(postgres_url) as conn:
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'sql_analyst' AND table_name = 'webhook_inbox'"
        ).fetchall()
    assert ("event_id",) in columns and ("payload",) not in columns


def test_a_start_with_nothing_changed_rebuilds_nothing(postgres_url: str):
    Database.open(DatabaseLocation("postgresql", postgres_url)).close()
    with psycopg.connect(postgres_url) as conn:
        (before,) = conn.execute(
            "SELECT oid FROM pg_namespace WHERE nspname = 'sql_staff'"
        ).fetchone()

    Database.open(DatabaseLocation("postgresql", postgres_url)).close()

    with psycopg.connect(postgres_url) as conn:
        (after,) = conn.execute(
            "SELECT oid FROM pg_namespace WHERE nspname = 'sql_staff'"
        ).fetchone()
    assert after == before  # the same schema, not dropped and made again


def test_the_roles_password_is_derived_from_the_sidecars_and_none_without_one(
    postgres_url: str,
):
    roles = analyst_role.roles_for(urlsplit(postgres_url).path.strip("/"))
    with_password = postgres_url.replace("postgres@", "postgres:s3cret@", 1)

    def stored() -> str | None:
        with psycopg.connect(postgres_url) as conn:
            (verifier,) = conn.execute(
                "SELECT rolpassword FROM pg_authid WHERE rolname = %s", [roles.analyst]
            ).fetchone()
        return verifier

    Database.open(DatabaseLocation("postgresql", with_password)).close()
    derived = stored()
    Database.open(DatabaseLocation("postgresql", postgres_url)).close()

    assert derived is not None and derived.startswith("SCRAM-SHA-256$")
    assert analyst_role.role_password(with_password, roles.analyst) not in derived
    assert analyst_role.role_password(postgres_url, roles.analyst) is None
    assert stored() is None  # no password to derive one from: none a guess could match
