"""The `xietong` command line (SPEC §7): parse arguments, call the library, turn a known
failure into a clear message and an exit code. Nothing here computes anything.

Exit codes: 0 done (exceptions found are a normal result), 1 refused input or failed
verification (messages on stderr), 2 wrong usage (argparse).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

from xietong import i18n
from importers.memory import gc_paused

PERIOD_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class UsageError(Exception):
    pass


class Refused(Exception):
    """A refused input: message lines already in the user's language."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines

    @classmethod
    def listing(cls, lang: str, path, problems) -> "Refused":
        """A refused file: a header naming it, one indented line per problem, nothing stored."""
        return cls([i18n.t(lang, "refused_header", path=path, n=len(problems))]
                   + [f"  {p}" for p in problems] + [i18n.t(lang, "nothing_stored")])


# --------------------------------------------------------------------------- helpers

def _period(value: str) -> str:
    if not PERIOD_RE.match(value or ""):
        raise argparse.ArgumentTypeError(f"expected YYYY-MM, got {value!r}")
    return value


class Progress:
    """Phase, rows and rate on one terminal line; silent when stderr is not a terminal."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.start = time.monotonic()
        self.phase = None
        self.last = 0.0

    def __call__(self, phase: str, done: int, total: int | None, unit: str = "rows") -> None:
        """total None: not known yet (the evaluation's facts); the line ends when done >= total."""
        if not self.enabled:
            return
        now = time.monotonic()
        if phase != self.phase:
            self.phase, self.start = phase, now
        finished = total is not None and done >= total
        if now - self.last < 0.1 and not finished:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-6)
        count = f"{done:,}" if total is None else f"{done:,}/{total:,}"
        self.stream.write(f"\r{phase}: {count} {unit} ({rate:,.0f}/s)   ")
        if finished:
            self.stream.write("\n")
        self.stream.flush()


def _engine(args):
    """One engine per command, disposed when the command ends (main), so that SQLite's last
    connection closes and checkpoints its WAL before the process or the next command goes on."""
    from evaluator.db import make_engine
    if getattr(args, "_engine", None) is None:
        args._engine = make_engine(args.db)
    return args._engine


def _database_problem(e: BaseException, args) -> list[str] | None:
    """Lines for a database that is busy, unreachable or unusable, else None (a bug: raise).
    Every write is one transaction, so in each case nothing was stored."""
    import sqlalchemy as sa
    from evaluator.db import LOCK_TIMEOUT_S, database_url, is_busy_error
    lang = args.lang or "en"
    try:                                    # never print a password
        url = sa.engine.make_url(database_url(args.db)).render_as_string(hide_password=True)
    except Exception:                       # noqa: BLE001
        url = "(an unreadable database URL)"
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


# --------------------------------------------------------------------------- commands

def cmd_template(args, out) -> int:
    from reports.template import write_template
    lang = args.lang or "zh"
    write_template(args.out, lang=lang)
    out.write(i18n.t(lang, "template_written", path=args.out) + "\n")
    return 0


def import_ledger(args, out, path: str, period: str):
    """Read, validate and store one ledger; returns (ledger, outcome). Raises Refused."""
    from importers import LedgerRefused, read_ledger
    from evaluator.store import store_import
    progress = Progress()
    if not Path(path).exists():
        lang = args.lang or "en"
        raise Refused([i18n.t(lang, "file_missing", path=path)])
    try:
        ledger = read_ledger(path, lang=args.lang, progress=progress)
    except LedgerRefused as refused:
        # the problems are already worded in the refusal's language
        raise Refused.listing(args.lang or refused.lang, path, refused.problems)
    outcome = store_import(_engine(args), ledger, period, progress=progress)
    return ledger, outcome


def cmd_import(args, out) -> int:
    ledger, outcome = import_ledger(args, out, args.ledger, args.period)
    lang = args.lang or ledger.lang
    out.write(i18n.import_summary(lang, args.ledger, args.period, ledger, outcome) + "\n")
    return 0


def cmd_verify(args, out) -> int:
    from sqlmodel import Session
    from evaluator.chain import verify
    lang = args.lang or "en"
    from evaluator.db import reader
    with Session(reader(_engine(args))) as session, session.begin():
        result = verify(session, args.period)
    if result.ok:
        out.write(i18n.t(lang, "verify_ok", n=result.checked) + "\n")
        if result.head_seq:
            out.write(i18n.t(lang, "verify_head", seq=result.head_seq, hash=result.head_hash) + "\n")
        return 0
    raise Refused([i18n.t(lang, "verify_bad", problem=result.problem)])


def cmd_policy_check(args, out) -> int:
    from rules.policy import check_policy
    lang = args.lang or "en"
    errors, warnings = check_policy(args.file, strict=args.strict)
    for w in warnings:
        out.write(i18n.t(lang, "policy_warning", text=w.message(lang)) + "\n")
    if errors:
        raise Refused([i18n.t(lang, "policy_error", text=e.message(lang)) for e in errors])
    out.write(i18n.t(lang, "policy_ok", path=args.file or "rules/policy.toml",
                     n=len(warnings)) + "\n")
    return 0


def _policy(args):
    from rules.policy import PolicyError, load_policy
    lang = args.lang or "en"
    try:
        return load_policy(getattr(args, "policy", None))
    except PolicyError as e:
        raise Refused([i18n.t(lang, "policy_error", text=x.message(lang)) for x in e.errors])


def evaluate(args, out, period: str):
    from evaluator.runs import EvaluationFailed, RunRefused, evaluate_period
    lang = args.lang or "en"
    policy = _policy(args)
    try:
        outcome = evaluate_period(_engine(args), period, policy, lang=lang, progress=Progress())
    except RunRefused as e:
        raise Refused(e.lines)
    except EvaluationFailed as e:
        lines = [i18n.t(lang, "evaluation_failed", error=str(e))]
        if os.environ.get("XIETONG_DEBUG") and e.trace:
            lines.append(e.trace.rstrip())
        raise Refused(lines)
    out.write(i18n.run_summary(lang, outcome) + "\n")
    return outcome


def cmd_evaluate(args, out) -> int:
    evaluate(args, out, args.period)
    return 0


def write_reports(args, out, period: str, out_dir: Path, formats: set[str]) -> list[Path]:
    """Write the latest run's reports (SPEC §8) and say where each is and what it shows.

    Labels follow --lang / XIETONG_LANG, else the ledger's header language; `Sheet!row`
    references use the ledger's own sheet names. The trace carries the audit chain's status,
    so xlsx/html verify the chain first."""
    import sqlalchemy as sa
    from sqlmodel import Session, select
    from evaluator.chain import verify
    from evaluator.db import ChainLink, Decision, ImportActivation, LedgerImport
    from evaluator.runs import latest_run, load_run
    from evaluator.store import load_rows
    from reports import json_files, reviews, statement, trace
    from evaluator.db import reader
    from engine.isolation import ChildError, EvaluationCrashed, Forked
    engine = _engine(args)
    other = None
    try:
        # a read-only snapshot: reports neither wait for nor block a writer (evaluator/db.reader)
        with Session(reader(engine), expire_on_commit=False) as session, session.begin():
            run = latest_run(session, period)
            if run is None:
                raise Refused([i18n.t(args.lang or "en", "no_run", period=period)])
            imp = session.get(LedgerImport, run.import_id)
            stored = load_run(session, run)
            rows = load_rows(session, run.import_id)
            newest = [session.exec(select(sa.func.max(LedgerImport.imported_at))
                                   .where(LedgerImport.period == period)).one(),
                      session.exec(select(sa.func.max(ImportActivation.activated_at))
                                   .where(ImportActivation.period == period)).one(),
                      session.exec(select(sa.func.max(Decision.decided_at))
                                   .where(Decision.period == period)).one()]
            ledger_lang = imp.lang if imp is not None and imp.lang in ("zh", "en") else "en"
            lang = args.lang or ledger_lang
            ledger_file = imp.file_name if imp is not None else None
            if any(t is not None and _aware(t) > _aware(run.started_at) for t in newest):
                out.write(i18n.t(lang, "report_stale", period=period, id=run.id) + "\n")
            out_dir = Path(out_dir)
            out_dir.mkdir(parents=True, exist_ok=True)

            def without_chain() -> dict[str, list[Path]]:
                """The reports that need no chain status: statement, review workbooks, JSON."""
                done: dict[str, list[Path]] = {}
                if "xlsx" in formats:
                    done["statement"] = [statement.write(out_dir / "statement.xlsx", period, rows,
                                                         stored, lang, {"ledger_file": ledger_file})]
                    done["reviews"] = reviews.write(out_dir / "reviews", period, rows, stored,
                                                    lang, ledger_lang)
                if "json" in formats:
                    done["json"] = json_files.write(out_dir, period, rows, stored)
                return done

            # Two writers at once on a multi-core machine: a forked child writes the reports
            # that need no database (statement, reviews, JSON) while this process verifies the
            # chain, in the same snapshot, and writes the trace, which shows the chain's status.
            # The child inherits the loaded run (copy-on-write), never touches the database,
            # and sends back only the paths it wrote.
            if _parallel_reports():
                other = Forked(without_chain, point="reports")
            chain = None
            if formats & {"xlsx", "html"}:
                result = verify(session, period)
                head = session.exec(select(ChainLink).order_by(ChainLink.seq.desc())
                                    .limit(1)).first()
                chain = {"ok": result.ok, "checked": result.checked, "problem": result.problem,
                         "head": head.hash if head else None}
        traces: dict[str, Path] = {}
        if "xlsx" in formats:
            traces["xlsx"] = trace.write_xlsx(out_dir / "trace.xlsx", period, rows, stored, lang,
                                              ledger_lang, ledger_file, chain)
        if "html" in formats:
            traces["html"] = trace.write_html(out_dir / "trace.html", period, rows, stored, lang,
                                              ledger_lang, ledger_file, chain)
        if other is None:
            others = without_chain()
        else:
            try:
                others = other.result()
            except (ChildError, EvaluationCrashed) as e:
                raise Refused([i18n.t(lang, "report_failed", dir=out_dir,
                                      error=f"{getattr(e, 'kind', 'crash')}: {e}")]) from None
    except BaseException:
        if other is not None:
            other.cancel()
        raise

    written: list[Path] = []
    lines: list[tuple[str, str]] = []
    books = others.get("reviews", [])
    if "xlsx" in formats:
        written += others["statement"]
        d, e = statement.summary(rows)
        lines.append(("statement.xlsx", i18n.t(lang, "report_statement", d=d, e=e)))
        written.append(traces["xlsx"])
        chain_word = i18n.t(lang, "chain_ok_short" if chain and chain["ok"] else "chain_bad_short")
        lines.append(("trace.xlsx", i18n.t(lang, "report_trace_xlsx", n=len(stored["firings"]),
                                           chain=chain_word)))
    if "html" in formats:
        written.append(traces["html"])
        lines.append(("trace.html", i18n.t(lang, "report_trace_html")))
    if "xlsx" in formats:
        written += books
        k, r, j = reviews.counts(stored)
        key = "report_reviews" if j else "report_reviews_no_hr"
        lines.append(("reviews/", i18n.t(lang, key, k=k, r=r, j=j) if books
                      else i18n.t(lang, "report_reviews_none")))
    if "json" in formats:
        files = others["json"]
        written += files
        lines.append((", ".join(p.name for p in files), i18n.t(lang, "report_json")))
    out.write(i18n.t(lang, "reports_header", dir=out_dir) + "\n")
    width = max((len(name) for name, _ in lines if len(name) < 24), default=0)
    for name, what in lines:
        out.write(f"  {name.ljust(width)}  {what}\n")
    if chain is not None and not chain["ok"]:
        out.write(i18n.t(lang, "verify_bad", problem=chain["problem"]) + "\n")
    return written


def _parallel_reports() -> bool:
    """Write reports in two processes when this one may use two cores or more (and fork);
    XIETONG_WORKERS=1 keeps everything in one process."""
    from evaluator.evaluate import default_workers
    return default_workers() > 1


def _aware(t):
    """SQLite hands timestamps back naive (they are stored in UTC)."""
    from datetime import timezone
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t


def _formats(value: str) -> set[str]:
    got = {f.strip() for f in value.split(",") if f.strip()}
    bad = got - {"xlsx", "html", "json"}
    if bad or not got:
        raise argparse.ArgumentTypeError(f"expected formats among xlsx,html,json, got {value!r}")
    return got


def cmd_report(args, out) -> int:
    write_reports(args, out, args.period, Path(args.out), args.format)
    return 0


def cmd_run(args, out) -> int:
    ledger, outcome = import_ledger(args, out, args.ledger, args.period)
    lang = args.lang or ledger.lang
    args.lang = lang
    out.write(i18n.import_summary(lang, args.ledger, args.period, ledger, outcome) + "\n")
    evaluate(args, out, args.period)
    write_reports(args, out, args.period, Path(args.out), args.format)
    return 0


def cmd_decisions(args, out) -> int:
    from importers import LedgerRefused, read_ledger
    from evaluator.runs import DecisionRow, RunRefused, record_decisions
    if not Path(args.file).exists():
        raise Refused([i18n.t(args.lang or "en", "file_missing", path=args.file)])
    try:
        book = read_ledger(args.file, lang=args.lang, only=("Reviews",))
    except LedgerRefused as refused:
        raise Refused.listing(args.lang or refused.lang, args.file, refused.problems)
    lang = args.lang or book.lang
    sheet = book.sheet_names.get("Reviews", "Reviews")
    letters = book.columns.get("Reviews", {})
    rows = [DecisionRow(r["review_id"], r["decision"], r["reviewer_id"], r.get("comment"), sheet,
                        r["row"], letters) for r in book.rows["Reviews"]]
    try:
        recorded, unchanged = record_decisions(_engine(args), args.period, book.file_name,
                                               book.sha256, rows, lang)
    except RunRefused as e:
        raise Refused.listing(lang, args.file, e.lines)
    out.write(i18n.t(lang, "decisions_done", path=args.file, n=recorded, same=unchanged,
                     period=args.period) + "\n")
    return 0


def cmd_demo(args, out) -> int:
    from xietong.sample import write_sample_ledger
    lang = args.lang or "zh"
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not args.db:
        args.db = f"sqlite:///{(out_dir / 'xietong.db').resolve()}"
    ledger_path = out_dir / f"ledger-{args.period}.xlsx"
    write_sample_ledger(ledger_path, employees=args.employees, period=args.period, seed=args.seed,
                        lang=lang)
    out.write(i18n.t(lang, "demo_ledger", path=ledger_path, n=args.employees) + "\n")
    ledger, outcome = import_ledger(args, out, str(ledger_path), args.period)
    out.write(i18n.import_summary(lang, str(ledger_path), args.period, ledger, outcome) + "\n")
    args.lang = lang
    evaluate(args, out, args.period)
    # The last lines: where each report is and what it shows.
    out.write(i18n.t(lang, "demo_db", url=args.db) + "\n")
    write_reports(args, out, args.period, out_dir, {"xlsx", "html", "json"})
    return 0


# --------------------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS,
                        help="database URL (default: $XIETONG_DB or sqlite:///xietong.db)")
    common.add_argument("--lang", choices=("zh", "en"), default=argparse.SUPPRESS,
                        help="language of messages and labels (default: $XIETONG_LANG, else the ledger's)")

    p = argparse.ArgumentParser(prog="xietong", parents=[common],
                                description="协同 xietong: HR ledger workbooks → audited "
                                            "collaboration-performance adjustments")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("template", parents=[common], help="write an empty ledger workbook")
    s.add_argument("out", metavar="OUT.xlsx")
    s.set_defaults(func=cmd_template)

    s = sub.add_parser("import", parents=[common], help="validate and store a ledger workbook")
    s.add_argument("ledger", metavar="LEDGER")
    s.add_argument("--period", required=True, type=_period, help="YYYY-MM")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("evaluate", parents=[common], help="fire the rules on the active ledger, store the run")
    s.add_argument("--period", required=True, type=_period, help="YYYY-MM")
    s.add_argument("--policy", default=None, help="policy TOML (default: rules/policy.toml)")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("report", parents=[common], help="write the latest run's reports")
    s.add_argument("--period", required=True, type=_period, help="YYYY-MM")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--format", type=_formats, default=_formats("xlsx,html,json"),
                   help="comma-separated: xlsx,html,json (default: all)")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("run", parents=[common], help="import + evaluate + report")
    s.add_argument("ledger", metavar="LEDGER")
    s.add_argument("--period", required=True, type=_period, help="YYYY-MM")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--policy", default=None, help="policy TOML (default: rules/policy.toml)")
    s.add_argument("--format", type=_formats, default=_formats("xlsx,html,json"),
                   help="comma-separated: xlsx,html,json (default: all)")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("decisions", parents=[common],
                       help="record the decisions of a returned review workbook")
    s.add_argument("file", metavar="FILE")
    s.add_argument("--period", required=True, type=_period, help="YYYY-MM")
    s.set_defaults(func=cmd_decisions)

    s = sub.add_parser("verify", parents=[common], help="tamper check of the audit chain")
    s.add_argument("--period", type=_period, default=None)
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser("policy", parents=[common], help="policy file tools")
    psub = s.add_subparsers(dest="policy_command", required=True, metavar="SUBCOMMAND")
    c = psub.add_parser("check", parents=[common], help="validate a policy file (errors and band warnings)")
    c.add_argument("file", nargs="?", default=None, metavar="FILE")
    c.add_argument("--strict", action="store_true", help="warnings outside the article's bands are errors")
    c.set_defaults(func=cmd_policy_check)

    s = sub.add_parser("demo", parents=[common], help="sample company through the whole pipeline")
    s.add_argument("--out", default="demo-out", help="output folder (default: demo-out)")
    s.add_argument("--employees", type=int, default=200, help=argparse.SUPPRESS)
    s.add_argument("--seed", type=int, default=7, help=argparse.SUPPRESS)
    s.add_argument("--period", type=_period, default="2026-11", help=argparse.SUPPRESS)
    s.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None, out=None, err=None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    args.db = getattr(args, "db", None)
    args.lang = getattr(args, "lang", None) or os.environ.get("XIETONG_LANG") or None
    try:
        # A command builds millions of short-lived, acyclic objects (rows, firings, report
        # cells): the cyclic collector paused, as in importers.memory (2.7 s of a 52-s
        # 10,000-employee run went to collections that freed nothing). It runs again after.
        with gc_paused():
            return args.func(args, out)
    except Refused as refused:
        for line in refused.lines:
            err.write(line + "\n")
        return 1
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return 130
    except Exception as e:                  # noqa: BLE001 - only database trouble is worded here
        lines = _database_problem(e, args)
        if lines is None:
            raise
        for line in lines:
            err.write(line + "\n")
        return 1
    except BrokenPipeError:
        # `xietong … | head`: the reader left; say nothing more (and not on a closed stdout).
        sys.stderr = open(os.devnull, "w")
        return 0
    finally:
        if getattr(args, "_engine", None) is not None:
            args._engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
