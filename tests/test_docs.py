"""The README is a short front door, every link in the docs leads somewhere, and the tree speaks
only of the product."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
MAX_README_LINES = 250

FENCE = re.compile(r"^```.*?^```", re.S | re.M)  # code blocks: their brackets are not links
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")  # [text](target) and ![alt](target)
URL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # http:, https:, mailto: ...
# How the project was built is no part of the product: no stop or issue numbers, no talk of
# earlier runs or of other work on the build machine.
PROCESS_WORDS = re.compile(
    r"\b(stop|issue) #?\d+\b|previous run|\bthis run\b|shared host|this shared|"
    r"other sessions|other jobs",
    re.I,
)


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """The relative link targets of a Markdown page that name no file or folder in the tree."""
    text = FENCE.sub("", page.read_text())
    broken = []
    for target in LINK.findall(text):
        if URL.match(target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not (path.is_relative_to(root) and path.exists()):
            broken.append(target)
    return broken


def test_every_relative_link_in_the_readme_and_docs_resolves() -> None:
    assert len(PAGES) > 5, PAGES  # the README and the docs pages were found
    broken = {page.name: broken_links(page) for page in PAGES}
    assert not any(broken.values()), broken


def test_the_link_check_finds_a_missing_file_and_a_way_out_of_the_tree(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("# There\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [ok too](there.md#there) [web](https://example.org) [anchor](#top)\n"
        "![gone](img/gone.png) [out](../elsewhere.md)\n"
        "```\n[in a code block](not/a/link.md)\n```\n"
    )
    assert broken_links(page, root=tmp_path) == ["img/gone.png", "../elsewhere.md"]


def test_the_readme_is_a_front_door_that_links_every_docs_page() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines"
    linked = set(LINK.findall(FENCE.sub("", README.read_text())))
    pages = {f"docs/{page.name}" for page in PAGES[1:]}
    assert pages <= linked, sorted(pages - linked)


def test_the_tree_speaks_only_of_the_product() -> None:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    me = Path(__file__).resolve().relative_to(ROOT).as_posix()
    found = []
    for name in listed:
        if name == me or not (ROOT / name).is_file():
            continue
        try:
            text = (ROOT / name).read_text()
        except UnicodeDecodeError:  # images and other binary files
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if PROCESS_WORDS.search(line):
                found.append(f"{name}:{number}: {line.strip()[:100]}")
    assert not found, "\n".join(found)
