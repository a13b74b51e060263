"""A report's chain check run in a process of its own (evaluator.chain_apart) says what the
check in the report's process says, to the letter: the same result, problem and head, the same
status in trace.xlsx and trace.html (written last, once the check is done), the same
checkpoint. A check apart that fails in any way is made in the report's process instead; a
report that fails stops its check. On SQLite and, with XIETONG_TEST_DB, on PostgreSQL.

The expected texts and counts are those of tests/test_checkpoints.py's history, worked out
there by hand: here the check apart must give them too."""
from __future__ import annotations

import json
import re

import pytest
from sqlmodel import Session

from evaluator import chain_apart
from evaluator.db import ROW_TABLES, reader
from tests.test_checkpoints import (LATER, one, run_report, run_history, seq_of, sql,  # noqa: F401
                                    trace_chain_cell)


@pytest.fixture
def apart(monkeypatch):
    """Every report's check goes apart, however small; the list of the checks started."""
    started = []

    class Counted(chain_apart.ApartCheck):
        def __init__(self, *args):
            super().__init__(*args)
            started.append(self)

    monkeypatch.setattr(chain_apart, "APART_MIN", 0)
    monkeypatch.setattr(chain_apart, "ApartCheck", Counted)
    monkeypatch.setenv("XIETONG_WORKERS", "2")
    return started


def both_checks(db, period, run_id, checkpoint):
    """(the check in this process, the check apart) of the database as it is now."""
    with Session(reader(db.engine)) as s, s.begin():
        here = chain_apart.check(s, period, run_id, checkpoint)
    there = chain_apart.ApartCheck(db.engine.url.render_as_string(hide_password=False), period,
                                   run_id, checkpoint).result()
    return here, there


def test_the_check_apart_is_the_check_here(run_history):
    db, url, ledger, upto = run_history
    links = one(url, "SELECT count(*) FROM chain_link")
    here, there = both_checks(db, LATER, 2, True)
    assert there == here
    result, head = there
    assert (result.ok, result.checked, result.since_seq, result.since_run) == (
        True, links - upto, upto, 1)
    assert head == one(url, f"SELECT hash FROM chain_link WHERE seq = {links}")
    assert result.record_ids["run"] == 2 and result.since_at is not None
    # a changed record after the checkpoint: the same problem, in both languages
    rid = one(url, "SELECT min(id) FROM adjustment WHERE run_id = 2")
    sql(url, f"UPDATE adjustment SET explanation = explanation || ' (edited)' WHERE id = {rid}")
    here, there = both_checks(db, LATER, 2, True)
    assert there == here
    seq = seq_of(url, "adjustment", rid)
    assert there[0].ok is False
    assert there[0].problem.en == f"adjustment {rid} (chain link {seq}) was changed"
    assert there[0].problem.zh == f"调整 {rid}（审计链第 {seq} 条）已被改动"


def test_a_runs_report_checks_apart_and_writes_the_same_checkpoint(run_history, apart, tmp_path):
    db, url, ledger, upto = run_history
    links = one(url, "SELECT count(*) FROM chain_link")
    second = run_report(db, LATER, tmp_path)
    assert len(apart) == 1                       # its check went apart
    assert (second.chain.ok, second.chain.since_seq, second.chain.since_run,
            second.chain.checked) == (True, upto, 1, links - upto)
    assert second.chain.head == one(url, f"SELECT hash FROM chain_link WHERE seq = {links}")
    assert second.checkpoint_seq == links + 1
    assert (one(url, "SELECT seq FROM checkpoint WHERE id = 2"),
            one(url, "SELECT run_id FROM checkpoint WHERE id = 2")) == (links, 2)
    at = second.chain.since_at.isoformat(timespec="seconds")
    status = (f"verified: up to link {upto} at {at} (checkpoint of run 1's check), incremental "
              f"since: {links - upto} later record(s) and every row of the run's ledger, no "
              "change found")
    out = tmp_path / f"run-{LATER}-en"
    # the Run sheet, laid out after the firings, reads as any other sheet (read-only mode
    # trusts the sheet's dimension)
    assert trace_chain_cell(out / "trace.xlsx") == status
    from python_calamine import CalamineWorkbook
    import zipfile
    with zipfile.ZipFile(out / "trace.xlsx") as z:
        assert z.namelist()[-1] == "xl/worksheets/sheet1.xml"       # the Run sheet, last
    shown = dict(CalamineWorkbook.from_path(out / "trace.xlsx").get_sheet_by_index(0)
                 .to_python()[1:])
    assert (shown["audit chain"], shown["latest chain hash"]) == (status, second.chain.head)
    html_report = xietong_report(db, LATER, tmp_path / "html")
    assert len(apart) == 2
    page = (tmp_path / "html" / "trace.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>',
                                page, re.S).group(1))
    assert list(data)[-1] == "run"               # the run's table last: written when known
    run_table = {k: v for k, v, _ in data["run"]}
    assert run_table["audit chain"] == (
        f"verified: up to link {links} at "
        f"{html_report.chain.since_at.isoformat(timespec='seconds')} (checkpoint of run 2's "
        "check), incremental since: 1 later record(s) and every row of the run's ledger, no "
        "change found")
    assert run_table["latest chain hash"] == html_report.chain.head


def xietong_report(db, period, out):
    import xietong
    return xietong.report(db, period, out, formats=("html",), lang="en")


def test_a_check_apart_that_fails_is_made_here(run_history, apart, tmp_path, monkeypatch):
    db, url, ledger, upto = run_history
    rid = one(url, "SELECT min(id) FROM adjustment WHERE run_id = 2")
    sql(url, f"UPDATE adjustment SET explanation = explanation || ' (edited)' WHERE id = {rid}")
    # the child cannot even start Python: the report checks in its own process
    monkeypatch.setattr(chain_apart.sys, "executable", "/bin/false")
    second = run_report(db, LATER, tmp_path)
    assert len(apart) == 1 and apart[0]._child.returncode == 1
    seq = seq_of(url, "adjustment", rid)
    assert (second.chain.ok, second.chain.problem, second.chain.since_seq) == (
        False, f"adjustment {rid} (chain link {seq}) was changed", upto)
    assert (second.checkpoint_seq, one(url, "SELECT count(*) FROM checkpoint")) == (0, 1)
    assert trace_chain_cell(tmp_path / f"run-{LATER}-en" / "trace.xlsx") == (
        f"FAILED: adjustment {rid} (chain link {seq}) was changed")


def test_a_check_apart_that_cannot_start_is_made_here(run_history, apart, tmp_path,
                                                      monkeypatch):
    db, url, ledger, upto = run_history
    links = one(url, "SELECT count(*) FROM chain_link")
    monkeypatch.setattr(chain_apart.sys, "executable", str(tmp_path / "no-such-python"))
    second = run_report(db, LATER, tmp_path)
    assert apart == []                                      # none could start
    assert (second.chain.ok, second.chain.since_seq, second.chain.checked,
            second.checkpoint_seq) == (True, upto, links - upto, links + 1)


def test_a_report_that_fails_stops_its_check(run_history, apart, tmp_path, monkeypatch):
    db, url, ledger, upto = run_history
    from reports import trace

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(trace, "write_both", broken)
    with pytest.raises(OSError):
        run_report(db, LATER, tmp_path)
    assert len(apart) == 1
    assert apart[0]._child.returncode is not None          # ended and reaped
    assert one(url, "SELECT count(*) FROM checkpoint") == 1


def test_a_small_check_or_a_database_in_memory_stays_here(run_history):
    db, url, ledger, upto = run_history
    with Session(reader(db.engine)) as s, s.begin():
        # what the check reads: the links after the checkpoint and the run's import's rows
        rows = sum(one(url, f"SELECT count(*) FROM {t.name} WHERE import_id = 2")
                   for t in ROW_TABLES.values())
        links = one(url, "SELECT count(*) FROM chain_link")
        assert chain_apart._size(s, 2) == links - upto + rows
        assert chain_apart.start(db.engine, s, LATER, 2, True) is None     # far below APART_MIN
    import sqlalchemy as sa
    memory = sa.create_engine("sqlite://")
    with Session(reader(db.engine)) as s, s.begin():
        chain_apart_min = chain_apart.APART_MIN
        try:
            chain_apart.APART_MIN = 0
            assert chain_apart.start(memory, s, LATER, 2, True) is None
        finally:
            chain_apart.APART_MIN = chain_apart_min
