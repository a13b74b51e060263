"""The quarter's and the year's figures (SPEC §11.2): summary.json, summary.xlsx and summary.html
from the stored months of a range (evaluator/history.py reads them; here only plain dicts).

Per department and per employee, each month's base, adjustments by mechanism and final — the
sums of that month's stored adjustments (rules/finals.py), so every month equals its own
scores.json — and for the range:

- departments: `mean_final`, the mean of the months' finals;
- employees: `mean_final`, the mean of the finals of the months it had a base (null without
  any), and `behaviour_total`, the sum of its behaviour points (after each month's cap).

Means are exact, then rounded half up to the cent (SPEC §5.7's rounding). A month is `missing`
(no run), `provisional` (open: its figures can still change) or `final` (closed). A subject
absent from a month — the month has no run, or the subject is not in that month's ledger (a new
department, a leaver) — has that month with null figures and the state `missing`; the means
and the total count the months it has figures for.

summary.json is exactly SPEC §11.2's shape (months: [{"period", "state", "run_id",
"open_reviews"}]); points are numbers rounded to 2 decimals, as in scores.json. summary.xlsx:
an overview of the months, one sheet per subject type (finals by month, the mean), the
departments' monthly details and the employees' base by month, a sheet per mechanism (points by
month, the total), the feedback to the rated departments by month (SPEC §11.3) and a native line chart of the departments' monthly finals
(the 20 largest departments by headcount when there are more). summary.html: the same for
people, one self-contained file (no script, no network: a Content-Security-Policy allows only
its own style, pinned by hash), the chart as inline SVG.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Alignment

from evaluator.canonical import IndentedJSON
from reports import feedback
from reports.labels import label, sheet_name
from reports.workbook import (NUMBER_FORMAT, BulkWriter, fit_columns, header,
                              landscape, put_text)
from rules.finals import DEPT_MECHANISMS, finals

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
CHART_DEPARTMENTS = 20
STATES = ("missing", "provisional", "final")

WORDS: dict[str, tuple[str, str]] = {           # key: (zh, en)
    "sm_title": ("{range}协同绩效汇总", "Collaboration performance, {range}"),
    "sm_overview": ("概览", "Overview"),
    "sm_departments": ("部门", "Departments"),
    "sm_employees": ("员工", "Employees"),
    "sm_dept_months": ("部门月度明细", "Department months"),
    "sm_emp_base": ("员工基础分", "Employee base"),
    "sm_feedback": ("周边反馈", "Feedback"),
    "sm_feedback_points": ("反馈得分", "Feedback points"),
    "sm_chart": ("图表", "Chart"),
    "sm_chart_title": ("各部门月度最终得分", "Monthly final score per department"),
    "sm_chart_largest": ("人数最多的 {n} 个部门（共 {m} 个）", "the {n} largest of {m} departments"),
    "sm_range": ("汇总区间", "range"),
    "sm_month": ("月份", "month"),
    "sm_state": ("状态", "state"),
    "sm_open_reviews": ("待复核事项", "open reviews"),
    "sm_closed": ("关闭时间与操作人", "closed at, by"),
    "sm_mean_final": ("月度最终得分均值", "mean final"),
    "sm_behaviour_total": ("协同行为分合计", "behaviour total"),
    "sm_total": ("合计", "total"),
    "sm_months_n": ("有数据的月份", "months with figures"),
    "sm_no_chart": ("没有可绘制的月度得分", "no monthly figures to chart"),
    "sm_explanation_peripheral": ("周边绩效计算", "peripheral: how computed"),
    "sm_explanation_raci": ("责任矩阵计算", "RACI: how computed"),
    "sm_received": ("收到评价（周边 / 责任矩阵）", "ratings received (internal / RACI)"),
    "sm_counted": ("计入", "counted"),
    "sm_held": ("暂不计入", "held"),
    "sm_overturned": ("已撤销", "overturned"),
    "sm_html_months": ("月份与状态", "Months"),
    "sm_html_note": ("暂定 = 本月未关闭，结果仍可能变化；定稿 = 本月已关闭；缺失 = 本月没有评估。",
                     "provisional = the month is open and its figures can still change; final = "
                     "the month is closed; missing = the month has no run."),
    "missing": ("缺失", "missing"),
    "provisional": ("暂定", "provisional"),
    "final": ("定稿", "final"),
}


def word(lang: str, key: str, **kw) -> str:
    zh, en = WORDS[key]
    text = zh if lang == "zh" else en
    return text.format(**kw) if kw else text


def range_text(lang: str, range_label: str) -> str:
    """"2026-Q4" as people read it: 2026 年第 4 季度 / 2026-Q4; "2026": 2026 年 / 2026."""
    if lang != "zh":
        return range_label
    year, _, quarter = range_label.partition("-Q")
    return f"{year} 年第 {quarter} 季度" if quarter else f"{year} 年"


# ----------------------------------------------------------------------------- the figures

@dataclass
class Summary:
    range: str
    months: list[dict]          # {"period", "state", "run_id", "open_reviews", "closed"}
    departments: list[dict]     # {"dept_id", "name", "tier", "headcount", "months": {…}, "mean_final"}
    employees: list[dict]       # {"employee_id", "name", "dept_id", "months": {…}, "mean_final",
    #                              "behaviour_total"}
    feedback: list[dict] = field(default_factory=list)   # by department and month (§11.3)

    @property
    def periods(self) -> list[str]:
        return [m["period"] for m in self.months]

    def as_json_months(self) -> list[dict]:
        return [{"period": m["period"], "state": m["state"], "run_id": m["run_id"],
                 "open_reviews": m["open_reviews"]} for m in self.months]

    def as_json(self) -> dict:
        """summary.json (SPEC §11.2)."""
        return {
            "range": self.range,
            "months": self.as_json_months(),
            "departments": [{"dept_id": d["dept_id"], "name": d["name"],
                             "months": {p: _dept_month_json(x) for p, x in d["months"].items()},
                             "mean_final": _num(d["mean_final"])} for d in self.departments],
            "employees": [{"employee_id": e["employee_id"], "name": e["name"],
                           "months": {p: _emp_month_json(x) for p, x in e["months"].items()},
                           "mean_final": _num(e["mean_final"]),
                           "behaviour_total": _num(e["behaviour_total"])}
                          for e in self.employees],
        }


def _dept_month_json(x: dict) -> dict:
    by = x["by_mechanism"]
    return {"base": _num(x["base"]), "final": _num(x["final"]),
            "by_mechanism": None if by is None else {m: _num(v) for m, v in by.items()},
            "state": x["state"]}


def _emp_month_json(x: dict) -> dict:
    return {"base": _num(x["base"]), "behaviour": _num(x["behaviour"]),
            "final": _num(x["final"]), "state": x["state"]}


def _num(d: Decimal | None):
    return None if d is None else float(d.quantize(CENT))


def mean(values: list[Decimal]) -> Decimal | None:
    """The exact mean, rounded half up to the cent; None for no values."""
    if not values:
        return None
    return (sum(values, ZERO) / len(values)).quantize(CENT, ROUND_HALF_UP)


def build(range_label: str, months: list[dict], with_feedback: bool = True) -> Summary:
    """The summary of `months` (each: {"period", "state", "run", "open_reviews", "closed",
    "rows", "adjustments", "exceptions"}, as evaluator/history.py reads them)."""
    periods = [m["period"] for m in months]
    dept_months: dict[str, dict[str, dict]] = {}
    emp_months: dict[str, dict[str, dict]] = {}
    dept_info: dict[str, dict] = {}
    emp_info: dict[str, dict] = {}
    headcount: dict[str, int] = {}
    fb_rows: list[dict] = []
    for m in months:
        if m["state"] == "missing":
            continue
        p, state = m["period"], m["state"]
        st = finals(m["rows"], m["adjustments"])
        for d in st["departments"]:
            dept_months.setdefault(d["dept_id"], {})[p] = {
                "base": d["base"], "final": d["final"], "by_mechanism": dict(d["by_mechanism"]),
                "state": state}
            dept_info[d["dept_id"]] = {"name": d["name"], "tier": d["tier"]}   # latest wins
        for e in st["employees"]:
            emp_months.setdefault(e["employee_id"], {})[p] = {
                "base": e["base"], "behaviour": e["behaviour"], "final": e["final"],
                "state": state}
            emp_info[e["employee_id"]] = {"name": e["name"], "dept_id": e["dept_id"]}
        headcount = m.get("headcount") or Counter(e["dept_id"] for e in m["rows"]["Employees"])
        if with_feedback:
            fb_rows += _feedback_month(m)
    sizes = dict(headcount)             # the latest month's headcount
    departments = []
    for dept_id in sorted(dept_months):
        have = dept_months[dept_id]
        departments.append({
            "dept_id": dept_id, **dept_info[dept_id], "headcount": sizes.get(dept_id, 0),
            "months": {p: have.get(p) or {"base": None, "final": None, "by_mechanism": None,
                                          "state": "missing"} for p in periods},
            "mean_final": mean([x["final"] for x in have.values()]),
            # each mechanism's points over the range (the sheets per mechanism's "total")
            "total_by_mechanism": {k: sum((x["by_mechanism"][k] for x in have.values()), ZERO)
                                   for k in DEPT_MECHANISMS}})
    employees = []
    for employee_id in sorted(emp_months):
        have = emp_months[employee_id]
        employees.append({
            "employee_id": employee_id, **emp_info[employee_id],
            "months": {p: have.get(p) or {"base": None, "behaviour": None, "final": None,
                                          "state": "missing"} for p in periods},
            "mean_final": mean([x["final"] for x in have.values() if x["final"] is not None]),
            "behaviour_total": sum((x["behaviour"] for x in have.values()), ZERO)})
    month_list = [{"period": m["period"], "state": m["state"],
                   "run_id": m["run"]["id"] if m.get("run") else None,
                   "open_reviews": m.get("open_reviews", 0), "closed": m.get("closed")}
                  for m in months]
    return Summary(range_label, month_list, departments, employees, fb_rows)


def _feedback_month(m: dict) -> list[dict]:
    """The month's feedback per rated department: counts, dimension statistics, points."""
    stored = {"adjustments": m["adjustments"], "exceptions": m["exceptions"], "run": m["run"],
              "counted": m.get("counted")}
    out = []
    for dept_id, fb in feedback.build(m["rows"], stored, ratings=False).items():
        out.append({"dept_id": dept_id, "name": fb.name, "period": m["period"],
                    "state": m["state"], "received": dict(fb.received),
                    "counted": fb.count((feedback.COUNTED, feedback.COUNTED_REVIEWED,
                                         feedback.COUNTED_OPEN)),
                    "held": fb.count((feedback.HELD,)),
                    "overturned": fb.count((feedback.OVERTURNED,)),
                    "dimensions": fb.dimensions,
                    "peripheral": fb.peripheral, "raci": fb.raci})
    return out


def chart_departments(summary: Summary) -> list[dict]:
    """The departments the chart shows: all, or the CHART_DEPARTMENTS largest by headcount
    (ties by id), in id order."""
    depts = summary.departments
    if len(depts) > CHART_DEPARTMENTS:
        largest = sorted(depts, key=lambda d: (-d["headcount"], d["dept_id"]))[:CHART_DEPARTMENTS]
        keep = {d["dept_id"] for d in largest}
        depts = [d for d in depts if d["dept_id"] in keep]
    return depts


# ----------------------------------------------------------------------------- summary.json

def write_json(path: Path, summary: Summary) -> Path:
    """summary.json, exactly as json.dump(summary.as_json(), f, ensure_ascii=False, indent=1)
    writes it (tests/test_summary.py compares): the months of every subject, 120,000 small
    objects a year at 10,000 employees, are written from one template each (a general encoder
    took five times as long)."""
    number = _NumberText()
    key = _json_string
    out = ['{\n "range": ', key(summary.range), ',\n "months": ']
    out.append(IndentedJSON().value(summary.as_json_months(), 1))
    out.append(',\n "departments": ')
    _subjects(out, summary.departments, "dept_id", number, _dept_month_text, ("mean_final",))
    out.append(',\n "employees": ')
    _subjects(out, summary.employees, "employee_id", number, _emp_month_text,
              ("mean_final", "behaviour_total"))
    out.append("\n}\n")
    path = Path(path)
    path.write_text("".join(out), encoding="utf-8")
    return path


def _json_string(s) -> str:
    return json.dumps(s, ensure_ascii=False)


class _NumberText(dict):
    """Decimal (or None) → its JSON text as a 2-decimal number, as json writes the float: the
    values repeat (bases, 0.00), so each is worked out once."""

    def __missing__(self, d):
        text = "null" if d is None else repr(float(d.quantize(CENT)))
        self[d] = text
        return text


_SUBJECT_PAD = "\n  "


def _subjects(out: list, subjects: list[dict], id_key: str, number, month_text, tail) -> None:
    if not subjects:
        out.append("[]")
        return
    sep = "["
    for x in subjects:
        out.append(f'{sep}\n  {{\n   "{id_key}": {_json_string(x[id_key])},\n   "name": '
                   f'{_json_string(x["name"])},\n   "months": ')
        months = x["months"]
        if months:
            msep = "{"
            for p, m in months.items():
                out.append(f'{msep}\n    {_json_string(p)}: ')
                out.append(month_text(m, number))
                msep = ","
            out.append("\n   }")
        else:
            out.append("{}")
        for k in tail:
            out.append(f',\n   "{k}": {number[x[k]]}')
        out.append("\n  }")
        sep = ","
    out.append("\n ]")


def _dept_month_text(m: dict, number) -> str:
    by = m["by_mechanism"]
    if by is None:
        mech = "null"
    else:
        mech = "{" + ",".join(f'\n      "{k}": {number[v]}' for k, v in by.items()) + "\n     }"
    return (f'{{\n     "base": {number[m["base"]]},\n     "final": {number[m["final"]]},'
            f'\n     "by_mechanism": {mech},\n     "state": "{m["state"]}"\n    }}')


def _emp_month_text(m: dict, number) -> str:
    return (f'{{\n     "base": {number[m["base"]]},\n     "behaviour": '
            f'{number[m["behaviour"]]},\n     "final": {number[m["final"]]},\n     "state": '
            f'"{m["state"]}"\n    }}')


# ----------------------------------------------------------------------------- summary.xlsx

WRAP = Alignment(wrap_text=True, vertical="top")


def _month_title(lang: str, m: dict) -> str:
    return f"{m['period']} {word(lang, m['state'])}"


def write_xlsx(path: Path, summary: Summary, lang: str = "zh") -> Path:
    wb = Workbook()
    bulk = BulkWriter(wb)
    months = summary.months
    periods = summary.periods
    n = len(periods)
    month_titles = [_month_title(lang, m) for m in months]

    # -- overview: the range and its months
    ws = wb.active
    ws.title = word(lang, "sm_overview")
    titles = [word(lang, k) for k in ("sm_month", "sm_state")] + \
        [label(lang, "run_id"), word(lang, "sm_open_reviews"), word(lang, "sm_closed")]
    header(ws, titles)
    rows = [[m["period"], word(lang, m["state"]), m["run_id"],
             m["open_reviews"] if m["state"] != "missing" else None, _closed_text(m)]
            for m in months]
    _put_rows(ws, rows)
    fit_columns(ws, titles, rows)
    ws.freeze_panes = "A2"

    # -- departments: final by month, the mean
    ds = wb.create_sheet(word(lang, "sm_departments"))
    dtitles = [label(lang, "dept_id"), label(lang, "dept_name")] + month_titles + \
        [word(lang, "sm_mean_final")]
    header(ds, dtitles)
    drows = [[d["dept_id"], d["name"], *(d["months"][p]["final"] for p in periods),
              d["mean_final"]] for d in summary.departments]
    _put_rows(ds, drows, number_from=3)
    fit_columns(ds, dtitles, drows, number_cols=range(2, len(dtitles)))
    _sheet_look(ds, len(dtitles), len(drows))

    # -- employees: final by month, the mean, the behaviour total (streamed: 100k rows)
    es = wb.create_sheet(word(lang, "sm_employees"))
    etitles = [label(lang, "employee_id"), label(lang, "employee_name"), label(lang, "emp_dept")] \
        + month_titles + [word(lang, "sm_mean_final"), word(lang, "sm_behaviour_total")]
    header(es, etitles)
    erows = [(e["employee_id"], e["name"], e["dept_id"],
              *(e["months"][p]["final"] for p in periods), e["mean_final"], e["behaviour_total"])
             for e in summary.employees]
    fit_columns(es, etitles, erows, number_cols=range(3, len(etitles)))
    _sheet_look(es, len(etitles), len(erows))
    bulk.add_rows(es, erows, ncols=len(etitles), formats=_formats(4, len(etitles)))

    # -- monthly details: base, each mechanism, final
    dm = wb.create_sheet(word(lang, "sm_dept_months"))
    mtitles = [label(lang, "dept_id"), label(lang, "dept_name"), word(lang, "sm_month"),
               word(lang, "sm_state"), label(lang, "base")] + \
        [label(lang, k) for k in DEPT_MECHANISMS] + [label(lang, "final")]
    header(dm, mtitles)
    states = {s: word(lang, s) for s in STATES}
    mrows = []
    for d in summary.departments:
        for p in periods:
            x = d["months"][p]
            by = x["by_mechanism"] or {}
            mrows.append([d["dept_id"], d["name"], p, states[x["state"]], x["base"],
                          *(by.get(k) for k in DEPT_MECHANISMS), x["final"]])
    fit_columns(dm, mtitles, mrows, number_cols=range(4, len(mtitles)))
    _sheet_look(dm, len(mtitles), len(mrows))
    bulk.add_rows(dm, mrows, ncols=len(mtitles), formats=_formats(5, len(mtitles)))

    # employees' base by month (their behaviour by month is the Behaviour sheet, their final
    # the Employees sheet): three wide sheets of one row per employee, not a row per employee
    # and month (1.2 million rows a year at 100,000 employees)
    eb = wb.create_sheet(word(lang, "sm_emp_base"))
    ebtitles = [label(lang, "employee_id"), label(lang, "employee_name"),
                label(lang, "emp_dept")] + month_titles
    header(eb, ebtitles)
    ebrows = [(e["employee_id"], e["name"], e["dept_id"],
               *(e["months"][p]["base"] for p in periods)) for e in summary.employees]
    fit_columns(eb, ebtitles, ebrows, number_cols=range(3, len(ebtitles)))
    _sheet_look(eb, len(ebtitles), len(ebrows))
    bulk.add_rows(eb, ebrows, ncols=len(ebtitles), formats=_formats(4, len(ebtitles)))

    # -- one sheet per mechanism: points by month, the total
    for mech in DEPT_MECHANISMS:
        ms = wb.create_sheet(label(lang, mech))
        titles = [label(lang, "dept_id"), label(lang, "dept_name")] + month_titles + \
            [word(lang, "sm_total")]
        header(ms, titles)
        rows = []
        for d in summary.departments:
            pts = [(d["months"][p]["by_mechanism"] or {}).get(mech) for p in periods]
            rows.append([d["dept_id"], d["name"], *pts,
                         sum((x for x in pts if x is not None), ZERO)])
        _put_rows(ms, rows, number_from=3)
        fit_columns(ms, titles, rows, number_cols=range(2, len(titles)))
        _sheet_look(ms, len(titles), len(rows))
    bs = wb.create_sheet(label(lang, "behaviour"))
    btitles = [label(lang, "employee_id"), label(lang, "employee_name"), label(lang, "emp_dept")] \
        + month_titles + [word(lang, "sm_total")]
    header(bs, btitles)
    brows = [(e["employee_id"], e["name"], e["dept_id"],
              *(e["months"][p]["behaviour"] for p in periods), e["behaviour_total"])
             for e in summary.employees]
    fit_columns(bs, btitles, brows, number_cols=range(3, len(btitles)))
    _sheet_look(bs, len(btitles), len(brows))
    bulk.add_rows(bs, brows, ncols=len(btitles), formats=_formats(4, len(btitles)))

    # -- feedback by month (SPEC §11.3)
    fs = wb.create_sheet(word(lang, "sm_feedback"))
    ftitles = [label(lang, "dept_id"), label(lang, "dept_name"), word(lang, "sm_month"),
               word(lang, "sm_state")] + \
        [feedback.word(lang, k) for k in ("fb_sheet", "fb_dimension", "fb_count", "fb_mean",
                                          "fb_min", "fb_max")] + \
        [feedback.word(lang, "fb_n", s=s) for s in feedback.SCORES] + \
        [feedback.word(lang, "fb_held_col"), feedback.word(lang, "fb_overturned_col")]
    header(fs, ftitles)
    frows = [[f["dept_id"], f["name"], f["period"], states[f["state"]],
              sheet_name(lang, s.sheet), s.dimension, s.count, s.mean, s.low, s.high,
              *(s.by_score[k] for k in feedback.SCORES), s.held, s.overturned]
             for f in summary.feedback for s in f["dimensions"]]
    fit_columns(fs, ftitles, frows, number_cols=range(6, len(ftitles)))
    _sheet_look(fs, len(ftitles), len(frows))
    bulk.add_rows(fs, frows, ncols=len(ftitles), formats={"H": NUMBER_FORMAT, "I": NUMBER_FORMAT,
                                                          "J": NUMBER_FORMAT})

    ps = wb.create_sheet(word(lang, "sm_feedback_points"))
    ptitles = [label(lang, "dept_id"), label(lang, "dept_name"), word(lang, "sm_month"),
               word(lang, "sm_state"), word(lang, "sm_received"), word(lang, "sm_counted"),
               word(lang, "sm_held"), word(lang, "sm_overturned"), label(lang, "peripheral"),
               word(lang, "sm_explanation_peripheral"), label(lang, "raci"),
               word(lang, "sm_explanation_raci")]
    header(ps, ptitles)
    prows = [[f["dept_id"], f["name"], f["period"], states[f["state"]],
              f"{f['received']['InternalRatings']} / {f['received']['RaciRatings']}",
              f["counted"], f["held"], f["overturned"], f["peripheral"].points,
              f["peripheral"].text(lang), f["raci"].points, f["raci"].text(lang)]
             for f in summary.feedback]
    _put_rows(ps, prows, number_from=9)
    fit_columns(ps, ptitles, prows, maximum={9: 70, 11: 70})
    _sheet_look(ps, len(ptitles), len(prows))

    # -- the chart: monthly finals per department, from a table of its own on the chart sheet
    cs = wb.create_sheet(word(lang, "sm_chart"))
    shown = chart_departments(summary)
    if shown and n:
        ctitles = [label(lang, "dept_name")] + periods
        header(cs, ctitles)
        crows = [[f"{d['dept_id']} {d['name']}", *(d["months"][p]["final"] for p in periods)]
                 for d in shown]
        _put_rows(cs, crows, number_from=2)
        fit_columns(cs, ctitles, crows, number_cols=range(1, len(ctitles)))
        chart = LineChart()
        title = word(lang, "sm_chart_title")
        if len(shown) < len(summary.departments):
            title += f"（{word(lang, 'sm_chart_largest', n=len(shown), m=len(summary.departments))}）" \
                if lang == "zh" else \
                f" ({word(lang, 'sm_chart_largest', n=len(shown), m=len(summary.departments))})"
        chart.title = title
        chart.y_axis.title = label(lang, "chart_y")
        chart.x_axis.title = word(lang, "sm_month")
        data = Reference(cs, min_col=1, max_col=n + 1, min_row=2, max_row=len(crows) + 1)
        chart.add_data(data, from_rows=True, titles_from_data=True)
        chart.set_categories(Reference(cs, min_col=2, max_col=n + 1, min_row=1, max_row=1))
        chart.y_axis.numFmt = "0"
        chart.y_axis.delete = False
        chart.x_axis.delete = False
        chart.legend.position = "r"
        chart.width, chart.height = 28.0, 14.0
        cs.add_chart(chart, f"A{len(crows) + 3}")
    else:
        put_text(cs.cell(row=1, column=1), word(lang, "sm_no_chart"))
    landscape(cs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return bulk.save(path)


def _closed_text(m: dict) -> str | None:
    c = m.get("closed")
    if not c:
        return None
    at = c["at"].strftime("%Y-%m-%d %H:%M") if c.get("at") else "?"
    return f"{at} UTC, {c.get('by') or '?'}"


def _put_rows(ws, rows, number_from: int | None = None) -> None:
    """Rows into an openpyxl sheet below its header; columns from `number_from` (1-based) on
    shown to the cent."""
    for i, v in enumerate(rows, 2):
        for j, x in enumerate(v, 1):
            c = ws.cell(row=i, column=j)
            put_text(c, x)
            if number_from is not None and j >= number_from and isinstance(x, Decimal):
                c.number_format = NUMBER_FORMAT


def _formats(first: int, last: int) -> dict[str, str]:
    from openpyxl.utils import get_column_letter
    return {get_column_letter(j): NUMBER_FORMAT for j in range(first, last + 1)}


def _sheet_look(ws, ncols: int, nrows: int) -> None:
    from openpyxl.utils import get_column_letter
    ws.freeze_panes = "C2"
    ws.auto_filter.ref = f"A1:{get_column_letter(ncols)}{max(nrows + 1, 2)}"
    landscape(ws)


# ----------------------------------------------------------------------------- summary.html

_STYLE = """
body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.2rem .45rem;text-align:right;white-space:nowrap}
th{background:#305496;color:#fff;position:sticky;top:0}
td.t,th.t{text-align:left}td.w{white-space:normal;text-align:left;max-width:40rem}
.missing{color:#999}.provisional{color:#9c5700}.final{color:#1e6b1e}
p.note{color:#555;font-size:.85rem}svg{max-width:100%;height:auto}
"""


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def _e(x) -> str:
    if x is None:
        return ""
    if isinstance(x, Decimal):
        return f"{x:.2f}"
    return html.escape(str(x))


def _table(titles, rows, text_cols: int = 1, wide_cols=()) -> str:
    head = "".join(f'<th class="t">{_e(t)}</th>' if j < text_cols else f"<th>{_e(t)}</th>"
                   for j, t in enumerate(titles))
    body = []
    for r in rows:
        cells = []
        for j, x in enumerate(r):
            cls = ' class="w"' if j in wide_cols else (' class="t"' if j < text_cols else "")
            cells.append(f"<td{cls}>{_e(x)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + \
        "\n</tbody></table>\n"


_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39",
            "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363")


def svg_chart(summary: Summary, lang: str) -> str:
    """The departments' monthly finals as an inline SVG line chart (no script, no style
    attribute: presentation attributes only, which the page's CSP allows)."""
    shown = chart_departments(summary)
    periods = summary.periods
    points = [x["final"] for d in shown for x in d["months"].values() if x["final"] is not None]
    if not points or not periods:
        return f'<p class="note">{_e(word(lang, "sm_no_chart"))}</p>\n'
    lo, hi = float(min(points)), float(max(points))
    if hi - lo < 1:
        lo, hi = lo - 1, hi + 1
    width, height, left, top, plot_w, plot_h = 980, 420, 60, 20, 640, 340
    step = plot_w / max(len(periods) - 1, 1)

    def xy(i: int, v: Decimal) -> tuple[float, float]:
        return (left + i * step, top + plot_h - (float(v) - lo) / (hi - lo) * plot_h)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{_e(word(lang, "sm_chart_title"))}">',
             f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
             'stroke="#999"/>']
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        y = top + plot_h - plot_h * k / 4
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" '
                     f'text-anchor="end">{v:.1f}</text>')
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                     'stroke="#eee"/>')
    for i, p in enumerate(periods):
        parts.append(f'<text x="{left + i * step:.1f}" y="{top + plot_h + 16}" font-size="11" '
                     f'text-anchor="middle">{_e(p)}</text>')
    for k, d in enumerate(shown):
        colour = _PALETTE[k % len(_PALETTE)]
        run: list[str] = []
        segments = []
        for i, p in enumerate(periods):
            v = d["months"][p]["final"]
            if v is None:                   # a missing month breaks the line
                if run:
                    segments.append(run)
                run = []
                continue
            x, y = xy(i, v)
            run.append(f"{x:.1f},{y:.1f}")
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>')
        if run:
            segments.append(run)
        for seg in segments:
            if len(seg) > 1:
                parts.append(f'<polyline points="{" ".join(seg)}" fill="none" '
                             f'stroke="{colour}" stroke-width="1.6"/>')
        ly = top + 6 + k * 16
        parts.append(f'<line x1="{left + plot_w + 16}" y1="{ly}" x2="{left + plot_w + 36}" '
                     f'y2="{ly}" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{left + plot_w + 42}" y="{ly + 4}" font-size="11">'
                     f'{_e(d["dept_id"])} {_e(d["name"])}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write_html(path: Path, summary: Summary, lang: str = "zh") -> Path:
    periods = summary.periods
    states = {s: word(lang, s) for s in STATES}
    title = word(lang, "sm_title", range=range_text(lang, summary.range))
    csp = (f"default-src 'none'; style-src {_csp_hash(_STYLE)}; img-src 'none'; "
           "script-src 'none'; connect-src 'none'; font-src 'none'; base-uri 'none'; "
           "form-action 'none'")
    out = ["<!DOCTYPE html>",
           f'<html lang="{"zh-CN" if lang == "zh" else "en"}">',
           '<head>\n<meta charset="utf-8">',
           f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
           '<meta name="referrer" content="no-referrer">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_e(title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
           f"<h1>{_e(title)}</h1>",
           f"<h2>{_e(word(lang, 'sm_html_months'))}</h2>"]
    out.append(_table([word(lang, "sm_month"), word(lang, "sm_state"), label(lang, "run_id"),
                       word(lang, "sm_open_reviews"), word(lang, "sm_closed")],
                      [[m["period"], states[m["state"]], m["run_id"],
                        m["open_reviews"] if m["state"] != "missing" else None, _closed_text(m)]
                       for m in summary.months], text_cols=2))
    out.append(f'<p class="note">{_e(word(lang, "sm_html_note"))}</p>')
    month_titles = [f"{m['period']} {states[m['state']]}" for m in summary.months]
    out.append(f"<h2>{_e(word(lang, 'sm_chart_title'))}</h2>")
    out.append(svg_chart(summary, lang))
    out.append(f"<h2>{_e(word(lang, 'sm_departments'))}</h2>")
    out.append(_table([label(lang, "dept_id"), label(lang, "dept_name"), *month_titles,
                       word(lang, "sm_mean_final")],
                      [[d["dept_id"], d["name"], *(d["months"][p]["final"] for p in periods),
                        d["mean_final"]] for d in summary.departments], text_cols=2))
    out.append(f"<h2>{_e(word(lang, 'sm_dept_months'))}</h2>")
    rows = []
    for d in summary.departments:
        for p in periods:
            x = d["months"][p]
            by = x["by_mechanism"] or {}
            rows.append([d["dept_id"], d["name"], p, states[x["state"]], x["base"],
                         *(by.get(k) for k in DEPT_MECHANISMS), x["final"]])
    out.append(_table([label(lang, "dept_id"), label(lang, "dept_name"), word(lang, "sm_month"),
                       word(lang, "sm_state"), label(lang, "base"),
                       *(label(lang, k) for k in DEPT_MECHANISMS), label(lang, "final")],
                      rows, text_cols=4))
    out.append(f"<h2>{_e(word(lang, 'sm_feedback'))}</h2>")
    out.append(_table([label(lang, "dept_id"), label(lang, "dept_name"), word(lang, "sm_month"),
                       word(lang, "sm_state"), word(lang, "sm_received"),
                       word(lang, "sm_counted"), word(lang, "sm_held"),
                       word(lang, "sm_overturned"), label(lang, "peripheral"),
                       word(lang, "sm_explanation_peripheral"), label(lang, "raci"),
                       word(lang, "sm_explanation_raci")],
                      [[f["dept_id"], f["name"], f["period"], states[f["state"]],
                        f"{f['received']['InternalRatings']} / {f['received']['RaciRatings']}",
                        f["counted"], f["held"], f["overturned"], f["peripheral"].points,
                        f["peripheral"].text(lang), f["raci"].points, f["raci"].text(lang)]
                       for f in summary.feedback], text_cols=4, wide_cols=(9, 11)))
    out.append(_table([label(lang, "dept_id"), label(lang, "dept_name"), word(lang, "sm_month"),
                       feedback.word(lang, "fb_sheet"), feedback.word(lang, "fb_dimension"),
                       *(feedback.word(lang, k) for k in ("fb_count", "fb_mean", "fb_min",
                                                          "fb_max")),
                       *(feedback.word(lang, "fb_n", s=s) for s in feedback.SCORES),
                       feedback.word(lang, "fb_held_col"),
                       feedback.word(lang, "fb_overturned_col")],
                      [[f["dept_id"], f["name"], f["period"], sheet_name(lang, s.sheet),
                        s.dimension, s.count, s.mean, s.low, s.high,
                        *(s.by_score[k] for k in feedback.SCORES), s.held, s.overturned]
                       for f in summary.feedback for s in f["dimensions"]], text_cols=5))
    out.append(f"<h2>{_e(word(lang, 'sm_employees'))}</h2>")
    out.append(_table([label(lang, "employee_id"), label(lang, "employee_name"),
                       label(lang, "emp_dept"), *month_titles, word(lang, "sm_mean_final"),
                       word(lang, "sm_behaviour_total")],
                      [[e["employee_id"], e["name"], e["dept_id"],
                        *(e["months"][p]["final"] for p in periods), e["mean_final"],
                        e["behaviour_total"]] for e in summary.employees], text_cols=3))
    out += ["</body>", "</html>", ""]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out), encoding="utf-8")
    return path
