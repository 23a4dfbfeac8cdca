"""The analysts' copy of the database: what `POST /api/sql` queries (see analyst_sandbox.py).

Analysts' SQL never runs on the store's DuckDB instance: that instance holds the live file
read-write, may read and write files, and lives in the process that acknowledges webhooks.
Instead the store copies the database into a DuckDB file of its own, in `analyst/` beside
the database file, and a sandbox process opens that copy read-only with file access off.

A copy is made from one read transaction (every table agrees with the others), into a
hidden file renamed into place when complete. It holds every table of the database as it
is, without constraints or indexes, except the raw webhook payloads (the bulk of the file;
one payload is at `GET /api/inbox/{event_id}`).

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
    "students": ("emergency_contacts", "authorised_collectors"),
}


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


def analyst_snapshot(
    conn: duckdb.DuckDBPyConnection, directory: str, max_age: float, wait: float
) -> Snapshot:
    """A copy of the database at most `max_age` seconds old, or after `wait` seconds the
    newest there is (a read function for the store)."""
    asked = time.monotonic()
    deadline = asked + wait
    root = Path(directory)
    while True:
        with _state.lock:
            if not _state.looked_on_disk:
                _state.looked_on_disk = True
                _state.current = _newest_on_disk(root)
            current = _state.current
            if current is not None and asked - _state.made_at <= max_age:
                return current
            if _state.building is None:
                _state.building = threading.Event()
                _state.cursor = conn.cursor()
                _state.failure = None
                threading.Thread(
                    target=_build_in_background,
                    args=(_state.cursor, _catalog(conn), root, _state.building),
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
    cursor: duckdb.DuckDBPyConnection, catalog: str, root: Path, done: threading.Event
) -> None:
    try:
        started = time.monotonic()
        snapshot = make_snapshot(cursor, catalog, root)
    except Exception as exc:
        with _state.lock:
            _state.failure = f"{type(exc).__name__}: {exc}"
    else:
        with _state.lock:
            if _state.current is not None:
                _state.superseded.append((_state.current.path, time.monotonic()))
            _state.current, _state.made_at = snapshot, started
            _delete_superseded(time.monotonic())
    finally:
        cursor.close()
        with _state.lock:
            _state.building = _state.cursor = None
        done.set()


def stop(timeout: float = 30) -> None:
    """Interrupt a copy being made and wait for it to end (before the database closes)."""
    with _state.lock:
        cursor, building = _state.cursor, _state.building
    if cursor is None or building is None:
        return
    with contextlib.suppress(duckdb.Error):
        cursor.interrupt()
    building.wait(timeout)


def _delete_superseded(now: float) -> None:
    keep = []
    for path, since in _state.superseded:
        if now - since >= KEEP_SUPERSEDED_SECONDS:
            Path(path).unlink(missing_ok=True)
        else:
            keep.append((path, since))
    _state.superseded = keep


def _newest_on_disk(root: Path) -> Snapshot | None:
    """The newest complete copy a previous run left (served, stale, while a fresh one is
    made); older ones are deleted later like any superseded copy."""
    found = []
    for path in root.glob(f"{PREFIX}*{SUFFIX}"):
        try:
            as_of = datetime.strptime(path.name[len(PREFIX) : -len(SUFFIX)], _STAMP)
        except ValueError:
            continue
        found.append((as_of, str(path)))
    found.sort()
    for _, path in found[:-1]:
        _state.superseded.append((path, -float("inf")))
    return Snapshot(found[-1][1], found[-1][0]) if found else None


def make_snapshot(conn: duckdb.DuckDBPyConnection, catalog: str, root: Path) -> Snapshot:
    """Copy every table of `catalog` into a new DuckDB file under `root`, from one read
    transaction (`conn`: a cursor of its own, not in a transaction)."""
    root.mkdir(parents=True, exist_ok=True)
    for leftover in root.glob(_PARTIAL + "*"):  # from a copy cut short by a crash
        leftover.unlink(missing_ok=True)
    as_of = utcnow()
    name = f"{PREFIX}{as_of.strftime(_STAMP)}{SUFFIX}"
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
                left_out = LEFT_OUT.get(table)
                columns = f"* EXCLUDE ({', '.join(left_out)})" if left_out else "*"
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
