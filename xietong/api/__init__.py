"""The library under every face of xietong: what the command line, the desk and a Python user
call. Each function takes a database handle and plain arguments and returns a result object;
nothing here prints, reads arguments or exits. A refused input raises `Refused`, whose `lines`
are already worded in the user's language (and whose `problems`, for a refused workbook, are
the structured `importers.Problem`s: sheet, cell, column, expected, found).

    import xietong

    with xietong.open_database("sqlite:///hr.db") as db:
        imported = xietong.import_ledger(db, "ledger-2026-11.xlsx", "2026-11")
        run = xietong.evaluate(db, "2026-11")
        written = xietong.report(db, "2026-11", "out/2026-11")
        year = xietong.summary(db, quarter="2026-Q4", out_dir="out/2026-Q4")   # SPEC §11.2
        for firing in xietong.firings(db, "2026-11"):      # an iterator: millions in a big month
            ...

Results that can be large (firings, ledger rows) are iterators, so that reading them in
batches from the database later changes no signature.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import sqlalchemy as sa
from sqlmodel import Session, select

from xietong import i18n

FORMATS = ("xlsx", "html", "json")
Progress = Callable[..., None]        # progress(phase, done, total, unit="rows")


class Refused(Exception):
    """A refused input (a bad ledger or review workbook, an unknown period, a policy with errors,
    a failed verification…): nothing was stored. `lines` are the messages in the user's
    language; `problems` the structured problems behind them, when there are any."""

    def __init__(self, lines: list[str], problems: list | None = None):
        super().__init__("\n".join(lines))
        self.lines = list(lines)
        self.problems = list(problems or [])

    @classmethod
    def listing(cls, lang: str, path, problems, header: str = "refused_header",
                tail: str = "nothing_stored") -> "Refused":
        """A refused file: a header naming it, one indented line per problem, nothing stored."""
        return cls([i18n.t(lang, header, path=path, n=len(problems))]
                   + [f"  {p}" for p in problems] + [i18n.t(lang, tail)], problems)


# --------------------------------------------------------------------------- the database

class Database:
    """One database of xietong (SQLite file or PostgreSQL server): its URL and a connection
    pool. Close it (or use it as a context manager) when done, so that SQLite's last
    connection checkpoints its write-ahead log before the process goes on."""

    def __init__(self, url: str | None = None):
        from evaluator.db import database_url
        self.url = database_url(url)
        self._engine: sa.Engine | None = None

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine, made (and the tables created) on first use."""
        if self._engine is None:
            from evaluator.db import make_engine
            self._engine = make_engine(self.url)
        return self._engine

    @property
    def shown_url(self) -> str:
        """The URL with any password hidden: what messages may print."""
        try:
            return sa.engine.make_url(self.url).render_as_string(hide_password=True)
        except Exception:                   # noqa: BLE001 - an unparsable URL is shown as such
            return "(an unreadable database URL)"

    def exists(self) -> bool:
        """False for an SQLite database whose file is not there yet, or a server database
        without xietong's tables (only a change creates them: a command that reads, or a refused
        import, must not start a new, empty history by mistake)."""
        url = sa.engine.make_url(self.url)
        if url.get_backend_name() == "sqlite":
            return url.database in (None, "", ":memory:") or Path(url.database).exists()
        if self._engine is not None:        # made: its tables were created
            return True
        probe = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        try:
            with probe.connect() as conn:
                return sa.inspect(conn).has_table("chain_link")
        finally:
            probe.dispose()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_database(url: str | None = None) -> Database:
    """`url`, else $XIETONG_DB, else sqlite:///xietong.db in the working directory."""
    return Database(url)


def database_language(db: Database, period: str | None = None) -> str | None:
    """The language the database's people use (SPEC §10.5): that of the period's active import,
    else of the newest import; None when there is no import (or no database)."""
    from evaluator.db import LedgerImport, reader
    if not db.exists():
        return None
    with Session(reader(db.engine)) as session, session.begin():
        found = None
        if period is not None:
            found = session.exec(select(LedgerImport.lang).where(
                LedgerImport.period == period, LedgerImport.active == True)).first()  # noqa: E712
        if found is None:
            found = session.exec(select(LedgerImport.lang)
                                 .order_by(LedgerImport.id.desc()).limit(1)).first()
    return found if found in ("zh", "en") else None


def _existing(db: Database, lang: str | None) -> Database:
    """The database, or Refused when it is an SQLite file that does not exist: reading commands
    never create one."""
    if not db.exists():
        raise Refused([i18n.t(lang, "no_database", url=db.shown_url)])
    return db


def database_problem(e: BaseException, db: Database, lang: str | None) -> list[str] | None:
    """Lines for a database that is busy, unreachable or unusable, else None (a bug). Every
    write is one transaction, so in each of these cases nothing was stored."""
    from evaluator.db import LOCK_TIMEOUT_S, is_busy_error
    lang = lang or "en"
    url = db.shown_url
    if isinstance(e, sa.exc.OperationalError) and is_busy_error(e):
        return [i18n.t(lang, "database_busy", url=url, s=LOCK_TIMEOUT_S)]
    if isinstance(e, (sa.exc.OperationalError, sa.exc.InterfaceError)):   # not a bug's IntegrityError
        text = str(getattr(e, "orig", e)).strip()
        return [i18n.t(lang, "database_error", url=url,
                       error=text.splitlines()[0][:300] if text else type(e).__name__)]
    if isinstance(e, sa.exc.ArgumentError):
        return [i18n.t(lang, "database_error", url=url, error=str(e))]
    if isinstance(e, ModuleNotFoundError) and (e.name or "").startswith("psycopg"):
        return [i18n.t(lang, "database_driver", url=url)]
    return None


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
    from evaluator.db import reader
    from evaluator.period_check import forced_warning, period_problems
    from evaluator.store import store_import
    from importers import LedgerRefused, read_ledger
    path = str(path)
    if not Path(path).exists():
        raise Refused([i18n.t(lang or "en", "file_missing", path=path)])
    try:
        ledger = read_ledger(path, lang=lang, progress=progress)
    except LedgerRefused as refused:
        # the problems are already worded in the refusal's language
        raise Refused.listing(lang or refused.lang, path, refused.problems) from None
    if db.exists():
        with Session(reader(db.engine)) as session, session.begin():
            _refuse_if_closed(session, period, lang or ledger.lang)
            wrong = period_problems(session, ledger, period)
    else:                               # a refused first import must not create the database
        wrong = period_problems(None, ledger, period)
    if wrong and not force:
        raise Refused.listing(lang or ledger.lang, path, wrong)
    ledger.warnings.extend(forced_warning(p) for p in wrong)
    if file_name:
        ledger.file_name = file_name
    outcome = store_import(db.engine, ledger, period, progress=progress, account=account)
    return ImportResult(path, period, ledger.lang, ledger.sha256, outcome.status,
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
    # the rows of the run's import the evaluation read (a second per 25,000 employees), and
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
             account: str | None = None, for_report: bool = False) -> RunResult:
    """Fire the rules on the period's active ledger with the decisions in force and store the
    run (SPEC §5, §6). `policy`: a TOML path, a rules.policy.Policy, or None for the default.
    `import_id`: evaluate only if that import is (still) the period's active ledger — what
    import-then-evaluate needs when another import of the period may land in between.
    `for_report`: a report follows (`report(..., evaluated=the result)`): what it needs from
    all the firings is gathered as they are stored, not read back from the database."""
    from evaluator.runs import EvaluationFailed, RunRefused, evaluate_period
    from reports.facts import Gathering
    lang = lang or "en"
    policy = load_policy_or_refuse(policy, lang)
    _existing(db, lang)
    gathering = Gathering() if for_report else None
    try:
        outcome = evaluate_period(db.engine, period, policy, lang=lang, progress=progress,
                                  import_id=import_id, account=account,
                                  observe=None if gathering is None else gathering.add)
    except RunRefused as e:
        raise Refused(e.lines) from None
    except EvaluationFailed as e:
        lines = [i18n.t(lang, "evaluation_failed", error=str(e))]
        if os.environ.get("XIETONG_DEBUG") and e.trace:
            lines.append(e.trace.rstrip())
        raise Refused(lines) from None
    run, ev = outcome.run, outcome.evaluated
    reviews = [e for e in ev.exceptions if e["type"] == "review"]
    return RunResult(run.id, run.period, run.file_sha256, run.policy_sha256, run.rules_version,
                     len(ev.trace), len(ev.adjustments), len(ev.exceptions), len(reviews),
                     sum(1 for e in reviews if e["status"] == "open"),
                     outcome.decisions_recorded, outcome.rows,
                     None if gathering is None else gathering.facts())


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
    trace.html (which show the audit chain's status, so they verify the chain first), review
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
    from evaluator.chain import verify_since
    from evaluator.db import ChainLink, Decision, ImportActivation, LedgerImport, reader
    from evaluator.evaluate import default_workers
    from evaluator.periods import state as period_state_of
    from evaluator.runs import latest_run, load_run, refusal
    from engine.isolation import Forked
    from reports import facts as firing_facts
    from reports import feedback, json_files, reviews, statement, trace
    formats = frozenset(formats)
    small_json = tuple(n for n in json_files.JSON_FILES if n != "trace.json")
    engine = _existing(db, lang).engine
    earlier = _earlier_manifest(Path(out_dir), period, lang)
    other = None
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
            # the firings are read from the database as each writer iterates them (one
            # pass each, never all held: evaluator.runs.RunFirings); what several writers need
            # from all of them (reports/facts.py) is gathered in one pass, below
            stored = load_run(session, run, stream=engine)
            workers = default_workers() > 1
            follows = evaluated is not None and evaluated.run_id == run.id
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
                    done["statement"] = [statement.write(out_dir / "statement.xlsx", period, rows,
                                                         stored, lang, {"ledger_file": ledger_file},
                                                         closed)]
                    done["reviews"] = reviews.write(out_dir / "reviews", period, rows, stored,
                                                    lang, ledger_lang, issued_at=issued_at,
                                                    emails=emails)
                    # SPEC §11.3: what its internal customers said, to each rated department
                    done["feedback"] = feedback.write(out_dir / "feedback", period, rows, stored,
                                                      lang, ledger_lang)
                if "json" in formats:
                    done["json"] = json_files.write(out_dir, period, rows, stored,
                                                    names=small_json)
                return done

            # Two writers at once on a multi-core machine: a forked child writes the reports
            # that need no chain status (statement, reviews, feedback, the small JSON files)
            # while this process verifies the chain in this snapshot and writes the trace,
            # which shows the chain's status, and trace.json. The child never touches the
            # database (evaluator.runs.RunFirings says why): it inherits the loaded run
            # (copy-on-write: adjustments, exceptions, rows, and the firings' facts, gathered
            # here in one pass first: the statement and the review workbooks read them) and
            # sends back only the paths it wrote.
            firing_facts.of(stored)
            if workers:
                other = Forked(without_chain, point="reports")
            chain = check = None
            if formats & {"xlsx", "html"}:
                # SPEC §10.8: from the newest checkpoint, plus the run's import and its rows
                check = result = verify_since(session, period, run.id, checkpoint=checkpoint)
                head = session.exec(select(ChainLink).order_by(ChainLink.seq.desc())
                                    .limit(1)).first()
                chain = {"ok": result.ok, "checked": result.checked,
                         "problem": result.problem.pick(lang) if result.problem else None,
                         "head": head.hash if head else None}
                if result.since_seq:
                    chain.update(since_seq=result.since_seq, since_at=_aware(result.since_at),
                                 since_run=result.since_run)
        files: dict[str, list[Path]] = {}
        trace_json: list[Path] = []
        if formats & {"xlsx", "html"}:
            # one reading of the firings for the trace files (trace.write_both), trace.json
            # taking each firing as the sheets or the page are written
            with json_files.trace_writer(out_dir, "json" in formats) as json_trace:
                xlsx, page = trace.write_both(
                    out_dir / "trace.xlsx" if "xlsx" in formats else None,
                    out_dir / "trace.html" if "html" in formats else None,
                    period, rows, stored, lang, ledger_lang, ledger_file, chain,
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
    except BaseException:
        if other is not None:
            other.cancel()
        raise
    files.update(others)
    if "json" in formats:
        files["json"] = files.get("json", []) + trace_json
    manifest, removed = _write_manifest(out_dir, period, run.id, files, earlier)
    files["manifest"] = [manifest]
    departments, employees = statement.summary(rows)
    _, r, n_open, j = reviews.counts(stored)
    done = ReportResult(period, run.id, out_dir, lang, formats, stale, files, departments,
                        employees, len(stored["firings"]), len(files.get("reviews", [])), r, j,
                        None if chain is None else ChainStatus(**chain), removed, n_open,
                        len(files.get("feedback", [])))
    if checkpoint and check is not None and check.ok:
        done.checkpoint_seq, done.checkpoint_error = _write_checkpoint(engine, check, run.account,
                                                                       run.id)
    return done


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
    """The rows a stored run's sources name: its import's (`loaded`, when its evaluation just
    read them), and the other months' imports it read (Run.other_imports) under their qualified
    sheet names (rules/sources.py) — and whether one of those months has another active import
    since (the run is then out of date)."""
    import json
    from evaluator.store import active_import, load_rows
    from rules.sources import with_months
    rows = loaded if loaded is not None else load_rows(session, run.import_id)
    others = json.loads(run.other_imports) if getattr(run, "other_imports", None) else {}
    if not others:
        return rows, False
    months, changed = {}, False
    for month, imported in others.items():
        months[month] = load_rows(session, imported["import_id"])
        now = active_import(session, month)
        changed = changed or now is None or now.id != imported["import_id"]
    return with_months(rows, months), changed


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


def _aware(t: datetime) -> datetime:
    """SQLite hands timestamps back naive (they are stored in UTC)."""
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t


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

def _refuse_if_closed(session, period: str, lang: str | None) -> None:
    from evaluator.periods import PeriodRefused, refuse_if_closed
    try:
        refuse_if_closed(session, period, lang)
    except PeriodRefused as e:
        raise Refused(e.lines) from None


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


# --------------------------------------------------------------------------- what-if

@dataclass
class WhatIfChange:
    """One subject's change in one month, for the terminal's list of the largest."""
    subject_type: str              # "department" | "employee"
    subject_id: str
    name: str
    period: str
    current: object                # Decimal | None
    alternative: object
    difference: object


@dataclass
class WhatIfResult:
    range: str
    policy_file: str | None
    policy_sha256: str
    months: list[str]              # evaluated under the alternative
    skipped: list[dict]            # {"period", "reason": "no_import" | "refused", "lines"}
    data: dict                     # what whatif.json holds (reports/whatif.py), points exact
    files: list[Path]
    largest: list[WhatIfChange]    # the largest |difference| first


def whatif_months(*, period: str | None = None, quarter: str | None = None,
                  year: str | int | None = None) -> tuple[str, list[str]]:
    """(the range's name, its months) for exactly one of period "YYYY-MM", quarter "YYYY-Qn",
    year YYYY (a quarter or a year as the summary reads it: evaluator.history.months_of)."""
    from evaluator.history import months_of
    if sum(x is not None for x in (period, quarter, year)) != 1:
        raise ValueError("give exactly one of period, quarter, year")
    if period is not None:
        return period, [period]
    return months_of(year, quarter)


def whatif(db: Database, policy, months: list[str], out_dir, *, range_name: str | None = None,
           lang: str | None = None, progress: Progress | None = None, largest: int = 10,
           workers: int | None = None) -> WhatIfResult:
    """SPEC §11.6: each month's stored active ledger and decisions evaluated under `policy`
    (a TOML path or a rules.policy.Policy) in memory, beside its latest run; stores nothing.
    Writes whatif.json and whatif.xlsx into `out_dir`. A policy with errors is refused before
    anything is read, with the messages of `policy check`; months without an import are listed
    in `skipped` and the others evaluated. The months are evaluated in parallel processes,
    `workers` at a time (default: every core this process may use), each figure equal to what
    `evaluate --policy` would store (evaluator/whatif.py)."""
    from engine.isolation import ChildError, EvaluationCrashed, Forked
    from evaluator.whatif import differences, month_figures, read_month
    from reports import whatif as files
    lang = lang or "en"
    alternative = load_policy_or_refuse(policy, lang)       # refused before anything is read
    _existing(db, lang)
    cores = _cores() if workers is None else max(1, workers)
    months = sorted(dict.fromkeys(months))
    inner = max(1, cores // max(1, min(len(months), cores)))   # feed workers inside a month
    running: list[tuple[str, Forked]] = []
    figures, skipped = {}, []

    def collect(block: bool) -> None:
        while running and (block or len(running) >= cores):
            period, child = running.pop(0)
            try:
                figures[period] = child.result()
            except (ChildError, EvaluationCrashed) as e:
                raise Refused([i18n.t(lang, "evaluation_failed",
                                      error=f"{period}: {getattr(e, 'kind', 'crash')}: {e}")]
                              ) from None
            if progress is not None:
                progress("whatif", len(figures), len(months), "months")

    try:
        for period in months:
            month = read_month(db.engine, period, alternative)
            if month is None:
                skipped.append({"period": period, "reason": "no_import", "lines": []})
                continue
            collect(block=False)
            # a forked child per month (a native crash of the engine fails the what-if, not
            # the process), `cores` at a time; reading the next month overlaps their work
            running.append((period, Forked(month_figures, month, alternative, lang, inner,
                                           point="whatif")))
            del month                      # the child has its copy
        collect(block=True)
    finally:
        for _, child in running:
            child.cancel()
    data = {"range": range_name or (months[0] if len(months) == 1 else
                                    f"{months[0]}–{months[-1]}"),
            "policy": {"file": alternative.source, "sha256": alternative.sha256},
            "months": [], "skipped": skipped, "departments": [], "employees": []}
    subjects = {"department": {}, "employee": {}}
    changes = []
    for period in months:
        f = figures.get(period)
        if f is None:
            continue
        if f.refused is not None:
            skipped.append({"period": period, "reason": "refused", "lines": f.refused})
            continue
        data["months"].append(period)
        for subject_type in ("department", "employee"):
            for d in differences(f, subject_type):
                entry = subjects[subject_type].setdefault(d["id"], {"name": d["name"],
                                                                    "months": {}})
                entry["months"][period] = {k: d[k] for k in ("current", "alternative",
                                                              "difference", "rules")}
                if d["difference"]:
                    changes.append(WhatIfChange(subject_type, d["id"], d["name"], period,
                                                d["current"], d["alternative"],
                                                d["difference"]))
    skipped.sort(key=lambda s: s["period"])
    for subject_type, kind, key in (("department", "departments", "dept_id"),
                                    ("employee", "employees", "employee_id")):
        data[kind] = [{key: sid, "name": e["name"], "months": e["months"]}
                      for sid, e in sorted(subjects[subject_type].items())]
    written = files.write(out_dir, data, lang)
    changes.sort(key=lambda c: (-abs(c.difference), c.period, c.subject_type, c.subject_id))
    return WhatIfResult(data["range"], data["policy"]["file"], alternative.sha256,
                        list(data["months"]), skipped, data, written, changes[:largest])


def _cores() -> int:
    """The cores this process may use (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------- files for people

@dataclass
class PolicyCheck:
    path: str | None
    errors: list                   # rules.policy.PolicyIssue: .message(lang)
    warnings: list


def check_policy(path=None, *, strict: bool = False, db: Database | None = None,
                 period: str | None = None, lang: str | None = None) -> PolicyCheck:
    """Errors and warnings (values outside the article's bands) of a policy file (SPEC §4).
    With `db` and `period`, also a warning for each Linkage row of the period's active ledger
    whose effective weight after total_cap falls below the article's band for its level
    (SPEC §11.10; errors with `strict`). Refused when the period has no import."""
    from rules.policy import check_policy as check
    from rules.policy import effective_weight_warnings, load_policy
    errors, warnings = check(path, strict=strict)
    if period is not None and db is not None:
        links = _active_rows(db, period, "Linkage", lang)
        if not errors:
            extra = effective_weight_warnings(load_policy(path), links)
            if strict:
                from dataclasses import replace
                errors = list(errors) + [replace(w, severity="error") for w in extra]
            else:
                warnings = list(warnings) + extra
    return PolicyCheck(None if path is None else str(path), list(errors), list(warnings))


def _active_rows(db: Database, period: str, sheet: str, lang: str | None) -> list[dict]:
    """A sheet of the period's active ledger; Refused when the period has no import."""
    from evaluator.db import reader
    from evaluator.runs import refusal
    from evaluator.store import active_import, load_rows
    _existing(db, lang)
    with Session(reader(db.engine)) as session, session.begin():
        imp = active_import(session, period)
        if imp is None:
            raise Refused([refusal(lang or "en", "no_import", period=period)])
        return load_rows(session, imp.id, (sheet,))[sheet]


def write_template(path, *, lang: str = "zh") -> Path:
    """An empty ledger workbook: every sheet, headers, dropdowns and a guide sheet."""
    from reports.template import write_template as write
    write(path, lang=lang)
    return Path(path)


def write_sample_ledger(path, *, employees: int = 200, period: str = "2026-11", seed: int = 7,
                        lang: str = "zh") -> Path:
    """A believable sample company's ledger for `period` (the demo's)."""
    from xietong.sample import write_sample_ledger as write
    write(path, employees=employees, period=period, seed=seed, lang=lang)
    return Path(path)


# =========================================================================== the desk's library
# What the desk (SPEC §12) needs beyond the commands: accounts, the review items of a period with
# names and cited values, one decision at a time, runs with their hashes, decisions with who and
# when, the trace browser's pages, background evaluations and the notifications. The desk's
# pages, its JSON API and the command line (`xietong user …`, `xietong notify`) all call these.

class NotFound(Refused):
    """No such thing (period, item, job): the same answer whoever asks."""


class Conflict(Refused):
    """The request cannot be done now: the period is closed, or an evaluation of it runs."""


def _words(lang, key, **kw) -> str:
    from xietong.words import w
    return w(lang, key, **kw)


def _engine(db: Database):
    import evaluator.desk_tables                      # noqa: F401 - its tables on the metadata
    from evaluator.desk_tables import ensure_tables
    engine = db.engine
    ensure_tables(engine)
    return engine


# --------------------------------------------------------------------------- accounts

def _account_refused(problem, lang) -> Refused:
    values = dict(problem.values)
    if "until" in values:
        values["until"] = _aware(values["until"]).strftime("%Y-%m-%d %H:%M UTC")
    return Refused([_words(lang, "account_" + problem.key, **values)])


def add_account(db: Database, username: str, role: str, password: str, *,
                employee_id: str | None = None, name: str | None = None,
                email: str | None = None, lang: str | None = None):
    """A new desk account (role hr | auditor | manager; a manager needs its employee id)."""
    from xietong.accounts import AccountProblem, add
    try:
        return add(_engine(db), username, role, password, employee_id=employee_id, name=name,
                   email=email)
    except AccountProblem as p:
        raise _account_refused(p, lang) from None


def set_account_password(db: Database, username: str, password: str, *, lang: str | None = None):
    """A new password (and the account enabled again); its sessions end."""
    from xietong.accounts import AccountProblem, set_password
    try:
        return set_password(_engine(db), username, password)
    except AccountProblem as p:
        raise _account_refused(p, lang) from None


def disable_account(db: Database, username: str, *, lang: str | None = None):
    """No more sign-ins; its sessions end. The account stays (the chain names it)."""
    from xietong.accounts import AccountProblem, disable
    try:
        return disable(_engine(db), username)
    except AccountProblem as p:
        raise _account_refused(p, lang) from None


def accounts(db: Database) -> list:
    """[(Actor, disabled)] by username."""
    from xietong.accounts import listing
    if not db.exists():
        return []
    return listing(_engine(db))


class Locked(Refused):
    """Too many failed sign-ins: the username is locked for a while."""


def sign_in(db: Database, username: str, password: str, *, address: str | None = None,
            lang: str | None = None):
    """The Actor, or Refused (wrong name or password) / Locked."""
    from xietong.accounts import AccountProblem, sign_in as check
    try:
        return check(_engine(db), username, password, address)
    except AccountProblem as p:
        refused = _account_refused(p, lang)
        if p.key == "locked":
            raise Locked(refused.lines) from None
        raise refused from None


def session_actor(db: Database, account_id: int, epoch: int):
    """The account a signed session names, or None (disabled, password changed, gone)."""
    from xietong.accounts import actor
    return actor(_engine(db), account_id, epoch)


def set_account_language(db: Database, account_id: int, lang: str) -> None:
    from xietong.accounts import set_language
    set_language(_engine(db), account_id, lang)


def may(actor, action: str, item: dict | None = None) -> bool:
    """Whether `actor` may do `action` (on `item`): xietong.accounts.may, the one rule."""
    from xietong.accounts import may as rule
    return rule(actor, action, item)


# --------------------------------------------------------------------------- periods and runs

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


def _latest_run_or_404(session, period: str, lang):
    from evaluator.runs import latest_run, refusal
    run = latest_run(session, period)
    if run is None:
        raise NotFound([refusal(lang or "en", "no_run", period=period)])
    return run


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


# =========================================================================== the performance year
# SPEC §11.2: the quarter's and the year's figures, read from each month's latest run (nothing
# is evaluated again). The command line's `xietong summary` and the desk call this.

@dataclass
class SummaryResult:
    range: str                     # "2026" | "2026-Q4"
    months: list[dict]             # {"period", "state": missing|provisional|final, "run_id",
    #                                "open_reviews", "closed"}
    departments: list[dict]        # reports.summary.Summary's: per month base, by_mechanism,
    employees: list[dict]          # final, state; mean_final (and behaviour_total)
    feedback: list[dict]           # by department and month (SPEC §11.3)
    lang: str
    out_dir: Path | None = None
    files: dict[str, list[Path]] = field(default_factory=dict)   # "xlsx" | "html" | "json"
    summary: object = None         # the reports.summary.Summary (as_json() is summary.json)

    @property
    def written(self) -> list[Path]:
        return [p for paths in self.files.values() for p in paths]


def summary(db: Database, *, year: int | str | None = None, quarter: str | None = None,
            out_dir=None, formats=FORMATS, lang: str | None = None) -> SummaryResult:
    """The figures of a year (`year=2026`) or a quarter (`quarter="2026-Q4"`), per department and
    employee and month, with the range's means, from each month's latest run (SPEC §11.2); with
    `out_dir`, also summary.xlsx, summary.html and summary.json there (`formats`). A month
    without a run is "missing", an open one "provisional", a closed one "final". ValueError for
    a range that is not one (`2026-Q5`); Refused when no month of the range has a run."""
    from evaluator.history import months_of
    from reports import summary as sheets
    label_, periods = months_of(year, quarter)
    formats = frozenset(formats)
    _existing(db, lang)
    lang = lang or database_language(db) or "en"
    want_feedback = out_dir is not None and bool(formats & {"xlsx", "html"})
    built = _summary_of(db, label_, periods, lang, feedback=want_feedback)
    result = SummaryResult(label_, built.months, built.departments, built.employees,
                           built.feedback, lang, None if out_dir is None else Path(out_dir),
                           summary=built)
    if out_dir is None:
        return result
    from evaluator.evaluate import default_workers
    from engine.isolation import ChildError, EvaluationCrashed, Forked
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # summary.xlsx is the longest to write: on a multi-core machine a forked child writes it
    # while this process writes the page and the JSON (as `report` does with its files)
    xlsx = None
    if "xlsx" in formats:
        path = out / "summary.xlsx"
        if default_workers() > 1 and formats & {"html", "json"}:
            xlsx = Forked(sheets.write_xlsx, path, built, lang, point="summary")
        else:
            result.files["xlsx"] = [sheets.write_xlsx(path, built, lang)]
    try:
        if "html" in formats:
            result.files["html"] = [sheets.write_html(out / "summary.html", built, lang)]
        if "json" in formats:
            result.files["json"] = [sheets.write_json(out / "summary.json", built)]
        if xlsx is not None:
            try:
                result.files["xlsx"] = [xlsx.result()]
            except (ChildError, EvaluationCrashed) as e:
                raise Refused([i18n.t(lang, "report_failed", dir=out,
                                      error=f"{getattr(e, 'kind', 'crash')}: {e}")]) from None
    except BaseException:
        if xlsx is not None:
            xlsx.cancel()
        raise
    return result


def _summary_of(db: Database, label_: str, periods: list[str], lang: str, *, feedback: bool,
                employees=None, session=None):
    """reports.summary.Summary of the range's stored months (evaluator.history.read_months, then
    reports.summary.build): what `summary` writes and the desk's summary page shows. Refused
    when no month of the range has a run."""
    from evaluator.db import reader
    from evaluator.history import read_months
    from reports import summary as sheets
    if session is None:
        with Session(reader(db.engine)) as session, session.begin():
            months = read_months(session, periods, feedback=feedback, employees=employees)
    else:
        months = read_months(session, periods, feedback=feedback, employees=employees)
    if all(m.state == "missing" for m in months):
        raise Refused([i18n.t(lang, "summary_no_run", range=sheets.range_text(lang, label_),
                              first=periods[0], last=periods[-1])])
    return sheets.build(label_, [m.__dict__ for m in months], with_feedback=feedback)


def summary_range(*, year: int | str | None = None, quarter: str | None = None
                  ) -> tuple[str, list[str]]:
    """("2026-Q4", ["2026-10", "2026-11", "2026-12"]) for a year or a quarter; ValueError for
    anything else (`2026-Q5`, both or neither)."""
    from evaluator.history import months_of
    return months_of(year, quarter)


@dataclass
class SummaryPage:
    """One page of the summary of a range (the desk's summary and trends, SPEC §12): every
    month with its state, every department, and a page of the employees."""
    range: str                     # "2026" | "2026-Q4"
    range_text: str                # as people read it (2026 年第 4 季度)
    months: list[dict]             # {"period", "state", "run_id", "open_reviews", "closed"}
    departments: list[dict]        # reports.summary.build's, with "total_by_mechanism"
    employees: list[dict]          # the page's, by id
    employees_total: int           # the employees that match the filters
    offset: int
    limit: int
    lang: str
    summary: object = None         # the reports.summary.Summary of the page

    def as_json(self) -> dict:
        """summary.json's shape (SPEC §11.2) with the page's employees, and how many match."""
        out = self.summary.as_json()
        out.update(employees_total=self.employees_total, offset=self.offset, limit=self.limit)
        return out


def summary_page(db: Database, *, year: int | str | None = None, quarter: str | None = None,
                 dept: str | None = None, search: str | None = None, offset: int = 0,
                 limit: int = 50, lang: str | None = None) -> SummaryPage:
    """The figures of `summary` (the same stored months, the same sums: reports.summary.build)
    for every department and one page of the employees — those ever in `dept`, whose id or
    name contains `search` — read for that page only, so that it answers quickly at 100,000
    employees. ValueError for a range that is not one; Refused when no month has a run."""
    from evaluator.db import reader
    from evaluator.history import employee_page, months_of
    from reports import summary as sheets
    label_, periods = months_of(year, quarter)
    _existing(db, lang)
    lang = lang or database_language(db) or "en"
    offset, limit = max(0, offset), max(1, min(limit, 500))
    with Session(reader(_engine(db))) as session, session.begin():    # the desk's indexes
        total, ids = employee_page(session, periods, dept=dept or None, search=search or None,
                                   offset=offset, limit=limit, walk_ids=True)
        built = _summary_of(db, label_, periods, lang, feedback=False, employees=ids,
                            session=session)
    return SummaryPage(label_, sheets.range_text(lang, label_), built.months, built.departments,
                       built.employees, total, offset, limit, lang, built)


def summary_file(db: Database, fmt: str, out_dir, *, year: int | str | None = None,
                 quarter: str | None = None, lang: str | None = None) -> Path:
    """One of summary.xlsx, summary.html, summary.json (`fmt`) of a range, written into
    `out_dir` by `summary` itself."""
    if fmt not in FORMATS:
        raise ValueError(f"expected one of {', '.join(FORMATS)}, got {fmt!r}")
    done = summary(db, year=year, quarter=quarter, out_dir=out_dir, formats={fmt}, lang=lang)
    return done.files[fmt][0]


# =========================================================================== feedback (SPEC §11.3)
# One rated department's feedback of a period's latest run: what its feedback/<dept_id>.xlsx
# shows, read for that department only (evaluator.history.read_feedback), and the workbook
# itself (reports.feedback.write, the writer `report` uses).

def feedback_departments(db: Database, period: str, *, lang: str | None = None) -> list[dict]:
    """The departments of the period's latest run that received ratings (not rejected), each
    {"dept_id", "name", "manager_id" (its head in that ledger), "received"}; NotFound when the
    period has no run."""
    from evaluator.db import reader
    from evaluator.history import rated_departments
    from xietong.review_items import load_sheets
    with Session(reader(_engine(_existing(db, lang)))) as session, session.begin():
        run = _latest_run_or_404(session, period, lang)
        received = rated_departments(session, run)
        depts = {d["dept_id"]: d for d in load_sheets(session, run.import_id,
                                                        ("Departments",))["Departments"]}
    return [{"dept_id": k, "name": depts[k]["name"], "manager_id": depts[k]["manager_id"],
             "received": n} for k, n in received.items()]


def feedback_of(db: Database, period: str, dept_id: str, *, lang: str | None = None,
                offset: int = 0, limit: int | None = None) -> dict:
    """One rated department's feedback (SPEC §11.3), as its workbook shows it: {"period",
    "run_id", "dept_id", "name", "manager_id", "tier", "overview" [(item, value)], "dimensions"
    [reports.feedback.DimensionStats], "ratings" [each with its status, the rater's
    department, and the rater's id only under `[feedback] show_raters`; `offset`/`limit`: a
    page of them, "ratings_total" saying how many], "show_raters", "peripheral", "raci"
    (points, how computed), "counts"}. NotFound when the period has no run or the department
    received no rating."""
    from reports import feedback
    lang = lang or database_language(db, period) or "en"
    rows, stored, run_id = _feedback_rows(db, period, dept_id, lang)
    found = feedback.build(rows, stored).get(dept_id)
    if found is None:
        raise NotFound([_words(lang, "no_feedback", period=period, dept=dept_id)])
    raters = feedback.show_raters(stored)
    head = next((d.get("manager_id") for d in rows["Departments"] if d["dept_id"] == dept_id),
                None)
    names = {e["employee_id"]: e["name"] for e in rows["Employees"]} if raters else {}
    projects = {p["project_id"]: p["name"] for p in rows["Projects"]}
    ratings = []
    offset = max(0, offset)
    page = found.ratings[offset:] if limit is None else found.ratings[offset:offset + limit]
    for r in page:
        project = r.get("project_id")
        shown = {"sheet": r["sheet"], "dimension": r["dimension"], "score": r["score"],
                 "comment": r.get("comment"), "rater_dept_id": r["rater_dept_id"],
                 "rater_dept_name": r["rater_dept_name"], "project_id": project,
                 "project_name": projects.get(project) if project else None,
                 "raci_role": r.get("raci_role"), "status": r["status"],
                 "status_text": feedback.word(lang, r["status"])}
        if raters:               # policy [feedback] show_raters: else never in the answer
            shown.update(rater_id=r["rater_id"], rater_name=names.get(r["rater_id"]),
                         rating_id=r["rating_id"])
        ratings.append(shown)
    return {"period": period, "run_id": run_id, "dept_id": dept_id, "name": found.name,
            "tier": found.tier, "manager_id": head, "show_raters": raters,
            "overview": feedback.overview(found, period, stored, lang, raters),
            "dimensions": found.dimensions, "ratings": ratings,
            "ratings_total": len(found.ratings),
            "received": dict(found.received),
            "counts": {"counted": found.count((feedback.COUNTED, feedback.COUNTED_REVIEWED,
                                               feedback.COUNTED_OPEN)),
                       "held": found.count((feedback.HELD,)),
                       "overturned": found.count((feedback.OVERTURNED,))},
            "peripheral": {"points": found.peripheral.points,
                           "how": found.peripheral.text(lang)},
            "raci": {"points": found.raci.points, "how": found.raci.text(lang)}}


def _feedback_rows(db: Database, period: str, dept_id: str, lang):
    from evaluator.db import reader
    from evaluator.history import read_feedback
    with Session(reader(_engine(_existing(db, lang)))) as session, session.begin():
        run = _latest_run_or_404(session, period, lang)
        rows, stored = read_feedback(session, run, dept_id)
        return rows, stored, run.id


def feedback_workbook(db: Database, period: str, dept_id: str, out_dir, *,
                      lang: str | None = None) -> Path:
    """The department's feedback/<dept_id>.xlsx of the period's latest run, written into
    `out_dir` by the writer `report` uses (the same file). NotFound as feedback_of."""
    from evaluator.db import LedgerImport, Run, reader
    from reports import feedback
    rows, stored, run_id = _feedback_rows(db, period, dept_id, lang)
    with Session(reader(_engine(db))) as session, session.begin():
        imp = session.get(LedgerImport, session.get(Run, run_id).import_id)
        sheet_lang = imp.lang if imp is not None and imp.lang in ("zh", "en") else "en"
    lang = lang or sheet_lang
    written = feedback.write(Path(out_dir), period, rows, stored, lang, sheet_lang)
    if not written:
        raise NotFound([_words(lang, "no_feedback", period=period, dept=dept_id)])
    return written[0]


def demo_accounts(db: Database, period: str, *, lang: str | None = None) -> list[tuple]:
    """One account per role for the sample company, each with a new random password (an account
    that exists gets a new one): HR, an auditor, and the manager with the most open review
    items of `period`. Returns (role, username, password, employee id or None) per account.
    Passwords are letters and digits only: easy to copy from a terminal, and never taken for
    an option."""
    import secrets
    import string
    alphabet = string.ascii_letters + string.digits
    counts: dict[str, int] = {}
    for it in reviews(db, period, type="review", status="open").items:
        if it["assignee_id"] != "HR":
            counts[it["assignee_id"]] = counts.get(it["assignee_id"], 0) + 1
    manager = max(sorted(counts), key=lambda k: counts[k]) if counts else None
    existing = {a.username for a, _ in accounts(db)}
    wanted = [("hr", "hr", None), ("auditor", "auditor", None)]
    if manager is not None:
        wanted.append(("manager", "manager", manager))
    made = []
    for username, role, employee in wanted:
        password = "".join(secrets.choice(alphabet) for _ in range(12))
        if username in existing:
            set_account_password(db, username, password, lang=lang)
        else:
            add_account(db, username, role, password, employee_id=employee, lang=lang,
                        email=f"{username}@example.com" if role == "manager" else None)
        made.append((role, username, password, employee))
    return made
