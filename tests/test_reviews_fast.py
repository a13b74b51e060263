"""reviews/<assignee>.xlsx, written from one openpyxl skeleton per kind of workbook
(reports/reviews.py), holds exactly what the former writer — one openpyxl Workbook built and
saved per assignee — produced: the same files, sheets, cell values and types, styles, locks,
dropdowns, widths, filters and protection.

The former writer is kept below, unchanged, as the oracle. Each pair of files is compared three
ways: as openpyxl reads them (every cell's value, type and resolved style; the sheet's
settings), as python-calamine reads them (what `xietong decisions` reads), and as XML text
(worksheets with their style ids taken out, and workbook.xml: the same bytes).

Except for the text openpyxl's own writer got wrong, which the shared escaper of
reports/workbook.py writes as it is (`GARBLED`): those texts are pinned separately, read back
exactly as written."""
from __future__ import annotations

import io
import random
import re
import zipfile
from collections import defaultdict
from copy import copy
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from python_calamine import CalamineWorkbook

from xietong.cli import main
from xietong.sample import write_sample_ledger
from importers.schema import ENUM_ZH
from reports import reviews
from reports.labels import cited_values, label, ref
from reports.reviews import (EDITABLE_FILL, LOCKED_FILL, LOCKED_FONT, TOP, WRAP, _context_titles,
                             _decision_columns, _kind_text, _sheet_title, _stems)
from reports.workbook import fit_columns, header, put_text
from rules.exceptions import HR, KIND_BY_NAME
from rules.sentences import message
from tests.ledgers import PERIOD

# ----------------------------------------------------------------------------- the former writer

def _context(e, index, lang, sheet_lang) -> list:
    refs = "; ".join(ref(sheet_lang, s, r) for s, r in e["sources"])
    cited = "\n".join(f"{ref(sheet_lang, s, r)}: {cited_values(sheet_lang, s, index.get((s, r)))}"
                      for s, r in e["sources"])
    if len(cited) > 32_000:
        cited = cited[:31_999] + "…"
    status = label(lang, "to_fix") if e["type"] == "rejection" else label(lang, e["status"])
    return [e["kind"], _kind_text(e["kind"], lang), e["subject_id"], status, refs, cited,
            message(e, lang)]


def _old_reviews_sheet(ws, items, assignee, index, lang, sheet_lang) -> None:
    titles = _decision_columns(lang) + _context_titles(lang)
    header(ws, titles)
    values = []
    for e in items:
        values.append([e["review_id"], None, assignee, None] + _context(e, index, lang, sheet_lang))
    n_ctx = len(titles)
    for i, v in enumerate(values, 2):
        for j, x in enumerate(v, 1):
            c = ws.cell(row=i, column=j)
            put_text(c, x)
            if j in (2, 4):
                c.protection = Protection(locked=False)
                c.fill = EDITABLE_FILL
                c.alignment = TOP
            else:
                c.fill = LOCKED_FILL
                c.font = LOCKED_FONT
                c.alignment = WRAP if j >= 9 else TOP
    words = ENUM_ZH["decision"] if lang == "zh" else {"confirm": "confirm", "overturn": "overturn"}
    items_text = ",".join((words["confirm"], words["overturn"]))
    if values:
        dv = DataValidation(type="list", formula1=f'"{items_text}"', allow_blank=True,
                            showErrorMessage=True, errorTitle=label(lang, "rv_dv_title"),
                            error=label(lang, "rv_dv_error", items=items_text))
        dv.add(f"B2:B{len(values) + 1}")
        ws.data_validations.append(dv)
    fit_columns(ws, titles, values, maximum={3: 40, 9: 60, 10: 60})
    ws.column_dimensions["B"].width = max(ws.column_dimensions["B"].width, 12)
    ws.column_dimensions["D"].width = max(ws.column_dimensions["D"].width, 30)
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{get_column_letter(n_ctx)}{max(len(values) + 1, 2)}"
    _old_protect(ws)


def _old_rejections_sheet(ws, items, index, lang, sheet_lang) -> None:
    titles = [label(lang, "review_id")] + _context_titles(lang)
    header(ws, titles)
    values = [[e["review_id"]] + _context(e, index, lang, sheet_lang) for e in items]
    for i, v in enumerate(values, 2):
        for j, x in enumerate(v, 1):
            c = ws.cell(row=i, column=j)
            put_text(c, x)
            c.fill = LOCKED_FILL
            c.font = LOCKED_FONT
            c.alignment = WRAP if j >= 6 else TOP
    fit_columns(ws, titles, values, maximum={6: 60, 7: 60})
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(titles))}{max(len(values) + 1, 2)}"
    _old_protect(ws)


def _old_protect(ws) -> None:
    p = ws.protection
    p.sheet = True
    p.autoFilter = False
    p.sort = False
    p.formatColumns = False
    p.formatRows = False
    p.selectLockedCells = False
    p.selectUnlockedCells = False


def _old_guide(ws, lang, assignee, period, n_reviews, n_rejections) -> None:
    lines = [label(lang, "rv_title", who=assignee, period=period),
             label(lang, "rv_counts", r=n_reviews, j=n_rejections),
             label(lang, "rv_howto", period=period),
             label(lang, "rv_meaning")]
    if n_rejections:
        lines.append(label(lang, "rv_rejections_howto"))
    for i, text in enumerate(lines, 1):
        c = ws.cell(row=i, column=1)
        put_text(c, text)
        c.alignment = Alignment(wrap_text=True, vertical="top")
    ws["A1"].font = Font(bold=True, size=14)
    ws.column_dimensions["A"].width = 100
    _old_protect(ws)


def old_write(out_dir: Path, period, rows, stored, lang="zh", sheet_lang=None) -> list[Path]:
    sl = sheet_lang or lang
    index = {(sheet, r["row"]): r for sheet, lst in rows.items() for r in lst}
    by_assignee: dict[str, list[dict]] = defaultdict(list)
    rejections: list[dict] = []
    for e in stored["exceptions"]:
        if e["type"] == "review":
            by_assignee[e["assignee_id"]].append(e)
        else:
            rejections.append(e)
    assignees = set(by_assignee) | ({HR} if rejections else set())
    stems = _stems(assignees)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for assignee in sorted(assignees, key=lambda a: (a != HR, a)):
        mine = by_assignee.get(assignee, [])
        theirs = rejections if assignee == HR else []
        wb = Workbook()
        ws = wb.active
        ws.title = _sheet_title(lang)
        _old_reviews_sheet(ws, mine, assignee, index, lang, sl)
        if theirs:
            _old_rejections_sheet(wb.create_sheet(label(lang, "rv_rejections")), theirs, index,
                                  lang, sl)
        _old_guide(wb.create_sheet(label(lang, "rv_guide")), lang, assignee, period, len(mine),
                   len(theirs))
        path = out_dir / f"{stems[assignee]}.xlsx"
        wb.save(path)
        written.append(path)
    return written


# ----------------------------------------------------------------------------- comparing files

def _cell_facts(c, looks: dict) -> tuple:
    # A cell's style attributes are proxies that compare by identity: compare copies, made
    # once per style of the workbook.
    key = c.style_id
    look = looks.get(key)
    if look is None:
        look = looks[key] = (c.has_style, copy(c.font), copy(c.fill), copy(c.alignment),
                             copy(c.protection), copy(c.border), c.number_format, c.quotePrefix)
    return (c.coordinate, c.value, c.data_type) + look


def _dv_facts(dv) -> tuple:
    return (str(dv.sqref), dv.type, dv.formula1, dv.formula2, dv.allow_blank,
            dv.showErrorMessage, dv.showInputMessage, dv.showDropDown, dv.errorTitle, dv.error,
            dv.promptTitle, dv.prompt, dv.errorStyle, dv.operator)


def _sheet_facts(ws, looks: dict) -> dict:
    return {
        "dimensions": ws.dimensions,
        "cells": [_cell_facts(c, looks) for row in ws.iter_rows() for c in row],
        "cols": {k: (d.width, d.customWidth, d.hidden) for k, d in ws.column_dimensions.items()},
        "rows": {k: (d.ht, d.customHeight) for k, d in ws.row_dimensions.items()},
        "freeze": ws.freeze_panes,
        "views": ws.views,
        "filter": ws.auto_filter.ref,
        "protection": ws.protection,
        "dropdowns": [_dv_facts(dv) for dv in ws.data_validations.dataValidation],
        "names": {k: v.attr_text for k, v in ws.defined_names.items()},
    }


_STYLE_ID = re.compile(r' s="\d+"')


def assert_same_workbook(old: Path, new: Path) -> None:
    wo, wn = openpyxl.load_workbook(old), openpyxl.load_workbook(new)
    assert wn.sheetnames == wo.sheetnames
    looks_old, looks_new = {}, {}
    for name in wo.sheetnames:
        assert _sheet_facts(wn[name], looks_new) == _sheet_facts(wo[name], looks_old), (
            new.name, name)
    co, cn = CalamineWorkbook.from_path(str(old)), CalamineWorkbook.from_path(str(new))
    for name in wo.sheetnames:
        assert (cn.get_sheet_by_name(name).to_python()
                == co.get_sheet_by_name(name).to_python()), (new.name, name)
    with zipfile.ZipFile(old) as zo, zipfile.ZipFile(new) as zn:
        assert zn.testzip() is None
        assert zn.namelist() == zo.namelist()
        for part in zo.namelist():
            a, b = zo.read(part), zn.read(part)
            if part.startswith("xl/worksheets/"):
                a, b = _STYLE_ID.sub("", a.decode()), _STYLE_ID.sub("", b.decode())
            elif part in ("xl/styles.xml", "docProps/core.xml"):   # more styles; timestamps
                continue
            assert b == a, (new.name, part)


def assert_same_output(tmp_path: Path, period, rows, stored, lang, sheet_lang=None) -> list[Path]:
    old = old_write(tmp_path / "old", period, rows, stored, lang, sheet_lang)
    new = reviews.write(tmp_path / "new", period, rows, stored, lang, sheet_lang)
    assert [p.name for p in new] == [p.name for p in old]
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == sorted(p.name for p in old)
    for o, n in zip(old, new):
        assert_same_workbook(o, n)
    return new


# ----------------------------------------------------------------------------- awkward items

AWKWARD = [
    '=HYPERLINK("http://x","y")', "+cmd|calc", "-1", "@SUM(1,1)", "\t=tab",
    "  padded  ", "", "a & b < c > d", "line one\nline two\nthree", "line\t\ttab",
    "控制\x01字符\x0b去掉", "非字符\ufffe", "全角ＡＢＣ１２３と한글", "trailing\u3000", "\u3000lead",
    "x" * 200, "宽" * 50, "<script>alert(1)</script>", '"quoted"', "emoji 🙂 wide?",
]
# Text openpyxl's writer (the oracle) leaves to the reader's mercy, and the shared escaper keeps:
# `_xHHHH_` unescaped (Excel and calamine read "_x0041_" as "A"), a carriage return inside the
# text written raw (an XML parser reads it as "\n"), whitespace-only text without
# xml:space="preserve" (openpyxl marks only edge spaces around other text).
GARBLED = ["_x0041_ stays?", "line two\r\nthree", "\r=cr", "   ", "\t"]


def awkward_case(seed: int, n_items: int = 60):
    """rows and stored exceptions with every kind of text a ledger can bring into a review
    workbook: formulas, XML specials, characters XML cannot hold, edge spaces, wide text,
    a cited value past the 32,000-character cut, unknown kinds, odd assignee ids."""
    rng = random.Random(seed)
    pick = rng.choice
    rows = {
        "InternalRatings": [{"row": r, "rating_id": f"IR{r}", "rater_id": pick(AWKWARD),
                             "ratee_dept_id": "D1", "dimension": pick(AWKWARD),
                             "score": Decimal(rng.choice(["1", "5", "4.50"])),
                             "comment": pick(AWKWARD + [None])} for r in range(2, 40)],
        "Behaviours": [{"row": r, "event_id": pick(AWKWARD), "employee_id": "E1",
                        "behaviour_code": "LEAD", "points": Decimal(2), "proposer_id": "E2",
                        "project_id": None, "evidence": "长" * 40_000 if r == 2 else pick(AWKWARD),
                        "note": None} for r in range(2, 12)],
        "Interlocks": [{"row": 2, "metric_id": "X1", "name": "=1+1", "target": Decimal(100),
                        "actual": Decimal(90), "direction": "higher", "bonus_points": Decimal(4),
                        "penalty_points": Decimal(4), "severe_miss_ratio": None}],
    }
    kinds = list(KIND_BY_NAME) + ["NOT_A_KIND"]
    assignees = ["E1", "E/1", "CON", "张三", "张_三", "a", "A", "-lead", "=E9", " E2", HR]
    exceptions = []
    for i in range(n_items):
        kind = pick(kinds)
        info = KIND_BY_NAME.get(kind)
        is_review = info.type == "review" if info else rng.random() < 0.5
        sheet = pick(["InternalRatings", "Behaviours", "Interlocks", "Missing"])
        sources = [(sheet, rng.randint(2, 41)) for _ in range(rng.choice([0, 1, 1, 2, 3]))]
        exceptions.append({
            "review_id": f"R{i:04x}" if i % 7 else pick(AWKWARD) or "R",
            "kind": kind, "type": "review" if is_review else "rejection",
            "subject_id": pick(AWKWARD + ["D1", "E1", None]),
            "assignee_id": pick(assignees) if is_review else HR,
            "status": pick(["open", "confirmed", "overturned"]),
            "sources": sources,
            "message": pick(AWKWARD),
        })
    return rows, {"exceptions": exceptions}


@pytest.mark.parametrize("lang, sheet_lang", [("zh", None), ("en", None), ("en", "zh")])
def test_awkward_items_write_the_same_workbooks(tmp_path, lang, sheet_lang):
    rows, stored = awkward_case(seed=len(lang) + len(sheet_lang or ""))
    new = assert_same_output(tmp_path, PERIOD, rows, stored, lang, sheet_lang)
    assert len(new) >= 8 and any(p.name.startswith("CON-") for p in new)


def test_hr_with_rejections_only_and_single_items(tmp_path):
    # HR's reviews sheet empty (no dropdown, filter over an empty row), single-item dropdowns,
    # and a company with reviews but no rejections (no HR workbook, no rejections sheet).
    rows, stored = awkward_case(seed=5, n_items=30)
    ex = stored["exceptions"]
    for e in ex:
        if e["type"] == "review":
            e["assignee_id"] = e["review_id"][:3] if e["review_id"].startswith("R") else "E1"
    assert_same_output(tmp_path / "a", PERIOD, rows, {"exceptions": ex}, "zh")
    reviews_only = [e for e in ex if e["type"] == "review"]
    new = assert_same_output(tmp_path / "b", PERIOD, rows, {"exceptions": reviews_only}, "en")
    assert "HR.xlsx" not in [p.name for p in new]
    hr_only = [dict(e, assignee_id=HR) for e in reviews_only[:1]] + [
        e for e in ex if e["type"] != "review"]
    assert_same_output(tmp_path / "c", PERIOD, rows, {"exceptions": hr_only}, "zh")
    assert reviews.write(tmp_path / "d", PERIOD, rows, {"exceptions": []}, "zh") == []


def test_text_the_former_writer_garbled_reads_back_as_written(tmp_path):
    rows = {"InternalRatings": [
        {"row": 2 + i, "rating_id": f"IR{i}", "rater_id": t, "ratee_dept_id": "D1",
         "dimension": "d", "score": Decimal(3), "comment": None} for i, t in enumerate(GARBLED)]}
    exceptions = [{"review_id": f"R{i}", "kind": "RATING_EXTREME", "type": "review",
                   "subject_id": t, "assignee_id": "E1", "status": "open",
                   "sources": [("InternalRatings", 2 + i)], "message": t}
                  for i, t in enumerate(GARBLED)]
    [path] = reviews.write(tmp_path, PERIOD, rows, {"exceptions": exceptions}, "en")
    # calamine: what Excel shows and `xietong decisions` reads
    got = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Reviews").to_python()
    assert [r[6] for r in got[1:]] == GARBLED                       # subject
    assert [r[10] for r in got[1:]] == GARBLED                      # message
    assert [r[9] for r in got[1:]] == [
        "InternalRatings!2: rating_id=IR0; rater_id=_x0041_ stays?; ratee_dept_id=D1; "
        "dimension=d; score=3",
        "InternalRatings!3: rating_id=IR1; rater_id=line two\r\nthree; ratee_dept_id=D1; "
        "dimension=d; score=3",
        "InternalRatings!4: rating_id=IR2; rater_id=\r=cr; ratee_dept_id=D1; dimension=d; "
        "score=3",
        "InternalRatings!5: rating_id=IR3; rater_id=   ; ratee_dept_id=D1; dimension=d; score=3",
        "InternalRatings!6: rating_id=IR4; rater_id=\t; ratee_dept_id=D1; dimension=d; score=3"]
    with zipfile.ZipFile(path) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert '<t>_x005F_x0041_ stays?</t>' in xml
    assert '<t xml:space="preserve">&#13;=cr</t>' in xml and "line two&#13;\nthree" in xml
    assert '<t xml:space="preserve">   </t>' in xml and '<t xml:space="preserve">\t</t>' in xml
    # a leading carriage return or tab is a formula lead: the quote prefix
    ws = openpyxl.load_workbook(path)["Reviews"]
    assert [c.quotePrefix for c in ws["G"][1:]] == [False, False, True, False, True]


# ----------------------------------------------------------------------------- a real company

def _run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    assert code == 0, err.getvalue()


def test_generated_company_writes_the_same_workbooks(tmp_path):
    from sqlmodel import Session, create_engine
    from evaluator.runs import latest_run, load_run
    from evaluator.store import load_rows
    ledger = tmp_path / "ledger.xlsx"
    write_sample_ledger(ledger, 120, PERIOD, seed=7)
    url = f"sqlite:///{tmp_path / 'x.db'}"
    _run("run", ledger, "--period", PERIOD, "--out", tmp_path / "out", "--db", url,
         "--format", "json")
    engine = create_engine(url)
    with Session(engine) as session:
        run = latest_run(session, PERIOD)
        stored = load_run(session, run)
        rows = load_rows(session, run.import_id)
    engine.dispose()
    n_reviews = sum(e["type"] == "review" for e in stored["exceptions"])
    assert n_reviews > 10 and len(stored["exceptions"]) > n_reviews
    for lang in ("zh", "en"):
        assert_same_output(tmp_path / lang, PERIOD, rows, stored, lang, "zh")
