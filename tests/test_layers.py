"""The house's direction: each folder imports only from the folders below it, and `core/`
imports no I/O library at all.

    cli → sidecar → runtime → fulfilment, senders → store → core
    cli → dashboard → client → core

A folder may import any folder below it on its own line (the sidecar reads the store
directly); never one above it or beside it. docs/architecture.md draws the same picture.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

# folder -> the folders it may import from
BELOW = {
    "core": set(),
    "store": {"core"},
    "fulfilment": {"store", "core"},
    "senders": {"store", "core"},
    "runtime": {"fulfilment", "senders", "store", "core"},
    "sidecar": {"runtime", "fulfilment", "senders", "store", "core"},
    "client": {"core"},
    "dashboard": {"client", "core"},
    "cli": {"sidecar", "runtime", "fulfilment", "senders", "store", "core", "client", "dashboard"},
}
# What `core` must never import: the web, the database, HTTP, dataframes, Stripe's SDK, and
# the standard library's own I/O (sockets, processes, HTTP, SMTP).
IO_LIBRARIES = {
    "duckdb", "psycopg", "starlette", "uvicorn", "requests", "httpx", "urllib3", "streamlit",
    "pandas", "pyarrow", "stripe", "aiosmtpd", "socket", "subprocess", "smtplib",
    "http.client", "http.server", "urllib.request", "sqlite3", "asyncio", "threading",
    "multiprocessing",
}  # fmt: skip


def _modules(folder: str) -> list[Path]:
    return sorted(p for p in (REPO / folder).rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


ALL = [(folder, path) for folder in BELOW for path in _modules(folder)]


def test_every_folder_of_the_house_is_named_here():
    packages = {
        p.parent.name for p in REPO.glob("*/__init__.py") if p.parent.name not in {"tests", "bench"}
    }
    assert packages == set(BELOW)


@pytest.mark.parametrize(("folder", "path"), ALL, ids=lambda v: str(getattr(v, "name", v)))
def test_a_module_imports_only_from_folders_below_its_own(folder: str, path: Path):
    upward = sorted(
        name
        for name in _imports(path)
        if name.split(".")[0] in BELOW
        and name.split(".")[0] != folder
        and name.split(".")[0] not in BELOW[folder]
    )
    assert upward == [], f"{path.relative_to(REPO)} imports against the direction"


@pytest.mark.parametrize("path", _modules("core"), ids=lambda p: str(p.relative_to(REPO)))
def test_core_imports_no_io_library(path: Path):
    used = {
        library
        for name in _imports(path)
        for library in IO_LIBRARIES
        if name == library or name.startswith(library + ".")
    }

    assert used == set()


# SQL that writes: each table has one writer, a module of `store/` (docs/architecture.md).
WRITES = ("INSERT INTO", "UPDATE ", "DELETE FROM")
OUTSIDE_STORE = [
    path for folder in BELOW if folder != "store" for path in _modules(folder)
]  # fmt: skip


def _writing_strings(path: Path) -> list[str]:
    """String literals (each part of an implicit concatenation, f-strings' text too) that
    hold SQL writing a table."""
    return sorted(
        node.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and any(write in node.value for write in WRITES)
    )  # fmt: skip


@pytest.mark.parametrize("path", OUTSIDE_STORE, ids=lambda p: str(p.relative_to(REPO)))
def test_only_the_store_writes_tables(path: Path):
    assert _writing_strings(path) == [], f"{path.relative_to(REPO)} writes a table itself"


def test_the_write_check_sees_sql():
    """The check above would notice a write (its scan is not vacuous)."""
    assert _writing_strings(REPO / "store" / "holds.py")
