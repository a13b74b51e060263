"""What HR, managers and auditors read around a decision (SPEC §10.3, §10.7): a manager's words
never vanish — the comment, author and time of every decision appear in the statement's Reviews
sheet, the trace, exceptions.json and the re-issued review workbook (which can still change
it); every review workbook is stamped with its run and issue time, read back by
importers.stamp, and an outdated copy is refused; review workbooks put names beside ids and the
evidence beside the decision cells, print on one page width and name their assignee; HR.xlsx
lists every workbook; counts say how many items are still open; the statement says
provisional or final, explains 是否计入 and gives every blank final a reason.

One story, on SPEC §9's worked example (zh ledger) plus an invalid metric M2 that D3 (which
also pays M1's penalty) and a new department D2 share:

1. `run` → o1: three review items — the 5 of R3 (RATING_EXTREME, for E1), the two
   INTERLOCK_MISSED of M1 (D1's for E1, D3's for E30) — all open.
2. E1 returns o1/reviews/E1.xlsx confirming the 5 with a full-width comment; an older copy of
   it (o1's, issued before that decision) comes back overturning the 5: refused; HR decides
   D3's post-mortem in the desk with a two-line comment; `evaluate`, `report` → o2.
3. E1 returns o2/reviews/E1.xlsx confirming D1's post-mortem; `report` (the run is now out of
   date) → o3; `evaluate`, `report` → o4: nothing is open.
4. HR closes the period; `report` → o5: the figures are final.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest

import xietong
from xietong import api
from importers.stamp import Stamp, read_stamp
from reports.template import write_ledger
from tests.ledgers import PERIOD, worked_example
from tests.test_review_loop import fill_and_save
from xietong.cli import main

CONFIRMED_5 = "核实属实，响应确实及时"           # full-width comma: kept as typed (SPEC §10.1)
POST_MORTEM = "复盘会已开\n纪要见附件"


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def ledger_rows():
    b = worked_example()
    b.dept("D2", tier="back", base=60, manager="E20", name="财务部")
    b.emp("E20", "D2", name="财务负责人")
    b.interlock("M2", 100, 120, 4, 4, name="回款")
    b.party("M2", "D3", "0.5")
    b.party("M2", "D2", "0.4")                 # 0.5 + 0.4: INTERLOCK_WEIGHTS, M2 is invalid
    return b.build().rows


def _utc(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(timezone.utc)


def _minute(iso: str) -> str:
    return _utc(iso).strftime("%Y-%m-%d %H:%M")


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("people")
    ledger = tmp / "ledger.xlsx"
    write_ledger(ledger, ledger_rows(), "zh")
    url = f"sqlite:///{tmp / 'x.db'}"
    db = xietong.open_database(url)
    out = {"tmp": tmp, "url": url, "db": db}

    before = datetime.now(timezone.utc)
    code, out["o1_out"], err = cli("run", ledger, "--period", PERIOD, "--out", tmp / "o1",
                                   "--db", url)
    assert code == 0, err
    out["o1_issued"] = (before, datetime.now(timezone.utc))
    items = json.loads((tmp / "o1" / "exceptions.json").read_text("utf-8"))
    out["extreme"] = next(e["review_id"] for e in items if e["kind"] == "RATING_EXTREME")
    out["missed_d1"], out["missed_d3"] = (
        next(e["review_id"] for e in items if e["kind"] == "INTERLOCK_MISSED"
             and e["subject_id"] == d) for d in ("D1", "D3"))

    e1 = fill_and_save(tmp / "o1" / "reviews" / "E1.xlsx", tmp / "E1-back.xlsx",
                       {out["extreme"]: "维持"}, comment=CONFIRMED_5)
    code, _, err = cli("decisions", e1, "--period", PERIOD, "--db", url)
    assert code == 0, err
    outdated = fill_and_save(tmp / "o1" / "reviews" / "E1.xlsx", tmp / "E1-outdated.xlsx",
                             {out["extreme"]: "撤销"})
    out["outdated"] = (outdated, *cli("decisions", outdated, "--period", PERIOD, "--db", url))
    api.decide(db, PERIOD, out["missed_d3"], "confirm", POST_MORTEM, reviewer_id="HR",
                   account="hr-li", lang="zh")
    assert cli("evaluate", "--period", PERIOD, "--db", url)[0] == 0
    before = datetime.now(timezone.utc)
    code, out["o2_out"], err = cli("report", "--period", PERIOD, "--out", tmp / "o2", "--db", url)
    assert code == 0, err
    out["o2_issued"] = (before, datetime.now(timezone.utc))
    out["decided"] = {d["review_id"]: d for d in api.decisions(db, PERIOD)}

    e1 = fill_and_save(tmp / "o2" / "reviews" / "E1.xlsx", tmp / "E1-back2.xlsx",
                       {out["missed_d1"]: "维持"}, comment=None)
    code, out["decisions3"], err = cli("decisions", e1, "--period", PERIOD, "--db", url)
    assert code == 0, err
    code, out["o3_out"], err = cli("report", "--period", PERIOD, "--out", tmp / "o3", "--db", url)
    assert code == 0, err
    assert cli("evaluate", "--period", PERIOD, "--db", url)[0] == 0
    code, out["o4_out"], err = cli("report", "--period", PERIOD, "--out", tmp / "o4", "--db", url)
    assert code == 0, err
    out["closed"] = api.close_period(db, PERIOD, by="hr-li", reason="11 月定稿", lang="zh")
    code, out["o5_out"], err = cli("report", "--period", PERIOD, "--out", tmp / "o5", "--db", url)
    assert code == 0, err
    yield out
    db.close()


def rows_of(path: Path, sheet: str) -> list[list]:
    return [list(r) for r in openpyxl.load_workbook(path)[sheet].iter_rows(values_only=True)]


def by_id(rows: list[list]) -> dict:
    return {r[0]: r for r in rows[1:]}


# ----------------------------------------------------------------------------- words never vanish

def test_statement_reviews_sheet_has_every_decision_with_its_words(story):
    o2 = story["tmp"] / "o2" / "statement.xlsx"
    assert openpyxl.load_workbook(o2).sheetnames == [
        "部门得分", "员工得分", "未计入说明", "复核事项", "图表", "运行信息"]
    rows = rows_of(o2, "复核事项")
    assert rows[0] == ["复核编号", "异常类型", "对象", "对象名称", "复核人", "复核人姓名", "状态", "结论",
                       "复核说明", "决定人", "决定时间（UTC）"]
    got = by_id(rows)
    decided = story["decided"]
    extreme, d1, d3 = story["extreme"], story["missed_d1"], story["missed_d3"]
    assert got[extreme][:10] == [extreme, "RATING_EXTREME", "D3", "IT部", "E1", "张总", "已维持",
                                 "维持", CONFIRMED_5, "E1"]
    assert got[d3][:10] == [d3, "INTERLOCK_MISSED", "D3", "IT部", "E30", "IT负责人", "已维持",
                            "维持", POST_MORTEM, "HR"]
    assert got[d1] == [d1, "INTERLOCK_MISSED", "D1", "销售部", "E1", "张总", "待复核", None, None,
                       None, None]
    assert list(got) == [extreme, d1, d3]                   # the run's order, reviews only
    for rid in (extreme, d3):
        at = got[rid][10]                                    # a date-time, not text
        assert isinstance(at, datetime)
        assert abs(at - _utc(decided[rid]["decided_at"]).replace(tzinfo=None)) < timedelta(
            milliseconds=1)
    ws = openpyxl.load_workbook(o2)["复核事项"]
    assert ws["K2"].number_format == "yyyy-mm-dd hh:mm:ss" and ws.freeze_panes == "B2"


def test_exceptions_json_carries_the_decision_the_run_applied(story):
    items = {e["review_id"]: e for e in
             json.loads((story["tmp"] / "o2" / "exceptions.json").read_text("utf-8"))}
    decided = story["decided"]
    extreme, d1, d3 = story["extreme"], story["missed_d1"], story["missed_d3"]
    assert items[extreme]["decision"] == {
        "value": "confirm", "comment": CONFIRMED_5, "by": "E1",
        "at": _utc(decided[extreme]["decided_at"]).isoformat(timespec="seconds")}
    assert items[d3]["decision"] == {
        "value": "confirm", "comment": POST_MORTEM, "by": "HR",
        "at": _utc(decided[d3]["decided_at"]).isoformat(timespec="seconds")}
    assert items[d1]["decision"] is None and items[d1]["status"] == "open"
    assert all(e["decision"] is None for e in items.values() if e["type"] == "rejection")
    # before any decision every item says so
    first = json.loads((story["tmp"] / "o1" / "exceptions.json").read_text("utf-8"))
    assert [e["decision"] for e in first] == [None] * len(first)


def test_trace_shows_the_decision_beside_the_firing_that_applied_it(story):
    decided = story["decided"]
    rows = rows_of(story["tmp"] / "o2" / "trace.xlsx", "规则触发")
    assert rows[0][10] == "复核编号" and rows[0][13] == "计算说明"
    extreme = next(r for r in rows[1:] if r[10] == story["extreme"])
    d = decided[story["extreme"]]
    assert extreme[11] == "已维持"
    assert extreme[13].endswith(f" | 复核结论：维持，E1，{_minute(d['decided_at'])} UTC（审计链 "
                                f"#{d['chain_seq']}）：{CONFIRMED_5}")
    d3 = next(r for r in rows[1:] if r[10] == story["missed_d3"])
    d = decided[story["missed_d3"]]
    assert d3[13].endswith(f" | 复核结论：维持，HR，{_minute(d['decided_at'])} UTC（审计链 "
                           f"#{d['chain_seq']}）：{POST_MORTEM}")
    open_one = next(r for r in rows[1:] if r[10] == story["missed_d1"])
    assert "复核结论" not in open_one[13]
    page = (story["tmp"] / "o2" / "trace.html").read_text("utf-8")
    assert json.dumps(f"（审计链 #{d['chain_seq']}）：{POST_MORTEM}", ensure_ascii=False)[1:-1] \
        in page


def test_reissued_workbook_shows_the_decisions_and_they_can_still_change(story):
    tmp, decided = story["tmp"], story["decided"]
    e1 = by_id(rows_of(tmp / "o2" / "reviews" / "E1.xlsx", "复核结论"))
    at = _minute(decided[story["extreme"]]["decided_at"])
    # E1's own decision: in the decision and comment cells, and recorded beside them
    assert e1[story["extreme"]][6:11] == ["维持", CONFIRMED_5, "E1", "已维持",
                                          f"维持（E1 张总，{at} UTC）\n{CONFIRMED_5}"]
    assert e1[story["missed_d1"]][6:11] == [None, None, "E1", "待复核", None]
    # HR decided E30's item: shown, but not put in E30's decision cells (it would go back as
    # E30's decision)
    e30 = by_id(rows_of(tmp / "o2" / "reviews" / "E30.xlsx", "复核结论"))
    at = _minute(decided[story["missed_d3"]]["decided_at"])
    assert e30[story["missed_d3"]][6:11] == [None, None, "E30", "已维持",
                                             f"维持（HR 人力资源部，{at} UTC）\n{POST_MORTEM}"]
    # o2's E1.xlsx, returned with D1's post-mortem confirmed and the 5 left as it was: one
    # decision recorded, the prefilled one unchanged
    assert story["decisions3"].splitlines()[1:] == [
        f"{tmp / 'E1-back2.xlsx'}：已记录 2026-11 复核结论 1 条，1 条无变化。下次运行 `xietong evaluate "
        "--period 2026-11` 时生效。",
        f"  {story['missed_d1']}（INTERLOCK_MISSED，D1）：待复核 → 维持，复核人 E1"]


def test_unchanged_reissued_workbook_records_nothing(tmp_path):
    """A re-issued workbook returned as received changes nothing: its prefilled decision is the
    one in force, by the same reviewer, with the same comment."""
    ledger = tmp_path / "ledger.xlsx"
    write_ledger(ledger, worked_example().build().rows, "zh")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert cli("run", ledger, "--period", PERIOD, "--out", tmp_path / "o1", "--db", url,
               "--format", "xlsx")[0] == 0
    back = fill_and_save(tmp_path / "o1" / "reviews" / "E30.xlsx", tmp_path / "back.xlsx",
                         {0: "撤销"}, comment="未开复盘会")
    assert cli("decisions", back, "--period", PERIOD, "--db", url)[0] == 0
    assert cli("evaluate", "--period", PERIOD, "--db", url)[0] == 0
    assert cli("report", "--period", PERIOD, "--out", tmp_path / "o2", "--db", url,
               "--format", "xlsx")[0] == 0
    again = tmp_path / "o2" / "reviews" / "E30.xlsx"
    [row] = rows_of(again, "复核结论")[1:]
    assert row[6:10] == ["撤销", "未开复盘会", "E30", "已撤销"]
    code, out, err = cli("decisions", again, "--period", PERIOD, "--db", url)
    assert code == 0, err
    assert "已记录 2026-11 复核结论 0 条，1 条无变化" in out
    # changed in the re-issued copy: recorded, old → new
    changed = fill_and_save(again, tmp_path / "changed.xlsx", {0: "维持"}, comment="已补开复盘会")
    code, out, err = cli("decisions", changed, "--period", PERIOD, "--db", url)
    assert code == 0, err
    assert "撤销 → 维持，复核人 E30" in out


# ----------------------------------------------------------------------------- stamps

def test_every_review_workbook_is_stamped_with_its_run_and_issue_time(story):
    tmp = story["tmp"]
    low, high = story["o2_issued"]
    stamps = {p.stem: read_stamp(p) for p in (tmp / "o2" / "reviews").glob("*.xlsx")}
    assert sorted(stamps) == ["E1", "E30", "HR"]
    issued = stamps["E1"].issued_at
    assert low <= issued <= high and issued.tzinfo is not None
    assert stamps == {who: Stamp(2, PERIOD, who, issued) for who in ("E1", "E30", "HR")}
    # the visible line says the same, and so does the printed page's header
    guide = [r[0] for r in rows_of(tmp / "o2" / "reviews" / "E1.xlsx", "说明")]
    minute = issued.strftime("%Y-%m-%d %H:%M")
    assert guide[:3] == [
        "复核清单：张总（E1），2026-11",
        f"本清单依据运行记录 #2 生成，发出时间 {minute} UTC。请交回最新发出的清单：会改变其后记录的结论的旧清单"
        "将被拒绝。",
        "共 2 项：待复核 1 项，已有结论 1 项"]
    ws = openpyxl.load_workbook(tmp / "o2" / "reviews" / "E1.xlsx")["复核结论"]
    assert ws.oddHeader.left.text == "复核清单：张总（E1），2026-11"
    assert ws.oddHeader.right.text == f"运行记录 #2 · 发出 {minute} UTC · 第 &P / &N 页"
    with zipfile.ZipFile(tmp / "o2" / "reviews" / "E1.xlsx") as z:
        core = z.read("docProps/core.xml").decode()
    assert "<dc:title>复核清单：张总（E1），2026-11</dc:title>" in core


def test_an_outdated_stamped_workbook_is_refused(story):
    """o1's E1.xlsx was issued before E1's decision on the 5 was recorded: returning it with
    another decision would undo the newer one, and `xietong decisions` refuses it, naming it."""
    old = story["tmp"] / "o1" / "reviews" / "E1.xlsx"
    low, high = story["o1_issued"]
    stamp = read_stamp(old)
    assert stamp.run_id == 1 and stamp.assignee == "E1" and low <= stamp.issued_at <= high
    outdated, code, out, err = story["outdated"]
    assert read_stamp(outdated) == stamp                 # saved by openpyxl: the stamp stays
    first = story["decided"][story["extreme"]]
    assert code == 1 and err.splitlines() == [
        f"{outdated}：复核清单被拒绝，共 1 个问题：",
        f"  复核结论!G2（结论）：'{story['extreme']}' 已于 {_minute(first['decided_at'])} UTC 由 E1 "
        f"作出结论 维持，晚于本复核清单的发放时间（{stamp.issued_at.strftime('%Y-%m-%d %H:%M')} "
        "UTC）；此处的 撤销 来自过时的副本，会推翻较新的结论。请使用较新的复核清单，或由 HR 以 --supersede "
        "强制记录",
        "未记录任何结论。"]


# ----------------------------------------------------------------------------- for people

def test_review_workbook_puts_names_beside_ids_and_evidence_beside_the_decision(story):
    rows = rows_of(story["tmp"] / "o1" / "reviews" / "E1.xlsx", "复核结论")
    assert rows[0] == ["复核编号", "对象", "对象名称", "发现的问题", "复核原因", "引用值", "结论", "复核说明",
                       "复核人工号", "状态", "已记录的结论", "异常类型"]
    extreme = by_id(rows)[story["extreme"]]
    assert extreme[1:3] == ["D3", "IT部"]
    assert extreme[4] == "极端高分或低分，须复核"
    assert extreme[5] == ("周边评价!4: 评价编号=R3; 评价人工号=E4（赵销售）; 被评部门编号=D3（IT部）; "
                          "评价维度=响应速度; 分数=5")
    assert extreme[6:12] == [None, None, "E1", "待复核", None, "RATING_EXTREME"]
    missed = by_id(rows)[story["missed_d1"]]
    assert missed[1:3] == ["D1", "销售部"]
    assert missed[5].startswith("指标互锁!2: 互锁指标编号=M1; 指标名称=新业务收入;")
    assert "互锁部门!2: 互锁指标编号=M1; 部门编号=D1（销售部）; 权重=0.7" in missed[5]
    ws = openpyxl.load_workbook(story["tmp"] / "o1" / "reviews" / "E1.xlsx")["复核结论"]
    assert ws.freeze_panes == "B2"
    assert [(str(dv.sqref), dv.formula1) for dv in ws.data_validations.dataValidation] == [
        ("G2:G3", '"维持,撤销"')]
    for r in (2, 3):
        assert [c for c in range(1, 13) if not ws.cell(row=r, column=c).protection.locked] == [7, 8]
    # the cited values wrap, and the row is as high as its text
    assert ws["F2"].alignment.wrap_text and ws.row_dimensions[3].height >= 30


def test_review_workbooks_print_on_one_page_width(story):
    with zipfile.ZipFile(story["tmp"] / "o1" / "reviews" / "HR.xlsx") as z:
        book = z.read("xl/workbook.xml").decode()
        sheets = {n: z.read(n).decode() for n in z.namelist()
                  if n.startswith("xl/worksheets/sheet")}
    assert len(sheets) == 4                     # reviews, rejections, the list, the guide
    for n in ("xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml", "xl/worksheets/sheet3.xml"):
        xml = sheets[n]
        assert re.search(r'<pageSetUpPr fitToPage="1"\s*/>', xml), n
        setup = re.search(r"<pageSetup [^>]*/>", xml).group(0)
        assert 'orientation="landscape"' in setup and 'fitToWidth="1"' in setup
        assert 'fitToHeight="0"' in setup and 'paperSize="9"' in setup
    for i, title in enumerate(("复核结论", "驳回与提示", "复核清单一览")):
        assert (f'<definedName name="_xlnm.Print_Titles" localSheetId="{i}">\'{title}\'!$1:$1'
                f"</definedName>") in book
    # beside each sheet's own auto-filter name, in openpyxl's order
    names = re.findall(r'<definedName name="([^"]+)" localSheetId="(\d)"', book)
    assert names == [("_xlnm._FilterDatabase", "0"), ("_xlnm.Print_Titles", "0"),
                     ("_xlnm._FilterDatabase", "1"), ("_xlnm.Print_Titles", "1"),
                     ("_xlnm._FilterDatabase", "2"), ("_xlnm.Print_Titles", "2")]
    wb = openpyxl.load_workbook(story["tmp"] / "o1" / "reviews" / "HR.xlsx")
    assert wb["复核结论"].print_title_rows == "$1:$1"
    assert wb["复核结论"].page_setup.orientation == "landscape"


def test_hr_workbook_lists_every_assignee_workbook(story, tmp_path):
    rows = rows_of(story["tmp"] / "o2" / "reviews" / "HR.xlsx", "复核清单一览")
    assert rows == [["工号", "姓名", "部门", "电子邮箱", "文件", "事项", "待复核"],
                    ["HR", "人力资源部", None, None, "HR.xlsx", 0, 0],
                    ["E1", "张总", "销售部", None, "E1.xlsx", 2, 1],
                    ["E30", "IT负责人", "IT部", None, "E30.xlsx", 1, 0]]
    assert openpyxl.load_workbook(story["tmp"] / "o2" / "reviews" / "HR.xlsx").sheetnames == [
        "复核结论", "驳回与提示", "复核清单一览", "说明"]
    # an e-mail address where a desk account has one
    ledger = tmp_path / "ledger.xlsx"
    write_ledger(ledger, worked_example().build().rows, "en")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    db = xietong.open_database(url)
    api.add_account(db, "it-head", "manager", "a-long-password-1", employee_id="E30",
                        email="it.head@example.com")
    assert cli("run", ledger, "--period", PERIOD, "--out", tmp_path / "o", "--db", url,
               "--format", "xlsx", "--lang", "en")[0] == 0
    db.close()
    rows = rows_of(tmp_path / "o" / "reviews" / "HR.xlsx", "Workbooks")
    assert rows[0] == ["id", "name", "department", "e-mail", "file", "items", "open"]
    assert rows[1:] == [["HR", "HR", None, None, "HR.xlsx", 0, 0],
                        ["E1", "张总", "销售部", None, "E1.xlsx", 2, 2],
                        ["E30", "IT负责人", "IT部", "it.head@example.com", "E30.xlsx", 1, 1]]


# ----------------------------------------------------------------------------- counts

def test_counts_say_how_many_are_still_open(story):
    tmp = story["tmp"]
    line = next(x for x in story["o2_out"].splitlines() if x.startswith("  reviews/"))
    assert line == ("  reviews/        3 份复核清单，每位复核人一份：复核事项 3 项，其中 1 项待复核；HR.xlsx "
                    "列出全部清单，另列 2 项驳回与提示")
    # every item decided (the run out of date): the report and the workbooks say so
    for report in ("o3_out", "o4_out"):
        line = next(x for x in story[report].splitlines() if x.startswith("  reviews/"))
        assert line == ("  reviews/        3 份复核清单，每位复核人一份：复核事项 3 项，均已有结论；HR.xlsx "
                        "列出全部清单，另列 2 项驳回与提示"), report
    assert story["o3_out"].splitlines()[1].startswith("注意：2026-11 的最新评估（运行记录 #2）早于")
    for folder in ("o3", "o4"):
        guide = [r[0] for r in rows_of(tmp / folder / "reviews" / "E1.xlsx", "说明")]
        assert guide[2] == "共 2 项：待复核 0 项，已有结论 2 项"
        hr = [r[0] for r in rows_of(tmp / folder / "reviews" / "HR.xlsx", "说明")]
        assert hr[2] == "共 0 项：待复核 0 项，已有结论 0 项；驳回与提示 2 项"
        status = [r[9] for r in rows_of(tmp / folder / "reviews" / "E1.xlsx", "复核结论")[1:]]
        assert status == ["已维持", "已维持"]


# ----------------------------------------------------------------------------- the statement

def info(path: Path) -> dict:
    return {k: v for k, v in rows_of(path, "运行信息")[1:]}


def test_statement_says_provisional_or_final_with_the_open_count(story):
    tmp = story["tmp"]
    first = info(tmp / "o1" / "statement.xlsx")
    assert (first["复核事项"], first["待复核事项"]) == (3, 3)
    assert first["结果状态"] == "暂定：3 项复核待决，本期未关闭"
    second = info(tmp / "o2" / "statement.xlsx")
    assert (second["待复核事项"], second["结果状态"]) == (1, "暂定：1 项复核待决，本期未关闭")
    decided = info(tmp / "o4" / "statement.xlsx")
    assert (decided["待复核事项"], decided["结果状态"]) == (0, "暂定：复核均已决定，本期未关闭")
    closed = info(tmp / "o5" / "statement.xlsx")
    at = story["closed"].at.replace(tzinfo=timezone.utc) if story["closed"].at.tzinfo is None \
        else story["closed"].at
    assert closed["结果状态"] == f"定稿：本期已于 {at.strftime('%Y-%m-%d %H:%M')} UTC 由 hr-li 关闭"
    # numbers are numbers
    assert (closed["运行记录"], closed["复核事项"], closed["待复核事项"]) == (3, 3, 0)
    assert isinstance(closed["规则触发次数"], int) and isinstance(closed["异常项"], int)
    ws = openpyxl.load_workbook(tmp / "o5" / "statement.xlsx")["运行信息"]
    assert {c.data_type for c in ws["B"][1:] if isinstance(c.value, int)} == {"n"}


def test_applied_says_the_same_for_the_same_reason(story):
    """M2 is invalid: D3 (which pays M1's penalty) and D2 (a party of M2 alone) get the same
    reason, and the same answer: what the reason describes did not count."""
    rows = rows_of(story["tmp"] / "o1" / "statement.xlsx", "未计入说明")
    assert rows[0] == ["部门编号", "部门名称", "机制", "是否计入", "原因"]
    reason = "指标互锁未计入：M2 设置无效（互锁部门权重之和不为 1），HR 须修正台账"
    assert ["D2", "财务部", "指标互锁", "否", reason] in rows
    assert ["D3", "IT部", "指标互锁", "否", reason] in rows
    assert ["D3", "IT部", "周边绩效", "是", "周边绩效已计入，1 条评价待复核，未计入均值"] in rows
    assert all(r[3] == "否" for r in rows[1:] if re.search("(未计入|不适用|未扣分)：", r[4]))
    ws = openpyxl.load_workbook(story["tmp"] / "o1" / "statement.xlsx")["未计入说明"]
    assert ws["D1"].comment.text.startswith("「是否计入」说的是该行原因所述的内容：是 = 已计入得分")
    # the trace's table is the same
    assert rows_of(story["tmp"] / "o1" / "trace.xlsx", "未计入说明") == rows


def test_a_blank_final_has_a_reason(story):
    rows = rows_of(story["tmp"] / "o1" / "statement.xlsx", "员工得分")
    e30 = by_id(rows)["E30"]
    assert e30 == ["E30", "IT负责人", "D3", "IT部", None, 0, None,
                   "员工表未填个人绩效得分，最终得分留空"]
    assert all(r[7] for r in rows[1:] if r[6] is None)
