"""The rule books of the five mechanisms, in the order an evaluation runs them, and what can be
asked of them without running anything: a rule's descriptions, the rules version, the rules
document (docs/rules.md) with every rule and every exception kind."""
from __future__ import annotations

from engine import rules_version
from rules import behaviour, blends, deadlines, interlocks, linkage, ratings
from rules.exceptions import KINDS

BOOKS = (linkage.BOOK, ratings.BOOK, blends.BOOK, interlocks.BOOK, behaviour.BOOK,
         deadlines.BOOK)
RULES_VERSION = rules_version(BOOKS)


def describe(rule_id: str) -> tuple[str, str]:
    """(zh, en) one-line description of a rule id (an exception kind's id is its rule's)."""
    for book in BOOKS:
        if rule_id in book:
            r = book[rule_id]
            return r.zh, r.en
    raise KeyError(rule_id)


def rules_markdown() -> str:
    """docs/rules.md: every rule of every book with its id and descriptions, then every exception
    kind (tests keep it current: tests/test_rules.py)."""
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
    lines += ["## Exception kinds — 异常类型", "",
              "A rule whose id is an exception kind raises an exception of that kind, declared "
              "with the rule (SPEC §5). A *rejection* goes to HR and carries no decision (a "
              "*notice* is about a whole department or metric, not one row); a *review* goes to "
              "a person who confirms or overturns it. Its review id is a hash of the period, the "
              "kind and the review key (SPEC §6). In SPEC order, which also orders several "
              "exceptions on one source row.", "",
              "| kind | type | subject | review key | 中文 | English |",
              "|---|---|---|---|---|---|"]
    for k in KINDS:
        kind_type = f"{k.type} (notice)" if k.notice else k.type
        lines.append(f"| `{k.kind}` | {kind_type} | {k.subject} | {' + '.join(k.key)} "
                     f"| {k.zh} | {k.en} |")
    lines.append("")
    return "\n".join(lines)
