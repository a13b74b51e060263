"""The review loop of SPEC §6/§8: the reviews/<assignee>.xlsx a manager receives, filled in with
openpyxl as a manager would and sent back unchanged through `xietong decisions`, moves the
scores exactly as SPEC §5.1/§5.2 say; a file with one non-assignee decision is refused whole;
the same file twice changes nothing."""
import io
import json
from pathlib import Path

import openpyxl
import pytest

from xietong.cli import main
from reports.template import write_ledger
from tests.dbs import db_state
from tests.ledgers import PERIOD, small_company


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()




def columns(ws) -> dict[str, int]:
    """A sheet's header -> its 1-based column (a manager finds the columns by their titles)."""
    return {c.value: c.column for c in ws[1] if c.value}


def fill_and_save(src: Path, dst: Path, decisions: dict, reviewers: dict | None = None,
                  comment: str | None = "已与评价人核实") -> Path:
    """Open a review workbook, choose decisions (key: review_id, or the item's 0-based index),
    optionally retype reviewer ids, and save it under `dst` — what a manager does in Excel."""
    wb = openpyxl.load_workbook(src)
    ws = wb.worksheets[0]
    col = columns(ws)
    decision, comment_col, reviewer = (col.get("结论") or col["decision"],
                                       col.get("复核说明") or col["comment"],
                                       col.get("复核人工号") or col["reviewer_id"])
    ids = [ws.cell(row=r, column=1).value for r in range(2, ws.max_row + 1)]
    for key, value in decisions.items():
        r = key + 2 if isinstance(key, int) else ids.index(key) + 2
        ws.cell(row=r, column=decision).value = value
        ws.cell(row=r, column=comment_col).value = comment
    for key, who in (reviewers or {}).items():
        ws.cell(row=ids.index(key) + 2, column=reviewer).value = who
    wb.save(dst)
    return dst


def ledger_rows():
    """small_company() and:
    M (middle, base 70) rated by F2 4 (响应速度), F3 5 (专业能力), F4 1 with a comment (沟通配合):
      the 5 and the 1 are RATING_EXTREME for the raters' manager F1, held while open
      → R = 20 × 4 = 80, no service metrics → peripheral 0.15 × (80 − 70) = 1.50, final 71.50.
    F2 (base 75): F1 proposes LEAD 2, SHARE 1, IMPROVE 3 → BEH_FREQUENT_PROPOSER for F1's
      manager C0; the rows stay applied while open → behaviour 6, final 81.
    M2 (base 80): RESCUE 2 from M1 → 82, untouched by any decision.
    """
    b = small_company()
    b.rating("R1", "F2", "M", 4, dimension="响应速度")
    b.rating("R2", "F3", "M", 5, dimension="专业能力")
    b.rating("R3", "F4", "M", 1, dimension="沟通配合", comment="多次延误")
    b.behaviour("B1", "F2", "LEAD", 2, "F1")
    b.behaviour("B2", "F2", "SHARE", 1, "F1")
    b.behaviour("B3", "F2", "IMPROVE", 3, "F1")
    b.behaviour("B4", "M2", "RESCUE", 2, "M1")
    return b.build().rows


def scores(folder: Path) -> tuple[dict, dict]:
    s = json.loads((folder / "scores.json").read_text("utf-8"))
    return ({d["dept_id"]: d for d in s["departments"]},
            {e["employee_id"]: e for e in s["employees"]})


@pytest.fixture
def loop(tmp_path, db_url):
    ledger = tmp_path / "ledger.xlsx"
    write_ledger(ledger, ledger_rows(), "zh")
    db = url = db_url
    code, out, err = cli("run", ledger, "--period", PERIOD, "--out", tmp_path / "o1", "--db", url,
                         "--format", "xlsx,json")
    assert code == 0, err
    return tmp_path, url, db


def test_filled_review_workbooks_move_the_scores(loop):
    tmp, url, db = loop
    depts, emps = scores(tmp / "o1")
    assert depts["M"]["by_mechanism"]["peripheral"] == 1.5 and depts["M"]["final"] == 71.5
    assert (emps["F2"]["behaviour"], emps["F2"]["final"]) == (6, 81)
    assert (emps["M2"]["behaviour"], emps["M2"]["final"]) == (2, 82)
    exceptions = json.loads((tmp / "o1" / "exceptions.json").read_text("utf-8"))
    extreme = {e["message"].split(":")[0]: e["review_id"] for e in exceptions
               if e["kind"] == "RATING_EXTREME"}
    frequent = next(e["review_id"] for e in exceptions if e["kind"] == "BEH_FREQUENT_PROPOSER")
    assert sorted(p.name for p in (tmp / "o1" / "reviews").iterdir()) == ["C0.xlsx", "F1.xlsx",
                                                                          "HR.xlsx"]

    # 1. one non-assignee decision refuses the whole file: nothing is recorded
    before = db_state(url)
    bad = fill_and_save(tmp / "o1" / "reviews" / "F1.xlsx", tmp / "F1-bad.xlsx",
                        {extreme["R2"]: "维持", extreme["R3"]: "撤销"},
                        reviewers={extreme["R3"]: "F2"})
    code, out, err = cli("decisions", bad, "--period", PERIOD, "--db", url)
    assert code == 1 and out == f"数据库：{url}\n"
    assert err.startswith(f"{bad}：复核清单被拒绝，共 1 个问题：")
    assert "复核结论!I3（复核人工号）：应为该事项的复核人 'F1' 或 HR，实际为 'F2'" in err
    assert err.rstrip().endswith("未记录任何结论。")
    assert db_state(url) == before

    # 2. the manager's file as received, filled in: confirm the extreme 5, overturn the 1
    f1 = fill_and_save(tmp / "o1" / "reviews" / "F1.xlsx", tmp / "F1.xlsx",
                       {extreme["R2"]: "维持", extreme["R3"]: "撤销"})
    code, out, err = cli("decisions", f1, "--period", PERIOD, "--db", url)
    assert code == 0, err
    assert "已记录 2026-11 复核结论 2 条，0 条无变化" in out
    # every change is printed: item, old → new, by whom
    assert f"  {extreme['R2']}（RATING_EXTREME，M）：待复核 → 维持，复核人 F1" in out.splitlines()
    assert f"  {extreme['R3']}（RATING_EXTREME，M）：待复核 → 撤销，复核人 F1" in out.splitlines()
    # ... and C0's, from an English report of the same run: overturn the frequent proposer
    assert cli("report", "--period", PERIOD, "--out", tmp / "en", "--db", url, "--lang", "en",
               "--format", "xlsx")[0] == 0
    c0 = fill_and_save(tmp / "en" / "reviews" / "C0.xlsx", tmp / "C0.xlsx", {frequent: "overturn"})
    code, out, err = cli("decisions", c0, "--period", PERIOD, "--db", url)
    assert code == 0, err
    # HR's workbook sent back untouched holds no decision: not a returned review workbook
    # (SPEC §10.3), and nothing is recorded (its rejections are read-only anyway)
    hr = tmp / "o1" / "reviews" / "HR.xlsx"
    code, out, err = cli("decisions", hr, "--period", PERIOD, "--db", url)
    assert code == 1 and err == (f"{hr}：不是交回的复核清单：其“复核结论”工作表中没有任何结论（空白模板，"
                                 "或复核结论页为空的台账）\n未记录任何结论。\n")

    assert cli("evaluate", "--period", PERIOD, "--db", url)[0] == 0
    assert cli("report", "--period", PERIOD, "--out", tmp / "o2", "--db", url)[0] == 0
    depts, emps = scores(tmp / "o2")
    # SPEC §5.2: the confirmed 5 counts, the overturned 1 stays out → mean (4 + 5) / 2 = 4.5,
    # R = 90 → peripheral 0.15 × (90 − 70) = 3.00
    assert depts["M"]["by_mechanism"]["peripheral"] == 3.0 and depts["M"]["final"] == 73.0
    # SPEC §5.1: the overturned frequent-proposer review removes its rows from the sum
    assert (emps["F2"]["behaviour"], emps["F2"]["final"]) == (0, 75)
    assert (emps["M2"]["behaviour"], emps["M2"]["final"]) == (2, 82)
    status = {e["review_id"]: e["status"] for e in
              json.loads((tmp / "o2" / "exceptions.json").read_text("utf-8"))}
    assert (status[extreme["R2"]], status[extreme["R3"]], status[frequent]) == (
        "confirmed", "overturned", "overturned")
    # the statement shows it, and the next review list shows the decided statuses
    st = openpyxl.load_workbook(tmp / "o2" / "statement.xlsx")
    m = next(r for r in st["部门得分"].iter_rows(values_only=True) if r[0] == "M")
    assert m[3:9] == (70, 0, 3, 0, 0, 73)
    f2 = next(r for r in st["员工得分"].iter_rows(values_only=True) if r[0] == "F2")
    assert f2[4:8] == (75, 0, 75, "3 条记录因频繁提议复核被撤销而不计分")
    again = openpyxl.load_workbook(tmp / "o2" / "reviews" / "F1.xlsx")["复核结论"]
    assert {r[0]: r[9] for r in again.iter_rows(min_row=2, values_only=True)} == {
        extreme["R2"]: "已维持", extreme["R3"]: "已撤销"}

    # 3. the same file twice changes nothing
    before = db_state(url)
    code, out, err = cli("decisions", f1, "--period", PERIOD, "--db", url)
    assert code == 0 and "已记录 2026-11 复核结论 0 条，2 条无变化" in out
    assert db_state(url) == before
    assert cli("evaluate", "--period", PERIOD, "--db", url)[0] == 0
    assert cli("report", "--period", PERIOD, "--out", tmp / "o3", "--db", url,
               "--format", "json")[0] == 0
    assert scores(tmp / "o3") == scores(tmp / "o2")
    assert "审计链校验通过" in cli("verify", "--db", url)[1]      # the ledger was Chinese
