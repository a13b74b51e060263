"""Tamper evidence (SPEC §6): `xietong verify` exits 1 naming the first bad record for every
change, deletion, insertion or reordering of a stored firing, adjustment, exception, decision or
imported ledger row, made behind the tool's back with plain SQL.

The database is built once (the worked example run, two decisions, a second run) and copied for
each case, on SQLite and, with XIETONG_TEST_DB, on PostgreSQL.
"""
from __future__ import annotations

import io
import json

import pytest
import sqlalchemy as sa

from xietong.cli import main
from evaluator.db import Adjustment, Decision, ExceptionItem, Firing
from reports.template import write_ledger
from tests.dbs import ON_POSTGRES, clone_database, create_database, drop_database
from tests.ledgers import PERIOD, worked_example

FAILED = "Audit chain verification FAILED: "


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tamper")
    url = create_database() if ON_POSTGRES else f"sqlite:///{tmp / 'pristine.db'}"
    ledger = tmp / "ledger.xlsx"
    write_ledger(ledger, worked_example().build().rows, lang="en")
    assert cli("run", ledger, "--period", PERIOD, "--out", tmp / "o", "--db", url, "--format", "json")[0] == 0
    items = [e for e in json.loads((tmp / "o" / "exceptions.json").read_text("utf-8"))
             if e["type"] == "review"]
    decisions = tmp / "decisions.xlsx"
    write_ledger(decisions, {"Reviews": [
        {"review_id": items[0]["review_id"], "decision": "confirm", "reviewer_id": "HR"},
        {"review_id": items[1]["review_id"], "decision": "overturn", "reviewer_id": "HR"}]},
        lang="en", guide=False)
    assert cli("decisions", decisions, "--period", PERIOD, "--db", url)[0] == 0
    assert cli("evaluate", "--period", PERIOD, "--db", url)[0] == 0
    # a verify of the period passes and, unlike a verify of the whole database, writes no
    # checkpoint (SPEC §10.8): the chain's tail stays the second run's records
    assert cli("verify", "--period", PERIOD, "--db", url)[0] == 0
    yield url
    if ON_POSTGRES:
        drop_database(url)


@pytest.fixture
def db(pristine, tmp_path):
    url = clone_database(pristine, tmp_path / "x.db")
    yield url
    if ON_POSTGRES:
        drop_database(url)


def sql(url, *statements):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as c:
        return [c.execute(sa.text(s)) for s in statements][-1]


def one(url, statement):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as c:
        return c.execute(sa.text(statement)).scalar()


def seq_of(url, rtype, rid):
    return one(url, f"SELECT seq FROM chain_link WHERE record_type = '{rtype}' AND record_id = {rid}")


def failure(url) -> str:
    code, out, err = cli("verify", "--db", url)
    assert code == 1 and out == f"Database: {url}\n", (out, err)
    assert err.startswith(FAILED) and err.endswith("\n") and err.count("\n") == 1, err
    return err[len(FAILED):-1]


RECORDS = {                     # record type: (table, model, a column to change and its new value)
    "firing": ("firing", Firing, "rule", "'behaviour.forged'"),
    "adjustment": ("adjustment", Adjustment, "points", "'99.99'"),
    "exception": ("exception_item", ExceptionItem, "status", "'confirmed'"),
    "decision": ("decision", Decision, "comment", "'forged'"),
}


def _ids(url, table):
    return [r for (r,) in sa.create_engine(url, poolclass=sa.pool.NullPool).connect().execute(
        sa.text(f"SELECT id FROM {table} ORDER BY id"))]


@pytest.mark.parametrize("rtype", sorted(RECORDS))
def test_changed_record(db, rtype):
    table, _, column, value = RECORDS[rtype]
    rid = _ids(db, table)[1]
    sql(db, f"UPDATE {table} SET {column} = {value} WHERE id = {rid}")
    assert failure(db) == f"{rtype} {rid} (chain link {seq_of(db, rtype, rid)}) was changed"


@pytest.mark.parametrize("column, value", [("outcome", "' ' || outcome"), ("sources", "sources || ' '")])
def test_changed_firing_text(db, column, value):
    """A firing's chained content is its stored JSON text, not the value it reads as: the same
    value spelled differently is a change."""
    rid = _ids(db, "firing")[1]
    sql(db, f"UPDATE firing SET {column} = {value} WHERE id = {rid}")
    assert failure(db) == f"firing {rid} (chain link {seq_of(db, 'firing', rid)}) was changed"


@pytest.mark.parametrize("rtype", sorted(RECORDS))
def test_deleted_record(db, rtype):
    table = RECORDS[rtype][0]
    rid = _ids(db, table)[1]
    seq = seq_of(db, rtype, rid)
    sql(db, f"DELETE FROM {table} WHERE id = {rid}")
    assert failure(db) == f"{rtype} {rid} (chain link {seq}) is missing"


@pytest.mark.parametrize("rtype", sorted(RECORDS))
def test_deleted_record_with_its_link(db, rtype):
    table = RECORDS[rtype][0]
    rid = _ids(db, table)[1]
    seq = seq_of(db, rtype, rid)
    sql(db, f"DELETE FROM {table} WHERE id = {rid}",
        f"DELETE FROM chain_link WHERE seq = {seq}")
    assert failure(db).startswith(f"chain link {seq} is missing (next is {seq + 1}: ")


def test_deleted_newest_records_with_their_links(db):
    # the chain's tail: no gap is left, but the run's chained counts tell
    last_run = max(_ids(db, "run"))
    n = one(db, f"SELECT count(*) FROM exception_item WHERE run_id = {last_run}")
    top = max(_ids(db, "exception_item"))
    sql(db, f"DELETE FROM exception_item WHERE id = {top}",
        f"DELETE FROM chain_link WHERE record_type = 'exception' AND record_id = {top}")
    assert failure(db) == (f"run {last_run}: {n - 1} exceptions in the chain, its record says {n} "
                           "(the last ones were deleted)")


@pytest.mark.parametrize("rtype", sorted(RECORDS))
def test_inserted_record(db, rtype):
    table, model, _, _ = RECORDS[rtype]
    source = _ids(db, table)[0]
    cols = ", ".join(c.name for c in model.__table__.columns if c.name != "id")
    new = max(_ids(db, table)) + 1000
    sql(db, f"INSERT INTO {table} (id, {cols}) SELECT {new}, {cols} FROM {table} WHERE id = {source}")
    assert failure(db) == f"{rtype} {new} is not in the chain (inserted)"


@pytest.mark.parametrize("rtype", sorted(RECORDS))
def test_reordered_records(db, rtype):
    table = RECORDS[rtype][0]
    a, b = _ids(db, table)[:2]
    sql(db, f"UPDATE {table} SET id = -1 WHERE id = {a}",
        f"UPDATE {table} SET id = {a} WHERE id = {b}",
        f"UPDATE {table} SET id = {b} WHERE id = -1")
    assert failure(db) == f"{rtype} {a} (chain link {seq_of(db, rtype, a)}) was changed"


@pytest.mark.parametrize("rtype", sorted(RECORDS))
def test_reordered_links(db, rtype):
    table = RECORDS[rtype][0]
    a, b = _ids(db, table)[:2]
    sa_, sb = seq_of(db, rtype, a), seq_of(db, rtype, b)
    sql(db, f"UPDATE chain_link SET seq = -1 WHERE seq = {sa_}",
        f"UPDATE chain_link SET seq = {sa_} WHERE seq = {sb}",
        f"UPDATE chain_link SET seq = {sb} WHERE seq = -1")
    assert failure(db) == f"chain link {sa_} ({rtype} {b}) does not follow link {sa_ - 1}"


# --------------------------------------------------------------------------- imported ledger rows
# InternalRatings holds the worked example's ratings R1-R3 on Excel rows 2, 3 and 4.
ROWS = "ledger_internal_ratings"


def _pk(url, row):
    return one(url, f"SELECT pk FROM {ROWS} WHERE row = {row}")


def test_changed_ledger_row(db):
    sql(db, f"UPDATE {ROWS} SET score = '1' WHERE row = 3")
    assert failure(db) == "import 1: InternalRatings row 3 was changed"


def test_deleted_ledger_row(db):
    sql(db, f"DELETE FROM {ROWS} WHERE row = 3")
    assert failure(db) == "import 1: InternalRatings row 4: a row before it (after row 2) was deleted"


def test_deleted_last_ledger_row(db):
    sql(db, f"DELETE FROM {ROWS} WHERE row = 4")
    assert failure(db) == ("import 1: InternalRatings holds 2 row(s), 3 imported "
                           "(rows after row 3 were deleted)")


def test_inserted_ledger_row(db):
    cols = ", ".join(c for c in ("import_id", "row_hash", "rating_id", "rater_id", "ratee_dept_id",
                                 "dimension", "score", "comment"))
    sql(db, f"INSERT INTO {ROWS} (pk, row, {cols}) SELECT pk + 1000, 5, {cols} FROM {ROWS} WHERE row = 3")
    assert failure(db) == "import 1: InternalRatings row 5 was inserted, or a row before it (after row 4) was"


def test_reordered_ledger_rows(db):
    a, b = _pk(db, 2), _pk(db, 3)
    sql(db, f"UPDATE {ROWS} SET pk = -1 WHERE pk = {a}",
        f"UPDATE {ROWS} SET pk = {a} WHERE pk = {b}",
        f"UPDATE {ROWS} SET pk = {b} WHERE pk = -1")
    assert failure(db) == "import 1: InternalRatings row 3 is out of order (row 2 comes after it)"


def test_changed_run_record(db):
    sql(db, "UPDATE run SET policy_sha256 = 'forged' WHERE id = 1")
    assert failure(db) == f"run 1 (chain link {seq_of(db, 'run', 1)}) was changed"


def test_untouched_database_verifies_and_names_its_head(db):
    head = one(db, "SELECT max(seq) FROM chain_link")
    h = one(db, f"SELECT hash FROM chain_link WHERE seq = {head}")
    code, out, err = cli("verify", "--db", db)
    assert code == 0, err
    assert out.splitlines() == [f"Database: {db}",
                                f"Audit chain verified: {head} records, no change found.",
                                f"Chain head: link {head}, sha256 {h} (note it down: a later verify "
                                "must reach it).",
                                f"Checkpoint written (chain link {head + 1}): full verification up "
                                f"to link {head}; runs and reports verify incrementally from there."]


def test_a_report_over_reordered_firings_is_written_in_the_order_stored(db, tmp_path):
    """Two firings of the latest run given each other's ids: the report is written all the
    same — the firings read in the order stored (evaluator.runs._firings_query: id order, which
    a run stores in seq order), each with its own seq — and its chain status names the record
    changed, as verify does."""
    run = one(db, "SELECT max(id) FROM run")
    a = one(db, f"SELECT min(id) FROM firing WHERE run_id = {run}")
    b = one(db, f"SELECT min(id) FROM firing WHERE run_id = {run} AND id > {a}")
    seq_a, seq_b = (one(db, f"SELECT seq FROM firing WHERE id = {i}") for i in (a, b))
    sql(db, f"UPDATE firing SET id = -1 WHERE id = {a}",
        f"UPDATE firing SET id = {a} WHERE id = {b}",
        f"UPDATE firing SET id = {b} WHERE id = -1")
    code, out, err = cli("report", "--period", PERIOD, "--db", db, "--out", tmp_path / "r",
                         "--format", "json,html", "--lang", "en")
    assert "Traceback" not in err
    trace = json.loads((tmp_path / "r" / "trace.json").read_text("utf-8"))
    assert [f["seq"] for f in trace[:3]] == [seq_b, seq_a, seq_b + 1]
    page = (tmp_path / "r" / "trace.html").read_text("utf-8")
    assert f"firing {a} (chain link {seq_of(db, 'firing', a)}) was changed" in page
    assert code == 0, (out, err)
