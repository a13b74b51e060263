"""The desk at 10,000 and 100,000 employees (SPEC §12: the trace browser "answers in well under a
second at 100,000 employees"): the trace page and API with each filter, and the reviews API,
timed in-process through the application (Starlette's TestClient: the whole ASGI stack, the
session, the CSRF guard, the library and the database; no network).

    .venv/bin/python bench/desk.py --employees 10000
    .venv/bin/python bench/desk.py --employees 100000 --keep /tmp/desk-100k   # keeps the database

Building the database (sample ledger, import, evaluation, the trace index) is timed too: the
index is built once per run, by the desk's evaluation job right after the run. Each request is
repeated `--repeat` times; the table shows the median and the worst, in milliseconds.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PERIOD = "2026-11"


def timed(label, fn):
    t = time.perf_counter()
    out = fn()
    print(f"  {label}: {time.perf_counter() - t:.1f} s", flush=True)
    return out


def build(work: Path, employees: int, url: str):
    import xietong
    ledger = work / f"sample-{employees}.xlsx"
    if not ledger.exists():
        timed("write sample ledger", lambda: xietong.write_sample_ledger(
            ledger, employees=employees, period=PERIOD, seed=1))
    with xietong.open_database(url) as db:
        if not xietong.api.periods(db):
            timed("import", lambda: xietong.import_ledger(db, ledger, PERIOD))
            timed("evaluate", lambda: xietong.evaluate(db, PERIOD))
        run_id = xietong.api.runs(db, PERIOD)[0]["run_id"]
        timed("index the trace", lambda: xietong.api.index_trace(db, run_id))
        names = {a.username for a, _ in xietong.api.accounts(db)}
        if "hr" not in names:
            xietong.api.add_account(db, "hr", "hr", "bench-password")
        if "manager" not in names:
            items = xietong.api.reviews(db, PERIOD, type="review").items
            counts = {}
            for it in items:
                counts[it["assignee_id"]] = counts.get(it["assignee_id"], 0) + 1
            busiest = max(sorted(counts), key=counts.get)
            xietong.api.add_account(db, "manager", "manager", "bench-password",
                                    employee_id=busiest)


def measure(url: str, work: Path, repeat: int) -> list[tuple]:
    from xietong.desk.app import create_app
    from xietong.desk.common import Settings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    (work / "data").mkdir(exist_ok=True)
    app = create_app(Settings(db_url=url, data_dir=work / "data", secret_key="bench"))
    rows = []
    with TestClient(app) as hr:
        assert hr.post("/api/login", json={"username": "hr", "password": "bench-password"}).status_code == 200
        manager = TestClient(app)
        assert manager.post("/api/login", json={"username": "manager",
                                                "password": "bench-password"}).status_code == 200
        firings = f"/api/periods/{PERIOD}/firings"
        first = hr.get(firings, params={"limit": 1}).json()
        total = first["total"]
        subject = hr.get(firings, params={"rule": "linkage.blend", "limit": 1}).json()["items"]
        dept = None
        if subject:
            # the department of the first linkage blend: a subject with many firings
            with_subject = hr.get(f"/api/periods/{PERIOD}/reviews", params={"type": "review"}).json()
            dept = with_subject[0]["subject_id"] if with_subject else None
        cases = [
            ("firings: first page", firings, {}),
            ("firings: page in the middle", firings, {"offset": total // 2}),
            ("firings: last page", firings, {"offset": max(0, total - 50)}),
            ("firings: rule=rating.hold", firings, {"rule": "rating.hold"}),
            ("firings: mechanism=peripheral", firings, {"mechanism": "peripheral"}),
            ("firings: mechanism=behaviour & result=adjustment", firings,
             {"mechanism": "behaviour", "result": "adjustment"}),
            ("firings: sheet=Behaviours", firings, {"sheet": "Behaviours"}),
            ("firings: sheet=RaciRatings & rule=rating.count", firings,
             {"sheet": "RaciRatings", "rule": "rating.count"}),
            ("firings: result=exception", firings, {"result": "exception"}),
            (f"firings: subject={dept}", firings, {"subject": dept or ""}),
            ("trace page (HTML): first page", f"/periods/{PERIOD}/trace", {}),
            ("trace page (HTML): mechanism=raci, page 3", f"/periods/{PERIOD}/trace",
             {"mechanism": "raci", "offset": 100}),
            ("reviews API: all", f"/api/periods/{PERIOD}/reviews", {}),
            ("reviews API: status=open", f"/api/periods/{PERIOD}/reviews", {"status": "open"}),
            ("reviews page (HR, names and cited values)", "/reviews", {"period": PERIOD}),
        ]
        for label, path, params in cases:
            times, size, count = [], 0, None
            for _ in range(repeat):
                t = time.perf_counter()
                r = hr.get(path, params=params)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, (label, r.status_code, r.text[:300])
                size = len(r.content)
                if path.endswith("/firings"):
                    count = r.json()["total"]
                elif path.endswith("/reviews") and path.startswith("/api"):
                    count = len(r.json())
            rows.append((label, statistics.median(times), max(times), count, size))
        for label, path in (("reviews API: the manager's own", f"/api/periods/{PERIOD}/reviews"),
                            ("my reviews page (manager)", "/reviews")):
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                r = manager.get(path)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200
            rows.append((label, statistics.median(times), max(times),
                         len(r.json()) if path.startswith("/api") else None, len(r.content)))
    app.state.db.close()
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--employees", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--keep", default=None, help="a folder to keep (and reuse) the database in")
    p.add_argument("--db", default=None, help="a database URL (default: SQLite in the folder)")
    args = p.parse_args(argv)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="xietong-desk-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    url = args.db or f"sqlite:///{work / 'desk.db'}"
    print(f"desk benchmark: {args.employees:,} employees, {url}", flush=True)
    build(work, args.employees, url)
    rows = measure(url, work, args.repeat)
    print(f"\n| request ({args.employees:,} employees) | median ms | worst ms | total | bytes |")
    print("|---|---:|---:|---:|---:|")
    for label, med, worst, count, size in rows:
        print(f"| {label} | {med:,.0f} | {worst:,.0f} | {'' if count is None else f'{count:,}'} "
              f"| {size:,} |")
    (work / f"desk-{args.employees}.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
