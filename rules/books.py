"""The rule books of the five mechanisms, in the order an evaluation runs them, and what can be
asked of them without running anything: a rule's descriptions, the rules version, the rules
document (docs/rules.md)."""
from __future__ import annotations

from engine import rules_version
from rules import behaviour, blends, interlocks, linkage, ratings

BOOKS = (linkage.BOOK, ratings.BOOK, blends.BOOK, interlocks.BOOK, behaviour.BOOK)
RULES_VERSION = rules_version(BOOKS)


def describe(rule_id: str) -> tuple[str, str]:
    """(zh, en) one-line description of a rule id."""
    for book in BOOKS:
        if rule_id in book:
            r = book[rule_id]
            return r.zh, r.en
    raise KeyError(rule_id)


def rules_markdown() -> str:
    """docs/rules.md: every rule of every book with its id and descriptions (tests keep it
    current: tests/test_rules.py)."""
    lines = ["# Rules", "",
             "Every rule xietong fires, by rule book (generated from `rules/*.py`; "
             "`tests/test_rules.py` fails when this file is out of date). Each run records the "
             "rules version: a SHA-256 of these rules' conditions and action sources.", ""]
    for book in BOOKS:
        lines += [f"## `{book.name}` — {book.zh} / {book.en}", "",
                  "| rule id | 中文 | English |", "|---|---|---|"]
        for r in sorted(book.rules, key=lambda r: r.rule_id):
            lines.append(f"| `{r.rule_id}` | {r.zh} | {r.en} |")
        lines.append("")
    return "\n".join(lines)
