"""One evaluation of a ledger: the five mechanisms fired in one safe engine, reconciled, and
turned into ordered adjustments, exceptions, trace and finals (SPEC §5). No database here:
`evaluator/runs.py` reads the inputs and stores what this returns.

The trace is spooled (importers/spool.py): its entries go to a temporary file in chunks as the
rules fire, and the reconciliation keeps what it needs per ledger row meanwhile, so that no
process holds every firing of a big month.

The mechanisms run in this order because the blends average the ratings that the rating rules
counted; the *output* order is SPEC §5.7's, whatever the run order.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Mapping

from engine import MIN_PARALLEL_ROWS, Evaluation
from importers.spool import Spool
from importers.memory import gc_paused
from importers.schema import TRANSACTION_SHEETS
from rules.finals import finals
from rules import behaviour, blends, deadlines, interlocks, linkage, ratings
from rules.books import BOOKS
from rules.context import Context, Keyed, TraceEntry, results_of
from rules.exceptions import KIND_BY_NAME
from rules.months import is_quarter_end, quarter_months
from rules.policy import Policy
from rules.sources import qualify

# the firings that end a transaction row (of their first source) other than a rejection
ENDINGS = {"behaviour.accept": "applied", "rating.accept": "applied",
           "rating.carried": "carried"}


class ReconciliationFailed(RuntimeError):
    """The evaluation's counts do not add up: a bug, never a user error. Nothing is stored."""


@dataclass
class Evaluated:
    """An evaluation's results. `trace`: every firing's rules.context.TraceEntry in order, in a
    spool (iterable as often as needed, with a length; importers/spool.py) — or a list, when made
    by hand. Pickled (it crosses the pipe from the evaluation's child, engine.isolation), a
    spool goes as the index of its file, not its entries."""
    period: str
    adjustments: list[dict] | Spool     # a spool of records (adjustment,): adjustments_to
    exceptions: list[dict] | Spool      # a spool of records (exception,): exceptions_to
    trace: Spool | list[TraceEntry]
    departments: dict[str, dict] | None          # None: not computed (evaluate_ledger's finals)
    employees: dict[str, dict] | None
    counts: dict = field(default_factory=dict)


# Records per chunk of the evaluation's adjustments and exceptions on their files: the chunk
# being filled is what is held of them while the rules run. Results are kept on files because
# held, they grew with the company through the evaluation's transient batches and pinned the
# memory those batches freed (at 100,000 employees, 41,000 rating exceptions by the end of the
# InternalRatings sheet: ≈ 25 MB of objects, more in the pages they kept from being reused).
RESULTS_CHUNK = 2048


def default_workers() -> int:
    """Processes an evaluation may feed rows on: XIETONG_WORKERS if set (1 = never fork a
    worker), else the cores this process may use, at most 4 (the merge is serial)."""
    value = os.environ.get("XIETONG_WORKERS", "").strip()
    if value.isdigit() and int(value) >= 1:
        return int(value)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4)) if hasattr(os, "fork") else 1


def evaluate_ledger(rows: Mapping[str, Iterable[dict]], policy: Policy, period: str,
                    decisions: dict[str, str] | None = None, progress=None,
                    workers: int | None = None,
                    min_parallel_rows: int = MIN_PARALLEL_ROWS,
                    history: Mapping[str, Mapping[str, Iterable[dict]]] | None = None,
                    standing: dict[str, deadlines.Standing] | None = None,
                    clock: datetime | None = None, trace: Spool | None = None,
                    finals: bool = True, adjustments_to: Spool | None = None,
                    exceptions_to: Spool | None = None) -> Evaluated:
    """progress(phase, done, total, unit), if given, hears of the facts fed as they go.
    `rows`: sheet → its rows, each sheet a list or a sized iterable in Excel-row order that
    can be read again (importers.spooled.SpooledRows: evaluate_period's transaction sheets,
    read from files).
    `workers` (default: default_workers()) and `min_parallel_rows` go to the Evaluation: the
    results are the same whichever they are (Evaluation.feed_many).
    `history`: the other months' active rows the policy reads (period → sheet → rows, as
    rules.months.other_months names them; a month without an import is left out): quarterly
    ratings, LINKAGE_CHANGED, the frequent-proposer window (SPEC §11.5–§11.9).
    `standing` (review id → rules.deadlines.Standing: the items earlier runs of the period
    raised) and `clock` (the evaluation's start) let open items past their deadline move up
    (SPEC §11.4); without them no item moves.
    `trace`: the spool the trace goes to, emptied first (evaluator.runs makes it before it
    forks the evaluation's child, and so removes it whatever happens to the child); without
    one the evaluation makes its own, an unnamed temporary file in TMPDIR that is gone once
    the returned result is (or its trace is closed).
    `finals`: the result's departments and employees (rules.finals) are computed; without,
    they are None — evaluator.runs stores the adjustments, and every report sums its finals
    from those (at 100,000 employees the finals were 30 MB of the evaluation's peak, sent back
    to be dropped).
    `adjustments_to`: a spool (emptied first) that the ordered adjustments go to, a record
    (adjustment,) each, and that is the result's `adjustments` — put in order on files, never
    held (Context.ordered_adjustments); without one they are a list. Only without finals.
    `exceptions_to`: the same for the exceptions, a record (exception,) each
    (Context.ordered_exceptions); read them, held or on a file, with rules.context.results_of."""
    if finals and adjustments_to is not None:
        raise ValueError("the finals are summed from adjustments held, not spooled")
    spool = trace if trace is not None else Spool(TraceEntry)
    spool.clear()
    # the adjustments and exceptions as they are made, on files until the end (RESULTS_CHUNK)
    results = Spool(Keyed, chunk=RESULTS_CHUNK), Spool(Keyed, chunk=RESULTS_CHUNK)
    try:
        ctx = Context(period=period, policy=policy, rows=rows, kinds=KIND_BY_NAME,
                      decisions=dict(decisions or {}), trace=spool, endings=ENDINGS,
                      progress=progress, history=dict(history or {}),
                      adjustments=results[0], exceptions=results[1])
        with gc_paused(), Evaluation(list(BOOKS), keep_firings=False,
                                     workers=workers or default_workers(),
                                     min_parallel_rows=min_parallel_rows) as ev:
            counted = ratings.run(ev, ctx)
            linkage.run(ev, ctx)
            blends.run(ev, ctx, counted)
            interlocks.run(ev, ctx)
            behaviour.run(ev, ctx)
            exceptions = ctx.ordered_exceptions(exceptions_to)  # every item is raised by now
            # last: it moves items raised
            deadlines.run(ev, ctx, results_of(exceptions, changing=True), standing, clock)
            rec = ev.reconcile(require_fired=True)
        if progress is not None:
            progress("evaluate", ctx.fed, ctx.fed, "facts")
        with gc_paused():
            _reconcile(ctx, rec, exceptions)
            adjustments = ctx.ordered_adjustments(adjustments_to)
            departments, employees = _finals(rows, adjustments) if finals else (None, None)
    finally:
        for r in results:
            r.close()
    counts = {"rows": {s: len(v) for s, v in rows.items()}, "facts_fed": rec.fed,
              "firings": rec.firings, "adjustments": len(adjustments),
              "exceptions": len(exceptions), "by_rule": dict(sorted(rec.by_rule.items()))}
    return Evaluated(period, adjustments, exceptions, spool, departments, employees, counts)


def _reconcile(ctx: Context, rec, exceptions: list[dict] | Spool) -> None:
    """No silent loss: every fed fact was seen, every firing recorded, and every transaction
    row of the period ended exactly one way: applied (accepted), rejected with a reason, or —
    a rating under the quarterly cadence before its quarter's end — carried to the quarter's
    last month. So did every earlier month's rating evaluated at a quarter's end. The firings
    that applied or carried a row were marked per row as they were recorded (Context.endings):
    the trace itself is not read back."""
    problems = []
    if rec.fed != ctx.fed:
        problems.append(f"{ctx.fed} facts fed, the engine saw {rec.fed}")
    if rec.firings != len(ctx.trace):
        problems.append(f"{rec.firings} firings, {len(ctx.trace)} recorded")
    rejected = {}
    for e in results_of(exceptions):
        if e["type"] == "rejection":
            for sheet, row in e["sources"][:1]:
                rejected.setdefault(sheet, set()).add(row)
    ended = ctx.row_ended
    sheets = [(sheet, ctx.rows.get(sheet, [])) for sheet in TRANSACTION_SHEETS]
    for sheet in ratings.SHEETS:
        if ratings.quarterly(ctx, sheet) and is_quarter_end(ctx.period):
            sheets += [(qualify(sheet, month), ctx.month_sheet(month, sheet))
                       for month in quarter_months(ctx.period)[:2]]
    for sheet, rows in sheets:
        rejected_here = rejected.get(sheet, set())
        numbers = rows.row_numbers() if hasattr(rows, "row_numbers") else (r["row"] for r in rows)
        for row in numbers:            # (a SpooledRows gives its rows' numbers without the rows)
            ways = (ended("applied", sheet, row), row in rejected_here,
                    ended("carried", sheet, row))
            if sum(ways) != 1:
                problems.append(f"{sheet} row {row} ended "
                                + ("two ways (applied, rejected, carried)" if sum(ways)
                                   else "neither applied, rejected nor carried"))
    if problems:
        raise ReconciliationFailed("; ".join(problems[:20]))


def _finals(rows, adjustments):
    """Finals per department and employee: the statement's sums (rules.finals), keyed by id."""
    st = finals(rows, adjustments)
    keep_d = ("dept_id", "base", "by_mechanism", "final")
    keep_e = ("employee_id", "base", "behaviour", "final")
    return ({d["dept_id"]: {k: d[k] for k in keep_d} for d in st["departments"]},
            {e["employee_id"]: {k: e[k] for k in keep_e} for e in st["employees"]})
