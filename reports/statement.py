"""statement.xlsx (SPEC §8): the period's scores for HR, in Chinese or English.

Sheets:
- 部门得分 / Departments: dept id, name, tier, base, one column per mechanism (linkage,
  peripheral, raci, interlock), final, and 说明 / notes saying why a mechanism did not apply
  (reports/why_not.py). Base + the four mechanisms = final on every row: the numbers are sums of
  the stored adjustments (rules/finals.py), never recomputed.
- 员工得分 / Employees: id, name, department, base, behaviour points after the cap, final
  (blank when the employee has no base), notes.
- 未计入说明 / Why not: one row per department and mechanism with a reason.
- 图表 / Chart: a native Excel bar chart of base vs final per department.
- 运行信息 / Run: the run the statement was read from.

Every sheet has a frozen header, an auto-filter, 0.00 number formats and widths sized for
Chinese text; all ledger text goes in as text (reports/xlsx.py). The employees sheet can hold
100k rows, so its rows are streamed (`FormattedBulkWriter`).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import column_index_from_string, get_column_letter

from reports import why_not
from reports.labels import label
from rules.finals import DEPT_MECHANISMS, finals
from reports.xlsx import BulkWriter, display_width, fit_width, put_text

NUMBER_FORMAT = "0.00"
WIDTH_SAMPLE_ROWS = 500          # widths are fitted to the first rows of a big sheet

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", start_color="305496", end_color="305496")
HEADER_ALIGN = Alignment(horizontal="center", vertical="center", wrap_text=True)
HEADER_BORDER = Border(bottom=Side(style="thin", color="1F3864"))
FINAL_FONT = Font(name="Calibri", bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")


# ----------------------------------------------------------------------------- fast, formatted

class FormattedBulkWriter(BulkWriter):
    """A `BulkWriter` whose number cells in chosen columns carry a number format.

    BulkWriter streams numbers without a style (General); a statement shows points as 0.00.
    The style id goes into the number cells of the chosen columns as the rows are written
    (text cells and dates are never restyled)."""

    def add_rows(self, ws, rows: Iterable[Sequence], ncols: int, first_row: int = 2,
                 formats: dict[str, str] | None = None, count: int | None = None,
                 render=None) -> None:
        """As BulkWriter.add_rows; `formats` maps a column letter to a number format."""
        super().add_rows(ws, rows, ncols, first_row, count, render)
        if formats:
            ids = {}
            for col, fmt in formats.items():
                cell = WriteOnlyCell(ws)
                cell.number_format = fmt
                ids[column_index_from_string(col) - 1] = cell.style_id
            self._set_number_styles(ws, ids)


# ----------------------------------------------------------------------------- helpers

def save(bulk: BulkWriter, path: Path) -> Path:
    """Save through the bulk writer with the file mode any other new file gets: BulkWriter
    writes a private temporary file (mode 0600) and renames it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    bulk.save(path)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
    return path


def header(ws, titles: list[str]) -> None:
    for j, title in enumerate(titles, 1):
        c = ws.cell(row=1, column=j)
        put_text(c, title)
        c.font, c.fill, c.alignment, c.border = HEADER_FONT, HEADER_FILL, HEADER_ALIGN, HEADER_BORDER
    ws.row_dimensions[1].height = 30


def fit_columns(ws, titles: list[str], rows: Sequence[Sequence], maximum: dict[int, float] | None = None,
                number_cols: Iterable[int] = ()) -> None:
    """Widths from the header and the first rows; number columns are at least 10 wide."""
    numbers = set(number_cols)
    sample = rows[:WIDTH_SAMPLE_ROWS]
    for j, title in enumerate(titles):
        values = [title] + [r[j] if isinstance(r[j], str) else
                            (f"{r[j]:.2f}" if isinstance(r[j], Decimal) else r[j]) for r in sample]
        width = fit_width(values, minimum=10 if j in numbers else 8,
                          maximum=(maximum or {}).get(j, 60))
        ws.column_dimensions[get_column_letter(j + 1)].width = width


def fit_heights(ws, values: Sequence[Sequence], col: int, line_height: float = 15.0) -> None:
    """Row heights for the wrapped text of column `col` (1-based): neither Excel nor LibreOffice
    grows a row for wrapped text written by a program until someone edits it."""
    width = ws.column_dimensions[get_column_letter(col)].width or 10
    per_line = max(width - 1, 1)
    for i, v in enumerate(values, 2):
        text = v[col - 1]
        if isinstance(text, str) and text:
            lines = sum(max(1, -(-display_width(part) // per_line)) for part in text.split("\n"))
            if lines > 1:
                ws.row_dimensions[i].height = lines * line_height


def landscape(ws) -> None:
    """Print a wide sheet across one page width (HR prints statements)."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.print_title_rows = "1:1"


def run_sheet(ws, lang: str, info: dict) -> None:
    """Two columns, item and value: the run the report was read from."""
    titles = [label(lang, "item"), label(lang, "value")]
    header(ws, titles)
    rows = [(label(lang, k), "" if v is None else str(v)) for k, v in info.items()]
    for i, (k, v) in enumerate(rows, 2):
        put_text(ws.cell(row=i, column=1), k)
        put_text(ws.cell(row=i, column=2), v)
        ws.cell(row=i, column=2).alignment = Alignment(horizontal="left")
    ws.column_dimensions["A"].width = fit_width([titles[0]] + [k for k, _ in rows])
    ws.column_dimensions["B"].width = fit_width([titles[1]] + [v for _, v in rows], maximum=80)
    ws.freeze_panes = "A2"


def run_info(period: str, stored: dict, extra: dict | None = None) -> dict:
    """The run's identity as the reports show it (keys are label keys)."""
    run = stored["run"]
    info = {"period": period, "run_id": run.get("id"), "ledger_file": (extra or {}).get("ledger_file"),
            "file_sha256": run.get("file_sha256"), "policy_sha256": run.get("policy_sha256"),
            "rules_version": run.get("rules_version"), "program_version": run.get("program_version"),
            "decisions_digest": run.get("decisions_digest"),
            "started_at": _time(run.get("started_at")), "finished_at": _time(run.get("finished_at")),
            "firings_n": len(stored["firings"]), "adjustments_n": len(stored["adjustments"]),
            "exceptions_n": len(stored["exceptions"])}
    for k, v in (extra or {}).items():
        if k != "ledger_file":
            info[k] = v
    return info


def _time(v):
    return v.isoformat(timespec="seconds") if hasattr(v, "isoformat") else v


# ----------------------------------------------------------------------------- the workbook

def write(path: Path, period: str, rows: dict, stored: dict, lang: str = "zh",
          info: dict | None = None) -> Path:
    """Write statement.xlsx to `path`. `info`: extra run facts (ledger_file, chain status)."""
    st = finals(rows, stored["adjustments"])
    dept_reasons = why_not.department_reasons(rows, stored)
    emp_reasons = why_not.employee_reasons(stored)
    dept_names = {d["dept_id"]: d["name"] for d in rows.get("Departments", [])}

    wb = Workbook()
    bulk = FormattedBulkWriter(wb)

    # -- departments
    ws = wb.active
    ws.title = label(lang, "st_departments")
    titles = [label(lang, k) for k in ("dept_id", "dept_name", "tier", "base", *DEPT_MECHANISMS,
                                       "final", "notes")]
    header(ws, titles)
    values = []
    for d in st["departments"]:
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
    evalues = []
    for e in st["employees"]:
        notes = why_not.join(lang, emp_reasons.get(e["employee_id"], []))
        evalues.append((e["employee_id"], e["name"], e["dept_id"], dept_names.get(e["dept_id"], ""),
                        e["base"], e["behaviour"], e["final"], notes))
    fit_columns(es, etitles, evalues, number_cols=(4, 5, 6))
    landscape(es)
    es.freeze_panes = "C2"
    es.auto_filter.ref = f"A1:{get_column_letter(len(etitles))}{max(len(evalues) + 1, 2)}"
    bulk.add_rows(es, evalues, ncols=len(etitles),
                  formats={"E": NUMBER_FORMAT, "F": NUMBER_FORMAT, "G": NUMBER_FORMAT})

    # -- why not
    ws2 = wb.create_sheet(label(lang, "st_why_not"))
    wtitles = [label(lang, k) for k in ("dept_id", "dept_name", "mechanism", "applied", "reason")]
    header(ws2, wtitles)
    wvalues = []
    for dept in sorted(dept_reasons):
        for r in dept_reasons[dept]:
            wvalues.append([dept, dept_names.get(dept, ""), label(lang, r.mechanism),
                            label(lang, "yes" if r.applied else "no"), r.render(lang)])
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
    run_sheet(wb.create_sheet(label(lang, "st_run")), lang, run_info(period, stored, info))

    return save(bulk, path)


def summary(rows: dict) -> tuple[int, int]:
    """(departments, employees) — for the command line's one-line description."""
    return len(rows.get("Departments", [])), len(rows.get("Employees", []))

