"""The desk's summary page (SPEC §12 over §11.2) at scale: `api.summary_page` — every month's
state, every department, one page of employees — over a stored year, and the feedback page of
one department (`api.feedback_of`).

It needs a stored history: bench/summary.py builds one (`--keep DIR` keeps it), 12 months of
10,000 employees. `--inflate N` measures on a copy of it whose every month holds N times the
employees: the Employees rows, the employees' adjustments and the exceptions of each month are
copied N − 1 times with new ids (E1 → E1~2, …) — the tables the page reads grow as a company N
times larger would make them (the departments stay; the firings, which the page never reads, are
not copied). Each figure is the best of `--repeat`; "first" is a page of a filter not asked for
before (its ids listed from the index), "next" another page of the same filter.

    .venv/bin/python bench/summary.py --keep /tmp/year-10k              # the history, once
    .venv/bin/python bench/desk_summary.py --db /tmp/year-10k/xietong.db
    .venv/bin/python bench/desk_summary.py --db /tmp/year-10k/xietong.db --inflate 10
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def inflate(path: Path, times: int) -> None:
    """Every import's Employees rows, every run's employee adjustments and exceptions, copied
    `times` − 1 times with new ids (SQLite)."""
    import sqlite3
    con = sqlite3.connect(path)
    emp_cols = [r[1] for r in con.execute("PRAGMA table_info(ledger_employees)") if r[1] != "pk"]
    adj_cols = [r[1] for r in con.execute("PRAGMA table_info(adjustment)") if r[1] != "id"]
    exc_cols = [r[1] for r in con.execute("PRAGMA table_info(exception_item)") if r[1] != "id"]
    for k in range(2, times + 1):
        suffix = f"~{k}"

        def cols(names, changed):
            return ", ".join(changed.get(c, f'"{c}"') for c in names)
        con.execute(f'INSERT INTO ledger_employees ({", ".join(chr(34) + c + chr(34) for c in emp_cols)}) '
                    f'SELECT {cols(emp_cols, {"employee_id": f"employee_id || {suffix!r}", "row": f"row + {k} * 1000000"})} '
                    f"FROM ledger_employees WHERE employee_id NOT LIKE '%~%'")
        con.execute(f'INSERT INTO adjustment ({", ".join(chr(34) + c + chr(34) for c in adj_cols)}) '
                    f'SELECT {cols(adj_cols, {"subject_id": f"subject_id || {suffix!r}", "ord": f"ord + {k} * 1000000", "adjustment_id": f"adjustment_id || {suffix!r}"})} '
                    f"FROM adjustment WHERE subject_type = 'employee' AND subject_id NOT LIKE '%~%'")
        con.execute(f'INSERT INTO exception_item ({", ".join(chr(34) + c + chr(34) for c in exc_cols)}) '
                    f'SELECT {cols(exc_cols, {"review_id": f"review_id || {suffix!r}", "ord": f"ord + {k} * 1000000"})} '
                    f"FROM exception_item WHERE review_id NOT LIKE '%~%'")
    con.commit()
    con.execute("ANALYZE")
    con.close()


def best(fn, repeat: int, before=None) -> float:
    times = []
    for _ in range(repeat):
        if before:
            before()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, type=Path, help="a stored history (SQLite file)")
    ap.add_argument("--inflate", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--year", default="2026")
    args = ap.parse_args(argv)
    from evaluator import history
    from xietong import api
    with tempfile.TemporaryDirectory(prefix="xietong-desk-summary-") as tmp:
        path = Path(tmp) / "history.db"
        shutil.copyfile(args.db, path)
        if args.inflate > 1:
            t = time.perf_counter()
            inflate(path, args.inflate)
            print(f"inflated ×{args.inflate} in {time.perf_counter() - t:.0f} s", flush=True)
        db = api.open_database(f"sqlite:///{path}")
        t = time.perf_counter()
        api._engine(db)                         # the desk's tables and indexes, once
        print(f"desk indexes built in {time.perf_counter() - t:.1f} s", flush=True)
        first = api.summary_page(db, year=args.year)
        dept = first.departments[len(first.departments) // 2]["dept_id"]
        n = first.employees_total
        cold = history._ID_LISTS.clear
        quarter = f"{args.year}-Q4"
        rows = [
            ("year, first page (ids listed)", lambda: api.summary_page(db, year=args.year), cold),
            ("year, next page", lambda: api.summary_page(db, year=args.year, offset=n // 2), None),
            ("quarter, first page", lambda: api.summary_page(db, quarter=quarter), cold),
            ("quarter, next page", lambda: api.summary_page(db, quarter=quarter, offset=n // 2),
             None),
            (f"year, department {dept}", lambda: api.summary_page(db, year=args.year, dept=dept),
             cold),
            ("year, search a name", lambda: api.summary_page(db, year=args.year, search="7"),
             cold),
        ]
        print(f"\nsummary page: {len(first.departments)} departments, {n:,} employees, "
              f"{len(first.months)} months (best of {args.repeat})\n")
        print("| what | seconds |\n|---|---|")
        for label, fn, before in rows:
            print(f"| {label} | {best(fn, args.repeat, before):.3f} |", flush=True)
        period = max(m["period"] for m in first.months if m["state"] != "missing")
        rated = api.feedback_departments(db, period)
        if rated:
            d = max(rated, key=lambda x: x["received"])
            print(f"| feedback of {d['dept_id']} ({d['received']} ratings), {period} | "
                  f"{best(lambda: api.feedback_of(db, period, d['dept_id']), args.repeat):.3f} |")
            print(f"| rated departments of {period} | "
                  f"{best(lambda: api.feedback_departments(db, period), args.repeat):.3f} |")
        # the page itself over HTTP (the desk's application in process, signed in as HR)
        import warnings
        from xietong.desk.app import create_app
        from xietong.desk.common import Settings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from starlette.testclient import TestClient
        api.add_account(db, "bench-hr", "hr", "bench-password")
        app = create_app(Settings(db_url=f"sqlite:///{path}", data_dir=Path(tmp) / "desk",
                                  secret_key="bench"))
        with TestClient(app) as c:
            c.post("/api/login", json={"username": "bench-hr", "password": "bench-password"})

            def get(url):
                r = c.get(url)
                assert r.status_code == 200, (url, r.status_code)
            print(f"| GET /summary?year={args.year} (HTML, next page) | "
                  f"{best(lambda: get(f'/summary?year={args.year}&offset=50'), args.repeat):.3f} |")
            if rated:
                url = f"/periods/{period}/feedback/{d['dept_id']}"
                print(f"| GET {url} (HTML, 200 ratings a page) | "
                      f"{best(lambda: get(url), args.repeat):.3f} |")
        full = best(lambda: api.summary(db, year=args.year), 1)
        print(f"| `summary --year` read whole (for comparison) | {full:.3f} |")
        db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
