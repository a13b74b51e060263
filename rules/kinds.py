"""Exception kinds (SPEC §5), each declared once: together with the rule that raises it.

A rule that finds a row, a metric or a department wrong raises an exception of a **kind**, either
a *rejection* (the row is not applied, or HR must fix the ledger; read-only, always for `HR`) or
a *review* (a person decides: confirm 维持 / overturn 撤销). A rule book declares the kinds its
rules raise through its `Kinds`, in the same decorator as the rule:

    BOOK = RuleBook("behaviour", zh="协同行为加减分", en="Collaboration behaviour bonus/penalty")
    KINDS = Kinds(BOOK, mechanisms=("behaviour",))

    @KINDS.rejection("BEH_NO_EVIDENCE", (m.t == "beh") & (m.evidence_blank == True),
                     subject="employee", key=("event_id",),
                     zh="缺少事实依据", en="No factual evidence")
    def no_evidence(row):
        return [flag("BEH_NO_EVIDENCE")]

declares the rule `BEH_NO_EVIDENCE` in BOOK, exactly as `@BOOK.rule(id, condition, zh=, en=)`
would, and the kind `BEH_NO_EVIDENCE` with the same descriptions: the kind's id is its rule's id.
What the engine sees (and the rules version hashes) is only the rule; the kind's metadata is
HR's business and stays in rules/. rules/exceptions.py gathers every book's kinds in SPEC order.

Everything here is pure: declarations and lookups, no evaluation.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

if TYPE_CHECKING:
    from engine import RuleBook

REJECTION, REVIEW = "rejection", "review"

# The order of the mechanisms in every output (SPEC §5.7).
MECHANISMS = ("linkage", "peripheral", "raci", "interlock", "behaviour")
SUBJECTS = ("employee", "department", "metric")
_KIND_ID = re.compile(r"[A-Z][A-Z0-9_]*")


@dataclass(frozen=True)
class ExceptionKind:
    kind: str                       # the id, which is also the id of the rule that raises it
    type: str                       # REJECTION | REVIEW
    mechanisms: tuple[str, ...]     # the mechanisms whose rows it concerns (rating kinds: both)
    subject: str                    # what it is about: one of SUBJECTS
    key: tuple[str, ...]            # the review key's fields, in order (SPEC §5 table)
    zh: str                         # its rule's descriptions
    en: str
    notice: bool = False            # a rejection-type notice about a subject, not about one row

    @property
    def mechanism(self) -> str:
        """The kind's mechanism; for a rating kind of both sheets, 'peripheral' (use
        rules.exceptions.mechanism_for(kind, sheet) when the sheet is known)."""
        return self.mechanisms[0]

    def review_id(self, period: str, key_parts: Iterable[str]) -> str:
        """The stable id of an exception of this kind (SPEC §6): "R" + the first 12 hex digits
        of SHA-256 over the canonical JSON of [period, kind, *key_parts] (sorted keys, UTF-8, no
        spaces). key_parts follow `key`, e.g. ("InternalRatings", "R7") for a RATING_* kind; a
        sheet is named by its canonical English name."""
        parts = [str(p) for p in key_parts]
        if len(parts) != len(self.key):
            raise ValueError(f"{self.kind} is keyed by {self.key}, got {parts}")
        text = json.dumps([period, self.kind, *parts], ensure_ascii=False,
                          separators=(",", ":"), sort_keys=True)
        # The "R" keeps a retyped id text in Excel (an all-digit or "1e5…" id would become a
        # number).
        return "R" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


class Kinds:
    """The exception kinds raised by the rules of one rule book, in declaration order (which
    is SPEC's order within the book: rules/exceptions.py relies on it). `mechanisms` is what
    the book's kinds concern unless a declaration says otherwise."""

    def __init__(self, book: RuleBook, mechanisms: tuple[str, ...]):
        self.book = book
        self.mechanisms = _mechanisms(book.name, mechanisms)
        self._kinds: dict[str, ExceptionKind] = {}

    def rejection(self, kind: str, when: Any, *, subject: str, key: tuple[str, ...], zh: str,
                  en: str, notice: bool = False, mechanisms: tuple[str, ...] | None = None,
                  pri: int = 0) -> Callable[[Callable], Callable]:
        """Decorator: the rule `kind` of the book, and the rejection kind it raises (`notice`:
        about a whole subject — a department, a metric — rather than one ledger row)."""
        return self._declare(ExceptionKind(kind, REJECTION, self._own(kind, mechanisms),
                                           subject, tuple(key), zh, en, notice), when, pri)

    def review(self, kind: str, when: Any, *, subject: str, key: tuple[str, ...], zh: str,
               en: str, mechanisms: tuple[str, ...] | None = None,
               pri: int = 0) -> Callable[[Callable], Callable]:
        """Decorator: the rule `kind` of the book, and the review kind it raises."""
        return self._declare(ExceptionKind(kind, REVIEW, self._own(kind, mechanisms),
                                           subject, tuple(key), zh, en), when, pri)

    def _own(self, kind: str, mechanisms: tuple[str, ...] | None) -> tuple[str, ...]:
        return self.mechanisms if mechanisms is None else _mechanisms(kind, mechanisms)

    def _declare(self, info: ExceptionKind, when: Any, pri: int) -> Callable[[Callable], Callable]:
        _check(info)
        if info.kind in self._kinds:
            raise ValueError(f"book {self.book.name}: exception kind {info.kind} declared twice")
        declare_rule = self.book.rule(info.kind, when, zh=info.zh, en=info.en, pri=pri)

        def register(action: Callable) -> Callable:
            declare_rule(action)            # the engine's checks first: a refused rule, no kind
            self._kinds[info.kind] = info
            return action
        return register

    def __getitem__(self, kind: str) -> ExceptionKind:
        return self._kinds[kind]

    def __contains__(self, kind: object) -> bool:
        return kind in self._kinds

    def __iter__(self) -> Iterator[ExceptionKind]:
        return iter(self._kinds.values())

    def __len__(self) -> int:
        return len(self._kinds)


def _mechanisms(whose: str, mechanisms: tuple[str, ...]) -> tuple[str, ...]:
    mechanisms = tuple(mechanisms)
    if not mechanisms or not set(mechanisms) <= set(MECHANISMS):
        raise ValueError(f"{whose}: mechanisms must be some of {MECHANISMS}, got {mechanisms}")
    return mechanisms


def _check(info: ExceptionKind) -> None:
    if not isinstance(info.kind, str) or not _KIND_ID.fullmatch(info.kind):
        raise ValueError(f"exception kind {info.kind!r}: upper-case ASCII letters, digits and _ "
                         "(the rules that raise no kind have dotted lower-case ids)")
    if info.subject not in SUBJECTS:
        raise ValueError(f"{info.kind}: subject must be one of {SUBJECTS}, got {info.subject!r}")
    if not info.key or not all(isinstance(f, str) and f for f in info.key):
        raise ValueError(f"{info.kind}: the review key needs at least one field name")
