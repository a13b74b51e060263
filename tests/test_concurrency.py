"""Concurrent commands on one database (SQLite file, or PostgreSQL with XIETONG_TEST_DB): writers
take the database's single write lock when their transaction begins (BEGIN IMMEDIATE / an
advisory lock, evaluator/db.py), so two commands for different periods both succeed, two for the
same period both succeed one after the other, and the chain stays contiguous and verifies.

The commands run as real processes started together; what they prove does not depend on how
they happen to overlap. The deterministic cases (an evaluation whose period changes while it
computes; a writer that waits too long) are driven from inside.
"""
from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from evaluator import runs
from xietong.cli import main
from evaluator.db import make_engine
from evaluator.store import store_import
from importers import read_ledger
from xietong.sample import write_sample_ledger
from rules.policy import load_policy
from tests.ledgers import PERIOD, worked_example
from reports.template import write_ledger

ROOT = Path(__file__).resolve().parents[1]


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def start(*argv, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "xietong.cli", *map(str, argv)], cwd=ROOT,
                            env={**os.environ, "XIETONG_LANG": "en", **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(*procs: subprocess.Popen) -> list[tuple[int, str, str]]:
    out = []
    for p in procs:
        o, e = p.communicate(timeout=300)
        out.append((p.returncode, o, e))
    return out


def query(url: str, sql: str):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as c:
        return [tuple(r) for r in c.exec_driver_sql(sql)]


def verified(url: str) -> None:
    code, out, err = cli("verify", "--db", url)
    assert code == 0, err
    seqs = [s for (s,) in query(url, "SELECT seq FROM chain_link ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))


def test_two_periods_at_once(tmp_path, db_url):
    a, b = tmp_path / "oct.xlsx", tmp_path / "nov.xlsx"
    write_sample_ledger(a, employees=150, period="2026-10", seed=1, lang="en")
    write_sample_ledger(b, employees=150, period="2026-11", seed=2, lang="en")
    make_engine(db_url).dispose()                 # tables exist before the race (verify makes none)
    results = finish(start("run", a, "--period", "2026-10", "--out", tmp_path / "o10", "--db", db_url,
                           "--format", "json"),
                     start("run", b, "--period", "2026-11", "--out", tmp_path / "o11", "--db", db_url,
                           "--format", "json"))
    for code, out, err in results:
        assert code == 0, err
    assert query(db_url, "SELECT period, count(*) FROM run GROUP BY period ORDER BY period") == [
        ("2026-10", 1), ("2026-11", 1)]
    verified(db_url)
    for period, folder in (("2026-10", "o10"), ("2026-11", "o11")):
        scores = json.loads((tmp_path / folder / "scores.json").read_text("utf-8"))
        assert scores["period"] == period and scores["departments"]


def test_fresh_database_raced_by_two_commands(tmp_path, db_url):
    """Both create the tables at once (PostgreSQL: serialised by the write lock)."""
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    write_ledger(a, worked_example().build().rows, lang="en")
    write_ledger(b, worked_example().build().rows, lang="zh")
    results = finish(start("import", a, "--period", "2026-10", "--db", db_url),
                     start("import", b, "--period", "2026-11", "--db", db_url))
    for code, out, err in results:
        assert code == 0, err
    verified(db_url)


def test_a_new_database_file_waits_for_the_command_creating_it(tmp_path):
    """The state strace showed when one of two commands started on a new database failed at
    once: the other holds the write lock of the still-empty file while it switches it to WAL.
    SQLite then fails the switch without calling the busy handler; the command must wait for
    the lock instead (evaluator.db._switch_to_wal)."""
    path = tmp_path / "x.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")             # the write lock of the empty file, held
    plain = sqlite3.connect(path, isolation_level=None)
    plain.execute("PRAGMA busy_timeout=60000")
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        plain.execute("PRAGMA journal_mode=WAL")  # at once, in spite of the busy timeout
    plain.close()
    released = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    released.start()
    engine = make_engine(f"sqlite:///{path}")     # waits for the commit, then switches
    released.join()
    holder.close()
    assert query(f"sqlite:///{path}", "PRAGMA journal_mode") == [("wal",)]
    assert ("chain_link",) in query(f"sqlite:///{path}", "SELECT name FROM sqlite_master")
    engine.dispose()


def test_same_period_at_once(tmp_path, db_url):
    first, second = tmp_path / "first.xlsx", tmp_path / "second.xlsx"
    write_sample_ledger(first, employees=150, period=PERIOD, seed=1, lang="en")
    write_sample_ledger(second, employees=150, period=PERIOD, seed=2, lang="en")
    assert cli("import", first, "--period", PERIOD, "--db", db_url)[0] == 0
    # two evaluations of one period: both stored, one after the other, never interleaved
    for code, out, err in finish(start("evaluate", "--period", PERIOD, "--db", db_url),
                                 start("evaluate", "--period", PERIOD, "--db", db_url)):
        assert code == 0, err
    assert [n for (n,) in query(db_url, "SELECT count(*) FROM run")] == [2]
    verified(db_url)
    # two imports of one period: both stored; the later one to commit is active
    for code, out, err in finish(start("import", second, "--period", PERIOD, "--db", db_url),
                                 start("import", first, "--period", PERIOD, "--db", db_url)):
        assert code == 0, err
    assert query(db_url, "SELECT count(*) FROM ledger_import WHERE active") == [(1,)]
    verified(db_url)
    # runs, firings and links of each run are contiguous blocks of the chain
    for (run_id,) in query(db_url, "SELECT id FROM run"):
        seqs = [s for (s,) in query(db_url, "SELECT l.seq FROM chain_link l JOIN firing f ON "
                                            "l.record_type = 'firing' AND l.record_id = f.id "
                                            f"WHERE f.run_id = {run_id} ORDER BY l.seq")]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_evaluation_notices_an_import_committed_while_it_computed(tmp_path, db_url, monkeypatch):
    engine = make_engine(db_url)
    builder = worked_example()
    store_import(engine, builder.build(), PERIOD)
    path = tmp_path / "second.xlsx"
    rows = worked_example().build().rows
    rows["Departments"][0] = dict(rows["Departments"][0], name="销售一部")
    write_ledger(path, rows, lang="en")
    second = read_ledger(path)
    real, calls = runs.Started.outcome, []

    def racing(self):
        calls.append(self.inputs.import_id)
        if len(calls) == 1:                       # another command commits meanwhile
            store_import(make_engine(db_url), second, PERIOD)
        return real(self)

    monkeypatch.setattr(runs.Started, "outcome", racing)
    outcome = runs.evaluate_period(engine, PERIOD, load_policy())
    assert calls == [1, 2]                        # computed again on the new import
    assert outcome.run.import_id == 2
    with Session(engine) as s:
        from evaluator.chain import verify
        assert verify(s).ok


def test_a_writer_that_waits_too_long_gets_a_clear_message(tmp_path, db_url):
    ledger = tmp_path / "l.xlsx"
    write_ledger(ledger, worked_example().build().rows, lang="en")
    engine = make_engine(db_url)
    with Session(engine) as holder, holder.begin():
        holder.connection()                       # the write lock, held
        p = start("import", ledger, "--period", PERIOD, "--db", db_url, env={"XIETONG_LOCK_TIMEOUT": "1"})
        [(code, out, err)] = finish(p)
    assert code == 1 and out == ""
    assert "is busy: another xietong command has held its write lock for over 1 s. Nothing was stored" in err
    assert "Traceback" not in err
    assert cli("import", ledger, "--period", PERIOD, "--db", db_url)[0] == 0
    verified(db_url)


def test_verify_reads_one_snapshot_while_another_command_commits(db_url, monkeypatch):
    from evaluator import chain
    from evaluator.db import reader
    engine = make_engine(db_url)
    store_import(engine, worked_example().build(), PERIOD)
    real_get, done = chain._Records.get, []

    def get(self, record_id):
        if not done:                              # verify has read the links: now commit more
            done.append(store_import(make_engine(db_url), worked_example().build(), "2026-12"))
        return real_get(self, record_id)

    monkeypatch.setattr(chain._Records, "get", get)
    with Session(reader(engine)) as s, s.begin():
        result = chain.verify(s)
    assert done and result.ok and result.checked == 2, result
    monkeypatch.undo()
    with Session(reader(engine)) as s, s.begin():
        assert chain.verify(s).checked == 4


def test_unreachable_database_is_a_message_not_a_traceback(tmp_path):
    code, out, err = cli("verify", "--db", "postgresql+psycopg://xietong:secret@127.0.0.1:1/nothing")
    assert code == 1 and out == ""
    assert err.startswith("the database postgresql+psycopg://xietong:***@127.0.0.1:1/nothing cannot be "
                          "used: ") and err.rstrip().endswith("Nothing was stored.")
    assert "secret" not in err and "Traceback" not in err
