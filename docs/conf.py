"""Sphinx's settings for seedmagic's documentation: MyST Markdown pages, the teaching notebooks from their stored
outputs, and the layout table made from the modules' docstrings.

`make docs` builds it (``sphinx-build -W --keep-going -n docs docs/_build``). The layout table on the development
page is written at build time: the modules of ``seedmagic/`` are read with ``ast``, never imported, so building needs
no framework, and a module added, split or renamed is in the table at the next build.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "seedmagic"
LAYOUT_MARK = "<!-- the layout table: docs/conf.py writes it here, from the modules' docstrings -->"

project = "seedmagic"
author = "seedmagic's authors"
copyright = "seedmagic's authors"

extensions = ["myst_nb"]
html_theme = "furo"
html_title = "seedmagic"

# The notebooks are shown as they are stored, with the outputs nbval compares: building runs no kernel.
nb_execution_mode = "off"
# `#anchor` links to headings, spelled as GitHub spells them, so that a link works on GitHub and in Sphinx alike.
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]
# The record's output (`%seed --record`) holds its JSON under seedmagic's own mime type, for seedmagic to read, and a
# text/plain form beside it, which the page shows.
suppress_warnings = ["mystnb.unknown_mime_type"]

exclude_patterns = ["_build", "**/.ipynb_checkpoints"]


SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)[.!?](?=\s|$)")


def first_sentence(docstring: str) -> str:
    """The first sentence of a docstring's first paragraph, on one line, its reST literals as Markdown's."""
    paragraph = " ".join(docstring.strip().split("\n\n", 1)[0].split())
    end = SENTENCE_END.search(paragraph)
    sentence = paragraph[: end.end()] if end else paragraph
    return sentence.replace("``", "`")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layout_table() -> str:
    """Every module of seedmagic/, by its path, with the first sentence of its docstring, as a Markdown table."""
    rows = ["| module | what it is |", "|--------|------------|"]
    for path in sorted(PACKAGE.rglob("*.py")):
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))) or ""
        line = first_sentence(docstring).replace("|", "\\|") or "(no docstring)"
        rows.append(f"| `{path.relative_to(ROOT).as_posix()}` | {line} |")
    return "\n".join(rows)


def write_layout(app: Any, docname: str, source: list[str]) -> None:
    if LAYOUT_MARK in source[0]:
        source[0] = source[0].replace(LAYOUT_MARK, layout_table())


def setup(app: Any) -> dict[str, Any]:
    app.connect("source-read", write_layout)
    return {"parallel_read_safe": True}
