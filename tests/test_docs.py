"""The front page and the documentation site's sources: the README starts with the two commands
(the main job, then the tests), stays a front page, no relative link in it or under docs/ points
at a file that does not exist, every page is in the navigation, and the API reference sees every
top-level name. The site itself is built by ``mkdocs build --strict`` in CI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
SETUP = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && "

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
# [text](target) and ![alt](target), with an optional "title"; reference-style definitions too
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
PROCESS_WORDS = re.compile(r"\bissue\s+#?\d+|\bthis session\b|acceptance run|\blent to\b|issue notes|/work/", re.I)


def _markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def _first_fenced_lines(text: str, n: int) -> list[str]:
    """The first ``n`` lines inside the first fenced block, and that the block comes first."""
    match = FENCE.search(text)
    assert match, "README.md has no fenced code block"
    before = text[: match.start()]
    assert not [ln for ln in before.splitlines() if ln.strip() and not ln.startswith("# ")], (
        "README.md must start with its title and then the two commands, got text before them:\n" + before
    )
    lines = match.group(0).splitlines()[1:-1]
    return lines[:n]


def relative_links(text: str) -> list[str]:
    """Targets of the Markdown links and images in ``text`` that point at a local file (code
    blocks and code spans left out; URLs, mail addresses and in-page anchors skipped)."""
    text = INLINE_CODE.sub("", FENCE.sub("", text))
    targets = LINK.findall(text) + REF_DEF.findall(text)
    local = []
    for target in targets:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith(("#", "//")):
            continue
        local.append(target.split("#", 1)[0].split("?", 1)[0])
    return [t for t in local if t]


def test_readme_starts_with_the_main_job_and_the_tests():
    main_job, tests = _first_fenced_lines(README.read_text(encoding="utf-8"), 2)
    assert main_job.startswith(SETUP + ".venv/bin/edgespace search "), main_job
    assert "--report " in main_job, "the main job writes its report"
    assert tests.startswith(SETUP), tests
    assert tests.endswith("python -m pytest -q"), tests
    assert tests == SETUP + ".venv/bin/python -m pytest -q"


def test_readme_is_a_front_page():
    n_lines = len(README.read_text(encoding="utf-8").splitlines())
    assert n_lines <= 300, f"README.md has {n_lines} lines; the detail belongs in docs/"


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_files(path):
    missing = [t for t in relative_links(path.read_text(encoding="utf-8")) if not (path.parent / t).is_file()]
    assert not missing, f"{path.relative_to(ROOT)}: links to missing files: {missing}"


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_speak_of_the_project(path):
    hits = [m.group(0) for m in PROCESS_WORDS.finditer(path.read_text(encoding="utf-8"))]
    assert not hits, f"{path.relative_to(ROOT)}: {hits}"


def _nav_pages(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [p for v in node.values() for p in _nav_pages(v)]
    if isinstance(node, list):
        return [p for v in node for p in _nav_pages(v)]
    return []


def test_every_page_is_in_the_navigation():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    nav = _nav_pages(config["nav"])
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    assert sorted(set(nav)) == pages
    assert len(nav) == len(set(nav)), "a page is listed twice"


def test_link_finder_sees_what_it_must():
    # the checker itself: a broken link is found, code and URLs are not taken for links
    text = (
        "[a](docs/a.md) ![pic](docs/p.png 'x') [b](docs/b.md#part) [web](https://x.org/y.md) [top](#here)\n"
        '[c](c.md "title")\n`[not](code.md)`\n```\n[nor](block.md)\n```\n[ref]: docs/r.md\n'
    )
    assert relative_links(text) == ["docs/a.md", "docs/p.png", "docs/b.md", "c.md", "docs/r.md"]


def test_api_reference_sees_every_top_level_name():
    # The reference reads the source without importing it; the top level's lazily imported names
    # reach it through the documentation build's griffe extension (tools/griffe_lazy.py, named in
    # mkdocs.yml). Every name in __all__ must be there and lead to its definition.
    griffe = pytest.importorskip("griffe", reason="the docs extra is not installed (pip install -e '.[docs]')")
    import importlib.util

    import edgespace

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    (ext_ref,) = config["plugins"][1]["mkdocstrings"]["handlers"]["python"]["options"]["extensions"]
    path, _, class_name = ext_ref.partition(":")
    spec = importlib.util.spec_from_file_location("griffe_lazy", ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    loader = griffe.GriffeLoader(
        extensions=griffe.load_extensions(getattr(module, class_name)()), search_paths=[str(ROOT)]
    )
    package = loader.load("edgespace")
    loader.resolve_aliases(external=False, implicit=False)
    missing = [n for n in edgespace.__all__ if n not in package.members]
    assert not missing, f"not seen by the API reference: {missing}"
    unresolved = [n for n in edgespace.__all__ if package.members[n].is_alias and not package.members[n].resolved]
    assert not unresolved, f"names the API reference cannot follow to their definition: {unresolved}"
    assert all(
        package.members[n].target_path.startswith("edgespace.")
        for n in edgespace.__all__
        if package.members[n].is_alias
    )
