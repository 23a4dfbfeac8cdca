"""Meta-tests: the docs say what the code does. Every environment variable the settings read,
every route of the app, every `tinkertank` command is documented, and every relative link
in the README and docs/ leads to a file (and heading) that exists."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
from starlette.routing import Route

from cli.main import build_parser
from core import settings
from core.catalog_file import load_catalog
from sidecar.app import create_app
from tests.conftest import REPO

README = (REPO / "README.md").read_text()
DOCS = REPO / "docs"
OPERATIONS = (DOCS / "operations.md").read_text()
HTTP_API = (DOCS / "http-api.md").read_text()
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]


def _environment_variables() -> set[str]:
    source = (REPO / "core" / "settings.py").read_text()
    return set(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', source)) - {"UTC"}


def app_routes() -> list[tuple[str, str]]:
    """(method, path) of every route of the sidecar app, without HEAD (Starlette adds it to
    every GET)."""
    config = settings.load_settings(
        {"STRIPE_WEBHOOK_SECRET": "whsec_docs", "ADMIN_TOKEN": "docs-admin-token-0123"}
    )
    app = create_app(config, load_catalog(REPO / "data" / "catalog.toml"), database=None)
    found = []
    for route in app.routes:
        assert isinstance(route, Route), route
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append((method, route.path))
    return found


def _subcommands(parser: argparse.ArgumentParser) -> list[str]:
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(commands.choices)


def test_every_environment_variable_the_settings_read_is_in_the_operations_guide():
    names = _environment_variables()

    assert names, "no variables found: the pattern no longer matches settings.py"
    undocumented = sorted(name for name in names if f"`{name}`" not in OPERATIONS)
    assert undocumented == []


def test_every_route_of_the_app_is_in_the_http_api_guide():
    routes = app_routes()

    assert len(routes) > 30, "too few routes found: is the app still built the same way?"
    undocumented = sorted(
        f"{method} {path}" for method, path in routes if f"{method} {path}" not in HTTP_API
    )
    assert undocumented == []


def test_every_tinkertank_command_is_documented():
    documented = "\n".join(page.read_text() for page in PAGES)
    commands = _subcommands(build_parser())

    assert "serve" in commands
    assert [c for c in commands if f"`tinkertank {c}" not in documented] == []


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    anchors, fenced = set(), False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#+ (.*)", line)):
            anchors.add(_anchor(match[1]))
    return anchors


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page: Path):
    broken = []
    for link in _links(page):
        if re.match(r"[a-z]+:", link):  # http:, https:, mailto:
            continue
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        missing_heading = anchor and target.suffix == ".md" and anchor not in _anchors(target)
        if not target.exists() or missing_heading:
            broken.append(link)
    assert broken == []


def test_the_readme_gives_the_two_setup_commands_and_the_dated_run():
    assert "make run" in README
    assert "make test" in README
    assert "make test-as-if DATE=" in README


def test_the_readme_is_a_front_door():
    assert len(README.splitlines()) <= 250
    for page in ("operations", "http-api", "architecture", "security", "benchmarks"):
        assert f"(docs/{page}.md)" in README


def test_no_page_cites_a_spec_nobody_has():
    sources = [*PAGES, *REPO.glob("[a-z]*/**/*.py")]
    citing = [
        str(path.relative_to(REPO))
        for path in sources
        if ".venv" not in path.parts and re.search(r"SPEC\s*(§|\")", path.read_text())
    ]
    assert citing == []


def test_settings_module_reads_the_documented_variables():
    for name in ("DATABASE_URL", "STRIPE_WEBHOOK_SECRET", "ADMIN_TOKEN", "TIMEZONE"):
        assert name in _environment_variables()
    assert settings.DEFAULT_DATABASE_URL == "duckdb:///data/tinkertank.duckdb"
