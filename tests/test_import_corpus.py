"""Every real workbook of the corpus ends in a Ledger or in clean problems (SPEC §3.1): never a
traceback, a hang or a dead process.

The corpus is the test suite of the calamine reader (MIT licence): 130 workbooks saved by Excel,
LibreOffice and other programs — `.xlsx`, `.xlsm`, `.xls`, `.xlsb`, `.ods` with odd encodings,
merged cells, error values, formulas, pictures, pivot tables, password protection, truncated
files and files crafted to exhaust memory (`OOM_alloc*.xls`, far cells). None is an xietong
ledger. The files are not ours to ship, so they stay out of this repository: the test reads
them from `../shared/corpus`, a folder beside the clone (as CI lays it out), and is skipped,
saying so, where that folder is absent.

Each file is read twice: by read_ledger (none is a ledger, so most end in "missing sheet"), and
by the loader with every sheet chosen, which is what exercises the guards. Both run in one child
interpreter so that a guard that fails shows up as a failed test naming the file, rather than
as a crashed test run.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"

_SCRIPT = r"""
import json, sys
from importers import LedgerRefused, read_ledger
from importers.guard import Refusal
from importers.workbook import open_book
for path in sys.argv[1:]:
    out = {"file": path}
    print(json.dumps({"start": path}), flush=True)
    try:
        read_ledger(path)
        out["ledger"] = "ledger"
    except LedgerRefused as e:
        out["ledger"] = "refused" if e.problems and all(str(p) for p in e.problems) else "EMPTY"
    try:
        book = open_book(open(path, "rb").read(), lambda names: names)
        out["all_sheets"] = "read %d" % len(book.rows)
    except Refusal as r:
        out["all_sheets"] = "refused " + r.key
    print(json.dumps(out), flush=True)
"""


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the workbook corpus is not at {CORPUS} (it is "
                    "kept outside the repository, in a folder shared/corpus beside the clone)")
def test_every_corpus_file_ends_cleanly():
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix.lower() in
                   {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"})
    assert files
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, *map(str, files)],
                          cwd=Path(__file__).resolve().parents[1], capture_output=True,
                          text=True, timeout=900)
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    done = [x for x in lines if "file" in x]
    last = lines[-1].get("start") if lines else None
    assert proc.returncode == 0, f"died on {last}: rc={proc.returncode}\n{proc.stderr[-2000:]}"
    assert len(done) == len(files)
    for x in done:
        assert x["ledger"] in ("ledger", "refused"), x
        assert x["all_sheets"].split()[0] in ("read", "refused"), x
    refused = sum(x["ledger"] == "refused" for x in done)
    print(f"{len(files)} corpus files: {len(files) - refused} ledgers, {refused} refused cleanly; "
          f"all sheets: {sum(x['all_sheets'].startswith('read') for x in done)} read, "
          f"{sum(x['all_sheets'].startswith('refused') for x in done)} refused")
