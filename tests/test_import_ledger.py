"""importers.read_ledger on .xlsx ledgers written inline: typed rows, and every problem worded
exactly (SPEC §3, §3.1, §7)."""
from __future__ import annotations

import copy
import datetime as dt
import io
import shutil
import tempfile
from pathlib import Path
from decimal import Decimal

import pytest

from xietong.cli import main
from importers import Ledger, LedgerRefused, Problem
from importers import read_ledger as read_from_files
from tests.ledgers import held
from test_import_support import BEHAVIOURS, DEPARTMENTS, EMPLOYEES, minimal_ledger, write_xlsx


def read_ledger(path, **kw):
    """importers.read_ledger, its transaction sheets then read back from their files into
    lists (tests.ledgers.held): these tests look rows up by position."""
    return held(read_from_files(path, **kw))


def refused(path, **kw) -> list[str]:
    """The problems of a refused ledger — also checked through `xietong import` against a
    database that already holds a ledger: exit 1, every problem on stderr, and the database
    byte-for-byte unchanged (SPEC §3.1)."""
    with pytest.raises(LedgerRefused) as e:
        read_ledger(path, **kw)
    assert e.value.problems, "a refusal always lists its problems"
    problems = [str(p) for p in e.value.problems]
    db = _database_with_a_ledger()
    before = _bytes(db)
    out, err = io.StringIO(), io.StringIO()
    argv = ["import", str(path), "--period", "2026-11", "--db", f"sqlite:///{db}"]
    if kw.get("lang"):
        argv += ["--lang", kw["lang"]]
    assert main(argv, out, err) == 1
    assert out.getvalue() == ""
    assert [line.strip() for line in err.getvalue().splitlines()[1:-1]] == problems
    assert _bytes(db) == before
    return problems


_SEED: dict[str, Path] = {}


def _database_with_a_ledger() -> Path:
    """A fresh copy of a database holding one good import (made once per test session)."""
    if "db" not in _SEED:
        folder = Path(tempfile.mkdtemp(prefix="xietong-seed-"))
        good = write_xlsx(folder / "good.xlsx", minimal_ledger())
        assert main(["import", str(good), "--period", "2026-11", "--db",
                     f"sqlite:///{folder / 'seed.db'}"], io.StringIO(), io.StringIO()) == 0
        _SEED["db"] = folder / "seed.db"
    copy_dir = Path(tempfile.mkdtemp(prefix="xietong-db-"))
    target = copy_dir / "x.db"
    shutil.copyfile(_SEED["db"], target)
    return target


def _bytes(db: Path) -> bytes:
    return b"".join(Path(str(db) + s).read_bytes() if Path(str(db) + s).exists() else b"-"
                    for s in ("", "-wal", "-journal"))


def with_cell(sheet: str, row: int, col: str, value, base=None) -> dict:
    """minimal_ledger() with one cell replaced (row = Excel row, col = canonical column)."""
    book = copy.deepcopy(base or minimal_ledger())
    rows = book[sheet]
    j = rows[0].index(col)
    while len(rows) < row:
        rows.append([None] * len(rows[0]))
    rows[row - 1][j] = value
    return book


# --- a good ledger --------------------------------------------------------------------------

def test_minimal_ledger_reads_typed_rows(tmp_path):
    ledger = read_ledger(write_xlsx(tmp_path / "l.xlsx", minimal_ledger()))
    assert isinstance(ledger, Ledger)
    assert ledger.rows["Departments"] == [
        {"dept_id": "D1", "name": "Sales", "tier": "front", "manager_id": "E1",
         "base_score": Decimal("80"), "row": 2},
        {"dept_id": "D2", "name": "IT", "tier": "back", "manager_id": "E2",
         "base_score": Decimal("70"), "row": 3},
    ]
    assert ledger.rows["Employees"][1]["base_score"] == Decimal("85.5")
    assert ledger.rows["Employees"][2]["base_score"] is None
    assert ledger.rows["Behaviours"][0] == {
        "event_id": "B1", "date": dt.date(2026, 11, 3), "employee_id": "E3",
        "behaviour_code": "LEAD", "points": Decimal("2"), "proposer_id": "E2",
        "project_id": None, "evidence": "minutes 12", "note": None, "row": 2}
    assert ledger.rows["Behaviours"][1]["evidence"] is None      # blank evidence is the rules' job
    assert ledger.rows["Projects"] == [] and ledger.rows["Reviews"] == []
    assert ledger.lang == "en" and ledger.format == "xlsx" and ledger.warnings == []
    assert ledger.sheet_names == {"Departments": "Departments", "Employees": "Employees",
                                  "Behaviours": "Behaviours"}
    assert len(ledger.sha256) == 64 and ledger.file_name == "l.xlsx"


def test_chinese_headers_in_another_order_give_identical_rows(tmp_path):
    en = read_ledger(write_xlsx(tmp_path / "en.xlsx", minimal_ledger()))
    zh_cols = {"dept_id": "部门编号", "name": "部门名称", "tier": "层级", "manager_id": "负责人工号",
               "base_score": "部门绩效得分"}
    emp_cols = {"employee_id": "工号", "name": "姓名", "dept_id": "部门编号", "manager_id": "上级工号",
                "base_score": "个人绩效得分"}
    beh_cols = dict(zip(BEHAVIOURS, ["记录编号", "日期", "工号", "行为代码", "分值", "提议人工号",
                                     "项目编号", "事实依据", "说明"]))

    def reorder(rows, names):
        header = rows[0]
        order = list(reversed(range(len(header))))
        return [[names[header[j]] for j in order]] + [[r[j] for j in order] for r in rows[1:]]

    book = minimal_ledger()
    zh_book = {" 部门 ": reorder(book["Departments"], zh_cols),
               "员工": reorder(book["Employees"], emp_cols),
               "协同行为": reorder(book["Behaviours"], beh_cols)}
    zh = read_ledger(write_xlsx(tmp_path / "zh.xlsx", zh_book))
    assert zh.rows == en.rows
    assert zh.lang == "zh"
    assert zh.sheet_names["Departments"] == " 部门 "


def test_header_matching_ignores_case_width_and_spaces(tmp_path):
    book = minimal_ledger()
    book["Departments"][0] = ["DEPT_ID", "Ｎａｍｅ", " tier ", "manager_id\u3000", "部门 绩效得分"]
    ledger = read_ledger(write_xlsx(tmp_path / "l.xlsx", {"departments": book["Departments"],
                                                            "EMPLOYEES": book["Employees"]}))
    assert [r["dept_id"] for r in ledger.rows["Departments"]] == ["D1", "D2"]


def test_values_are_normalised(tmp_path):
    book = minimal_ledger()
    book["Departments"][1] = ["Ｄ１ ", " 销售\u3000部 ", "前台", "E1", "８５"]
    book["Departments"][2] = ["D2", "IT", "BACK", "E2", " 1,234.5 "]
    book["Departments"].append([1001.0, "Ops", "中台", None, 0])
    book["Employees"][1][0] = "E1"
    book["Behaviours"][1][1] = "2026年11月5日"
    book["Behaviours"][2][1] = "２０２６/１１/５"
    book["Behaviours"][2][4] = "-1"
    book["Departments"][2][4] = 99.5
    ledger = read_ledger(write_xlsx(tmp_path / "l.xlsx", book))
    d = ledger.rows["Departments"]
    # the id is normalised (full-width Ｄ１ and the space go), the name is kept as typed (SPEC
    # §10.1: free text is never rewritten, the ideographic space and outer spaces included)
    assert (d[0]["dept_id"], d[0]["name"], d[0]["tier"], d[0]["base_score"]) == (
        "D1", " 销售\u3000部 ", "front", Decimal("85"))
    assert d[1]["tier"] == "back" and d[1]["base_score"] == Decimal("99.5")
    assert d[2]["dept_id"] == "1001" and d[2]["tier"] == "middle" and d[2]["manager_id"] is None
    b = ledger.rows["Behaviours"]
    assert b[0]["date"] == dt.date(2026, 11, 5) and b[1]["date"] == dt.date(2026, 11, 5)
    assert b[1]["points"] == Decimal("-1")


@pytest.mark.parametrize("text, expected", [
    ("2026-11-03", dt.date(2026, 11, 3)), ("2026/11/3", dt.date(2026, 11, 3)),
    ("2026.11.3", dt.date(2026, 11, 3)), ("2026年11月3日", dt.date(2026, 11, 3)),
    (" 2026 年 11 月 3 日 ", dt.date(2026, 11, 3)), ("２０２６－１１－０３", dt.date(2026, 11, 3)),
    (dt.datetime(2026, 11, 3, 14, 30), dt.date(2026, 11, 3)),
])
def test_dates(tmp_path, text, expected):
    ledger = read_ledger(write_xlsx(tmp_path / "l.xlsx", with_cell("Behaviours", 2, "date", text)))
    assert ledger.rows["Behaviours"][0]["date"] == expected


def test_ratio_percent_and_fractions(tmp_path):
    book = minimal_ledger()
    book["ServiceMetrics"] = [["dept_id", "metric", "value"], ["D2", "sla", "92%"],
                              ["D2", "uptime", 0.995], ["D2", "tickets", "８５％"]]
    ledger = read_ledger(write_xlsx(tmp_path / "l.xlsx", book))
    assert [r["value"] for r in ledger.rows["ServiceMetrics"]] == [
        Decimal("0.92"), Decimal("0.995"), Decimal("0.85")]


def test_id_number_is_text_without_decimal_point(tmp_path):
    book = minimal_ledger()
    book["Employees"] = [list(EMPLOYEES), [1001, "Alice", "D1", None, 90], [1002.0, "Bob", "D2", 1001, 85]]
    book["Departments"][1][3] = 1001
    book["Departments"][2][3] = "1002"
    book["Behaviours"][1][2:6] = [1002, "LEAD", 2, 1001]
    book["Behaviours"][2][2:6] = [1001, "SHARE", 1, 1002]
    ledger = read_ledger(write_xlsx(tmp_path / "l.xlsx", book))
    assert [r["employee_id"] for r in ledger.rows["Employees"]] == ["1001", "1002"]
    assert ledger.rows["Employees"][1]["manager_id"] == "1001"


def test_blank_rows_skipped_and_row_numbers_kept(tmp_path):
    book = minimal_ledger()
    book["Behaviours"].insert(2, [None] * len(BEHAVIOURS))
    book["Behaviours"].insert(2, ["  ", None, "\u3000", None, None, None, None, None, None])
    ledger = read_ledger(write_xlsx(tmp_path / "l.xlsx", book))
    assert [r["row"] for r in ledger.rows["Behaviours"]] == [2, 5]


def test_extra_columns_and_sheets_and_hidden_sheets_are_warned(tmp_path):
    book = minimal_ledger()
    book["Departments"][0] += ["remarks", "备注"]
    book["Notes"] = [["anything"]]
    ledger = read_ledger(write_xlsx(tmp_path / "l.xlsx", book, hidden=("Behaviours",)))
    assert ledger.warnings == [
        "Departments: extra columns ignored: 'remarks' (F1), '备注' (G1)",
        "Behaviours: the sheet is hidden; it was read as a ledger sheet",
        "extra sheets ignored: 'Notes'",
    ]
    assert len(ledger.rows["Behaviours"]) == 2


def test_direction_blank_defaults_to_higher_and_optional_sheets_absent(tmp_path):
    book = minimal_ledger()
    book["CompanyKPIs"] = [["kpi_id", "name", "target", "actual", "direction"],
                           ["K1", "Revenue", 100, 110, None], ["K2", "Cost", 50, 40, "越低越好"]]
    book["Linkage"] = [["dept_id", "kpi_id", "level"], ["D1", "K1", "★★★"], ["D2", "K2", 2]]
    ledger = read_ledger(write_xlsx(tmp_path / "l.xlsx", book))
    assert [r["direction"] for r in ledger.rows["CompanyKPIs"]] == ["higher", "lower"]
    assert [r["level"] for r in ledger.rows["Linkage"]] == ["high", "medium"]


def test_transaction_references_are_not_import_errors(tmp_path):
    book = with_cell("Behaviours", 2, "employee_id", "NOBODY")
    book = with_cell("Behaviours", 2, "project_id", "P404", book)
    ledger = read_ledger(write_xlsx(tmp_path / "l.xlsx", book))
    assert ledger.rows["Behaviours"][0]["employee_id"] == "NOBODY"


def test_progress_is_reported(tmp_path):
    seen = []
    read_ledger(write_xlsx(tmp_path / "l.xlsx", minimal_ledger()),
                progress=lambda phase, done, total: seen.append((phase, done, total)))
    assert seen[0] == ("open", 0, 1) and seen[-1] == ("check", 1, 1)
    assert ("read", 7, 7) in seen


# --- one test per structural problem ---------------------------------------------------------

CELL_CASES = [
    # (sheet, row, column, value, message)
    ("Behaviours", 2, "points", "abc", "Behaviours!E2 (points): expected a number, got 'abc'"),
    ("Behaviours", 2, "points", "85%",
     "Behaviours!E2 (points): expected a number (% is only allowed in ratio columns), got '85%'"),
    ("Behaviours", 2, "points", True, "Behaviours!E2 (points): expected a number, got TRUE"),
    ("Departments", 2, "base_score", 250,
     "Departments!E2 (base_score): expected a number from 0 to 200, got 250"),
    ("Departments", 2, "base_score", -0.5,
     "Departments!E2 (base_score): expected a number from 0 to 200, got -0.5"),
    ("Departments", 2, "base_score", None,
     "Departments!E2 (base_score): expected a value, got a blank cell"),
    ("Departments", 2, "name", "   ", "Departments!B2 (name): expected a value, got a blank cell"),
    ("Departments", 2, "tier", "frontline",
     "Departments!C2 (tier): expected one of front, 前台, middle, 中台, back, 后台, got 'frontline'"),
    ("Departments", 3, "dept_id", 12.5,
     "Departments!A3 (dept_id): expected an id (text or a whole number), got 12.5"),
    ("Departments", 3, "dept_id", 1.5e17,
     "Departments!A3 (dept_id): expected an id stored as text (a number this long has already "
     "lost digits), got 1.5e+17"),
    ("Behaviours", 2, "date", "03/11/2026",
     "Behaviours!B2 (date): expected a year-first date such as 2026-11-03 (day-first dates are "
     "ambiguous), got '03/11/2026'"),
    ("Behaviours", 2, "date", "2026-02-30",
     "Behaviours!B2 (date): expected a real calendar date, got '2026-02-30'"),
    ("Behaviours", 2, "date", 46329,
     "Behaviours!B2 (date): expected a date (an Excel date or year-first text such as "
     "2026-11-03), got 46329"),
    ("Behaviours", 2, "date", "next week",
     "Behaviours!B2 (date): expected a date (an Excel date or year-first text such as "
     "2026-11-03), got 'next week'"),
    ("Employees", 4, "employee_id", "HR",
     "Employees!A4 (employee_id): expected an employee id other than the reserved 'HR', got 'HR'"),
    ("Employees", 3, "dept_id", "D9",
     "Employees!C3 (dept_id): expected an id listed in Departments (dept_id), got 'D9'"),
    ("Departments", 3, "manager_id", "E9",
     "Departments!D3 (manager_id): expected an id listed in Employees (employee_id), got 'E9'"),
    ("Employees", 3, "manager_id", "E2",
     "Employees!D3 (manager_id): expected another employee's id (not the employee's own), "
     "got 'E2' (the employee himself)"),
]


@pytest.mark.parametrize("sheet, row, col, value, message", CELL_CASES,
                         ids=[c[4].split(":")[0] + " " + repr(c[3]) for c in CELL_CASES])
def test_cell_problem(tmp_path, sheet, row, col, value, message):
    assert refused(write_xlsx(tmp_path / "l.xlsx", with_cell(sheet, row, col, value))) == [message]


def test_ratio_typed_as_92_is_out_of_range_not_divided(tmp_path):
    book = minimal_ledger()
    book["ServiceMetrics"] = [["dept_id", "metric", "value"], ["D2", "sla", 92], ["D2", "x", "abc"]]
    assert refused(write_xlsx(tmp_path / "l.xlsx", book)) == [
        "ServiceMetrics!C2 (value): expected a ratio from 0 to 1 (such as 0.92 or '92%'), got 92",
        "ServiceMetrics!C3 (value): expected a ratio (such as 0.92 or '92%'), got 'abc'",
    ]


def test_error_cells_are_caught(tmp_path):
    book = with_cell("Behaviours", 2, "points", "#DIV/0!")         # openpyxl writes t="e"
    book = with_cell("Behaviours", 3, "note", "#N/A", book)         # even in an optional column
    book = with_cell("Departments", 3, "name", "#REF!", book)
    path = write_xlsx(tmp_path / "l.xlsx", book, text_cells=[("Departments", "B3")])  # as text
    assert refused(path) == [
        "Departments!B3 (name): expected a value, got the error value #REF!",
        "Behaviours!E2 (points): expected a value, got the error value #DIV/0!",
        "Behaviours!I3 (note): expected a value, got the error value #N/A",
    ]


def test_duplicate_keys_name_the_first_row(tmp_path):
    book = minimal_ledger()
    book["Departments"].append(["D1", "Again", "back", None, 10])
    book["Linkage"] = [["dept_id", "kpi_id", "level"], ["D1", "K1", "high"], ["D1", "K1", "low"]]
    book["CompanyKPIs"] = [["kpi_id", "name", "target", "actual"], ["K1", "Revenue", 100, 90]]
    assert refused(write_xlsx(tmp_path / "l.xlsx", book)) == [
        "Departments!A4 (dept_id): expected a unique dept_id, got 'D1' again (first at A2)",
        "Linkage!A3 (dept_id, kpi_id): expected a unique (dept_id, kpi_id) pair, "
        "got ('D1', 'K1') again (first at A2)",
    ]


def test_manager_cycle_names_the_cells(tmp_path):
    book = minimal_ledger()
    book["Employees"] = [list(EMPLOYEES), ["E1", "A", "D1", "E3", 1], ["E2", "B", "D1", "E1", 1],
                         ["E3", "C", "D1", "E2", 1], ["E4", "D", "D1", "E1", 1]]
    assert refused(write_xlsx(tmp_path / "l.xlsx", book)) == [
        "Employees!D2 (manager_id): expected a manager chain that ends at the top, "
        "got a cycle 'E1' → 'E3' → 'E2' → 'E1' (D2, D4, D3)",
    ]


def test_references_to_an_absent_optional_sheet(tmp_path):
    book = minimal_ledger()
    book["Linkage"] = [["dept_id", "kpi_id", "level"], ["D1", "K1", "high"]]
    assert refused(write_xlsx(tmp_path / "l.xlsx", book)) == [
        "Linkage!B2 (kpi_id): expected an id listed in CompanyKPIs (kpi_id), got 'K1'",
    ]


def test_missing_required_sheet(tmp_path):
    book = minimal_ledger()
    del book["Departments"]
    assert refused(write_xlsx(tmp_path / "l.xlsx", book)) == [
        "expected a sheet named Departments or 部门, got no such sheet (sheets in the file: "
        "'Employees', 'Behaviours')",
    ]


def test_missing_column(tmp_path):
    book = minimal_ledger()
    for row in book["Employees"]:
        del row[2]                                   # dept_id
    assert refused(write_xlsx(tmp_path / "l.xlsx", book)) == [
        "Employees!A1:D1 (dept_id): expected a column headed dept_id or 部门编号, got headers "
        "'employee_id', 'name', 'manager_id', 'base_score'",
    ]


def test_sheet_present_under_two_names(tmp_path):
    book = minimal_ledger()
    book["部门"] = book["Departments"]
    assert refused(write_xlsx(tmp_path / "l.xlsx", book)) == [
        "部门: expected one sheet for Departments (部门), got 'Departments' and '部门'",
    ]


def test_column_present_twice(tmp_path):
    book = minimal_ledger()
    book["Departments"][0].append("部门编号")
    assert refused(write_xlsx(tmp_path / "l.xlsx", book)) == [
        "Departments!F1 (dept_id): expected one dept_id column, got '部门编号' besides 'dept_id' at A1",
    ]


def test_several_problems_all_reported_in_sheet_row_column_order(tmp_path):
    book = with_cell("Behaviours", 3, "points", "x")
    book = with_cell("Behaviours", 2, "date", "1/2/2026", book)
    book = with_cell("Departments", 3, "tier", "?", book)
    book = with_cell("Departments", 2, "base_score", 900, book)
    book = with_cell("Employees", 4, "dept_id", None, book)
    msgs = refused(write_xlsx(tmp_path / "l.xlsx", book))
    assert [m.split(":")[0] for m in msgs] == [
        "Departments!E2 (base_score)", "Departments!C3 (tier)", "Employees!C4 (dept_id)",
        "Behaviours!B2 (date)", "Behaviours!E3 (points)"]


# --- language ----------------------------------------------------------------------------

def _chinese_book():
    return {"部门": [["部门编号", "部门名称", "层级", "负责人工号", "部门绩效得分"], ["D1", "销售", "前台", None, 80]],
            "员工": [["工号", "姓名", "部门编号", "上级工号", "个人绩效得分"], ["E1", "张三", "D1", None, 90]],
            "协同行为": [["记录编号", "日期", "工号", "行为代码", "分值", "提议人工号", "项目编号", "事实依据", "说明"],
                     ["B1", "2026-11-03", "E1", "LEAD", "abc", "E1", None, "纪要", None]]}


def test_chinese_headers_give_chinese_messages(tmp_path):
    path = write_xlsx(tmp_path / "l.xlsx", _chinese_book())
    with pytest.raises(LedgerRefused) as e:
        read_ledger(path)
    assert e.value.lang == "zh"
    assert [str(p) for p in e.value.problems] == ["协同行为!E2（分值）：应为数字，实际为 'abc'"]
    p = e.value.problems[0]
    assert (p.sheet, p.cell, p.column, p.kind) == ("协同行为", "E2", "points", "number")
    # the lang argument wins; the sheet, cell and quoted value stay as they are
    assert refused(path, lang="en") == ["协同行为!E2 (points): expected a number, got 'abc'"]


def test_chinese_wording_of_other_problems(tmp_path):
    book = _chinese_book()
    book["协同行为"][1][4] = 1
    book["部门"].append(["D1", "重复", "后台", "E9", 300])
    book["员工"].append(["E2", "李四", "D1", "E2", None])
    assert refused(write_xlsx(tmp_path / "l.xlsx", book)) == [
        "部门!A3（部门编号）：应为唯一的部门编号，实际为 'D1' 重复（首次出现于 A2）",
        "部门!D3（负责人工号）：应为「员工」表中存在的工号，实际为 'E9'",
        "部门!E3（部门绩效得分）：应为 0 到 200 之间的数字，实际为 300",
        "员工!D3（上级工号）：应为他人的工号（不能是本人），实际为 'E2'（本人）",
    ]


def test_problem_defaults_keep_old_constructor_working():
    p = Problem("Behaviours", "E7", "points", "a number", "'abc'")
    assert str(p) == "Behaviours!E7 (points): expected a number, got 'abc'"
    assert str(Problem(None, None, None, "x", "y")) == "expected x, got y"


def test_free_text_is_kept_exactly_as_typed(tmp_path):
    """SPEC §10.1: full-width punctuation, inner spaces and line breaks stay in names,
    dimensions, comments, evidence and notes; whitespace alone is blank; ids and codes are
    still normalised."""
    book = minimal_ledger()
    book["Behaviours"][1][7] = "会议纪要 No.１２，第３页"                    # evidence
    book["Behaviours"][2][7] = "\u3000 \n"                               # whitespace only
    ledger = read_ledger(write_xlsx(tmp_path / "l.xlsx", book))
    b = ledger.rows["Behaviours"]
    assert b[0]["evidence"] == "会议纪要 No.１２，第３页"
    assert b[1]["evidence"] is None
