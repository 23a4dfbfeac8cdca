"""The analysts' copy of the database: what `POST /api/sql` queries (see analyst_sandbox.py).

Analysts' SQL never runs on the store's DuckDB instance: that instance holds the live file
read-write, may read and write files, and lives in the process that acknowledges webhooks.
Instead the store copies the database into a DuckDB file of its own, in `analyst/` beside
the database file, and a sandbox process opens that copy read-only with file access off.

A copy is made from one read transaction (every table agrees with the others), into a
hidden file renamed into place when complete. It holds every table of the database as it
is, without constraints or indexes, except the raw webhook payloads (the bulk of the file;
one payload is at `GET /api/inbox/{event_id}`). The analyst role gets a copy of its own,
made the same way, with children's notes and support-ticket text blank (`REDACTED`).

Freshness: a query is served a copy at most `max_age` seconds old. When the current copy
is older, a new one is made in a background thread (one at a time) and the query waits for
it up to `wait` seconds; past that it is served the previous copy, and `data_as_of` says
how old it is. Only the very first query, with no copy on disk at all, waits for the whole
copy. Superseded copies are deleted a while after, since a sandbox may still be opening one.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from core.clock import utcnow

PREFIX = "snapshot-"
SUFFIX = ".duckdb"
_PARTIAL = ".partial-"
_STAMP = "%Y%m%dT%H%M%S.%fZ"
# A superseded copy is deleted once it has been superseded this long: a sandbox that was
# handed it opens it within a second or so, and keeps reading it after the unlink.
KEEP_SUPERSEDED_SECONDS = 30.0
# Columns left out of the copy, by table.
# The phone numbers of other adults (a child's emergency contacts and collectors) stay out.
LEFT_OUT = {
    "webhook_inbox": ("payload",),
    "webhook_inbox_archive": ("payload",),
    "students": ("emergency_contacts", "authorised_collectors"),
}
# Columns blanked (NULL) in the analyst role's copy (docs/security.md, Staff roles):
# children's notes (also inside a waitlist entry's cart) and what families and staff wrote
# on support tickets. Staff and admins query the full copy.
REDACTED = {
    "students": ("notes",),
    "support_tickets": ("message", "staff_note"),
    "waitlist": ("cart",),
}
REDACTED_PREFIX = "redacted-"


class SnapshotUnavailable(RuntimeError):
    """No copy of the database could be made for the analysts; the message says why."""


@dataclass(frozen=True)
class Snapshot:
    path: str
    as_of: datetime  # naive UTC: when its read transaction began (about)


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    current: Snapshot | None = None
    made_at: float = -float("inf")  # monotonic time the current copy's transaction began
    looked_on_disk: bool = False
    building: threading.Event | None = None  # set when the build under way ends
    cursor: duckdb.DuckDBPyConnection | None = None  # the build's, to interrupt it
    failure: str | None = None  # why the last build failed
    superseded: list[tuple[str, float]] = field(default_factory=list)  # path, since


_state = _State()
_redacted_state = _State()  # the analyst role's copy, made and kept the same way


def _state_of(redacted: bool) -> _State:
    return _redacted_state if redacted else _state


def analyst_snapshot(
    conn: duckdb.DuckDBPyConnection,
    directory: str,
    max_age: float,
    wait: float,
    redacted: bool = False,
) -> Snapshot:
    """A copy of the database at most `max_age` seconds old, or after `wait` seconds the
    newest there is (a read function for the store). `redacted`: the analyst role's copy,
    with the `REDACTED` columns blank."""
    _state = _state_of(redacted)
    prefix = REDACTED_PREFIX if redacted else PREFIX
    asked = time.monotonic()
    deadline = asked + wait
    root = Path(directory)
    while True:
        with _state.lock:
            if not _state.looked_on_disk:
                _state.looked_on_disk = True
                _state.current = _newest_on_disk(root, prefix)
            current = _state.current
            if current is not None and asked - _state.made_at <= max_age:
                return current
            if _state.building is None:
                _state.building = threading.Event()
                _state.cursor = conn.cursor()
                _state.failure = None
                threading.Thread(
                    target=_build_in_background,
                    args=(_state.cursor, _catalog(conn), root, _state.building, redacted),
                    name="analyst-snapshot",
                    daemon=True,
                ).start()
            building = _state.building
        remaining = deadline - time.monotonic()
        if current is not None and remaining <= 0:
            return current
        building.wait(remaining if current is not None else None)
        with _state.lock:
            if _state.failure is not None and _state.building is None:
                if _state.current is not None:
                    return _state.current
                raise SnapshotUnavailable(
                    f"the analysts' copy of the database could not be made: {_state.failure}"
                )


def _catalog(conn: duckdb.DuckDBPyConnection) -> str:
    (catalog,) = conn.execute("SELECT current_database()").fetchone()
    return catalog


def _build_in_background(
    cursor: duckdb.DuckDBPyConnection,
    catalog: str,
    root: Path,
    done: threading.Event,
    redacted: bool = False,
) -> None:
    _state = _state_of(redacted)
    try:
        started = time.monotonic()
        snapshot = make_snapshot(cursor, catalog, root, redacted)
    except Exception as exc:
        with _state.lock:
            _state.failure = f"{type(exc).__name__}: {exc}"
    else:
        with _state.lock:
            if _state.current is not None:
                _state.superseded.append((_state.current.path, time.monotonic()))
            _state.current, _state.made_at = snapshot, started
            _delete_superseded(_state, time.monotonic())
    finally:
        cursor.close()
        with _state.lock:
            _state.building = _state.cursor = None
        done.set()


def stop(timeout: float = 30) -> None:
    """Interrupt the copies being made and wait for them to end (before the database
    closes)."""
    for state in (_state, _redacted_state):
        with state.lock:
            cursor, building = state.cursor, state.building
        if cursor is None or building is None:
            continue
        with contextlib.suppress(duckdb.Error):
            cursor.interrupt()
        building.wait(timeout)


def _delete_superseded(state: _State, now: float) -> None:
    keep = []
    for path, since in state.superseded:
        if now - since >= KEEP_SUPERSEDED_SECONDS:
            Path(path).unlink(missing_ok=True)
        else:
            keep.append((path, since))
    state.superseded = keep


def _newest_on_disk(root: Path, prefix: str = PREFIX) -> Snapshot | None:
    """The newest complete copy a previous run left (served, stale, while a fresh one is
    made); older ones are deleted later like any superseded copy."""
    found = []
    _state = _state_of(prefix == REDACTED_PREFIX)
    for path in root.glob(f"{prefix}*{SUFFIX}"):
        try:
            as_of = datetime.strptime(path.name[len(prefix) : -len(SUFFIX)], _STAMP)
        except ValueError:
            continue
        found.append((as_of, str(path)))
    found.sort()
    for _, path in found[:-1]:
        _state.superseded.append((path, -float("inf")))
    return Snapshot(found[-1][1], found[-1][0]) if found else None


def make_snapshot(
    conn: duckdb.DuckDBPyConnection, catalog: str, root: Path, redacted: bool = False
) -> Snapshot:
    """Copy every table of `catalog` into a new DuckDB file under `root`, from one read
    transaction (`conn`: a cursor of its own, not in a transaction); `redacted` blanks the
    `REDACTED` columns."""
    root.mkdir(parents=True, exist_ok=True)
    for leftover in root.glob(_PARTIAL + "*"):  # from a copy cut short by a crash
        leftover.unlink(missing_ok=True)
    as_of = utcnow()
    name = f"{REDACTED_PREFIX if redacted else PREFIX}{as_of.strftime(_STAMP)}{SUFFIX}"
    partial = root / f"{_PARTIAL}{secrets.token_hex(4)}-{name}"
    alias = f"analyst_copy_{secrets.token_hex(4)}"
    target = str(partial).replace("'", "''")
    conn.execute(f"ATTACH '{target}' AS {alias}")
    try:
        conn.execute("BEGIN TRANSACTION")  # one snapshot for every table
        try:
            tables = conn.execute(
                "SELECT table_name FROM duckdb_tables()"
                " WHERE database_name = ? AND schema_name = 'main' ORDER BY table_name",
                [catalog],
            ).fetchall()
            for (table,) in tables:
                columns = _columns(table, redacted)
                conn.execute(
                    f'CREATE TABLE {alias}.main."{table}" AS'
                    f' SELECT {columns} FROM "{catalog}".main."{table}"'
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute(f"DETACH {alias}")
    final = root / name
    partial.rename(final)
    return Snapshot(str(final), as_of)


def _columns(table: str, redacted: bool) -> str:
    """What a table's copy selects: every column, less `LEFT_OUT`, with the `REDACTED` ones
    NULL (same names and types, so a query works on either copy) when `redacted`."""
    columns = "*"
    if left_out := LEFT_OUT.get(table):
        columns += f" EXCLUDE ({', '.join(left_out)})"
    if redacted and (blanked := REDACTED.get(table)):
        columns += f" REPLACE ({', '.join(f'NULL::VARCHAR AS {c}' for c in blanked)})"
    return columns
