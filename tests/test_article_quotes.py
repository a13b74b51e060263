"""Every quotation of the source article in code and documents is verbatim (issue 14, item 7).

A quotation is text in 「…」 in the rule books and the policy (rules/), in docs/ and in the
shipped default policy's comments, and text in quotes after 原文 anywhere there, in the README
and in the other packages' code. Each must be a piece, character for character, of one line of the article — the lines
xietong quotes are kept in tests/article_excerpts.txt, with the article's own punctuation (its
colons, commas and semicolons are ASCII: 「高度相关部门:公司系数占本部门绩效结果的20%–30%;」).
The policy check's warnings, which quote the article to HR, are checked as they are worded."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from rules.policy import BANDS, LEVEL_BAND_QUOTES

ROOT = Path(__file__).resolve().parent.parent
EXCERPTS = [line for line in (ROOT / "tests" / "article_excerpts.txt").read_text("utf-8")
            .splitlines() if line and not line.startswith("#")]
_CORNER = re.compile(r"「([^」]*)」")
_AFTER_原文 = re.compile(r"原文[：:]?\s*[“「]([^”」]*)[”」]")


def _quoted(text: str, corner: bool) -> list[str]:
    found = [m.group(1) for m in _AFTER_原文.finditer(text)]
    if corner:
        found += [m.group(1) for m in _CORNER.finditer(text)]
    # a quotation that a program fills in ({…}) is checked where it is filled (below)
    return [q for q in found if "{" not in q]


def _files() -> list[tuple[Path, bool]]:
    files = [(p, True) for p in sorted((ROOT / "rules").glob("*.py"))]
    files += [(ROOT / "rules" / "policy.toml", True), (ROOT / "README.md", False)]
    files += [(p, True) for p in sorted((ROOT / "docs").glob("*.md"))]
    # the other packages' code uses 「…」 for its own Chinese texts too: there only what follows
    # 原文 is a quotation
    files += [(p, False) for package in ("importers", "engine", "evaluator", "reports", "xietong")
              for p in sorted((ROOT / package).rglob("*.py"))]
    return files


def _verbatim(quote: str) -> bool:
    # a docstring may wrap a long quotation across lines: its indentation is not the article's
    joined = re.sub(r"\s*\n\s*", "", quote)
    return any(joined in line for line in EXCERPTS)


def test_every_quotation_is_a_piece_of_the_article():
    wrong, seen = [], 0
    for path, corner in _files():
        for quote in _quoted(path.read_text("utf-8"), corner):
            seen += 1
            if not _verbatim(quote):
                wrong.append(f"{path.relative_to(ROOT)}: 「{quote}」")
    assert wrong == []
    assert seen >= 40              # the rule books, the policy and its documents quote it


def test_the_policy_warnings_quote_the_article_verbatim():
    for (section, key), (_, _, what) in BANDS.items():
        for quote in _CORNER.findall(what.zh):
            assert _verbatim(quote), f"{section}.{key}: 「{quote}」"
    for level, quote in LEVEL_BAND_QUOTES.items():
        assert _verbatim(quote), level
    # the misquotes the check used to print (issue 14): full-width colons, brackets dropped
    texts = " ".join(what.zh for _, _, what in BANDS.values())
    for misquote in ("高度相关部门：公司系数", "小权重（如5%–10%）的协同行为加减分模块"):
        assert misquote not in texts


@pytest.mark.skipif(not os.environ.get("XIETONG_ARTICLE"),
                    reason="XIETONG_ARTICLE names the article's text file")
def test_the_excerpts_are_the_articles_lines():
    article = Path(os.environ["XIETONG_ARTICLE"]).read_text("utf-8").splitlines()
    lines = {line[2:] if line.startswith("- ") else line for line in article}
    assert [e for e in EXCERPTS if e not in lines] == []
