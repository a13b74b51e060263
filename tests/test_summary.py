"""The quarter's and the year's figures (SPEC §11.2): `xietong summary` over a generated year of a
small company (the sample generator, a seed per month), checked against each month's own
scores.json as `report` wrote it — added up here, independently of the code under test — and a
hand-checked two-month case built from SPEC §9's worked example.

The year: 2026-07 has no ledger, 2026-08 a ledger but no run (both missing); 2026-01…03 are
closed (final); 2026-05 is evaluated, then a corrected ledger is imported and evaluated again
(the summary reads the latest run); 2026-12's company has grown (new employees: missing before).
"""
import io
import json
from contextlib import redirect_stderr
import re
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import openpyxl
import pytest

from reports import summary as summary_files
from reports.template import write_ledger
from tests.dbs import ON_POSTGRES, create_database, drop_database
from tests.ledgers import worked_example
from xietong import api
from xietong.cli import main
from xietong.sample import write_sample_ledger

MONTHS = [f"2026-{m:02d}" for m in range(1, 13)]
NO_LEDGER, NO_RUN, REDONE = "2026-07", "2026-08", "2026-05"
CLOSED = ("2026-01", "2026-02", "2026-03")


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    """A database holding the year, and each evaluated month's scores.json (its latest run)."""
    tmp = tmp_path_factory.mktemp("year")
    url = create_database() if ON_POSTGRES else f"sqlite:///{tmp / 'year.db'}"
    scores = {}
    for i, period in enumerate(MONTHS, 1):
        if period == NO_LEDGER:
            continue
        ledger = tmp / f"ledger-{period}.xlsx"
        write_sample_ledger(ledger, 44 if period == "2026-12" else 36, period, seed=i)
        assert cli("import", ledger, "--period", period, "--db", url)[0] == 0
        if period == NO_RUN:
            continue
        assert cli("evaluate", "--period", period, "--db", url)[0] == 0
        if period == REDONE:
            corrected = tmp / f"ledger-{period}-corrected.xlsx"
            write_sample_ledger(corrected, 36, period, seed=99)
            assert cli("import", corrected, "--period", period, "--db", url)[0] == 0
            assert cli("evaluate", "--period", period, "--db", url)[0] == 0
        code, _, err = cli("report", "--period", period, "--out", tmp / period, "--db", url,
                           "--format", "json")
        assert code == 0, err
        scores[period] = json.loads((tmp / period / "scores.json").read_text("utf-8"))
        if period in CLOSED:
            assert cli("close", "--period", period, "--with-open-reviews", "--db", url)[0] == 0
    yield tmp, url, scores
    if ON_POSTGRES:
        drop_database(url)


def half_up(value: Fraction) -> float:
    """To the cent, half up, as a JSON number: written here, not taken from the code."""
    cents = (abs(value) * 100 + Fraction(1, 2)).__floor__()
    return float(Decimal(-cents if value < 0 else cents).scaleb(-2))


def f(x) -> Fraction:
    return Fraction(str(x))          # a JSON number with two decimals, exactly


def test_year_figures_add_up_from_each_months_scores_json(year):
    tmp, url, scores = year
    code, out, err = cli("summary", "--year", "2026", "--out", tmp / "y", "--db", url,
                         "--format", "json", "--lang", "en")
    assert code == 0, err
    text = (tmp / "y" / "summary.json").read_text("utf-8")
    got = json.loads(text)
    assert text == json.dumps(got, ensure_ascii=False, indent=1) + "\n"
    assert list(got) == ["range", "months", "departments", "employees"]
    assert got["range"] == "2026"
    assert [m["period"] for m in got["months"]] == MONTHS
    expected_state = {p: "missing" if p not in scores else "final" if p in CLOSED
                      else "provisional" for p in MONTHS}
    assert {m["period"]: m["state"] for m in got["months"]} == expected_state
    assert all(m["run_id"] is None for m in got["months"] if m["state"] == "missing")

    # departments: every month's base, mechanisms and final as that month's scores.json says
    depts = {d["dept_id"]: d for d in got["departments"]}
    every_dept = {d["dept_id"] for s in scores.values() for d in s["departments"]}
    assert sorted(depts) == sorted(every_dept)
    for dept_id, d in depts.items():
        assert list(d["months"]) == MONTHS
        finals = []
        for p in MONTHS:
            month = d["months"][p]
            mine = next((x for x in scores.get(p, {"departments": []})["departments"]
                         if x["dept_id"] == dept_id), None)
            if mine is None:
                assert month == {"base": None, "final": None, "by_mechanism": None,
                                 "state": "missing"}
                continue
            assert month == {"base": mine["base"], "final": mine["final"],
                             "by_mechanism": mine["by_mechanism"], "state": expected_state[p]}
            finals.append(f(mine["final"]))
        assert d["mean_final"] == half_up(sum(finals) / len(finals))

    # employees: the same, and the behaviour total; the mean over the months with a base only
    emps = {e["employee_id"]: e for e in got["employees"]}
    every_emp = {e["employee_id"] for s in scores.values() for e in s["employees"]}
    assert sorted(emps) == sorted(every_emp)
    newcomers = every_emp - {e["employee_id"] for e in scores["2026-11"]["employees"]}
    assert newcomers, "2026-12's larger company brings employees the other months lack"
    for emp_id, e in emps.items():
        finals, behaviour = [], Fraction(0)
        for p in MONTHS:
            month = e["months"][p]
            mine = next((x for x in scores.get(p, {"employees": []})["employees"]
                         if x["employee_id"] == emp_id), None)
            if mine is None:
                assert month == {"base": None, "behaviour": None, "final": None,
                                 "state": "missing"}
                continue
            assert month == {"base": mine["base"], "behaviour": mine["behaviour"],
                             "final": mine["final"], "state": expected_state[p]}
            behaviour += f(mine["behaviour"])
            if mine["final"] is not None:
                finals.append(f(mine["final"]))
        assert e["behaviour_total"] == half_up(behaviour)
        assert e["mean_final"] == (half_up(sum(finals) / len(finals)) if finals else None)
    assert any(e["behaviour_total"] != 0 for e in emps.values())

    # the terminal says the same
    assert "Summary of 2026: " in out
    assert "  2026-07  missing: no run" in out.splitlines()
    assert "  2026-02  final: closed (run #" in out


def test_the_summary_reads_the_latest_run_of_a_month(year):
    tmp, url, scores = year
    with api.open_database(url) as db:
        runs = [r for r in api.runs(db, REDONE)]
        got = api.summary(db, quarter="2026-Q2")
    assert len(runs) == 2
    month = next(m for m in got.months if m["period"] == REDONE)
    assert month["run_id"] == max(r["run_id"] for r in runs)
    d = got.departments[0]
    mine = next(x for x in scores[REDONE]["departments"] if x["dept_id"] == d["dept_id"])
    assert float(d["months"][REDONE]["final"]) == mine["final"]


def test_a_quarter_says_which_months_are_missing(year):
    tmp, url, scores = year
    code, out, err = cli("summary", "--quarter", "2026-Q3", "--out", tmp / "q3", "--db", url,
                         "--lang", "en")
    assert code == 0, err
    got = json.loads((tmp / "q3" / "summary.json").read_text("utf-8"))
    assert got["range"] == "2026-Q3"
    assert [(m["period"], m["state"]) for m in got["months"]] == [
        ("2026-07", "missing"), ("2026-08", "missing"), ("2026-09", "provisional")]
    for d in got["departments"]:
        assert d["months"]["2026-07"]["state"] == "missing"
        mine = next(x for x in scores["2026-09"]["departments"] if x["dept_id"] == d["dept_id"])
        assert d["mean_final"] == mine["final"]           # one month with figures
    assert sorted(p.name for p in (tmp / "q3").iterdir()) == [
        "summary.html", "summary.json", "summary.xlsx"]


def test_summary_xlsx_sheets_and_chart(year):
    tmp, url, scores = year
    assert cli("summary", "--quarter", "2026-Q1", "--out", tmp / "q1", "--db", url, "--lang",
               "zh", "--format", "xlsx")[0] == 0
    got = json.loads(json.dumps(api.summary(api.open_database(url), quarter="2026-Q1")
                                .summary.as_json()))
    wb = openpyxl.load_workbook(tmp / "q1" / "summary.xlsx")
    assert wb.sheetnames == ["概览", "部门", "员工", "部门月度明细", "员工基础分", "关联矩阵",
                             "周边绩效", "责任矩阵", "指标互锁", "协同行为", "周边反馈", "反馈得分",
                             "图表"]
    depts = wb["部门"]
    assert [c.value for c in depts[1]] == ["部门编号", "部门名称", "2026-01 定稿", "2026-02 定稿",
                                          "2026-03 定稿", "月度最终得分均值"]
    for row, d in zip(depts.iter_rows(min_row=2, values_only=True), got["departments"]):
        assert row[0] == d["dept_id"]
        assert list(row[2:5]) == [d["months"][p]["final"] for p in ("2026-01", "2026-02",
                                                                     "2026-03")]
        assert row[5] == d["mean_final"]
    linkage = wb["关联矩阵"]
    for row, d in zip(linkage.iter_rows(min_row=2, values_only=True), got["departments"]):
        pts = [d["months"][p]["by_mechanism"]["linkage"] for p in ("2026-01", "2026-02", "2026-03")]
        assert list(row[2:5]) == pts
        assert row[5] == pytest.approx(sum(pts))
    base = wb["员工基础分"]
    for row, e in zip(base.iter_rows(min_row=2, values_only=True), got["employees"]):
        assert row[0] == e["employee_id"]
        assert list(row[3:6]) == [e["months"][p]["base"] for p in ("2026-01", "2026-02",
                                                                   "2026-03")]
    charts = wb["图表"]._charts
    assert len(charts) == 1 and charts[0].tagname == "lineChart"
    assert len(charts[0].series) == len(got["departments"])       # ≤ 20: every department
    points = list(wb["反馈得分"].iter_rows(min_row=2, values_only=True))
    assert points and all(r[9].startswith("评价分 ") for r in points if r[9])   # in Chinese
    feedback = wb["周边反馈"]
    assert feedback.max_row > 1
    assert {r[2] for r in feedback.iter_rows(min_row=2, values_only=True)} == {
        "2026-01", "2026-02", "2026-03"}


def test_summary_html_is_one_offline_file(year):
    tmp, url, scores = year
    assert cli("summary", "--quarter", "2026-Q4", "--out", tmp / "q4", "--db", url,
               "--format", "html")[0] == 0
    page = (tmp / "q4" / "summary.html").read_text("utf-8")
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert csp and "default-src 'none'" in csp.group(1) and "script-src 'none'" in csp.group(1)
    assert "<script" not in page and " style=" not in page
    assert not re.search(r'(src|href)="', page)                  # nothing is fetched
    assert "<svg" in page and "<polyline" in page
    for d in scores["2026-11"]["departments"]:
        assert f"<td class=\"t\">{d['dept_id']}</td>" in page


# ---------------------------------------------------------------------------- by hand

def _worked_month(base: int):
    b = worked_example()
    b.rows["Departments"][1]["base_score"] = Decimal(base)          # D3
    return b.build().rows


def test_two_months_of_the_worked_example_by_hand(tmp_path, db_url):
    """2026-10: SPEC §9 as it is, D3 final 82.41; D1 (front, base 80) gets only the interlock
    penalty −6 × 0.7 = −4.20 → 75.80. 2026-11: D3's base is 80: linkage
    0.2027027 × (110 − 80) = 6.08 and 0.0972973 × (125 − 80) = 4.38, peripheral
    0.15 × (85 − 80) = 0.75, raci 0.15 × (60 − 80) = −3.00, interlock −1.80 → 86.41; D1 75.80.
    Means: D3 (82.41 + 86.41) / 2 = 84.41, D1 75.80. 2026-10 closed (final), 2026-11 open
    (provisional), 2026-12 missing. No employee has a base: mean_final null, behaviour 0."""
    for period, base in (("2026-10", 70), ("2026-11", 80)):
        ledger = tmp_path / f"{period}.xlsx"
        write_ledger(ledger, _worked_month(base), lang="en")
        assert cli("import", ledger, "--period", period, "--db", db_url)[0] == 0
        assert cli("evaluate", "--period", period, "--db", db_url)[0] == 0
    assert cli("close", "--period", "2026-10", "--with-open-reviews", "--db", db_url)[0] == 0
    code, out, err = cli("summary", "--quarter", "2026-Q4", "--out", tmp_path / "q4", "--db",
                         db_url, "--format", "json")
    assert code == 0, err
    got = json.loads((tmp_path / "q4" / "summary.json").read_text("utf-8"))
    missing = {"base": None, "final": None, "by_mechanism": None, "state": "missing"}
    assert got["months"] == [
        {"period": "2026-10", "state": "final", "run_id": 1, "open_reviews": 3},
        {"period": "2026-11", "state": "provisional", "run_id": 2, "open_reviews": 3},
        {"period": "2026-12", "state": "missing", "run_id": None, "open_reviews": 0}]
    assert got["departments"] == [
        {"dept_id": "D1", "name": "销售部", "months": {
            "2026-10": {"base": 80.0, "final": 75.8, "by_mechanism": {
                "linkage": 0.0, "peripheral": 0.0, "raci": 0.0, "interlock": -4.2},
                "state": "final"},
            "2026-11": {"base": 80.0, "final": 75.8, "by_mechanism": {
                "linkage": 0.0, "peripheral": 0.0, "raci": 0.0, "interlock": -4.2},
                "state": "provisional"},
            "2026-12": missing}, "mean_final": 75.8},
        {"dept_id": "D3", "name": "IT部", "months": {
            "2026-10": {"base": 70.0, "final": 82.41, "by_mechanism": {
                "linkage": 13.46, "peripheral": 2.25, "raci": -1.5, "interlock": -1.8},
                "state": "final"},
            "2026-11": {"base": 80.0, "final": 86.41, "by_mechanism": {
                "linkage": 10.46, "peripheral": 0.75, "raci": -3.0, "interlock": -1.8},
                "state": "provisional"},
            "2026-12": missing}, "mean_final": 84.41}]
    e2 = next(e for e in got["employees"] if e["employee_id"] == "E2")
    assert e2 == {"employee_id": "E2", "name": "王销售", "months": {
        "2026-10": {"base": None, "behaviour": 0.0, "final": None, "state": "final"},
        "2026-11": {"base": None, "behaviour": 0.0, "final": None, "state": "provisional"},
        "2026-12": {"base": None, "behaviour": None, "final": None, "state": "missing"}},
        "mean_final": None, "behaviour_total": 0.0}


def test_bad_ranges(tmp_path, db_url):
    ledger = tmp_path / "l.xlsx"
    write_ledger(ledger, _worked_month(70), lang="en")
    assert cli("import", ledger, "--period", "2026-10", "--db", db_url)[0] == 0
    assert cli("evaluate", "--period", "2026-10", "--db", db_url)[0] == 0
    for argv in (["--quarter", "2026-Q5"], ["--quarter", "2026Q4"], ["--year", "26"],
                 ["--year", "2026", "--quarter", "2026-Q4"], []):
        with pytest.raises(SystemExit) as e:                # argparse: a usage error
            cli("summary", *argv, "--out", tmp_path / "x", "--db", db_url)
        assert e.value.code == 2, argv
    err = io.StringIO()
    with pytest.raises(SystemExit), redirect_stderr(err):
        cli("summary", "--quarter", "2026-Q5", "--out", tmp_path / "x", "--db", db_url)
    assert "expected YYYY-Q1 to YYYY-Q4, got '2026-Q5'" in err.getvalue()
    code, out, err = cli("summary", "--year", "2025", "--out", tmp_path / "x", "--db", db_url)
    assert code == 1
    assert err.strip() == ("no month of 2025 (2025-01 to 2025-12) has a run: evaluate its "
                           "months first (`xietong evaluate --period YYYY-MM`)")
    code, out, err = cli("summary", "--quarter", "2026-Q3", "--out", tmp_path / "x", "--db",
                         db_url, "--lang", "zh")
    assert code == 1 and "2026 年第 3 季度（2026-07 至 2026-09）没有任何评估结果" in err
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError):
        api.summary(api.open_database(db_url), quarter="2026-Q5")


def test_the_chart_shows_the_twenty_largest_departments(tmp_path):
    """25 departments of headcounts 1…25: the chart's series are the 20 largest (6…25), in id
    order; the sheets keep all 25."""
    months = [{"period": "2026-01", "state": "provisional", "run": {"id": 1}, "open_reviews": 0,
               "closed": None, "adjustments": [], "exceptions": [],
               "rows": {"Departments": [
                   {"dept_id": f"D{k:02d}", "name": f"部门{k}", "tier": "back",
                    "base_score": Decimal(60 + k)} for k in range(1, 26)],
                   "Employees": [{"employee_id": f"E{k:02d}-{j}", "name": "x",
                                  "dept_id": f"D{k:02d}", "base_score": None}
                                 for k in range(1, 26) for j in range(k)]}}]
    built = summary_files.build("2026-Q1", months, with_feedback=False)
    assert [d["dept_id"] for d in summary_files.chart_departments(built)] == \
        [f"D{k:02d}" for k in range(6, 26)]
    path = summary_files.write_xlsx(tmp_path / "s.xlsx", built, "en")
    wb = openpyxl.load_workbook(path)
    assert len(wb["Chart"]._charts[0].series) == 20
    assert wb["Departments"].max_row == 26
    assert [r[0] for r in wb["Chart"].iter_rows(min_row=2, values_only=True)] == \
        [f"D{k:02d} 部门{k}" for k in range(6, 26)]


def test_feedback_by_month_equals_each_months_feedback(year):
    """The summary reads a month's ratings grouped (evaluator/history.py): its feedback by month
    is the same, department by department, as the month's own feedback workbooks' (built from
    every row)."""
    from sqlmodel import Session
    from evaluator.db import reader
    from evaluator.runs import latest_run, load_run
    from evaluator.store import load_rows
    from reports import feedback
    tmp, url, scores = year
    with api.open_database(url) as db:
        got = api.summary(db, year=2026, out_dir=tmp / "fb", formats={"html"})
        by_month = {}
        for f in got.feedback:
            by_month.setdefault(f["period"], {})[f["dept_id"]] = f
        with Session(reader(db.engine)) as session, session.begin():
            for period in scores:
                run = latest_run(session, period)
                exact = feedback.build(load_rows(session, run.import_id),
                                       load_run(session, run))
                assert sorted(by_month[period]) == sorted(exact)
                for dept_id, fb in exact.items():
                    mine = by_month[period][dept_id]
                    assert mine["received"] == fb.received
                    assert (mine["counted"], mine["held"], mine["overturned"]) == (
                        fb.count((feedback.COUNTED, feedback.COUNTED_REVIEWED,
                                  feedback.COUNTED_OPEN)),
                        fb.count((feedback.HELD,)), fb.count((feedback.OVERTURNED,)))
                    assert mine["dimensions"] == fb.dimensions
                    assert (mine["peripheral"], mine["raci"]) == (fb.peripheral, fb.raci)
    assert any(f["held"] for f in got.feedback)          # the months do hold ratings back


def test_ratings_are_read_row_by_row_when_the_blends_disagree(year):
    """The grouped reading relies on SPEC §5.2 (a rating neither rejected nor under review
    counts), checked against the blends: when they disagree, every row is read."""
    from sqlmodel import Session
    from evaluator import history
    from evaluator.db import reader
    tmp, url, scores = year
    with api.open_database(url) as db, Session(reader(db.engine)) as session, session.begin():
        (month,) = history.read_months(session, ["2026-09"])
        grouped = month.rows["InternalRatings"]
        assert any("n" in r for r in grouped)
        exact = history._ratings(session, month.run["import_id"], "InternalRatings", month, {},
                                 set())
    assert not any("n" in r for r in exact)
    assert len(exact) == sum(r.get("n", 1) for r in grouped)
