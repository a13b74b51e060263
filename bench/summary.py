"""`xietong summary --year` over a twelve-month history (SPEC §11.2: it reads stored results only
and takes a small fraction of one month's run).

The history is built with the sample generator, one seed per month (seed = the month's number:
a believable company whose ratings, behaviours and exceptions change from month to month):
each month is written, imported and evaluated. The yardstick, "one month's run", is the import
and evaluation of one more such month (2027-01, seed 13) into a fresh database, timed in the
same session as the summary (the machine is shared: both see the same load). The summary of
the year is timed three ways, each `--repeat` times, the best kept:

* read: `api.summary(db, year=…)` without files — reading the twelve latest runs and adding
  them up (no feedback: nothing asks for it);
* json: the same plus summary.json;
* all: summary.xlsx, summary.html and summary.json (the command's default), which also reads
  the rating sheets for the feedback by month.

    .venv/bin/python bench/summary.py                                  # 10,000 employees
    .venv/bin/python bench/summary.py --employees 1000 --repeat 3
    .venv/bin/python bench/summary.py --keep /tmp/year-10k             # keep (and reuse) the history

With `--keep DIR`, a history already in DIR (its xietong.db) is reused.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

YEAR = 2026
MONTHS = [f"{YEAR}-{m:02d}" for m in range(1, 13)]


def build(work: Path, employees: int, url: str) -> list[tuple[str, float, float]]:
    """The twelve months: (period, import seconds, evaluate seconds) each."""
    from xietong import api
    from xietong.sample import write_sample_ledger
    months = []
    with api.open_database(url) as db:
        for i, period in enumerate(MONTHS, 1):
            ledger = work / f"ledger-{period}.xlsx"
            write_sample_ledger(ledger, employees, period, seed=i)
            t = time.perf_counter()
            api.import_ledger(db, ledger, period)
            t_import = time.perf_counter() - t
            t = time.perf_counter()
            run = api.evaluate(db, period)
            t_eval = time.perf_counter() - t
            months.append((period, t_import, t_eval))
            print(f"  {period}: import {t_import:.1f} s, evaluate {t_eval:.1f} s "
                  f"({run.firings:,} firings)", flush=True)
            ledger.unlink()
    return months


def one_month(work: Path, employees: int) -> None:
    """The yardstick: one month imported and evaluated into a database of its own."""
    from xietong import api
    from xietong.sample import write_sample_ledger
    ledger = work / "yardstick.xlsx"
    if not ledger.exists():
        write_sample_ledger(ledger, employees, "2027-01", seed=13)
    with tempfile.TemporaryDirectory(prefix="yardstick-", dir=work) as fresh:
        with api.open_database(f"sqlite:///{Path(fresh) / 'xietong.db'}") as db:
            api.import_ledger(db, ledger, "2027-01")
            api.evaluate(db, "2027-01")


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--employees", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--keep", type=Path, default=None,
                   help="build the history in (or reuse it from) this folder")
    args = p.parse_args(argv)

    from xietong import api
    with tempfile.TemporaryDirectory(prefix="xietong-bench-year-") as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{work / 'xietong.db'}"
        months = None
        if not (work / "xietong.db").exists():
            print(f"Building {len(MONTHS)} months of {args.employees:,} employees in {work}",
                  flush=True)
            months = build(work, args.employees, url)
        month = best_of(args.repeat, lambda: one_month(work, args.employees))
        with api.open_database(url) as db:
            read = best_of(args.repeat, lambda: api.summary(db, year=YEAR))
            as_json = best_of(args.repeat, lambda: api.summary(
                db, year=YEAR, out_dir=work / "summary-json", formats={"json"}))
            every = best_of(args.repeat, lambda: api.summary(
                db, year=YEAR, out_dir=work / "summary-all"))
            got = api.summary(db, year=YEAR)
        sizes = {f.name: f.stat().st_size for f in (work / "summary-all").iterdir()}

    print()
    print(f"summary --year {YEAR}: {len(got.departments):,} departments, "
          f"{len(got.employees):,} employees, {len(MONTHS)} months "
          f"({args.employees:,} employees a month; best of {args.repeat})")
    print()
    print("| what | seconds | share of a month's run |")
    print("|---|---|---|")
    print(f"| one month's run (import + evaluate of {args.employees:,} employees) | "
          f"{month:.1f} s | 100 % |")
    if months is not None:
        runs = [i + e for _, i, e in months]
        print(f"| (building the history: median month {statistics.median(runs):.1f} s) | | |")
    for name, t in (("summary --year, read and added up (no files)", read),
                    ("summary --year --format json", as_json),
                    ("summary --year (xlsx, html, json: the default)", every)):
        print(f"| {name} | {t:.2f} s | {t / month:.0%} |")
    print()
    print("files: " + ", ".join(f"{n} {s / 1e6:.1f} MB" for n, s in sorted(sizes.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
