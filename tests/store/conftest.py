from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import DatabaseLocation
from core.store.database import Database


@pytest.fixture
def database_path(tmp_path: Path) -> Path:
    return tmp_path / "tinkertank.duckdb"


@pytest.fixture
def database(database_path: Path) -> Iterator[Database]:
    db = Database.open(DatabaseLocation("duckdb", str(database_path)))
    yield db
    db.close()
