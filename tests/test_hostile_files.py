"""Hostile and wrong files through the real command line (SPEC §3.1, docs/limits.md): each gets
exactly one clear message and exit code 1, within seconds and in bounded memory, and the
database is exactly as it was.

Every command runs in its own process (`python -m xietong.cli`), started by a small wrapper
that reports the command's exit code, output, wall time and peak memory (ru_maxrss of its
children: the command and the reader process it may fork), so that nothing the test process
itself allocated counts. The bounds are generous guards, not benchmarks: a 2 GiB decompression
bomb is refused from the zip directory in about a second and 60 MB.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xietong.cli import main
from tests import hostile
from tests.dbs import db_state
from tests.ledgers import PERIOD

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "calamine-tests"
EXPECTED = "expected a readable workbook (.xlsx, .xlsm, .xls, .xlsb or .ods), got "

_MEASURE = r"""
import json, resource, subprocess, sys, time
start = time.monotonic()
p = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=300)
print(json.dumps({"rc": p.returncode, "out": p.stdout, "err": p.stderr,
                  "seconds": time.monotonic() - start,
                  "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def measured(*args: str, env: dict | None = None) -> dict:
    """Run `xietong ARGS` in a fresh process; its exit code, output, seconds and peak MB."""
    proc = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, "-m", "xietong.cli", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "XIETONG_LANG": "en", **(env or {})})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def database(tmp_path, db_url):
    """A database holding one good import of the period: what a hostile file must not touch."""
    good = hostile.base_ledger(tmp_path / "good.xlsx")
    out, err = io.StringIO(), io.StringIO()
    assert main(["import", str(good), "--period", PERIOD, "--db", db_url], out, err) == 0, err.getvalue()
    return db_url


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    return hostile.whitespace_bomb(tmp_path_factory.mktemp("bomb") / "bomb.xlsx", gib=2.0)


def _refused(r: dict, path: Path, found: str) -> None:
    """Exactly one problem line, between the header and "Nothing was stored."."""
    assert r["rc"] == 1, r
    assert r["out"] == ""
    lines = r["err"].rstrip("\n").split("\n")
    assert lines == [f"{path}: the ledger was refused, 1 problem(s):", f"  {found}",
                     "Nothing was stored."], r["err"]


def test_decompression_bomb_2gib(database, bomb, tmp_path):
    with __import__("zipfile").ZipFile(bomb) as z:
        assert sum(i.file_size for i in z.infolist()) > 2 * 2**30      # it is a real one
    assert bomb.stat().st_size < 4 * 2**20
    before = db_state(database)
    r = measured("import", str(bomb), "--period", PERIOD, "--db", database)
    _refused(r, bomb, "expected a workbook within the safety limits (512.0 MB per part), got "
                      "xl/worksheets/sheet1.xml: 2048.0 MB unpacked")
    assert r["seconds"] < 60 and r["peak_mb"] < 500, r
    assert db_state(database) == before


def test_lying_zip_headers_are_not_inflated(database, tmp_path):
    # declares a size just over its compressed size (so the directory looks honest) and really
    # inflates to 1 GiB: zipfile.read() would allocate 2 GiB before its CRC check failed
    path = hostile.lying_bomb(tmp_path / "lying.xlsx", gib=1.0)
    before = db_state(database)
    r = measured("import", str(path), "--period", PERIOD, "--db", database)
    _refused(r, path, EXPECTED + "a damaged workbook (xl/worksheets/sheet1.xml: BadZipFile: Bad "
                                 "CRC-32 for file 'xl/worksheets/sheet1.xml')")
    assert r["seconds"] < 60 and r["peak_mb"] < 500, r
    assert db_state(database) == before


DTD = (EXPECTED + "an XML part declaring a DTD or entities (<!DOCTYPE>) in xl/worksheets/sheet1.xml: "
       "no spreadsheet program writes one, so the file was not read")

KINDS = {
    "entity_bomb": (hostile.entity_bomb, DTD),
    "xxe": (hostile.xxe, DTD),
    "far_cell": (hostile.far_cell, "expected at most 10,000,000 cells per sheet, got 'Departments' "
                                   "spanning 1,048,576 rows × 16,384 columns"),
    "encrypted": (hostile.encrypted, EXPECTED + "an encrypted (password-protected) workbook: remove "
                                                "the password and save it again"),
    "docx_renamed": (hostile.docx, EXPECTED + "a Word document"),
    "random_bytes": (hostile.random_bytes, EXPECTED + "data that is not a spreadsheet"),
    "empty": (hostile.empty, EXPECTED + "an empty file"),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_hostile_file(database, tmp_path, kind):
    make, found = KINDS[kind]
    path = make(tmp_path / f"{kind}.xlsx")
    before = db_state(database)
    r = measured("import", str(path), "--period", PERIOD, "--db", database)
    _refused(r, path, found)
    assert r["seconds"] < 30 and r["peak_mb"] < 300, r
    assert db_state(database) == before


@pytest.mark.skipif(not (CORPUS / "pass_protected.xlsx").exists(), reason="no shared corpus")
def test_password_protected_workbook_saved_by_excel(database):
    path = CORPUS / "pass_protected.xlsx"
    before = db_state(database)
    r = measured("import", str(path), "--period", PERIOD, "--db", database)
    _refused(r, path, KINDS["encrypted"][1])
    assert db_state(database) == before


def test_missing_file(database, tmp_path):
    before = db_state(database)
    r = measured("import", str(tmp_path / "nope.xlsx"), "--period", PERIOD, "--db", database)
    assert r["rc"] == 1 and r["out"] == ""
    assert r["err"] == f"{tmp_path / 'nope.xlsx'}: expected a ledger workbook, got no such file\n"
    assert db_state(database) == before


def test_file_over_the_size_limit_is_not_read(database, tmp_path):
    path = tmp_path / "big.xlsx"
    path.write_bytes(b"PK\x03\x04" + os.urandom(3 * 2**20))
    before = db_state(database)
    r = measured("import", str(path), "--period", PERIOD, "--db", database,
                 env={"XIETONG_MAX_FILE_MB": "2"})
    _refused(r, path, "expected a workbook of at most 2.0 MB, got 3.0 MB")
    assert db_state(database) == before


def test_pipe_is_not_read(database, tmp_path):
    fifo = tmp_path / "ledger.xlsx"
    os.mkfifo(fifo)
    r = measured("import", str(fifo), "--period", PERIOD, "--db", database)
    _refused(r, fifo, EXPECTED + "something that is not a regular file (a device or a pipe)")


def test_decisions_command_has_the_same_guards(database, bomb):
    r = measured("decisions", str(bomb), "--period", PERIOD, "--db", database)
    assert r["rc"] == 1 and "2048.0 MB unpacked" in r["err"] and "Traceback" not in r["err"]
    assert r["peak_mb"] < 500
