"""The documentation: what the code cites is in the repository (every `docs/spec.md §N` names a
section of the spec), and the docs site builds strictly."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CITATION = re.compile(r"docs/spec\.md §(\d+[a-z]?)")


def _tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / n for n in names if n.endswith((".py", ".sql", ".yml", ".yaml", ".md"))]


def _spec_sections() -> set[str]:
    headings = re.findall(r"^#{2,3} (\d+[a-z]?)\. ", (ROOT / "docs/spec.md").read_text(), re.M)
    return set(headings)


def test_the_spec_has_the_sections_the_code_cites() -> None:
    sections = _spec_sections()
    assert {"1", "1a", "1b", "1c", "2", "3", "4"} <= sections
    cited: dict[str, set[str]] = {}
    for path in _tracked_text_files():
        if path.is_file():
            for section in CITATION.findall(path.read_text(errors="replace")):
                cited.setdefault(section, set()).add(str(path.relative_to(ROOT)))
    assert cited, "nothing cites docs/spec.md"
    missing = {s: sorted(files) for s, files in cited.items() if s not in sections}
    assert not missing, f"cited sections missing from docs/spec.md: {missing}"


def test_no_citation_points_outside_the_repository() -> None:
    outside = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _tracked_text_files()
        if path.is_file() and path.name != "test_repository_docs.py"
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if re.search(r"\bSPEC(\.md)? ?§|shared/SPEC", line)
    ]
    assert not outside, "cites a spec outside the repository: " + ", ".join(outside)


def _build_site(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )


def test_the_docs_site_builds_strictly_with_every_page_in_it(tmp_path: Path) -> None:
    built = _build_site(ROOT, tmp_path / "site")
    assert built.returncode == 0, built.stderr[-2000:]
    pages = {p.stem for p in (ROOT / "docs").glob("*.md")}
    assert {"index", "spec", "loaders", "warehouse", "data-quality", "metrics", "reports"} <= pages
    assert {"operations", "privacy", "production", "scaling", "benchmarks"} <= pages
    for page in pages - {"index"}:
        assert (tmp_path / "site" / page / "index.html").is_file(), page
    home = (tmp_path / "site" / "index.html").read_text()
    assert "Quickstart" in home  # the README's opening, included
    assert "WARNING" not in built.stderr


def test_a_broken_link_fails_the_docs_build(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy)
    shutil.copy(ROOT / "README.md", copy)
    page = copy / "docs" / "metrics.md"
    page.write_text(page.read_text() + "\nSee [the missing page](missing.md).\n")
    built = _build_site(copy, tmp_path / "site")
    assert built.returncode != 0
    assert "missing.md" in built.stderr
