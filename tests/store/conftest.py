"""What the store tests share: the bench's million-order business (bench/million.py) at
3,000 orders, built once a run, and a copy of it for each test that changes it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bench import million
from core.settings import DatabaseLocation
from store.database import Database
from tests.conftest import SUITE_NOW

NOW = SUITE_NOW.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)  # naive UTC, as stored


@pytest.fixture(scope="session")
def small_business(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("business") / "business.duckdb"
    million.build(path, 3000, NOW)
    return path


@pytest.fixture
def business_copy(small_business: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "business.duckdb"
    shutil.copyfile(small_business, path)
    database = Database.open(DatabaseLocation("duckdb", str(path)))
    yield database
    database.close()
