"""The import reads one sheet at a time, types it a chunk of rows at a time, and keeps the
transaction sheets in files (importers/workbook.py, importers/ledger.py, importers/spooled.py):
what that changes for a reader, and what it must not.

The typing itself, chunk by chunk, is checked against the plain typing in
tests/test_import_fast_paths.py; the memory it saves is the benchmark's (bench/run.py).
"""
from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

import importers.workbook as workbook
from importers import LedgerRefused, read_ledger
from importers.schema import REFERENCES, SHEETS, TRANSACTION_SHEETS
from importers.columns import ColumnRows
from importers.spooled import SpooledRows
from test_import_support import BEHAVIOURS, minimal_ledger, write_xlsx


def _open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_transaction_sheets_come_back_from_their_files(tmp_path):
    book = minimal_ledger()
    book["Behaviours"] += [[f"B{k}", dt.date(2026, 11, 6), "E1", "SHARE", 1, "E2", None,
                            f"证据 {k}", None] for k in range(3, 40)]
    ledger = read_ledger(write_xlsx(tmp_path / "l.xlsx", book))
    try:
        behaviours = ledger.rows["Behaviours"]
        assert isinstance(behaviours, SpooledRows) and ledger.count("Behaviours") == 39
        employees = ledger.rows["Employees"]                  # held, by column
        assert isinstance(employees, ColumnRows) and [e["employee_id"] for e in employees] == [
            "E1", "E2", "E3"]
        rows = list(behaviours)
        assert rows == list(behaviours)                     # read again: the same rows
        assert rows[0] == {"row": 2, "event_id": "B1", "date": dt.date(2026, 11, 3),
                           "employee_id": "E3", "behaviour_code": "LEAD",
                           "points": Decimal("2"), "proposer_id": "E2", "project_id": None,
                           "evidence": "minutes 12", "note": None}
        assert [r["row"] for r in rows] == list(range(2, 41))
        assert rows[-1]["evidence"] == "证据 39"
    finally:
        ledger.close()
    assert behaviours.closed


def test_a_duplicate_in_a_transaction_sheet_is_found_across_chunks(tmp_path, monkeypatch):
    """The keys are compared by their hashes, kept as the rows go to the file: a repeat in a
    later chunk is found and named at its cell, with the first row's."""
    import importers.ledger as ledger_module
    monkeypatch.setattr(ledger_module, "TYPE_CHUNK", 2)
    book = minimal_ledger()
    book["Behaviours"] += [["B3", dt.date(2026, 11, 6), "E1", "SHARE", 1, "E2", None, None, None],
                           ["B1", dt.date(2026, 11, 7), "E1", "SHARE", 1, "E2", None, None, None]]
    before = _open_files()
    with pytest.raises(LedgerRefused) as refused:
        read_ledger(write_xlsx(tmp_path / "l.xlsx", book))
    assert [str(p) for p in refused.value.problems] == [
        "Behaviours!A5 (event_id): expected a unique event_id, got 'B1' again (first at A2)"]
    assert _open_files() == before                          # the refused ledger's files closed


def test_a_sheet_calamine_fails_partway_through_is_reported_and_let_go(tmp_path, monkeypatch):
    """calamine may fail on a value after the sheet's first rows are typed: the sheet is
    reported unreadable, like one it could not open, and its file is closed."""
    real = workbook._sheet_rows

    def failing(wb, name):
        rows = real(wb, name)
        if name != "Behaviours":
            return rows

        def partway():
            yield next(rows)                                # the header
            yield next(rows)                                # the first behaviour
            raise workbook.SheetUnreadable("ValueError: a date out of range")
        return partway()

    monkeypatch.setattr(workbook, "_sheet_rows", failing)
    before = _open_files()
    with pytest.raises(LedgerRefused) as refused:
        read_ledger(write_xlsx(tmp_path / "l.xlsx", minimal_ledger()))
    assert [str(p) for p in refused.value.problems] == [
        "Behaviours: expected a readable worksheet, got ValueError: a date out of range"]
    assert _open_files() == before


def test_a_sheet_whose_cells_start_past_column_a_reads_as_anchored_at_a1(tmp_path):
    """calamine's row iterator starts each row at the sheet's first used column: the columns
    before it are blank, as the whole-sheet read gives them."""
    import openpyxl
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in minimal_ledger().items():
        ws = wb.create_sheet(name)
        shift = 2 if name == "Behaviours" else 0        # the sheet's first column is C
        for r, row in enumerate(rows, start=1):
            for c, v in enumerate(row, start=1 + shift):
                if v is not None:
                    ws.cell(row=r, column=c, value=v)
    wb.save(tmp_path / "shifted.xlsx")
    shifted = read_ledger(tmp_path / "shifted.xlsx")
    plain = read_ledger(write_xlsx(tmp_path / "plain.xlsx", minimal_ledger()))
    try:
        assert shifted.columns["Behaviours"]["event_id"] == "C"
        assert len(shifted.rows["Behaviours"]) == 2
        assert list(shifted.rows["Behaviours"]) == list(plain.rows["Behaviours"])
    finally:
        shifted.close()
        plain.close()


def test_no_transaction_sheet_is_a_master_data_reference():
    """The reference checks read the held sheets only: none of them is a transaction sheet
    (a transaction sheet's unknown ids are the rules' to turn into exceptions)."""
    assert not {s for src, _, dst, _ in REFERENCES for s in (src, dst)} & set(TRANSACTION_SHEETS)
    assert set(TRANSACTION_SHEETS) == {s.name for s in SHEETS if s.kind == "transaction"}
    assert "event_id" in BEHAVIOURS


def test_a_spooled_sheets_row_numbers_take_four_bytes_unless_one_is_larger():
    """SpooledRows.row keeps the sheet's Excel rows as 4-byte integers (the 100,000-employee
    ratings sheet: 2.8 MB instead of 5.5); a number past them is read again into 8 bytes,
    and every row is found either way."""
    for last, typecode in ((1_048_576, "i"), (2**31, "q")):
        spooled = SpooledRows(("row", "event_id"))
        try:
            spooled.extend([(2, "B2"), (7, "B7"), (last, "BL")])
            assert spooled.row(7) == {"row": 7, "event_id": "B7"}
            assert spooled.row(last) == {"row": last, "event_id": "BL"}
            assert spooled.row(3) is None and spooled.row(last + 1) is None
            assert spooled._numbers.typecode == typecode
            assert list(spooled.row_numbers()) == [2, 7, last]
        finally:
            spooled.close()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 4), max_size=60), st.sampled_from([1, 3, 8, 1000]),
       st.lists(st.integers(0, 250), max_size=40), st.booleans())
def test_a_spooled_sheet_finds_each_row_by_its_number(gaps, chunk, wanted, flush):
    """SpooledRows.row: the row with that Excel row, read from its chunk of the file (or the
    chunk being filled), None for a number no row has — against the same rows in a list,
    in any order of lookups, with fewer chunks kept than there are."""
    import importers.spooled
    numbers, n = [], 1
    for gap in gaps:
        n += gap
        numbers.append(n)
    rows = [{"row": r, "event_id": f"B{r}", "points": Decimal(r) / 4} for r in numbers]
    by_number = {r["row"]: r for r in rows}
    saved = importers.spooled.ROWS_CHUNK
    importers.spooled.ROWS_CHUNK = chunk
    try:
        spooled = SpooledRows(("row", "event_id", "points"))
    finally:
        importers.spooled.ROWS_CHUNK = saved
    spooled.CACHED = 2
    half = len(rows) // 2
    spooled.extend([tuple(r.values()) for r in rows[:half]])
    if flush:
        spooled.flush()                             # a short chunk in the middle
    for number in numbers[:half]:                   # looked up before the sheet is whole
        assert spooled.row(number) == by_number[number]
    spooled.extend(tuple(r.values()) for r in rows[half:])
    try:
        for number in wanted + numbers[::-1] + ["7", None]:
            assert spooled.row(number) == by_number.get(number), number
        assert list(spooled.row_numbers()) == numbers
        assert list(spooled) == rows
    finally:
        spooled.close()


def test_a_spooled_sheet_split_by_group_keeps_each_groups_rows_in_order():
    """SpooledRows.partition: one reading of the file, each group's rows (in order, as dicts
    like the sheet's) in a file of their own; rows whose group is None are left out, a group
    without rows has no part; a group more than a chunk long is whole."""
    import importers.spooled
    sheet = SpooledRows(("row", "ratee_dept_id", "score"))
    rows = [(2, "D1", 5), (3, "D2", 1), (4, "D9", 3), (5, "D1", 4), (6, "D3", 2), (7, "D2", 2)]
    sheet.extend(rows)
    groups = {"D1": "a", "D3": "a", "D2": "b"}            # D9: in no group
    parts = sheet.partition("ratee_dept_id", groups.get)
    try:
        assert sorted(parts) == ["a", "b"]
        assert list(parts["a"]) == [{"row": 2, "ratee_dept_id": "D1", "score": 5},
                                    {"row": 5, "ratee_dept_id": "D1", "score": 4},
                                    {"row": 6, "ratee_dept_id": "D3", "score": 2}]
        assert [r["row"] for r in parts["b"]] == [3, 7]
        assert parts["b"].row(7) == {"row": 7, "ratee_dept_id": "D2", "score": 2}
        assert len(sheet) == 6 and [r["row"] for r in sheet] == [2, 3, 4, 5, 6, 7]
    finally:
        for part in parts.values():
            part.close()
        sheet.close()
    long_rows = [(r, "D1" if r % 3 else "D2", r) for r in range(2, 2 + 3 * importers.spooled.ROWS_CHUNK)]
    sheet = SpooledRows(("row", "ratee_dept_id", "score"))
    sheet.extend(long_rows)
    parts = sheet.partition("ratee_dept_id", lambda d: d)
    try:
        assert [tuple(r.values()) for r in parts["D1"]] == [r for r in long_rows if r[1] == "D1"]
        assert len(parts["D2"]) == len(long_rows) // 3
    finally:
        for part in parts.values():
            part.close()
        sheet.close()
