"""The report files of SPEC §8 written by `xietong run` / `report`: statement.xlsx (rows, sums,
layout, chart, why-not notes), trace.xlsx and trace.html (every firing, hashes, chain status,
escaping), reviews/<assignee>.xlsx (only the assignee's items, dropdown, protection, HR's
read-only rejections), and ledger text that must never become a formula in any workbook."""
import io
import json
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from xietong.cli import main
from reports.template import write_ledger
from reports.reviews import safe_file_stem
from tests.ledgers import PERIOD, small_company, worked_example

INJECT_COMMENT = '=HYPERLINK("http://x","y")'
INJECT_EVIDENCE = "+cmd|calc"
INJECT_NAME = '=HYPERLINK("http://x","y")'
INJECT_DEPT = "@SUM(1,1)"
INJECT_EVENT = "=1+1"
HTML_ATTACK = '</script><script>alert(1)</script><img src=x onerror=alert(2)>'


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def company():
    """small_company() plus one of everything a report has to explain.

    M (middle, 70): linked to K1 at high (C = 1.1 → 0.25 × 40 = 10.00); rated 4 (counted),
      5 and 1 (both RATING_EXTREME, held) → R = 80 → peripheral 0.15 × 10 = 1.50; no RACI;
      a party to the invalid X1 → final 81.50.
    F (front, 80): no Linkage rows, front office, a party to X1 → 80.
    B (back, 60; its name starts with @): one rating, a 5, held → PERIPHERAL_NO_RATINGS;
      not a party to any metric → 60.
    X1: weights 0.5 + 0.4 → INTERLOCK_WEIGHTS (HR).
    F2 (75): three bonus rows from F1 (LEAD 2, SHARE 1, IMPROVE 3; evidence "+cmd|calc")
      → BEH_FREQUENT_PROPOSER for C0 → 81. M2 (80): RESCUE 2 → 82.
    B2 (90): event "=1+1" without evidence → BEH_NO_EVIDENCE (HR) → 90.
    F3's name is a formula.
    """
    b = small_company()
    for e in b.rows["Employees"]:
        if e["employee_id"] == "F3":
            e["name"] = INJECT_NAME
    for d in b.rows["Departments"]:
        if d["dept_id"] == "B":
            d["name"] = INJECT_DEPT
    b.kpi("K1", 100, 110, name="收入")
    b.link("M", "K1", "high")
    b.rating("R1", "F2", "M", 4, dimension="响应速度")
    b.rating("R2", "F3", "M", 5, dimension="专业能力", comment=INJECT_COMMENT)
    b.rating("R3", "F4", "M", 1, dimension="沟通配合", comment=HTML_ATTACK)
    b.rating("R4", "F2", "B", 5, dimension="响应速度")
    b.interlock("X1", 100, 120, 4, 4, name="新业务")
    b.party("X1", "F", "0.5")
    b.party("X1", "M", "0.4")
    b.behaviour("B1", "F2", "LEAD", 2, "F1", evidence=INJECT_EVIDENCE)
    b.behaviour("B2", "F2", "SHARE", 1, "F1", evidence=INJECT_EVIDENCE)
    b.behaviour("B3", "F2", "IMPROVE", 3, "F1", evidence=INJECT_EVIDENCE)
    b.behaviour("B4", "M2", "RESCUE", 2, "M1")
    b.behaviour(INJECT_EVENT, "B2", "SHARE", 1, "B1", evidence=None)
    return b


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reports")
    ledger = tmp / "ledger.xlsx"
    write_ledger(ledger, company().build().rows, "zh")
    url = f"sqlite:///{tmp / 'x.db'}"
    code, out, err = cli("run", ledger, "--period", PERIOD, "--out", tmp / "zh", "--db", url)
    assert code == 0, err
    code, out_en, err = cli("report", "--period", PERIOD, "--out", tmp / "en", "--db", url,
                            "--lang", "en")
    assert code == 0, err
    return {"dir": tmp, "zh": tmp / "zh", "en": tmp / "en", "out": out, "out_en": out_en,
            "url": url}


def load_json(folder: Path, name: str):
    return json.loads((folder / name).read_text("utf-8"))


def sheet_rows(ws):
    return [list(r) for r in ws.iter_rows(values_only=True)]


# ------------------------------------------------------------------------------ statement

def test_statement_departments_add_up_to_scores_json(run):
    wb = openpyxl.load_workbook(run["zh"] / "statement.xlsx")
    assert wb.sheetnames == ["部门得分", "员工得分", "未计入说明", "复核事项", "图表", "运行信息"]
    rows = sheet_rows(wb["部门得分"])
    assert rows[0] == ["部门编号", "部门名称", "层级", "基础分", "关联矩阵", "周边绩效", "责任矩阵",
                       "指标互锁", "最终得分", "说明"]
    body = {r[0]: r for r in rows[1:]}
    assert [r[:9] for r in rows[1:]] == [
        ["B", INJECT_DEPT, "后台", 60, 0, 0, 0, 0, 60],
        ["F", "销售部", "前台", 80, 0, 0, 0, 0, 80],
        ["M", "产品部", "中台", 70, 10, 1.5, 0, 0, 81.5],
    ]
    scores = load_json(run["zh"], "scores.json")
    for d in scores["departments"]:
        r = body[d["dept_id"]]
        assert r[3] == d["base"] and r[8] == d["final"]
        assert dict(zip(("linkage", "peripheral", "raci", "interlock"), r[4:8])) == d["by_mechanism"]
        assert round(sum(Decimal(str(x)) for x in r[3:8]), 2) == Decimal(str(r[8]))


def test_statement_employees(run):
    wb = openpyxl.load_workbook(run["zh"] / "statement.xlsx")
    rows = sheet_rows(wb["员工得分"])
    assert rows[0] == ["工号", "姓名", "部门编号", "部门名称", "基础分", "协同行为分（封顶后）",
                       "最终得分", "说明"]
    by_id = {r[0]: r for r in rows[1:]}
    assert by_id["F2"][:7] == ["F2", "F2", "F", "销售部", 75, 6, 81]
    assert by_id["F2"][7] == "频繁提议待复核（3 条加分暂计入）"
    assert by_id["M2"][:7] == ["M2", "M2", "M", "产品部", 80, 2, 82]
    assert by_id["B2"][:7] == ["B2", "B2", "B", INJECT_DEPT, 90, 0, 90]
    assert by_id["B2"][7] == "1 条协同行为记录被驳回（缺少事实依据）"
    assert by_id["F3"][:7] == ["F3", INJECT_NAME, "F", "销售部", None, 0, None]
    scores = load_json(run["zh"], "scores.json")
    assert [(e["employee_id"], e["base"], e["behaviour"], e["final"]) for e in scores["employees"]] \
        == [(r[0], r[4], r[5], r[6]) for r in rows[1:]]


def test_statement_employees_beyond_the_widths_sample_are_all_written(run, monkeypatch):
    """The employees are made as the sheet is saved, the first rows measured for the widths
    first (reports.workbook.WIDTH_SAMPLE_ROWS): with a sample of 3, every row still written."""
    import reports.statement
    monkeypatch.setattr(reports.statement, "WIDTH_SAMPLE_ROWS", 3)
    code, _, err = cli("report", "--period", PERIOD, "--out", run["dir"] / "sample3", "--db",
                       run["url"], "--format", "xlsx")
    assert code == 0, err
    got = sheet_rows(openpyxl.load_workbook(run["dir"] / "sample3" / "statement.xlsx")["员工得分"])
    want = sheet_rows(openpyxl.load_workbook(run["zh"] / "statement.xlsx")["员工得分"])
    assert len(want) == 10 and got == want


def test_statement_layout_and_chart(run):
    wb = openpyxl.load_workbook(run["zh"] / "statement.xlsx")
    ws = wb["部门得分"]
    assert ws.freeze_panes == "C2"
    assert ws.auto_filter.ref == "A1:J4"
    assert {ws.cell(row=r, column=c).number_format for r in range(2, 5) for c in range(4, 10)} \
        == {"0.00"}
    # a Chinese header is two columns a character: 说明 needs more than 4, notes much more
    assert ws.column_dimensions["J"].width > 40
    es = wb["员工得分"]
    assert es.freeze_panes == "C2" and es.auto_filter.ref == "A1:H10"
    assert es["E3"].number_format == "0.00" and es["F3"].number_format == "0.00"
    assert es["G3"].number_format == "0.00"
    # the chart is a native bar chart over the departments sheet: base and final by name
    xml = zipfile.ZipFile(run["zh"] / "statement.xlsx").read("xl/charts/chart1.xml").decode()
    assert re.search(r"<(c:)?barChart>", xml)
    refs = re.findall(r"<(?:c:)?f>([^<]+)</(?:c:)?f>", xml)
    assert "'部门得分'!D1" in refs and "'部门得分'!$D$2:$D$4" in refs
    assert "'部门得分'!I1" in refs and "'部门得分'!$I$2:$I$4" in refs
    assert "'部门得分'!$B$2:$B$4" in refs
    run_info = dict(r for r in sheet_rows(wb["运行信息"])[1:])
    assert run_info["考核期"] == PERIOD and run_info["台账文件"] == "ledger.xlsx"
    assert len(run_info["台账 SHA-256"]) == 64


def test_why_not_in_statement_and_trace(run):
    zh = openpyxl.load_workbook(run["zh"] / "statement.xlsx")
    notes = {r[0]: r[9] for r in sheet_rows(zh["部门得分"])[1:]}
    assert notes["B"] == ("关联矩阵未计入：该部门没有关联矩阵行；"
                          "周边绩效未计入：1 条评价待复核；"
                          "责任矩阵未计入：本期没有对该部门的评价；"
                          "指标互锁不适用：未参与互锁指标")
    assert notes["F"] == ("关联矩阵未计入：该部门没有关联矩阵行；周边绩效不适用：前台部门；"
                          "责任矩阵不适用：前台部门；"
                          "指标互锁未计入：X1 设置无效（互锁部门权重之和不为 1），HR 须修正台账")
    assert notes["M"] == ("周边绩效已计入，2 条评价待复核，未计入均值；"
                          "责任矩阵未计入：本期没有对该部门的评价；"
                          "指标互锁未计入：X1 设置无效（互锁部门权重之和不为 1），HR 须修正台账")
    why = sheet_rows(zh["未计入说明"])
    assert why[0] == ["部门编号", "部门名称", "机制", "是否计入", "原因"]
    assert ["B", INJECT_DEPT, "周边绩效", "否", "周边绩效未计入：1 条评价待复核"] in why
    en = openpyxl.load_workbook(run["en"] / "statement.xlsx")
    assert en.sheetnames == ["Departments", "Employees", "Why not", "Reviews", "Chart", "Run"]
    en_notes = {r[0]: r[9] for r in sheet_rows(en["Departments"])[1:]}
    assert en_notes["B"] == ("Linkage not applied: the department has no Linkage rows; "
                             "Peripheral not applied: 1 rating held for review; "
                             "RACI not applied: no ratings of this department this period; "
                             "Interlock not applicable: not a party to an interlocked metric")
    assert "Peripheral not applicable: front office" in en_notes["F"]
    # the trace says the same, in both of its forms
    tr = openpyxl.load_workbook(run["zh"] / "trace.xlsx")
    assert sheet_rows(tr["未计入说明"]) == why
    html = (run["zh"] / "trace.html").read_text("utf-8")
    assert json.dumps("周边绩效未计入：1 条评价待复核", ensure_ascii=False) in html


# ------------------------------------------------------------------------------ trace

def test_trace_xlsx_lists_every_firing_with_sources_and_results(run):
    trace = load_json(run["zh"], "trace.json")
    adjustments = load_json(run["zh"], "adjustments.json")
    exceptions = load_json(run["zh"], "exceptions.json")
    wb = openpyxl.load_workbook(run["zh"] / "trace.xlsx")
    assert wb.sheetnames == ["运行信息", "规则触发", "来源行", "未计入说明"]
    rows = sheet_rows(wb["规则触发"])
    assert rows[0] == ["序号", "规则", "规则说明", "机制", "对象", "来源行", "引用值", "结果",
                       "调整分", "异常类型", "复核编号", "状态", "复核人", "计算说明"]
    assert [r[0] for r in rows[1:]] == [t["seq"] for t in trace]
    assert [r[1] for r in rows[1:]] == [t["rule"] for t in trace]
    by_seq = {r[0]: r for r in rows[1:]}
    blend = next(t for t in trace if t["rule"] == "peripheral.blend")
    r = by_seq[blend["seq"]]
    assert r[2] == "周边绩效按权重计入中后台部门得分" and r[3] == "周边绩效" and r[4] == "M"
    assert r[5] == "部门!3; 周边评价!2"
    assert r[6] == ("部门!3: 部门编号=M; 部门名称=产品部; 层级=中台; 负责人工号=M1; 部门绩效得分=70\n"
                    "周边评价!2: 评价编号=R1; 评价人工号=F2; 被评部门编号=M; 评价维度=响应速度; 分数=4")
    assert r[7] == "调整" and r[8] == 1.5
    assert r[13] == "评价分 80，无客观数据，周边绩效分即评价分：0.15 × (80 − 70)"
    assert wb["规则触发"].cell(row=rows.index(r) + 1, column=9).number_format == "0.00"
    # every adjustment and every exception appears beside the firing that produced it; the
    # English trace words it as the JSON files do (the stored texts, SPEC §10.5)
    en_rows = sheet_rows(openpyxl.load_workbook(run["en"] / "trace.xlsx")["Firings"])
    assert [x[:2] for x in en_rows[1:]] == [x[:2] for x in rows[1:]]
    for a in adjustments:
        i = next(i for i, x in enumerate(en_rows) if x[7] == "adjustment"
                 and x[4] == a["subject_id"] and x[1] == a["rule"]
                 and x[13].startswith(a["explanation"]))
        assert rows[i][8] == en_rows[i][8] == a["points"] and rows[i][7] == "调整"
    for e in exceptions:
        i = next(i for i, x in enumerate(rows) if x[10] == e["review_id"])
        assert rows[i][9] == e["kind"] and rows[i][12] == e["assignee_id"]
        assert e["message"] in en_rows[i][13]
    run_info = dict(r for r in sheet_rows(wb["运行信息"])[1:])
    assert set(run_info) >= {"考核期", "运行记录", "台账文件", "台账 SHA-256", "政策 SHA-256",
                             "规则版本", "程序版本", "审计链校验", "审计链最新哈希"}
    assert run_info["审计链校验"].startswith("通过：")
    assert run_info["程序版本"] == "0.1.0"
    sources = sheet_rows(wb["来源行"])
    assert sources[0] == ["来源行", "工作表", "行号", "内容"]
    cited = [s[0] for s in sources[1:]]
    assert len(cited) == len(set(cited))
    assert {f"{s['sheet']}!{s['row']}" for t in trace for s in t["sources"]} == {
        _canonical(c) for c in cited}


def _canonical(ref_text: str) -> str:
    from importers.schema import SHEETS
    sheet, row = ref_text.split("!")
    return next(s.name for s in SHEETS if s.zh == sheet) + "!" + row


def test_trace_html_is_one_self_contained_escaped_file(run):
    page = (run["zh"] / "trace.html").read_text("utf-8")
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert page.count("<style>") == 1
    assert re.search(r'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
                     r"script-src 'sha256-[A-Za-z0-9+/=]+'; style-src 'sha256-", page)
    # nothing is fetched: no src/href/url()/@import anywhere outside the embedded data
    outside = re.sub(r'<script type="application/json" id="data">.*?</script>', "", page, flags=re.S)
    assert not re.search(r"\b(src|href)\s*=\s*[\"']?(https?:)?//", outside)
    assert "url(" not in outside and "@import" not in outside
    # the ledger's markup is data, never markup
    assert HTML_ATTACK not in page and "<img" not in page
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>',
                                page, re.S).group(1))
    assert len(data["firings"]) == len(load_json(run["zh"], "trace.json"))
    assert any(HTML_ATTACK in s[2] for s in data["sources"])
    assert dict((k, v) for k, v, _ in data["run"])["审计链校验"].startswith("通过")


# ------------------------------------------------------------------------------ reviews

def test_each_review_workbook_holds_only_its_assignee_items(run):
    exceptions = load_json(run["zh"], "exceptions.json")
    folder = run["zh"] / "reviews"
    assignees = {e["assignee_id"] for e in exceptions if e["type"] == "review"} | {"HR"}
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{a}.xlsx" for a in assignees)
    assert assignees == {"F1", "C0", "HR"}
    for who in assignees:
        wb = openpyxl.load_workbook(folder / f"{who}.xlsx")
        ws = wb["复核结论"]
        rows = sheet_rows(ws)
        assert rows[0] == ["复核编号", "对象", "对象名称", "发现的问题", "复核原因", "引用值", "结论",
                           "复核说明", "复核人工号", "状态", "已记录的结论", "异常类型"]
        mine = [e for e in exceptions if e["type"] == "review" and e["assignee_id"] == who]
        assert [r[0] for r in rows[1:]] == [e["review_id"] for e in mine]
        # what was found: in the report's language (the English report's are the stored words)
        en = sheet_rows(openpyxl.load_workbook(run["en"] / "reviews" / f"{who}.xlsx")["Reviews"])
        assert [r[3] for r in en[1:]] == [e["message"] for e in mine]
        assert all(r[6] is None and r[7] is None and r[8] == who for r in rows[1:])
        assert [r[11] for r in rows[1:]] == [e["kind"] for e in mine]
        assert all(r[9] == "待复核" and r[10] is None for r in rows[1:])
        n = len(rows) - 1
        # dropdown on exactly the decision cells, and protection: only decision/comment editable
        dvs = ws.data_validations.dataValidation
        if n:
            assert [(str(dv.sqref), dv.formula1, dv.type, dv.allow_blank) for dv in dvs] == [
                ("G2" if n == 1 else f"G2:G{n + 1}", '"维持,撤销"', "list", True)]
        assert ws.protection.sheet is True
        for r in range(2, n + 2):
            locked = {c: ws.cell(row=r, column=c).protection.locked for c in range(1, 13)}
            assert locked == {c: c not in (7, 8) for c in range(1, 13)}
    f1 = sheet_rows(openpyxl.load_workbook(folder / "F1.xlsx")["复核结论"])
    r2 = next(r for r in f1[1:] if "评价编号=R2" in r[5])
    # names beside every id: the subject's, and the rater's and rated department's in the
    # cited values (F3's name is a formula: text all the same)
    assert r2[1:3] == ["M", "产品部"]
    assert r2[3:5] == ["R2：F3 对 M 的“专业能力”评分 5.0，为极端分", "极端高分或低分，须复核"]
    assert r2[5] == (f"周边评价!3: 评价编号=R2; 评价人工号=F3（{INJECT_NAME}）; 被评部门编号=M（产品部）; "
                     f"评价维度=专业能力; 分数=5; 评价说明={INJECT_COMMENT}")


def test_hr_workbook_lists_rejections_read_only(run):
    exceptions = load_json(run["zh"], "exceptions.json")
    wb = openpyxl.load_workbook(run["zh"] / "reviews" / "HR.xlsx")
    assert wb.sheetnames == ["复核结论", "驳回与提示", "复核清单一览", "说明"]
    ws = wb["驳回与提示"]
    rows = sheet_rows(ws)
    assert rows[0] == ["复核编号", "对象", "对象名称", "发现的问题", "复核原因", "引用值", "状态",
                       "异常类型"]
    rejections = [e for e in exceptions if e["type"] == "rejection"]
    assert [(r[0], r[7]) for r in rows[1:]] == [(e["review_id"], e["kind"]) for e in rejections]
    assert {r[7] for r in rows[1:]} == {"PERIPHERAL_NO_RATINGS", "INTERLOCK_WEIGHTS",
                                         "BEH_NO_EVIDENCE"}
    assert all(r[6] == "待 HR 修正台账" for r in rows[1:])
    assert ws.protection.sheet is True and not ws.data_validations.dataValidation
    assert all(c.protection.locked for row in ws.iter_rows() for c in row)
    no_evidence = next(r for r in rows[1:] if r[7] == "BEH_NO_EVIDENCE")
    assert no_evidence[1:3] == ["B2", "B2"] and no_evidence[3].startswith(INJECT_EVENT)
    no_ratings = next(r for r in rows[1:] if r[7] == "PERIPHERAL_NO_RATINGS")
    assert no_ratings[1:3] == ["B", INJECT_DEPT]


def test_english_review_workbook(run):
    wb = openpyxl.load_workbook(run["en"] / "reviews" / "F1.xlsx")
    assert wb.sheetnames == ["Reviews", "Guide"]
    ws = wb["Reviews"]
    assert [c.value for c in ws[1]] == [
        "review_id", "subject", "subject name", "what was found", "why it is reviewed",
        "cited values", "decision", "comment", "reviewer_id", "status", "recorded decision",
        "kind"]
    assert ws.data_validations.dataValidation[0].formula1 == '"confirm,overturn"'
    r2 = next(r for r in ws.iter_rows(min_row=2, values_only=True) if "评价编号=R2" in r[5])
    assert r2[5].startswith("周边评价!3: 评价编号=R2; 评价人工号=F3 (")     # the ledger's words
    assert r2[9] == "open" and wb["Guide"]["A1"].value == "Review list: F1 (F1), 2026-11"


def test_safe_file_names():
    assert safe_file_stem("HR") == "HR"
    assert safe_file_stem("XT100150") == "XT100150"
    odd = safe_file_stem("../a/b")
    assert "/" not in odd and not odd.startswith(".") and re.fullmatch(r"[\w.\-]+", odd)
    assert safe_file_stem("CON") != "CON"
    assert safe_file_stem("张三") != safe_file_stem("张_三") and safe_file_stem("张三").endswith(
        safe_file_stem("张三")[-8:])


# ------------------------------------------------------------------------------ formulas

def _workbooks(folder: Path):
    return [folder / "statement.xlsx", folder / "trace.xlsx",
            *sorted((folder / "reviews").glob("*.xlsx"))]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_ledger_text_is_text_in_every_workbook(run, lang):
    needles = (INJECT_COMMENT, INJECT_EVIDENCE, INJECT_NAME, INJECT_DEPT, INJECT_EVENT)
    found = {n: set() for n in needles}
    for path in _workbooks(run[lang]):
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name.startswith("xl/worksheets/sheet"):
                    xml = z.read(name)
                    assert b"<f>" not in xml and b"<f " not in xml, (path.name, name)
        wb = openpyxl.load_workbook(path)
        for ws in wb:
            for row in ws.iter_rows():
                for c in row:
                    if not isinstance(c.value, str):
                        continue
                    for n in needles:
                        if n in c.value:
                            found[n].add(path.name)
                            assert c.data_type == "s", (path.name, ws.title, c.coordinate)
                    if c.value.startswith(("=", "+", "-", "@")):
                        assert c.quotePrefix, (path.name, ws.title, c.coordinate, c.value)
    assert found[INJECT_NAME] >= {"statement.xlsx", "trace.xlsx"}
    assert found[INJECT_DEPT] >= {"statement.xlsx", "trace.xlsx", "HR.xlsx"}
    assert found[INJECT_COMMENT] >= {"trace.xlsx", "F1.xlsx"}
    assert found[INJECT_EVIDENCE] >= {"trace.xlsx", "C0.xlsx"}
    assert found[INJECT_EVENT] >= {"trace.xlsx", "HR.xlsx"}


# ------------------------------------------------------------------------------ worked example

def test_worked_example_statement_and_command_output(tmp_path):
    ledger = tmp_path / "ledger.xlsx"
    write_ledger(ledger, worked_example().build().rows, lang="en")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert cli("import", ledger, "--period", PERIOD, "--db", url)[0] == 0
    assert cli("evaluate", "--period", PERIOD, "--db", url)[0] == 0
    code, out, err = cli("report", "--period", PERIOD, "--out", tmp_path / "o", "--db", url,
                         "--lang", "zh", "--format", "xlsx,html")
    assert code == 0, err
    lines = out.splitlines()
    i = lines.index(f"报告已写入 {tmp_path / 'o'}：")
    assert lines[i + 1:] == [
        "  statement.xlsx  2 个部门、6 名员工的得分：基础分、各机制调整、最终得分、未计入说明、复核事项、图表",
        f"  trace.xlsx      审计追踪：{_firings(tmp_path)} 次规则触发及其来源行与引用值、运行哈希；审计链校验通过",
        "  trace.html      同一审计追踪的单文件网页（无需联网），可按对象、规则、机制、工作表筛选",
        "  reviews/        3 份复核清单，每位复核人一份：复核事项 3 项，其中 3 项待复核；HR.xlsx 列出全部清单",
        "  feedback/       1 份被评部门反馈：各维度统计、评价说明与评价人部门、周边与责任矩阵调整分的计算",
        "  manifest.json   本次报告的 7 个文件及其 SHA-256",
    ]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "feedback", "manifest.json", "reviews", "statement.xlsx", "trace.html", "trace.xlsx"]
    wb = openpyxl.load_workbook(tmp_path / "o" / "statement.xlsx")
    d3 = next(r for r in sheet_rows(wb["部门得分"]) if r[0] == "D3")
    assert d3[:9] == ["D3", "IT部", "后台", 70, 13.46, 2.25, -1.5, -1.8, 82.41]
    # the ledger was English: references use its own sheet names, labels are Chinese
    tr = sheet_rows(openpyxl.load_workbook(tmp_path / "o" / "trace.xlsx")["规则触发"])
    blend = next(r for r in tr if r[1] == "peripheral.blend")
    assert blend[5] == "Departments!3; InternalRatings!2; InternalRatings!3; ServiceMetrics!2"
    assert "InternalRatings!2: rating_id=R1; rater_id=E2; ratee_dept_id=D3" in blend[6]


def _firings(tmp_path):
    import sqlalchemy as sa
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as c:
        return f"{c.execute(sa.text('SELECT count(*) FROM firing')).scalar():,}"


def test_report_warns_when_the_run_is_older_than_a_decision(tmp_path):
    from tests.test_review_loop import fill_and_save
    ledger = tmp_path / "ledger.xlsx"
    write_ledger(ledger, worked_example().build().rows, lang="zh")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert cli("run", ledger, "--period", PERIOD, "--out", tmp_path / "o", "--db", url,
               "--format", "xlsx")[0] == 0
    filled = fill_and_save(tmp_path / "o" / "reviews" / "E30.xlsx", tmp_path / "E30.xlsx",
                           {0: "维持"})
    assert cli("decisions", filled, "--period", PERIOD, "--db", url)[0] == 0
    code, out, err = cli("report", "--period", PERIOD, "--out", tmp_path / "o2", "--db", url,
                         "--format", "json")
    assert code == 0
    assert out.splitlines()[0] == f"数据库：{url}"
    assert out.splitlines()[1].startswith("注意：2026-11 的最新评估（运行记录 #1）早于本期最新的台账导入或复核结论")
