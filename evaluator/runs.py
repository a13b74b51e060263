"""Runs and decisions in the database (SPEC §6): evaluate a period's active ledger with the
decisions in force and store the run; record managers' decisions; read the latest run back.

An evaluation is one transaction: the run record, every firing, adjustment and exception with
its sources, and their chain links commit together or not at all.

Decisions in force for a period: the latest decision per review id, from returned review
workbooks (`record_decisions`) and from the active ledger's own Reviews sheet, applied only while
the item's source rows still hash to what they were when it was decided (a corrected row opens
the item again). The set of exceptions (ids, kinds) does not depend on decisions — only
statuses, scores, the PERIPHERAL_NO_RATINGS notices and the assignee of an item past its
deadline (a decided one stops moving, SPEC §11.4) do — so an evaluation validates the ledger's
Reviews rows against its own review items.
"""
from __future__ import annotations

import hashlib
import json
import os
from array import array
from dataclasses import dataclass
from datetime import datetime, timezone
from heapq import merge
from itertools import groupby
from operator import itemgetter
from typing import Iterable, Iterator

import sqlalchemy as sa
from sqlmodel import Session, select

from engine.isolation import ChildError, EvaluationCrashed, Forked, fault
from evaluator import chain, firing_rows, periods
from evaluator.canonical import (OutcomeCodec, canonical_json, cell_text, parse_sources,
                                 sha256_text, sources_json)
from evaluator.db import (Adjustment, ChainLink, Decision, ExceptionItem, Firing, Run,
                          reader, utcnow)
from evaluator.evaluate import (RESULTS_CHUNK, TRANSACTION_SHEETS, Evaluated, default_workers,
                                evaluate_ledger)
from evaluator.store import (active_import, as_read, load_rows, sharing_values, sheet_query,
                             spooled_rows)
from importers.lang import Text
from importers.memory import give_back_free_memory, row_maker
from importers.schema import ENUM_ZH, SHEET_BY_NAME
from importers.spool import Spool
from importers.spooled import SpooledRows, close_spooled
from rules.books import RULES_VERSION
from rules.context import TraceEntry, merged_in_key_order, results_of
from rules.deadlines import MOVED, Standing
from rules.months import other_months, quarter_months
from rules.policy import Policy, decimal_text
from rules.sentences import says_of
from rules.sources import RowSources, base, each_cited_row, with_months


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


class EvaluationFailed(RuntimeError):
    """The evaluation itself failed — the engine crashed (a native crash kills only the child it
    runs in), raised, or its counts did not reconcile. Nothing was stored. `.trace` holds the
    child's traceback when there is one (for XIETONG_DEBUG)."""

    def __init__(self, message: str, trace: str = ""):
        super().__init__(message)
        self.trace = trace


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

def source_hash(texts: dict[tuple[str, int], str], sources) -> str:
    """Content hash of an item's source rows: their values, not their Excel row numbers, so that
    inserting a row above does not reopen every decided item. A row of another month's import
    (sheet "Sheet@YYYY-MM", rules/sources.py) is hashed under that name: the same values in
    another month are another row. `texts`: the cited rows' parts of the text hashed
    (source_texts); a row missing from them is hashed as a row of blanks."""
    parts = []
    for sheet, row in sources:
        text = texts.get((sheet, row))
        parts.append(_source_part(sheet, None) if text is None else text)
    # canonical_json of the list of parts, each part's text made once per row
    return sha256_text("[" + ",".join(parts) + "]")


def source_texts(rows: dict, sources) -> dict[tuple[str, int], str]:
    """Each row these sources cite (rules.sources.each_cited_row), by (sheet, Excel row): its
    part of the text source_hash hashes — made as the row is read, the row not kept (a dict of
    every cited row was ≈ 25 MB of the evaluation's peak at 100,000 employees: 30,052 items,
    most citing a rating)."""
    return {key: _source_part(key[0], r) for key, r in each_cited_row(rows, sources)}


def _source_part(sheet: str, r: dict | None) -> str:
    """canonical_json([sheet, the row's values' cell_text in its sheet's column order]); all
    None for a row that is not there."""
    cols = SHEET_BY_NAME[base(sheet)].columns
    return canonical_json([sheet, [cell_text(r.get(c.name)) if r else None for c in cols]])


def adjustment_id(period: str, a: dict) -> str:
    text = canonical_json([period, a["rule"], a["subject_type"], a["subject_id"],
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


def review_standing(session: Session, period: str) -> dict[str, Standing]:
    """Where each review item of `period` stood before a new evaluation (SPEC §11.4): the
    start of the earliest run of the period that held its review id ("first raised"), and its
    assignee in the latest run that held it. Read from the stored runs, oldest first."""
    first: dict[str, datetime] = {}
    last: dict[str, str] = {}
    runs = session.exec(select(Run.id, Run.started_at).where(
        Run.period == period, Run.finished_at != None).order_by(Run.id)).all()  # noqa: E711
    table = ExceptionItem.__table__
    conn = session.connection()
    for run_id, started in runs:
        q = sa.select(table.c.review_id, table.c.assignee_id).where(
            table.c.run_id == run_id, table.c.type == "review")
        for rid, assignee in conn.execute(q):
            first.setdefault(rid, started)
            last[rid] = assignee
    return {rid: Standing(t, last[rid]) for rid, t in first.items()}


def moved_from(session: Session, run_id: int) -> dict[str, list[str]]:
    """review_id -> the assignees a run moved the item from (its `review.escalate` firings),
    in order. Read only when a decision comes from someone other than the assignee or HR."""
    table = Firing.__table__
    out: dict[str, list[str]] = {}
    q = sa.select(table.c.outcome).where(table.c.run_id == run_id,
                                         table.c.rule == "review.escalate").order_by(table.c.seq)
    for (text,) in session.connection().execute(q):
        for o in json.loads(text).get("outcomes", ()):
            if MOVED in o:
                out.setdefault(o[MOVED]["review_id"], []).append(o[MOVED]["from"])
    return out


def validate_decisions(rows: list[DecisionRow], items: dict[str, dict], lang: str = "en"
                       ) -> list[str]:
    """SPEC §6: every problem of a decisions file, one line per row; empty when acceptable.
    The item's assignee or HR decides — or an assignee the item moved from when its deadline
    passed (`moved_from`, SPEC §11.4): a decision made by the earlier assignee stays."""
    problems = []
    seen: dict[str, DecisionRow] = {}
    for d in rows:
        item = items.get(d.review_id)
        if item is None:
            problems.append(refusal(lang, "unknown", where=d.cell("review_id"), rid=d.review_id))
            continue
        if item["type"] != "review":
            problems.append(refusal(lang, "rejection", where=d.cell("review_id"), rid=d.review_id,
                                 kind=item["kind"]))
            continue
        if d.reviewer_id not in (item["assignee_id"], "HR") \
                and d.reviewer_id not in item.get("moved_from", ()):
            problems.append(refusal(lang, "assignee", where=d.cell("reviewer_id"), rid=d.review_id,
                                 who=d.reviewer_id, assignee=item["assignee_id"]))
        earlier = seen.get(d.review_id)
        if earlier is not None and earlier.decision != d.decision:
            problems.append(refusal(lang, "twice", where=d.cell("decision"), rid=d.review_id,
                                 row=earlier.row))
        seen.setdefault(d.review_id, d)
    return problems


_MESSAGES: dict[str, Text] = {
    "unknown": Text(
        zh="{where}（复核编号）：应为本期异常清单中的复核编号，实际为 '{rid}'",
        en="{where} (review_id): expected a review id from this period's exception lists, got "
           "'{rid}'"),
    "rejection": Text(
        zh="{where}（复核编号）：'{rid}' 为驳回项（{kind}），不接受复核结论，应由 HR 修正台账",
        en="{where} (review_id): '{rid}' is a rejection ({kind}), which takes no decision: HR "
           "corrects the ledger"),
    "assignee": Text(
        zh="{where}（复核人工号）：应为该事项的复核人 '{assignee}' 或 HR，实际为 '{who}'",
        en="{where} (reviewer_id): expected the item's assignee '{assignee}' or HR, got '{who}'"),
    "twice": Text(
        zh="{where}（结论）：'{rid}' 在同一文件第 {row} 行有不同的结论",
        en="{where} (decision): '{rid}' has a different decision on row {row} of the same file"),
    "no_run": Text(
        zh="{period} 尚未评估：请先运行 `xietong evaluate --period {period}`",
        en="no evaluation of {period} yet: run `xietong evaluate --period {period}` first"),
    "busy_period": Text(
        zh="评估期间 {period} 的数据不断变化（尝试 {n} 次：其间有其他导入或复核结论写入）；未写入任何数据，请重新运行 `xietong evaluate "
           "--period {period}`",
        en="{period} kept changing while it was evaluated ({n} attempts: other imports or "
           "decisions were committed meanwhile); nothing was stored, run `xietong evaluate "
           "--period {period}` again"),
    "switched": Text(
        zh="导入记录 #{mine}（{file}，SHA-256 {sha}）已保存，但其间导入记录 #{other}（{other_file}，SHA-256 "
           "{other_sha}）成为 {period} 的当前台账：未进行评估。运行 `xietong evaluate --period {period}` 评估当前台账，"
           "或重新导入 {file} 使其成为当前台账",
        en="import #{mine} ({file}, sha256 {sha}) was stored, but meanwhile import #{other} ({other_file}, "
           "sha256 {other_sha}) became the active ledger of {period}: nothing was evaluated. Run "
           "`xietong evaluate --period {period}` to evaluate the active ledger, or import {file} again "
           "to make it active"),
    "outdated": Text(
        zh="{where}（结论）：'{rid}' 已于 {at} UTC 由 {by} 作出结论 {value}，晚于本复核清单的发放时间（{issued} UTC）；"
           "此处的 {new} 来自过时的副本，会推翻较新的结论。请使用较新的复核清单，或由 HR 以 --supersede 强制记录",
        en="{where} (decision): '{rid}' was decided {value} by {by} at {at} UTC, after this review "
           "workbook was issued ({issued} UTC); this {new} comes from an outdated copy and would "
           "undo it. Return a newer review workbook, or HR can record it anyway with --supersede"),
    "crashed": Text(
        zh="规则引擎崩溃（{error}）",
        en="the rules engine crashed ({error})"),
    "store_crashed": Text(
        zh="为保存而生成规则触发记录的进程崩溃（{error}），本次运行未保存任何内容",
        en="the process making the firings' rows to store crashed ({error}); nothing of the run "
           "was stored"),
    "no_import": Text(
        zh="{period} 没有导入台账：请先运行 `xietong import 台账文件 --period {period}`",
        en="no ledger imported for {period}: run `xietong import LEDGER --period {period}` first"),
    "cadence": Text(
        zh="{period} 拒绝按 {setting} = \"{cadence}\" 评估：同一季度的 {months} 最近一次评估用的是 "
           "\"{earlier}\"，一个季度的评价须按同一频次评估（按月的评价已在当月计分，按季度的"
           "评价在季末月计分）。请先以同一政策重新评估 {months}，或使用 \"{earlier}\"",
        en="{period} is not evaluated with {setting} = \"{cadence}\": {months} of the same quarter "
           "were last evaluated with \"{earlier}\", and a quarter's ratings are evaluated under "
           "one cadence (monthly ratings counted in their month, quarterly ones at the quarter's "
           "end). Evaluate {months} again under this policy first, or keep \"{earlier}\""),
}


def refusal(lang, key, **kw) -> str:
    """A refusal of a run or of a decisions file, in the user's language."""
    return _MESSAGES[key].format(lang, **kw)


def _decision_word(lang: str, decision: str) -> str:
    """confirm / overturn as a review workbook spells it: 维持 / 撤销 in Chinese."""
    return ENUM_ZH["decision"].get(decision, decision) if lang == "zh" else decision


# --------------------------------------------------------------------------- evaluate

@dataclass
class RunOutcome:
    run: Run
    evaluated: Evaluated
    decisions_recorded: int
    # the rows of the run's import the evaluation read (load_rows), for a report that follows
    # (`xietong run`) to show without reading them again: with `keep_rows`, SPOOLED_SHEETS too,
    # still on their files (the caller closes them: evaluator.store.close_spooled); else
    # the others only
    rows: dict | None = None
    reviews: int = 0              # the run's review items (exceptions of type "review") …
    open_reviews: int = 0         # … and how many of them are open
    firing_facts: object = None   # evaluate_period(gathering=…): what it gathered


class _ResultFiles:
    """Where the evaluation's child leaves the run's results for the run process to store, each
    in a spool (importers/spool.py) made before the fork and closed when the attempt ends, as the
    trace's: `adjustments` (records (adjustment,)), `exceptions` ((exception, its source hash))
    in SPEC §5.7's order, and `notes` (firing_notes: what each firing that produced some of
    them adds to its stored outcome) in seq order; and `raised`, the child's own: the
    exceptions in order as the evaluation left them (records (exception,)), before their
    hashes are known. Sent back as lists, they were unpickled whole in
    the run process and held while every firing was stored: at 100,000 employees 107 MB of
    objects (50,590 adjustments 61 MB, 30,052 exceptions 40 MB, their hashes 6 MB), and the
    notes built from them 20 MB more (docs/decisions.md, "Issue 15: memory per process", "The
    run process stores its results from files")."""

    def __init__(self):
        self.adjustments = self.exceptions = self.notes = self.raised = None
        try:
            self.adjustments = Spool(chunk=RESULTS_CHUNK)
            self.exceptions = Spool(chunk=RESULTS_CHUNK)
            self.notes = Spool(chunk=RESULTS_CHUNK)
            self.raised = Spool(chunk=RESULTS_CHUNK)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for spool in (self.adjustments, self.exceptions, self.notes, self.raised):
            if spool is not None:
                spool.close()


EVALUATION_ATTEMPTS = 3
# The sheets an evaluation reads from a file, a chunk at a time, and never holds
# (importers.spooled.SpooledRows): a 100,000-employee month's 870,000 ratings and behaviours
# were 230 MB in the process that reads the database, and again in the evaluation's child.
SPOOLED_SHEETS = frozenset(TRANSACTION_SHEETS)


@dataclass
class _Inputs:
    """What an evaluation reads, and the fingerprint that tells whether it is still current."""
    import_id: int
    file_name: str
    file_sha256: str
    rows: dict
    stored: dict                  # review_id -> {"decision", "source_hash", "file_sha256", ...}
    last_decision_id: int         # decisions are only ever appended: the largest id says which
    # the other months' rows the policy reads (rules.months.other_months): period -> sheet ->
    # rows, and the imports they came from: period -> {"import_id", "file_sha256"}
    history: dict | None = None
    other_imports: dict | None = None
    standing: dict | None = None  # review_id -> rules.deadlines.Standing (SPEC §11.4)
    clock: datetime | None = None  # the evaluation's start, when taken before its child's


def evaluate_period(engine, period: str, policy: Policy, lang: str = "en",
                    progress=None, import_id: int | None = None,
                    account: str | None = None, gathering=None,
                    keep_rows: bool = False, started: "Started | None" = None) -> RunOutcome:
    """Evaluate the period's active ledger and store the run, in three steps:

    1. read the inputs in a read transaction (no write lock: other commands go on);
    2. compute in a forked child (`engine.isolation`): a native crash of durable_rules kills
       the child, and the evaluation fails with a clear message while the database was never
       touched. The child writes the trace, the adjustments and the exceptions to spools
       (importers/spool.py) this process made before the fork, and sends back only the rest of
       the result and the spools' indexes;
    3. store in one write transaction — after checking that no import or decision of the period
       was committed meanwhile (else read and compute again, at most EVALUATION_ATTEMPTS times),
       so that a run always matches the inputs it names — the firings, adjustments and
       exceptions streamed from the spools. The spools are closed whatever happens (stored,
       refused, failed, the child killed): their unnamed files are then gone. The returned
       result's trace, adjustments and exceptions are those closed spools (their lengths only);
       the RunOutcome counts the review items and the open ones.

    `import_id`, when given, is the import the caller means (`xietong run` evaluates the import
    it just made): if another import of the period became active meanwhile, nothing is
    evaluated and the refusal names both — a run never hands back another file's results
    under the caller's file's name.

    `started` (with `import_id`): steps 1 and 2 already under way — the evaluation of the
    ledger that import stored, started before it was stored (`start_before_stored`); its
    result is stored as any other, after the same check, and an attempt that must be made
    again reads the database as usual. It is closed here whatever happens.

    `account`: the desk's account that asked for the run, chained with the run record and with
    the decisions the ledger's Reviews sheet brings (None from the command line).

    `gathering`, when given (reports/facts.py's Gathering: `add` and `facts`), is fed each
    firing as it is stored, in seq order: (rule, subject_id, sources as (sheet, row) pairs, the
    stored outcome's text) — what a report that follows needs from all of them, gathered
    without reading them back (xietong/api/month.py); RunOutcome.firing_facts is then its
    `facts()` (gathered perhaps in another process: evaluator.firing_rows).

    `keep_rows`: the returned RunOutcome.rows keeps the sheets read into files open for a
    report that follows (reading them back is faster than from the database); the caller
    closes them (evaluator.store.close_spooled). Otherwise they are closed here.
    """
    for _ in range(EVALUATION_ATTEMPTS):
        if started is not None:
            computing, started = started, None
            computing.inputs.import_id = import_id
        else:
            # refuses a closed period first; its big sheets on files, closed below, as the spool
            try:
                inputs = _read_inputs(engine, period, lang, policy, SPOOLED_SHEETS)
            except OSError as e:
                raise _files_failed(e) from None
            if import_id is not None and inputs.import_id != import_id:
                close_spooled(inputs.rows, inputs.history)
                raise RunRefused([_switched(engine, period, import_id, lang)])
            computing = Started(inputs, policy, period, lang, progress)
        try:
            inputs = computing.inputs
            outcome = computing.outcome()
            if outcome[0] == "refused":
                raise RunRefused(outcome[1])
            _, result, notes, new_decisions, in_force, started_at, reviews = outcome
            with Session(engine) as session, session.begin():
                _refuse_if_closed(session, period, lang)      # closed while it computed
                now = _fingerprint(session, period, policy)
                if now != (inputs.import_id, inputs.last_decision_id, _imported(inputs)):
                    if import_id is not None and now[0] != import_id:
                        raise RunRefused([_switched(engine, period, import_id, lang)])
                    continue                        # the period changed under us: again
                writer = chain.ChainWriter(session)
                if new_decisions:
                    next_id = writer.next_id(Decision)
                    records = [Decision(id=next_id + i, decided_at=started_at, account=account,
                                        **d) for i, d in enumerate(new_decisions)]
                    writer.insert(Decision, records, "decision")
                run = Run(id=writer.next_id(Run), period=period, import_id=inputs.import_id,
                          file_sha256=inputs.file_sha256, policy_sha256=policy.sha256,
                          policy_json=policy.canonical_json(), rules_version=RULES_VERSION,
                          program_version=PROGRAM_VERSION,
                          decisions_digest=sha256_text(canonical_json(sorted(in_force.items()))),
                          started_at=started_at, finished_at=utcnow(),
                          counts=canonical_json(result.counts), account=account,
                          other_imports=(canonical_json(inputs.other_imports)
                                         if inputs.other_imports else None))
                writer.insert(Run, [run], "run")
                facts = _store_results(writer, run, result.trace, result.adjustments,
                                       result.exceptions, notes, progress, gathering, lang)
                writer.flush()
                fault("evaluate-commit")
                session.expunge_all()
            # committed: only now are the rows the caller's (a failed commit closes them below)
            if keep_rows:
                kept, inputs.rows = inputs.rows, None
            else:
                kept = {k: v for k, v in inputs.rows.items() if k not in SPOOLED_SHEETS}
            return RunOutcome(run, result, len(new_decisions), kept, *reviews,
                              firing_facts=facts)
        finally:
            computing.close()
    raise RunRefused([refusal(lang, "busy_period", period=period, n=EVALUATION_ATTEMPTS)])


class Started:
    """An evaluation computing in its forked child (steps 1 and 2 of evaluate_period): made
    with the inputs read, it makes the spools the child leaves its results in and forks it;
    `outcome()` waits for what the child returned (_compute_to_files), a crash or an error of
    the child raised as EvaluationFailed; `close()` stops the child if it still runs and gives
    back the spools and the inputs' sheets on files (those the caller has not taken)."""

    def __init__(self, inputs: _Inputs, policy: Policy, period: str, lang: str, progress):
        self.inputs, self.lang = inputs, lang
        self.trace = self.files = self._child = None
        try:
            try:                        # made before the fork, closed whatever the child does
                self.trace = Spool(TraceEntry)
                self.files = _ResultFiles()
            except OSError as e:
                raise _files_failed(e) from None
            give_back_free_memory()     # the child starts with every page this process holds
            self._child = Forked(_compute_to_files, inputs, policy, period, lang, progress,
                                 self.trace, self.files, point="engine")
        except BaseException:
            self.close()
            raise

    def outcome(self):
        try:
            return self._child.result()
        except EvaluationCrashed as e:
            raise EvaluationFailed(refusal(self.lang, "crashed", error=e)) from None
        except ChildError as e:
            raise EvaluationFailed(f"{e.kind}: {e}", e.trace) from None

    def close(self) -> None:
        if self._child is not None:
            self._child.cancel()
        for spool in (self.trace, self.files):
            if spool is not None:
                spool.close()
        close_spooled(self.inputs.rows, self.inputs.history)


def start_before_stored(engine, ledger, period: str, policy: Policy, lang: str,
                        progress=None) -> Started | None:
    """The evaluation of `ledger` (importers.result.Ledger: validated, about to be stored as
    the period's active import) started now, in its forked child, from the ledger's own rows,
    while the caller stores it: on a machine with a core to spare, the import's storing and
    the reading of its rows back no longer come before the evaluation (xietong/api/month.py's
    import_and_evaluate). The rows the database would give back are the ledger's (an import is
    stored exactly as typed: evaluator.store), and the rest is read from the database now, as
    evaluate_period reads it; its check before storing the run then covers the import itself.

    The ledger's rows become the evaluation's too: once stored, the caller leaves them open
    (Started.close, or evaluate_period's caller with `keep_rows`, closes them). The clock is taken
    now (`Started.inputs.clock`): the caller stores the import at that time
    (evaluator.store.store_import(at=…)), so that the run it evaluates does not look older than
    its import. None (nothing started) when the database refuses the evaluation (a closed
    period, another cadence): evaluated after the import in the usual way, it then says so.
    `engine` None: the database does not exist yet (the first import makes it), so nothing is
    stored that the evaluation would read."""
    if engine is None:                  # no database yet: nothing stored to read
        inputs = _Inputs(None, ledger.file_name, ledger.sha256, ledger.rows, {}, 0)
    else:
        try:
            inputs = _read_inputs(engine, period, lang, policy, SPOOLED_SHEETS, ledger=ledger)
        except RunRefused:
            return None
        except OSError as e:
            raise _files_failed(e) from None
    inputs.clock = utcnow()
    return Started(inputs, policy, period, lang, progress)


def _files_failed(e: OSError) -> EvaluationFailed:
    """The evaluation's temporary files (the trace spool, the sheets read into files) could not
    be made or written — TMPDIR full or not writable: a failed evaluation, worded as the
    child's own failures are (nothing was stored)."""
    return EvaluationFailed(f"{type(e).__name__}: {e}")


def _switched(engine, period: str, import_id: int, lang: str) -> str:
    """The refusal of a run whose import is no longer the period's active one."""
    from evaluator.db import LedgerImport
    with Session(reader(engine)) as session, session.begin():
        mine = session.get(LedgerImport, import_id)
        other = active_import(session, period)
        return refusal(lang, "switched", period=period, mine=import_id, file=mine.file_name,
                       sha=mine.sha256[:16], other=other.id if other else "?",
                       other_file=other.file_name if other else "?",
                       other_sha=other.sha256[:16] if other else "?")


def _fingerprint(session: Session, period: str, policy: Policy) -> tuple:
    """What an evaluation's inputs were read from: the period's active import, its last
    decision, and the active imports of the other months the policy reads."""
    imp = active_import(session, period)
    top = session.exec(select(sa.func.max(Decision.id)).where(Decision.period == period)).one()
    others = []
    for month in other_months(policy, period):
        other = active_import(session, month)
        if other is not None:
            others.append((month, other.id))
    return (imp.id if imp else None), (top or 0), tuple(others)


def _imported(inputs: _Inputs) -> tuple:
    """The other months' imports an evaluation read, as _fingerprint lists them."""
    return tuple((m, x["import_id"]) for m, x in sorted((inputs.other_imports or {}).items()))


def _refuse_if_closed(session: Session, period: str, lang: str) -> None:
    try:
        periods.refuse_if_closed(session, period, lang)
    except periods.PeriodRefused as e:
        raise RunRefused(e.lines) from None


def _read_inputs(engine, period: str, lang: str, policy: Policy, spooled=(),
                 ledger=None) -> _Inputs:
    """`spooled`: the sheets read into files (importers.spooled.SpooledRows), this month's and
    the other months'; the caller closes them (close_spooled) — unless this fails, when they
    are closed here. `ledger` (start_before_stored): the month's rows are that ledger's, not
    yet stored (the import's id is not known: None); the rest is read."""
    rows = history = None
    try:
        with Session(reader(engine)) as session, session.begin():
            _refuse_if_closed(session, period, lang)
            imp = active_import(session, period) if ledger is None else ledger
            if imp is None:
                raise RunRefused([refusal(lang, "no_import", period=period)])
            _refuse_other_cadence(session, period, policy, lang)
            stored = {rid: {"decision": d.decision, "source_hash": d.source_hash,
                            "file_sha256": d.file_sha256, "row": d.row,
                            "reviewer_id": d.reviewer_id}
                      for rid, d in decisions_in_force(session, period).items()}
            top = session.exec(select(sa.func.max(Decision.id))
                               .where(Decision.period == period)).one()
            standing = review_standing(session, period)
            history, other_imports = read_other_months(session, policy, period, spooled)
            # the other sheets by column (importers.columns): a company's employees as dicts
            # were 26 MB at 100,000, in this process and in the evaluation's child and its
            # feed workers, which start with its pages
            if ledger is None:
                rows = load_rows(session, imp.id, spooled=spooled, by_column=True)
            inputs = _Inputs(None if ledger is not None else imp.id, imp.file_name, imp.sha256,
                             rows if ledger is None else ledger.rows, stored, top or 0,
                             history, other_imports, standing)
        return inputs
    except BaseException:
        close_spooled(rows, history)        # (a ledger's rows are its caller's)
        raise


def read_other_months(session: Session, policy: Policy, period: str, spooled=()
                      ) -> tuple[dict, dict]:
    """The other months' rows the evaluation of `period` under `policy` reads
    (rules.months.other_months), from each month's active import — a month without one is left
    out — and which imports those are: (period → sheet → rows, period → {"import_id",
    "file_sha256"}). `spooled`: the sheets read into files (load_rows)."""
    history, imports = {}, {}
    try:
        for month, sheets in other_months(policy, period).items():
            imp = active_import(session, month)
            if imp is None:
                continue
            history[month] = load_rows(session, imp.id, sheets, spooled=spooled)
            imports[month] = {"import_id": imp.id, "file_sha256": imp.sha256}
    except BaseException:
        close_spooled(history)
        raise
    return history, imports


def cadences(policy_json: str) -> dict[str, str]:
    """The rating cadences ("peripheral", "raci" → "monthly" | "quarterly") a stored run's
    effective policy had; a run stored before the cadence existed rated monthly."""
    values = json.loads(policy_json)
    return {section: (values.get(section) or {}).get("cadence", "monthly")
            for section in ("peripheral", "raci")}


def _refuse_other_cadence(session: Session, period: str, policy: Policy, lang: str) -> None:
    """SPEC §11.5, bad input: a month is evaluated under the rating cadence its quarter's
    earlier months were evaluated with (their latest runs), else a quarter's ratings would be
    counted twice (monthly, then again at the quarter's end) or never."""
    wanted = {"peripheral": policy.peripheral.cadence, "raci": policy.raci.cadence}
    problems: dict[tuple[str, str], list[str]] = {}
    for month in quarter_months(period):
        if month >= period:
            break
        run = latest_run(session, month)
        if run is None:
            continue
        for section, earlier in cadences(run.policy_json).items():
            if earlier != wanted[section]:
                problems.setdefault((section, earlier), []).append(month)
    if problems:
        sep = "、" if lang == "zh" else ", "
        raise RunRefused([refusal(lang, "cadence", period=period, setting=f"{section}.cadence",
                                  cadence=wanted[section], months=sep.join(months),
                                  earlier=earlier)
                          for (section, earlier), months in problems.items()])


def _compute(inputs: _Inputs, policy: Policy, period: str, lang: str, progress=None,
             workers: int | None = None, trace: Spool | None = None,
             adjustments: Spool | None = None, exceptions: Spool | None = None):
    """The engine part of an evaluation (runs in the forked child): no database here.
    ("refused", problems) or ("ok", result, hashes, new decisions as dicts, in_force, started).
    `workers`: the evaluation's feed workers (default: evaluator.evaluate.default_workers()).
    `trace`: the spool the result's trace goes to (evaluate_period's; without one the
    evaluation makes its own, evaluator.evaluate.evaluate_ledger). A second pass writes over
    the first pass's trace in the same spool. The result's finals are not computed (None):
    what is stored is the adjustments, and every reader sums its finals from them.
    `adjustments`: the spool the result's adjustments go to, in order, a record (adjustment,)
    each (evaluate_ledger's `adjustments_to`); without one they are a list. `exceptions`: the
    same for the exceptions (`exceptions_to`), each read here on its file (results_of),
    `hashes` holding every item's source hash.
    What-if (evaluator/whatif.py) computes its alternative with this same function."""
    rows, stored = inputs.rows, inputs.stored
    ledger_reviews = [DecisionRow(r["review_id"], r["decision"], r["reviewer_id"],
                                  r.get("comment"), "Reviews", r["row"])
                      for r in rows.get("Reviews", [])]

    # Review items (ids, kinds, sources) do not depend on decisions, so one evaluation with every
    # candidate decision finds the items, their source hashes and which decisions still apply.
    # A second pass is needed only when a stored decision lapsed (its item's rows changed).
    # also the clock of the items' deadlines (SPEC §11.4)
    started = inputs.clock or utcnow()
    candidates = {rid: d["decision"] for rid, d in stored.items()}
    candidates.update((d.review_id, d.decision) for d in ledger_reviews)
    history = inputs.history or {}
    result = evaluate_ledger(rows, policy, period, candidates, progress=progress,
                             history=history, workers=workers,
                             standing=inputs.standing, clock=started, trace=trace,
                             finals=False, adjustments_to=adjustments,
                             exceptions_to=exceptions)
    fault("evaluate-spooled")       # a test kills the child here: its trace spooled, not sent
    all_rows = with_months(rows, history)
    # every item's hash; of the items themselves only those a decision names
    decided = set(stored).union(d.review_id for d in ledger_reviews)
    hashes, items = _hashed(all_rows, result.exceptions, decided)
    problems = validate_decisions(ledger_reviews, items, lang)
    if problems:
        return ("refused", problems)
    new_decisions = []
    in_force = {}
    for rid, d in stored.items():
        if rid in hashes and d["source_hash"] == hashes[rid]:
            in_force[rid] = d["decision"]
    for d in ledger_reviews:
        if _already_recorded(stored.get(d.review_id), d, inputs.file_sha256, hashes[d.review_id]):
            in_force[d.review_id] = d.decision
            continue
        new_decisions.append(dict(period=period, review_id=d.review_id, decision=d.decision,
                                  reviewer_id=d.reviewer_id, comment=d.comment,
                                  source_hash=hashes[d.review_id], file_name=inputs.file_name,
                                  file_sha256=inputs.file_sha256, sheet="Reviews", row=d.row))
        in_force[d.review_id] = d.decision
    # Decisions on ids that are not items of this ledger change nothing; any other difference
    # means a decision lapsed and the statuses and scores must be computed without it.
    if in_force != {rid: dec for rid, dec in candidates.items() if rid in hashes}:
        trace, result, items = result.trace, None, None     # the first pass's results go first
        result = evaluate_ledger(rows, policy, period, in_force, progress=progress,
                                 history=history, workers=workers,
                                 standing=inputs.standing, clock=started, trace=trace,
                                 finals=False, adjustments_to=adjustments,
                                 exceptions_to=exceptions)
        # notices can follow decisions (PERIPHERAL_NO_RATINGS when every rating of a department
        # is held or overturned): hash what this run produced
        new = [e for e in results_of(result.exceptions) if e["review_id"] not in hashes]
        hashes.update(_hashed(all_rows, new, set())[0])
    return ("ok", result, hashes, new_decisions, in_force, started)


def _already_recorded(latest: dict | None, d: DecisionRow, file_sha256: str, h: str) -> bool:
    return (latest is not None and latest["file_sha256"] == file_sha256 and latest["row"] == d.row
            and latest["decision"] == d.decision and latest["reviewer_id"] == d.reviewer_id
            and latest["source_hash"] == h)


def _compute_to_files(inputs: _Inputs, policy: Policy, period: str, lang: str, progress,
                      trace: Spool, files: _ResultFiles):
    """_compute in the evaluation's child, its results left on `files` (_ResultFiles) for the
    run process to store: ("refused", problems) or ("ok", result, notes, new decisions,
    in_force, started, (review items, open ones)), where the result's adjustments and
    exceptions are the spools `files.adjustments` and `files.exceptions` and `notes` is
    `files.notes` — each crosses the pipe as its index (importers/spool.py). The exceptions
    are put in order on `files.raised` and read from there, never all held."""
    outcome = _compute(inputs, policy, period, lang, progress, None, trace, files.adjustments,
                       files.raised)
    if outcome[0] != "ok":
        return outcome
    _, result, hashes, new_decisions, in_force, started = outcome
    # each written as it is made: the notes (a few bytes held per adjustment), the exceptions
    # with their hashes; the adjustments are on their file already
    notes = files.notes
    for note in firing_notes(period, result.adjustments, result.exceptions):
        notes.append(note)
    notes.flush()
    reviews = open_reviews = 0
    for e, source_hash_ in with_hashes(results_of(result.exceptions), hashes):
        files.exceptions.append((e, source_hash_))
        if e["type"] == "review":
            reviews += 1
            open_reviews += e["status"] == "open"
    result.exceptions = files.exceptions
    return ("ok", result, files.notes, new_decisions, in_force, started,
            (reviews, open_reviews))


def _hashed(rows: dict, exceptions: list[dict] | Spool, kept: set[str]
            ) -> tuple[dict[str, str], dict[str, dict]]:
    """Every item's source hash (review id -> hash), and the items whose review ids are in
    `kept` (review id -> item): the exceptions (held, or on a file: results_of) read twice,
    for the rows they cite and then for their hashes, and only those items held (the dict of
    every item, with the list of them, was ≈ 38 MB at 100,000 employees: 30,052 items). Of
    items sharing a review id, the last one's."""
    texts = source_texts(rows, (s for e in results_of(exceptions) for s in e["sources"]))
    hashes: dict[str, str] = {}
    items: dict[str, dict] = {}
    for e in results_of(exceptions):
        rid = e["review_id"]
        hashes[rid] = source_hash(texts, e["sources"])
        if rid in kept:
            items[rid] = e
    return hashes, items


def with_hashes(exceptions: Iterable[dict], hashes: dict[str, str]
                ) -> Iterator[tuple[dict, str]]:
    """Each exception with its item's source hash (review id -> hash), as _store_results takes
    them."""
    return ((e, hashes[e["review_id"]]) for e in exceptions)


def firing_notes(period: str, adjustments: list[dict] | Spool,
                 exceptions: list[dict] | Spool) -> Iterator[tuple]:
    """The firings' notes: (seq, its adjustments' ids, its exceptions' review ids, the
    sentences of its exceptions by kind), one for every firing that produced an adjustment or
    an exception, in seq order (None where it produced none of one); each firing's ids in the
    results' order. `adjustments`: in order, a list or a spool of records (adjustment,), read
    once, now. Of the adjustments only two numbers each are held (their firing's seq, their
    id's 48 bits): at 100,000 employees, the notes made from a dict of every id were 23 MB of
    the evaluation's peak. `exceptions`: in order, a list or a spool of records (exception,),
    read once, as the notes are (_raised_in_seq_order)."""
    seqs, ids = array("q"), array("q")
    for a in results_of(adjustments):
        seqs.append(a["firing_seq"])
        ids.append(int(adjustment_id(period, a)[1:], 16))
    return _notes_in_seq_order(seqs, ids, _raised_in_seq_order(exceptions))


def _notes_in_seq_order(seqs: array, ids: array, raised: Iterator[tuple]) -> Iterator[tuple]:
    """firing_notes' notes, from the adjustments' seqs and ids (in the results' order) and the
    exceptions' (seq, review id, kind, says) in seq order: the adjustments taken in seq order
    too (a stable sort keeps a firing's in the results' order), the two merged (a firing's
    adjustments first), and a note made of each seq's."""
    adjustments = ((seqs[i], 0, i) for i in sorted(range(len(seqs)), key=seqs.__getitem__))
    exceptions = ((seq, 1, x) for seq, *x in raised)
    for seq, results in groupby(merge(adjustments, exceptions, key=itemgetter(0)),
                                key=itemgetter(0)):
        adj_ids = exc_ids = says = None
        for _, is_exception, x in results:
            if not is_exception:
                adj_ids = adj_ids or []
                adj_ids.append(f"A{ids[x]:012x}")
                continue
            review_id, kind, said = x
            exc_ids = exc_ids or []
            exc_ids.append(review_id)
            if said:
                says = says or {}
                says[kind] = said
        yield seq, adj_ids, exc_ids, says


def _raised_in_seq_order(exceptions: list[dict] | Spool) -> Iterator[tuple]:
    """(seq, review id, kind, says) of each exception, in its firing's seq order, those of a
    firing in the results' order (rules.context.merged_in_key_order, stable): from a list,
    sorted as a list; from a spool (records (exception,)), put in order on a file of their own,
    never all held."""
    held = type(exceptions) is list
    by_seq = [] if held else Spool(chunk=RESULTS_CHUNK)
    try:
        for x in results_of(exceptions):
            seq = x["firing_seq"]
            by_seq.append((seq, (seq, x["review_id"], x["kind"], x.get("says"))))
        yield from merged_in_key_order(by_seq)
    finally:
        if not held:
            by_seq.close()


def _store_results(writer, run: Run, trace, adjustments, exceptions, notes, progress=None,
                   gathering=None, lang: str = "en"):
    """Every firing, adjustment and exception of the run, chained, each streamed from its spool
    a chunk at a time (or from a list): `trace`, every firing's rules.context.TraceEntry in seq
    order; `adjustments` and `exceptions` (each with its source hash, as pairs) in order, and
    `notes`, in seq order, what their firings' outcomes name (firing_notes) — read beside
    the firings, so that nothing of the run is held whole. Rows are plain values built
    as the models would store them, and each record's chain content is rendered once: a
    100,000-employee month has millions of firings, and a SQLModel instance per firing cost
    more than the evaluation itself (measured: 10 s of 15 s at 1,000 employees). The firings'
    rows are made by evaluator.firing_rows — for a big run on more than one core, in a
    process of their own while this one inserts them.

    `gathering` (reports/facts.py's Gathering, or anything with `add` and `facts`): fed each
    firing as its row is made; returns `gathering.facts()` (None without one)."""
    run_id, period = run.id, run.period
    src = sources_json
    total = len(trace)
    first_id = writer.next_id(Firing)
    done = None
    if progress is not None:
        def done(n):
            progress("persist", n, total, "firings")
        done(0)
    apart = total >= firing_rows.APART_MIN and default_workers() > 1
    if apart:
        give_back_free_memory()     # the child starts with every page this process holds
    chunks = firing_rows.streamed(trace, notes, run_id, writer.prev, gathering, apart)
    try:
        stored = writer.insert_made(Firing, firing_rows.COLUMNS, chunks, "firing", first_id,
                                    {"run_id": run_id}, done)
    except EvaluationCrashed as e:
        raise EvaluationFailed(refusal(lang, "store_crashed", error=e)) from None
    except ChildError as e:
        raise EvaluationFailed(f"{e.kind}: {e}", e.trace) from None
    finally:
        chunks.cancel()
    if stored != total:
        raise RuntimeError(f"{stored} firings stored of the trace's {total}")
    facts = chunks.result
    if done is not None:
        done(total)
    if isinstance(adjustments, Spool):
        adjustments = (a for (a,) in adjustments.fields())
    if isinstance(exceptions, Spool):
        exceptions = exceptions.fields()

    def adjustment_rows(start):
        for i, a in enumerate(adjustments):
            row = {"id": start + i, "run_id": run_id, "ord": i + 1,
                   "adjustment_id": adjustment_id(period, a), "firing_seq": a["firing_seq"],
                   "subject_type": a["subject_type"], "subject_id": a["subject_id"],
                   "mechanism": a["mechanism"], "rule": a["rule"], "points": a["points"],
                   "sources": src(a["sources"]), "explanation": a["explanation"]}
            content = {k: v for k, v in row.items() if k != "id"}
            content["points"] = decimal_text(a["points"])
            yield row, canonical_json(content)

    writer.insert_rows(Adjustment, adjustment_rows(writer.next_id(Adjustment)), "adjustment")

    def exception_rows(start):
        for i, (e, source_hash_) in enumerate(exceptions):
            row = {"id": start + i, "run_id": run_id, "ord": i + 1, "review_id": e["review_id"],
                   "kind": e["kind"], "type": e["type"], "subject_id": e["subject_id"],
                   "assignee_id": e["assignee_id"], "status": e["status"],
                   "sources": src(e["sources"]), "source_hash": source_hash_,
                   "message": e["message"], "firing_seq": e["firing_seq"]}
            yield row, canonical_json({k: v for k, v in row.items() if k != "id"})

    writer.insert_rows(ExceptionItem, exception_rows(writer.next_id(ExceptionItem)), "exception")
    return facts


# --------------------------------------------------------------------------- decisions files

@dataclass
class DecisionChange:
    """One decision recorded from a file: the item, what it was, what it is now, who decided."""
    review_id: str
    kind: str
    subject_id: str
    old: str | None              # confirm | overturn | None (the item was open)
    new: str
    reviewer_id: str


def record_decisions(engine, period: str, file_name: str, file_sha256: str,
                     decisions: list[DecisionRow], lang: str = "en", *,
                     issued_at: datetime | None = None, supersede: bool = False,
                     account: str | None = None) -> tuple[list[DecisionChange], int]:
    """Validate a returned review workbook's decisions against the period's latest run and record
    them. Returns (the changes recorded, how many rows changed nothing). Refuses the whole file
    on any problem.

    `issued_at`, when the workbook says when it was issued: a row that would change an item
    whose current decision was recorded after that time comes from an outdated copy and
    refuses the file, naming the newer decision — unless `supersede` (HR records it anyway).
    `account`: the desk's account that recorded them (chained with each decision)."""
    with Session(engine) as session, session.begin():
        _refuse_if_closed(session, period, lang)
        run = latest_run(session, period)
        if run is None:
            raise RunRefused([refusal(lang, "no_run", period=period)])
        items = {e.review_id: {"type": e.type, "kind": e.kind, "assignee_id": e.assignee_id,
                               "source_hash": e.source_hash, "subject_id": e.subject_id}
                 for e in session.exec(select(ExceptionItem).where(ExceptionItem.run_id == run.id))}
        if any(d.review_id in items and d.reviewer_id not in (items[d.review_id]["assignee_id"],
                                                              "HR") for d in decisions):
            for rid, earlier in moved_from(session, run.id).items():
                if rid in items:
                    items[rid]["moved_from"] = earlier
        problems = validate_decisions(decisions, items, lang)
        stored = decisions_in_force(session, period)
        if issued_at is not None and not supersede:
            for d in decisions:
                prev = stored.get(d.review_id)
                if (prev is not None and _aware(prev.decided_at) > _aware(issued_at)
                        and (prev.decision, prev.comment or None) != (d.decision, d.comment or None)):
                    problems.append(refusal(
                        lang, "outdated", where=d.cell("decision"), rid=d.review_id,
                        value=_decision_word(lang, prev.decision), by=prev.reviewer_id,
                        at=_aware(prev.decided_at).strftime("%Y-%m-%d %H:%M"),
                        issued=_aware(issued_at).strftime("%Y-%m-%d %H:%M"),
                        new=_decision_word(lang, d.decision)))
        if problems:
            raise RunRefused(problems)
        new = []
        changes = []
        unchanged = 0
        for d in decisions:
            prev = stored.get(d.review_id)
            item = items[d.review_id]
            h = item["source_hash"]
            if (prev is not None and prev.decision == d.decision and prev.reviewer_id == d.reviewer_id
                    and (prev.comment or None) == (d.comment or None) and prev.source_hash == h):
                unchanged += 1
                continue
            new.append(Decision(period=period, review_id=d.review_id, decision=d.decision,
                                reviewer_id=d.reviewer_id, comment=d.comment, source_hash=h,
                                file_name=file_name, file_sha256=file_sha256, sheet=d.sheet,
                                row=d.row, account=account))
            # the item's decision before this file: the stored one while its rows are the same
            old = prev.decision if prev is not None and prev.source_hash == h else None
            changes.append(DecisionChange(d.review_id, item["kind"], item["subject_id"], old,
                                          d.decision, d.reviewer_id))
            stored[d.review_id] = new[-1]
        if new:
            writer = chain.ChainWriter(session)
            next_id = writer.next_id(Decision)
            now = utcnow()
            for i, rec in enumerate(new):
                rec.id, rec.decided_at = next_id + i, now
            writer.insert(Decision, new, "decision")
            writer.flush()
            fault("decisions-commit")
        return changes, unchanged


def _aware(t: datetime) -> datetime:
    """SQLite hands timestamps back naive (they are stored in UTC)."""
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t


# --------------------------------------------------------------------------- reading a run back

def load_run(session: Session, run: Run, stream: sa.Engine | None = None,
             by_seq: bool = False) -> dict:
    """A stored run as plain dicts, in stored order (what reports read). Read through SQLAlchemy
    Core: the dicts are what the models' model_dump() gives, without an ORM object per row,
    with sources and outcomes parsed. Firings with the same common outcome (nothing, one note
    or flag) share one outcome dict (canonical.OutcomeCodec): read them, do not change them.
    "decisions" and "current_decisions": the decision records behind its review items
    (`run_decisions`).

    "firings": with `stream` (the engine the run was read from), a RunFirings — sized, and read
    from the database in batches each time it is iterated, so that no process holds the
    millions of firings of a big month (what `report` does); without it, every firing as a
    list (the desk's pages, tests and benchmarks of small runs). "adjustments" and
    "exceptions": with `stream`, each a SpooledRows (a file, sized and iterated as often as
    needed, the same dicts each time: `_spooled_results`, closed by the caller or when
    dropped), else lists; with `stream` and `by_seq` (the trace's sheets or page are wanted),
    "adjustments_by_seq" and "exceptions_by_seq" too: the same items on files of their own, in
    the order of their firings. They get the sentences their firings hold ("says",
    `_attach_says`) either way."""
    conn = session.connection()
    if stream is None:
        adjustments = _loaded(conn, Adjustment, run.id)
        exceptions = _loaded(conn, ExceptionItem, run.id)
        firings = list(_firing_rows(conn, _firings_query(run.id), 5000))
        _attach_says(((f["seq"], f["outcome"]) for f in firings), adjustments, exceptions)
    else:
        firings = RunFirings(stream, run.id, _count_firings(conn, run.id))
        items = _spooled_results(conn, run.id, by_seq)
        adjustments, exceptions = items.pop("adjustments"), items.pop("exceptions")
    applied, current = run_decisions(session, run, exceptions)
    return {"run": run.model_dump(), "adjustments": adjustments, "exceptions": exceptions,
            "firings": firings, "decisions": applied, "current_decisions": current,
            **({} if stream is None else items)}


# What a report holds of a run's adjustments and exceptions (100,000 employees: 80,000 of them,
# 270 MB as they were read before). Their texts that repeat — a few dozen rules, kinds,
# statuses and mechanisms, the departments and assignees — are one object each; each item is a
# dict sharing its table's keys (importers.memory.row_maker); a department's blend cites
# thousands of ratings (847,000 sources in all), kept as a RowSources (8 bytes a source
# instead of a tuple and an int): a list of sources longer than COMPACT_SOURCES.
_SHARED_COLUMNS = frozenset({"subject_type", "subject_id", "mechanism", "rule", "kind", "type",
                             "assignee_id", "status"})
COMPACT_SOURCES = 16


def _loaded(conn, cls, run_id: int) -> list[dict]:
    """A run's adjustments or exceptions (`cls`), in stored order, as load_run gives them
    (their "says" None until _attach_says)."""
    query, keys = _items_query(cls, run_id)
    make = row_maker(keys)
    items = sharing_values((make(*r, None).__dict__ for r in conn.execute(query)),
                           tuple(k for k in keys if k in _SHARED_COLUMNS))
    for x in items:
        x["sources"] = _compact_sources(x["sources"])
    return items


def _items_query(cls, run_id: int, by_seq: bool = False) -> tuple[sa.Select, tuple[str, ...]]:
    """The query of a run's adjustments or exceptions (`cls`) in stored order (`by_seq`: by
    the seq of the firing that produced them first), and the keys of an item as load_run gives
    it (its columns, then "says")."""
    table = cls.__table__
    order = (table.c.firing_seq, table.c.ord) if by_seq else (table.c.ord,)
    query = sa.select(table).where(table.c.run_id == run_id).order_by(*order)
    return query, (*(c.name for c in table.columns), "says")


def _compact_sources(text: str):
    """An item's sources, parsed: a RowSources when longer than COMPACT_SOURCES."""
    sources = parse_sources(text)
    return RowSources(sources) if len(sources) > COMPACT_SOURCES else sources


# items read from the database at a time into a file: a department's blend cites thousands of
# ratings, and its adjustment's sources are read as a text of them (evaluator.store.SPOOL_READ,
# 10,000, held 20 MB of them at 100,000 employees)
ITEMS_READ = 2_048


def _spooled_results(conn, run_id: int, by_seq: bool = False) -> dict[str, SpooledRows]:
    """A run's adjustments and exceptions as load_run gives them, "says" included, each in a
    SpooledRows: read from the database a batch at a time and written to a file, never all
    held. What a report holds of them was 98 MB of objects at 100,000 employees, in the run
    process and (inherited) in the second report writer; the sentences, looked up by firing
    seq and kind, are what is held while they are read (docs/decisions.md, "A report's
    adjustments and exceptions on files"). With `by_seq`, each is read twice: in stored
    order, and in the order of the firings that produced them ("…_by_seq": the trace reads
    them beside the firings, reports.view.ItemsBySeq; the exceptions are stored by kind and
    subject, not by seq)."""
    e, a = ExceptionItem.__table__.c, Adjustment.__table__.c
    kinds = _kinds_by_seq(conn.execute(sa.select(e.firing_seq, e.kind).where(e.run_id == run_id)))
    adjusted = set(conn.execute(sa.select(a.firing_seq).where(a.run_id == run_id)).scalars())
    says = _sentences(_named_outcomes(conn, run_id), adjusted, kinds)
    out: dict[str, SpooledRows] = {}
    for name, cls, kind in (("adjustments", Adjustment, None),
                            ("exceptions", ExceptionItem, "kind")):
        out[name] = _spooled_items(conn, cls, run_id, says, kind)
        if by_seq:
            out[f"{name}_by_seq"] = _spooled_items(conn, cls, run_id, says, kind, by_seq=True)
    return out


def _spooled_items(conn, cls, run_id: int, says: dict, kind: str | None,
                   by_seq: bool = False) -> SpooledRows:
    """`_loaded`'s items (`cls`), in stored order (`by_seq`: _items_query's), into a
    SpooledRows; each one's "says" is says[(its firing seq, its `kind` column's value, or
    None)] (`_sentences`)."""
    query, keys = _items_query(cls, run_id, by_seq)
    at_sources, at_seq = keys.index("sources"), keys.index("firing_seq")
    at_kind = None if kind is None else keys.index(kind)

    def item(r) -> list:
        values = list(r)
        values[at_sources] = _compact_sources(values[at_sources])
        values.append(says.get((values[at_seq], None if at_kind is None else values[at_kind])))
        return values
    return spooled_rows(keys, map(item, as_read(conn, query, ITEMS_READ)), ITEMS_READ)


def _firings_query(run_id: int):
    """A run's firings, every column, in seq order — read in id order, which is the same: a
    run's firings are stored in seq order with ids counting up (_store_results refuses
    anything else). SQLite then walks the run_id index, whose entries are in id order, instead
    of sorting the run first: at 100,000 employees 0.7 s before the first firing of each
    reading, and a page of the trace read from its offset in 0.8 s instead of 1.9 s. Should
    someone swap two firings' ids in the database, the reports show them in the order stored
    (each with its seq) and the chain's check names the records changed."""
    table = Firing.__table__
    return sa.select(table).where(table.c.run_id == run_id).order_by(table.c.id)


def _count_firings(conn, run_id: int) -> int:
    table = Firing.__table__
    return conn.execute(sa.select(sa.func.count()).select_from(table)
                        .where(table.c.run_id == run_id)).scalar_one()


def _stream(conn, query, batch: int):
    """The rows of `query` as they are read: `batch` rows at a time through a server-side
    cursor on PostgreSQL (psycopg would otherwise fetch the whole result first); sqlite3 steps
    through its own cursor as rows are taken, so there the rows are taken from that cursor
    itself (a firing's columns are integers and texts, which SQLAlchemy hands on as sqlite3
    gives them: its row objects were half the cost of a pass)."""
    if conn.dialect.name == "sqlite":
        result = conn.execute(query)
        return result, result.cursor
    result = conn.execution_options(yield_per=batch).execute(query)
    return result, (r for part in result.partitions() for r in part)


def _firing_rows(conn, query, batch: int) -> Iterator[dict]:
    """The firings `query` selects, each as load_run gives it, read `batch` rows at a time."""
    result, rows = _stream(conn, query, batch)
    keys = tuple(result.keys())
    outcome = OutcomeCodec().value
    for r in rows:
        f = dict(zip(keys, r))
        f["sources"] = parse_sources(f["sources"])
        f["outcome"] = outcome(f["outcome"])
        yield f


def iter_firings(session: Session, run_id: int, batch: int = 5000) -> Iterator[dict]:
    """The run's firings in seq order, each as load_run gives it (sources and outcome parsed;
    firings with the same common outcome share one outcome dict: read it, do not change it),
    read `batch` rows at a time — a server-side cursor on PostgreSQL, sqlite3 stepping through
    its own cursor on SQLite — so a caller that takes them one by one holds one batch, never
    the millions of a big month. The session's transaction must stay open while it is read."""
    yield from _firing_rows(session.connection(), _firings_query(run_id), batch)


class RunFirings:
    """A stored run's firings as the reports read them: `len()` is their number; each
    iteration reads them again from the database in seq order, `batch` rows at a time, through
    a connection of its own (a committed run's firings never change, so every read sees the
    same firings, whatever is committed meanwhile). What a caller holds is one batch.

    Only the process that made it reads it: a forked child (engine.isolation.Forked, the
    report's writers that need no chain status) never opens the database. SQLite keeps its
    locks' bookkeeping per process, and a child inherits its parent's (open files, the WAL
    index's read marks): a connection made in the child would trust locks the kernel never
    gave it (SQLite, "How To Corrupt An SQLite Database File", §2.6). (An intermittent
    "database is locked" of two runs at once, first blamed on this, may have been the WAL
    switch of a new file: evaluator.db._switch_to_wal.) What a child needs from the
    firings is gathered before it is forked (reports/facts.py); trace.json is written by the
    parent."""

    def __init__(self, engine: sa.Engine, run_id: int, count: int, batch: int = 5000):
        self.engine, self.run_id, self.count, self.batch = engine, run_id, count, batch
        self._pid = os.getpid()

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[dict]:
        return self.range(0, None)

    def range(self, first: int = 0, stop: int | None = None) -> Iterator[dict]:
        """The firings at positions first … stop - 1 (0 is the first firing; None: to the
        end), what islice(self, first, stop) gives, without reading those before `first` into
        Python."""
        q = _firings_query(self.run_id)
        if stop is not None:
            q = q.limit(max(stop - first, 0))
        if first:
            q = q.offset(first)
        return self._read(q)

    def slim(self, outcomes_of: frozenset[str]) -> Iterator[tuple]:
        """(rule, subject_id, sources, outcome) of each firing in seq order, as stored: the
        sources their canonical JSON text (evaluator.canonical.parse_sources reads it), the
        outcome parsed for the rules in `outcomes_of` and None for the others — what a reader
        that looks at every firing's rule and sources, and at a few rules' outcomes, needs
        (reports/facts.py), without a dict per firing or reading every outcome."""
        t = Firing.__table__.c
        kept = sa.case((t.rule.in_(sorted(outcomes_of)), t.outcome), else_=sa.null())
        q = (sa.select(t.rule, t.subject_id, t.sources, kept)
             .where(t.run_id == self.run_id).order_by(t.id))      # seq order: _firings_query
        for rule, subject, sources, outcome in self._read(q, dicts=False):
            yield rule, subject, sources, None if outcome is None else json.loads(outcome)

    def _read(self, query, dicts: bool = True) -> Iterator:
        if os.getpid() != self._pid:
            raise RuntimeError("a run's firings are read by the process that loaded the run, "
                               "never by a forked child (RunFirings)")
        with reader(self.engine).connect() as conn, conn.begin():
            if dicts:
                yield from _firing_rows(conn, query, self.batch)
            else:
                yield from _stream(conn, query, self.batch)[1]


def iter_ledger_rows(session: Session, import_id: int, sheet: str, batch: int = 5000
                     ) -> Iterator[dict]:
    """One sheet's typed rows of an import in Excel-row order, each with its "row" number — what
    evaluator.store.load_rows gives for that sheet — read `batch` rows at a time (as
    iter_firings; on SQLite as its cursor steps, evaluator.store.as_read)."""
    q, keys = sheet_query(SHEET_BY_NAME[sheet], import_id)
    for r in as_read(session.connection(), q, batch):
        yield dict(zip(keys, r))


def _named_outcomes(conn, run_id: int) -> Iterator[tuple[int, dict]]:
    """(seq, outcome) of the run's firings that an adjustment or an exception names (their
    firing_seq), as read: one query, the database picks them out (a few per cent of a big
    month's firings, but the biggest outcomes: 80,000 of them parsed at once were 150 MB)."""
    f, a, e = Firing.__table__.c, Adjustment.__table__.c, ExceptionItem.__table__.c
    named = sa.union(sa.select(a.firing_seq).where(a.run_id == run_id),
                     sa.select(e.firing_seq).where(e.run_id == run_id))
    q = sa.select(f.seq, f.outcome).where(f.run_id == run_id, f.seq.in_(named))
    outcome = OutcomeCodec().value
    for seq, text in conn.execute(q):
        yield seq, outcome(text)


def _attach_says(outcomes, adjustments: list[dict], exceptions: list[dict]) -> None:
    """Give each adjustment and exception the sentence its firing's outcome holds for it, as
    "says" (rules.sentences renders it); None for a run stored before sentences had templates.
    `outcomes`: (firing seq, its outcome) pairs, at least of the firings they name, each
    outcome read as it comes (only the sentences are kept)."""
    kinds = _kinds_by_seq((e["firing_seq"], e["kind"]) for e in exceptions)
    says = _sentences(outcomes, {a["firing_seq"] for a in adjustments}, kinds)
    for a in adjustments:
        a["says"] = says.get((a["firing_seq"], None))
    for e in exceptions:
        e["says"] = says.get((e["firing_seq"], e["kind"]))


def _kinds_by_seq(pairs) -> dict[int, tuple[str, ...]]:
    """firing seq -> the kinds of its exceptions, from (seq, kind) pairs: a tuple of each kind's
    one name object (a set each was 7.6 MB at 100,000 employees)."""
    kinds: dict[int, tuple[str, ...]] = {}
    names: dict[str, str] = {}
    for seq, kind in pairs:
        got = kinds.get(seq, ())
        if kind not in got:
            kinds[seq] = (*got, names.setdefault(kind, kind))
    return kinds


def _sentences(outcomes, adjusted: set[int], kinds: dict[int, tuple[str, ...]]) -> dict:
    """From (firing seq, its outcome) pairs, the sentences the run's items carry: (seq, None)
    -> its adjustments' for a seq in `adjusted`, (seq, kind) -> its exception's of that kind
    for each of kinds[seq]; equal texts one object (`_sharing_texts`)."""
    says: dict[tuple[int, str | None], object] = {}
    texts: dict[str, str] = {}
    for seq, outcome in outcomes:
        if seq in adjusted:
            says[(seq, None)] = _sharing_texts(_adjustment_says(outcome), texts)
        for kind in kinds.get(seq, ()):
            says[(seq, kind)] = _sharing_texts(says_of(outcome, kind), texts)
    return says


def _adjustment_says(outcome):
    """The sentence a firing's outcome holds for its adjustments (the item with points)."""
    got = outcome.get("outcomes") if type(outcome) is dict else None
    items = got if type(got) is list else ()
    return next((o.get("says") for o in items if type(o) is dict and "points" in o), None)


def _sharing_texts(says, texts: dict[str, str]):
    """A sentence ([key, {name: value}]) whose equal texts are one object, from `texts`: each
    outcome is parsed by itself, so its template's key and argument names came anew for each of
    a big month's 80,000 items (60 MB of their sentences). Another shape is left as it is."""
    if type(says) is not list or len(says) != 2 or type(says[1]) is not dict:
        return says
    seen = texts.setdefault
    key, values = says
    return [seen(key, key) if type(key) is str else key,
            {seen(k, k): seen(v, v) if type(v) is str else v for k, v in values.items()}]


STATUS_OF_DECISION = {"confirm": "confirmed", "overturn": "overturned"}


def run_decisions(session: Session, run: Run, exceptions: list[dict]
                  ) -> tuple[dict[str, dict], dict[str, dict]]:
    """The decision records behind a run's review items, as the reports show them (SPEC §10.3):
    (applied, current), each review_id -> {"id", "seq", "value", "comment", "by", "at",
    "account", "file_name", "sheet", "row"}.

    `applied`: the decision this run applied to the item — the item's latest decision chained
    before the run record, while the item's source rows still hash as when it was decided (the
    run's confirmed/overturned status came from it). `current`: the item's latest decision now,
    by the same rule — the one the run applied, or one recorded since (the run is then out of
    date). The review workbooks show `current` (what a manager's file must not undo); the
    statement, the trace and exceptions.json show `applied` (what made the scores)."""
    items = {e["review_id"]: e for e in exceptions if e["type"] == "review"}
    if not items:
        return {}, {}
    link = ChainLink.__table__.c
    d = Decision.__table__.c
    run_seq = session.connection().execute(
        sa.select(link.seq).where(link.record_type == "run", link.record_id == run.id)).scalar()
    q = (sa.select(d.id, d.review_id, d.decision, d.comment, d.reviewer_id, d.decided_at,
                   d.account, d.file_name, d.sheet, d.row, d.source_hash, link.seq)
         .join(ChainLink.__table__, (link.record_type == "decision") & (link.record_id == d.id))
         .where(d.period == run.period).order_by(d.id))
    latest: dict[str, tuple] = {}
    before: dict[str, tuple] = {}
    for r in session.connection().execute(q):
        if r.review_id in items:
            latest[r.review_id] = r
            if run_seq is not None and r.seq < run_seq:
                before[r.review_id] = r
    applied = {rid: _decision_record(r) for rid, r in before.items()
               if r.source_hash == items[rid]["source_hash"]
               and STATUS_OF_DECISION.get(r.decision) == items[rid]["status"]}
    current = {rid: applied[rid] if rid in applied and applied[rid]["id"] == r.id
               else _decision_record(r)
               for rid, r in latest.items() if r.source_hash == items[rid]["source_hash"]}
    return applied, current


def _decision_record(r) -> dict:
    return {"id": r.id, "seq": r.seq, "value": r.decision, "comment": r.comment,
            "by": r.reviewer_id, "at": _aware(r.decided_at), "account": r.account,
            "file_name": r.file_name, "sheet": r.sheet, "row": r.row}
