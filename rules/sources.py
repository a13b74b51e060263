"""How a source names a ledger row of another month (SPEC §11.5, §11.7, §11.9).

A source is a ledger row a firing, an adjustment or an exception came from: (sheet, Excel row)
of the run's own import — ("InternalRatings", 7). Some rules also read rows of other months'
active imports: a quarter's ratings are evaluated in its last month over all three months'
rows, LINKAGE_CHANGED compares with the previous month's matrix, BEH_FREQUENT_PROPOSER may
count the months before. Such a row's sheet is **qualified with its month**:

    ("InternalRatings@2026-01", 7)      row 7 of InternalRatings in 2026-01's active import

so a source keeps its shape — a pair, stored as [sheet, row] — everywhere it goes (facts' keys,
the trace, the chain, the reports), and runs stored before another month's row could be a
source read exactly as they always did. The run records which import each other month's rows
came from (its `other_imports`), and a reader that holds those imports' rows keeps them under
the qualified names (`qualify`), so that (sheet, row) finds the row whichever month it is of.
A review key's sheet part is the source's sheet, qualified the same way, so a rating of
January and a rating of March with the same rating_id are two review items.

    >>> qualify("InternalRatings", "2026-01")
    'InternalRatings@2026-01'
    >>> split("InternalRatings@2026-01"), split("InternalRatings")
    (('InternalRatings', '2026-01'), ('InternalRatings', None))

Pure: names, and `SourceMarks`, a compact set of sources.
"""
from __future__ import annotations

from typing import Mapping

SEPARATOR = "@"


def qualify(sheet: str, period: str | None) -> str:
    """The name of `sheet` in `period`'s active import (the sheet itself when period is None)."""
    return sheet if period is None else f"{sheet}{SEPARATOR}{period}"


def split(name: str) -> tuple[str, str | None]:
    """(canonical sheet, month) of a source's sheet name; month None for the run's own import."""
    sheet, sep, period = name.partition(SEPARATOR)
    return (sheet, period) if sep else (name, None)


def base(name: str) -> str:
    """The canonical sheet of a source's sheet name."""
    return name.partition(SEPARATOR)[0]


def month_of(name: str, own: str) -> str:
    """The month a source's row belongs to: its qualification, else `own` (the run's period)."""
    _, sep, period = name.partition(SEPARATOR)
    return period if sep else own


def with_months(rows: Mapping[str, list], months: Mapping[str, Mapping[str, list]]) -> dict:
    """The run's rows (sheet → rows) and other months' rows (period → sheet → rows) as one
    mapping, the other months' sheets under their qualified names: what a reader of a run's
    sources looks rows up in."""
    out = dict(rows)
    for period, sheets in months.items():
        for sheet, lst in sheets.items():
            out[qualify(sheet, period)] = lst
    return out


class SourceMarks:
    """A set of sources, (sheet, Excel row), kept as a byte per Excel row of each sheet rather
    than a tuple per source in a set: a 100,000-employee month names a million rows (the
    evaluation marks the rows its firings ended, the reports the rows its firings cite), and a
    set of tuples was ≈ 150 MB. A row that is not a whole number ≥ 0 (none is, from a ledger)
    is kept in a set of its sheet's."""

    __slots__ = ("_marks", "_other", "_n")

    def __init__(self):
        self._marks: dict[str, bytearray] = {}
        self._other: dict[str, set] = {}
        self._n = 0

    def add(self, sheet: str, row) -> bool:
        """Note (sheet, row); True when it was not noted before."""
        if type(row) is int and row >= 0:
            marks = self._marks.get(sheet)
            if marks is None:
                marks = self._marks[sheet] = bytearray()
            if row >= len(marks):
                marks.extend(bytes(row + 1 - len(marks) + 4096))
            elif marks[row]:
                return False
            marks[row] = 1
        else:
            other = self._other.setdefault(sheet, set())
            if row in other:
                return False
            other.add(row)
        self._n += 1
        return True

    def __contains__(self, source) -> bool:
        sheet, row = source
        if type(row) is int and row >= 0:
            marks = self._marks.get(sheet)
            return marks is not None and row < len(marks) and marks[row] == 1
        return row in self._other.get(sheet, ())

    def __len__(self) -> int:
        return self._n

    def sheets(self) -> set[str]:
        """The sheets with a source noted."""
        return {*self._marks, *self._other}

    def rows(self, sheet: str) -> list:
        """The rows of `sheet` noted, in order."""
        marks = self._marks.get(sheet)
        rows = [r for r, m in enumerate(marks) if m] if marks else []
        if sheet in self._other:
            rows = sorted([*rows, *self._other[sheet]])
        return rows
