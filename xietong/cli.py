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

from importers.memory import gc_paused
from xietong import api, i18n

PERIOD_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


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


def _formats(value: str) -> set[str]:
    got = {f.strip() for f in value.split(",") if f.strip()}
    bad = got - set(api.FORMATS)
    if bad or not got:
        raise argparse.ArgumentTypeError(f"expected formats among xlsx,html,json, got {value!r}")
    return got


def _say(out, text: str) -> None:
    out.write(text + "\n")


# --------------------------------------------------------------------------- commands
# Each command: call the library, print what it returns. `db` is the command's database handle
# (closed by main), `lang` the language asked for (--lang / XIETONG_LANG) or None.

def cmd_template(args, db, lang, out) -> int:
    lang = lang or "zh"
    api.write_template(args.out, lang=lang)
    _say(out, i18n.t(lang, "template_written", path=args.out))
    return 0


def _import(args, db, lang, out, path: str) -> api.ImportResult:
    imported = api.import_ledger(db, path, args.period, lang=lang, progress=Progress())
    _say(out, i18n.import_summary(lang or imported.lang, imported))
    return imported


def cmd_import(args, db, lang, out) -> int:
    _import(args, db, lang, out, args.ledger)
    return 0


def _evaluate(args, db, lang, out) -> api.RunResult:
    result = api.evaluate(db, args.period, policy=getattr(args, "policy", None), lang=lang,
                          progress=Progress())
    _say(out, i18n.run_summary(lang or "en", result))
    return result


def cmd_evaluate(args, db, lang, out) -> int:
    _evaluate(args, db, lang, out)
    return 0


def _report(args, db, lang, out, out_dir, formats) -> api.ReportResult:
    written = api.report(db, args.period, out_dir, formats=formats, lang=lang)
    for line in i18n.report_summary(written):
        _say(out, line)
    return written


def cmd_report(args, db, lang, out) -> int:
    _report(args, db, lang, out, args.out, args.format)
    return 0


def cmd_run(args, db, lang, out) -> int:
    imported = _import(args, db, lang, out, args.ledger)
    lang = lang or imported.lang
    _evaluate(args, db, lang, out)
    _report(args, db, lang, out, args.out, args.format)
    return 0


def cmd_decisions(args, db, lang, out) -> int:
    done = api.record_decisions(db, args.file, args.period, lang=lang)
    _say(out, i18n.t(done.lang, "decisions_done", path=args.file, n=done.recorded,
                     same=done.unchanged, period=args.period))
    return 0


def cmd_verify(args, db, lang, out) -> int:
    lang = lang or "en"
    result = api.verify(db, args.period)
    if not result.ok:
        raise api.Refused([i18n.t(lang, "verify_bad", problem=result.problem)])
    _say(out, i18n.t(lang, "verify_ok", n=result.checked))
    if result.head_seq:
        _say(out, i18n.t(lang, "verify_head", seq=result.head_seq, hash=result.head_hash))
    return 0


def cmd_status(args, db, lang, out) -> int:
    lang = lang or "en"
    for line in i18n.status_lines(lang, db.shown_url, api.status(db, args.period)):
        _say(out, line)
    return 0


def cmd_policy_check(args, db, lang, out) -> int:
    lang = lang or "en"
    checked = api.check_policy(args.file, strict=args.strict)
    for w in checked.warnings:
        _say(out, i18n.t(lang, "policy_warning", text=w.message(lang)))
    if checked.errors:
        raise api.Refused([i18n.t(lang, "policy_error", text=e.message(lang))
                           for e in checked.errors])
    _say(out, i18n.t(lang, "policy_ok", path=args.file or "rules/policy.toml",
                     n=len(checked.warnings)))
    return 0


def cmd_demo(args, db, lang, out) -> int:
    lang = lang or "zh"
    out_dir = Path(args.out)
    ledger = api.write_sample_ledger(out_dir / f"ledger-{args.period}.xlsx",
                                     employees=args.employees, period=args.period,
                                     seed=args.seed, lang=lang)
    _say(out, i18n.t(lang, "demo_ledger", path=ledger, n=args.employees))
    _import(args, db, lang, out, str(ledger))
    _evaluate(args, db, lang, out)
    # The last lines: where each report is and what it shows.
    _say(out, i18n.t(lang, "demo_db", url=db.url))
    _report(args, db, lang, out, out_dir, set(api.FORMATS))
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

    s = sub.add_parser("status", parents=[common], help="what the database holds, per period")
    s.add_argument("--period", type=_period, default=None)
    s.set_defaults(func=cmd_status)

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
    url = getattr(args, "db", None)
    if url is None and args.func is cmd_demo:
        # the demo keeps its database inside its output folder unless --db says otherwise
        Path(args.out).mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{(Path(args.out) / 'xietong.db').resolve()}"
    lang = getattr(args, "lang", None) or os.environ.get("XIETONG_LANG") or None
    db = api.open_database(url)
    try:
        # A command builds millions of short-lived, acyclic objects (rows, firings, report
        # cells): the cyclic collector paused, as in importers.memory (2.7 s of a 52-s
        # 10,000-employee run went to collections that freed nothing). It runs again after.
        with gc_paused():
            return args.func(args, db, lang, out)
    except api.Refused as refused:
        for line in refused.lines:
            err.write(line + "\n")
        return 1
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return 130
    except BrokenPipeError:
        # `xietong … | head`: the reader left; say nothing more (and not on a closed stdout).
        sys.stderr = open(os.devnull, "w")
        return 0
    except Exception as e:                  # noqa: BLE001 - only database trouble is worded here
        lines = api.database_problem(e, db, lang)
        if lines is None:
            raise
        for line in lines:
            err.write(line + "\n")
        return 1
    finally:
        db.close()


if __name__ == "__main__":
    sys.exit(main())
