"""Storing imports: typed rows round-trip exactly, re-imports, activation switches, and the
audit chain's verification of imports (SPEC §3, §6)."""
import os
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from evaluator.chain import verify
from evaluator.db import ROW_TABLES, ImportActivation, LedgerImport, make_engine
from importers.spool import SpoolClosed
import evaluator.store
from evaluator.store import StoreFailed, active_import, load_rows, store_import
from importers.spooled import SpooledRows, close_spooled
from importers.result import Ledger
from importers.schema import SHEET_BY_NAME, SHEETS
from tests.test_spool import open_under, tmpdir_only  # noqa: F401 - tmpdir_only is a fixture


def _ledger(sha: str, base: str = "70", extra_behaviour: bool = False) -> Ledger:
    rows = {s.name: [] for s in SHEETS}
    rows["Departments"] = [
        {"row": 2, "dept_id": "D1", "name": "销售部", "tier": "front", "manager_id": "E1",
         "base_score": Decimal(base)},
        {"row": 3, "dept_id": "D2", "name": "IT", "tier": "back", "manager_id": None,
         "base_score": Decimal("88.125")},
    ]
    rows["Employees"] = [
        {"row": 2, "employee_id": "E1", "name": "张三", "dept_id": "D1", "manager_id": None,
         "base_score": None},
        {"row": 4, "employee_id": "1001", "name": "李四", "dept_id": "D2", "manager_id": "E1",
         "base_score": Decimal("0.1")},
    ]
    rows["Behaviours"] = [
        {"row": 2, "event_id": "B1", "date": date(2026, 11, 3), "employee_id": "1001",
         "behaviour_code": "LEAD", "points": Decimal("2"), "proposer_id": "E1",
         "project_id": None, "evidence": "OA-1", "note": "=HYPERLINK(\"x\")"},
    ]
    if extra_behaviour:
        rows["Behaviours"].append(dict(rows["Behaviours"][0], row=3, event_id="B2"))
    return Ledger(file_name="ledger.xlsx", sha256=sha, rows=rows, lang="zh")


@pytest.mark.parametrize("apart", [False, True], ids=["rows made here", "rows made apart"])
def test_rows_round_trip_exactly(new_db, monkeypatch, apart):
    """Also when the rows to store are made in a process of their own (evaluator.store's
    ROWS_APART_MIN lowered, two workers): values converted there, inserted here."""
    if apart:
        monkeypatch.setattr(evaluator.store, "ROWS_APART_MIN", 0)
        monkeypatch.setenv("XIETONG_WORKERS", "2")
    engine = make_engine(new_db())
    ledger = _ledger("a" * 64)
    outcome = store_import(engine, ledger, "2026-11")
    assert outcome.status == "stored"
    assert outcome.rows_per_sheet["Departments"] == 2
    assert outcome.rows_per_sheet["Behaviours"] == 1
    with Session(engine) as s:
        back = load_rows(s, outcome.import_id)
    assert back["Departments"] == ledger.rows["Departments"]
    assert back["Employees"] == ledger.rows["Employees"]
    assert back["Behaviours"] == ledger.rows["Behaviours"]
    assert isinstance(back["Departments"][1]["base_score"], Decimal)
    assert str(back["Departments"][1]["base_score"]) == "88.125"


def test_spooled_sheets_give_the_same_rows_from_a_file_each_time(new_db, tmpdir_only):
    """A sheet read into a file (SpooledRows, what the evaluation reads) gives the rows load_rows
    gives, in Excel-row order, as often as it is iterated; its row numbers and a chosen few
    without the others; its file is unnamed and gone once closed."""
    engine = make_engine(new_db())
    ledger = _ledger("a" * 64, extra_behaviour=True)
    ledger.rows["Behaviours"].append(dict(ledger.rows["Behaviours"][0], row=9, event_id="B9",
                                          points=Decimal("-1.50"), note="😀 =1+1"))
    import_id = store_import(engine, ledger, "2026-11").import_id
    with Session(engine) as s:
        held = load_rows(s, import_id)
        spooled = load_rows(s, import_id, spooled={"Behaviours", "InternalRatings"})
    got = spooled["Behaviours"]
    assert isinstance(got, SpooledRows) and len(got) == 3
    assert spooled["Employees"] == held["Employees"] == ledger.rows["Employees"]
    for _ in range(2):
        assert list(got) == held["Behaviours"] == ledger.rows["Behaviours"]
    assert [str(r["points"]) for r in got] == ["2", "2", "-1.50"]    # as written
    assert list(got.row_numbers()) == [2, 3, 9]
    assert [r["event_id"] for r in got.numbered(lambda row: row != 3)] == ["B1", "B9"]
    assert len(spooled["InternalRatings"]) == 0 and list(spooled["InternalRatings"]) == []
    assert len([f for f in open_under(tmpdir_only) if f.endswith("(deleted)")]) == 2
    close_spooled(spooled)
    assert open_under(tmpdir_only) == [] and os.listdir(tmpdir_only) == []
    with pytest.raises(SpoolClosed):
        list(got)


def test_reimport_same_file_changes_nothing(db_url):
    engine = make_engine(db_url)
    first = store_import(engine, _ledger("a" * 64), "2026-11")
    with Session(engine) as s:
        links_before = s.exec(select(sa.func.count()).select_from(ImportActivation)).one()
    again = store_import(engine, _ledger("a" * 64), "2026-11")
    assert again.status == "unchanged"
    assert again.import_id == first.import_id
    with Session(engine) as s:
        assert s.exec(select(sa.func.count()).select_from(LedgerImport)).one() == 1
        assert s.exec(select(sa.func.count()).select_from(ImportActivation)).one() == links_before


def test_other_file_becomes_active_and_earlier_stays(new_db):
    engine = make_engine(new_db())
    a = store_import(engine, _ledger("a" * 64), "2026-11")
    b = store_import(engine, _ledger("b" * 64, base="75"), "2026-11")
    assert b.status == "stored" and b.previous_import_id == a.import_id
    with Session(engine) as s:
        assert active_import(s, "2026-11").id == b.import_id
        assert s.exec(select(sa.func.count()).select_from(LedgerImport)).one() == 2
    # the earlier file imported again becomes active again, without storing its rows twice
    again = store_import(engine, _ledger("a" * 64), "2026-11")
    assert again.status == "reactivated" and again.import_id == a.import_id
    with Session(engine) as s:
        assert active_import(s, "2026-11").id == a.import_id
        n_rows = s.connection().execute(
            sa.select(sa.func.count()).select_from(ROW_TABLES["Departments"])).scalar()
        assert n_rows == 4
        acts = s.exec(select(ImportActivation).order_by(ImportActivation.id)).all()
        assert [(x.import_id, x.previous_import_id) for x in acts] == [
            (a.import_id, None), (b.import_id, a.import_id), (a.import_id, b.import_id)]
        assert verify(s).ok


def test_periods_are_independent(new_db):
    engine = make_engine(new_db())
    a = store_import(engine, _ledger("a" * 64), "2026-11")
    b = store_import(engine, _ledger("a" * 64), "2026-12")
    assert b.status == "stored" and b.import_id != a.import_id
    with Session(engine) as s:
        assert active_import(s, "2026-11").id == a.import_id
        assert active_import(s, "2026-12").id == b.import_id


def test_verify_names_changed_row(new_db):
    engine = make_engine(new_db())
    out = store_import(engine, _ledger("a" * 64, extra_behaviour=True), "2026-11")
    with Session(engine) as s:
        assert verify(s).ok
        assert verify(s).checked == 2       # the import and its activation
    t = ROW_TABLES["Behaviours"]
    with engine.begin() as c:
        c.execute(t.update().where(t.c.event_id == "B2").values(points="3"))
    with Session(engine) as s:
        r = verify(s)
    assert not r.ok
    assert r.problem.en == f"import {out.import_id}: Behaviours row 3 was changed"
    assert r.problem.zh == f"导入记录 {out.import_id}：协同行为 第 3 行已被改动"


def test_verify_detects_deleted_row_and_changed_import(new_db):
    engine = make_engine(new_db())
    out = store_import(engine, _ledger("a" * 64, extra_behaviour=True), "2026-11")
    t = ROW_TABLES["Behaviours"]
    with engine.begin() as c:
        c.execute(t.delete().where(t.c.event_id == "B2"))
    with Session(engine) as s:
        assert verify(s).problem.en == (f"import {out.import_id}: Behaviours holds 1 row(s), 2 imported "
                                     "(rows after row 2 were deleted)")
    engine2 = make_engine(new_db())
    out2 = store_import(engine2, _ledger("a" * 64), "2026-11")
    with engine2.begin() as c:
        c.execute(sa.text("UPDATE ledger_import SET file_name = 'other.xlsx'"))
    with Session(engine2) as s:
        assert verify(s).problem.en == f"import {out2.import_id} (chain link 1) was changed"


def test_loaded_rows_share_equal_texts_but_keep_each_number_as_written(new_db):
    """load_rows makes one object of equal texts (a million ratings name a few departments);
    numbers are shared by their stored text only: 2, 2.0 and 2.00 stay three values."""
    engine = make_engine(new_db())
    ledger = _ledger("c" * 64)
    first = ledger.rows["Behaviours"][0]
    ledger.rows["Behaviours"] = [
        dict(first, row=2 + i, event_id=f"B{i}", points=Decimal(points),
             proposer_id="".join(["E", "1"]))        # a new str object each row
        for i, points in enumerate(["2", "2.0", "2.00", "2.0"])]
    outcome = store_import(engine, ledger, "2026-11")
    with Session(engine) as s:
        back = load_rows(s, outcome.import_id)["Behaviours"]
    assert [str(r["points"]) for r in back] == ["2", "2.0", "2.00", "2.0"]
    if engine.dialect.name == "sqlite":       # PostgreSQL's driver hands Decimals back itself
        assert back[1]["points"] is back[3]["points"]
    assert back[0]["proposer_id"] is back[1]["proposer_id"] is back[3]["proposer_id"] == "E1"
    assert back[0]["event_id"] == "B0" and back[3]["event_id"] == "B3"
    assert back == ledger.rows["Behaviours"]


def test_loaded_rows_are_plain_dicts_that_share_their_keys(new_db):
    """A sheet's loaded rows are dicts in column order, equal to what was stored and mutable
    like any dict, that share one table of keys: they hold less than the same dicts built anew
    (load_rows holds 117 MB less at 100,000 employees)."""
    import tracemalloc
    engine = make_engine(new_db())
    ledger = _ledger("d" * 64)
    first = ledger.rows["Behaviours"][0]
    ledger.rows["Behaviours"] = [dict(first, row=2 + i, event_id=f"B{i}") for i in range(2000)]
    outcome = store_import(engine, ledger, "2026-11")
    with Session(engine) as s:
        tracing = tracemalloc.is_tracing()           # (under -X tracemalloc: left on)
        if not tracing:
            tracemalloc.start()
        try:
            back = load_rows(s, outcome.import_id)
            rows = back.pop("Behaviours")
            before = tracemalloc.get_traced_memory()[0]
            anew = [{k: v for k, v in r.items()} for r in rows]
            plain = tracemalloc.get_traced_memory()[0] - before
            held = tracemalloc.get_traced_memory()[0]
            del rows                                  # their values stay: `anew` holds them
            loaded = held - tracemalloc.get_traced_memory()[0]
        finally:
            if not tracing:
                tracemalloc.stop()
    assert anew == ledger.rows["Behaviours"]
    assert loaded < 0.75 * plain, (loaded, plain)
    for sheet in ("Departments", "Employees"):
        for row, want in zip(back[sheet], ledger.rows[sheet], strict=True):
            assert type(row) is dict and row == want
            assert list(row) == ["row", *(c.name for c in SHEET_BY_NAME[sheet].columns)]
    row = back["Employees"][1]
    row["name"] = "changed"
    row["added"] = 1
    assert row["name"] == "changed" and row["added"] == 1 and back["Employees"][0]["name"] == "张三"


@pytest.mark.parametrize("how", ["killed", "raises"])
def test_an_import_whose_rows_maker_fails_stores_nothing(new_db, monkeypatch, how):
    """The process making the rows to store (ROWS_APART_MIN lowered, two workers) killed, or
    raising: StoreFailed saying so, and the database as it was (here: a first import, so no
    import at all)."""
    from tests.dbs import db_state
    monkeypatch.setattr(evaluator.store, "ROWS_APART_MIN", 0)
    monkeypatch.setenv("XIETONG_WORKERS", "2")
    url = new_db()
    engine = make_engine(url)
    store_import(engine, _ledger("a" * 64), "2026-10")
    before = db_state(url)
    if how == "killed":
        monkeypatch.setenv("XIETONG_FAULT", "kill:import-made")
        expected = r"^signal SIGKILL$"
    else:
        def failing(rows, imp_id, puts):
            raise OSError("the ledger's file went away")
            yield
        monkeypatch.setattr(evaluator.store, "_made_rows", failing)
        expected = r"^OSError: the ledger's file went away$"
    with pytest.raises(StoreFailed, match=expected) as e:
        store_import(engine, _ledger("b" * 64), "2026-11")
    assert e.value.crashed is (how == "killed")
    assert db_state(url) == before
