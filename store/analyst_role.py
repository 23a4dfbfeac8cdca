"""The analysts' SQL on PostgreSQL (`POST /api/sql` with DATABASE_URL=postgresql://…).

DuckDB's analysts query a copy of the database in a sandbox process (analyst_snapshot.py,
runtime/analyst_sandbox.py). PostgreSQL gives the same guarantees itself: the query runs on
the live database, as a role that can read nothing but views, in a READ ONLY transaction
cut off by `statement_timeout`.

At start, after the migrations (store/database.py, under the migration lock), `ensure`:

- makes two schemas of views, rebuilt whenever the tables change: `sql_staff` (every table,
  less what DuckDB's copy leaves out: the raw webhook payloads, emergency contacts and
  authorised collectors) and `sql_analyst` (the same, with children's notes and support
  ticket text NULL, as in the analyst role's copy: `analyst_snapshot.LEFT_OUT`/`REDACTED`);
- makes two roles, `<database>_sql_staff` and `<database>_sql_analyst`: LOGIN, not
  superuser, in no other role (so none of pg_read_server_files, pg_execute_server_program,
  pg_read_all_settings …), granted USAGE on their schema and SELECT on its views only, with
  `search_path` set to it (so `SELECT * FROM orders` reads the view). Their password is
  derived from the sidecar's own (HMAC), so every sidecar on the database knows it and
  nobody else needs to; a sidecar that logs in without a password gives them none.

Each query connects *as* the role (not `SET ROLE` from the sidecar's session: a query may
call `set_config('role', …)`, which PostgreSQL allows back to the session's user), opens a
READ ONLY transaction with `statement_timeout`, and is sent as one prepared statement (so
PostgreSQL itself refuses a second statement). The connection is closed after it.

Where the sidecar's user may not create roles (a managed PostgreSQL without CREATEROLE),
the views are still made and staff and admins' queries run on the sidecar's own connection,
READ ONLY, with the timeout and `search_path` set to the views (never as a superuser); that
user can still name the tables themselves, so the analyst role's queries are refused (503)
until the sidecar's user is given CREATEROLE (docs/postgresql.md, Analysts).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import conninfo, errors

from store import postgres
from store.analyst_snapshot import LEFT_OUT, REDACTED
from store.analyst_sql import DEFAULT_LIMIT, first_line, jsonable

log = logging.getLogger(__name__)

STAFF_SCHEMA = "sql_staff"
ANALYST_SCHEMA = "sql_analyst"
# Connections each role may hold at once (two queries a sidecar, a few sidecars).
CONNECTION_LIMIT = 16
# The words a query may start with: it reads (the READ ONLY transaction and the role's
# privileges are what make sure of it; this only names what was sent).
READING = ("SELECT", "WITH", "VALUES", "TABLE")
_CONNECT_TIMEOUT_SECONDS = 10


class Refused(ValueError):
    """Not one reading statement, or PostgreSQL refused it (read-only, permission)."""


class QueryFailed(ValueError):
    """PostgreSQL could not run the query (a wrong column, a type error …)."""


class TimedOut(RuntimeError):
    """`statement_timeout` cancelled the query."""


class OutOfMemory(RuntimeError):
    """The server ran out of memory or temporary space for the query."""


class Unavailable(RuntimeError):
    """No safe way to run the query on this server; the message says why."""


@dataclass(frozen=True)
class Roles:
    staff: str
    analyst: str

    def of(self, redacted: bool) -> str:
        return self.analyst if redacted else self.staff


def roles_for(database: str) -> Roles:
    """The roles of one database (role names are the cluster's, so they carry its name)."""
    base = re.sub(r"[^a-z0-9_]", "_", database.lower())[:40]
    return Roles(f"{base}_sql_staff", f"{base}_sql_analyst")


def role_password(url: str, role: str) -> str | None:
    """The role's password, derived from the sidecar's own (in DATABASE_URL, or
    PGPASSWORD), so every sidecar agrees; None when the sidecar logs in without one (trust,
    peer or certificate authentication): the role then has no password either, and logs in
    only where the server lets it in without one, never with a password anyone could guess."""
    key = conninfo.conninfo_to_dict(url).get("password") or os.environ.get("PGPASSWORD")
    if not key:
        return None
    return hmac.new(key.encode(), f"tinkertank-sql:{role}".encode(), hashlib.sha256).hexdigest()


# --- at start: the views and the roles ----------------------------------------------------


def ensure(conn: postgres.PostgresConnection, url: str) -> str | None:
    """Make (or bring up to date) the views and the roles; None, or why there are no roles
    (the sidecar's user may not create them)."""
    (database,) = conn.execute("SELECT current_database()").fetchone()
    roles = roles_for(database)
    views = _view_statements(conn)
    fingerprint = hashlib.sha256(
        "\n".join(
            [*views, roles.staff, roles.analyst, role_password(url, roles.staff) or ""]
        ).encode()
    ).hexdigest()
    if _current(conn, roles) == fingerprint:
        return None
    try:
        _rebuild(conn, views, roles, url, fingerprint, with_roles=True)
        log.info("analysts' roles %s and %s ready", roles.staff, roles.analyst)
        return None
    except errors.InsufficientPrivilege as exc:
        why = first_line(exc)
    _rebuild(conn, views, roles, url, "no roles", with_roles=False)
    log.warning(
        "the analysts' roles could not be made (%s): staff queries run read-only as the"
        " sidecar's user; the analyst role's are refused until an administrator makes the"
        " roles (docs/postgresql.md)",
        why,
    )
    return why


def _view_statements(conn: postgres.PostgresConnection) -> list[str]:
    (home,) = conn.execute("SELECT current_schema()").fetchone()
    rows = conn.execute(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)"
        " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0"
        " AND NOT a.attisdropped ORDER BY c.relname, a.attnum"
    ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        tables.setdefault(table, []).append((column, kind))
    statements = []
    for schema, redacted in ((STAFF_SCHEMA, False), (ANALYST_SCHEMA, True)):
        for table, columns in tables.items():
            selected = []
            for column, kind in columns:
                if column in LEFT_OUT.get(table, ()):
                    continue
                if redacted and column in REDACTED.get(table, ()):
                    selected.append(f'NULL::{kind} AS "{column}"')
                else:
                    selected.append(f'"{column}"')
            statements.append(
                f'CREATE VIEW {schema}."{table}" AS SELECT {", ".join(selected)}'
                f' FROM "{home}"."{table}"'
            )
    return statements


def _current(conn: postgres.PostgresConnection, roles: Roles) -> str | None:
    """The fingerprint the views were made with, if the roles still read them (a database
    restored on another server has the views, not the roles: the cluster keeps those)."""
    row = conn.execute(
        "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = ?",
        [ANALYST_SCHEMA],
    ).fetchone()
    if row is None:
        return None
    (granted,) = conn.execute(
        "SELECT count(*) FROM pg_roles WHERE rolcanlogin AND ("
        f"(rolname = ? AND has_schema_privilege(oid, '{STAFF_SCHEMA}', 'USAGE'))"
        f" OR (rolname = ? AND has_schema_privilege(oid, '{ANALYST_SCHEMA}', 'USAGE')))",
        [roles.staff, roles.analyst],
    ).fetchone()
    return row[0] if granted == 2 else None


def _rebuild(
    conn: postgres.PostgresConnection,
    views: list[str],
    roles: Roles,
    url: str,
    fingerprint: str,
    with_roles: bool,
) -> None:
    conn.execute("BEGIN TRANSACTION")
    try:
        for schema in (STAFF_SCHEMA, ANALYST_SCHEMA):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {schema}")
            conn.execute(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC")
        for statement in views:
            conn.execute(statement)
        if with_roles:
            for schema, role in ((STAFF_SCHEMA, roles.staff), (ANALYST_SCHEMA, roles.analyst)):
                _make_role(conn, role, role_password(url, role), schema)
        conn.execute(f"COMMENT ON SCHEMA {ANALYST_SCHEMA} IS '{fingerprint}'")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _make_role(
    conn: postgres.PostgresConnection, role: str, password: str | None, schema: str
) -> None:
    secret = "NULL"
    if password is not None:
        verifier = conn.raw.pgconn.encrypt_password(
            password.encode(), role.encode(), b"scram-sha-256"
        ).decode()
        secret = f"'{verifier}'"
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = ?", [role]).fetchone()
    if exists:
        conn.execute(f"ALTER ROLE {role} LOGIN PASSWORD {secret}")
    else:
        conn.execute(
            f"CREATE ROLE {role} LOGIN NOINHERIT CONNECTION LIMIT {CONNECTION_LIMIT}"
            f" PASSWORD {secret}"
        )
    (powerful, memberships) = conn.execute(
        "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls,"
        " (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid)"
        " FROM pg_roles r WHERE rolname = ?",
        [role],
    ).fetchone()
    if powerful or memberships:
        # Made by someone else with more than reading: not one to hand analysts' SQL to.
        raise errors.InsufficientPrivilege(
            f"role {role} exists with more than read access (superuser, CREATEROLE, member"
            " of another role …); drop it or take those away"
        )
    (database,) = conn.execute("SELECT current_database()").fetchone()
    conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
    conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
    conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}")
    conn.execute(f"ALTER ROLE {role} SET search_path = {schema}")
    conn.execute(f"ALTER ROLE {role} SET default_transaction_read_only = on")
    conn.execute(f"ALTER ROLE {role} SET statement_timeout = '60s'")


# --- each query ---------------------------------------------------------------------------


def check(sql: str) -> None:
    """Refuse what is plainly not a read, by its first word (PostgreSQL refuses the rest)."""
    if not sql.strip():
        raise Refused("the query is empty")
    text = re.sub(r"^(\s+|--[^\n]*\n?|/\*.*?\*/|\()+", "", sql, flags=re.DOTALL)
    word = (re.match(r"[A-Za-z_]+", text) or re.match(r"\S*", text)).group().upper()
    if word not in READING:
        raise Refused(f"only SELECT (or WITH … SELECT) is allowed, not {word or 'that'}")


def run(
    url: str, redacted: bool, sql: str, limit: int = DEFAULT_LIMIT, time_seconds: float = 5
) -> dict[str, Any]:
    """Run one reading statement as the role (staff's, or the analyst role's with notes
    blank): columns, up to `limit` rows, whether there were more, how long it took."""
    check(sql)
    timeout_ms = max(1, int(time_seconds * 1000))
    database = urlsplit(url).path.strip("/") or None
    conn = _connect_as_role(url, database, redacted, timeout_ms)
    schema = ANALYST_SCHEMA if redacted else STAFF_SCHEMA
    try:
        conn.execute("BEGIN READ ONLY")
        conn.execute(f"SET LOCAL statement_timeout = {timeout_ms}")
        conn.execute(f"SET LOCAL search_path = {schema}")
        started = time.monotonic()
        try:
            cursor = conn.cursor()
            cursor.execute(sql, prepare=True)  # prepared: one statement, never two
            columns = [d.name for d in cursor.description or []]
            rows = cursor.fetchmany(limit + 1)
        except errors.QueryCanceled:
            raise TimedOut(
                f"the query was stopped after {time_seconds:g} s; narrow it down"
                " (a WHERE clause, fewer joins, a LIMIT)"
            ) from None
        except (errors.ReadOnlySqlTransaction, errors.InsufficientPrivilege) as exc:
            raise Refused(f"only reading the database is allowed here: {first_line(exc)}") from None
        except errors.SyntaxError as exc:
            if "multiple commands" in str(exc):
                raise Refused("send exactly one statement") from None
            raise QueryFailed(first_line(exc)) from None
        except (errors.OutOfMemory, errors.DiskFull, errors.ConfigurationLimitExceeded) as exc:
            raise OutOfMemory(
                f"the query needed more than the server allows ({first_line(exc)});"
                " aggregate more, or select fewer rows or columns"
            ) from None
        except psycopg.DatabaseError as exc:
            if isinstance(exc, psycopg.OperationalError) and conn.closed:
                raise
            raise QueryFailed(first_line(exc)) from None
        elapsed = time.monotonic() - started
    finally:
        conn.close()
    return {
        "columns": columns,
        "rows": [[jsonable(value) for value in row] for row in rows[:limit]],
        "truncated": len(rows) > limit,
        "elapsed_ms": round(elapsed * 1000, 1),
    }


def _connect_as_role(
    url: str, database: str | None, redacted: bool, timeout_ms: int
) -> psycopg.Connection:
    options = f"-c statement_timeout={timeout_ms} -c timezone=UTC -c datestyle=ISO"
    role = roles_for(database or "").of(redacted) if database else None
    failure = "the database name is not in DATABASE_URL"
    if role is not None:
        try:
            conn = psycopg.connect(
                conninfo.make_conninfo(
                    url, user=role, password=role_password(url, role) or "", options=options
                ),
                autocommit=True,
                connect_timeout=_CONNECT_TIMEOUT_SECONDS,
                application_name="tinkertank-sql",
            )
            postgres.configure(conn)
            return conn
        except psycopg.OperationalError as exc:
            failure = first_line(exc)
    # No role to connect as (not made: no CREATEROLE here; or pg_hba refuses it).
    if redacted:
        raise Unavailable(
            f"the analysts' read-only role cannot be used ({failure}); give the sidecar's"
            " database user CREATEROLE and restart it, so it makes the role"
            " (docs/postgresql.md, Analysts)"
        )
    conn = psycopg.connect(
        url,
        autocommit=True,
        connect_timeout=_CONNECT_TIMEOUT_SECONDS,
        application_name="tinkertank-sql",
        options=options,
    )
    postgres.configure(conn)
    (superuser,) = conn.execute(
        "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    if superuser:
        conn.close()
        raise Unavailable(
            f"the analysts' read-only role cannot be used ({failure}), and the sidecar's"
            " own user is a superuser: SQL is not run as it"
        )
    return conn
