"""The benchmark's instrumented pipeline (bench/run.py's `--child pipeline`) still runs the
library it measures: it wraps evaluator functions, reads what the evaluation returns and
digests it, so a change of what the evaluation returns can break the benchmark without
breaking `xietong run` (it did once: the adjustments came back on a file). A small company,
the child measurement alone; its digest's counts must be what the run wrote."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from xietong.sample import write_sample_ledger

ROOT = Path(__file__).resolve().parent.parent


def test_the_benchmarks_pipeline_measures_a_whole_run(tmp_path):
    ledger = tmp_path / "ledger.xlsx"
    write_sample_ledger(ledger, employees=120, period="2026-11", seed=3, lang="en")
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--child", "pipeline",
                           str(ledger), str(work)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    written = {name: json.loads((work / "out" / f"{name}.json").read_text("utf-8"))
               for name in ("adjustments", "exceptions")}
    counts = measured["digest"]["counts"]
    assert counts["adjustments"] == len(written["adjustments"]) > 0
    assert counts["exceptions"] == len(written["exceptions"]) > 0
    assert len(measured["digest"]["adjustments_sha"]) == 16
    for phase in ("read", "validate", "store", "evaluate", "reports", "run"):
        assert measured["phases"][phase]["seconds"] > 0, phase
