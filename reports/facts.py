"""What the reports need from ALL of a run's firings, gathered in one pass over them, so that no
writer holds the firings: a big month has millions (1.85 million at 100,000 employees), read
from the database as they are iterated (evaluator.runs.RunFirings), each pass costing seconds.

- `count`, and the rules and sheets in the order the firings first name them (trace.html's
  lists of rules and sheets precede its firings);
- `cited_keys`: every (sheet, row) some firing cites, once, in sheet order then row order
  (trace.xlsx's and trace.html's Sources; reports/view.py `cited_keys`);
- `kept`: the firings of the few rules why-not reads (reports/why_not.py: the reasons a
  mechanism did not apply), as {"rule", "subject_id", "sources"} — a firing per department,
  per withdrawn row, per interlock party, never one per firing of the month;
- `held`: the rating rows held out of a department's averages (rating.hold), as the Excel rows
  of each (department, sheet) — all why-not reads of them: a firing per held rating, 24,085
  of them at 100,000 employees, were 10.6 MB as kept firings, held by the run process and by
  the reports' second writer from the storing of the firings to the end of the reports;
- `deadline_tail`: the review.escalate firings that end the trace, with their outcomes (the
  review items that moved past their deadline: reports/moves.py).

What is held is a set per cited ledger row (and per distinct sources text) and a small record per
kept firing. When the firings come from the database the pass reads their rule, subject and
sources text, and the outcome only of the rules that need it (`RunFirings.slim`): a sources text
is parsed the first time it is seen; a plain list of firings (tests, small runs) is read as it
is.
"""
from __future__ import annotations

import json
from array import array
from dataclasses import dataclass, field
from typing import Iterator

from evaluator.canonical import parse_sources
from reports.labels import SHEET_ORDER
from reports.moves import DEADLINE_RULES, ESCALATE
from rules.sources import SourceMarks

# The rules whose firings why-not reads (reports/why_not.py), kept by the pass: those that
# say by their subject alone why a department's mechanism did not apply; those whose sources
# say which ratings were held and which metrics a department was party to; an employee's
# withdrawn behaviour rows.
WHY_NOT_BY_SUBJECT = ("linkage.blend", "peripheral.front_office", "raci.front_office",
                      "peripheral.carried", "raci.carried", "PERIPHERAL_NO_RATINGS",
                      "raci.no_ratings")
WHY_NOT_BY_SOURCES = ("interlock.reward", "interlock.penalty",
                      "interlock.metric_count_ok", "INTERLOCK_TOO_MANY")
WHY_NOT_WITHDRAWN = "behaviour.withdrawn"
KEPT_RULES = frozenset({*WHY_NOT_BY_SUBJECT, *WHY_NOT_BY_SOURCES, WHY_NOT_WITHDRAWN})
# a held rating row: its department (the subject) and its first source, the row, are all
# why-not reads of it (FiringFacts.held)
HELD = "rating.hold"


@dataclass
class FiringFacts:
    count: int = 0
    rules: list[str] = field(default_factory=list)       # in the order of first firing
    sheets: list[str] = field(default_factory=list)      # in the order first cited
    cited_keys: "CitedKeys" = field(default_factory=lambda: CitedKeys())
    kept: dict[str, list[dict]] = field(default_factory=dict)   # rule -> its firings
    # (department, sheet) -> the Excel rows of its ratings held, in firing order
    held: dict[tuple[str, str], array] = field(default_factory=dict)
    deadline_tail: list[dict] = field(default_factory=list)

    def firings_of(self, *rules: str) -> list[dict]:
        """The kept firings of `rules` (each of KEPT_RULES), in seq order within a rule."""
        if len(rules) == 1:
            return self.kept.get(rules[0], [])
        return [f for r in rules for f in self.kept.get(r, ())]


def gather(firings) -> FiringFacts:
    """FiringFacts of `firings` (a RunFirings or any iterable of stored firings), in one pass."""
    slim = getattr(firings, "slim", None)
    if slim is None:
        rows = ((f["rule"], f["subject_id"], f["sources"], f["outcome"]) for f in firings)
    else:
        rows = slim(frozenset({ESCALATE}))
    gathering = Gathering()
    add = gathering.add
    for rule, subject, sources, outcome in rows:
        add(rule, subject, sources, outcome)
    return gathering.facts()


class Gathering:
    """FiringFacts gathered a firing at a time (`add`), in seq order: what `gather` does over
    the stored firings, and what `xietong run` does as its evaluation stores them (the
    report that follows then reads the firings once fewer: `seed`).

    `sources`: the stored sources text (parsed here the first time it is seen) or the
    (sheet, row) pairs themselves; `outcome`: the stored outcome, parsed or its text, of the
    review.escalate firings (None or anything for the others: only those are read)."""

    def __init__(self):
        self._facts = FiringFacts()
        self._rules: dict[str, None] = {}
        self._sheets: dict[str, None] = {}
        self._keys = CitedKeys()
        self._seen: set = set()           # the sources texts read, each once
        self._tail: list[dict] = []
        self._count = 0

    def add(self, rule: str, subject, sources, outcome) -> None:
        self._count += 1
        rules = self._rules
        if rule not in rules:
            rules[rule] = None
        if type(sources) is str:
            seen = self._seen
            if sources in seen:
                parsed = None
            else:
                seen.add(sources)
                parsed = sources = parse_sources(sources)
        else:
            parsed = sources
        if parsed is not None:
            keys, sheets = self._keys, self._sheets
            for sheet, row in parsed:
                if keys.add(sheet, row) and sheet not in sheets:
                    sheets[sheet] = None
        if rule == HELD:
            sheet, row = (parse_sources(sources) if type(sources) is str else sources)[0]
            held = self._facts.held
            rows = held.get((subject, sheet))
            if rows is None:
                rows = held[(subject, sheet)] = array("q")
            rows.append(row)
        elif rule in KEPT_RULES:
            sources = parse_sources(sources) if type(sources) is str else list(map(tuple, sources))
            self._facts.kept.setdefault(rule, []).append(
                {"rule": rule, "subject_id": subject, "sources": sources})
        if rule not in DEADLINE_RULES:
            if self._tail:
                self._tail = []
        elif rule == ESCALATE:
            self._tail.append({"rule": rule,
                               "outcome": json.loads(outcome) if type(outcome) is str
                               else outcome})

    def facts(self) -> FiringFacts:
        facts = self._facts
        facts.count = self._count
        facts.rules = list(self._rules)
        facts.sheets = list(self._sheets)
        facts.cited_keys = self._keys
        facts.deadline_tail = self._tail
        return facts


class CitedKeys(SourceMarks):
    """Every (sheet, row) some firing cites, once (rules.sources.SourceMarks: a byte per Excel
    row of each cited sheet): iterated in sheet order (SHEET_ORDER, then name), then row
    order; `len()` is their number."""

    __slots__ = ()

    def __iter__(self) -> Iterator[tuple[str, int]]:
        for sheet in sorted(self.sheets(), key=lambda s: (SHEET_ORDER.get(s, 99), s)):
            for row in self.rows(sheet):
                yield sheet, row

    def __eq__(self, other) -> bool:
        return isinstance(other, CitedKeys) and len(self) == len(other) and \
            list(self) == list(other)


def seed(stored: dict, facts: FiringFacts) -> None:
    """Keep `facts`, gathered as the run's firings were stored (Gathering), with the run as
    `of` would: the caller vouches that they are the facts of exactly these firings."""
    stored["firing_facts"] = (stored.get("firings", ()), facts)


def of(stored: dict) -> FiringFacts:
    """The FiringFacts of a stored run's firings, gathered on first use and kept with the run
    (stored["firing_facts"]) for as long as its "firings" are the same object. `report` asks
    for them before it forks its second writer, which inherits them: one pass for both
    processes, and the child never reads the database."""
    firings = stored.get("firings", ())
    cached = stored.get("firing_facts")
    if cached is not None and cached[0] is firings:
        return cached[1]
    facts = gather(firings)
    stored["firing_facts"] = (firings, facts)
    return facts

