"""What verifying costs a run in the twelfth month of a history against the first (SPEC §10.8).

A sample company goes through `--months` months (2026-01, 2026-02, …): each month its own ledger
(seed = the month) is imported and evaluated, then this bench times the verification that
`report` (and so `run`) does — `evaluator.chain.verify_since`: the chain after the newest
checkpoint, the run's record, its import's record and every row of that import — and, beside
it, the full verify of the whole chain, which is what every run paid before checkpoints (in
the first and the last month; every month with --full-every-month). Then
`xietong.verify` writes the month's checkpoint, as an auditor's monthly full check would.
Each time is the best of `--repeat`; memory is how far the process's peak RSS (VmHWM, reset
before each verification) rose above its RSS just before, and, in the first and last month, the
peak of Python's allocations during the verification (tracemalloc, in an untimed pass).

    .venv/bin/python bench/verify_history.py                         # 1,000 employees, 12 months
    .venv/bin/python bench/verify_history.py --employees 10000 --repeat 1
    .venv/bin/python bench/verify_history.py --db postgresql+psycopg://user@host/db   # an EMPTY db

Ledgers are generated once into bench/results/ledgers/; results go to bench/results/ as JSON.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.run import _hwm_kb, _reset_hwm          # noqa: E402  (the same VmHWM handling)


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def traced_peak_mb(fn) -> float:
    """The peak of Python's own allocations while `fn` runs (tracemalloc; a separate, untimed
    pass: tracing slows it down). What the verification holds at once, whatever the process
    held before — RSS cannot tell it, freed memory being reused."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def timed(fn, repeat: int):
    """(best wall seconds, best CPU seconds of this process, the most the peak RSS rose above
    the RSS before in MB, the last result). CPU time is the steadier figure on a shared machine
    (on SQLite the database's work is this process's too); RSS rise is what the verification
    itself held, not what the process held already."""
    best, cpu, rise, out = None, None, 0.0, None
    for _ in range(repeat):
        before = _rss_kb()
        _reset_hwm()
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        s, cs = time.perf_counter() - t, time.process_time() - c
        rise = max(rise, (_hwm_kb() - before) / 1024)
        best = s if best is None else min(best, s)
        cpu = cs if cpu is None else min(cpu, cs)
    return best, cpu, rise, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--employees", type=int, default=1000)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--db", help="an empty database (default: a new SQLite file)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the SQLite database (default: removed at the end)")
    ap.add_argument("--full-every-month", action="store_true",
                    help="time the full verify every month (default: the first and the last)")
    args = ap.parse_args(argv)

    import sqlalchemy as sa
    from sqlmodel import Session

    import xietong
    from evaluator import chain
    from evaluator.db import ChainLink, reader

    ledgers = RESULTS / "ledgers"
    ledgers.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="xt-verify-history-"))
    url = args.db or f"sqlite:///{tmp / 'history.db'}"
    rows = []
    with xietong.open_database(url) as db:
        for m in range(1, args.months + 1):
            period = f"2026-{m:02d}"
            ledger = ledgers / f"history-{args.employees}-{period}.xlsx"
            if not ledger.exists():
                xietong.write_sample_ledger(ledger, employees=args.employees, period=period,
                                            seed=m, lang="en")
            xietong.import_ledger(db, ledger, period)
            run = xietong.evaluate(db, period)

            def verify_in_run():
                with Session(reader(db.engine)) as s, s.begin():
                    return chain.verify_since(s, period, run.run_id)

            def verify_full():
                with Session(reader(db.engine)) as s, s.begin():
                    return chain.verify(s, period)

            ends = m in (1, args.months)        # the first and the last month
            inc_s, inc_cpu, inc_mb, inc = timed(verify_in_run, args.repeat)
            assert inc.ok, inc.problem
            full_s = full_cpu = full_mb = None
            if ends or args.full_every_month:
                full_s, full_cpu, full_mb, full = timed(verify_full, args.repeat)
                assert full.ok, full.problem
            inc_traced = round(traced_peak_mb(verify_in_run), 1) if ends else None
            full_traced = round(traced_peak_mb(verify_full), 1) if ends else None
            with Session(reader(db.engine)) as s, s.begin():
                links = s.exec(sa.select(sa.func.max(ChainLink.seq))).one()[0]
            row = {"month": m, "period": period, "links": links, "firings": run.firings,
                   "incremental_links": inc.checked, "incremental_s": round(inc_s, 3),
                   "incremental_cpu_s": round(inc_cpu, 3), "incremental_rise_mb": round(inc_mb, 1),
                   "full_s": None if full_s is None else round(full_s, 3),
                   "full_cpu_s": None if full_cpu is None else round(full_cpu, 3),
                   "full_rise_mb": None if full_mb is None else round(full_mb, 1),
                   "incremental_traced_mb": inc_traced, "full_traced_mb": full_traced}
            rows.append(row)
            print(f"{period}: chain {links:,} links; in the run (incremental, {inc.checked:,} "
                  f"links + the import's rows) {inc_s:.2f} s ({inc_cpu:.2f} s CPU), +{inc_mb:.1f} MB"
                  + (f"; full {full_s:.2f} s ({full_cpu:.2f} s CPU), +{full_mb:.1f} MB"
                     if full_s is not None else "")
                  + (f"; traced peak {inc_traced} MB in the run, {full_traced} MB full" if ends
                     else ""), flush=True)
            assert xietong.verify(db).checkpoint_seq        # the month's checkpoint
    first, last = rows[0], rows[-1]
    print(f"month {last['month']} ÷ month 1: in the run {last['incremental_s'] / first['incremental_s']:.2f}× "
          f"time ({last['incremental_cpu_s'] / first['incremental_cpu_s']:.2f}× CPU), {last['incremental_traced_mb'] / first['incremental_traced_mb']:.2f}× traced "
          f"peak; "
          f"full verify {last['full_s'] / first['full_s']:.2f}× time "
          f"({last['full_cpu_s'] / first['full_cpu_s']:.2f}× CPU)")
    out = RESULTS / f"verify-history-{dt.date.today().isoformat()}-{args.employees}.json"
    out.write_text(json.dumps({"employees": args.employees, "db": url.split("://")[0],
                               "repeat": args.repeat, "months": rows}, indent=1) + "\n")
    print(f"results: {out}")
    if args.db is None:
        if args.keep:
            print(f"database: {url}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
