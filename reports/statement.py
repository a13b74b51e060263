"""statement.xlsx (SPEC §8): the period's scores for HR, in Chinese or English.

Sheets:
- 部门得分 / Departments: dept id, name, tier, base, one column per mechanism (linkage,
  peripheral, raci, interlock), final, and 说明 / notes saying why a mechanism did not apply
  (reports/why_not.py). Base + the four mechanisms = final on every row: the numbers are sums of
  the stored adjustments (rules/finals.py), never recomputed.
- 员工得分 / Employees: id, name, department, base, behaviour points after the cap, final
  (blank when the employee has no base, and the notes say so), notes.
- 未计入说明 / Why not: one row per department and mechanism with a reason. 是否计入 / applied
  answers for what the reason describes (the header's note says so): 是 where the mechanism
  counted but left some ratings out of its average, 否 where what the row describes did not
  count — a metric that did not count is 否 even where another metric of the department did.
- 复核事项 / Reviews: every review item with the decision the run applied (SPEC §10.3): item,
  kind, subject and its name, assignee and their name, status, decision, comment, by whom, when
  (a date-time, UTC).
- 图表 / Chart: a native Excel bar chart of base vs final per department.
- 运行信息 / Run: the run the statement was read from, how many reviews are open, and whether
  the figures are provisional (reviews open, or the period open) or final (the period closed,
  SPEC §10.7). Counts are numbers, hashes and times text.

Every sheet has a frozen header, an auto-filter, 0.00 number formats and widths sized for
Chinese text; all ledger text goes in as text (reports/workbook.py), every number as a number.
The employees and reviews sheets can hold 100k and 30k rows, so their rows are streamed
(`BulkWriter`).
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from itertools import chain, islice
from pathlib import Path
from typing import Iterator

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from importers.columns import lookup
from importers.schema import ENUM_ZH
from reports import why_not
from reports.labels import label
from reports.view import run_info
from reports.workbook import (NUMBER_FORMAT, RUN_REPORT_ZLIB_LEVEL, BulkWriter, fit_columns,
                              WIDTH_SAMPLE_ROWS, fit_heights, header, item_sheet, landscape,
                              put_text)
from rules.exceptions import HR
from rules.finals import DEPT_MECHANISMS, finals_streamed

FINAL_FONT = Font(name="Calibri", bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")


# ----------------------------------------------------------------------------- the workbook

def write(path: Path, period: str, rows: dict, stored: dict, lang: str = "zh",
          info: dict | None = None, closed: dict | None = None) -> Path:
    """Write statement.xlsx to `path`. `info`: extra run facts (ledger_file, chain status);
    `closed`: {"at", "by"} when the period is closed (its figures are then final)."""
    departments, employees = finals_streamed(rows, stored["adjustments"])
    dept_reasons = why_not.department_reasons(rows, stored)
    emp_reasons = why_not.employee_reasons(stored)
    dept_names = {d["dept_id"]: d["name"] for d in rows.get("Departments", [])}
    no_base = label(lang, "no_base")

    wb = Workbook()
    bulk = BulkWriter(wb, compresslevel=RUN_REPORT_ZLIB_LEVEL)

    # -- departments
    ws = wb.active
    ws.title = label(lang, "st_departments")
    titles = [label(lang, k) for k in ("dept_id", "dept_name", "tier", "base", *DEPT_MECHANISMS,
                                       "final", "notes")]
    header(ws, titles)
    values = []
    for d in departments:
        notes = why_not.join(lang, dept_reasons.get(d["dept_id"], []))
        values.append([d["dept_id"], d["name"], label(lang, d["tier"]), d["base"],
                       *(d["by_mechanism"][m] for m in DEPT_MECHANISMS), d["final"], notes])
    for i, v in enumerate(values, 2):
        for j, x in enumerate(v, 1):
            c = ws.cell(row=i, column=j)
            put_text(c, x)
            if isinstance(x, Decimal):
                c.number_format = NUMBER_FORMAT
            c.alignment = WRAP if j == len(v) else TOP
            if j == len(v) - 1:
                c.font = FINAL_FONT
    last_dept_row = len(values) + 1
    ncols = len(titles)
    ws.freeze_panes = "C2"
    ws.auto_filter.ref = f"A1:{get_column_letter(ncols)}{last_dept_row}"
    fit_columns(ws, titles, values, maximum={ncols - 1: 70}, number_cols=range(3, 9))
    fit_heights(ws, values, ncols)
    landscape(ws)

    # -- employees (streamed: a big company has 100k)
    es = wb.create_sheet(label(lang, "st_employees"))
    etitles = [label(lang, k) for k in ("employee_id", "employee_name", "emp_dept", "emp_dept_name",
                                        "base", "behaviour_after_cap", "final", "notes")]
    header(es, etitles)

    def employee_rows():
        for e in employees:
            notes = why_not.join(lang, emp_reasons.get(e["employee_id"], []))
            if e["base"] is None:
                notes = no_base + (("；" if lang == "zh" else "; ") + notes if notes else "")
            yield (e["employee_id"], e["name"], e["dept_id"], dept_names.get(e["dept_id"], ""),
                   e["base"], e["behaviour"], e["final"], notes)

    # made as the sheet is saved, never all held (100,000 rows were 50 MB with their finals);
    # the widths come from the first rows (column_widths' sample)
    evalues = employee_rows()
    head = list(islice(evalues, WIDTH_SAMPLE_ROWS))
    n_employees = len(rows.get("Employees", ()))
    fit_columns(es, etitles, head, number_cols=(4, 5, 6))
    landscape(es)
    es.freeze_panes = "C2"
    es.auto_filter.ref = f"A1:{get_column_letter(len(etitles))}{max(n_employees + 1, 2)}"
    bulk.add_rows(es, chain(head, evalues), ncols=len(etitles), count=n_employees,
                  formats={"E": NUMBER_FORMAT, "F": NUMBER_FORMAT, "G": NUMBER_FORMAT})

    # -- why not
    ws2 = wb.create_sheet(label(lang, "st_why_not"))
    wtitles = [label(lang, k) for k in why_not.TABLE_KEYS]
    header(ws2, wtitles)
    wvalues = why_not.table(lang, dept_reasons, dept_names)
    for i, v in enumerate(wvalues, 2):
        for j, x in enumerate(v, 1):
            put_text(ws2.cell(row=i, column=j), x)
    ws2.freeze_panes = "C2"
    ws2.auto_filter.ref = f"A1:E{max(len(wvalues) + 1, 2)}"
    fit_columns(ws2, wtitles, wvalues, maximum={4: 80})
    fit_heights(ws2, wvalues, 5)
    for row in ws2.iter_rows(min_row=2, min_col=5, max_col=5):
        for c in row:
            c.alignment = WRAP
    applied = ws2.cell(row=1, column=why_not.TABLE_KEYS.index("applied") + 1)
    applied.comment = Comment(label(lang, "applied_rule"), "xietong", width=320, height=120)

    # -- reviews: every review item with the decision the run applied (SPEC §10.3)
    rs = wb.create_sheet(label(lang, "st_reviews"))
    rtitles = [label(lang, k) for k in REVIEW_KEYS]
    header(rs, rtitles)
    # made as the sheet is saved, as the employees' are (27,365 rows held were 3.5 MB at
    # 100,000 employees), counted first
    n_reviews, _ = open_reviews(stored)
    rvalues = review_rows(rows, stored, lang)
    head = list(islice(rvalues, WIDTH_SAMPLE_ROWS))
    fit_columns(rs, rtitles, head, maximum={8: 60})
    rs.column_dimensions[get_column_letter(len(rtitles))].width = 20
    rs.freeze_panes = "B2"
    rs.auto_filter.ref = f"A1:{get_column_letter(len(rtitles))}{max(n_reviews + 1, 2)}"
    landscape(rs)
    bulk.add_rows(rs, chain(head, rvalues), ncols=len(rtitles), count=n_reviews)

    # -- chart: base vs final per department, read from the departments sheet
    cs = wb.create_sheet(label(lang, "st_chart"))
    if values:
        chart = BarChart()
        chart.type = "col"
        chart.grouping = "clustered"
        chart.title = label(lang, "chart_title")
        chart.y_axis.title = label(lang, "chart_y")
        chart.x_axis.title = label(lang, "dept_name")
        base_col, final_col = 4, 4 + len(DEPT_MECHANISMS) + 1
        for col in (base_col, final_col):
            ref = Reference(ws, min_col=col, min_row=1, max_row=last_dept_row)
            chart.add_data(ref, titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=2, min_row=2, max_row=last_dept_row))
        chart.y_axis.numFmt = "0"
        chart.y_axis.delete = False
        chart.x_axis.delete = False
        chart.legend.position = "b"
        chart.width = min(60.0, max(18.0, 1.6 * len(values)))
        chart.height = 10.0
        cs.add_chart(chart, "A1")
        landscape(cs)

    # -- run
    item_sheet(wb.create_sheet(label(lang, "st_run")), [label(lang, "item"), label(lang, "value")],
               run_rows(lang, period, stored, info, closed))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return bulk.save(path)


REVIEW_KEYS = ("review_id", "kind", "subject", "subject_name", "assignee", "assignee_name",
               "status", "decision", "comment", "decided_by", "decided_at")


def review_rows(rows: dict, stored: dict, lang: str) -> Iterator[tuple]:
    """The Reviews sheet's rows (columns REVIEW_KEYS): each review item of the run in order,
    with the decision the run applied (stored["decisions"]); `at` a naive UTC date-time."""
    # looked up in the Employees columns (importers.columns.lookup): a dict of every
    # employee's name was 3.7 MB at 100,000 employees
    employees = lookup(rows.get("Employees", ()), "employee_id", "name")
    departments = {r["dept_id"]: r.get("name") or "" for r in rows.get("Departments", ())}
    decisions = stored.get("decisions") or {}
    words = ENUM_ZH["decision"] if lang == "zh" else {}
    statuses = {s: label(lang, s) for s in ("open", "confirmed", "overturned")}
    hr = label(lang, "hr_name")
    for e in stored["exceptions"]:
        if e["type"] != "review":
            continue
        subject, assignee = e["subject_id"], e["assignee_id"]
        subject_name = (employees.get(subject) if e["kind"].startswith("BEH_")
                        else departments.get(subject)) or ""
        d = decisions.get(e["review_id"])
        if d is None:
            decision = (None,) * 4
        else:
            at = d["at"]
            if at.tzinfo is not None:
                at = at.astimezone(timezone.utc).replace(tzinfo=None)
            decision = (words.get(d["value"], d["value"]), d["comment"], d["by"], at)
        yield (e["review_id"], e["kind"], subject, subject_name, assignee,
               hr if assignee == HR else employees.get(assignee) or "",
               statuses.get(e["status"], e["status"]), *decision)


def open_reviews(stored: dict) -> tuple[int, int]:
    """(review items, of them open) in the run: counted as the items are read (a list of them
    held 37 MB at 100,000 employees, where the exceptions are on a file)."""
    total = n_open = 0
    for e in stored["exceptions"]:
        if e["type"] == "review":
            total += 1
            n_open += e["status"] == "open"
    return total, n_open


def run_rows(lang: str, period: str, stored: dict, info: dict | None,
             closed: dict | None) -> list[tuple[str, object]]:
    """The Run sheet's (item, value) rows: the run's identity (reports/view.py run_info), then
    its review items, how many are open, and whether the figures are provisional or final.
    Counts and the run id are numbers; hashes and times are text."""
    out = []
    for key, value in run_info(period, stored, info).items():
        if value is None:
            value = ""
        elif not isinstance(value, int) or isinstance(value, bool):
            value = str(value)
        out.append((label(lang, key), value))
    total, n_open = open_reviews(stored)
    if closed:
        at = closed["at"]
        at = at.astimezone(timezone.utc) if isinstance(at, datetime) and at.tzinfo else at
        figures = label(lang, "figures_final", by=closed["by"],
                        at=at.strftime("%Y-%m-%d %H:%M") if isinstance(at, datetime) else at)
    elif n_open:
        figures = label(lang, "figures_provisional", n=n_open)
    else:
        figures = label(lang, "figures_provisional_decided")
    out += [(label(lang, "reviews_total"), total), (label(lang, "reviews_open"), n_open),
            (label(lang, "figures"), figures)]
    return out


def summary(rows: dict) -> tuple[int, int]:
    """(departments, employees) — for the command line's one-line description."""
    return len(rows.get("Departments", [])), len(rows.get("Employees", []))

