"""The rule books of the five mechanisms, in the order an evaluation runs them, and what can be
asked of them without running anything: a rule's descriptions, the rules version, the rules
document (docs/rules.md) with every rule, every exception kind and every sentence the rules
write (rules/sentences.py)."""
from __future__ import annotations

from engine import rules_version
from rules import behaviour, blends, deadlines, interlocks, linkage, ratings
from rules.exceptions import KINDS
from rules.sentences import NOTES, TEMPLATES

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
    lines += ["", "## Sentences — 说明文字", "",
              "What the rules write for people: adjustment explanations and exception messages "
              "are templates, filled with the values of each case (`{name}`: an id, a value "
              "quoted from the ledger, a number as shown; `{kind}`: the exception kind's "
              "description; `{level}`: the linkage level). A run stores the English text and "
              "the template's key and values, so each report words them in its own language "
              "(`rules/wording.py`).", "",
              "| key | 中文 | English |", "|---|---|---|"]
    for t in TEMPLATES.values():
        lines.append(f"| `{t.key}` | {_cell(t.text.zh)} | {_cell(t.text.en)} |")
    lines += ["", "Notes, which a firing records without values:", "",
              "| note (stored) | 中文 |", "|---|---|"]
    for en, text in NOTES.items():
        lines.append(f"| {_cell(en)} | {_cell(text.zh)} |")
    lines.append("")
    return "\n".join(lines)


def _cell(text: str) -> str:
    """A sentence in a Markdown table cell: its placeholders as code, its pipes escaped."""
    return text.replace("|", "\\|").replace("{", "`{").replace("}", "}`")
