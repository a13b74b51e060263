"""A sheet's rows held by column (importers/columns.py): read back, they are the dicts they
were — same keys in the same order, same values, the same objects — indexed, sliced, iterated
and compared as the list of those dicts; each read is the reader's own dict; what the database
gives by column is what it gives as dicts; and the rules find the same people in columns as in
a list of rows."""
from __future__ import annotations

import pickle
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session

from evaluator.db import make_engine
from evaluator.store import load_rows, sharing_values, store_import
from importers.columns import (ColumnLookup, ColumnRows, in_order, lookup, rows_by,
                               sorted_rows)
from importers.schema import SHEET_BY_NAME, SHEETS
from tests.test_store import _ledger

KEYS = ("row", "employee_id", "name", "dept_id", "manager_id", "base_score")
ROWS = [
    {"row": 2, "employee_id": "E1", "name": "张三", "dept_id": "D1", "manager_id": None,
     "base_score": None},
    {"row": 4, "employee_id": "1001", "name": "李四 ", "dept_id": "D2", "manager_id": "E1",
     "base_score": Decimal("0.10")},
    {"row": 7, "employee_id": "E3", "name": "=1+1", "dept_id": "D1", "manager_id": "E1",
     "base_score": Decimal("88")},
]


def test_rows_read_back_as_the_dicts_they_were():
    held = ColumnRows(KEYS, ROWS)
    assert len(held) == 3
    assert list(held) == ROWS
    assert [list(r) for r in held] == [list(KEYS)] * 3          # the keys, in their order
    assert held[1] == ROWS[1] and held[-1] == ROWS[2]
    assert held[1]["base_score"] is ROWS[1]["base_score"]      # the same objects
    assert str(held[1]["base_score"]) == "0.10"
    assert held[1:] == ROWS[1:] and held[::-2] == [ROWS[2], ROWS[0]]
    with pytest.raises(IndexError):
        held[3]
    assert held == ROWS and ROWS == held and held != ROWS[:2]
    assert held != [dict(ROWS[0], name="张三 ")] + ROWS[1:]
    assert [r["row"] for r in held] == [2, 4, 7]
    assert not ColumnRows(KEYS) and len(ColumnRows(KEYS)) == 0


def test_a_row_read_is_the_readers_own():
    held = ColumnRows(KEYS, ROWS)
    row = held[0]
    row["name"] = "王五"
    row["extra"] = 1
    assert held[0] == ROWS[0]
    assert held[0] is not held[0]


def test_a_row_is_taken_by_its_keys_whatever_their_order():
    held = ColumnRows(KEYS, [dict(reversed(list(ROWS[1].items())))])
    assert list(held) == [ROWS[1]]
    assert list(held[0]) == list(KEYS)
    with pytest.raises(ValueError):
        ColumnRows(KEYS, [dict(ROWS[0], extra=1)])            # a key more than the sheet's
    with pytest.raises(KeyError):
        ColumnRows(KEYS, [{**{k: v for k, v in ROWS[0].items() if k != "name"}, "nom": "x"}])


def test_held_rows_pickle_as_themselves():
    back = pickle.loads(pickle.dumps(ColumnRows(KEYS, ROWS)))
    assert isinstance(back, ColumnRows) and back == ROWS


def test_records_give_the_same_rows_their_shared_values_one_object():
    records = [tuple(r.values()) for r in ROWS]
    # equal texts made afresh, as a database driver returns them
    records[2] = (7, "E3", "=1+1", "".join(["D", "1"]), "".join(["E", "1"]), Decimal("88"))
    assert records[2][3] is not records[0][3]
    held = ColumnRows.from_records(KEYS, records, shared=("dept_id", "manager_id"))
    assert held == ROWS
    assert held[2]["dept_id"] is held[0]["dept_id"]
    assert held[2]["manager_id"] is held[1]["manager_id"]
    unshared = ColumnRows.from_records(KEYS, records)
    assert unshared[2]["dept_id"] is not unshared[0]["dept_id"]


texts = st.one_of(st.none(), st.text(max_size=6))
values = st.one_of(texts, st.decimals(allow_nan=False, places=2), st.dates(), st.integers())


@given(st.lists(st.tuples(st.integers(min_value=2, max_value=10**6), texts, values),
                max_size=40))
def test_any_rows_are_the_list_they_were(records):
    keys = ("row", "a", "b")
    rows = [dict(zip(keys, r)) for r in records]
    held = ColumnRows(keys, rows)
    assert held == rows and list(held) == rows and len(held) == len(rows)
    assert [held[i] for i in range(-len(rows), len(rows))] == rows + rows
    assert ColumnRows.from_records(keys, records, shared=("a", "b")) == rows


def test_the_database_gives_by_column_what_it_gives_as_dicts(new_db):
    engine = make_engine(new_db())
    ledger = _ledger("c" * 64)
    ledger.rows["Employees"].append({"row": 5, "employee_id": "E9", "name": "赵六",
                                     "dept_id": "D1", "manager_id": "E1", "base_score": None})
    imported = store_import(engine, ledger, "2026-11").import_id
    with Session(engine) as s:
        as_dicts = load_rows(s, imported)
        by_column = load_rows(s, imported, spooled=("Behaviours",), by_column=True)
    try:
        assert list(by_column) == [s.name for s in SHEETS]
        for sheet in SHEETS:
            if sheet.name == "Behaviours":
                continue
            assert isinstance(by_column[sheet.name], ColumnRows), sheet.name
            assert by_column[sheet.name] == as_dicts[sheet.name], sheet.name
        assert by_column["Employees"] == ledger.rows["Employees"]
        assert list(by_column["Behaviours"]) == [
            dict(ledger.rows["Behaviours"][0], date=date(2026, 11, 3))]
        # the departments the employees name: one object (the key column is left as it came)
        employees = by_column["Employees"]
        assert employees[2]["dept_id"] is employees[0]["dept_id"]
    finally:
        by_column["Behaviours"].close()


def test_rows_added_by_column_and_a_column_read_as_held():
    held = ColumnRows(KEYS, ROWS[:1])
    held.extend_columns([range(4, 8, 3), ["1001", "E3"], ["李四 ", "=1+1"], ["D2", "D1"],
                         ["E1", "E1"], [Decimal("0.10"), Decimal("88")]])
    assert held == ROWS
    assert list(held.column("row")) == [2, 4, 7]
    assert held.column("employee_id") == ["E1", "1001", "E3"]
    assert held.column("base_score") == [None, Decimal("0.10"), Decimal("88")]
    for wrong in ([[9], ["E9"]], [[9], ["E9"], ["x"], ["D1"], [None], []]):
        with pytest.raises(ValueError):
            held.extend_columns(wrong)
        assert held == ROWS                             # nothing half-added


def test_rows_by_a_key_and_in_its_order():
    held = ColumnRows(KEYS, ROWS)
    by_id = held.by("employee_id")
    assert len(by_id) == 3 and list(by_id) == ["E1", "1001", "E3"]
    assert by_id["1001"] == ROWS[1] and by_id.get("E3") == ROWS[2]
    assert by_id.get("E9") is None and by_id.get("E9", 0) == 0
    assert "E1" in by_id and "E9" not in by_id
    with pytest.raises(KeyError):
        by_id["E9"]
    assert dict(by_id) == {r["employee_id"]: r for r in ROWS}
    # a value met twice: the last row with it, as a dict built from the rows keeps
    assert held.by("dept_id")["D1"] == ROWS[2]
    # "1001" < "E1" < "E3"; D1 (rows 2 and 7, in their order) before D2
    assert list(held.sorted_by("employee_id")) == [ROWS[1], ROWS[0], ROWS[2]]
    assert list(held.sorted_by("dept_id")) == [ROWS[0], ROWS[2], ROWS[1]]
    # positions in order: nothing held when the values are in order already
    assert in_order(["A", "B", "B", "C"]) == range(4) and in_order([]) == range(0)
    assert list(in_order(["b", "a", "b", "a"])) == [1, 3, 0, 2]
    with pytest.raises(TypeError):
        in_order(["a", 1])



def test_rows_by_a_key_and_in_its_order_held_or_listed():
    held = ColumnRows(KEYS, ROWS)
    # held by column: looked up and ordered in the columns, as ColumnRows.by and sorted_by
    assert not isinstance(rows_by(held, "employee_id"), dict)
    assert rows_by(held, "employee_id")["E3"] == ROWS[2]
    assert rows_by(held, "dept_id")["D1"] == ROWS[2]          # met twice: the last row
    # a list of dicts: the dict of them, and sorted
    assert rows_by(ROWS, "employee_id") == {"E1": ROWS[0], "1001": ROWS[1], "E3": ROWS[2]}
    assert rows_by(ROWS, "dept_id") == {"D1": ROWS[2], "D2": ROWS[1]}
    # "1001" < "E1" < "E3"; D1 (rows 2 and 7, in their order) before D2
    for rows in (held, ROWS):
        assert list(sorted_rows(rows, "employee_id")) == [ROWS[1], ROWS[0], ROWS[2]]
        assert list(sorted_rows(rows, "dept_id")) == [ROWS[0], ROWS[2], ROWS[1]]

def test_one_column_looked_up_by_another_in_order_or_not():
    held = ColumnRows(KEYS, ROWS)                   # ids "E1", "1001", "E3": not in order
    dept = held.lookup("employee_id", "dept_id")
    assert isinstance(dept, ColumnLookup)
    assert [dept.get(e) for e in ("E1", "1001", "E3")] == ["D1", "D2", "D1"]
    assert dept.get("E2") is None and dept.get("E9", "?") == "?" and dept.get("") is None
    assert "1001" in dept and "E2" not in dept and "0" not in dept and "F" not in dept
    # a key of another type than the column's: not there, as in a dict
    assert dept.get(1001) is None and dept.get(None) is None and 1001 not in dept
    # a value left empty is found as it is
    assert held.lookup("employee_id", "manager_id").get("E1") is None
    assert held.lookup("employee_id", "manager_id").get("E3") == "E1"
    # ids in order: the column itself is searched
    ordered = ColumnRows(KEYS, [dict(r, employee_id=e) for r, e in zip(ROWS, ("A", "B", "C"))])
    names = ordered.lookup("employee_id", "name")
    assert [names.get(e) for e in "ABC"] == ["张三", "李四 ", "=1+1"]
    assert names.get("0") is None and names.get("AB") is None and names.get("D") is None
    # a key met twice: the last row's value, as a dict built from the rows keeps; in order
    # or not
    assert held.lookup("dept_id", "employee_id").get("D1") == "E3"
    twice = ColumnRows(KEYS, [dict(ROWS[0], dept_id="D2"), ROWS[1], dict(ROWS[2], dept_id="D2")])
    assert twice.lookup("dept_id", "employee_id").get("D2") == "E3"
    # keys that do not compare with each other
    mixed = ColumnRows(("row", "k", "v"), [{"row": 2, "k": "b", "v": 1},
                                           {"row": 3, "k": 7, "v": 2}])
    assert mixed.lookup("k", "v").get(7) == 2 and mixed.lookup("k", "v").get("b") == 1
    assert mixed.lookup("k", "v").get("a") is None
    # rows held as a list: a dict of the same
    assert lookup(ROWS, "employee_id", "name") == {"E1": "张三", "1001": "李四 ", "E3": "=1+1"}
    assert lookup(held, "employee_id", "name").get("E3") == "=1+1"


@given(st.lists(st.tuples(st.text(alphabet="AB1", max_size=3), st.integers()), max_size=30),
       st.text(alphabet="AB1", max_size=3))
def test_a_lookup_is_the_dict_built_from_the_rows(pairs, absent):
    keys = ("row", "k", "v")
    rows = [{"row": i + 2, "k": k, "v": v} for i, (k, v) in enumerate(pairs)]
    as_dict = {r["k"]: r["v"] for r in rows}
    found = ColumnRows(keys, rows).lookup("k", "v")
    assert all(found.get(k) == v for k, v in as_dict.items())
    assert found.get(absent, "none") == as_dict.get(absent, "none")
    assert (absent in found) == (absent in as_dict)
    # the rows by the key: the dict of them, its keys where first met
    by = ColumnRows(keys, rows).by("k")
    assert dict(by) == {r["k"]: r for r in rows} and list(by) == list(as_dict)
    assert len(by) == len(as_dict) and by.get(absent) == {r["k"]: r for r in rows}.get(absent)


def test_the_company_looks_its_people_up_in_the_columns():
    from rules.company import Company
    from rules.finals import finals
    lists = {"Employees": ROWS, "Departments": [], "Projects": []}
    columns = {"Employees": ColumnRows(KEYS, ROWS), "Departments": [], "Projects": []}
    a, b = Company.from_rows(lists), Company.from_rows(columns)
    assert not isinstance(b.employees, dict)                 # looked up, not a dict of rows
    for who in ("E1", "1001", "E3", "E9"):
        assert b.employees.get(who) == a.employees.get(who)
        assert b.ancestors(who) == a.ancestors(who)
    assert b.ancestors("E3") == ("E1",) and b.dept_of("1001") == "D2"
    assert finals(columns, []) == finals(lists, [])
    assert [e["employee_id"] for e in finals(columns, [])["employees"]] == ["1001", "E1", "E3"]


def test_an_imported_master_sheet_holds_equal_texts_as_one_object(tmp_path):
    """The import's Employees rows (what `xietong run` evaluates and reports from): the
    departments and managers its rows repeat are one object each, the keys and the numbers
    as typed, every row the same."""
    from importers import read_ledger
    from reports.template import write_ledger
    from tests.ledgers import worked_example
    builder = worked_example()
    rows = builder.build().rows
    path = tmp_path / "l.xlsx"
    write_ledger(path, rows, lang="en")
    ledger = read_ledger(path)
    try:
        employees = ledger.rows["Employees"]
        assert isinstance(employees, ColumnRows)
        by_dept: dict = {}
        for r in employees:
            by_dept.setdefault(r["dept_id"], []).append(r["dept_id"])
        repeated = [ids for ids in by_dept.values() if len(ids) > 1]
        assert repeated                                  # the worked example repeats some
        for ids in repeated:
            assert all(x is ids[0] for x in ids)
        assert list(employees) == rows["Employees"]     # the rows as written
        shared = SHEET_BY_NAME["Employees"].shared_columns()
        assert "dept_id" in shared and "manager_id" in shared
        assert "base_score" in shared and "employee_id" not in shared
        scores = employees.column("base_score")
        by_value = {}
        for score in scores:
            by_value.setdefault((score, str(score)), []).append(score)
        assert any(len(same) > 1 for same in by_value.values())
        for same in by_value.values():                  # one object per value as written
            assert all(x is same[0] for x in same)
    finally:
        ledger.close()


def test_sharing_a_column_changes_no_row():
    before = [dict(r, dept_id="D" + "1" * (i % 2 + 1)) for i, r in enumerate(ROWS * 3)]
    held = ColumnRows(KEYS)
    sharing = {"dept_id": {}, "name": {}}
    for part in (before[:1], before[1:4], before[4:]):      # kept from one part to the next
        held.extend_columns([[r[k] for r in part] for k in KEYS], sharing)
    assert list(held) == before
    column = held.column("dept_id")
    assert column[0] is column[2] is column[4] and column[1] is column[3]
    assert column[0] != column[1]


def test_numbers_are_one_object_only_where_written_alike():
    """Decimal("4") == Decimal("4.0") == Decimal("4.00"), but each is shown as typed: shared,
    the equal numbers written alike are one object, the others stay apart, and every row reads
    as before, digit for digit (so do the texts of a column shared from records)."""
    keys = ("row", "score", "note")
    typed = ["4", "4.0", "4", "4.00", "-0", "0", "4.0"]
    rows = [{"row": i + 2, "score": Decimal(t), "note": t} for i, t in enumerate(typed)]
    held = ColumnRows(keys)
    held.extend_columns([[r[k] for r in rows] for k in keys], {"score": {}, "note": {}})
    from_db = ColumnRows.from_records(keys, [tuple(r.values()) for r in rows],
                                      shared=("score", "note"))
    for shared in (held, from_db):
        assert [str(r["score"]) for r in shared] == typed
        assert list(shared) == rows
        scores = shared.column("score")
        assert scores[0] is scores[2] and scores[1] is scores[6]
        assert scores[0] is not scores[1] and scores[1] is not scores[3]
        assert scores[4] is not scores[5]
    listed = sharing_values([dict(r) for r in rows], ("score",))
    assert [str(r["score"]) for r in listed] == typed
    assert listed[0]["score"] is listed[2]["score"] and listed[0]["score"] is not listed[1]["score"]
