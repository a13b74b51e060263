"""The sentences the rules write for people — adjustment explanations, exception messages, firing
notes — each declared once, in Chinese and English, beside the rules that write it (SPEC §10.5).

A rule book declares its sentences on its `Wording`, as it declares its exception kinds on its
`Kinds`:

    WORDS = Wording("linkage")
    BLEND = WORDS.template(
        "linkage.blend",
        zh="{kpi} 公司系数 {c}，关联度{level}：{w} × ({c100} − {base})",
        en="{kpi} C={c} at {level}: {w} × ({c100} − {base})",
        words={"level": LEVELS})

and says it with the values of one case, every value as text (numbers exactly as shown, ids,
values quoted from the ledger; a list of them is joined in the language's own way):

    >>> said = BLEND(kpi="K1", c="1.1", level="high", w="0.2027", c100="110", base="70")
    >>> said.text
    'K1 C=1.1 at high: 0.2027 × (110 − 70)'
    >>> said.says
    ['linkage.blend', {'kpi': 'K1', 'c': '1.1', 'level': 'high', 'w': '0.2027', 'c100': '110', 'base': '70'}]
    >>> BLEND.render("zh", said.says[1])
    'K1 公司系数 1.1，关联度强：0.2027 × (110 − 70)'

`said.text` is the English sentence, which a run stores as the adjustment's explanation or the
exception's message (what runs stored before templates existed, and still the text every old
run falls back to); `said.says` — the template's key and its arguments, plain JSON — is stored
beside it, in the firing's chained outcome (evaluator/runs.py), so that a report renders the
sentence in its own language (rules/sentences.py). An argument named in `words` is a code
spelled in each language (a linkage level: 强 / high; an exception kind: its description).

A note ({"note": "accepted"}) is a sentence without arguments: its English text is its key, so
the notes of runs stored before this module existed render in either language too.

Chinese sentences use the full-width punctuation of Chinese text (，：；（）); formulas keep their
ASCII signs in both languages. Pure: declarations and string formatting, nothing else.
"""
from __future__ import annotations

import string
from typing import Any, Iterator, Mapping, NamedTuple

from importers.lang import Text

# How a list argument (several ids) is joined in each language's text.
LIST_SEPARATOR = {"zh": "、", "en": ", "}


class Said(NamedTuple):
    """One sentence as a rule says it: the English text (stored as it always was) and
    `says`, [template key, {argument: text}], from which any language renders it."""
    text: str
    says: list


class Template:
    """A sentence with `{name}` placeholders, in both languages. Calling it with the arguments
    of one case gives the `Said`; `render(lang, args)` gives the sentence in `lang`.

    `words`: argument name -> a mapping (anything with [value]) of values to anything with `.zh`
    and `.en` (a Text; a book's `Kinds`, whose kinds have their descriptions), for arguments
    that are codes spelled differently in each language (for a list argument, each of its
    items); an unknown value is shown as it is."""

    __slots__ = ("key", "text", "words")

    def __init__(self, key: str, text: Text, words: Mapping[str, Mapping[str, Any]] | None = None):
        self.key, self.text, self.words = key, text, dict(words or {})

    def __call__(self, **args) -> Said:
        return Said(self.render("en", args), [self.key, args])

    def render(self, lang: str, args: Mapping[str, Any]) -> str:
        words, values = self.words, {}
        for name, value in args.items():
            if type(value) is list:
                if name in words:            # a list of codes: each spelled in the language
                    value = [self._word(words[name], v, lang) for v in value]
                value = LIST_SEPARATOR["zh" if lang == "zh" else "en"].join(map(str, value))
            elif name in words:
                value = self._word(words[name], value, lang)
            values[name] = value
        return self.text.pick(lang).format_map(values)

    @staticmethod
    def _word(spelled, value, lang: str):
        """`value` spelled in `lang` by the mapping `spelled`; as it is when not a known code."""
        try:
            word = spelled[value]
        except KeyError:
            return value
        return word.zh if lang == "zh" else word.en

    def __repr__(self) -> str:
        return f"Template({self.key!r})"


class Wording:
    """The sentences of one rule book: its templates (by key) and its notes (by English text),
    in declaration order. rules/sentences.py gathers every book's."""

    def __init__(self, book: str):
        self.book = book
        self.templates: dict[str, Template] = {}
        self.notes: dict[str, Text] = {}

    def template(self, key: str, *, zh: str, en: str,
                 words: Mapping[str, Mapping[str, Any]] | None = None) -> Template:
        if key in self.templates:
            raise ValueError(f"book {self.book}: sentence {key} declared twice")
        _check_placeholders(key, zh, en)
        t = self.templates[key] = Template(key, Text(zh=zh, en=en), words)
        return t

    def note(self, *, en: str, zh: str) -> str:
        """A note's English text, which is what a firing's outcome stores ({"note": en})."""
        known = self.notes.get(en)
        if known is not None and known.zh != zh:
            raise ValueError(f"book {self.book}: note {en!r} declared twice, differently")
        self.notes[en] = Text(zh=zh, en=en)
        return en

    def __iter__(self) -> Iterator[Template]:
        return iter(self.templates.values())


def _check_placeholders(key: str, zh: str, en: str) -> None:
    """Both languages name the same arguments: a sentence says the same thing in each."""
    names = [{f for _, f, _, _ in string.Formatter().parse(t) if f} for t in (zh, en)]
    if names[0] != names[1]:
        raise ValueError(f"sentence {key}: the Chinese names {sorted(names[0])}, the English "
                         f"{sorted(names[1])}")
