"""Runs and decisions in the database (SPEC §6): evaluate a period's active ledger with the
decisions in force and store the run; record managers' decisions; read the latest run back.

An evaluation is one transaction: the run record, every firing, adjustment and exception with
its sources, and their chain links commit together or not at all.

Decisions in force for a period: the latest decision per review id, from returned review
workbooks (`record_decisions`) and from the active ledger's own Reviews sheet, applied only while
the item's source rows still hash to what they were when it was decided (a corrected row opens
the item again). The set of exceptions (ids, kinds, assignees) does not depend on decisions —
only statuses, scores and the PERIPHERAL_NO_RATINGS notices do — so an evaluation validates the
ledger's Reviews rows against its own review items.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, select

from evaluator import chain
from evaluator.db import Adjustment, Decision, ExceptionItem, Firing, LedgerImport, Run, utcnow
from evaluator.evaluate import RULES_VERSION, Evaluated, evaluate_ledger
from evaluator.store import active_import, load_rows
from importers.schema import SHEET_BY_NAME
from rules.policy import Policy

def _program_version() -> str:
    try:
        from importlib.metadata import version
        return version("xietong")
    except Exception:          # running from a checkout that is not installed
        return "0+unknown"


PROGRAM_VERSION = _program_version()


class RunRefused(Exception):
    """Refused input for a run or a decisions file; `.lines` are the messages."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass
class DecisionRow:
    """One decision as read from a Reviews sheet (ledger or returned workbook)."""
    review_id: str
    decision: str            # confirm | overturn
    reviewer_id: str
    comment: str | None
    sheet: str               # the sheet's own name, for messages
    row: int
    columns: dict | None = None   # column -> letter in that sheet, for messages

    def cell(self, column: str) -> str:
        letter = (self.columns or {}).get(column)
        return f"{self.sheet}!{letter}{self.row}" if letter else f"{self.sheet} row {self.row}"


# --------------------------------------------------------------------------- hashing helpers

def _value_text(v):
    if v is None:
        return None
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return str(v)


def row_index(rows: dict[str, list[dict]]) -> dict[tuple[str, int], dict]:
    return {(sheet, r["row"]): r for sheet, lst in rows.items() for r in lst}


def source_hash(index: dict[tuple[str, int], dict], sources) -> str:
    """Content hash of an item's source rows: their values, not their Excel row numbers, so that
    inserting a row above does not reopen every decided item."""
    parts = []
    for sheet, row in sources:
        r = index.get((sheet, row))
        cols = [c.name for c in SHEET_BY_NAME[sheet].columns]
        parts.append([sheet, [_value_text(r.get(c)) if r else None for c in cols]])
    return chain.sha256_text(chain.canonical_json(parts))


def adjustment_id(period: str, a: dict) -> str:
    text = chain.canonical_json([period, a["rule"], a["subject_type"], a["subject_id"],
                                 [list(s) for s in a["sources"]]])
    return "A" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


# --------------------------------------------------------------------------- decisions in force

def decisions_in_force(session: Session, period: str) -> dict[str, Decision]:
    """review_id -> the latest stored decision for the period."""
    latest: dict[str, Decision] = {}
    for d in session.exec(select(Decision).where(Decision.period == period).order_by(Decision.id)):
        latest[d.review_id] = d
    return latest


def latest_run(session: Session, period: str) -> Run | None:
    return session.exec(select(Run).where(Run.period == period, Run.finished_at != None)  # noqa: E711
                        .order_by(Run.id.desc()).limit(1)).first()


def validate_decisions(rows: list[DecisionRow], items: dict[str, dict], lang: str = "en"
                       ) -> list[str]:
    """SPEC §6: every problem of a decisions file, one line per row; empty when acceptable."""
    problems = []
    seen: dict[str, DecisionRow] = {}
    for d in rows:
        item = items.get(d.review_id)
        if item is None:
            problems.append(_msg(lang, "unknown", where=d.cell("review_id"), rid=d.review_id))
            continue
        if item["type"] != "review":
            problems.append(_msg(lang, "rejection", where=d.cell("review_id"), rid=d.review_id,
                                 kind=item["kind"]))
            continue
        if d.reviewer_id not in (item["assignee_id"], "HR"):
            problems.append(_msg(lang, "assignee", where=d.cell("reviewer_id"), rid=d.review_id,
                                 who=d.reviewer_id, assignee=item["assignee_id"]))
        earlier = seen.get(d.review_id)
        if earlier is not None and earlier.decision != d.decision:
            problems.append(_msg(lang, "twice", where=d.cell("decision"), rid=d.review_id,
                                 row=earlier.row))
        seen.setdefault(d.review_id, d)
    return problems


_MESSAGES = {
    "unknown": ("{where} (review_id): expected a review id from this period's exception lists, got '{rid}'",
                "{where} (复核编号)：应为本期异常清单中的复核编号，实际为 '{rid}'"),
    "rejection": ("{where} (review_id): '{rid}' is a rejection ({kind}), which takes no decision: HR corrects the ledger",
                  "{where} (复核编号)：'{rid}' 为驳回项（{kind}），不接受复核结论，应由 HR 修正台账"),
    "assignee": ("{where} (reviewer_id): expected the item's assignee '{assignee}' or HR, got '{who}'",
                 "{where} (复核人工号)：应为该事项的复核人 '{assignee}' 或 HR，实际为 '{who}'"),
    "twice": ("{where} (decision): '{rid}' has a different decision on row {row} of the same file",
              "{where} (结论)：'{rid}' 在同一文件第 {row} 行有不同的结论"),
    "no_run": ("no evaluation of {period} yet: run `xietong evaluate --period {period}` first",
               "{period} 尚未评估：请先运行 `xietong evaluate --period {period}`"),
    "no_import": ("no ledger imported for {period}: run `xietong import LEDGER --period {period}` first",
                  "{period} 没有导入台账：请先运行 `xietong import LEDGER --period {period}`"),
}


def _msg(lang, key, **kw):
    en, zh = _MESSAGES[key]
    return (zh if lang == "zh" else en).format(**kw)


# --------------------------------------------------------------------------- evaluate

@dataclass
class RunOutcome:
    run: Run
    evaluated: Evaluated
    decisions_recorded: int


def evaluate_period(engine, period: str, policy: Policy, lang: str = "en") -> RunOutcome:
    with Session(engine) as session, session.begin():
        imp = active_import(session, period)
        if imp is None:
            raise RunRefused([_msg(lang, "no_import", period=period)])
        rows = load_rows(session, imp.id)
        stored = decisions_in_force(session, period)
        ledger_reviews = [DecisionRow(r["review_id"], r["decision"], r["reviewer_id"],
                                      r.get("comment"), "Reviews", r["row"])
                          for r in rows.get("Reviews", [])]

        # Pass 1 finds the items (decision-independent), their source hashes and which decisions
        # still apply; pass 2 (only when some decision applies) computes statuses and scores.
        started = utcnow()
        first = evaluate_ledger(rows, policy, period, {})
        items = {e["review_id"]: e for e in first.exceptions}
        index = row_index(rows)
        hashes = {rid: source_hash(index, e["sources"]) for rid, e in items.items()}
        problems = validate_decisions(ledger_reviews, items, lang)
        if problems:
            raise RunRefused(problems)
        new_decisions = []
        in_force = {}
        for rid, d in stored.items():
            if rid in items and d.source_hash == hashes[rid]:
                in_force[rid] = d.decision
        for d in ledger_reviews:
            if _already_recorded(stored.get(d.review_id), d, imp, hashes[d.review_id]):
                in_force[d.review_id] = d.decision
                continue
            rec = Decision(period=period, review_id=d.review_id, decision=d.decision,
                           reviewer_id=d.reviewer_id, comment=d.comment,
                           source_hash=hashes[d.review_id], file_name=imp.file_name,
                           file_sha256=imp.sha256, sheet="Reviews", row=d.row)
            new_decisions.append(rec)
            in_force[d.review_id] = d.decision
        result = evaluate_ledger(rows, policy, period, in_force) if in_force else first
        # Review items do not depend on decisions, but notices can (PERIPHERAL_NO_RATINGS appears
        # when every rating of a department is held or overturned): hash what this run produced.
        for e in result.exceptions:
            if e["review_id"] not in hashes:
                hashes[e["review_id"]] = source_hash(index, e["sources"])

        writer = chain.ChainWriter(session)
        if new_decisions:
            next_id = writer.next_id(Decision)
            for i, rec in enumerate(new_decisions):
                rec.id = next_id + i
                rec.decided_at = started
            writer.insert(Decision, new_decisions, "decision")
        run = Run(id=writer.next_id(Run), period=period, import_id=imp.id,
                  file_sha256=imp.sha256, policy_sha256=policy.sha256,
                  policy_json=policy.canonical_json(), rules_version=RULES_VERSION,
                  program_version=PROGRAM_VERSION,
                  decisions_digest=chain.sha256_text(chain.canonical_json(sorted(in_force.items()))),
                  started_at=started, finished_at=utcnow(),
                  counts=chain.canonical_json(result.counts))
        writer.insert(Run, [run], "run")
        _store_results(writer, run, result, hashes)
        writer.flush()
        session.expunge_all()
        return RunOutcome(run, result, len(new_decisions))


def _already_recorded(latest: Decision | None, d: DecisionRow, imp: LedgerImport, h: str) -> bool:
    return (latest is not None and latest.file_sha256 == imp.sha256 and latest.row == d.row
            and latest.decision == d.decision and latest.reviewer_id == d.reviewer_id
            and latest.source_hash == h)


def _store_results(writer, run: Run, result: Evaluated, hashes) -> None:
    def src(sources):
        return chain.canonical_json([list(s) for s in sources])

    # What each firing produced, by id, so the trace links a firing to its adjustment or item.
    produced: dict[int, dict[str, list[str]]] = {}
    for a in result.adjustments:
        produced.setdefault(a["firing_seq"], {}).setdefault("adjustments", []).append(
            adjustment_id(run.period, a))
    for e in result.exceptions:
        produced.setdefault(e["firing_seq"], {}).setdefault("exceptions", []).append(e["review_id"])
    fid = writer.next_id(Firing)
    firings = [Firing(id=fid + i, run_id=run.id, seq=t.seq, rule=t.rule, subject_id=t.subject_id,
                      sources=src(t.sources),
                      outcome=chain.canonical_json({**t.outcome, **produced.get(t.seq, {})}))
               for i, t in enumerate(result.trace)]
    writer.insert(Firing, firings, "firing")
    aid = writer.next_id(Adjustment)
    adjustments = [Adjustment(id=aid + i, run_id=run.id, ord=i + 1,
                              adjustment_id=adjustment_id(run.period, a), firing_seq=a["firing_seq"],
                              subject_type=a["subject_type"], subject_id=a["subject_id"],
                              mechanism=a["mechanism"], rule=a["rule"], points=a["points"],
                              sources=src(a["sources"]), explanation=a["explanation"])
                   for i, a in enumerate(result.adjustments)]
    writer.insert(Adjustment, adjustments, "adjustment")
    eid = writer.next_id(ExceptionItem)
    exceptions = [ExceptionItem(id=eid + i, run_id=run.id, ord=i + 1, review_id=e["review_id"],
                                kind=e["kind"], type=e["type"], subject_id=e["subject_id"],
                                assignee_id=e["assignee_id"], status=e["status"],
                                sources=src(e["sources"]),
                                source_hash=hashes[e["review_id"]],
                                message=e["message"], firing_seq=e["firing_seq"])
                  for i, e in enumerate(result.exceptions)]
    writer.insert(ExceptionItem, exceptions, "exception")


# --------------------------------------------------------------------------- decisions files

def record_decisions(engine, period: str, file_name: str, file_sha256: str,
                     decisions: list[DecisionRow], lang: str = "en") -> tuple[int, int]:
    """Validate a returned review workbook's decisions against the period's latest run and record
    them. Returns (recorded, unchanged). Refuses the whole file on any problem."""
    with Session(engine) as session, session.begin():
        run = latest_run(session, period)
        if run is None:
            raise RunRefused([_msg(lang, "no_run", period=period)])
        items = {e.review_id: {"type": e.type, "kind": e.kind, "assignee_id": e.assignee_id,
                               "source_hash": e.source_hash}
                 for e in session.exec(select(ExceptionItem).where(ExceptionItem.run_id == run.id))}
        problems = validate_decisions(decisions, items, lang)
        if problems:
            raise RunRefused(problems)
        stored = decisions_in_force(session, period)
        new = []
        unchanged = 0
        for d in decisions:
            prev = stored.get(d.review_id)
            h = items[d.review_id]["source_hash"]
            if (prev is not None and prev.decision == d.decision and prev.reviewer_id == d.reviewer_id
                    and (prev.comment or None) == (d.comment or None) and prev.source_hash == h):
                unchanged += 1
                continue
            new.append(Decision(period=period, review_id=d.review_id, decision=d.decision,
                                reviewer_id=d.reviewer_id, comment=d.comment, source_hash=h,
                                file_name=file_name, file_sha256=file_sha256, sheet=d.sheet,
                                row=d.row))
        if new:
            writer = chain.ChainWriter(session)
            next_id = writer.next_id(Decision)
            now = utcnow()
            for i, rec in enumerate(new):
                rec.id, rec.decided_at = next_id + i, now
            writer.insert(Decision, new, "decision")
            writer.flush()
        return len(new), unchanged


# --------------------------------------------------------------------------- reading a run back

def load_run(session: Session, run: Run) -> dict:
    """A stored run as plain dicts, in stored order (what reports read)."""
    adjustments = [a.model_dump() for a in session.exec(
        select(Adjustment).where(Adjustment.run_id == run.id).order_by(Adjustment.ord))]
    exceptions = [e.model_dump() for e in session.exec(
        select(ExceptionItem).where(ExceptionItem.run_id == run.id).order_by(ExceptionItem.ord))]
    firings = [f.model_dump() for f in session.exec(
        select(Firing).where(Firing.run_id == run.id).order_by(Firing.seq))]
    for collection in (adjustments, exceptions, firings):
        for x in collection:
            x["sources"] = [tuple(s) for s in json.loads(x["sources"])]
    for f in firings:
        f["outcome"] = json.loads(f["outcome"])
    return {"run": run.model_dump(), "adjustments": adjustments, "exceptions": exceptions,
            "firings": firings}
