"""Import vs the floor (issue 2): `read_ledger` against python-calamine's own parse, same file.

    .venv/bin/python bench/import_floor.py bench/results/ledgers/ledger-10000-seed1-2026-11.xlsx
    .venv/bin/python bench/import_floor.py LEDGER --repeat 7 --phases

The floor is what no reader built on calamine can beat: the file's bytes,
`CalamineWorkbook.from_filelike(BytesIO(data))` and `to_python(skip_empty_area=False)` of every
sheet, exactly as the importer calls it. The import is `importers.ledger.read_ledger(path)`:
sniffing, zip and XML guards, calamine, typing, keys and references (not the database store).

read_ledger pauses the cyclic garbage collector while it builds its rows, which also spares
calamine's to_python some collections; so the floor is measured twice, as python-calamine is
normally called and with the collector paused too ("floor-gc-paused", the stricter yardstick).
The import is charged with the young-generation collection it defers (gc.collect(1) at its end).

Each measurement runs in a fresh subprocess (so one run's heap does not flatter the next), the
kinds alternate (so a burst of load from other processes hits them alike), and the best of N is
kept for each; CPU time (process_time) is printed beside the wall time, since on a shared
machine it is the steadier of the two. Peak memory is the subprocess's VmHWM from
/proc/self/status, the whole process's high-water mark: interpreter and imports included
(their own size is printed too). `--phases` adds one run of read_ledger split into its steps
(guards, calamine, typing, checks).
"""
from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _hwm_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def child_floor(path: str, paused: bool = False) -> dict:
    import io
    from python_calamine import CalamineWorkbook
    if paused:
        gc.disable()
    base = _hwm_mb()
    c0, t0 = time.process_time(), time.perf_counter()
    data = Path(path).read_bytes()
    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    cells = 0
    for name in wb.sheet_names:
        rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        cells += sum(map(len, rows))
        del rows
    return {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0,
            "peak_mb": _hwm_mb(), "base_mb": base, "cells": cells}


def child_import(path: str) -> dict:
    from importers.ledger import read_ledger
    import python_calamine  # noqa: F401 - imported by both kinds before the clock starts
    base = _hwm_mb()
    c0, t0 = time.process_time(), time.perf_counter()
    ledger = read_ledger(path)
    # read_ledger pauses the cyclic collector; the young-generation pass it thereby defers
    # (over the ledger's rows) is charged to it here.
    gc.collect(1)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"seconds": seconds, "cpu": cpu, "peak_mb": _hwm_mb(), "base_mb": base,
            "rows": sum(map(len, ledger.rows.values()))}


def child_phases(path: str) -> dict:
    """One read_ledger with its steps timed by wrapping the functions that do them."""
    from importers import guard, ledger as ledger_mod, workbook
    from python_calamine import CalamineWorkbook  # noqa: F401
    spent: dict[str, float] = {}

    def wrap(mod, name, label):
        fn = getattr(mod, name)

        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - t
        setattr(mod, name, timed)

    wrap(ledger_mod, "read_upload", "read bytes")
    wrap(guard, "sniff", "sniff + zip + prologs")
    wrap(guard, "check_shared_strings", "sharedStrings check")
    wrap(guard, "xlsx_sheet_parts", "sheet parts")
    wrap(guard, "scan_sheet_xml", "sheet XML scan")
    wrap(workbook, "_read", "calamine (incl. scan)")
    wrap(ledger_mod._Reader, "_type_rows", "typing")
    wrap(ledger_mod._Reader, "_check_keys", "keys")
    wrap(ledger_mod._Reader, "_check_references", "references")
    wrap(ledger_mod._Reader, "_check_managers", "managers")
    t0 = time.perf_counter()
    ledger_mod.read_ledger(path)
    spent["total"] = time.perf_counter() - t0
    spent["calamine"] = spent.pop("calamine (incl. scan)") - spent.get("sheet XML scan", 0.0)
    return {"phases": spent, "peak_mb": _hwm_mb()}


CHILDREN = {"floor": child_floor, "floor-gc-paused": lambda p: child_floor(p, paused=True),
            "import": child_import, "phases": child_phases}


def run_child(kind: str, path: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, str(path)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ledger", type=Path)
    ap.add_argument("--repeat", type=int, default=5, help="runs of each kind (best is kept)")
    ap.add_argument("--phases", action="store_true", help="also one run split into its steps")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(CHILDREN[args.child](str(args.ledger))))
        return 0
    runs: dict[str, list[dict]] = {"floor": [], "floor-gc-paused": [], "import": []}
    for _ in range(args.repeat):
        for kind in runs:
            runs[kind].append(run_child(kind, args.ledger))
    best = {k: min(v, key=lambda r: r["seconds"]) for k, v in runs.items()}
    im = best["import"]
    print(f"{args.ledger.name}: {im['rows']:,} ledger rows, {best['floor']['cells']:,} cells; "
          f"best of {args.repeat}, each in a fresh process")
    for k, r in best.items():
        times = ", ".join(f"{x['seconds']:.2f}" for x in runs[k])
        print(f"  {k:15s} {r['seconds']:.3f} s wall, {min(x['cpu'] for x in runs[k]):.3f} s CPU; "
              f"peak {max(x['peak_mb'] for x in runs[k]):.0f} MB (after imports "
              f"{r['base_mb']:.0f} MB); runs: {times}")
    for k in ("floor", "floor-gc-paused"):
        fl = best[k]
        ratios = sorted(i["seconds"] / f["seconds"] for f, i in zip(runs[k], runs["import"]))
        cpu = min(x["cpu"] for x in runs["import"]) / min(x["cpu"] for x in runs[k])
        print(f"  import / {k} = {im['seconds'] / fl['seconds']:.2f}x wall (best vs best; "
              f"same-round pairs: median {ratios[len(ratios) // 2]:.2f}x, "
              f"range {ratios[0]:.2f}-{ratios[-1]:.2f}x), {cpu:.2f}x CPU")
    if args.phases:
        ph = run_child("phases", args.ledger)
        print("  one import split into its steps (s): " + ", ".join(
            f"{k} {v:.3f}" for k, v in ph["phases"].items()) + f"; peak {ph['peak_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
