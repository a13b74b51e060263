"""The month's pipeline (SPEC §3, §5, §8, §10.8): a ledger imported (`import_ledger`), the
rules fired on it and the run stored (`evaluate`), the run's reports written (`report`, with
its manifest and the chain's checkpoint).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

from xietong import i18n
from xietong.api.base import (Database, FORMATS, Progress, Refused, _aware, _existing,
                              _refuse_if_closed)


# --------------------------------------------------------------------------- import

@dataclass
class ImportResult:
    path: str
    period: str
    lang: str                      # the ledger's header language: "zh" or "en"
    file_sha256: str
    status: str                    # "stored" | "unchanged" | "reactivated"
    import_id: int
    previous_import_id: int | None
    rows_per_sheet: dict[str, int]
    warnings: list[str] = field(default_factory=list)


def import_ledger(db: Database, path, period: str, *, lang: str | None = None,
                  progress: Progress | None = None, force: bool = False,
                  account: str | None = None, file_name: str | None = None) -> ImportResult:
    """Read, validate and store one ledger workbook as the period's active ledger (SPEC §3).
    Refused (every problem by sheet and cell, nothing stored) when the workbook is bad, or when
    it looks like another period's (SPEC §10.2) — unless `force`, and then the import record
    keeps a warning saying so. `account`: the desk's account that uploads it (chained with the
    import); `file_name`: the name to record when `path` is a temporary copy (an upload)."""
    ledger = _checked_ledger(db, path, period, lang, progress, force, file_name)
    try:                                # (its transaction sheets are on files: closed below)
        return _stored(db, ledger, path, period, lang, progress, account)
    finally:
        ledger.close()


def import_and_evaluate(db: Database, path, period: str, *, lang: str | None = None,
                        progress: Progress | None = None, force: bool = False,
                        policy=None, on_import=None) -> tuple[ImportResult, RunResult]:
    """import_ledger, then evaluate(import_id=the import, for_report=True): what `xietong
    run` does — with the evaluation started as soon as the ledger is validated, from its rows,
    while they are stored (evaluator.runs.start_before_stored), on a machine with a core to
    spare. The results are those of the two calls one after the other (the run is stored
    only once the import is, and checked against it first); the refusals are theirs, in the
    same order. Whatever refuses the evaluation before it starts (its policy, a closed period,
    another cadence) leaves it to be made after the import, as evaluate makes it.
    `on_import`: called with the ImportResult once the import is stored, before the
    evaluation is waited for (the command line says what was imported, even when the
    evaluation is then refused)."""
    from evaluator.evaluate import default_workers
    from evaluator.runs import start_before_stored
    ledger = _checked_ledger(db, path, period, lang, progress, force)
    run_lang = lang or ledger.lang
    started = None
    try:
        try:
            the_policy = load_policy_or_refuse(policy, run_lang)
        except Refused:
            the_policy = None           # refused by evaluate below, after the import
        if the_policy is not None and default_workers() > 1:
            # (a database not made yet is made by the import: nothing in it to read before)
            started = start_before_stored(db.engine if db.exists() else None, ledger, period,
                                          the_policy, run_lang, progress)
        # the evaluation's progress is the one shown meanwhile
        imported = _stored(db, ledger, path, period, lang,
                           progress if started is None else None, None,
                           at=None if started is None else started.inputs.clock)
        if started is not None and imported.status != "stored":
            # an earlier import of the same file is the active one again: its rows as stored
            # are the ones to evaluate (evaluate reads them)
            started.close()
            started = None
        if on_import is not None:
            on_import(imported)
    except BaseException:
        if started is not None:
            started.close()
        raise
    finally:
        if started is None:
            ledger.close()              # else the evaluation's rows: it closes them
    evaluated = evaluate(db, period, policy=the_policy or policy, lang=run_lang,
                         progress=progress, import_id=imported.import_id, for_report=True,
                         started=started)
    return imported, evaluated


def _checked_ledger(db: Database, path, period: str, lang: str | None, progress,
                    force: bool, file_name: str | None = None):
    """The workbook at `path` read and validated (importers.read_ledger), and checked against
    the period (SPEC §10.2): Refused with every problem, nothing stored. The caller closes it."""
    from evaluator.db import reader
    from evaluator.period_check import forced_warning, period_problems
    from importers import LedgerRefused, read_ledger
    path = str(path)
    if not Path(path).exists():
        raise Refused([i18n.t(lang or "en", "file_missing", path=path)])
    try:
        ledger = read_ledger(path, lang=lang, progress=progress)
    except LedgerRefused as refused:
        # the problems are already worded in the refusal's language
        raise Refused.listing(lang or refused.lang, path, refused.problems) from None
    try:
        if db.exists():
            with Session(reader(db.engine)) as session, session.begin():
                _refuse_if_closed(session, period, lang or ledger.lang)
                wrong = period_problems(session, ledger, period)
        else:                           # a refused first import must not create the database
            wrong = period_problems(None, ledger, period)
        if wrong and not force:
            raise Refused.listing(lang or ledger.lang, path, wrong)
        ledger.warnings.extend(forced_warning(p) for p in wrong)
        if file_name:
            ledger.file_name = file_name
    except BaseException:
        ledger.close()
        raise
    return ledger


def _stored(db: Database, ledger, path, period: str, lang: str | None, progress,
            account: str | None, at=None) -> ImportResult:
    """`ledger` (from _checked_ledger) stored as the period's active ledger
    (evaluator.store.store_import); a failed store Refused in the user's language."""
    from evaluator.store import StoreFailed, store_import
    try:
        outcome = store_import(db.engine, ledger, period, progress=progress, account=account,
                               at=at)
    except StoreFailed as e:
        key = "import_store_crashed" if e.crashed else "import_store_failed"
        raise Refused([i18n.t(lang or ledger.lang, key, error=str(e))]) from None
    return ImportResult(str(path), period, ledger.lang, ledger.sha256, outcome.status,
                        outcome.import_id, outcome.previous_import_id,
                        dict(outcome.rows_per_sheet), list(ledger.warnings))


# --------------------------------------------------------------------------- evaluate

@dataclass
class RunResult:
    run_id: int
    period: str
    file_sha256: str
    policy_sha256: str
    rules_version: str
    firings: int
    adjustments: int
    exceptions: int
    reviews: int                   # exceptions that take a decision
    open_reviews: int
    decisions_recorded: int        # from the ledger's own Reviews sheet
    # what a report that follows (`report(..., evaluated=this)`) would otherwise read again:
    # the rows of the run's import the evaluation read (a second per 25,000 employees; its
    # transaction sheets still on the files the evaluation read them from, closed by that
    # report — or, when none follows, by the garbage collector once this is dropped:
    # importers.spooled.SpooledRows), and
    # what the reports need from all the firings, gathered as they were stored (a pass over
    # them: reports/facts.py)
    ledger_rows: dict | None = field(default=None, repr=False, compare=False)
    firing_facts: object | None = field(default=None, repr=False, compare=False)


def load_policy_or_refuse(policy, lang: str | None = None):
    """A Policy from a path (None: the shipped default), or Refused with its errors."""
    from rules.policy import Policy, PolicyError, load_policy
    if isinstance(policy, Policy):
        return policy
    try:
        return load_policy(policy)
    except PolicyError as e:
        raise Refused([i18n.t(lang or "en", "policy_error", text=x.message(lang or "en"))
                       for x in e.errors]) from None


def evaluate(db: Database, period: str, *, policy=None, lang: str | None = None,
             progress: Progress | None = None, import_id: int | None = None,
             account: str | None = None, for_report: bool = False,
             started=None) -> RunResult:
    """Fire the rules on the period's active ledger with the decisions in force and store the
    run (SPEC §5, §6). `policy`: a TOML path, a rules.policy.Policy, or None for the default.
    `import_id`: evaluate only if that import is (still) the period's active ledger — what
    import-then-evaluate needs when another import of the period may land in between.
    `for_report`: a report follows (`report(..., evaluated=the result)`): what it needs from
    all the firings is gathered as they are stored, not read back from the database.
    `started`: the evaluation of that import already computing (import_and_evaluate)."""
    from evaluator.runs import EvaluationFailed, RunRefused, evaluate_period
    from reports.facts import Gathering
    lang = lang or "en"
    try:
        policy = load_policy_or_refuse(policy, lang)
        _existing(db, lang)
    except BaseException:
        if started is not None:
            started.close()
        raise
    gathering = Gathering() if for_report else None
    try:
        outcome = evaluate_period(db.engine, period, policy, lang=lang, progress=progress,
                                  import_id=import_id, account=account,
                                  gathering=gathering, keep_rows=for_report, started=started)
    except RunRefused as e:
        raise Refused(e.lines) from None
    except EvaluationFailed as e:
        lines = [i18n.t(lang, "evaluation_failed", error=str(e))]
        if os.environ.get("XIETONG_DEBUG") and e.trace:
            lines.append(e.trace.rstrip())
        raise Refused(lines) from None
    run, ev = outcome.run, outcome.evaluated
    return RunResult(run.id, run.period, run.file_sha256, run.policy_sha256, run.rules_version,
                     len(ev.trace), len(ev.adjustments), len(ev.exceptions), outcome.reviews,
                     outcome.open_reviews, outcome.decisions_recorded, outcome.rows,
                     outcome.firing_facts)


# --------------------------------------------------------------------------- report

@dataclass
class ChainStatus:
    ok: bool
    checked: int                   # links checked (since the checkpoint, when incremental)
    problem: str | None
    head: str | None
    since_seq: int = 0             # incremental: the chain was verified up to this link …
    since_at: datetime | None = None   # … at this time (UTC); 0 and None: the whole chain
    since_run: int | None = None   # … by this run's check (None: by a full verify)


@dataclass
class ReportResult:
    period: str
    run_id: int
    out_dir: Path
    lang: str
    formats: frozenset
    stale: bool                    # the run is older than the period's newest import or decision
    files: dict[str, list[Path]]   # "statement" | "trace_xlsx" | "trace_html" | "reviews" | "json"
    departments: int
    employees: int
    firings: int
    review_workbooks: int
    reviews: int                   # review items, over all review workbooks
    rejections: int                # rejections and notices listed in HR.xlsx
    chain: ChainStatus | None      # None when no trace was written (json only)
    removed: list[str] = field(default_factory=list)   # the earlier report's files not rewritten
    open_reviews: int = 0          # of the review items, those still open (no current decision)
    feedback: int = 0              # feedback/<dept_id>.xlsx written: the rated departments
    checkpoint_seq: int = 0        # report(checkpoint=True): the checkpoint's link (0: none)
    checkpoint_error: str | None = None   # why none could be written (e.g. a read-only account)

    @property
    def written(self) -> list[Path]:
        return [p for paths in self.files.values() for p in paths]


def report(db: Database, period: str, out_dir, *, formats=FORMATS,
           lang: str | None = None, evaluated: RunResult | None = None,
           checkpoint: bool = False) -> ReportResult:
    """Write the latest run's reports into `out_dir` (SPEC §8): statement.xlsx, trace.xlsx and
    trace.html (which show the audit chain's status: the chain is checked first, or beside the
    writers when the check is big, evaluator.chain_apart), review
    workbooks, and the JSON files. Labels follow `lang`, else the ledger's header language;
    `Sheet!row` references use the ledger's own sheet names. `evaluated`: the evaluation this
    report follows (`xietong run`): when its run is the one reported, the ledger rows it read
    are shown, not read again (an import's rows never change; the chain's check reads the
    stored ones).

    `checkpoint` (what `xietong run` and the desk's evaluation pass; never a report alone,
    which must not change a database): the chain check also covers the rows of every import
    linked since the newest checkpoint, and when it passed a checkpoint of it is written, in
    its own short write transaction after the files (SPEC §10.8), so the next run's check
    starts there. When it cannot be (a read-only account, a busy database), the report still
    stands and `checkpoint_error` says why."""
    from evaluator import chain_apart
    from evaluator.db import Decision, ImportActivation, LedgerImport, reader
    from evaluator.evaluate import default_workers
    from evaluator.periods import state as period_state_of
    from evaluator.runs import latest_run, load_run, refusal
    from engine.isolation import Forked
    from importers.memory import give_back_free_memory
    from importers.spooled import close_spooled
    from reports import facts as firing_facts
    from reports import feedback, json_files, reviews, statement, trace
    formats = frozenset(formats)
    small_json = tuple(n for n in json_files.JSON_FILES if n != "trace.json")
    engine = _existing(db, lang).engine
    earlier = _earlier_manifest(Path(out_dir), period, lang)
    other = apart = None
    rows: dict = {}
    stored: dict = {}
    # the review workbooks' stamp (SPEC §10.3): taken before the snapshot is read, so every
    # decision they show was recorded before it
    issued_at = datetime.now(timezone.utc)
    try:
        # a read-only snapshot: reports neither wait for nor block a writer (evaluator.db.reader)
        with Session(reader(engine), expire_on_commit=False) as session, session.begin():
            run = latest_run(session, period)
            if run is None:
                raise Refused([refusal(lang or "en", "no_run", period=period)])
            imp = session.get(LedgerImport, run.import_id)
            workers = default_workers() > 1
            checks = bool(formats & {"xlsx", "html"})   # the trace shows the chain's status
            if checks and workers:
                # SPEC §10.8's check, from the newest checkpoint plus the run's import and its
                # rows: a big one in a process of its own (evaluator.chain_apart), on the core
                # the second writer leaves idle; the trace takes its result last
                apart = chain_apart.start(engine, session, period, run.id, checkpoint)
            # the firings are read from the database as each writer iterates them (one
            # pass each, never all held: evaluator.runs.RunFirings); what several writers need
            # from all of them (reports/facts.py) is gathered in one pass, below
            stored = load_run(session, run, stream=engine,
                              by_seq=checks)     # for the trace
            follows = evaluated is not None and evaluated.run_id == run.id
            # the transaction sheets stay on their files (read there as the writers need
            # them), closed when the reports are written
            rows, changed = _run_rows(session, run, evaluated.ledger_rows if follows else None)
            if (follows and evaluated.firing_facts is not None
                    and evaluated.firing_facts.count == len(stored["firings"])):
                firing_facts.seed(stored, evaluated.firing_facts)
            newest = [session.exec(select(sa.func.max(LedgerImport.imported_at))
                                   .where(LedgerImport.period == period)).one(),
                      session.exec(select(sa.func.max(ImportActivation.activated_at))
                                   .where(ImportActivation.period == period)).one(),
                      session.exec(select(sa.func.max(Decision.decided_at))
                                   .where(Decision.period == period)).one()]
            ledger_lang = imp.lang if imp is not None and imp.lang in ("zh", "en") else "en"
            lang = lang or ledger_lang
            ledger_file = imp.file_name if imp is not None else None
            stale = changed or any(t is not None and _aware(t) > _aware(run.started_at)
                                   for t in newest)
            period_state = period_state_of(session, period)
            closed = ({"at": period_state.since, "by": period_state.by}
                      if period_state.closed else None)
            emails = _emails(session)
            out_dir = Path(out_dir)
            out_dir.mkdir(parents=True, exist_ok=True)

            def without_chain() -> dict[str, list[Path]]:
                """The reports that need no chain status: statement, review workbooks, JSON."""
                done: dict[str, list[Path]] = {}
                if "xlsx" in formats:
                    # SPEC §11.3: what its internal customers said, to each rated department —
                    # first, when this process is smallest: it holds the most (a group of
                    # ratings, feedback.HELD_RATINGS), and the writers after it fill what it
                    # freed
                    done["feedback"] = feedback.write(out_dir / "feedback", period, rows, stored,
                                                      lang, ledger_lang)
                    done["statement"] = [statement.write(out_dir / "statement.xlsx", period, rows,
                                                         stored, lang, {"ledger_file": ledger_file},
                                                         closed)]
                    done["reviews"] = reviews.write(out_dir / "reviews", period, rows, stored,
                                                    lang, ledger_lang, issued_at=issued_at,
                                                    emails=emails)
                if "json" in formats:
                    done["json"] = json_files.write(out_dir, period, rows, stored,
                                                    names=small_json)
                return done

            # Two writers at once on a multi-core machine: a forked child writes the reports
            # that need no chain status (statement, reviews, feedback, the small JSON files)
            # while this process writes the trace, which shows the chain's status (checked
            # here in this snapshot first, or apart meanwhile), and trace.json. The child
            # never touches the database (evaluator.runs.RunFirings says why): it inherits the
            # loaded run (copy-on-write: adjustments, exceptions, rows, and the firings' facts,
            # gathered here in one pass first: the statement and the review workbooks read
            # them) and sends back only the paths it wrote.
            firing_facts.of(stored)
            if workers:
                # the child starts with every page this process holds: the heap's free ones
                # handed back first (at 100,000 employees, what the evaluation's storing and
                # load_run freed: 200 → 168 MB)
                give_back_free_memory()
                other = Forked(without_chain, point="reports")
            checked = None      # (verify_since's result, the head), once known
            if checks and apart is None:
                checked = chain_apart.check(session, period, run.id, checkpoint)

        def chain_status() -> dict:
            """The chain's status as the trace shows it; the check's result waited for (or,
            should its process have failed, made here in a snapshot of its own)."""
            nonlocal checked
            if checked is None:
                checked = apart.result()
                if checked is None:
                    with Session(reader(engine)) as s, s.begin():
                        checked = chain_apart.check(s, period, run.id, checkpoint)
            return _chain_status(*checked, lang)

        files: dict[str, list[Path]] = {}
        trace_json: list[Path] = []
        if checks:
            # one reading of the firings for the trace files (trace.write_both), trace.json
            # taking each firing as the sheets or the page are written
            with json_files.trace_writer(out_dir, "json" in formats) as json_trace:
                xlsx, page = trace.write_both(
                    out_dir / "trace.xlsx" if "xlsx" in formats else None,
                    out_dir / "trace.html" if "html" in formats else None,
                    period, rows, stored, lang, ledger_lang, ledger_file,
                    chain_status if apart is not None else chain_status(),
                    tap=None if json_trace is None else json_trace.firing)
                if json_trace is not None and json_trace.whole(len(stored["firings"])):
                    trace_json = [json_trace.finish()]
            if xlsx is not None:
                files["trace_xlsx"] = [xlsx]
            if page is not None:
                files["trace_html"] = [page]
        if "json" in formats and not trace_json:
            trace_json = json_files.write(out_dir, period, rows, stored, names=("trace.json",))
        if other is None:
            others = without_chain()
        else:
            others = _child_result(other, lang, out_dir)
        r, n_open, j = reviews.counts(stored)
        chain = chain_status() if checks else None
    except BaseException:
        if other is not None:
            other.cancel()
        if apart is not None:
            apart.cancel()
        raise
    finally:
        # the transaction sheets, and the run's adjustments and exceptions (each on a file
        # or two since load_run), whether the reports were written or not
        close_spooled(rows, stored)
        if evaluated is not None:
            close_spooled(evaluated.ledger_rows)
    files.update(others)
    if "json" in formats:
        files["json"] = files.get("json", []) + trace_json
    manifest, removed = _write_manifest(out_dir, period, run.id, files, earlier)
    files["manifest"] = [manifest]
    departments, employees = statement.summary(rows)
    done = ReportResult(period, run.id, out_dir, lang, formats, stale, files, departments,
                        employees, len(stored["firings"]), len(files.get("reviews", [])), r, j,
                        None if chain is None else ChainStatus(**chain), removed, n_open,
                        len(files.get("feedback", [])))
    check = checked[0] if checked is not None else None
    if checkpoint and check is not None and check.ok:
        done.checkpoint_seq, done.checkpoint_error = _write_checkpoint(engine, check, run.account,
                                                                       run.id)
    return done


def _chain_status(result, head: str | None, lang: str) -> dict:
    """What the reports show of a chain check (verify_since's result and the head link's hash)."""
    chain = {"ok": result.ok, "checked": result.checked,
             "problem": result.problem.pick(lang) if result.problem else None, "head": head}
    if result.since_seq:
        chain.update(since_seq=result.since_seq, since_at=_aware(result.since_at),
                     since_run=result.since_run)
    return chain


def _write_checkpoint(engine, check, account: str | None, run_id: int | None = None
                      ) -> tuple[int, str | None]:
    """A passed check written as a checkpoint (SPEC §10.8: a full verify's, or a run's with its
    id), chained with the account, in its own short write transaction: (its link, None), or
    (0, why it could not be written: a database user who may only read, a busy database) —
    the verification or the report it belongs to stands either way."""
    from evaluator.chain import write_checkpoint
    try:
        with Session(engine) as session, session.begin():
            _, link = write_checkpoint(session, check, account, run_id=run_id)
            return link.seq, None
    except sa.exc.DBAPIError as e:
        return 0, str(getattr(e, "orig", e)).strip().splitlines()[0]


def _child_result(child, lang, out_dir):
    """What a report's forked child returned; a refusal naming the folder when it failed."""
    from engine.isolation import ChildError, EvaluationCrashed
    try:
        return child.result()
    except (ChildError, EvaluationCrashed) as e:
        raise Refused([i18n.t(lang, "report_failed", dir=out_dir,
                              error=f"{getattr(e, 'kind', 'crash')}: {e}")]) from None


def _run_rows(session, run, loaded: dict | None = None) -> tuple[dict, bool]:
    """The rows a stored run's sources name: its import's (those in `loaded`, when its
    evaluation just read them, else from the database), and the other months' imports it read
    (Run.other_imports) under their qualified sheet names (rules/sources.py) — and whether one
    of those months has another active import since (the run is then out of date).

    The transaction sheets (evaluator.runs.SPOOLED_SHEETS) are not held: each is a
    SpooledRows — the evaluation's own, still open, or read from the database into a file —
    that the writers iterate or look rows up in (reports.view.RowIndex). At 100,000 employees
    they were 250 MB held by the process that writes the reports. The caller closes them
    (close_spooled); an evaluation's sheet already closed (a report made before from the same
    evaluation closed it) is read from the database.

    The other sheets are held by column (importers.columns.ColumnRows: 8 bytes a value, where
    a row as a dict was ≈ 176 bytes; docs/decisions.md, "Issue 15: the master sheets held by
    column"), as the evaluation read them, or read from the database so."""
    import json
    from evaluator.runs import SPOOLED_SHEETS
    from evaluator.store import active_import, load_rows
    from importers.schema import SHEETS
    from importers.spooled import close_spooled
    from rules.sources import with_months
    rows: dict = {}
    months: dict = {}
    try:
        if loaded is None:
            rows = load_rows(session, run.import_id, spooled=SPOOLED_SHEETS, by_column=True)
        else:
            rows = {k: v for k, v in loaded.items() if not getattr(v, "closed", False)}
            missing = {s.name for s in SHEETS} - set(rows)
            if missing:
                rows.update(load_rows(session, run.import_id, missing, spooled=SPOOLED_SHEETS,
                                      by_column=True))
            rows = {s.name: rows[s.name] for s in SHEETS}           # in the schema's order
        others = json.loads(run.other_imports) if getattr(run, "other_imports", None) else {}
        if not others:
            return rows, False
        changed = False
        for month, imported in others.items():
            months[month] = load_rows(session, imported["import_id"], spooled=SPOOLED_SHEETS,
                                      by_column=True)
            now = active_import(session, month)
            changed = changed or now is None or now.id != imported["import_id"]
        return with_months(rows, months), changed
    except BaseException:
        close_spooled(rows, months)
        raise


def _emails(session) -> dict[str, str]:
    """employee id -> the e-mail address of its desk account (the enabled manager account
    first by username, as `notify` mails it), for HR's list of review workbooks. None before
    the desk made its tables. (The table is named here, not imported from
    evaluator.desk_tables: importing it puts the desk's tables on the metadata, and the next
    engine this process makes would create them — a report must not change a database.)"""
    conn = session.connection()
    if not sa.inspect(conn).has_table("desk_account"):
        return {}
    a = sa.table("desk_account", sa.column("employee_id"), sa.column("email"),
                 sa.column("disabled"), sa.column("username"))
    out: dict[str, str | None] = {}
    for employee_id, email in conn.execute(
            sa.select(a.c.employee_id, a.c.email)
            .where(a.c.employee_id.is_not(None), a.c.disabled == sa.false())
            .order_by(a.c.username)):
        out.setdefault(employee_id, email)
    return {k: v for k, v in out.items() if v}


MANIFEST = "manifest.json"


def _earlier_manifest(out_dir: Path, period: str, lang: str | None) -> dict | None:
    """The manifest of the report already in `out_dir`, if any. A folder holds one period's
    report: writing another period's into it is refused (its files would be mixed up)."""
    import json
    path = out_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text("utf-8"))
        files = [f["path"] for f in manifest["files"]]
        other = manifest["period"]
    except (ValueError, KeyError, TypeError):
        return None                  # not ours, or damaged: rewritten, nothing removed
    if other != period:
        raise Refused([i18n.t(lang or "en", "report_other_period", dir=out_dir, other=other,
                              period=period)])
    return {"period": other, "files": files}


def _write_manifest(out_dir: Path, period: str, run_id: int, files: dict[str, list[Path]],
                    earlier: dict | None) -> tuple[Path, list[str]]:
    """manifest.json (SPEC §10.4): every file this report wrote, with its SHA-256 and size; the
    files of the earlier report of the period that this one did not write are removed, so the
    folder holds one run (never a file the manifest did not list: a manager's returned copy
    saved beside the reports stays)."""
    import hashlib
    import json
    out_dir = Path(out_dir)
    written = sorted(p for paths in files.values() for p in paths)
    entries = []
    for p in written:
        with open(p, "rb") as f:           # in pieces: a big month's trace.json is 400 MB
            digest = hashlib.file_digest(f, "sha256")
        entries.append({"path": p.relative_to(out_dir).as_posix(),
                        "sha256": digest.hexdigest(), "bytes": p.stat().st_size})
    keep = {e["path"] for e in entries}
    removed = []
    for old in (earlier or {}).get("files", ()):
        stale = out_dir / old
        if old not in keep and ".." not in Path(old).parts and stale.is_file():
            stale.unlink()
            removed.append(old)
    manifest = {"period": period, "run_id": run_id,
                "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "files": entries}
    path = out_dir / MANIFEST
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", "utf-8")
    return path, removed
