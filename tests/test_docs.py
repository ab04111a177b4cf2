"""The documentation site: it builds with warnings as errors (a broken link, image or API
reference fails), every command has a page with its figures, the API reference covers every name
the Python examples import, and the README links every command page and shows the headline figure
near its top."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rnn_timescales.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# commands that draw no figure of their own (their pages say so and point to the pages that do)
NO_FIGURES = {"evaluate", "import-reference", "sweep", "list"}


def nav_pages() -> list[str]:
    def walk(items):
        for item in items:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            if isinstance(value, list):
                yield from walk(value)
            else:
                yield value

    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    return list(walk(config["nav"]))


def commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return list(sub.choices)


def test_every_command_has_a_page_in_the_site_with_its_figures():
    pages = nav_pages()
    for command in commands():
        page = f"commands/{command}.md"
        assert page in pages, f"{page} is not in mkdocs.yml's nav"
        text = (DOCS / page).read_text()
        assert f"rnn-timescales {command}" in text
        if command not in NO_FIGURES:
            figures = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text)
            assert figures, f"{page} shows no figure"
            for fig in figures:
                assert (DOCS / "commands" / fig).resolve().is_file(), fig
                assert (DOCS / "commands" / fig).stat().st_size < 150_000, f"{fig} is not small"


def test_the_readme_is_the_front_page():
    readme = (ROOT / "README.md").read_text()
    first = readme.split("\n## ")[0]  # before the first section: the headline figure
    # the headline figure: the reproduction's timescales against N, drawn from results/k24
    assert re.search(r"!\[[^\]]*\]\(docs/figures/k24/parity_timescales_vs_n\.png\)", first)
    assert (DOCS / "figures" / "k24" / "parity_timescales_vs_n.png").is_file()
    for command in commands():
        assert f"](docs/commands/{command}.md)" in readme, f"the README does not link {command}'s page"
    for link in re.findall(r"\]\(((?:docs/)?[^)#:]+?\.(?:md|png|ipynb|cff))(?:#[^)]*)?\)", readme):
        assert (ROOT / link).is_file(), f"README links {link}, which does not exist"
    assert len(readme.splitlines()) < 200  # a front page, not the manual


def test_the_api_reference_covers_every_name_the_examples_import():
    api = (DOCS / "api.md").read_text()
    documented = set(re.findall(r"^::: ([\w.]+)", api, flags=re.M))
    examples = "\n".join(re.findall(r"```python\n(.*?)```", (DOCS / "getting-started.md").read_text(), flags=re.S))
    notebook = (DOCS / "tutorials" / "first_hour.ipynb").read_text()
    imported = set()
    for module, names in re.findall(r"from (rnn_timescales[\w.]*) import ([\w, ]+)", examples + notebook):
        for name in (n.strip() for n in names.split(",")):
            if name and name[0].isalpha() and name != "plotting":
                imported.add(f"{module}.{name}")
    missing = sorted(n for n in imported if n not in documented and n.rsplit(".", 1)[0] not in documented)
    assert not missing, f"not in docs/api.md: {missing}"


@pytest.mark.slow
def test_the_site_builds_with_warnings_as_errors(tmp_path):
    pytest.importorskip("mkdocs", reason="the documentation tools are in the dev extras: pip install -e '.[dev]'")
    pytest.importorskip("mkdocstrings", reason="the documentation tools are in the dev extras")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    site = tmp_path / "site"
    for command in commands():
        assert (site / "commands" / command / "index.html").is_file()
    api = (site / "api" / "index.html").read_text()
    for name in ("build_config", "analyze_checkpoint", "estimate_timescales", "analyze_slow_points", "write_report"):
        assert f'id="rnn_timescales.' in api and name in api
    for notebook in ("first_hour", "your_recording"):  # rendered as pages with their outputs, and offered
        page = (site / "tutorials" / notebook / "index.html").read_text()
        assert page.count("data:image/png;base64") >= 1 and "jp-OutputArea" in page, notebook
        assert (site / "tutorials" / notebook / f"{notebook}.ipynb").is_file()
    assert_the_api_reference_renders(site)


def assert_the_api_reference_renders(site: Path) -> None:
    """The docstrings' Sphinx roles and double backticks are converted (docs/griffe_docstrings.py):
    none is left as text; roles to documented objects are links; long signatures are wrapped; the
    science and timescales pages carry typeset equations (arithmatex markup for MathJax)."""
    api = (site / "api" / "index.html").read_text()
    for literal in (":func:", ":class:", ":mod:", ":meth:", ":data:", ":attr:", "``"):
        assert literal not in api, f"a literal {literal} in the API reference"
    assert re.search(r'<a class="autorefs autorefs-internal"[^>]*href="#rnn_timescales\.analysis\.fit_timescales"', api)
    assert "Returns: DataFrame with one row per unit" in api  # a prose Returns section, not a table of lines
    signatures = [re.sub(r"<[^>]+>", "", s) for s in re.findall(r'<div class="doc-signature[^"]*"[^>]*>(.*?)</div>', api,
                                                                 flags=re.S)]
    assert signatures and max(len(line) for s in signatures for line in s.splitlines()) <= 100
    for page in ("science", "timescales"):
        text = (site / page / "index.html").read_text()
        assert text.count('class="arithmatex"') >= 4, page
        assert "\\hat\\tau" in text or "\\tau" in text
    assert "mathjax" in (site / "science" / "index.html").read_text().lower()


def test_the_errors_page_is_one_table_per_command_with_what_to_do():
    """docs/errors.md: a section per command (a command of --help), each a table of
    ``| `id` | bad input | message | what to do |`` rows, every row with advice."""
    text = (DOCS / "errors.md").read_text()
    body = text.split("## How this page is organised")[1].split("## Divergence")[0]
    sections = re.split(r"^## ", body, flags=re.M)[1:]
    known = set(commands())
    seen = set()
    for section in sections:
        title, _, content = section.partition("\n")
        rows = [line for line in content.splitlines() if line.startswith("| `")]
        assert rows, f"section {title!r} has no rows"
        if title != "Any command":
            command = title.strip("`")
            assert command.split()[0] in known, f"section {title!r} is not a command"
            seen.add(command.split()[0])
        assert "| id | bad input | message | what to do |" in content, title
        for row in rows:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
            assert len(cells) == 4, f"{title}: a row with {len(cells)} cells: {row[:80]}"
            assert re.fullmatch(r"`[\w-]+`", cells[0]) and cells[2] and cells[3] not in ("", "?"), row[:80]
            assert not cells[2].startswith("`rnn-timescales"), f"a command line in the message column: {row[:80]}"
    assert {"train", "analyze", "sweep", "report", "figures", "timescales"} <= seen
