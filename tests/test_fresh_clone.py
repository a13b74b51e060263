"""Everything the repository cites resolves inside a fresh clone of it.

The product was specified and studied with documents that live beside the repository, not in it
(a specification, field notes on durable_rules and on workbooks, the source article, a style
guide). A clone has none of them: the specification is docs/spec.md, the field notes are
docs/engine.md and docs/workbooks.md. These tests read every file of the clone (code, tests,
docs, README, CI) and fail listing, file and line, each place that

* names a file a clone does not have (the sibling folder, the notes, the experiments, the
  article's file, SPEC.md);
* cites a section that does not exist: "SPEC §5.2" must be a heading of docs/spec.md,
  "docs/engine.md §5" and "docs/workbooks.md §4a" headings of those documents;
* mentions a path of the repository (`engine/isolation.py`, `docs/limits.md`, …) that is not
  there — in documents, and in Python comments and docstrings (a test's made-up file tree is
  data, not a reference) — or links a file from Markdown that is not there.
"""
from __future__ import annotations

import ast
import io
import os
import re
import subprocess
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().relative_to(ROOT).as_posix()

# What a fresh clone does not have.
OUTSIDE = [
    ("../shared", "the folder beside the clone"),
    ("/work/shared", "the folder beside the clone"),
    ("shared/seed", "the source article's file: name the article by its title"),
    ("seed/000_", "the source article's file: name the article by its title"),
    ("SPEC.md", "the specification is docs/spec.md, cited as SPEC §N"),
    ("STYLE.md", "the style guide is not in the repository"),
    ("notes §", "the study's notes: cite docs/engine.md §N or docs/workbooks.md §N"),
    ("notes/durable-rules", "the study's notes: cite docs/engine.md §N"),
    ("notes/excel", "the study's notes: cite docs/workbooks.md §N"),
    ("durable-rules-experiments", "the study's experiments are not in the repository"),
    ("excel-experiments", "the study's experiments are not in the repository"),
]
# The one legitimate mention: the workbook corpus is read from beside the clone when present
# (CI lays it out so), and the test says it is skipped otherwise.
ALLOWED = {("tests/test_import_corpus.py", "../shared")}

DOCS = {"spec": "docs/spec.md", "engine": "docs/engine.md", "workbooks": "docs/workbooks.md"}
_SECTION = r"§\s?([0-9]+[a-z]?(?:\.[0-9]+)*|[a-z])\b"
_CITATION = re.compile(r"(SPEC|(?:docs/)?(?:spec|engine|workbooks)\.md\)?)\s?(" + _SECTION
                       + r"(?:\s?(?:,|–|-|and|or)\s?" + _SECTION + r")*)")
_ANY_SECTION = re.compile(_SECTION)
_HEADING = re.compile(r"^#{1,4}\s+(?:§\s?)?([0-9]+[a-z]?(?:\.[0-9]+)*|[a-z])[.\s]", re.M)

# Paths of the repository mentioned in text: a top-level folder of ours, then a file name.
_TOP = ("importers", "engine", "rules", "evaluator", "reports", "xietong", "tests", "bench",
        "docs")
_PATH = re.compile(r"(?<![\w./-])((?:" + "|".join(_TOP) + r")/[\w/.-]*\w\.(?:py|md|toml|png))\b")
_MD_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


def _files() -> list[str]:
    """The clone's files: tracked or new (not ignored) when this is a git checkout."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
        names = out.splitlines()
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", ".hypothesis", ".pytest_cache", "__pycache__", "demo-out"}
        names = [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*")
                 if p.is_file() and not skip & set(p.relative_to(ROOT).parts)
                 and not any(part.endswith(".egg-info") for part in p.parts)]
    return sorted(n for n in names if (ROOT / n).is_file())


def _texts() -> dict[str, str]:
    texts = {}
    for name in _files():
        if name == HERE:
            continue
        try:
            texts[name] = (ROOT / name).read_text("utf-8")
        except UnicodeDecodeError:
            continue                                # images and other binary files
    return texts


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _prose(name: str, text: str) -> list[tuple[int, str]]:
    """(first line, text) of what people read as prose: a Python file's comments and docstrings,
    any other file whole."""
    if not name.endswith(".py"):
        return [(1, text)]
    pieces = [(tok.start[0], tok.string) for tok in
              tokenize.generate_tokens(io.StringIO(text).readline) if tok.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                pieces.append((body[0].lineno, body[0].value.value))
    return pieces


def _sections(doc: str) -> set[str]:
    return set(_HEADING.findall((ROOT / doc).read_text("utf-8")))


def test_nothing_points_outside_the_clone():
    found = []
    for name, text in _texts().items():
        for needle, why in OUTSIDE:
            if (name, needle) in ALLOWED:
                continue
            lines = sorted({_line(text, m.start()) for m in re.finditer(re.escape(needle), text)})
            if lines:
                found.append(f"{name} line {', '.join(map(str, lines))}: {needle!r} — {why}")
    assert not found, "references to files a fresh clone does not have:\n" + "\n".join(found)


def test_cited_sections_exist():
    sections = {key: _sections(doc) for key, doc in DOCS.items()}
    assert {"1", "5.2", "9", "10.3", "12"} <= sections["spec"]
    assert {"1", "11", "a", "g"} <= sections["engine"]
    assert {"1", "4", "4a", "4c", "5"} <= sections["workbooks"]
    missing = []
    for name, text in _texts().items():
        for m in _CITATION.finditer(text):
            doc = m.group(1).rstrip(")").removeprefix("docs/").removesuffix(".md").lower()
            for section in _ANY_SECTION.findall(m.group(2)):
                if section not in sections[doc]:
                    missing.append(f"{name}:{_line(text, m.start())}: {m.group(0)!r} — "
                                   f"{DOCS[doc]} has no section §{section}")
    assert not missing, "citations of sections that do not exist:\n" + "\n".join(missing)


def test_mentioned_paths_and_markdown_links_exist():
    files = set(_files())
    folders = {str(Path(f).parent) for f in files}
    missing = []
    for name, text in _texts().items():
        for first, prose in _prose(name, text):
            for m in _PATH.finditer(prose):
                if m.group(1) not in files:
                    missing.append(f"{name}:{first + _line(prose, m.start()) - 1}: {m.group(1)}")
        if name.endswith(".md"):
            for m in _MD_LINK.finditer(text):
                target = m.group(1)
                if re.match(r"[a-z]+:", target):
                    continue                        # https:, mailto:
                path = os.path.normpath(os.path.join(os.path.dirname(name), target))
                if path not in files and path not in folders:
                    missing.append(f"{name}:{_line(text, m.start())}: link to {target}")
    assert not missing, "paths that are not in the repository:\n" + "\n".join(missing)
