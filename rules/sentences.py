"""Every sentence of every rule book (rules/wording.py), and how a report shows a stored one in its
own language (SPEC §10.5): the one place the reports — trace.xlsx and trace.html, the review
workbooks, the statement — turn a run's explanations, messages and notes into words.

    explanation(adjustment, lang)   an adjustment's explanation   (its "says", else its text)
    message(exception, lang)        an exception's message        (its "says", else its text)
    note_text(note, lang)           a firing's note ("accepted" → 采纳 / accepted)
    outcome_text(item, lang)        one item of a stored firing's outcome, whichever it is
    says_of(outcome, kind)          the sentence of the exception of `kind` a firing raised

`adjustment` and `exception` are the dicts of a stored run (evaluator.runs.load_run), which
carry the sentence's template key and arguments as "says" — or no "says" at all for a run stored
before the sentences were templates: then the stored (English) text is shown, in any language.
English is always the stored text: it is what the template rendered when the run was stored.

    >>> message({"message": "B1: No factual evidence",
    ...          "says": ["behaviour.rejected", {"event": "B1", "kind": "BEH_NO_EVIDENCE"}]}, "zh")
    'B1：缺少事实依据'
    >>> message({"message": "B1: No factual evidence"}, "zh")      # a run stored before
    'B1: No factual evidence'
    >>> note_text("held", "zh")
    '暂不计入均值'
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from importers.lang import Text
from rules import behaviour, blends, deadlines, interlocks, linkage, ratings
from rules.wording import Template, Wording

# In the order of the rule books (rules/books.py); docs/rules.md lists them in this order.
WORDINGS: tuple[Wording, ...] = (linkage.WORDS, ratings.WORDS, blends.WORDS, interlocks.WORDS,
                                 behaviour.WORDS, deadlines.WORDS)


def _gather() -> tuple[dict[str, Template], dict[str, Text]]:
    templates: dict[str, Template] = {}
    notes: dict[str, Text] = {}
    for w in WORDINGS:
        for t in w:
            if t.key in templates:
                raise ValueError(f"sentence {t.key} declared by two books")
            templates[t.key] = t
        for en, text in w.notes.items():
            if notes.setdefault(en, text) != text:
                raise ValueError(f"note {en!r} is worded differently by two books")
    return templates, notes


_templates, _notes = _gather()
TEMPLATES: Mapping[str, Template] = MappingProxyType(_templates)
NOTES: Mapping[str, Text] = MappingProxyType(_notes)


def render(says, lang: str) -> str | None:
    """A stored [template key, arguments] in `lang`; None when it is not one (no says, an
    unknown key, arguments the template does not take)."""
    if not says:
        return None
    try:
        key, args = says
        return TEMPLATES[key].render(lang, args)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError):
        return None


def explanation(adjustment: Mapping, lang: str) -> str:
    """An adjustment's explanation in `lang` (its stored text in English, or when it has no
    template)."""
    if lang == "zh":
        text = render(adjustment.get("says"), lang)
        if text is not None:
            return text
    return adjustment["explanation"]


def message(exception: Mapping, lang: str) -> str:
    """An exception's message in `lang` (its stored text in English, or when it has no
    template). The review workbooks show it beside each item."""
    if lang == "zh":
        text = render(exception.get("says"), lang)
        if text is not None:
            return text
    return exception["message"]


def note_text(note: str, lang: str) -> str:
    """A firing's note in `lang`; a note no book declares is shown as it is."""
    text = NOTES.get(note)
    if text is None:
        return note
    return text.zh if lang == "zh" else text.en


def outcome_text(item: Mapping, lang: str) -> str:
    """One item of a stored firing's outcome in `lang`: a note, an adjustment's explanation
    (without its points), or an exception's message — its kind alone for a run stored before
    exceptions' sentences were stored with their firing."""
    if "note" in item:
        return note_text(item["note"], lang)
    text = render(item.get("says"), lang) if lang == "zh" or "explanation" not in item else None
    if text is not None:
        return text
    return item.get("explanation") or item.get("exception") or ""


def says_of(outcome: Mapping, kind: str):
    """The sentence ([key, values]) stored in a firing's outcome for the exception of `kind` it
    raised, or None (what evaluator.runs.load_run gives each exception as "says")."""
    items = outcome.get("outcomes") if isinstance(outcome, Mapping) else None
    for item in items if isinstance(items, list) else ():
        if isinstance(item, Mapping) and item.get("exception") == kind:
            return item.get("says")
    return None
