"""The dashboard's pictures in the docs (`make screenshots`, tests/screenshots.py): each one
shown in a doc, each doc's picture there, and all of them small enough to keep in git."""

from __future__ import annotations

import re

from PIL import Image

from tests.conftest import REPO
from tests.screenshots import MAX_BYTES, VIEWPORT

DOCS = REPO / "docs"
IMAGES = DOCS / "images"
PICTURE = re.compile(r"!\[([^\]]*)\]\((images/[^)\s]+)\)")


def shown() -> dict[str, list[str]]:
    """Each picture the docs show -> its alt texts."""
    found: dict[str, list[str]] = {}
    for doc in DOCS.glob("*.md"):
        for alt, path in PICTURE.findall(doc.read_text()):
            found.setdefault(path.removeprefix("images/"), []).append(alt)
    return found


def test_every_picture_is_shown_with_words_and_every_shown_picture_exists():
    pictures = {p.name for p in IMAGES.glob("*.png")}
    assert len(pictures) >= 10
    assert set(shown()) == pictures
    assert all(alt.strip() for alts in shown().values() for alt in alts)


def test_the_pictures_are_small_palette_pngs_of_the_screen():
    sizes = [p.stat().st_size for p in IMAGES.glob("*.png")]
    assert max(sizes) <= MAX_BYTES and sum(sizes) <= 3_000_000
    for path in IMAGES.glob("*.png"):
        with Image.open(path) as image:
            assert image.format == "PNG" and image.mode == "P", path.name
            assert image.size == (VIEWPORT["width"], VIEWPORT["height"]), path.name
