"""The README is a front door to the docs/ pages, and `make help` lists every target."""

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAGES = sorted((REPO / "docs").glob("*.md"))


def test_the_readme_is_short_and_links_every_docs_page():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)\)", readme))
    assert linked == {page.name for page in PAGES}


def test_every_docs_page_says_what_it_covers_first():
    for page in PAGES:
        title, blank, purpose = page.read_text().splitlines()[:3]
        assert title.startswith("# ") and blank == "" and purpose.strip(), page.name


def test_relative_links_reach_a_file_and_a_heading():
    for document in [REPO / "README.md", *PAGES]:
        text = document.read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'src="([^"]+)"', text):
            if target.startswith(("http://", "https://")):
                continue
            path, _, anchor = target.partition("#")
            destination = (document.parent / path) if path else document
            assert destination.exists(), f"{document.name}: {target}"
            if anchor:
                headings = re.findall(r"^#+ (.+)$", destination.read_text(), flags=re.MULTILINE)
                # GitHub's anchors: lower case, punctuation dropped, spaces to hyphens.
                assert anchor in {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}, f"{document.name}: {target}"


def test_no_issue_numbers_in_the_docs():
    for document in [REPO / "README.md", *PAGES]:
        assert not re.search(r"\bissues? #?\d+", document.read_text(), flags=re.IGNORECASE), document.name


def test_make_help_lists_every_target_once_with_a_line_of_its_own():
    makefile = (REPO / "Makefile").read_text()
    targets = re.findall(r"^([a-z][\w-]*):", makefile, flags=re.MULTILINE)
    phony = set(re.search(r"^\.PHONY: (.+)$", makefile, flags=re.MULTILINE).group(1).split())
    assert set(targets) == phony
    result = subprocess.run(["make", "--no-print-directory", "help"], cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    listed = [line.split(None, 1) for line in result.stdout.splitlines() if line.startswith("  ")]
    assert sorted(name for name, _ in listed) == sorted(targets)
    assert all(description.strip() for _, description in listed)
