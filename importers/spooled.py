"""A sheet's typed rows kept in a temporary file instead of in memory (`SpooledRows`).

A 100,000-employee month has about 870,000 ratings and behaviours: held as dicts they are
230 MB in every process that holds them. The import writes them to a spool as it types them,
the evaluation and the reports read them back from the database into one; each reader then
takes a chunk at a time, or looks a row up by its Excel row (`row`).
"""
from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import OrderedDict
from typing import Iterator

from .memory import row_maker
from .spool import Spool


# Rows a chunk of the file: small, since a report looks its cited rows up one by one, and a
# lookup outside the chunks held reads a whole chunk (the trace of a 100,000-employee month,
# whose lookups mostly come in row order but go back for each pass and each department's
# blend, read 51 million rows in chunks of 32,768 (4 kept), 5 million in chunks of 1,024 (16
# kept; 64 read barely fewer, and their turnover kept 100 MB more resident; 4 kept: 4,932
# chunks read instead of 4,889, 2 kept: 5,508).
ROWS_CHUNK = 1024


class SpooledRows:
    """One sheet's rows, in Excel-row order, kept in a spool (importers/spool.py: an unnamed
    temporary file, written in chunks) instead of in memory: sized, and iterated as often as
    needed, each time read back a chunk at a time as plain dicts (the same dicts load_rows
    gives). What a reader holds is one chunk and the rows it keeps.

    Two makers. The import types a workbook's transaction sheets straight into them
    (importers/ledger.py), so that no process holds a month's ratings while it checks and
    stores them. The evaluation and the reports read them back from the database into them
    (evaluator.store.load_rows), in the process that reads the database, before the
    evaluation's child (or the reports' second writer) is forked: the child inherits the
    descriptor and reads (positional reads: the two never disturb each other); the run
    process closes it (`close`: evaluate_period, or the report it hands the rows to), after
    which its file is gone."""

    # chunks `row()` keeps (ROWS_CHUNK rows each): 4,096 rows. The trace keeps the lines of
    # the rows it showed (reports.view.CitedRows), so it comes back to a chunk rarely: 16
    # chunks of each sheet were 22 MB of rows held at 100,000 employees, to read 1 % fewer.
    CACHED = 4

    def __init__(self, keys: tuple[str, ...]):
        self.keys = keys
        self._spool = Spool(chunk=ROWS_CHUNK)
        self._make = row_maker(keys)
        # each row's Excel row, in order (where a row is): read from the file by the first
        # row() — 7 MB at 100,000 employees that the import, the evaluation and its workers
        # have no use for
        self._numbers: array | None = None
        self._chunks: OrderedDict[int, list] = OrderedDict()   # row()'s: first → rows
        self._hot: tuple = (0, 0, [])   # row()'s last chunk: (first, stop, rows)

    def extend(self, records) -> None:
        """Appends rows given as sequences of values in `keys` order (the first: the Excel
        row, in increasing order), such as the database's result rows: stored as their
        values."""
        self._spool.extend(records)
        self._numbers, self._hot = None, (0, 0, [])     # row()'s, made again when asked
        self._chunks.clear()

    def flush(self) -> None:
        """Every row appended so far goes to the file: the last, partial chunk is not left in
        memory (up to 32,768 rows a sheet, as the database's result rows: held by the run
        process and inherited by the evaluation's child it forks — at 100,000 employees the
        run process was 13 MB smaller at the fork, the child's peak 28 MB lower)."""
        self._spool.flush()

    def __len__(self) -> int:
        return len(self._spool)

    def __iter__(self) -> Iterator[dict]:
        make = self._make
        for values in self._spool.fields():
            yield make(*values).__dict__

    def numbered(self, wanted) -> Iterator[dict]:
        """The rows whose Excel row `wanted(row)` is true, in order; no other row is made."""
        return self.where("row", wanted)

    def column(self, name: str) -> Iterator:
        """Each row's value of column `name`, in order, without making the rows."""
        at = self.keys.index(name)
        for values in self._spool.fields():
            yield values[at]

    def where(self, column: str, wanted) -> Iterator[dict]:
        """The rows whose `column` value `wanted(value)` is true, in order; no other row is
        made (a reader that wants a few of them reads the file without a dict per row)."""
        make, at = self._make, self.keys.index(column)
        for values in self._spool.fields():
            if wanted(values[at]):
                yield make(*values).__dict__

    def partition(self, column: str, group_of) -> dict:
        """The rows split by `group_of(their value of column)` (None: left out), each group's
        rows in order in a SpooledRows of its own (a file; the caller closes them), in one
        reading of this one: for a reader that would otherwise read it once per group (the
        feedback workbooks, a group of departments at a time, read the 100,000-employee
        ratings 13 times: 11 s). A group without rows has no entry. What is held meanwhile is
        at most a chunk's rows per group."""
        at = self.keys.index(column)
        parts: dict = {}
        pending: dict = {}
        for values in self._spool.fields():
            group = group_of(values[at])
            if group is None:
                continue
            rows = pending.get(group)
            if rows is None:
                rows = pending[group] = []
                parts[group] = SpooledRows(self.keys)
            rows.append(values)
            if len(rows) >= ROWS_CHUNK:
                parts[group].extend(rows)
                rows.clear()
        for group, rows in pending.items():
            parts[group].extend(rows)
            parts[group].flush()
        return parts

    def row(self, number) -> dict | None:
        """The row whose Excel row is `number` (None: no such row), made from its chunk of the
        file: a reader that looks rows up one by one (a report's cited rows) holds CACHED
        chunks of them, not the sheet. Called for each cited row a report shows (2.5 million
        times at 100,000 employees): the chunk last read is tried first."""
        numbers = self._numbers
        if numbers is None:
            numbers = self._numbers = _row_array(self.row_numbers)
        if not isinstance(number, int) or not numbers:
            return None
        i = number - numbers[0]             # where it is when no blank row came before it
        if not (0 <= i < len(numbers) and numbers[i] == number):
            i = bisect_left(numbers, number)
            if i == len(numbers) or numbers[i] != number:
                return None
        first, stop, rows = self._hot
        if not first <= i < stop:
            first, stop = self._spool.chunk_bounds(i)
            chunks = self._chunks
            rows = chunks.get(first)
            if rows is None:
                rows = chunks[first] = self._spool.chunk_rows(i)
                if len(chunks) > self.CACHED:
                    chunks.popitem(last=False)
            else:
                chunks.move_to_end(first)
            self._hot = first, stop, rows
        return self._make(*rows[i - first]).__dict__

    def row_numbers(self) -> Iterator[int]:
        """The Excel row of each row, in order, without making the rows."""
        if self._numbers is not None:
            return iter(self._numbers)
        return self.column("row")

    def close(self) -> None:
        self._spool.close()
        self._chunks.clear()
        self._hot = (0, 0, [])

    @property
    def closed(self) -> bool:
        return self._spool.closed

    def __repr__(self) -> str:
        return f"<SpooledRows of {len(self)} rows>"


def _row_array(numbers) -> array:
    """The Excel rows `numbers()` iterates (at most 1,048,576) as 4-byte integers: half of
    array("q")'s 8 bytes (5.5 MB for the 100,000-employee ratings sheet's 693,258 rows); read
    again into 8 bytes each should one not fit."""
    try:
        return array("i", numbers())
    except OverflowError:
        return array("q", numbers())


def close_spooled(*row_maps) -> None:
    """Closes every SpooledRows in these sheet → rows mappings (or period → sheet → rows)."""
    for rows in row_maps:
        for value in (rows or {}).values():
            if isinstance(value, SpooledRows):
                value.close()
            elif isinstance(value, dict):
                close_spooled(value)
