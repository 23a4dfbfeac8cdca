"""`core/` stays pure: outside `core/store/` it imports no web, database or HTTP framework."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import REPO

FRAMEWORKS = {"duckdb", "starlette", "uvicorn", "requests", "streamlit", "pandas", "psycopg"}
PURE_MODULES = sorted(
    p for p in (REPO / "core").rglob("*.py") if "store" not in p.relative_to(REPO / "core").parts
)


@pytest.mark.parametrize("path", PURE_MODULES, ids=lambda p: str(p.relative_to(REPO)))
def test_core_module_imports_no_framework(path):
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])

    assert imported & FRAMEWORKS == set()
