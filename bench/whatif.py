"""What-if over a year (SPEC §11.6): `xietong whatif --year` on twelve months of a sample
company, against the yardstick of issue 14 — at most twelve months of evaluation without the
storing and the reports.

    .venv/bin/python bench/whatif.py                       # 10,000 employees, 12 months
    .venv/bin/python bench/whatif.py --employees 1000 --repeat 3

Twelve ledgers of the sample company (xietong.sample, one seed per month) are stored once into
a database under bench/results/ (kept between runs, keyed by size) and each month evaluated
under the default policy, so that every month has a latest run (the what-if's "current").
Then, in fresh subprocesses, best of --repeat:

* **evaluation ×12**: each month's `evaluator.runs._compute` — the evaluation exactly as
  `evaluate` runs it, decisions and all, without reading the database, storing, or writing a
  report — one month after the other, each with the evaluation's own feed workers
  (default_workers()); the sum is the yardstick;
* **what-if, all cores**: `api.whatif(db, ALT, twelve months)` — reading every month from the
  database, months in parallel processes (as many as the process has cores), whatif.json and
  whatif.xlsx written;
* **what-if, one process**: the same with workers=1 (a month at a time, one core each).

ALT changes every mechanism's figures (weights, the flat reward, a three-month frequent-proposer
window, quarterly ratings). Results are printed as a Markdown table (docs/benchmarks.md).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
YEAR = "2026"
ALT = """\
[linkage]
high = 0.3
[peripheral]
weight = 0.2
cadence = "quarterly"
[raci]
cadence = "quarterly"
[interlock]
reward_scale = "flat"
[behaviour]
frequent_window_months = 3
"""

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _months():
    from rules.months import months_of_year
    return list(months_of_year(YEAR))


def prepare(employees: int) -> str:
    """The database of twelve stored and evaluated months (made once per size)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"whatif-{employees}.db"
    url = f"sqlite:///{path}"
    done = path.with_suffix(".ready")
    if done.exists():
        return url
    for p in (path, done):
        if p.exists():
            p.unlink()
    import hashlib

    import xietong
    from evaluator.store import store_import
    from importers.result import Ledger
    from xietong.sample import generate_company
    with xietong.open_database(url) as db:
        for i, period in enumerate(_months(), 1):
            t = time.monotonic()
            rows = generate_company(employees, period, seed=i)
            for sheet_rows in rows.values():          # as the importer numbers them
                for n, r in enumerate(sheet_rows, 2):
                    r["row"] = n
            digest = hashlib.sha256(f"{employees}-{period}-{i}".encode()).hexdigest()
            store_import(db.engine, Ledger(f"sample-{period}.xlsx", digest, rows), period)
            xietong.evaluate(db, period)
            print(f"  prepared {period} in {time.monotonic() - t:.1f} s", file=sys.stderr)
    done.write_text("ok")
    return url


def _alt_path() -> Path:
    path = RESULTS / "whatif-alt.toml"
    path.write_text(ALT, "utf-8")
    return path


def measure_evaluations(url: str) -> dict:
    """Twelve months of evaluation without the storing and the reports, one after the other."""
    import xietong
    from evaluator.whatif import read_month
    from evaluator.runs import _compute
    from rules.policy import load_policy
    policy = load_policy(_alt_path())
    total, per = 0.0, {}
    with xietong.open_database(url) as db:
        for period in _months():
            month = read_month(db.engine, period, policy)
            t = time.monotonic()
            _compute(month.inputs, policy, period, "en")
            per[period] = time.monotonic() - t
            total += per[period]
    return {"seconds": total, "per_month": per}


def measure_whatif(url: str, workers: int | None) -> dict:
    import xietong
    with tempfile.TemporaryDirectory() as out:
        t = time.monotonic()
        with xietong.open_database(url) as db:
            done = xietong.api.whatif(db, _alt_path(), _months(), out, range_name=YEAR,
                                      workers=workers)
        seconds = time.monotonic() - t
    return {"seconds": seconds, "months": len(done.months),
            "subjects": len(done.data["departments"]) + len(done.data["employees"])}


def _child(args) -> dict:
    """One measurement in a fresh process (memory and caches of one never count for another)."""
    cmd = [sys.executable, __file__, "--child", args[0], "--url", args[1]]
    if len(args) > 2 and args[2] is not None:
        cmd += ["--workers", str(args[2])]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--employees", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--child", choices=("evaluations", "whatif"))
    ap.add_argument("--url")
    ap.add_argument("--workers", type=int)
    args = ap.parse_args()
    if args.child == "evaluations":
        print(json.dumps(measure_evaluations(args.url)))
        return
    if args.child == "whatif":
        print(json.dumps(measure_whatif(args.url, args.workers)))
        return
    url = prepare(args.employees)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    best: dict[str, dict] = {}
    for _ in range(args.repeat):
        for name, job in (("evaluation ×12", ("evaluations", url)),
                          ("what-if, all cores", ("whatif", url, None)),
                          ("what-if, one process", ("whatif", url, 1))):
            got = _child(job)
            if name not in best or got["seconds"] < best[name]["seconds"]:
                best[name] = got
            print(f"  {name}: {got['seconds']:.1f} s", file=sys.stderr)
    yardstick = best["evaluation ×12"]["seconds"]
    print(f"\n{args.employees:,} employees, 12 months, {cores} cores, best of {args.repeat}\n")
    print("| measurement | seconds | ÷ evaluation ×12 |")
    print("|---|---|---|")
    for name, got in best.items():
        print(f"| {name} | {got['seconds']:.1f} | {got['seconds'] / yardstick:.2f} |")
    per = best["evaluation ×12"]["per_month"]
    print("\nper month (evaluation): " + ", ".join(f"{m[5:]} {s:.1f} s" for m, s in per.items()))


if __name__ == "__main__":
    main()
