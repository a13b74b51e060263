"""Verifying during a run costs the run, not the history (SPEC §10.8).

A full `verify` that passes writes a chained checkpoint (the link it verified up to, that link's
hash, when). `report` (and so `run`) then verifies only the chain after the checkpoint, plus the
run's own record, its import's record and every row of that import. A change made before the
checkpoint is found by the full verify, not by the incremental one; a change after it by both.
History: the worked example evaluated for 2026-11, a full verify (the checkpoint), then the same
ledger imported and evaluated for 2026-12 — on SQLite and, with XIETONG_TEST_DB, on PostgreSQL.
"""
from __future__ import annotations

import hashlib
import io
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone

import openpyxl
import pytest
import sqlalchemy as sa
from sqlmodel import Session

import xietong
from evaluator import chain
from evaluator.canonical import canonical_json
from evaluator.db import iso_utc, reader
from reports.template import write_ledger
from tests.dbs import postgres_only
from tests.ledgers import PERIOD, worked_example
from xietong.cli import main

LATER = "2026-12"


def sql(url, statement):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as c:
        c.execute(sa.text(statement))
    engine.dispose()


def one(url, statement):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as c:
        value = c.execute(sa.text(statement)).scalar()
    engine.dispose()
    return value


def seq_of(url, rtype, rid):
    return one(url, f"SELECT seq FROM chain_link WHERE record_type = '{rtype}' AND record_id = {rid}")


@contextmanager
def read_only(url):
    """The PostgreSQL database `url` opened by a new role that may only read it (SELECT on
    every table); the role is dropped afterwards."""
    role = f"ro_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with admin.begin() as c:
        c.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        c.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    try:
        with xietong.open_database(sa.engine.make_url(url).set(username=role, password=None)
                                   .render_as_string(hide_password=False)) as ro:
            yield ro
    finally:
        with admin.begin() as c:
            c.exec_driver_sql(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
            c.exec_driver_sql(f"DROP OWNED BY {role}")
            c.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def evaluated_example(db, tmp_path):
    """The worked example's ledger written into tmp_path, imported and evaluated as PERIOD;
    its path (the tests import it again for later periods)."""
    ledger = tmp_path / "ledger.xlsx"
    write_ledger(ledger, worked_example().build().rows, lang="en")
    xietong.import_ledger(db, ledger, PERIOD)
    xietong.evaluate(db, PERIOD)
    return ledger


@pytest.fixture
def history(db_url, tmp_path):
    """(db, url, the link the checkpoint verified up to): 2026-11 evaluated and fully verified
    (run 1, import 1), then 2026-12 imported and evaluated after the checkpoint (run 2, import 2)."""
    with xietong.open_database(db_url) as db:
        ledger = evaluated_example(db, tmp_path)
        full = xietong.verify(db)
        assert full.ok and full.checkpoint_seq == full.head_seq + 1
        xietong.import_ledger(db, ledger, LATER, force=True)
        xietong.evaluate(db, LATER)
        yield db, db_url, full.head_seq


def report_chain(db, period, tmp_path, lang="en"):
    return xietong.report(db, period, tmp_path / f"out-{period}-{lang}", formats=("xlsx",),
                          lang=lang).chain


def trace_chain_cell(path) -> str:
    """The audit chain's status as trace.xlsx's Run sheet shows it."""
    book = openpyxl.load_workbook(path, read_only=True)
    for row in book.worksheets[0].iter_rows(values_only=True):
        if row and row[0] in ("audit chain", "审计链校验"):
            return row[1]
    raise AssertionError("no audit chain row")


def test_a_full_verify_writes_a_chained_checkpoint(db_url, tmp_path):
    with xietong.open_database(db_url) as db:
        evaluated_example(db, tmp_path)
        links = one(db_url, "SELECT count(*) FROM chain_link")
        head = one(db_url, f"SELECT hash FROM chain_link WHERE seq = {links}")
        first = xietong.verify(db)
        assert (first.ok, first.checked, first.head_seq, first.head_hash) == (True, links, links, head)
        assert first.checkpoint_seq == links + 1
        assert one(db_url, "SELECT count(*) FROM checkpoint") == 1
        assert one(db_url, "SELECT seq FROM checkpoint") == links
        assert one(db_url, "SELECT head_hash FROM checkpoint") == head
        assert seq_of(db_url, "checkpoint", 1) == links + 1
        # the checkpoint is a chained record like any other: the next full verify checks it
        second = xietong.verify(db, account="auditor")
        assert (second.ok, second.checked, second.checkpoint_seq) == (True, links + 1, links + 2)
        assert one(db_url, "SELECT account FROM checkpoint WHERE id = 2") == "auditor"
        # a verify of one period checks that period's rows only: it writes no checkpoint
        third = xietong.verify(db, PERIOD)
        assert (third.ok, third.checked, third.checkpoint_seq) == (True, links + 2, 0)
        assert one(db_url, "SELECT count(*) FROM checkpoint") == 2


def test_without_a_checkpoint_the_report_verifies_the_whole_chain(db_url, tmp_path):
    with xietong.open_database(db_url) as db:
        evaluated_example(db, tmp_path)
        links = one(db_url, "SELECT count(*) FROM chain_link")
        status = report_chain(db, PERIOD, tmp_path)
        assert (status.ok, status.checked, status.since_seq, status.since_at) == (True, links, 0, None)
        assert trace_chain_cell(tmp_path / f"out-{PERIOD}-en" / "trace.xlsx") == \
            f"verified: {links} records, no change found"


def test_the_report_verifies_from_the_checkpoint_and_says_so(history, tmp_path):
    db, url, upto = history
    links = one(url, "SELECT count(*) FROM chain_link")
    with db.engine.connect() as c:              # the database's own session (UTC)
        at = c.execute(sa.text("SELECT at FROM checkpoint")).scalar()
    if isinstance(at, datetime):
        at = (at.astimezone(timezone.utc) if at.tzinfo else at).strftime("%Y-%m-%d %H:%M:%S")
    at = at[:19].replace(" ", "T")
    status = report_chain(db, LATER, tmp_path)
    assert (status.ok, status.problem, status.since_seq) == (True, None, upto)
    assert status.checked == links - upto           # the checkpoint's link and all of 2026-12
    assert status.since_at.isoformat(timespec="seconds") == at + "+00:00"
    assert trace_chain_cell(tmp_path / f"out-{LATER}-en" / "trace.xlsx") == (
        f"verified: full up to link {upto} at {at}+00:00, incremental since: {links - upto} later "
        "record(s) and every row of the run's ledger, no change found")
    report_chain(db, LATER, tmp_path, lang="zh")
    assert trace_chain_cell(tmp_path / f"out-{LATER}-zh" / "trace.xlsx") == (
        f"通过：截至第 {upto} 条已于 {at}+00:00 完整校验，其后增量校验 {links - upto} 条后续记录及"
        "本次运行所用台账的每一行，未发现篡改")
    # the command's summary says it too, in the report's language
    code, out, err = cli("report", "--period", LATER, "--out", tmp_path / "cli", "--db", url,
                         "--format", "xlsx,html", "--lang", "en")
    assert code == 0, err
    assert (f"audit chain verified (full up to link {upto} at {at}+00:00, incremental since)"
            in out), out
    html = (tmp_path / "cli" / "trace.html").read_text("utf-8")
    assert f"full up to link {upto} at {at}+00:00, incremental since: {links - upto}" in html


def test_a_change_before_the_checkpoint_is_found_by_the_full_verify_only(history, tmp_path):
    db, url, upto = history
    sql(url, "UPDATE adjustment SET explanation = explanation || ' (edited)' WHERE id = 1")
    seq = seq_of(url, "adjustment", 1)
    assert seq < upto
    assert report_chain(db, LATER, tmp_path).ok
    assert report_chain(db, PERIOD, tmp_path).ok       # the run's own rows are its import's
    full = xietong.verify(db)
    assert (full.ok, full.problem, full.checkpoint_seq) == (
        False, f"adjustment 1 (chain link {seq}) was changed", 0)


def test_a_change_after_the_checkpoint_is_found_by_the_report(history, tmp_path):
    db, url, upto = history
    rid = one(url, "SELECT min(id) FROM adjustment WHERE run_id = 2")
    sql(url, f"UPDATE adjustment SET explanation = explanation || ' (edited)' WHERE id = {rid}")
    seq = seq_of(url, "adjustment", rid)
    assert seq > upto
    for period in (LATER, PERIOD):                   # whichever run is reported
        status = report_chain(db, period, tmp_path)
        assert (status.ok, status.problem) == (False, f"adjustment {rid} (chain link {seq}) was changed")
    status = report_chain(db, LATER, tmp_path, lang="zh")
    assert status.problem == f"调整 {rid}（审计链第 {seq} 条）已被改动"
    assert not xietong.verify(db).ok


def test_the_rows_of_the_runs_import_are_checked_wherever_it_is(history, tmp_path):
    db, url, upto = history
    assert seq_of(url, "import", 1) < upto
    sql(url, "UPDATE ledger_departments SET name = 'Renamed' WHERE import_id = 1 AND row = 2")
    status = report_chain(db, PERIOD, tmp_path)       # run 1 used import 1
    assert (status.ok, status.problem) == (False, "import 1: Departments row 2 was changed")
    assert report_chain(db, LATER, tmp_path).ok        # run 2 used import 2, untouched
    assert xietong.verify(db).problem == "import 1: Departments row 2 was changed"


def test_the_runs_import_record_itself_is_checked(history, tmp_path):
    db, url, upto = history
    sql(url, "UPDATE ledger_import SET file_name = 'other.xlsx' WHERE id = 1")
    seq = seq_of(url, "import", 1)
    status = report_chain(db, PERIOD, tmp_path)
    assert (status.ok, status.problem) == (False, f"import 1 (chain link {seq}) was changed")


def test_a_record_inserted_after_the_checkpoint_is_found(history, tmp_path):
    db, url, upto = history
    sql(url, 'INSERT INTO period_event (id, period, action, reason, "by", at, open_reviews) '
             "VALUES (77, '2026-12', 'close', NULL, 'someone', '2026-12-01 00:00:00', 0)")
    status = report_chain(db, LATER, tmp_path)
    assert (status.ok, status.problem) == (False, "period_event 77 is not in the chain (inserted)")


def test_a_changed_checkpoint_is_found(history, tmp_path):
    db, url, upto = history
    links = one(url, "SELECT count(*) FROM chain_link")
    # moving the checkpoint to the head would leave nothing to verify: its own link says no
    sql(url, f"UPDATE checkpoint SET seq = {links}")
    status = report_chain(db, LATER, tmp_path)
    assert (status.ok, status.problem) == (
        False, f"checkpoint 1 (chain link {upto + 1}) was changed")


def test_a_checkpoint_whose_link_was_rewritten_is_found(history, tmp_path):
    db, url, upto = history
    sql(url, f"UPDATE chain_link SET hash = '{'0' * 64}' WHERE seq = {upto}")
    status = report_chain(db, LATER, tmp_path)
    assert (status.ok, status.problem) == (
        False, f"checkpoint 1: chain link {upto}, up to which it verified the chain, is missing or "
               "was changed (run a full verify)")


def test_verify_since_without_a_run_checks_the_chain_after_the_checkpoint(history):
    db, url, upto = history
    links = one(url, "SELECT count(*) FROM chain_link")
    with Session(reader(db.engine)) as s, s.begin():
        result = chain.verify_since(s)
    assert (result.ok, result.checked, result.head_seq, result.since_seq) == (
        True, links - upto, links, upto)


def test_the_verify_command_names_the_checkpoint(history):
    db, url, upto = history
    links = one(url, "SELECT count(*) FROM chain_link")
    code, out, err = cli("verify", "--db", url, "--lang", "en")
    assert code == 0, err
    assert out.splitlines()[-1] == (f"Checkpoint written (chain link {links + 1}): full "
                                    f"verification up to link {links}; runs and reports verify "
                                    "incrementally from there.")
    code, out, err = cli("verify", "--db", url, "--lang", "zh")
    assert out.splitlines()[-1] == (f"已写入检查点（审计链第 {links + 2} 条）：完整校验截至第 {links + 1} 条；"
                                    "此后的运行与报告从此处起增量校验。")


def test_a_database_from_before_checkpoints_verifies_and_gets_them(db_url, tmp_path):
    """An older database has no checkpoint table: opening it adds the table, its records
    verify as before (their hashes never included anything of checkpoints)."""
    with xietong.open_database(db_url) as db:
        evaluated_example(db, tmp_path)
    links = one(db_url, "SELECT count(*) FROM chain_link")
    sql(db_url, "DROP TABLE checkpoint")
    with xietong.open_database(db_url) as db:
        status = report_chain(db, PERIOD, tmp_path)
        assert (status.ok, status.checked, status.since_seq) == (True, links, 0)
        result = xietong.verify(db)
        assert (result.ok, result.checked, result.checkpoint_seq) == (True, links, links + 1)


@postgres_only
def test_a_read_only_account_verifies_without_writing_a_checkpoint(history):
    db, url, upto = history
    with read_only(url) as ro:
        links = one(url, "SELECT count(*) FROM chain_link")
        result = xietong.verify(ro)
        ro.close()
        assert (result.ok, result.checked, result.checkpoint_seq) == (True, links, 0)
        assert "permission denied" in result.checkpoint_error
        assert one(url, "SELECT count(*) FROM checkpoint") == 1


# --------------------------------------------------------------------------- a run's checkpoint
# `xietong run` and the desk's evaluation report with checkpoint=True: a chain check that passed
# and covered what a full verify would have past the newest checkpoint (every link after it,
# the rows of every import linked there) is itself written as a checkpoint, with the run's id.

LATEST = "2027-01"


def run_report(db, period, tmp_path, lang="en"):
    """What `xietong run` reports: the trace (so the chain check) and the checkpoint."""
    return xietong.report(db, period, tmp_path / f"run-{period}-{lang}", formats=("xlsx",),
                          lang=lang, checkpoint=True)


@pytest.fixture
def run_history(db_url, tmp_path):
    """(db, url, ledger, the link the first run's check reached): 2026-11 imported, evaluated
    and reported as `xietong run` does — no verify ever — then 2026-12 imported and evaluated
    (run 2, import 2) after the checkpoint that check wrote (checkpoint 1, run_id 1)."""
    with xietong.open_database(db_url) as db:
        ledger = evaluated_example(db, tmp_path)
        links = one(db_url, "SELECT count(*) FROM chain_link")
        first = run_report(db, PERIOD, tmp_path)
        # no checkpoint before it: the check walked the whole chain, and every import's rows
        assert (first.chain.ok, first.chain.checked, first.chain.since_seq) == (True, links, 0)
        assert first.checkpoint_seq == links + 1 and first.checkpoint_error is None
        xietong.import_ledger(db, ledger, LATER, force=True)
        xietong.evaluate(db, LATER)
        yield db, db_url, ledger, links


def test_a_run_writes_a_checkpoint_of_its_check_and_the_next_run_starts_there(run_history, tmp_path):
    db, url, ledger, upto = run_history
    assert one(url, "SELECT count(*) FROM checkpoint") == 1
    assert one(url, "SELECT seq FROM checkpoint") == upto
    assert one(url, "SELECT head_hash FROM checkpoint") == one(
        url, f"SELECT hash FROM chain_link WHERE seq = {upto}")
    assert (one(url, "SELECT run_id FROM checkpoint"), one(url, "SELECT account FROM checkpoint")) \
        == (1, None)
    assert seq_of(url, "checkpoint", 1) == upto + 1
    links = one(url, "SELECT count(*) FROM chain_link")
    second = run_report(db, LATER, tmp_path)
    # the second month's check starts at the first run's checkpoint, and says whose it was
    assert (second.chain.ok, second.chain.since_seq, second.chain.since_run) == (True, upto, 1)
    assert second.chain.checked == links - upto     # the checkpoint's link and all of 2026-12
    assert second.checkpoint_seq == links + 1
    assert (one(url, "SELECT seq FROM checkpoint WHERE id = 2"),
            one(url, "SELECT run_id FROM checkpoint WHERE id = 2")) == (links, 2)
    at = second.chain.since_at.isoformat(timespec="seconds")
    assert trace_chain_cell(tmp_path / f"run-{LATER}-en" / "trace.xlsx") == (
        f"verified: up to link {upto} at {at} (checkpoint of run 1's check), incremental since: "
        f"{links - upto} later record(s) and every row of the run's ledger, no change found")
    # a report alone never writes one (a report must not change a database) …
    status = report_chain(db, LATER, tmp_path, lang="zh")
    assert (status.ok, status.since_seq, status.since_run, status.checked) == (True, links, 2, 1)
    assert trace_chain_cell(tmp_path / f"out-{LATER}-zh" / "trace.xlsx") == (
        f"通过：截至第 {links} 条已于 {status.since_at.isoformat(timespec='seconds')} 校验（运行记录 #2 "
        "校验时写入的检查点），其后增量校验 1 条后续记录及本次运行所用台账的每一行，未发现篡改")
    assert one(url, "SELECT count(*) FROM checkpoint") == 2
    # … and a full verify of it all passes, its checkpoint again without a run
    full = xietong.verify(db)
    assert (full.ok, full.checked, full.checkpoint_seq) == (True, links + 1, links + 2)
    assert one(url, "SELECT run_id FROM checkpoint WHERE id = 3") is None


def test_the_run_command_writes_the_checkpoint_and_says_so(db_url, tmp_path):
    ledger = tmp_path / "ledger.xlsx"
    write_ledger(ledger, worked_example().build().rows, lang="en")
    code, out, err = cli("run", ledger, "--period", PERIOD, "--out", tmp_path / "o", "--db",
                         db_url, "--format", "xlsx", "--lang", "en")
    assert code == 0, err
    links = one(db_url, "SELECT count(*) FROM chain_link")
    assert out.splitlines()[-1] == (f"Checkpoint written (chain link {links}): the chain check "
                                    "passed; the next run verifies incrementally from there.")
    assert (one(db_url, "SELECT seq FROM checkpoint"), one(db_url, "SELECT run_id FROM checkpoint")
            ) == (links - 1, 1)
    code, out, err = cli("run", ledger, "--period", LATER, "--out", tmp_path / "o2", "--db",
                         db_url, "--format", "xlsx", "--lang", "zh", "--force")
    assert code == 0, err
    assert f"审计链校验通过（截至第 {links - 1} 条于 " in out and \
        "校验，为运行记录 #1 校验时写入的检查点，其后为增量校验）" in out, out
    assert out.splitlines()[-1] == (f"已写入检查点（审计链第 {one(db_url, 'SELECT count(*) FROM chain_link')} "
                                    "条）：审计链校验通过，下次运行从此处起增量校验。")
    # the report command alone writes none
    before = one(db_url, "SELECT count(*) FROM chain_link")
    code, out, err = cli("report", "--period", LATER, "--out", tmp_path / "o3", "--db", db_url,
                         "--format", "xlsx", "--lang", "en")
    assert code == 0, err
    assert "Checkpoint" not in out
    assert one(db_url, "SELECT count(*) FROM chain_link") == before


def test_a_change_after_a_runs_checkpoint_is_found_by_the_next_run(run_history, tmp_path):
    db, url, ledger, upto = run_history
    rid = one(url, "SELECT min(id) FROM adjustment WHERE run_id = 2")
    sql(url, f"UPDATE adjustment SET explanation = explanation || ' (edited)' WHERE id = {rid}")
    seq = seq_of(url, "adjustment", rid)
    assert seq > upto
    second = run_report(db, LATER, tmp_path)
    assert (second.chain.ok, second.chain.problem, second.chain.since_seq) == (
        False, f"adjustment {rid} (chain link {seq}) was changed", upto)
    # a check that failed writes no checkpoint: the next one starts from the same place
    assert (second.checkpoint_seq, second.checkpoint_error) == (0, None)
    assert one(url, "SELECT count(*) FROM checkpoint") == 1
    assert run_report(db, LATER, tmp_path).chain.since_seq == upto


def test_another_periods_import_after_the_checkpoint_is_checked_before_a_checkpoint(run_history,
                                                                                   tmp_path):
    db, url, ledger, upto = run_history
    # 2027-01's ledger imported early (import 3), after the first run's checkpoint
    xietong.import_ledger(db, ledger, LATEST, force=True)
    assert seq_of(url, "import", 3) > upto
    sql(url, "UPDATE ledger_departments SET name = 'Renamed' WHERE import_id = 3 AND row = 2")
    # the report of 2026-12 alone checks its period's rows: import 3 is not among them …
    assert report_chain(db, LATER, tmp_path).ok
    # … but the run's check, which would write the next checkpoint, checks every import's rows
    # linked after the checkpoint, as a full verify would: it fails and writes none
    second = run_report(db, LATER, tmp_path)
    assert (second.chain.ok, second.chain.problem, second.checkpoint_seq) == (
        False, "import 3: Departments row 2 was changed", 0)
    assert one(url, "SELECT count(*) FROM checkpoint") == 1
    assert xietong.verify(db).problem == "import 3: Departments row 2 was changed"


def test_a_change_before_a_runs_checkpoint_is_found_by_the_full_verify_only(run_history, tmp_path):
    db, url, ledger, upto = run_history
    sql(url, "UPDATE adjustment SET explanation = explanation || ' (edited)' WHERE id = 1")
    seq = seq_of(url, "adjustment", 1)
    assert seq < upto
    second = run_report(db, LATER, tmp_path)
    assert second.chain.ok and second.checkpoint_seq     # the run's check starts after it
    full = xietong.verify(db)
    assert (full.ok, full.problem, full.checkpoint_seq) == (
        False, f"adjustment 1 (chain link {seq}) was changed", 0)


def test_checkpoint_hashes_name_the_run_only_when_there_is_one(run_history, tmp_path):
    """A full verify's checkpoint hashes as every checkpoint did before runs wrote them (its
    content without run_id); a run's includes its run_id, so moving it to another run is found."""
    db, url, ledger, upto = run_history
    full = xietong.verify(db)
    assert full.ok
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as c:
        rows = c.execute(sa.text("SELECT * FROM checkpoint ORDER BY id")).mappings().all()
        links = {r.record_id: r for r in c.execute(sa.text(
            "SELECT record_id, prev_hash, hash FROM chain_link WHERE record_type = 'checkpoint'"))}
    engine.dispose()

    def old_rule(row, **extra):        # the content a checkpoint had before run_id existed
        at = row["at"]              # SQLite's driver hands the stored text back
        content = {"seq": row["seq"], "head_hash": row["head_hash"],
                   "record_ids": row["record_ids"],
                   "at": iso_utc(datetime.fromisoformat(at) if isinstance(at, str) else at)}
        return hashlib.sha256((links[row["id"]].prev_hash + canonical_json({**content, **extra}))
                              .encode("utf-8")).hexdigest()

    run_cp, verify_cp = rows
    assert (run_cp["run_id"], verify_cp["run_id"]) == (1, None)
    assert old_rule(verify_cp) == links[verify_cp["id"]].hash
    assert old_rule(run_cp, run_id=1) == links[run_cp["id"]].hash
    sql(url, "UPDATE checkpoint SET run_id = 2 WHERE id = 1")
    assert xietong.verify(db).problem == f"checkpoint 1 (chain link {upto + 1}) was changed"


def test_a_runs_report_stands_when_the_checkpoint_cannot_be_written(run_history, tmp_path):
    """A read-only account (here: SQLite's query_only on every connection of the database):
    the report and its check stand, the checkpoint is not written and the result says why."""
    db, url, ledger, upto = run_history
    if not url.startswith("sqlite"):
        pytest.skip("PostgreSQL: test_a_read_only_account_runs_report_without_a_checkpoint")
    db.engine.dispose()
    sa.event.listen(db.engine, "connect",
                    lambda conn, _: conn.execute("PRAGMA query_only = ON"))
    before = one(url, "SELECT count(*) FROM chain_link")
    second = run_report(db, LATER, tmp_path)
    assert (second.chain.ok, second.chain.since_seq, second.checkpoint_seq) == (True, upto, 0)
    assert "readonly" in second.checkpoint_error, second.checkpoint_error
    assert (tmp_path / f"run-{LATER}-en" / "trace.xlsx").exists()
    assert one(url, "SELECT count(*) FROM chain_link") == before
    from xietong.i18n import report_summary
    assert report_summary(second)[-1] == (
        f"No checkpoint was written ({second.checkpoint_error}): the next run still verifies "
        "from the previous one; the reports stand.")


@postgres_only
def test_a_read_only_account_runs_report_without_a_checkpoint(run_history, tmp_path):
    db, url, ledger, upto = run_history
    with read_only(url) as ro:
        second = run_report(ro, LATER, tmp_path)
        ro.close()
        assert (second.chain.ok, second.chain.since_seq, second.checkpoint_seq) == (True, upto, 0)
        assert "permission denied" in second.checkpoint_error
        assert one(url, "SELECT count(*) FROM checkpoint") == 1
