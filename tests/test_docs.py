"""Meta-tests: what the code reads from the environment is what the README documents."""

from __future__ import annotations

import re

from core import settings
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def _environment_variables() -> set[str]:
    source = (REPO / "core" / "settings.py").read_text()
    return set(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', source)) - {"UTC"}


def test_every_environment_variable_the_settings_read_is_in_the_readme():
    names = _environment_variables()

    assert names, "no variables found: the pattern no longer matches settings.py"
    undocumented = sorted(name for name in names if f"`{name}`" not in README)
    assert undocumented == []


def test_the_readme_gives_the_two_setup_commands():
    assert "make run" in README
    assert "make test" in README


def test_settings_module_reads_the_spec_variables():
    for name in ("DATABASE_URL", "STRIPE_WEBHOOK_SECRET", "ADMIN_TOKEN", "TIMEZONE"):
        assert name in _environment_variables()
    assert settings.DEFAULT_DATABASE_URL == "duckdb:///data/tinkertank.duckdb"
