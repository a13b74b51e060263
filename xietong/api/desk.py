"""What the desk (SPEC §12) needs beyond the commands: periods with their state and runs
with their hashes, the latest run's scores, the trace browser's pages, background evaluations
(xietong.jobs) and the notifications (`notify`, also `xietong notify`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

from xietong.api.base import (Conflict, Database, database_language, NotFound, Progress, Refused,
                              _aware, _engine, _existing, _latest_run_or_404, _words)
from xietong.api.audit import refuse_if_closed, status
from xietong.api.reviewing import review_workbook, reviews


# --------------------------------------------------------------------------- periods and runs

def periods(db: Database) -> list[dict]:
    """GET /api/periods: every period with its state, active import, latest run and open
    reviews (SPEC §12)."""
    out = []
    for s in status(db):
        imp = s.active_import
        run = s.latest_run
        out.append({
            "period": s.period,
            "state": "closed" if s.closed else "open",
            "closed": None if s.closed is None else {
                "at": _aware(s.closed["at"]).isoformat() if s.closed["at"] else None,
                "by": s.closed["by"], "reason": s.closed["reason"]},
            "active_import": None if imp is None else {
                "import_id": imp["import_id"], "file_name": imp["file_name"],
                "sha256": imp["sha256"], "imported_at": imp["imported_at"].isoformat()},
            "latest_run": None if run is None else {
                "run_id": run["run_id"], "finished_at": run["finished_at"].isoformat(),
                "out_of_date": run["out_of_date"], "adjustments": s.adjustments,
                "exceptions": s.exceptions, "reviews_decided": s.reviews_decided},
            "open_reviews": s.reviews_open,
        })
    return out


def period_names(db: Database) -> list[str]:
    """The periods that have an import, newest first (without status()'s counts)."""
    from evaluator.db import LedgerImport, reader
    if not db.exists():
        return []
    with Session(reader(_engine(db))) as session, session.begin():
        return list(session.exec(select(LedgerImport.period).distinct()
                                 .order_by(LedgerImport.period.desc())))


def runs(db: Database, period: str | None = None) -> list[dict]:
    """Every run (newest first) with its hashes, counts, who asked for it, and its link in the
    audit chain (seq, hash) — what an auditor compares."""
    from evaluator.db import ChainLink, LedgerImport, Run, reader
    import json
    if not db.exists():
        return []
    out = []
    with Session(reader(_engine(db))) as session, session.begin():
        q = select(Run, LedgerImport.file_name, ChainLink.seq, ChainLink.hash).join(
            LedgerImport, LedgerImport.id == Run.import_id).join(
            ChainLink, (ChainLink.record_type == "run") & (ChainLink.record_id == Run.id),
            isouter=True).where(Run.finished_at != None).order_by(Run.id.desc())  # noqa: E711
        if period is not None:
            q = q.where(Run.period == period)
        for run, file_name, seq, link in session.exec(q):
            counts = json.loads(run.counts or "{}")
            out.append({"run_id": run.id, "period": run.period, "import_id": run.import_id,
                        "file_name": file_name, "file_sha256": run.file_sha256,
                        "policy_sha256": run.policy_sha256, "rules_version": run.rules_version,
                        "program_version": run.program_version,
                        "decisions_digest": run.decisions_digest,
                        "started_at": _aware(run.started_at).isoformat(),
                        "finished_at": _aware(run.finished_at).isoformat(),
                        "firings": counts.get("firings"), "adjustments": counts.get("adjustments"),
                        "exceptions": counts.get("exceptions"), "account": run.account,
                        "by_rule": counts.get("by_rule", {}),
                        "chain_seq": seq, "chain_hash": link})
    return out


def scores(db: Database, period: str, *, lang: str | None = None) -> dict:
    """The scores.json object of the period's latest run (SPEC §8), read from its adjustments
    and the two sheets with base scores — not the whole run."""
    from evaluator.db import Adjustment, reader
    from evaluator.canonical import parse_sources
    from reports.json_files import _scores
    from xietong.review_items import load_sheets
    _existing(db, lang)
    with Session(reader(_engine(db))) as session, session.begin():
        run = _latest_run_or_404(session, period, lang)
        rows = load_sheets(session, run.import_id, ("Departments", "Employees"))
        table = Adjustment.__table__
        result = session.connection().execute(
            sa.select(table).where(table.c.run_id == run.id).order_by(table.c.ord))
        keys = tuple(result.keys())
        adjustments = [dict(zip(keys, r)) for r in result]
    for a in adjustments:
        a["sources"] = parse_sources(a["sources"])
    return _scores(period, rows, {"adjustments": adjustments})


# --------------------------------------------------------------------------- the trace browser

def trace_page(db: Database, period: str, *, subject: str | None = None, rule: str | None = None,
               mechanism: str | None = None, sheet: str | None = None, result: str | None = None,
               review: str | None = None, offset: int = 0, limit: int = 50,
               run_id: int | None = None, lang: str | None = None):
    """One page of the latest run's firings (or `run_id`'s), filtered on the server
    (xietong.trace_index); the run's firings are indexed on first use."""
    from evaluator.db import Run, reader
    from xietong import trace_index
    engine = _engine(_existing(db, lang))
    with Session(reader(engine)) as session, session.begin():
        if run_id is None:
            run = _latest_run_or_404(session, period, lang)
        else:
            run = session.get(Run, run_id)
            if run is None or run.period != period:
                raise NotFound([_words(lang, "no_such_run", run=run_id)])
        run_id = run.id
    if not trace_index.is_indexed(engine, run_id):
        trace_index.build(engine, run_id)
    return trace_index.query(engine, run_id, subject=subject, rule=rule, mechanism=mechanism,
                             sheet=sheet, result=result, review=review,
                             offset=max(0, offset), limit=max(1, min(limit, 500)))


def index_trace(db: Database, run_id: int, progress: Progress | None = None) -> int:
    """Index a run's firings for the trace browser now (the desk's job does it after a run)."""
    from xietong import trace_index
    return trace_index.build(_engine(db), run_id, progress)


# --------------------------------------------------------------------------- background evaluations

def start_evaluation(db: Database, period: str, data_dir, *, account: str | None = None,
                     lang: str | None = None) -> int:
    """Start evaluating `period` in a process of its own (xietong.jobs); the job id at once.
    Conflict when the period is closed or another evaluation of it is queued or running;
    Refused when it has no ledger."""
    from evaluator.db import reader
    from evaluator.store import active_import
    from xietong import jobs
    lang = lang or "en"
    engine = _engine(_existing(db, lang))
    refuse_if_closed(db, period, lang)
    with Session(reader(engine)) as session, session.begin():
        if active_import(session, period) is None:
            from evaluator.runs import refusal
            raise NotFound([refusal(lang, "no_import", period=period)])
    try:
        return jobs.start(engine, db.url, period, data_dir, account=account, lang=lang)
    except jobs.JobBusy as busy:
        j = busy.job
        raise Conflict([_words(lang, "job_busy", period=period, job=j.id, who=j.account or "?",
                               since=_aware(j.created_at).strftime("%Y-%m-%d %H:%M UTC"))]) from None


def job(db: Database, job_id: int, data_dir, *, lang: str | None = None) -> dict:
    """A job: {"job_id", "period", "state", "run_id", "message" (in `lang`), "progress", …};
    NotFound when there is none."""
    import json
    from xietong import jobs
    found = jobs.get(_engine(db), job_id, data_dir)
    if found is None:
        raise NotFound([_words(lang, "no_such_job", job=job_id)])
    text = found["message"]
    if text and text.startswith("{"):
        try:
            coded = json.loads(text)
            text = _words(lang, coded["key"], **coded["values"])
        except (ValueError, KeyError, TypeError):
            pass
    found["message"] = text
    for k in ("created_at", "started_at", "finished_at"):
        found[k] = None if found[k] is None else _aware(found[k]).isoformat()
    return found


def jobs_of(db: Database, period: str | None = None, data_dir=None, *,
            lang: str | None = None) -> list[dict]:
    from xietong import jobs
    return [job(db, j.id, data_dir, lang=lang) for j in jobs.listing(_engine(db), period)]


# --------------------------------------------------------------------------- notifications

@dataclass
class Notice:
    assignee_id: str
    name: str
    email: str | None
    open_items: int
    attachment: Path | None


@dataclass
class NotifyResult:
    period: str
    sent: list[Notice]
    without_address: list[Notice]          # listed for HR: no account with an e-mail address
    would_send: list[Notice]               # nothing sent: no SMTP server configured


def notify(db: Database, period: str, *, smtp_url: str | None, mail_from: str | None,
           desk_url: str | None, work_dir, lang: str | None = None) -> NotifyResult:
    """E-mail every assignee with open review items (SPEC §12): their review workbook attached
    and a link to the desk, through the SMTP server `smtp_url` (smtp://user:pass@host:port or
    smtp+starttls://…) from `mail_from`. Addresses come from the desk's manager accounts bound
    to the assignee's employee id. Without `smtp_url` nothing is sent: `would_send` lists what
    would be. Refused when the period has no run."""
    from xietong import mail
    from xietong.accounts import by_employee
    lang = lang or database_language(db, period) or "en"
    open_items: dict[str, int] = {}
    for it in reviews(db, period, type="review", status="open").items:
        open_items[it["assignee_id"]] = open_items.get(it["assignee_id"], 0) + 1
    people = by_employee(_engine(db))
    names = {}
    if open_items:
        from evaluator.db import reader
        from xietong import review_items
        with Session(reader(_engine(db))) as session, session.begin():
            runs_ = review_items.latest_runs(session, period)
            import_id = next(iter(runs_.values()))[1]
            names = review_items._names(session.connection(), import_id, set(open_items))
    notices = []
    for assignee in sorted(open_items):
        person = people.get(assignee)
        notices.append(Notice(assignee, (person.name if person and person.name else None)
                              or names.get(assignee, assignee),
                              person.email if person else None, open_items[assignee], None))
    reachable = [n for n in notices if n.email]
    missing = [n for n in notices if not n.email]
    if not smtp_url:
        return NotifyResult(period, [], missing, reachable)
    if reachable and not mail_from:
        raise Refused([_words(lang, "mail_from_missing")])
    work_dir = Path(work_dir)
    for n in reachable:
        n.attachment = review_workbook(db, period, n.assignee_id, work_dir / n.assignee_id,
                                       lang=lang)
    try:
        mail.send_all(smtp_url, mail_from, [
            mail.Message(to=n.email, subject=_words(lang, "mail_subject", period=period,
                                                    n=n.open_items),
                         body=_words(lang, "mail_body", name=n.name, period=period,
                                     n=n.open_items, link=(desk_url or "").rstrip("/") + "/reviews"
                                     if desk_url else _words(lang, "mail_no_link")),
                         attachment=n.attachment)
            for n in reachable])
    except mail.MailError as e:
        raise Refused([_words(lang, "mail_failed", error=str(e))]) from None
    return NotifyResult(period, reachable, missing, [])
