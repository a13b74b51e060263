"""Feedback to the rated departments (SPEC §11.3), checked by hand on SPEC §9's worked example:
D3 (IT部, back office, base 70) is rated 4, 4 and 5 on 响应速度 by E2, E3, E4 of D1 (销售部);
the 5 is RATING_EXTREME, held while open; one RACI rating 3 on 方案可执行性 by E2 on P1 大客户项目.
Peripheral: R = 80, O = 90 (ticket_sla 0.9), P = 85 → 0.15 × (85 − 70) = +2.25; RACI: Q = 60 →
0.15 × (60 − 70) = −1.50.
"""
import io
import json

import openpyxl
import pytest
from hypothesis import given, settings, strategies as st

from reports.template import write_ledger
from tests.ledgers import PERIOD, worked_example
from xietong.cli import main

INJECTION = "=HYPERLINK(\"http://x\",\"y\")"


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def sheets(path):
    wb = openpyxl.load_workbook(path)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def report(tmp_path, db_url, builder, *extra, lang="en"):
    ledger = tmp_path / "ledger.xlsx"
    write_ledger(ledger, builder.build().rows, lang="en")
    code, out, err = cli("run", ledger, "--period", PERIOD, "--out", tmp_path / "o", "--db",
                         db_url, "--lang", lang, *extra)
    assert code == 0, err
    return tmp_path / "o", out


def test_worked_example_feedback_by_hand(tmp_path, db_url):
    b = worked_example()
    b.rows["InternalRatings"][1]["comment"] = INJECTION            # R2's comment
    out_dir, out = report(tmp_path, db_url, b)
    assert sorted(p.name for p in (out_dir / "feedback").iterdir()) == ["D3.xlsx"]  # D1: none
    got = sheets(out_dir / "feedback" / "D3.xlsx")
    assert list(got) == ["Overview", "By dimension", "Ratings"]
    assert got["Overview"] == [
        ["item", "value"],
        ["rated department", "Internal customers' ratings of D3 (IT部), 2026-11"],
        ["period", "2026-11"], ["run", "1"], ["base", "70.00"],
        ["ratings received (internal / RACI)", "3 / 1"],
        ["counted", "3"], ["held while a review is open", "1"], ["overturned by a review", "0"],
        ["peripheral points", "+2.25"],
        ["how computed for this department", "R=80, O=90, P=85; 0.15 × (85 − 70)"],
        ["formula", "peripheral = 0.15 × (P − base 70.00); P = (1 − 0.5) × R + 0.5 × O (P = R "
                    "without service metrics); R = 20 × mean counted rating; O = 100 × mean "
                    "service metric"],
        ["RACI points", "-1.50"],
        ["how computed for this department", "Q=60; 0.15 × (60 − 70)"],
        ["formula", "RACI = 0.15 × (Q − base 70.00); Q = 20 × mean counted RACI rating"],
        ["service metrics", "ticket_sla = 0.9"],
        ["raters", "only the rater's department is shown (policy [feedback] show_raters = "
                   "false)"]]
    assert got["By dimension"] == [
        ["ratings", "dimension", "counted", "mean", "min", "max", "score 1", "score 2",
         "score 3", "score 4", "score 5", "held", "overturned"],
        ["InternalRatings", "响应速度", 2, 4, 4, 4, 0, 0, 0, 2, 0, 1, 0],
        ["RaciRatings", "方案可执行性", 1, 3, 3, 3, 0, 0, 1, 0, 0, 0, 0]]
    assert got["Ratings"] == [
        ["ratings", "dimension", "score", "comment", "rater's dept_id", "rater's department",
         "project", "RACI role", "status"],
        ["InternalRatings", "响应速度", 4, None, "D1", "销售部", None, None, "counted"],
        ["InternalRatings", "响应速度", 4, INJECTION, "D1", "销售部", None, None, "counted"],
        ["InternalRatings", "响应速度", 5, None, "D1", "销售部", None, None,
         "held (review open)"],
        ["RaciRatings", "方案可执行性", 3, None, "D1", "销售部", "P1 大客户项目", "R", "counted"]]
    # nobody's id: not the raters', not the rating ids that could name them
    cells = {str(c) for rows in got.values() for r in rows for c in r if c is not None}
    assert not cells & {"E2", "E3", "E4", "R1", "R2", "R3", "Q1"}
    # a comment is text, never a formula
    ws = openpyxl.load_workbook(out_dir / "feedback" / "D3.xlsx")["Ratings"]
    assert ws["D3"].data_type == "s" and ws["D3"].value == INJECTION
    # listed in the manifest and said by the command
    manifest = json.loads((out_dir / "manifest.json").read_text("utf-8"))
    assert "feedback/D3.xlsx" in [f["path"] for f in manifest["files"]]
    assert ("  feedback/       1 feedback workbook(s), one per rated department: statistics per "
            "dimension, comments with the rater's department, how its points were computed"
            ) in out.splitlines()


def test_show_raters_names_them(tmp_path, db_url):
    policy = tmp_path / "policy.toml"
    policy.write_text("[feedback]\nshow_raters = true\n", encoding="utf-8")
    out_dir, _ = report(tmp_path, db_url, worked_example(), "--policy", policy, lang="zh")
    got = sheets(out_dir / "feedback" / "D3.xlsx")
    assert got["评价明细"][0][-3:] == ["评价人工号", "评价人姓名", "评价编号"]
    assert [r[-3:] for r in got["评价明细"][1:]] == [
        ["E2", "王销售", "R1"], ["E3", "李销售", "R2"], ["E4", "赵销售", "R3"],
        ["E2", "王销售", "Q1"]]
    assert got["反馈概览"] == [
        ["项目", "值"], ["被评部门", "D3（IT部）2026-11 收到的内部客户评价"], ["考核期", "2026-11"],
        ["运行记录", "1"], ["基础分", "70.00"], ["收到的评价（周边 / 责任矩阵）", "3 / 1"],
        ["计入得分", "3"], ["复核未决、暂不计入", "1"], ["复核撤销、不计入", "0"],
        ["周边绩效调整分", "+2.25"],
        ["本部门的计算", "评价分 80，客观分 90，周边绩效分 85：0.15 × (85 − 70)"],
        ["计算公式", "周边绩效调整分 = 0.15 × (周边绩效分 − 基础分 70.00)；周边绩效分 = (1 − 0.5) × 评价分 + "
                 "0.5 × 客观分（无客观数据时即评价分）；评价分 = 20 × 计入评价的平均分；客观分 = 100 × 客观数据平均值"],
        ["责任矩阵调整分", "-1.50"],
        ["本部门的计算", "责任矩阵评分 60：0.15 × (60 − 70)"],
        ["计算公式", "责任矩阵调整分 = 0.15 × (责任矩阵评分 − 基础分 70.00)；责任矩阵评分 = 20 × 计入评分的平均分"],
        ["客观数据", "ticket_sla = 0.9"],
        ["评价人", "列出评价人工号（政策项 feedback.show_raters 已开启）"]]


@pytest.mark.parametrize("decision, status, row", [
    # confirmed: R3 counts → 4, 4, 5: mean 4.33, max 5; R = 20 × 13/3, P = (86.67 + 90) / 2
    # → 0.15 × (88.33 − 70) = +2.75
    ("confirm", "counted (review confirmed)",
     ["InternalRatings", "响应速度", 3, 4.33, 4, 5, 0, 0, 0, 2, 1, 0, 0]),
    # overturned: R3 stays out, now marked so; the points stay +2.25
    ("overturn", "not counted (overturned by a review)",
     ["InternalRatings", "响应速度", 2, 4, 4, 4, 0, 0, 0, 2, 0, 0, 1]),
])
def test_held_and_overturned_are_marked(tmp_path, db_url, decision, status, row):
    from rules.exceptions import review_id
    b = worked_example()
    b.review(review_id(PERIOD, "RATING_EXTREME", ("InternalRatings", "R3")), decision, "HR")
    out_dir, _ = report(tmp_path, db_url, b)
    got = sheets(out_dir / "feedback" / "D3.xlsx")
    assert got["By dimension"][1] == row
    assert got["Ratings"][3][-1] == status
    points = dict(map(tuple, got["Overview"][1:]))["peripheral points"]
    assert points == ("+2.75" if decision == "confirm" else "+2.25")


def test_only_departments_with_a_rating_that_counts_for_them(tmp_path, db_url):
    """A rating of the front office is rejected (RATING_NOT_SUPPORT): it is no feedback of D1's,
    and D1 gets no workbook."""
    b = worked_example()
    b.rating("R9", "E31", "D1", 2, comment="慢")
    out_dir, _ = report(tmp_path, db_url, b)
    assert sorted(p.name for p in (out_dir / "feedback").iterdir()) == ["D3.xlsx"]


def test_a_rating_reads_as_its_row_with_what_the_run_made_of_it():
    """reports.feedback.Rating: the ledger row shared, not copied, read as the dict
    dict(row, sheet=…, status=…, rater_dept_id=…, rater_dept_name=…) was."""
    from reports.feedback import Rating
    row = {"row": 7, "rating_id": "R7", "rater_id": "E2", "ratee_dept_id": "D3",
           "dimension": "响应速度", "score": 4, "comment": "=HYPERLINK(\"x\")"}
    r = Rating(row, "InternalRatings", "fb_held", "D1", "销售一部")
    assert r == {"row": 7, "rating_id": "R7", "rater_id": "E2", "ratee_dept_id": "D3",
                 "dimension": "响应速度", "score": 4, "comment": "=HYPERLINK(\"x\")",
                 "sheet": "InternalRatings", "status": "fb_held", "rater_dept_id": "D1",
                 "rater_dept_name": "销售一部"}
    assert list(r)[:7] == ["row", "rating_id", "rater_id", "ratee_dept_id", "dimension", "score",
                           "comment"] and len(r) == 11
    assert r.get("project_id") is None and r["status"] == "fb_held"
    assert r.row is row and dict(r, score=4.0)["score"] == 4.0


def test_departments_written_a_group_at_a_time_read_the_same(tmp_path, db_url, monkeypatch):
    """feedback.write holds at most HELD_RATINGS ratings: the departments, counted by their
    rating rows, are written a group at a time, each group reading its own part of each
    rating sheet kept in a file (each sheet split once, SpooledRows.partition; every part
    closed when written; the run's exceptions and adjustments read once, for every group).
    With one department a group, every workbook reads as the run's own (written in one
    group)."""
    import xietong
    from sqlmodel import Session
    from evaluator.runs import latest_run, load_run
    from importers.spooled import close_spooled
    from reports import feedback
    b = worked_example()
    b.dept("D2", tier="back", base=75, manager="E20", name="财务部")
    b.emp("E20", "D2", name="财务负责人")
    b.rating("R7", "E2", "D2", 3, comment="还行")            # D2 is rated too
    b.rating("R8", "E3", "D2", 4)
    b.raci("Q2", "P1", "E3", "D2", 4)
    out_dir, _ = report(tmp_path, db_url, b)
    names = sorted(p.name for p in (out_dir / "feedback").iterdir())
    assert len(names) >= 2, names
    builds = []
    real = feedback.build

    def counting(*args, **kw):
        builds.append(kw.get("only"))
        return real(*args, **kw)

    readings = []
    real_reading = feedback.read_run

    def reading(*args, **kw):
        readings.append(1)
        return real_reading(*args, **kw)

    from importers.spooled import SpooledRows
    splits, parts_made = [], []
    real_partition = SpooledRows.partition

    def partition(self, column, group_of):
        splits.append(column)
        parts = real_partition(self, column, group_of)
        parts_made.extend(parts.values())
        return parts

    monkeypatch.setattr(feedback, "build", counting)
    monkeypatch.setattr(feedback, "read_run", reading)
    monkeypatch.setattr(feedback, "HELD_RATINGS", 1)
    monkeypatch.setattr(SpooledRows, "partition", partition)
    with xietong.open_database(db_url) as db, Session(db.engine) as s:
        run = latest_run(s, PERIOD)
        stored = load_run(s, run)
        rows, _ = xietong.api._run_rows(s, run)
        try:
            paths = feedback.write(tmp_path / "grouped", PERIOD, rows, stored, "en", "en")
        finally:
            close_spooled(rows)
    assert [p.name for p in paths] == names
    assert builds == [{n.removesuffix(".xlsx")} for n in names]
    assert len(readings) == 1               # the run read once, for every group
    # the two rating sheets (in files) split once each, a part per rated department of each
    assert splits == ["ratee_dept_id", "ratee_dept_id"]
    # InternalRatings: D3 (R1-R3) and D2 (R7, R8); RaciRatings: D3 (Q1) and D2 (Q2)
    assert sorted(len(p) for p in parts_made) == [1, 1, 2, 3]
    assert all(p.closed for p in parts_made)
    for name in names:
        assert sheets(tmp_path / "grouped" / name) == sheets(out_dir / "feedback" / name), name


_pairs = st.tuples(st.sampled_from(["InternalRatings", "RaciRatings", "InternalRatings@2026-10"]),
                   st.integers(0, 5000))


@settings(max_examples=200, deadline=None)
@given(st.lists(_pairs, max_size=60), st.lists(_pairs, max_size=60))
def test_the_rows_the_blends_counted_answer_as_a_set(added, asked):
    """feedback._counted (which ratings a department's blend counted, kept compactly:
    rules.sources.SourceMarks) answers `in` exactly as the set of (sheet, row) pairs it
    replaced: the rating sources of the departments' blends, another month's too, and no
    other sheet's or rule's."""
    from reports.feedback import _counted
    adjustments = [
        {"rule": "peripheral.blend", "subject_type": "department",
         "sources": [p for p in added if p[0] != "RaciRatings"] + [("Departments", 1)]},
        {"rule": "raci.blend", "subject_type": "department",
         "sources": [p for p in added if p[0] == "RaciRatings"]},
        {"rule": "linkage.blend", "subject_type": "department",
         "sources": [("InternalRatings", 5001)]},
    ]
    counted = _counted({"adjustments": adjustments})
    want = set(added)
    for key in [*added, *asked, ("Departments", 1), ("InternalRatings", 5001),
                ("InternalRatings", -1), ("InternalRatings", "7")]:
        assert (key in counted) == (key in want), key
