"""The two languages of xietong's outputs (SPEC §7): every sentence a person reads exists in
Chinese and in English, and every table of such sentences — the command line's messages, the
reports' words, the policy's findings, the decisions' refusals — holds them in one shape:
`Text(zh=…, en=…)`, picked and filled in by the output's language.

Ids, rule ids, `Sheet!Cell` references, hashes and values quoted from the ledger are never
translated: they go into the placeholders.
"""
from __future__ import annotations

from typing import NamedTuple

LANGS = ("zh", "en")


class Text(NamedTuple):
    """One sentence (or word) in both languages; `{name}` placeholders are filled by `format`."""
    zh: str
    en: str

    def pick(self, lang: str | None) -> str:
        """The sentence in `lang`; English for anything but "zh"."""
        return self.zh if lang == "zh" else self.en

    def format(self, lang: str | None, **values) -> str:
        return self.pick(lang).format(**values)
