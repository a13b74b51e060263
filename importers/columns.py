"""A sheet's rows held by column (`ColumnRows`): the sheets that are not kept in files (the
master sheets: a 100,000-employee company's Employees sheet has 100,000 rows), as the import
types them, as the evaluation reads them, and as the reports hold them while they write; and
the rows looked up by a key (`RowsByKey`, `rows_by`: the rules' people by id) or taken in its
order (`sorted_rows`); one column's value by another's (`lookup`: a report writer's employee →
department or name). The module functions take a sheet's rows as either: held by column, or
a list of dicts (as a test or a library caller gives them).

Held as dicts, even dicts that share their table of keys (importers.memory.row_maker), each row
costs about 176 bytes before its values: the dict, its values and its Excel row number as an
object. Held by column — the Excel row numbers in one array, every other column in one list —
a row costs 8 bytes a column, and its values are the same objects. A row is made a dict again
each time it is read: equal to the dict it was, in the same order, and the reader's own.
"""
from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from decimal import Decimal
from itertools import pairwise
from typing import Iterator

from .memory import row_maker


class ColumnRows(Sequence):
    """One sheet's rows (dicts with the same keys, "row" — the Excel row — first), in their
    order, held by column: sized, indexed and iterated as the list of those dicts would be,
    and equal to it. Each row read is a new dict (change it freely: the rows held do not
    change)."""

    __slots__ = ("keys", "_numbers", "_columns", "_make", "_get")

    def __init__(self, keys: tuple[str, ...], rows=()):
        assert keys and keys[0] == "row", keys
        self.keys = tuple(keys)
        self._numbers = array("q")
        self._columns: tuple[list, ...] = tuple([] for _ in self.keys[1:])
        self._make = row_maker(self.keys)
        self._get = None
        rows = list(rows)
        if rows:
            if any(len(r) != len(self.keys) for r in rows):
                raise ValueError(f"rows of exactly the keys {self.keys} expected")
            self.extend_columns([[r[k] for r in rows] for k in self.keys])

    @classmethod
    def from_records(cls, keys: tuple[str, ...], records, shared: tuple[str, ...] = ()
                     ) -> "ColumnRows":
        """The rows given as sequences of values in `keys` order (as a query returns them), the
        equal values of each `shared` column made one object (evaluator.store.load_rows says
        why), without a dict made for any of them."""
        rows = cls(keys)
        columns = (rows._numbers, *rows._columns)
        seen = [{} if k in shared else None for k in rows.keys]
        for record in records:
            for column, value, same in zip(columns, record, seen):
                column.append(value if same is None else same.setdefault(same_key(value), value))
        return rows

    def extend_columns(self, columns, sharing: dict[str, dict] | None = None) -> None:
        """Adds rows given by column: the Excel rows, then each other key's values, in `keys`
        order, of the same length; refused (ValueError) before anything is added otherwise.
        `sharing` (column name -> a dict kept by the caller across calls): the equal values of
        those columns made one object as they are added (as from_records makes them) —
        the importer adds a sheet a chunk at a time, and a copy dropped at once leaves no hole
        in the memory the rows that follow it are held in."""
        columns = [list(c) for c in columns]
        if len(columns) != len(self.keys) or len({len(c) for c in columns}) > 1:
            raise ValueError(f"{len(self.keys)} columns of one length expected, got lengths "
                             f"{[len(c) for c in columns]}")
        self._numbers.extend(columns[0])
        for name, held, values in zip(self.keys[1:], self._columns, columns[1:]):
            same = sharing.get(name) if sharing else None
            held.extend(values if same is None else
                        [same.setdefault(same_key(v), v) for v in values])

    def column(self, name: str) -> Sequence:
        """The values of one key, in row order: the held column itself (do not change it)."""
        return self._numbers if name == "row" else self._columns[self.keys.index(name) - 1]

    def __len__(self) -> int:
        return len(self._numbers)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        get = self._get
        if get is None:
            get = self._get = _getter(self._make, self._numbers, self._columns)
        return get(i)

    def __iter__(self) -> Iterator[dict]:
        make = self._make
        for values in zip(self._numbers, *self._columns):
            yield make(*values).__dict__

    def by(self, key: str) -> "RowsByKey":
        """The rows by their value of `key`: a read-only mapping (for a key whose values repeat,
        the last row with the value, as a dict built from the rows would keep)."""
        return RowsByKey(self, key)

    def lookup(self, key: str, value: str) -> "ColumnLookup":
        """Column `value` by column `key` (`lookup` says how it is held)."""
        return ColumnLookup(self, key, value)

    def sorted_by(self, key: str) -> Iterator[dict]:
        """The rows in the order of their value of `key` (rows with equal values in their own
        order, as sorted() gives them), without holding them: by their positions in that order
        (`in_order`)."""
        for i in in_order(self.column(key)):
            yield self[i]

    def __eq__(self, other) -> bool:
        if isinstance(other, (ColumnRows, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None                     # equal to a list: unhashable as a list is

    def __reduce__(self):
        # row_maker's classes are made at run time, and pickle cannot name them
        return _unpickle, (self.keys, self._numbers, self._columns)

    def __repr__(self) -> str:
        return f"<ColumnRows {len(self)} rows: {', '.join(self.keys)}>"


def same_key(value):
    """What equal values that may be one object share: a number's value *as written* (its
    digits and exponent: Decimal("4") == Decimal("4.0"), but each is written as typed, so they
    are never one object), anything else itself."""
    if type(value) is Decimal:
        return Decimal, value.as_tuple()
    if type(value) is float:
        return float, value.hex()           # (0.0 == -0.0)
    return value


def _unpickle(keys, numbers, columns) -> ColumnRows:
    rows = ColumnRows(keys)
    rows._numbers, rows._columns = numbers, tuple(columns)
    return rows


def _getter(make, numbers, columns):
    """row i as a dict, compiled for these columns (a generator over the columns cost twice
    as much): rows are read by position by the rules' lookups (RowsByKey), by the reports'
    (reports.view.RowIndex) and in key order (`sorted_by`)."""
    args = ", ".join(f"c{k}[i]" for k in range(len(columns)))
    namespace = {"make": make, "numbers": numbers,
                 **{f"c{k}": c for k, c in enumerate(columns)}}
    exec(f"def get(i):\n    return make(numbers[i], {args}).__dict__", namespace)  # noqa: S102
    return namespace["get"]


class RowsByKey(Mapping):
    """A ColumnRows' rows by one key's value (ColumnRows.by): each row read is a new dict, as
    the ColumnRows gives it. What it holds is the key column's positions (`Positions`: nothing
    when the keys are in order; a dict of the rows themselves would hold them all, 17.6 MB more
    for 100,000 employees in the evaluation's child and each of its feed workers, and a dict of
    positions 6.3 MB)."""

    __slots__ = ("_rows", "_find", "_keys")

    def __init__(self, rows: ColumnRows, key: str):
        self._rows = rows
        self._keys = rows.column(key)
        self._find = Positions(self._keys).find

    def __getitem__(self, value) -> dict:
        i = self._find(value)
        if i is None:
            raise KeyError(value)
        return self._rows[i]

    def get(self, value, default=None):
        i = self._find(value)
        return default if i is None else self._rows[i]

    def value(self, value, name: str):
        """Column `name` of the row whose key is `value` (None: no such row), read in its
        column: no row is built (the evaluation asks for a rater's department per rating)."""
        i = self._find(value)
        return None if i is None else self._rows.column(name)[i]

    def __contains__(self, value) -> bool:
        return self._find(value) is not None

    def position(self, value) -> int | None:
        """Where the row whose key is `value` is among the rows (None: no such row): a
        number per key that costs nothing to keep (the ratings number their raters so)."""
        return self._find(value)

    def __iter__(self):
        return iter(dict.fromkeys(self._keys))      # each key once, where first met

    def __len__(self) -> int:
        return len(dict.fromkeys(self._keys))


def in_order(values: Sequence) -> Sequence[int]:
    """The positions of `values` in the order of the values (equal ones in their own order, as
    sorted() gives them): a range when they are in order already (a ledger's employees by id
    usually are), else an array (8 bytes a value; as a list, a Python int each: 3.8 MB for
    100,000 employees, held while the statement is written). TypeError: values that do not
    compare with each other."""
    if not any(b < a for a, b in pairwise(values)):
        return range(len(values))
    return array("q", sorted(range(len(values)), key=values.__getitem__))


class Positions:
    """Where each value of a key column is (`find`: its last position, as a dict built from the
    column keeps, or None), found by bisection: in the column itself when its values are in
    order (a ledger's employees by id usually are: nothing is held), else in the positions in
    key order (`in_order`: 8 bytes a row). Keys that do not compare with each other (not a
    ledger's: its ids are text) are held in a dict of positions. A dict of positions for
    100,000 employees was 6.3 MB (a Python int each); a bisection costs ≈ 0.3 µs more than a
    dict's lookup, a third of a second for the million lookups of a 100,000-employee month's
    evaluation."""

    __slots__ = ("_keys", "_order", "find")

    def __init__(self, keys: Sequence):
        self._keys = keys
        try:
            order = in_order(keys)
        except TypeError:
            self.find = {k: i for i, k in enumerate(keys)}.get
            return
        self._order = order
        self.find = self._in_keys if isinstance(order, range) else self._in_order

    def _in_keys(self, key) -> int | None:
        keys = self._keys
        try:
            i = bisect_right(keys, key) - 1
        except TypeError:                   # a key of another type than the column's
            return None
        return i if i >= 0 and keys[i] == key else None

    def _in_order(self, key) -> int | None:
        keys, order = self._keys, self._order
        try:
            j = bisect_right(order, key, key=keys.__getitem__) - 1
        except TypeError:
            return None
        return order[j] if j >= 0 and keys[order[j]] == key else None


def lookup(rows, key: str, value: str):
    """Column `value` of the rows by their column `key`, with a dict's `get` (for a key whose
    values repeat, the last row's, as a dict built from the rows keeps): for rows held by
    column, a ColumnLookup (`Positions`: at most 8 bytes a row; a report writer's employee →
    department as a dict was 3.7 MB at 100,000 employees, in each writer); else (a list of
    dicts) the dict itself."""
    if isinstance(rows, ColumnRows):
        return rows.lookup(key, value)
    return {r[key]: r.get(value) for r in rows}


def rows_by(rows, key: str) -> Mapping:
    """The rows by their value of `key`, read as a dict is (for a key whose values repeat, the
    last row): for rows held by column, a RowsByKey (`Positions`: none of them held as dicts);
    else (a list of dicts) the dict itself."""
    if isinstance(rows, ColumnRows):
        return rows.by(key)
    return {r[key]: r for r in rows}


def sorted_rows(rows, key: str) -> Iterator[dict]:
    """The rows in the order of their value of `key` (equal ones in their own order, as
    sorted() gives them): for rows held by column, by their positions (`ColumnRows.sorted_by`,
    none of them held as dicts); else sorted."""
    if isinstance(rows, ColumnRows):
        return rows.sorted_by(key)
    return iter(sorted(rows, key=lambda r: r[key]))


class ColumnLookup:
    """One column's value by another's (ColumnRows.lookup), found where `Positions` finds it."""

    __slots__ = ("_find", "_values")

    def __init__(self, rows: ColumnRows, key: str, value: str):
        self._find = Positions(rows.column(key)).find
        self._values = rows.column(value)

    def get(self, key, default=None):
        i = self._find(key)
        return default if i is None else self._values[i]

    def __contains__(self, key) -> bool:
        return self._find(key) is not None
