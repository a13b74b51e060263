"""The review items of a period's latest run and the decisions on them (SPEC §6, §10.3,
§11.4): a manager's returned review workbook recorded whole (`record_decisions`), the items
listed and read (`reviews`, `moved_reviews`, `review_item`), one decision at a time as the desk
takes it (`decide`), every recorded decision (`decisions`), and one assignee's workbook
(`review_workbook`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlmodel import Session, select

from xietong import i18n
from xietong.api.base import (Database, NotFound, Refused, _aware, _engine, _existing,
                              _latest_run_or_404, _words)
from xietong.api.month import _emails
from xietong.api.audit import refuse_if_closed


# --------------------------------------------------------------------------- decisions

@dataclass
class DecisionsResult:
    path: str
    period: str
    lang: str
    changes: list                  # evaluator.runs.DecisionChange: item, old → new, by whom
    unchanged: int
    issued_at: datetime | None     # when the review workbook was issued (its stamp), if known


def record_decisions(db: Database, path, period: str, *, lang: str | None = None,
                     supersede: bool = False, account: str | None = None,
                     file_name: str | None = None,
                     only_assignee: str | None = None) -> DecisionsResult:
    """Record the decisions of a manager's returned review workbook (SPEC §6, §10.3): validated
    against the period's latest run; any problem refuses the whole file, nothing recorded. A
    file that is not a review workbook (no review sheet, or no decision in it) is refused as
    such; a decision from a copy issued before the item's current decision refuses the file
    unless `supersede` (HR). `only_assignee` (a manager returning its workbook in the desk):
    every row must be one of that assignee's items, decided as that assignee — else the file
    is refused whole, naming the rows."""
    from evaluator.runs import DecisionRow, RunRefused, record_decisions as record
    from importers import LedgerRefused, read_ledger
    from importers.stamp import read_stamp
    path = str(path)
    _existing(db, lang)
    if not Path(path).exists():
        raise Refused([i18n.t(lang or "en", "review_file_missing", path=path)])
    try:
        book = read_ledger(path, lang=lang, only=("Reviews",))
    except LedgerRefused as refused:
        lang = lang or refused.lang
        if any(p.kind == "missing_sheet" for p in refused.problems):
            raise Refused([i18n.t(lang, "not_review_workbook", path=path),
                           i18n.t(lang, "nothing_recorded")]) from None
        raise Refused.listing(lang, path, refused.problems, "review_refused_header",
                              "nothing_recorded") from None
    lang = lang or book.lang
    if not book.rows["Reviews"]:
        raise Refused([i18n.t(lang, "no_decision_in_file", path=path),
                       i18n.t(lang, "nothing_recorded")])
    stamp = read_stamp(path)
    if stamp is not None and stamp.period != period:
        raise Refused([i18n.t(lang, "review_other_period", path=path, period=period,
                              stamped=stamp.period, run=stamp.run_id),
                       i18n.t(lang, "nothing_recorded")])
    sheet = book.sheet_names.get("Reviews", "Reviews")
    letters = book.columns.get("Reviews", {})
    rows = [DecisionRow(r["review_id"], r["decision"], r["reviewer_id"], r.get("comment"), sheet,
                        r["row"], letters) for r in book.rows["Reviews"]]
    issued_at = stamp.issued_at if stamp is not None else None
    if only_assignee is not None:
        _only_theirs(db, period, rows, only_assignee, lang, path)
    try:
        changes, unchanged = record(db.engine, period, file_name or book.file_name, book.sha256,
                                    rows, lang, issued_at=issued_at, supersede=supersede,
                                    account=account)
    except RunRefused as e:
        raise Refused.listing(lang, path, e.lines, "review_refused_header",
                              "nothing_recorded") from None
    return DecisionsResult(path, period, lang, changes, unchanged, issued_at)


def _only_theirs(db: Database, period: str, rows, assignee: str, lang: str, path) -> None:
    """Refuse a returned workbook holding another assignee's items or decisions (a manager may
    decide its own items only; HR uses its own account for anyone's)."""
    found = {it["review_id"]: it for it in reviews(db, period, assignee=assignee).items}
    bad = [_words(lang, "not_yours", where=r.cell("review_id"), rid=r.review_id, who=assignee)
           for r in rows if r.review_id not in found or r.reviewer_id != assignee]
    if bad:
        raise Refused.listing(lang, path, bad, "review_refused_header", "nothing_recorded")


# --------------------------------------------------------------------------- review items

@dataclass
class ReviewPage:
    total: int
    items: list[dict]


def reviews(db: Database, period: str | None = None, *, assignee: str | None = None,
            kind: str | None = None, status: str | None = None, type: str | None = None,
            context: bool = False, lang: str | None = None, offset: int = 0,
            limit: int | None = None) -> ReviewPage:
    """The items of the latest run of `period` (None: of every period, newest first), filtered
    by assignee, kind, type (review | rejection) and status (open | decided | confirmed |
    overturned), each with its current decision. `context`: with names, the kind's
    description and the cited ledger values (for the page's items only)."""
    from evaluator.db import reader
    from xietong import review_items
    if not db.exists():
        return ReviewPage(0, [])
    with Session(reader(_engine(db))) as session, session.begin():
        if period is not None and not review_items.latest_runs(session, period):
            raise NotFound([_no_run(lang, period)])
        total, page = review_items.items(session, period=period, assignee=assignee, kind=kind,
                                         status=status, type_=type, offset=offset, limit=limit)
        if context:
            review_items.with_context(session, page, lang or "en")
            review_items.with_moves(session, page)
    return ReviewPage(total, page)


def moved_reviews(db: Database, assignee: str, period: str | None = None, *,
                  lang: str | None = None) -> list[dict]:
    """The review items that moved up from `assignee` past their deadlines (SPEC §11.4) and are
    someone else's now (of `period`, or of every period): each with its context, "moved_to"
    (the assignee now) and "moved_at" (when the evaluation moved it away from `assignee`).
    In the desk the earlier assignee reads them and no longer decides them."""
    from evaluator.db import reader
    from xietong import review_items
    if not db.exists():
        return []
    with Session(reader(_engine(db))) as session, session.begin():
        found = review_items.moved_away(session, assignee, period)
        review_items.with_context(session, found, lang or "en")
    return found


def _no_run(lang, period) -> str:
    from evaluator.runs import refusal
    return refusal(lang or "en", "no_run", period=period)


def review_item(db: Database, period: str, review_id: str, *, lang: str | None = None,
                context: bool = True) -> dict:
    """One item of the period's latest run, or NotFound (the same for everyone)."""
    from evaluator.db import reader
    from xietong import review_items
    with Session(reader(_engine(_existing(db, lang)))) as session, session.begin():
        _, found = review_items.items(session, period=period, review_id=review_id)
        if not found:
            raise NotFound([_words(lang, "no_such_item", period=period, rid=review_id)])
        review_items.with_moves(session, found)
        if context:
            review_items.with_context(session, found, lang or "en")
    return found[0]


def decide(db: Database, period: str, review_id: str, decision: str, comment: str | None, *,
           reviewer_id: str, account: str | None, lang: str | None = None) -> dict:
    """Record one decision ("confirm" | "overturn") on one review item, as the desk does it:
    the same validation and the same chained Decision record as a returned review workbook
    (evaluator.runs.record_decisions), with `reviewer_id` the assignee's employee id or "HR"
    and `account` the desk's account. file_name "desk", sheet "desk", row 0, and the file hash
    is that of the request's canonical text. The item with its new status."""
    import hashlib
    from evaluator.canonical import canonical_json
    from evaluator.runs import DecisionRow, RunRefused, record_decisions as record
    lang = lang or "en"
    if decision not in ("confirm", "overturn"):
        raise Refused([_words(lang, "decision_bad", value=decision)])
    review_item(db, period, review_id, lang=lang, context=False)          # NotFound first
    refuse_if_closed(db, period, lang)
    comment = comment if comment and comment.strip() else None
    text = canonical_json({"period": period, "review_id": review_id, "decision": decision,
                           "comment": comment, "reviewer_id": reviewer_id, "account": account,
                           "at": datetime.now(timezone.utc).isoformat()})
    row = DecisionRow(review_id, decision, reviewer_id, comment, "desk", 0)
    try:
        record(_engine(db), period, "desk", hashlib.sha256(text.encode("utf-8")).hexdigest(),
               [row], lang, account=account)
    except RunRefused as e:
        raise Refused(e.lines) from None
    return review_item(db, period, review_id, lang=lang)


def decisions(db: Database, period: str | None = None, *, reviewer: str | None = None,
              account: str | None = None, limit: int | None = None) -> list[dict]:
    """Every recorded decision, newest first: item, value, comment, reviewer, the desk account
    (if any), when, and from which file; `in_force` says whether it is the item's latest."""
    from evaluator.db import ChainLink, Decision, reader
    if not db.exists():
        return []
    out = []
    with Session(reader(_engine(db))) as session, session.begin():
        q = select(Decision, ChainLink.seq).join(
            ChainLink, (ChainLink.record_type == "decision") & (ChainLink.record_id == Decision.id),
            isouter=True).order_by(Decision.id.desc())
        if period is not None:
            q = q.where(Decision.period == period)
        if reviewer is not None:
            q = q.where(Decision.reviewer_id == reviewer)
        if account is not None:
            q = q.where(Decision.account == account)
        if limit is not None:
            q = q.limit(limit)
        latest: set[tuple[str, str]] = set()
        for d, seq in session.exec(q):
            key = (d.period, d.review_id)
            out.append({"id": d.id, "period": d.period, "review_id": d.review_id,
                        "decision": d.decision, "comment": d.comment, "reviewer_id": d.reviewer_id,
                        "account": d.account, "decided_at": _aware(d.decided_at).isoformat(),
                        "file_name": d.file_name, "sheet": d.sheet, "row": d.row,
                        "chain_seq": seq, "in_force": key not in latest})
            latest.add(key)
    if reviewer is not None or account is not None:
        # "in force" is the item's latest decision by anyone, not the latest of this filter
        for d in out:
            d["in_force"] = None
    return out


def review_workbook(db: Database, period: str, assignee: str, out_dir, *,
                    lang: str | None = None) -> Path:
    """One assignee's review workbook of the period's latest run (SPEC §8), written into
    `out_dir`: the same file `report` writes for it, to fill in and return."""
    from evaluator.db import LedgerImport, reader
    from evaluator.runs import load_run
    from evaluator.store import load_rows
    from reports.reviews import write
    issued_at = datetime.now(timezone.utc)          # before the snapshot: see `report`
    engine = _engine(_existing(db, lang))
    with Session(reader(engine), expire_on_commit=False) as session, session.begin():
        run = _latest_run_or_404(session, period, lang)
        imp = session.get(LedgerImport, run.import_id)
        stored = load_run(session, run, stream=engine)     # the firings: streamed (RunFirings)
        rows = load_rows(session, run.import_id)
        emails = _emails(session) if assignee == "HR" else {}
    sheet_lang = imp.lang if imp is not None and imp.lang in ("zh", "en") else "en"
    mine = [e for e in stored["exceptions"]
            if e["assignee_id"] == assignee and (e["type"] == "review" or assignee == "HR")]
    if not mine:
        raise NotFound([_words(lang, "no_items_for", period=period, who=assignee)])
    written = write(Path(out_dir), period, rows, stored, lang or sheet_lang, sheet_lang,
                    issued_at=issued_at, emails=emails, only=assignee)
    return written[0]
