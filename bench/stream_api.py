"""What `xietong.firings` and `xietong.ledger_rows` cost to read through, before and after they
streamed from the database (issue 15): each way in a fresh process, its wall time and peak RSS
(VmHWM), over the latest run of PERIOD in an existing database.

    .venv/bin/python bench/stream_api.py --db sqlite:///path/history.db --period 2026-01

"before" is what the two functions did until then — the whole run loaded (evaluator.runs.load_run:
every firing, adjustment and exception as dicts) or every sheet of the import
(evaluator.store.load_rows), then handed out one by one; "after" is the functions as they are.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WAYS = ("firings-before", "firings-after", "rows-before", "rows-after")


def _peak_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def one(way: str, url: str, period: str, sheet: str) -> dict:
    """Read through one way, in this process; count what it handed out."""
    from sqlmodel import Session

    import xietong
    from evaluator.db import reader
    from evaluator.runs import latest_run, load_run
    from evaluator.store import active_import, load_rows
    from reports.json_files import source_entries
    with xietong.open_database(url) as db:
        db.engine                                 # tables checked before the clock starts
        base = _peak_mb()
        t = time.perf_counter()
        n = 0
        if way == "firings-after":
            for _ in xietong.firings(db, period):
                n += 1
        elif way == "rows-after":
            for _ in xietong.ledger_rows(db, period, sheet):
                n += 1
        else:
            with Session(reader(db.engine), expire_on_commit=False) as s, s.begin():
                if way == "firings-before":
                    items = load_run(s, latest_run(s, period))["firings"]
                else:
                    items = load_rows(s, active_import(s, period).id)[sheet]
            for f in items:
                if way == "firings-before":     # what firings() built from each
                    {"seq": f["seq"], "rule": f["rule"], "sources": source_entries(f["sources"]),
                     "outcome": f["outcome"]}
                n += 1
        return {"way": way, "items": n, "seconds": round(time.perf_counter() - t, 2),
                "peak_mb": round(_peak_mb()), "before_mb": round(base)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--period", default="2026-11")
    ap.add_argument("--sheet", default="Behaviours")
    ap.add_argument("--one", choices=WAYS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.db, args.period, args.sheet)))
        return 0
    for way in WAYS:
        out = subprocess.run([sys.executable, __file__, "--db", args.db, "--period", args.period,
                              "--sheet", args.sheet, "--one", way],
                             capture_output=True, text=True, check=True).stdout
        r = json.loads(out)
        print(f"{r['way']:15} {r['items']:>10,} items  {r['seconds']:6.2f} s  peak RSS "
              f"{r['peak_mb']:5} MB (the process before reading: {r['before_mb']} MB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
