"""What an auditor and HR ask of the stored history: the audit chain recomputed (`verify`),
what each period holds (`status`), a period closed and reopened (SPEC §11.1) and its state,
and what a run holds (`firings`, `ledger_rows`: iterators, read in batches).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import sqlalchemy as sa
from sqlmodel import Session, select

from xietong import i18n
from xietong.api.base import Conflict, Database, Refused, _aware, _existing
from xietong.api.month import _write_checkpoint


# --------------------------------------------------------------------------- verify, status

@dataclass
class VerifyResult:
    ok: bool
    checked: int                   # chained records checked
    problem: str | None            # the first record changed, missing, inserted or out of order
    head_seq: int                  # the newest link verified: auditors note it down
    head_hash: str
    checkpoint_seq: int = 0        # the link of the checkpoint this verify wrote (0: none)
    checkpoint_error: str | None = None   # why none could be written (e.g. a read-only account)


def verify(db: Database, period: str | None = None, *, lang: str | None = None,
           account: str | None = None) -> VerifyResult:
    """Recompute the audit chain (SPEC §6); `period` narrows the ledger-row checks to it.
    Refused ("nothing to verify") when the database, or the period, holds no import: a green
    check over nothing would tell an auditor nothing.

    A verify of the whole database that passed writes a checkpoint (SPEC §10.8; `account`: the
    desk's account that asked, chained with it), from which `run` and `report` verify
    incrementally. The chain is read without the write lock; the checkpoint is then written
    in a short write transaction. When it cannot be (a database user who may only read), the
    verification still stands and `checkpoint_error` says why."""
    from evaluator.chain import verify as verify_chain
    from evaluator.db import LedgerImport, reader
    _existing(db, lang)
    with Session(reader(db.engine)) as session, session.begin():
        q = select(LedgerImport.id).limit(1)
        if period is not None:
            q = q.where(LedgerImport.period == period)
        if session.exec(q).first() is None:
            key = "verify_nothing" if period is None else "verify_nothing_period"
            raise Refused([i18n.t(lang, key, url=db.shown_url, period=period)])
        r = verify_chain(session, period)
    result = VerifyResult(r.ok, r.checked, r.problem.pick(lang) if r.problem else None,
                          r.head_seq, r.head_hash)
    if r.ok and period is None:
        result.checkpoint_seq, result.checkpoint_error = _write_checkpoint(db.engine, r, account)
    return result


@dataclass
class PeriodStatus:
    period: str
    active_import: dict | None     # {"import_id", "file_name", "sha256", "imported_at"}
    latest_run: dict | None        # {"run_id", "finished_at", "out_of_date"}
    adjustments: int
    exceptions: int
    reviews_open: int
    reviews_decided: int
    closed: dict | None = None     # {"at", "by", "reason"} while the period is closed


def status(db: Database, period: str | None = None) -> list[PeriodStatus]:
    """What the database holds, per period (all periods, or one): the active import, the
    latest run and whether a newer import or decision makes it out of date, and the counts of
    the latest run's adjustments, exceptions and reviews."""
    from evaluator.db import (Adjustment, Decision, ExceptionItem, ImportActivation,
                              LedgerImport, reader)
    from evaluator.periods import state
    from evaluator.runs import latest_run
    from evaluator.store import active_import
    out = []
    if not db.exists():
        return out
    with Session(reader(db.engine)) as session, session.begin():
        q = select(LedgerImport.period).distinct().order_by(LedgerImport.period)
        if period is not None:
            q = q.where(LedgerImport.period == period)
        for p in session.exec(q).all():
            imp = active_import(session, p)
            run = latest_run(session, p)
            active = None if imp is None else {
                "import_id": imp.id, "file_name": imp.file_name, "sha256": imp.sha256,
                "imported_at": _aware(imp.imported_at)}
            latest, counts = None, (0, 0, 0, 0)
            if run is not None:
                newest = [session.exec(select(sa.func.max(c)).where(w == p)).one()
                          for c, w in ((LedgerImport.imported_at, LedgerImport.period),
                                       (ImportActivation.activated_at, ImportActivation.period),
                                       (Decision.decided_at, Decision.period))]
                latest = {"run_id": run.id, "finished_at": _aware(run.finished_at),
                          "out_of_date": any(t is not None and _aware(t) > _aware(run.started_at)
                                             for t in newest)}
                adj = session.exec(select(sa.func.count()).select_from(Adjustment)
                                   .where(Adjustment.run_id == run.id)).one()
                by_status = dict(session.exec(
                    select(ExceptionItem.status, sa.func.count())
                    .where(ExceptionItem.run_id == run.id, ExceptionItem.type == "review")
                    .group_by(ExceptionItem.status)).all())
                exc = session.exec(select(sa.func.count()).select_from(ExceptionItem)
                                   .where(ExceptionItem.run_id == run.id)).one()
                counts = (adj, exc, by_status.get("open", 0),
                          sum(n for s, n in by_status.items() if s != "open"))
            st = state(session, p)
            closed = {"at": st.since, "by": st.by, "reason": st.reason} if st.closed else None
            out.append(PeriodStatus(p, active, latest, *counts, closed))
    return out


# --------------------------------------------------------------------------- close and reopen

def _who() -> str:
    """Who runs a command from a terminal: the operating system's user name."""
    import getpass
    try:
        return getpass.getuser()
    except Exception:                   # noqa: BLE001 - no user name in this environment
        return "unknown"


def close_period(db: Database, period: str, *, reason: str | None = None, by: str | None = None,
                 with_open_reviews: bool = False, lang: str | None = None):
    """Close `period` (SPEC §11.1): its figures become final and it refuses every change until
    reopened. `by`: the account (the desk), else the system user. Returns the chained record."""
    from evaluator.periods import PeriodRefused, close
    _existing(db, lang)
    try:
        return close(db.engine, period, by or _who(), reason,
                     with_open_reviews=with_open_reviews, lang=lang)
    except PeriodRefused as e:
        raise Refused(e.lines) from None


def reopen_period(db: Database, period: str, *, reason: str, by: str | None = None,
                  lang: str | None = None):
    """Reopen a closed period, saying why. Returns the chained record."""
    from evaluator.periods import PeriodRefused, reopen
    _existing(db, lang)
    try:
        return reopen(db.engine, period, by or _who(), reason, lang=lang)
    except PeriodRefused as e:
        raise Refused(e.lines) from None


def period_state(db: Database, period: str):
    """Whether `period` is closed, since when, by whom and why (evaluator.periods.PeriodState)."""
    from evaluator.db import reader
    from evaluator.periods import PeriodState, state
    if not db.exists():
        return PeriodState(period, False, None, None, None)
    with Session(reader(db.engine)) as session, session.begin():
        return state(session, period)


def period_is_closed(db: Database, period: str) -> bool:
    """Whether the period is closed (SPEC §11.1): the desk answers a change to it with 409."""
    return period_state(db, period).closed


def refuse_if_closed(db: Database, period: str, lang: str | None = None) -> None:
    """Conflict when `period` is closed, saying since when, by whom and how to reopen (the
    commands' own words). The library's writers check again inside their transactions."""
    from evaluator.periods import PeriodRefused, refuse_if_closed as check
    from evaluator.db import reader
    if not db.exists():
        return
    with Session(reader(db.engine)) as session, session.begin():
        try:
            check(session, period, lang)
        except PeriodRefused as e:
            raise Conflict(e.lines) from None


# --------------------------------------------------------------------------- what a run holds

def firings(db: Database, period: str) -> Iterator[dict]:
    """The latest run's firings in order, as trace.json entries: {"seq", "rule", "sources":
    [{"sheet", "row"}], "outcome"}. Refused when the period has no run."""
    from evaluator.db import reader
    from evaluator.runs import iter_firings, latest_run, refusal
    from reports.json_files import source_entries
    # read from the database in batches as the caller consumes them: one batch in memory, not
    # the millions of firings of a big month (the read transaction stays open meanwhile)
    with Session(reader(db.engine)) as session, session.begin():
        run = latest_run(session, period)
        if run is None:
            raise Refused([refusal("en", "no_run", period=period)])
        for f in iter_firings(session, run.id):
            yield {"seq": f["seq"], "rule": f["rule"],
                   "sources": source_entries(f["sources"]),
                   "outcome": f["outcome"]}


def ledger_rows(db: Database, period: str, sheet: str) -> Iterator[dict]:
    """The typed rows of one sheet (canonical English name, e.g. "Behaviours") of the period's
    active ledger, in Excel-row order, each with its "row" number."""
    from evaluator.db import reader
    from evaluator.runs import iter_ledger_rows, refusal
    from evaluator.store import active_import
    from importers.schema import SHEET_BY_NAME
    if sheet not in SHEET_BY_NAME:
        raise ValueError(f"unknown sheet {sheet!r}: expected one of {', '.join(SHEET_BY_NAME)}")
    with Session(reader(db.engine)) as session, session.begin():
        imp = active_import(session, period)
        if imp is None:
            raise Refused([refusal("en", "no_import", period=period)])
        yield from iter_ledger_rows(session, imp.id, sheet)      # in batches, as firings()
