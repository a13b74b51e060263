"""Crash safety (SPEC §6): import, evaluate and decisions are each one transaction, so a process
killed at any moment leaves the database as it was before that command, the same command run
again succeeds, and `xietong verify` passes; a native crash of the rules engine fails that one
evaluation with a clear message and never touches the database.

Where a command dies is chosen, not timed: XIETONG_FAULT=kill:<point> makes the process SIGKILL
itself at a named point of its write transaction (engine/isolation.py), the worst moments —
every row or record written, nothing committed. One more test kills a real evaluation from
outside after a few different delays, to show that no moment is special.
"""
from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from xietong.cli import main
from reports.template import write_ledger
from tests.dbs import db_content, db_state
from tests.ledgers import PERIOD, worked_example

ROOT = Path(__file__).resolve().parents[1]


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def xietong(*argv, fault: str | None = None, wait: bool = True):
    """`python -m xietong.cli ARGV` in its own process (optionally dying at a fault point)."""
    env = {**os.environ, "XIETONG_LANG": "en"}
    env.pop("XIETONG_FAULT", None)
    if fault:
        env["XIETONG_FAULT"] = fault
    cmd = [sys.executable, "-m", "xietong.cli", *map(str, argv)]
    if not wait:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def verified(url: str) -> str:
    code, out, err = cli("verify", "--db", url)
    assert code == 0, err
    return out


@pytest.fixture
def ledgers(tmp_path):
    first = tmp_path / "first.xlsx"
    write_ledger(first, worked_example().build().rows, lang="en")
    rows = worked_example().build().rows
    rows["Departments"][0] = dict(rows["Departments"][0], base_score=Decimal("77"))
    second = tmp_path / "second.xlsx"
    write_ledger(second, rows, lang="en")
    return first, second


def _review_item(tmp_path, url):
    assert cli("report", "--period", PERIOD, "--out", tmp_path / "o", "--db", url, "--format", "json")[0] == 0
    import json
    items = json.loads((tmp_path / "o" / "exceptions.json").read_text("utf-8"))
    return next(e for e in items if e["type"] == "review")


# --------------------------------------------------------------------------- a native crash

def test_engine_segfault_fails_the_evaluation_not_the_database(ledgers, db_url, monkeypatch):
    assert cli("import", ledgers[0], "--period", PERIOD, "--db", db_url)[0] == 0
    before = db_state(db_url)
    monkeypatch.setenv("XIETONG_FAULT", "segv:engine")   # the forked engine child crashes
    code, out, err = cli("evaluate", "--period", PERIOD, "--db", db_url)
    assert code == 1 and out == f"Database: {db_url}\n"
    assert err == ("the evaluation failed and nothing was stored: the rules engine crashed "
                   "(signal SIGSEGV)\n")
    assert db_state(db_url) == before
    monkeypatch.delenv("XIETONG_FAULT")
    code, out, err = cli("evaluate", "--period", PERIOD, "--db", db_url)
    assert code == 0, err
    assert "Audit chain verified" in verified(db_url)


def test_engine_segfault_in_a_real_process(ledgers, db_url):
    assert xietong("import", ledgers[0], "--period", PERIOD, "--db", db_url).returncode == 0
    before = db_state(db_url)
    p = xietong("evaluate", "--period", PERIOD, "--db", db_url, fault="segv:engine")
    assert p.returncode == 1, p.stderr
    assert p.stderr == ("the evaluation failed and nothing was stored: the rules engine crashed "
                        "(signal SIGSEGV)\n")
    assert db_state(db_url) == before


# --------------------------------------------------------------------------- SIGKILL at a point

@pytest.mark.parametrize("point", ["import-rows", "import-commit"])
def test_import_killed_midway(ledgers, db_url, point):
    first, second = ledgers
    assert cli("import", first, "--period", PERIOD, "--db", db_url)[0] == 0
    assert cli("evaluate", "--period", PERIOD, "--db", db_url)[0] == 0
    before = db_content(db_url)
    p = xietong("import", second, "--period", PERIOD, "--db", db_url, fault=f"kill:{point}")
    assert p.returncode == -signal.SIGKILL
    assert db_content(db_url) == before
    verified(db_url)
    p = xietong("import", second, "--period", PERIOD, "--db", db_url)
    assert p.returncode == 0, p.stderr
    assert "It replaces import #1" in p.stdout
    assert "Audit chain verified" in verified(db_url)


@pytest.mark.parametrize("point", ["import-rows", "import-commit", "evaluate-commit"])
def test_run_killed_while_its_evaluation_computes_beside_the_store(ledgers, db_url, tmp_path,
                                                                   monkeypatch, point):
    """`xietong run` starts the evaluation's child before it stores the import
    (api.import_and_evaluate): killed while storing the import, at its commit, or at the run's
    commit, the database is as before (or holds the import alone, once committed) and the
    evaluation's child is gone with it — `run` waits for the command's output to close, which
    the child shares."""
    first, second = ledgers
    monkeypatch.setenv("XIETONG_WORKERS", "2")      # the evaluation started beside the store
    assert cli("run", first, "--period", PERIOD, "--out", tmp_path / "o", "--db", db_url,
               "--format", "json")[0] == 0
    before = db_content(db_url)
    p = xietong("run", second, "--period", PERIOD, "--out", tmp_path / "k", "--db", db_url,
                "--format", "json", fault=f"kill:{point}")
    assert p.returncode == -signal.SIGKILL
    if point == "evaluate-commit":                  # the import had committed: it stays
        assert _count(db_url, "ledger_import") == 2 and _count(db_url, "run") == 1
    else:
        assert db_content(db_url) == before
    verified(db_url)
    p = xietong("run", second, "--period", PERIOD, "--out", tmp_path / "k", "--db", db_url,
                "--format", "json")
    assert p.returncode == 0, p.stderr
    assert _count(db_url, "run") == 2
    assert "Audit chain verified" in verified(db_url)
    _assert_runs_complete(db_url)


def test_evaluate_killed_before_commit(ledgers, db_url):
    assert cli("import", ledgers[0], "--period", PERIOD, "--db", db_url)[0] == 0
    before = db_content(db_url)
    p = xietong("evaluate", "--period", PERIOD, "--db", db_url, fault="kill:evaluate-commit")
    assert p.returncode == -signal.SIGKILL
    assert db_content(db_url) == before
    verified(db_url)
    p = xietong("evaluate", "--period", PERIOD, "--db", db_url)
    assert p.returncode == 0, p.stderr
    assert "run #1," in p.stdout
    assert "Audit chain verified" in verified(db_url)


def test_decisions_killed_before_commit(ledgers, db_url, tmp_path):
    assert cli("run", ledgers[0], "--period", PERIOD, "--out", tmp_path / "o", "--db", db_url,
               "--format", "json")[0] == 0
    item = _review_item(tmp_path, db_url)
    decisions = tmp_path / "d.xlsx"
    write_ledger(decisions, {"Reviews": [{"review_id": item["review_id"], "decision": "confirm",
                                          "reviewer_id": "HR"}]}, lang="en", guide=False)
    before = db_content(db_url)
    p = xietong("decisions", decisions, "--period", PERIOD, "--db", db_url, fault="kill:decisions-commit")
    assert p.returncode == -signal.SIGKILL
    assert db_content(db_url) == before
    p = xietong("decisions", decisions, "--period", PERIOD, "--db", db_url)
    assert p.returncode == 0, p.stderr
    assert "1 decision(s) recorded" in p.stdout
    assert "Audit chain verified" in verified(db_url)


# --------------------------------------------------------------------------- SIGKILL from outside

def test_evaluation_killed_at_random_moments(tmp_path, db_url):
    """A bigger ledger, killed after different delays while it evaluates and stores; each time
    the database verifies and holds no partial run, and the last attempt, left alone, succeeds."""
    from xietong.sample import write_sample_ledger
    ledger = tmp_path / "sample.xlsx"
    write_sample_ledger(ledger, employees=400, period=PERIOD, seed=3, lang="en")
    assert cli("import", ledger, "--period", PERIOD, "--db", db_url)[0] == 0
    t0 = time.monotonic()
    assert cli("evaluate", "--period", PERIOD, "--db", db_url)[0] == 0
    full = time.monotonic() - t0 + 1.0          # the command's own process start adds ~1 s
    rnd = random.Random(20261127)
    runs_before = _count(db_url, "run")
    for delay in sorted(rnd.uniform(0.3, full) for _ in range(3)):
        p = xietong("evaluate", "--period", PERIOD, "--db", db_url, wait=False)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=120)          # the engine child dies with it (PR_SET_PDEATHSIG)
        runs_after = _count(db_url, "run")
        assert runs_after in (runs_before, runs_before + 1)     # finished or nothing
        runs_before = runs_after
        verified(db_url)
        _assert_runs_complete(db_url)
    p = xietong("evaluate", "--period", PERIOD, "--db", db_url)
    assert p.returncode == 0, p.stderr
    assert "Audit chain verified" in verified(db_url)
    _assert_runs_complete(db_url)


def _count(url, table):
    import sqlalchemy as sa
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as c:
        return c.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()


def _assert_runs_complete(url):
    """Every stored run holds exactly the firings, adjustments and exceptions it counts."""
    import json

    import sqlalchemy as sa
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as c:
        for run_id, counts in c.exec_driver_sql("SELECT id, counts FROM run"):
            counts = json.loads(counts)
            for table, key in (("firing", "firings"), ("adjustment", "adjustments"),
                               ("exception_item", "exceptions")):
                n = c.exec_driver_sql(f"SELECT count(*) FROM {table} WHERE run_id = {run_id}").scalar()
                assert n == counts[key], (run_id, table)
