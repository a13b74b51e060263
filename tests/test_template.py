"""The ledger template and the ledger writer (reports/template.py, reports/workbook.py).

What HR receives from `xietong template`: every sheet and header in the chosen language, a guide
sheet first, dropdowns on the enumeration columns, a frozen header; and what the sample company
and the tests write through the same code: a filled ledger that imports back to the same rows,
with text that never turns into a formula.
"""
from __future__ import annotations

import datetime as dt
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from python_calamine import CalamineWorkbook

from importers import read_ledger as read_from_files
from tests.ledgers import held
from xietong.sample import generate_company, write_sample_ledger
from importers.schema import ENUM_ZH, ENUMS, SHEET_BY_NAME, SHEETS
from reports.template import (GUIDE_TITLE, LISTS_TITLE, MIN_VALIDATION_ROWS, write_ledger,
                                write_template)
from reports.workbook import display_width, put_text
from rules.policy import load_policy

PERIOD = "2026-11"


def read_ledger(path, **kw):
    """importers.read_ledger, its transaction sheets then read back from their files into
    lists (tests.ledgers.held): these tests look rows up by position."""
    return held(read_from_files(path, **kw))


def _title(sheet, lang):
    return sheet.zh if lang == "zh" else sheet.name


def _header(col, lang):
    return col.zh if lang == "zh" else col.name


def _spellings(enum, lang):
    """The dropdown items SPEC expects: ENUM_ZH spellings in Chinese, the codes in English."""
    return [ENUM_ZH[enum][c] if lang == "zh" else c for c in ENUMS[enum]]


@pytest.fixture(scope="module", params=["zh", "en"])
def template(request, tmp_path_factory):
    lang = request.param
    path = tmp_path_factory.mktemp("tpl") / f"template-{lang}.xlsx"
    write_template(path, lang)
    return lang, path, openpyxl.load_workbook(path)


def test_every_sheet_and_header_in_the_language(template):
    lang, _, wb = template
    ledger_titles = [_title(s, lang) for s in SHEETS]
    assert wb.sheetnames[0] == GUIDE_TITLE[lang]
    assert [n for n in wb.sheetnames if n not in (GUIDE_TITLE[lang], LISTS_TITLE)] == ledger_titles
    for sheet in SHEETS:
        ws = wb[_title(sheet, lang)]
        assert [c.value for c in ws[1]] == [_header(c, lang) for c in sheet.columns]
        assert ws.max_row == 1                                  # empty: header only
        assert ws.freeze_panes == "A2"
        assert all(c.font.b for c in ws[1])                     # styled header
        for i, col in enumerate(sheet.columns, 1):
            width = ws.column_dimensions[get_column_letter(i)].width
            assert width >= display_width(_header(col, lang)), (sheet.name, col.name)


def test_dropdowns_on_every_enum_column(template):
    lang, _, wb = template
    last = MIN_VALIDATION_ROWS + 1
    enum_columns = 0
    for sheet in SHEETS:
        ws = wb[_title(sheet, lang)]
        by_range = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
        for i, col in enumerate(sheet.columns, 1):
            if col.kind != "enum":
                continue
            enum_columns += 1
            letter = get_column_letter(i)
            dv = by_range[f"{letter}2:{letter}{last}"]
            assert dv.type == "list"
            assert dv.formula1 == '"' + ",".join(_spellings(col.enum, lang)) + '"'
            assert dv.allow_blank is True
            assert not dv.showDropDown                          # True would hide the arrow
    assert enum_columns == 6    # tier, direction ×2, level, raci_role, decision


def test_behaviour_code_suggests_the_catalog(template):
    lang, _, wb = template
    catalog = load_policy().behaviour.entries
    items = [e.zh if lang == "zh" else e.code for e in catalog]
    ws = wb[_title(SHEET_BY_NAME["Behaviours"], lang)]
    (dv,) = [dv for dv in ws.data_validations.dataValidation if str(dv.sqref).startswith("D2:")]
    assert not dv.showErrorMessage          # suggestions: a policy may list other codes
    if lang == "en":
        assert dv.formula1 == '"' + ",".join(items) + '"'
    else:                                   # too long (and comma-laden) for an inline list
        assert dv.formula1 == f"'{LISTS_TITLE}'!$A$1:$A${len(items)}"
        lists = wb[LISTS_TITLE]
        assert lists.sheet_state == "hidden"
        assert [r[0] for r in lists.iter_rows(values_only=True)] == items


def test_guide_sheet_explains_every_sheet_and_column(template):
    lang, _, wb = template
    guide = wb[GUIDE_TITLE[lang]]
    ledger_names = {s.name.casefold() for s in SHEETS} | {s.zh for s in SHEETS}
    assert guide.title.casefold() not in ledger_names and guide.title not in ledger_names
    text = "\n".join(str(v) for row in guide.iter_rows(values_only=True) for v in row if v)
    for sheet in SHEETS:
        assert _title(sheet, lang) in text
        assert (sheet.mechanism_zh if lang == "zh" else sheet.mechanism_en) in text
        for col in sheet.columns:
            assert _header(col, lang) in text
            assert (col.help_zh if lang == "zh" else col.help_en) in text


def test_template_imports_as_an_empty_ledger(template):
    lang, path, _ = template
    ledger = read_ledger(path)
    assert ledger.lang == lang
    assert all(ledger.rows[s.name] == [] for s in SHEETS)


# ----------------------------------------------------------------------------- filled ledgers

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_sample_company_round_trips_through_the_template_layout(lang, tmp_path):
    template_path, ledger_path = tmp_path / "t.xlsx", tmp_path / "l.xlsx"
    write_template(template_path, lang)
    rows = write_sample_ledger(ledger_path, 40, PERIOD, seed=3, lang=lang)
    assert rows == generate_company(40, PERIOD, seed=3)

    ledger = read_ledger(ledger_path)
    assert ledger.lang == lang
    for sheet in SHEETS:
        got = ledger.rows[sheet.name]
        assert [r["row"] for r in got] == list(range(2, len(got) + 2))
        assert [{k: v for k, v in r.items() if k != "row"} for r in got] == rows[sheet.name], \
            sheet.name

    # The filled ledger is the template filled in: same sheets, headers and dropdowns.
    tpl, filled = openpyxl.load_workbook(template_path), openpyxl.load_workbook(ledger_path)
    assert tpl.sheetnames == filled.sheetnames
    for sheet in SHEETS:
        a, b = tpl[_title(sheet, lang)], filled[_title(sheet, lang)]
        assert [c.value for c in a[1]] == [c.value for c in b[1]]
        assert [(str(d.sqref), d.formula1) for d in a.data_validations.dataValidation] == \
            [(str(d.sqref), d.formula1) for d in b.data_validations.dataValidation]


def test_cells_are_typed_like_excel_would(tmp_path):
    path = tmp_path / "typed.xlsx"
    rows = {
        "Departments": [{"dept_id": "1001", "name": "财务部", "tier": "back", "manager_id": None,
                         "base_score": Decimal("87.5")}],
        "Behaviours": [{"event_id": "007", "date": dt.date(2026, 11, 3), "employee_id": "00123",
                        "behaviour_code": "LEAD", "points": Decimal("-1.5"), "proposer_id": "E2",
                        "project_id": None, "evidence": "OA-2026-11-0123", "note": None}],
    }
    write_ledger(path, rows, "zh")
    wb = openpyxl.load_workbook(path)
    dept = wb["部门"]
    assert dept["A2"].value == "1001" and dept["A2"].data_type == "s"      # ids are text
    assert dept["C2"].value == "后台"                                       # zh spelling
    assert dept["E2"].value == 87.5 and dept["E2"].data_type == "n"
    assert dept["D2"].value is None
    beh = wb["协同行为"]
    assert beh["B2"].is_date and beh["B2"].value.date() == dt.date(2026, 11, 3)
    assert beh["B2"].number_format == "yyyy-mm-dd"
    assert beh["C2"].value == "00123"                                       # leading zeros kept
    assert beh["E2"].value == -1.5
    with zipfile.ZipFile(path) as z:                                        # dimension written
        names = {n.rsplit("/", 1)[-1] for n in z.namelist()}
        assert "sheet3.xml" in names
        xml = z.read("xl/worksheets/sheet2.xml").decode()
        assert '<dimension ref="A1:E2"/>' in xml


def test_validation_range_grows_with_the_ledger(tmp_path):
    path = tmp_path / "big.xlsx"
    n = MIN_VALIDATION_ROWS + 10
    depts = [{"dept_id": f"D{i}", "name": f"部门{i}", "tier": "front", "manager_id": None,
              "base_score": Decimal(80)} for i in range(n)]
    write_ledger(path, {"Departments": depts}, "en", guide=False)
    wb = openpyxl.load_workbook(path, read_only=False)
    (dv,) = wb["Departments"].data_validations.dataValidation
    assert str(dv.sqref) == f"C2:C{n + 1 + 1000}"
    assert wb.sheetnames[0] == "Departments"


# ----------------------------------------------------------------------------- text stays text

INJECTIONS = ['=HYPERLINK("http://evil.example","点我")', "+1 同意", "-工单超时", "@张经理 请看",
              "\t=1+1", "=1+1"]


def test_text_never_becomes_a_formula(tmp_path):
    path = tmp_path / "inj.xlsx"
    ratings = [{"rating_id": f"R{i}", "rater_id": "E1", "ratee_dept_id": "D1", "dimension": "响应速度",
                "score": Decimal(2), "comment": text} for i, text in enumerate(INJECTIONS)]
    write_ledger(path, {"InternalRatings": ratings}, "zh")
    with zipfile.ZipFile(path) as z:
        assert not any(b"<f>" in z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))
    ws = openpyxl.load_workbook(path)["周边评价"]
    for r, text in enumerate(INJECTIONS, 2):
        cell = ws.cell(r, 6)
        assert cell.value == text and cell.data_type == "s"
        assert cell.quotePrefix                  # stays text when a reviewer edits it


def test_awkward_text_survives_exactly(tmp_path):
    """XML specials, \\r, edge spaces and Excel's own _xHHHH_ escape come back unchanged;
    characters XML cannot hold are dropped instead of breaking the file."""
    path = tmp_path / "odd.xlsx"
    texts = ["a & b <c> \"d\"", "line1\r\nline2", " padded ", "_x0041_ stays", "bell\x07gone"]
    rows = [{"rating_id": f"R{i}", "rater_id": "E1", "ratee_dept_id": "D1", "dimension": "x",
             "score": Decimal(3), "comment": t} for i, t in enumerate(texts)]
    write_ledger(path, {"InternalRatings": rows}, "en", guide=False)
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("InternalRatings")
    got = [row[5] for row in sheet.to_python()[1:]]
    assert got == texts[:4] + ["bellgone"]


def test_put_text_helper_for_reports():
    wb = openpyxl.Workbook()
    ws = wb.active
    put_text(ws["A1"], "=SUM(1,1)")
    put_text(ws["A2"], "普通文本")
    put_text(ws["A3"], 42)
    assert ws["A1"].data_type == "s" and ws["A1"].quotePrefix
    assert ws["A2"].data_type == "s" and not ws["A2"].quotePrefix
    assert ws["A3"].value == 42 and ws["A3"].data_type == "n"


def test_unknown_language_or_sheet_is_a_bug(tmp_path):
    with pytest.raises(ValueError):
        write_template(tmp_path / "x.xlsx", "fr")
    with pytest.raises(ValueError):
        write_ledger(tmp_path / "x.xlsx", {"Staff": []}, "en")
