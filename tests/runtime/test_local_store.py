"""runtime/local_store.py: the store in the web process, on PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from core.catalog_file import load_catalog
from core.settings import load_settings
from runtime.local_store import LocalStore
from tests.conftest import REPO, sidecar_env


def _die(conn) -> None:
    raise SystemExit("the writer's thread ends here")  # what no job may do: a dead writer


# The writer's thread ends with the exception, as intended.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_stopped_writer_takes_the_store_down_once_so_the_sidecar_stops_serving(
    tmp_path: Path, postgres_url: str
):
    settings = load_settings(sidecar_env(tmp_path, DATABASE_URL=postgres_url))
    store = LocalStore.open(settings, load_catalog(REPO / "data" / "catalog.toml"))
    told: list[str] = []
    down = threading.Event()
    store.on_down = lambda reason: (told.append(reason), down.set())
    try:
        assert store.status().down is None
        store.database.submit(_die)

        assert down.wait(10)
        assert told == [LocalStore.WRITER_STOPPED]
        assert store.down == LocalStore.WRITER_STOPPED
        assert store.status().down == "the database writer thread has stopped"
    finally:
        store.close(10)
