"""The documentation is right: the pages build with warnings as errors, every link of the README and of the pages
leads where it says, the README stays a front door, and every Python example runs.

The pages are the MyST Markdown files of docs/, built by Sphinx as `make docs` builds them (into a temporary folder,
once for the module). A link is checked by its form where it leaves the repository (CI has no network); a relative
one must name a file that exists (from a page, one inside docs/, where Sphinx finds it) and an anchor a heading of
that file, spelled as GitHub and MyST spell it.

The examples are the ```python and ```ipython blocks of the README and of each page. Each file's blocks run in order
in one real IPython ``InteractiveShell`` of a fresh interpreter, with ``%load_ext seedmagic`` first where the file
shows it; a block passes when it runs without raising, and where a plain ``` block follows it (its output), when the
first line it prints starts as that block's first line does (before any " (", where the details begin). A block
that cannot run in a test is named by a comment before it, <!-- not run by tests/test_docs.py: REASON -->, and one
that needs a notebook's definitions by <!-- set up by tests/test_docs.py: the first N code cells of NOTEBOOK -->.
The shell commands of the pages run in tests/test_readme_routes.py, as the README's do.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = sorted(DOCS.glob("*.md"))
FILES = [README, *PAGES]
README_LINES = 250
# As `make docs` runs it, into a folder of the test's own.
SPHINX_BUILD = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html"]
# The sections the README held before the docs had pages, and the page each one moved to.
PAGES_OF_THE_README = {
    "Reference: %seed, the record, %%seeded, Configuration, Python API, DataLoader workers": "magics",
    "%%seeded --check, --check --trace": "check",
    "%%seeds": "sweeps",
    "%seedpanel": "panel",
    "Testing notebooks, seedmagic verify, --against-saved": "verify",
    "What seedmagic does not pretend": "guarantees",
    "Performance": "performance",
    "Notebooks": "notebooks",
    "Development": "development",
}

FENCE = re.compile(r"^```(\S*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
NOT_RUN = re.compile(r"<!-- not run by tests/test_docs\.py: (.+?) -->\s*$")
SET_UP = re.compile(r"<!-- set up by tests/test_docs\.py: the first (\d+) code cells of (\S+\.ipynb) -->\s*$")
EXAMPLES = {"python", "ipython"}
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
DOC_ROLE = re.compile(r"\{doc\}`(?:[^`<]*<([^>`]+)>|([^`]+))`")
BARE_URL = re.compile(r"(?<![(<\w])https?://[^\s)>`]+")
EXTERNAL = re.compile(r"https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(:\d+)?(/[^\s]*)?")
OUT_PROMPT = re.compile(r"^Out\[\d+\]: ")
SMART_QUOTES = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "--", "\u2014": "---"}
)  # Sphinx's


def prose(text: str) -> str:
    """The text outside fenced blocks and code spans, where links are links."""
    text = FENCE.sub(lambda match: "\n" * match.group(0).count("\n"), text)
    return re.sub(r"``.+?``|`[^`\n]+`", "", text)


def slug(heading: str) -> str:
    """A heading's anchor as GitHub and MyST's default make it: lower case, punctuation dropped, spaces to hyphens."""
    heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings, or of a notebook's Markdown cells' headings."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        text = "\n\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")
    else:
        text = path.read_text()
    text = FENCE.sub("", text)
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, re.MULTILINE):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[str]:
    text = prose(path.read_text())
    found = LINK.findall(text) + [url.rstrip(".,:;") for url in BARE_URL.findall(text)]
    found += [f"{{doc}}{explicit or plain}" for explicit, plain in DOC_ROLE.findall(path.read_text())]
    return found


def link_problem(path: Path, target: str) -> str | None:
    """What is wrong with a link of ``path`` to ``target``, or None."""
    if target.startswith("{doc}"):
        name = target[len("{doc}") :]
        if not any((DOCS / f"{name}{suffix}").is_file() for suffix in (".md", ".ipynb")):
            return f"{{doc}} names no page: {name}"
        return None
    if urlsplit(target).scheme:
        return None if EXTERNAL.fullmatch(target) else "not a well-formed http(s) address"
    file, _, anchor = target.partition("#")
    linked = (path.parent / file) if file else path
    if not linked.exists():
        return f"no such file: {linked.relative_to(ROOT) if linked.is_relative_to(ROOT) else linked}"
    if path.parent == DOCS and not Path(os.path.normpath(DOCS / file)).is_relative_to(DOCS):
        return "a page's link leaves docs/, where Sphinx cannot follow it"
    if anchor and anchor not in anchors(linked):
        return f"no heading of {linked.name} has the anchor #{anchor}"
    return None


@pytest.mark.parametrize("path", FILES, ids=[path.relative_to(ROOT).as_posix() for path in FILES])
def test_every_link_leads_where_it_says(path: Path) -> None:
    problems = [f"{target}: {problem}" for target in links(path) if (problem := link_problem(path, target))]
    assert not problems, "\n".join(problems)


def test_the_link_checker_catches_what_it_should(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# A title\n\n## `%seed --record`, twice\n\n## A title\n")
    (tmp_path / "other.md").write_text("# Other\n")
    assert anchors(page) == {"a-title", "seed---record-twice", "a-title-1"}
    assert link_problem(page, "#seed---record-twice") is None
    assert link_problem(page, "other.md#other") is None
    assert link_problem(page, "#nothing") is not None
    assert link_problem(page, "missing.md") is not None
    assert link_problem(page, "other.md#nothing") is not None
    assert link_problem(page, "https://download.pytorch.org/whl/cpu") is None
    assert link_problem(page, "https://no spaces") is not None
    text = "[a](x.md) ![b](y.png) `[not](a-link.md)` https://example.org/z\n```\n[nor](this.md)\n```\n"
    page.write_text(text)
    assert links(page) == ["x.md", "y.png", "https://example.org/z"]


def test_the_readme_is_a_front_door() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= README_LINES, f"the README has {len(lines)} lines"
    assert lines[0] == "# seedmagic"


@pytest.mark.parametrize("section", PAGES_OF_THE_README, ids=list(PAGES_OF_THE_README.values()))
def test_every_page_the_readme_held_a_section_for_exists_and_is_linked(section: str) -> None:
    page = PAGES_OF_THE_README[section]
    assert (DOCS / f"{page}.md").is_file()
    assert f"(docs/{page}.md)" in README.read_text(), f"the README does not link docs/{page}.md"
    assert f"\n{page}\n" in (DOCS / "index.md").read_text(), f"docs/index.md's table of contents lacks {page}"


def test_the_readme_shows_a_report_of_the_verify_page() -> None:
    """The README's `seedmagic verify` transcript is the page's (tests/test_verify.py checks the page's)."""
    command = "$ seedmagic verify docs/verify-example.ipynb\n"
    readme = README.read_text().split(command, 1)[1].split("```", 1)[0]
    page = (DOCS / "verify.md").read_text().split(command, 1)[1].split("```", 1)[0]
    assert readme == page


# -- the build ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The pages built as `make docs` builds them, into a temporary folder."""
    out = tmp_path_factory.mktemp("docs")
    ran = subprocess.run(
        [*SPHINX_BUILD, "-d", str(out / "doctrees"), str(DOCS), str(out / "html")],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    return ran, out / "html"


def test_the_docs_build_with_warnings_as_errors(built) -> None:
    ran, html = built
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert not ran.stderr.strip(), ran.stderr
    for page in [*PAGES_OF_THE_README.values(), "index"]:
        assert (html / f"{page}.html").is_file()
    notebooks = sorted(path.stem for path in (ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for name in notebooks:
        assert (html / "notebooks" / f"{name}.html").is_file(), f"{name} is not rendered"


def conf():
    spec = importlib.util.spec_from_file_location("docs_conf", DOCS / "conf.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_layout_table_lists_every_module_with_its_first_sentence(built) -> None:
    import ast
    import html as markup

    ran, out = built
    assert ran.returncode == 0, ran.stderr
    page = markup.unescape(re.sub(r"<[^>]+>", "", (out / "development.html").read_text()))
    page = " ".join(page.split()).translate(SMART_QUOTES)
    first_sentence = conf().first_sentence
    modules = sorted((ROOT / "seedmagic").rglob("*.py"))
    assert modules
    for path in modules:
        name = path.relative_to(ROOT).as_posix()
        sentence = first_sentence(ast.get_docstring(ast.parse(path.read_text())) or "").replace("`", "")
        assert f"{name} {sentence}" in page, f"the layout table lacks {name}: {sentence}"


def test_a_first_sentence_is_one_sentence() -> None:
    first_sentence = conf().first_sentence
    assert (
        first_sentence("``%%seeds``: a sweep, e.g. of seeds. And more.\n\nAnother.")
        == "`%%seeds`: a sweep, e.g. of seeds."
    )
    assert first_sentence("What it is:\nover two lines, no stop\n\nMore.") == "What it is: over two lines, no stop"


# -- the examples -----------------------------------------------------------------------------------------------------


class Example(NamedTuple):
    line: int  # of its opening fence
    source: str
    output: str | None  # the first line of the output block after it
    not_run: str | None  # why it cannot run in a test
    set_up: tuple[int, str] | None  # the first N code cells of a notebook to run before it


def examples(path: Path) -> list[Example]:
    text = path.read_text()
    matches = list(FENCE.finditer(text))
    found = []
    for number, match in enumerate(matches):
        if match.group(1) not in EXAMPLES:
            continue
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        after = matches[number + 1] if number + 1 < len(matches) else None
        output = None
        if after is not None and not after.group(1) and not text[match.end() : after.start()].strip():
            output = next((line for line in after.group(2).splitlines() if line.strip()), "")
        not_run = NOT_RUN.match(before)
        set_up = SET_UP.match(before)
        found.append(
            Example(
                text.count("\n", 0, match.start()) + 1,
                match.group(2),
                output,
                not_run.group(1) if not_run else None,
                (int(set_up.group(1)), set_up.group(2)) if set_up else None,
            )
        )
    return found


def test_every_comment_for_this_test_stands_before_an_example() -> None:
    for path in FILES:
        text = path.read_text()
        for comment in re.finditer(r"<!-- (?:not run|set up) by tests/test_docs\.py.*?-->", text):
            rest = text[comment.end() :].lstrip("\n")
            assert re.match(r"```(python|ipython)\n", rest), f"{path.name}: {comment.group(0)} stands before no example"
            assert NOT_RUN.match(comment.group(0)) or SET_UP.match(comment.group(0)), comment.group(0)


def notebook_cells(notebook: str, count: int) -> list[str]:
    cells = json.loads((ROOT / notebook).read_text())["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"][:count]


# Runs in a fresh interpreter: each block in turn in one InteractiveShell, its prints and errors caught apart.
SHELL = textwrap.dedent(
    r"""
    import contextlib, io, json, re, sys
    from IPython.core.interactiveshell import InteractiveShell

    plan = json.load(sys.stdin)
    shell = InteractiveShell.instance()
    results = []

    def run(source):
        caught = io.StringIO()
        with contextlib.redirect_stdout(caught), contextlib.redirect_stderr(caught):
            result = shell.run_cell(source, store_history=True)
        error = result.error_before_exec or result.error_in_exec
        printed = re.sub(r"\x1b\[[0-9;]*m", "", caught.getvalue())
        return printed, None if error is None else f"{type(error).__name__}: {error}"

    if plan["load_ext"]:
        printed, error = run("%load_ext seedmagic")
        results.append({"printed": printed, "error": error})
    for block in plan["blocks"]:
        for cell in block["set_up"]:
            printed, error = run(cell)
            if error:
                break
        else:
            printed, error = run(block["source"])
        results.append({"printed": printed, "error": error})
        if error:
            break
    print(json.dumps(results))
    """
)


def run_examples(path: Path, blocks: list[Example], home: Path) -> list[dict]:
    plan = {
        "load_ext": "%load_ext seedmagic" in path.read_text(),
        "blocks": [
            {"source": block.source, "set_up": notebook_cells(block.set_up[1], block.set_up[0]) if block.set_up else []}
            for block in blocks
        ],
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "SEEDMAGIC_"))}
    env.update(IPYTHONDIR=str(home), MPLBACKEND="Agg")
    ran = subprocess.run(
        [sys.executable, "-c", SHELL],
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
        env=env,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    results = json.loads(ran.stdout.strip().splitlines()[-1])
    return results[1:] if plan["load_ext"] else results


EXAMPLE_FILES = [path for path in FILES if examples(path)]


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[path.relative_to(ROOT).as_posix() for path in EXAMPLE_FILES])
def test_every_example_runs_in_a_real_shell(path: Path, tmp_path: Path) -> None:
    blocks = [block for block in examples(path) if block.not_run is None]
    if not blocks:
        pytest.skip(f"{path.name}: every example is marked as not run")
    results = run_examples(path, blocks, tmp_path)
    for block, result in zip(blocks, results, strict=False):
        where = f"{path.relative_to(ROOT)}, the block at line {block.line}"
        assert result["error"] is None, f"{where} raised {result['error']}\n{result['printed'][-3000:]}"
        if block.output is not None:
            lines = [OUT_PROMPT.sub("", line) for line in result["printed"].splitlines()]
            printed = next((line for line in lines if line.strip()), "")
            shown = block.output.split(" (")[0]
            assert printed.startswith(shown), f"{where} printed {printed!r}; the page shows {block.output!r}"
    assert len(results) == len(blocks)
