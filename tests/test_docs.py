"""Every relative link in README.md and docs/ points at a file that exists,
and every file path the docs name in backquotes under kernel/, harness/,
forth/, tests/ or docs/ exists too (a renamed file leaves no dangling
reference)."""

from __future__ import annotations

import re

import pytest

from harness import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
PATH = re.compile(r"`((?:kernel|harness|forth|tests|docs|linker)/[\w./-]+\.(?:S|inc|py|fth|md|c|ld))`")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc):
    text = doc.read_text()
    bad = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+://|mailto:|#", target):
            continue
        path = (doc.parent / target.split("#")[0]).resolve()
        if not path.exists():
            bad.append(target)
    assert not bad, f"{doc.name}: links to nothing: {bad}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_named_source_files_exist(doc):
    missing = sorted({p for p in PATH.findall(doc.read_text()) if not (ROOT / p).exists()})
    assert not missing, f"{doc.name} names files that do not exist: {missing}"


def test_readme_gives_the_number_of_tests_make_test_runs(request):
    """README says how many tests `make test` runs: checked whenever the
    whole suite is collected (a run of some files only cannot tell)."""
    import re
    from conftest import COLLECTED_KEY
    count, files = request.config.stash.get(COLLECTED_KEY, (0, frozenset()))
    every = {p.name for p in (ROOT / "tests").glob("test_*.py")}
    if not every <= files:
        pytest.skip("only part of the suite collected: the count is checked by make test")
    m = re.search(r"`make test` \(([\d,]+) tests\)", (ROOT / "README.md").read_text())
    assert m, "README no longer says how many tests make test runs"
    assert int(m.group(1).replace(",", "")) == count, \
        f"README says {m.group(1)} tests, make test collects {count}"
