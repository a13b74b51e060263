"""The twelve-month history benchmark (issue 15, SPEC §10.8): is the twelfth month as cheap as the
first?

Twelve months of the sample company (`xietong.sample.write_sample_ledger`, one seed per month:
month m is seed m, period 2026-mm) go through `xietong run` one after another into ONE database,
as a company would run them over a year. Each month is a fresh `xietong run` process (what HR
would start), timed from outside, with the peak memory of its whole process tree (the
largest sum of PSS, sampled every `--interval` seconds: 0.2 by default, as `bench/run.py`
measures it; a 1,000-employee month lasts under 2 s, and its peak is seen within ±15 MB only
at 0.02). The goal: month 12 within 1.1× of
month 1 in time and in memory — what grows with the history (verifying the whole chain inside
every run, reading all earlier records) shows here and nowhere else.

    .venv/bin/python bench/history.py                        # 1,000 employees, SQLite
    .venv/bin/python bench/history.py --interval 0.02        # …its peaks sampled finely
    .venv/bin/python bench/history.py --employees 10000
    .venv/bin/python bench/history.py --db postgresql+psycopg://user@host:port/emptydb

The database must be empty (SQLite: a new file is made in a temporary directory). Ledgers are
generated once into `bench/results/ledgers/`; results go to `bench/results/history-<date>.json`
and `.md`. It uses only the command line, so it runs on any branch.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.run import RESULTS, _pss_kb, _tree  # noqa: E402  (bench/ is not a package on path)

YEAR = 2026
FORMATS = "json,xlsx"


def ledger_for(month: int, employees: int, cache: Path) -> Path:
    period = f"{YEAR}-{month:02d}"
    path = cache / f"ledger-{employees}-seed{month}-{period}.xlsx"
    if not path.exists():
        print(f"  generating {period} ({employees:,} employees, seed {month}) …", flush=True)
        tmp = path.with_suffix(".tmp.xlsx")
        code = ("from xietong.sample import write_sample_ledger; "
                f"write_sample_ledger({str(tmp)!r}, {employees}, {period!r}, seed={month})")
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        tmp.rename(path)
    return path


def xietong_command() -> list[str]:
    """The installed `xietong` beside this interpreter (the venv's), else the module."""
    exe = Path(sys.executable).with_name("xietong")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "import sys; from xietong.cli import main; sys.exit(main())"]


def one_month(ledger: Path, period: str, db: str, out: Path, timeout: float,
              interval: float = 0.2) -> dict:
    """`xietong run` for one month: wall time, peak PSS of its process tree, its own peak RSS."""
    cmd = xietong_command() + ["run", str(ledger), "--period", period, "--out", str(out),
                               "--db", db, "--format", FORMATS]
    with tempfile.TemporaryFile("w+") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
        peak, deadline = 0, time.monotonic() + timeout
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                return {"period": period, "timeout": timeout}
            peak = max(peak, sum(_pss_kb(pid) for pid in _tree(proc.pid)))
            try:                    # wakes at the exit: the time is not rounded to the sampling
                proc.wait(timeout=interval)
            except subprocess.TimeoutExpired:
                pass
        seconds = time.perf_counter() - t0
        log.seek(0)
        text = log.read()
    if proc.returncode != 0:
        sys.stderr.write(text[-3000:])
        return {"period": period, "error": f"exit {proc.returncode}"}
    return {"period": period, "seconds": seconds, "tree_peak_mb": peak / 1024,
            "load": os.getloadavg()[0]}


def full_verify(db: str) -> float:
    """`xietong verify` of the whole database, as an auditor runs it after a month: it writes
    the checkpoint from which the next runs verify incrementally (SPEC §10.8). Its seconds."""
    t0 = time.perf_counter()
    subprocess.run(xietong_command() + ["verify", "--db", db], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def table(months: list[dict]) -> str:
    lines = ["| month | whole run | peak memory (all processes, PSS) | load average (1 min) |",
             "|---|---|---|---|"]
    for m in months:
        if "seconds" in m:
            lines.append(f"| {m['period']} | {m['seconds']:.2f} s | {m['tree_peak_mb']:.0f} MB "
                         f"| {m['load']:.1f} |")
        else:
            lines.append(f"| {m['period']} | {m.get('error') or 'timeout'} | | |")
    first, last = months[0], months[-1]
    if "seconds" in first and "seconds" in last:
        lines.append("")
        lines.append(f"Month {len(months)} ÷ month 1: time {last['seconds'] / first['seconds']:.2f}×, "
                     f"memory {last['tree_peak_mb'] / first['tree_peak_mb']:.2f}× (goal ≤ 1.1× each).")
    return "\n".join(lines)


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected seconds above 0, got {text}")
    return value


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--employees", type=int, default=1000)
    p.add_argument("--months", type=int, default=12)
    p.add_argument("--db", help="an EMPTY database URL (default: a new SQLite file)")
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--interval", type=_positive, default=0.2,
                   help="seconds between two samples of the process tree's memory")
    p.add_argument("--verify-each-month", action="store_true",
                   help="a full `xietong verify` after each month's run (not in the month's "
                        "figures): without one, no checkpoint exists and every run verifies "
                        "the whole history")
    args = p.parse_args(argv)
    cache = RESULTS / "ledgers"
    cache.mkdir(parents=True, exist_ok=True)
    ledgers = [ledger_for(m, args.employees, cache) for m in range(1, args.months + 1)]
    work = Path(tempfile.mkdtemp(prefix="xietong-history-"))
    db = args.db or f"sqlite:///{work / 'history.db'}"
    months = []
    try:
        for m, ledger in enumerate(ledgers, 1):
            period = f"{YEAR}-{m:02d}"
            got = one_month(ledger, period, db, work / period, args.timeout, args.interval)
            shutil.rmtree(work / period, ignore_errors=True)     # the outputs are not kept
            if args.verify_each_month and "seconds" in got:
                got["verify_seconds"] = full_verify(db)
            months.append(got)
            print(f"  {period}: " + (f"{got['seconds']:.2f} s, {got['tree_peak_mb']:.0f} MB, "
                                     f"load {got['load']:.1f}" if "seconds" in got
                                     else str(got)), flush=True)
            if "seconds" not in got:
                break
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = (f"{args.months} months of {args.employees:,} employees, one database "
            f"({'given' if args.db else 'SQLite'}), `xietong run --format {FORMATS}` per month"
            + (", a full `xietong verify` after each" if args.verify_each_month else "")
            + f", memory sampled every {args.interval:g} s"
            + "\n\n"
            + table(months))
    print(text)
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M")
    out = RESULTS / f"history-{stamp}"
    out.with_suffix(".json").write_text(json.dumps({"employees": args.employees, "db": bool(args.db),
                                                    "verify_each_month": args.verify_each_month,
                                                    "interval": args.interval,
                                                    "months": months}, indent=1))
    out.with_suffix(".md").write_text(text + "\n")
    return 0 if all("seconds" in m for m in months) else 1


if __name__ == "__main__":
    sys.exit(main())
