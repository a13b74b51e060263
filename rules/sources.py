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

Pure: names; `SourceMarks`, a compact set of sources (`NumberMarks`, of numbers);
`RowSources`, a compact list of them; `cited_rows`, the rows a set of sources names.
"""
from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Iterable, Iterator, Mapping

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
    """A set of sources, (sheet, Excel row), kept as a byte per Excel row of each sheet (a
    NumberMarks each) rather than a tuple per source in a set: a 100,000-employee month names
    a million rows (the evaluation marks the rows its firings ended, the reports the rows its
    firings cite), and a set of tuples was ≈ 150 MB."""

    __slots__ = ("_marks", "_n")

    def __init__(self):
        self._marks: dict[str, NumberMarks] = {}
        self._n = 0

    def add(self, sheet: str, row) -> bool:
        """Note (sheet, row); True when it was not noted before."""
        marks = self._marks.get(sheet)
        if marks is None:
            marks = self._marks[sheet] = NumberMarks()
        if marks.add(row):
            self._n += 1
            return True
        return False

    def __contains__(self, source) -> bool:
        sheet, row = source
        marks = self._marks.get(sheet)
        return marks is not None and row in marks

    def __len__(self) -> int:
        return self._n

    def sheets(self) -> set[str]:
        """The sheets with a source noted."""
        return set(self._marks)

    def rows(self, sheet: str) -> Iterator:
        """The rows of `sheet` noted, in order, one at a time: a list of them was 24 MB of
        Python ints for a 100,000-employee month's ratings, held by the trace's Sources sheet
        while it was written."""
        return iter(self._marks.get(sheet, ()))


def marked(marks: bytes | bytearray) -> Iterator[int]:
    """The positions of the 1s of `marks`, in order."""
    find, at = marks.find, marks.find(1)
    while at >= 0:
        yield at
        at = find(1, at + 1)


class NumberMarks:
    """A set of whole numbers (a sheet's Excel rows, a run's firing seqs) kept as a byte per
    number: `n in marks`, iterated in order; made the union of `others`. A number that is not
    a whole number ≥ 0 (none is, from a ledger or a run) is kept in a set."""

    __slots__ = ("_bytes", "_other")

    def __init__(self, *others: "NumberMarks"):
        self._bytes, self._other = bytearray(), set()
        for m in others:
            self._bytes.extend(bytes(max(0, len(m._bytes) - len(self._bytes))))
            for n in marked(m._bytes):
                self._bytes[n] = 1
            self._other |= m._other

    def add(self, n) -> bool:
        """Note `n`; True when it was not noted before."""
        if type(n) is int and n >= 0:
            marks = self._bytes
            if n >= len(marks):
                marks.extend(bytes(n + 1 - len(marks) + 4096))
            elif marks[n]:
                return False
            marks[n] = 1
            return True
        if n in self._other:
            return False
        self._other.add(n)
        return True

    def __contains__(self, n) -> bool:
        if type(n) is int and n >= 0:
            return n < len(self._bytes) and self._bytes[n] == 1
        return n in self._other

    def __iter__(self) -> Iterator:
        if self._other:
            return iter(sorted([*marked(self._bytes), *self._other]))
        return marked(self._bytes)


def cited_rows(rows: dict, sources) -> dict[tuple[str, int], dict]:
    """The rows these sources cite, by (sheet, Excel row), from `rows` (sheet → rows, another
    month's sheets under their qualified names): what each_cited_row gives, held — the rows a
    report reads ahead (reports.view.RowIndex.prefetch)."""
    return dict(each_cited_row(rows, sources))


def each_cited_row(rows: dict, sources) -> Iterator[tuple[tuple[str, int], dict]]:
    """((sheet, Excel row), the row) for each row these sources cite, once, read from `rows`
    (as cited_rows) in one pass over each cited sheet that makes only the cited rows (a sheet
    on a file, importers.spooled.SpooledRows, makes no other)."""
    wanted = SourceMarks()
    for sheet, row in sources:
        wanted.add(sheet, row)
    for sheet in wanted.sheets():
        lst = rows.get(sheet) or ()
        picked = (lst.numbered(lambda row: (sheet, row) in wanted) if hasattr(lst, "numbered")
                  else (r for r in lst if (sheet, r["row"]) in wanted))
        for r in picked:
            yield (sheet, r["row"]), r


_INT32 = range(-2**31, 2**31)        # an Excel row is at most 1,048,576


class RowSources(Sequence):
    """A list of sources, (sheet, Excel row), kept as runs of one sheet's rows in an
    `array`: a department's blend cites every rating counted for it — 795,000 sources at
    100,000 employees — and as a list of tuples they were ≈ 80 MB of the evaluation's memory
    (a tuple and an int object each), sent back to the run process and loaded again by each
    report. As an array, 4 bytes a source (an Excel row fits in 32 bits; with 8 bytes, the
    blends' sources were 6.4 MB at 100,000 employees, held again by every copy the evaluation
    makes in putting its adjustments in order, Context.ordered_adjustments).

    It reads as the list of (sheet, row) tuples it holds: iteration, len, indexing, equality
    with a list or tuple of pairs, `+` with one. A row that is not an int of 32 bits (none is,
    from a ledger) is kept in a list instead. Pickled as its arrays. Who hands one to
    rules.context (a firing's, an adjustment's sources) does not change it afterwards: it is
    kept, not copied.

        >>> s = RowSources([("Departments", 3)])
        >>> s.add("InternalRatings", 7); s.add("InternalRatings", 9)
        >>> list(s), len(s), s[-1]
        ([('Departments', 3), ('InternalRatings', 7), ('InternalRatings', 9)], 3, ('InternalRatings', 9))
        >>> s == [("Departments", 3), ("InternalRatings", 7), ("InternalRatings", 9)]
        True
    """

    __slots__ = ("_runs", "_n")

    def __init__(self, sources: Iterable = ()):
        self._runs: list[tuple[str, array | list]] = []    # (sheet, its rows), in order
        self._n = 0
        self.extend(sources)

    def add(self, sheet: str, row) -> None:
        """Append the source (sheet, row)."""
        runs = self._runs
        packed = type(row) is int and row in _INT32
        if runs:
            last_sheet, rows = runs[-1]
            if last_sheet == sheet and (type(rows) is array) == packed:
                rows.append(row)
                self._n += 1
                return
        runs.append((sheet, array("i", (row,)) if packed else [row]))
        self._n += 1

    def append(self, source) -> None:
        sheet, row = source
        self.add(sheet, row)

    def extend(self, sources: Iterable) -> None:
        if isinstance(sources, RowSources):
            for sheet, rows in sources._runs:
                if type(rows) is array and self._runs and self._runs[-1][0] == sheet \
                        and type(self._runs[-1][1]) is array:
                    self._runs[-1][1].extend(rows)
                else:
                    self._runs.append((sheet, rows[:]))
            self._n += sources._n
            return
        for sheet, row in sources:
            self.add(sheet, row)

    def __len__(self) -> int:
        return self._n

    def __iter__(self):
        for sheet, rows in self._runs:
            for row in rows:
                yield sheet, row

    def __getitem__(self, i):
        if isinstance(i, slice):
            return list(self)[i]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("RowSources index out of range")
        for sheet, rows in self._runs:
            if i < len(rows):
                return sheet, rows[i]
            i -= len(rows)
        raise IndexError("RowSources index out of range")     # not reached: _n counts the runs

    def __eq__(self, other) -> bool:
        if isinstance(other, RowSources):
            return self._n == other._n and all(map(_same, self, other))
        if isinstance(other, (list, tuple)):
            return self._n == len(other) and all(map(_same, self, other))
        return NotImplemented

    __hash__ = None         # a list is not hashable either

    def __add__(self, other):
        out = RowSources(self)
        out.extend(other)
        return out

    def __radd__(self, other):
        out = RowSources(other)
        out.extend(self)
        return out

    def __repr__(self) -> str:
        return f"RowSources({list(self)!r})"

    def __reduce__(self):
        return _rebuilt, (self._runs, self._n)


def _same(a, b) -> bool:
    # a source is equal to a pair of the same sheet and row, as a tuple is to a tuple
    return isinstance(b, tuple) and a == b


def _rebuilt(runs, n) -> RowSources:
    out = RowSources()
    out._runs, out._n = runs, n
    return out


def chained(*parts: Iterable) -> RowSources:
    """One RowSources of the sources of every part, in order."""
    out = RowSources()
    for part in parts:
        out.extend(part)
    return out
