"""The README and docs/ are read on GitHub and in a checkout: every relative link goes to a file
that exists, and every #anchor to a heading that exists in it (as GitHub makes anchors)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's anchor for each heading outside code blocks: lower case, punctuation dropped,
    spaces as hyphens; a repeated heading gets -1, -2 ..."""
    found, fenced = set(), False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if fenced or not line.startswith("#"):
            continue
        slug = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        n, unique = 0, slug
        while unique in found:
            n += 1
            unique = f"{slug}-{n}"
        found.add(unique)
    return found


def links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return [target for target in LINK.findall(text)
            if not re.match(r"[a-z]+:", target)]  # http:, https:, mailto:


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_leads_somewhere(page):
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        where = (page.parent / path).resolve() if path else page
        if not where.exists():
            broken.append(f"{target}: no such file")
        elif anchor and where.suffix == ".md" and anchor not in anchors(where):
            broken.append(f"{target}: no such heading")
    assert broken == []


def test_the_readme_leads_to_every_page_of_the_docs():
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in links(ROOT / "README.md")}
    assert set((ROOT / "docs").glob("*.md")) <= linked


def test_the_readme_stays_a_newcomers_page():
    """What it is, the two commands, a picture, the features, and where to read on."""
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme and "](docs/images/" in readme
    assert len(readme.splitlines()) < 120


def test_the_readme_and_the_webhook_page_name_every_event():
    """The event lists a receiver's author reads are the events Guestgate sends."""
    from portal.outbox import EVENTS, TEST_EVENT

    readme = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"`((?:guest|link|invitation|registration|room|webhook)\.[a-z_]+)`",
                            readme.split("## API and webhooks")[1].split("\n## ")[0]))
    assert listed == {*EVENTS, TEST_EVENT}
    table = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|",
                           (ROOT / "docs" / "webhooks.md").read_text(), re.M))
    assert table == {*EVENTS, TEST_EVENT}
