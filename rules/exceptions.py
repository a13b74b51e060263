"""The catalog of exception kinds (SPEC §5), gathered from the rule books that declare them, and
the review ids of exceptions (SPEC §6).

Each kind is declared once, with the rule that raises it (rules/kinds.py): `KINDS` lists them in
SPEC §5's order — the books in the order of its tables, each book's kinds in the order it
declares them — and that position breaks ties between exceptions on one source row (SPEC §5.7).

A review id is a short stable hash of (period, kind, review key), so the same finding in a
corrected ledger keeps its id and a manager's decision still finds its item:

    >>> review_id("2026-11", "RATING_EXTREME", ("InternalRatings", "R7"))
    'R0d80f0717616'
    >>> review_id_for("2026-11", "INTERLOCK_MISSED", metric_id="M1", dept_id="D3")
    'Rc18bb1fc1e3e'

Who decides is rules/assignees.py (its names are re-exported here for the callers that look for
them beside the kinds). Pure: no database, no engine run.
"""
from __future__ import annotations

from typing import Iterable, Mapping

from rules import behaviour, blends, interlocks, linkage, ratings
from rules.assignees import (HR, assignee, behaviour_review_assignee,  # noqa: F401  (re-exported)
                             interlock_review_assignee, rating_review_assignee)
from rules.kinds import MECHANISMS, REJECTION, REVIEW, ExceptionKind  # noqa: F401  (re-exported)
from rules.sources import base

# In SPEC order: §5.1 behaviours, §5.2 ratings, §5.3 linkage (LINKAGE_CHANGED, §11.7),
# §5.4 peripheral, §5.6 interlocks.
KINDS: tuple[ExceptionKind, ...] = (*behaviour.KINDS, *ratings.KINDS, *linkage.KINDS,
                                    *blends.KINDS, *interlocks.KINDS)
KIND_BY_NAME: Mapping[str, ExceptionKind] = {k.kind: k for k in KINDS}
KIND_ORDER: Mapping[str, int] = {k.kind: i for i, k in enumerate(KINDS)}

_SHEET_MECHANISM = {"InternalRatings": "peripheral", "RaciRatings": "raci"}


def kind_info(kind: str) -> ExceptionKind:
    try:
        return KIND_BY_NAME[kind]
    except KeyError:
        raise ValueError(f"unknown exception kind {kind!r}") from None


def mechanism_for(kind: str, sheet: str | None = None) -> str:
    """The mechanism an exception is listed under (SPEC §5.7 order): a rating kind follows its
    sheet (InternalRatings → peripheral, RaciRatings → raci)."""
    info = kind_info(kind)
    sheet = None if sheet is None else base(sheet)       # another month's sheet: its own
    if sheet in _SHEET_MECHANISM and len(info.mechanisms) > 1:
        return _SHEET_MECHANISM[sheet]
    return info.mechanism


def review_id(period: str, kind: str, key_parts: Iterable[str]) -> str:
    """The stable id of an exception of `kind` (ExceptionKind.review_id), e.g.
    review_id("2026-11", "RATING_EXTREME", ("InternalRatings", "R7"))."""
    return kind_info(kind).review_id(period, key_parts)


def review_id_for(period: str, kind: str, **fields: str) -> str:
    """review_id with the key given by name: review_id_for(p, "BEH_NO_EVIDENCE", event_id="B1")."""
    names = kind_info(kind).key
    missing = [n for n in names if n not in fields]
    if missing or len(fields) != len(names):
        raise ValueError(f"{kind} is keyed by {names}, got {sorted(fields)}")
    return review_id(period, kind, [fields[n] for n in names])
