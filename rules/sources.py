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

Pure: names only.
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
