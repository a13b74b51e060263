"""reviews/<assignee>.xlsx, written from one openpyxl skeleton per kind of workbook
(reports/reviews.py), holds exactly what the plain writer — one openpyxl Workbook built and
saved per assignee — produces: the same files, sheets, cell values and types, styles, locks,
dropdowns, widths, row heights, filters, protection, page setup and printed header, document
title and stamp (custom properties).

The plain writer is kept below as the oracle: the same rows (reports.reviews._Items makes the
values of a row; tests/test_reports.py and tests/test_people_outputs.py check them cell by
cell), laid out with openpyxl's own calls and the straightforward helpers (column_widths,
wrapped_lines). Each pair of files is compared three ways: as openpyxl reads them (every cell's
value, type and resolved style; the sheet's settings), as python-calamine reads them (what
`xietong decisions` reads), and as XML text (worksheets with their style ids taken out, and
workbook.xml and the custom properties: the same bytes).

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
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl import Workbook
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Font, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.page import PageMargins
from python_calamine import CalamineWorkbook

from importers import stamp
from importers.spooled import SpooledRows, close_spooled
from xietong.cli import main
from xietong.sample import write_sample_ledger
from importers.schema import ENUM_ZH
from reports import reviews
from reports.labels import label
from reports.reviews import (_REJECTION_WIDEST, _REJECTION_WRAP, _REVIEW_WIDEST, _REVIEW_WRAP,
                             EDITABLE_FILL, HUB_KEYS, LOCKED_FILL, LOCKED_FONT, MARGINS,
                             REJECTION_KEYS, REVIEW_KEYS, TOP, WRAP, _Items, _sheet_title,
                             _stems, _titles)
from reports.workbook import (clean_text, column_widths, header, landscape, put_text,
                              wrapped_lines)
from rules.exceptions import HR, KIND_BY_NAME
from tests.ledgers import PERIOD, spooled

ISSUED = datetime(2026, 12, 4, 9, 30, 15, 123456, tzinfo=timezone.utc)

# ----------------------------------------------------------------------------- the plain writer


def _fill(ws, values, editable=(), wrapped=()) -> None:
    """Rows from row 2, every cell styled: editable (unlocked, yellow) or locked and grey;
    wrapped or top-aligned (0-based columns)."""
    for i, v in enumerate(values, 2):
        for j, x in enumerate(v):
            c = ws.cell(row=i, column=j + 1)
            put_text(c, x)
            if j in editable:
                c.protection = Protection(locked=False)
                c.fill = EDITABLE_FILL
            else:
                c.fill = LOCKED_FILL
                c.font = LOCKED_FONT
            c.alignment = WRAP if j in wrapped else TOP


def _size(ws, titles, values, maximum=None, at_least=None, wrapped=(), number_cols=()) -> None:
    widths = column_widths(titles, values, maximum=maximum, at_least=at_least,
                           number_cols=number_cols)
    for j, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(j)].width = w
    for i, v in enumerate(values, 2):
        lines = max((wrapped_lines(v[j], widths[j]) for j in wrapped), default=0)
        if lines > 1:
            ws.row_dimensions[i].height = lines * 15.0


def _protect(ws) -> None:
    p = ws.protection
    p.sheet = True
    p.autoFilter = False
    p.sort = False
    p.formatColumns = False
    p.formatRows = False
    p.selectLockedCells = False
    p.selectUnlockedCells = False


def _table(ws, titles, values, freeze="B2") -> None:
    ws.freeze_panes = freeze
    ws.auto_filter.ref = f"A1:{get_column_letter(len(titles))}{max(len(values) + 1, 2)}"
    _protect(ws)
    landscape(ws)
    ws.page_margins = PageMargins(**MARGINS)


def plain_write(out_dir: Path, period, rows, stored, lang="zh", sheet_lang=None,
                issued_at=ISSUED, emails=None) -> list[Path]:
    items = _Items(stored, rows, lang, sheet_lang or lang)
    by_assignee: dict[str, list[dict]] = defaultdict(list)
    rejections: list[dict] = []
    for e in stored["exceptions"]:
        if e["type"] == "review":
            by_assignee[e["assignee_id"]].append(e)
        else:
            rejections.append(e)
    assignees = set(by_assignee) | ({HR} if by_assignee or rejections else set())
    order = sorted(assignees, key=lambda a: (a != HR, a))
    stems = _stems(assignees)
    dept_of = {r["employee_id"]: r.get("dept_id") for r in rows.get("Employees", ())}
    run_id = (stored.get("run") or {}).get("id")
    run = "?" if run_id is None else run_id
    at = issued_at.strftime("%Y-%m-%d %H:%M")
    values = {a: [items.review_row(e, a) for e in by_assignee.get(a, ())] for a in order}
    n_open = {a: sum(items.status(e) == "open" for e in by_assignee.get(a, ())) for a in order}
    words = ENUM_ZH["decision"] if lang == "zh" else {"confirm": "confirm", "overturn": "overturn"}
    choices = ",".join((words["confirm"], words["overturn"]))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for assignee in order:
        mine = values[assignee]
        theirs = rejections if assignee == HR else []
        name = items.names.of_person(assignee, lang)
        title = label(lang, "rv_list_title", name=name or assignee, who=assignee, period=period)
        wb = Workbook()
        ws = wb.active
        ws.title = _sheet_title(lang)
        titles = _titles(lang, REVIEW_KEYS)
        header(ws, titles)
        _fill(ws, mine, editable=(6, 7), wrapped=_REVIEW_WRAP)
        if mine:
            dv = DataValidation(type="list", formula1=f'"{choices}"', allow_blank=True,
                                showErrorMessage=True, errorTitle=label(lang, "rv_dv_title"),
                                error=label(lang, "rv_dv_error", items=choices))
            dv.add(f"G2:G{len(mine) + 1}")
            ws.data_validations.append(dv)
        _size(ws, titles, mine, maximum=_REVIEW_WIDEST, at_least={0: 12, 6: 10, 7: 20},
              wrapped=_REVIEW_WRAP)
        _table(ws, titles, mine)
        ws.oddHeader.left.text = reviews.print_header(title)
        ws.oddHeader.right.text = label(lang, "rv_print_right", run=run, at=at)
        if theirs:
            rj = wb.create_sheet(label(lang, "rv_rejections"))
            rtitles = _titles(lang, REJECTION_KEYS)
            header(rj, rtitles)
            rvalues = [items.rejection_row(e) for e in theirs]
            _fill(rj, rvalues, wrapped=_REJECTION_WRAP)
            _size(rj, rtitles, rvalues, maximum=_REJECTION_WIDEST, at_least={0: 12},
                  wrapped=_REJECTION_WRAP)
            _table(rj, rtitles, rvalues)
        if assignee == HR:
            hub = wb.create_sheet(label(lang, "rv_hub"))
            htitles = [label(lang, k) for k in HUB_KEYS]
            header(hub, htitles)
            hvalues = [[a, items.names.of_person(a, lang),
                        items.names.departments.get(dept_of.get(a), "")
                        if a != HR else "", (emails or {}).get(a, ""), f"{stems[a]}.xlsx",
                        len(values[a]), n_open[a]] for a in order]
            _fill(hub, hvalues)
            _size(hub, htitles, hvalues, number_cols=(5, 6))
            _table(hub, htitles, hvalues, freeze="A2")
        n = n_open[assignee]
        counts = (label(lang, "rv_open_counts_hr", n=len(mine), open=n, decided=len(mine) - n,
                        j=len(theirs)) if assignee == HR else
                  label(lang, "rv_open_counts", n=len(mine), open=n, decided=len(mine) - n))
        lines = [title, label(lang, "rv_stamp", run=run, at=at), counts,
                 label(lang, "rv_howto", period=period), label(lang, "rv_howto_decided"),
                 label(lang, "rv_meaning")]
        if theirs:
            lines.append(label(lang, "rv_rejections_howto"))
        if assignee == HR:
            lines.append(label(lang, "rv_hub_howto"))
        guide = wb.create_sheet(label(lang, "rv_guide"))
        for i, text in enumerate(lines, 1):
            c = guide.cell(row=i, column=1)
            put_text(c, text)
            c.alignment = Alignment(wrap_text=True, vertical="top")
        guide["A1"].font = Font(bold=True, size=14)
        guide.column_dimensions["A"].width = 100
        _protect(guide)
        for key, value in ((stamp.RUN, "" if run_id is None else str(run_id)),
                           (stamp.PERIOD, period), (stamp.ASSIGNEE, assignee),
                           (stamp.ISSUED_AT, issued_at.isoformat())):
            wb.custom_doc_props.append(StringProperty(name=key, value=value))
        wb.properties.title = clean_text(title)          # what an XML part can hold
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
        "print": (ws.print_title_rows, ws.page_setup.orientation, ws.page_setup.fitToWidth,
                  ws.page_setup.fitToHeight, ws.sheet_properties.pageSetUpPr.fitToPage,
                  ws.page_margins.left, ws.oddHeader.left.text, ws.oddHeader.right.text),
    }


_STYLE_ID = re.compile(r' s="\d+"')


def assert_same_workbook(old: Path, new: Path) -> None:
    wo, wn = openpyxl.load_workbook(old), openpyxl.load_workbook(new)
    assert wn.sheetnames == wo.sheetnames
    assert wn.properties.title == wo.properties.title
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


def assert_same_output(tmp_path: Path, period, rows, stored, lang, sheet_lang=None,
                       emails=None) -> list[Path]:
    old = plain_write(tmp_path / "old", period, rows, stored, lang, sheet_lang, emails=emails)
    new = reviews.write(tmp_path / "new", period, rows, stored, lang, sheet_lang,
                        issued_at=ISSUED, emails=emails)
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
    """rows and a stored run with every kind of text a ledger can bring into a review
    workbook: formulas, XML specials, characters XML cannot hold, edge spaces, wide text,
    a cited value past the 32,000-character cut, unknown kinds, odd assignee ids and names,
    decisions by the assignee and by HR with such comments."""
    rng = random.Random(seed)
    pick = rng.choice
    assignees = ["E1", "E/1", "CON", "张三", "张_三", "a", "A", "-lead", "=E9", " E2", HR]
    rows = {
        "Employees": [{"row": r, "employee_id": who, "name": pick(AWKWARD), "dept_id": "D1",
                       "manager_id": None, "base_score": None}
                      for r, who in enumerate(assignees[:-2], 2)],
        "Departments": [{"row": 2, "dept_id": "D1", "name": pick(AWKWARD), "tier": "back",
                         "manager_id": None, "base_score": Decimal(70)}],
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
    decisions = {}
    for i, e in enumerate(exceptions):
        if e["type"] == "review" and rng.random() < 0.5:
            decisions[e["review_id"]] = {
                "id": i, "seq": 100 + i, "value": pick(["confirm", "overturn"]),
                "comment": pick(AWKWARD + [None]), "by": pick([e["assignee_id"], HR]),
                "at": datetime(2026, 12, 1, 8, i % 60, tzinfo=timezone.utc), "account": None,
                "file_name": "x.xlsx", "sheet": "Reviews", "row": i + 2}
    return rows, {"exceptions": exceptions, "run": {"id": 7}, "decisions": decisions,
                  "current_decisions": decisions}


@pytest.mark.parametrize("lang, sheet_lang, group", [("zh", None, None), ("en", None, None),
                                                     ("en", "zh", None), ("zh", None, 1),
                                                     ("en", "zh", 7)])
def test_awkward_items_write_the_same_workbooks(tmp_path, lang, sheet_lang, group, monkeypatch):
    # `group`: the workbooks written a few assignees' items at a time (reviews.GROUP_ITEMS;
    # one assignee with more is a group of one): the same files
    if group is not None:
        monkeypatch.setattr(reviews, "GROUP_ITEMS", group)
    rows, stored = awkward_case(seed=len(lang) + len(sheet_lang or ""))
    emails = {"E1": "e1@example.com", "=E9": "=x@example.com", "CON": "con@example.com"}
    new = assert_same_output(tmp_path, PERIOD, rows, stored, lang, sheet_lang, emails=emails)
    assert len(new) >= 8 and any(p.name.startswith("CON-") for p in new)
    # what the awkward case covers: prefilled and recorded decisions, HR's list with e-mails
    prefilled = [r for p in new for r in openpyxl.load_workbook(p).worksheets[0].iter_rows(
        min_row=2, values_only=True) if r[6] is not None]
    assert prefilled and all(r[10] for r in prefilled)
    hub = openpyxl.load_workbook(new[0]).worksheets[-2]
    assert new[0].name == "HR.xlsx" and set(emails.values()) & {c.value for c in hub["D"]}


@pytest.mark.parametrize("group", [1, 7])
def test_cited_rows_are_held_a_group_at_a_time(tmp_path, group, monkeypatch):
    # the rating and behaviour sheets on files, as a run hands them over: each group of
    # assignees reads the rows its items cite and forgets the group's before (what the writer
    # holds is a group's, whatever the company's size) — and the files are the same
    monkeypatch.setattr(reviews, "GROUP_ITEMS", group)
    plain_rows, stored = awkward_case(seed=11)
    rows = spooled(plain_rows)
    on_files = {(s, r["row"]) for s, lst in plain_rows.items()
                if isinstance(rows[s], SpooledRows) for r in lst}
    held_per_group = []
    read_group = reviews._Items.read_group

    def recording(self, items):
        items = list(items)
        read_group(self, items)
        cited = {(s, r) for e in items for s, r in e["sources"] if (s, r) in on_files}
        held_per_group.append((set(self.cited.index.fetched), cited))
    monkeypatch.setattr(reviews._Items, "read_group", recording)
    try:
        assert_same_output(tmp_path, PERIOD, rows, stored, "zh")
    finally:
        close_spooled(rows)
    assert len(held_per_group) > 3
    for fetched, cited in held_per_group:
        assert fetched == cited
    assert sum(bool(cited) for _, cited in held_per_group) > 1


def test_hr_with_rejections_only_and_single_items(tmp_path):
    # HR's reviews sheet empty (no dropdown, filter over an empty row), single-item dropdowns,
    # a company with reviews but no rejections (HR's workbook lists the others, without a
    # rejections sheet), a run without decisions (the statuses are the run's).
    rows, stored = awkward_case(seed=5, n_items=30)
    ex = stored["exceptions"]
    for e in ex:
        if e["type"] == "review":
            e["assignee_id"] = e["review_id"][:3] if e["review_id"].startswith("R") else "E1"
    assert_same_output(tmp_path / "a", PERIOD, rows, {"exceptions": ex}, "zh")
    reviews_only = [e for e in ex if e["type"] == "review"]
    new = assert_same_output(tmp_path / "b", PERIOD, rows, {"exceptions": reviews_only}, "en")
    assert new[0].name == "HR.xlsx"
    assert openpyxl.load_workbook(new[0]).sheetnames == ["Reviews", "Workbooks", "Guide"]
    hr_only = [dict(e, assignee_id=HR) for e in reviews_only[:1]] + [
        e for e in ex if e["type"] != "review"]
    assert_same_output(tmp_path / "c", PERIOD, rows, {"exceptions": hr_only}, "zh")
    assert reviews.write(tmp_path / "d", PERIOD, rows, {"exceptions": []}, "zh") == []
    # rejections and no review item: HR's workbook alone, listing them
    rejections_only = [e for e in ex if e["type"] != "review"]
    new = assert_same_output(tmp_path / "e", PERIOD, rows, {"exceptions": rejections_only}, "en")
    assert [p.name for p in new] == ["HR.xlsx"]


def test_text_openpyxls_writer_garbles_reads_back_as_written(tmp_path):
    rows = {"InternalRatings": [
        {"row": 2 + i, "rating_id": f"IR{i}", "rater_id": t, "ratee_dept_id": "D1",
         "dimension": "d", "score": Decimal(3), "comment": None} for i, t in enumerate(GARBLED)]}
    exceptions = [{"review_id": f"R{i}", "kind": "RATING_EXTREME", "type": "review",
                   "subject_id": t, "assignee_id": "E1", "status": "open",
                   "sources": [("InternalRatings", 2 + i)], "message": t}
                  for i, t in enumerate(GARBLED)]
    hr, path = reviews.write(tmp_path, PERIOD, rows, {"exceptions": exceptions}, "en")
    assert hr.name == "HR.xlsx"
    # calamine: what Excel shows and `xietong decisions` reads
    got = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Reviews").to_python()
    assert [r[1] for r in got[1:]] == GARBLED                       # subject
    assert [r[3] for r in got[1:]] == GARBLED                       # message
    assert [r[5] for r in got[1:]] == [
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
    assert [c.quotePrefix for c in ws["B"][1:]] == [False, False, True, False, True]


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


def test_counts_take_each_items_status_as_of_now():
    # the summary's figures: review items, of them open now, rejections — without decisions
    # the run's own statuses; with them, an item is open unless its current decision confirms
    # or overturns it (a decision of another value leaves it open)
    ex = [{"type": "review", "review_id": "R1", "status": "open"},
          {"type": "review", "review_id": "R2", "status": "confirmed"},
          {"type": "review", "review_id": "R3", "status": "open"},
          {"type": "review", "review_id": "R4", "status": "open"},
          {"type": "rejection", "review_id": None, "status": "rejected"}]
    assert reviews.counts({"exceptions": ex}) == (4, 3, 1)
    current = {"R1": {"value": "confirm"}, "R2": {"value": "maybe"}, "R4": {"value": "overturn"}}
    assert reviews.counts({"exceptions": ex, "current_decisions": current}) == (4, 2, 1)
    assert [reviews.status_now(e, current) for e in ex[:4]] == [
        "confirmed", "open", "open", "overturned"]


def test_in_groups_keeps_the_order_and_the_limit():
    # consecutive keys while their sizes add up to the limit; a key bigger than the limit is a
    # group of its own; a limit met exactly closes no group early (worked out by hand)
    sizes = {"a": 2, "b": 2, "c": 5, "d": 1, "e": 1, "f": 3}
    assert list(reviews.in_groups("abcdef", sizes.get, 4)) == [
        ["a", "b"], ["c"], ["d", "e"], ["f"]]
    assert list(reviews.in_groups("abcdef", sizes.get, 100)) == [list("abcdef")]
    assert list(reviews.in_groups("", sizes.get, 4)) == []
