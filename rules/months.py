"""Months, quarters, and which other months' ledgers an evaluation reads (SPEC §11.5–§11.9).

A month's evaluation reads the month's active ledger, and under some policies rows of other
months' active ledgers too:

* quarterly ratings (`[peripheral] cadence`, `[raci] cadence` = "quarterly", SPEC §11.5): in a
  quarter's last month (03, 06, 09, 12), the rating rows of the quarter's two earlier months;
* LINKAGE_CHANGED (SPEC §11.7): the previous month's Linkage rows (in the revision month too:
  the trace then says the matrix changed, `linkage.revised`, without a notice);
* `[behaviour] frequent_window_months` = N > 1 (SPEC §11.9): the N − 1 months before the
  period — their Behaviours rows, screened against their own master data (Employees,
  Departments, Projects).

`other_months(policy, period)` says which months and sheets; the evaluator reads them from the
database (a month without an active import simply has no rows) and hands them to the
evaluation as `history` (period → sheet → rows).

    >>> quarter_months("2026-02")
    ('2026-01', '2026-02', '2026-03')
    >>> months_before("2026-01", 2)
    ('2025-11', '2025-12')
    >>> quarter_of("2026-11"), months_of_quarter("2026-Q4")
    ('2026-Q4', ('2026-10', '2026-11', '2026-12'))
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rules.policy import Policy

RATING_SHEETS = ("InternalRatings", "RaciRatings")
MASTER_SHEETS = ("Departments", "Employees", "Projects")


def _ym(period: str) -> tuple[int, int]:
    year, month = period.split("-")
    return int(year), int(month)


def _period(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def shift(period: str, months: int) -> str:
    """The month `months` after `period` (before, when negative)."""
    year, month = _ym(period)
    index = year * 12 + month - 1 + months
    return _period(index // 12, index % 12 + 1)


def months_before(period: str, n: int) -> tuple[str, ...]:
    """The n months before `period`, oldest first."""
    return tuple(shift(period, -k) for k in range(n, 0, -1))


def quarter_months(period: str) -> tuple[str, str, str]:
    """The three months of the quarter `period` is in."""
    year, month = _ym(period)
    first = (month - 1) // 3 * 3 + 1
    return tuple(_period(year, m) for m in range(first, first + 3))


def is_quarter_end(period: str) -> bool:
    return _ym(period)[1] % 3 == 0


def quarter_end(period: str) -> str:
    """The last month of `period`'s quarter."""
    return quarter_months(period)[2]


def quarter_of(period: str) -> str:
    """"2026-Q4" for 2026-10, 2026-11, 2026-12."""
    year, month = _ym(period)
    return f"{year:04d}-Q{(month - 1) // 3 + 1}"


def months_of_quarter(quarter: str) -> tuple[str, str, str]:
    """The months of "2026-Q4"."""
    year, q = quarter.split("-Q")
    return quarter_months(_period(int(year), (int(q) - 1) * 3 + 1))


def months_of_year(year: int | str) -> tuple[str, ...]:
    return tuple(_period(int(year), m) for m in range(1, 13))


def rating_sheets_at_quarter_end(policy: Policy) -> tuple[str, ...]:
    """The rating sheets whose cadence is quarterly: evaluated at the quarter's end."""
    return tuple(sheet for sheet, quarterly in (("InternalRatings", policy.peripheral.quarterly),
                                                ("RaciRatings", policy.raci.quarterly))
                 if quarterly)


def other_months(policy: Policy, period: str) -> dict[str, tuple[str, ...]]:
    """Which sheets of which other months' active ledgers the evaluation of `period` under
    `policy` reads (period → sheets), oldest month first."""
    wanted: dict[str, set[str]] = {}
    quarterly = rating_sheets_at_quarter_end(policy)
    if quarterly and is_quarter_end(period):
        for month in quarter_months(period)[:2]:
            wanted.setdefault(month, set()).update(quarterly)
    wanted.setdefault(shift(period, -1), set()).add("Linkage")
    window = policy.behaviour.frequent_window_months
    for month in months_before(period, window - 1):
        wanted.setdefault(month, set()).update(("Behaviours", *MASTER_SHEETS))
    return {month: tuple(sorted(wanted[month])) for month in sorted(wanted)}
