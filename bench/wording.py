"""What the report language costs on the two hot paths it touches (issue 11, SPEC §10.5): the
evaluation (every adjustment and exception carries its sentence's template and arguments) and
trace.xlsx (every note, explanation and message rendered in the report's language).

One sample company of `--employees` (default 10,000) is imported once into a fresh SQLite
database; then, `--repeat` times each, keeping the best (the machine is shared):

* evaluate: `evaluate_ledger` on the stored rows, in this process (`XIETONG_WORKERS` decides
  the feeding processes, as in `xietong evaluate`);
* store + load: the run stored (`evaluate_period`) and read back (`load_run`), once;
* trace.xlsx, zh and en: `reports.trace.write_xlsx` of the stored run.

    .venv/bin/python bench/wording.py                       # 10,000 employees, best of 3
    .venv/bin/python bench/wording.py --employees 1000 --repeat 5
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PERIOD = "2026-11"


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--employees", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)

    from sqlmodel import Session

    from evaluator.db import make_engine
    from evaluator.evaluate import evaluate_ledger
    from evaluator.runs import evaluate_period, latest_run, load_run
    from evaluator.store import active_import, load_rows
    from reports import trace
    from rules.policy import load_policy
    from xietong import api

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ledger = api.write_sample_ledger(tmp / "ledger.xlsx", employees=args.employees,
                                         period=PERIOD, lang="zh")
        db = api.open_database(f"sqlite:///{tmp / 'x.db'}")
        api.import_ledger(db, ledger, PERIOD)
        engine = make_engine(f"sqlite:///{tmp / 'x.db'}")
        policy = load_policy()
        with Session(engine) as s:
            rows = load_rows(s, active_import(s, PERIOD).id)

        result = {}
        result["evaluate"] = best(lambda: evaluate_ledger(rows, policy, PERIOD, {}), args.repeat)
        t0 = time.perf_counter()
        evaluate_period(engine, PERIOD, policy)
        result["evaluate + store (once)"] = time.perf_counter() - t0
        with Session(engine) as s:
            t0 = time.perf_counter()
            stored = load_run(s, latest_run(s, PERIOD))
            result["load run (once)"] = time.perf_counter() - t0
        for lang in ("zh", "en"):
            result[f"trace.xlsx {lang}"] = best(
                lambda: trace.write_xlsx(tmp / f"trace-{lang}.xlsx", PERIOD, rows, stored,
                                         lang=lang), args.repeat)
        db.close()
    print(f"{args.employees:,} employees, {len(stored['firings']):,} firings, "
          f"{len(stored['adjustments']):,} adjustments, {len(stored['exceptions']):,} exceptions")
    for k, v in result.items():
        print(f"  {k:<26} {v:7.2f} s")


if __name__ == "__main__":
    main()
