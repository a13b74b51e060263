"""One language per output (SPEC §10.5): a Chinese run's every word is Chinese, an English run's
English — but for ids, rule ids, `Sheet!Cell` references, hashes and values quoted from the
ledger (the checker: tests/one_language.py).

Two runs in each language, every command of the monthly cycle on the command line:

* **every rule**: a hand-made ledger (`every_rule()`) on which every rule id of every book fires,
  every exception kind is raised and every sentence template and note is used — imported,
  evaluated, reported; a manager's returned workbook recorded; evaluated and reported again;
  verified; the status listed; the policy checked (a good file, one with warnings, one with an
  error of every kind); the period closed and reopened; an empty ledger template written;
* **the demo company**: `xietong demo`, 200 employees.

Scanned: every line each command printed (stdout and stderr), every text of every workbook
written (statement, trace, review workbooks, template) and every text node of trace.html.
"""
from __future__ import annotations

import getpass
import io
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest

import evaluator.runs
from importers import read_ledger
from importers.schema import ENUM_ZH, SHEETS
from reports.template import write_ledger
from rules.books import BOOKS
from rules.exceptions import KINDS, review_id_for
from rules.policy import SCHEMA, SYMMETRIES, load_policy
from rules.sentences import NOTES, TEMPLATES
from tests.ledgers import PERIOD, small_company
from tests.one_language import Checker, texts_of_html, texts_of_xlsx
from xietong.cli import main


def cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def every_rule():
    """small_company() (F front, M middle, B back; C0 at the top) and X (back, head X1), with:

    linkage      M linked to K1 (higher, 110/100) at high and K2 (lower, 50/40) at medium.
    ratings      of M by F2 4 and F3 4 (counted), F4 1 without a comment (RATING_EXTREME,
                 _LOW_NO_COMMENT, _OUTLIER: 3 from the others' mean 4, held); M2 rates B 2
                 and B2 rates M 2 (RATING_MUTUAL_LOW, both held); F2 rates B 3 (counted: B's
                 peripheral score without service metrics); M2 rates M (RATING_SELF), F
                 (RATING_NOT_SUPPORT); Z9 rates M (RATING_UNKNOWN_REF); X has none
                 (PERIPHERAL_NO_RATINGS); F is front office.
    RACI         F2 rates M 3 on P1 (raci.blend); M2 rates B (RACI_REVERSE; B: raci.no_ratings).
    interlocks   I1 achieved (F, M), I2 severely missed (F, M: penalty and INTERLOCK_MISSED), I3
                 missed mildly (F, M), I4 weights 0.9 (INTERLOCK_WEIGHTS), I5 one party
                 (INTERLOCK_PARTIES), I6 bonus 4 penalty 2 (INTERLOCK_ASYMMETRIC), I7 lower is
                 better with actual 0 (achieved; M, B); F is a party to 5 (INTERLOCK_TOO_MANY).
    behaviours   F1 gives F3 LEAD 3, RESCUE 3, IMPROVE 3, SHARE 2 (BEH_FREQUENT_PROPOSER; 11 >
                 cap 10: behaviour.cap) and F4 LEAD 2 and DELAY −2 (within the cap); and one
                 row for each rejection: unknown employee, October, unknown code, LEAD 9, no
                 evidence, F2 for himself, M2 for F3.
    """
    b = small_company()
    b.dept("X", tier="back", base=75, manager="X1", name="法务部")
    b.emp("X1", "X", manager="C0", name="法务负责人")
    b.project("P2", "F1", name="新品上市")
    b.kpi("K1", 100, 110, name="营业收入")
    b.kpi("K2", 50, 40, direction="lower", name="成本费用")
    b.link("M", "K1", "high")
    b.link("M", "K2", "medium")
    b.rating("R1", "F2", "M", 4, comment="响应及时，方案清楚")
    b.rating("R2", "F3", "M", 4, comment="配合良好")
    b.rating("R3", "F4", "M", 1)
    b.rating("R4", "M2", "B", 2, comment="工单积压")
    b.rating("R5", "B2", "M", 2, comment="需求反复")
    b.rating("R6", "F2", "B", 3, comment="一般")
    b.rating("R7", "M2", "M", 5, comment="自评")
    b.rating("R8", "M2", "F", 4, comment="前台")
    b.rating("R9", "Z9", "M", 4, comment="外部")
    b.metric("M", "工单及时率", "0.9")
    b.raci("Q1", "P1", "F2", "M", 3, comment="方案可执行")
    b.raci("Q2", "P1", "M2", "B", 4, comment="反向评价")
    b.interlock("I1", 100, 120, 4, 4, name="新客户数")
    b.interlock("I2", 100, 60, 6, 6, name="大客户满意度")
    b.interlock("I3", 100, 90, 2, 2, name="回款率")
    b.interlock("I4", 100, 100, 2, 2, name="交付准时率")
    b.interlock("I5", 100, 100, 2, 2, name="合同审核时效")
    b.interlock("I6", 100, 100, 4, 2, name="毛利率")
    b.interlock("I7", 10, 0, 2, 2, direction="lower", name="重大事故数")
    for metric, parties in (("I1", "FM"), ("I2", "FM"), ("I3", "FM"), ("I6", "FB"),
                            ("I7", "MB")):
        for d in parties:
            b.party(metric, d, "0.5")
    b.party("I4", "F", "0.5")
    b.party("I4", "M", "0.4")
    b.party("I5", "B", "1")
    for i, code in enumerate(("LEAD", "RESCUE", "IMPROVE"), 1):
        b.behaviour(f"B{i}", "F3", code, 3, "F1", evidence=f"会议纪要-{i:03d}")
    b.behaviour("B4", "F3", "SHARE", 2, "F1", evidence="分享记录")
    b.behaviour("B5", "F4", "LEAD", 2, "F1", project="P2", evidence="项目周报")
    b.behaviour("B6", "F4", "DELAY", -2, "F1", evidence="延误说明")
    b.behaviour("B7", "Z9", "LEAD", 1, "F1")
    b.behaviour("B8", "F4", "SHARE", 1, "F1", day="2026-10-15")
    b.behaviour("B9", "F4", "FOO", 1, "F1")
    b.behaviour("B10", "F4", "LEAD", 9, "F1")
    b.behaviour("B11", "F4", "LEAD", 1, "F1", evidence=None)
    b.behaviour("B12", "F2", "LEAD", 1, "F2")
    b.behaviour("B13", "F3", "LEAD", 1, "M2")
    return b


def every_rule_october():
    """The month before every_rule()'s (SPEC §11.7, §11.9): the same company and matrix, but X
    (法务部) linked to K1 at low (gone in November: LINKAGE_CHANGED, "K1 弱 → 无"; M's matrix is
    unchanged), and F1's two bonus rows for F4 (with November's LEAD 2, three over a two-month
    window: BEH_FREQUENT_PROPOSER says so). No rating: November is before its quarter's end."""
    b = every_rule()
    for sheet in ("InternalRatings", "RaciRatings", "Behaviours", "ServiceMetrics"):
        b.rows[sheet].clear()
    b.link("X", "K1", "low")
    b.behaviour("B1", "F4", "RESCUE", 2, "F1", day="2026-10-12", evidence="支援记录")
    b.behaviour("B2", "F4", "SHARE", 1, "F1", day="2026-10-20", evidence="分享记录")
    return b


# Policy over time (SPEC §11.5–§11.9): the rules that read other months, on every_rule()'s
# November after every_rule_october() — quarterly ratings (November carries them), a two-month
# frequent-proposer window, the flat interlock reward (its sentences); then the same month in
# the matrix's revision month.
OVER_TIME_POLICY = """\
[peripheral]
cadence = "quarterly"
[raci]
cadence = "quarterly"
[behaviour]
frequent_window_months = 2
[interlock]
reward_scale = "flat"
"""
REVISING_POLICY = OVER_TIME_POLICY + """\
[linkage]
revision_month = 11
"""


BAD_POLICY = """\
[linkage]
high = 0.4
medium = 0.02
low = 0.05
total_cap = 0.5
coefficient_floor = 2
[peripheral]
weight = 0.3
objective_share = 1.5
[raci]
weight = -0.1
[interlock]
symmetry = "loose"
severe_miss_ratio = 2
max_metrics_per_dept = 0
[review]
extreme_low = 5
extreme_high = 1
hold_pending = 3
[behaviour]
frequent_proposer = "often"
bonus = 1
[behaviour.catalog]
LEAD = [3, 1, "主动牵头跨部门项目并推动关键节点落地", "Led"]
DELAY = [1, 2, "故意拖延", "Delayed"]
NEW = [-1, 1, "新行为", "New"]
ODD = [1, 2, "奇怪"]
TWIN = [1, 2, "主动牵头跨部门项目并推动关键节点落地", "Twin"]
[extra]
x = 1
"""
WARN_POLICY = "[linkage]\nhigh = 0.35\nmedium = 0.2\n[behaviour]\ncap = 12\n"


def fill(src: Path, dst: Path, decisions: dict[str, tuple[str, str]]) -> Path:
    """A manager's decisions typed into a review workbook: review_id -> (decision, comment)."""
    wb = openpyxl.load_workbook(src)
    ws = wb.worksheets[0]
    titles = {"复核编号", "review_id"}
    header = next(r for r in ws.iter_rows() if any(c.value in titles for c in r))
    col = {c.value: c.column for c in header}
    rid_col = col.get("复核编号") or col["review_id"]
    dec_col, com_col = col.get("结论") or col["decision"], col.get("复核说明") or col["comment"]
    for row in ws.iter_rows(min_row=header[0].row + 1):
        rid = ws.cell(row=row[0].row, column=rid_col).value
        if rid in decisions:
            ws.cell(row=row[0].row, column=dec_col).value = decisions[rid][0]
            ws.cell(row=row[0].row, column=com_col).value = decisions[rid][1]
    wb.save(dst)
    return dst


class Run:
    """Everything a scenario printed and wrote, and what the checker may let through."""

    def __init__(self, lang: str):
        self.lang = lang
        self.lines: list[tuple[str, str]] = []       # (command, line)
        self.files: list[Path] = []
        self.quoted: set[str] = set()
        self.ids: set[str] = set()
        self.folders: list[Path] = []

    def cli(self, *argv, ok=True) -> tuple[int, str, str]:
        code, out, err = cli(*argv)
        if ok:
            assert code == 0, err
        name = str(argv[0])
        self.lines += [(name, line) for line in (out + err).splitlines()]
        return code, out, err

    def ledger(self, path: Path) -> None:
        """Every text value of a ledger the outputs quote."""
        for rows in read_ledger(path).rows.values():
            for r in rows:
                self.quoted.update(v for k, v in r.items() if isinstance(v, str))

    def report(self, folder: Path) -> None:
        """A report folder: its files to scan, its ids."""
        self.folders.append(folder)
        self.files += sorted(folder.rglob("*.xlsx")) + sorted(folder.rglob("*.html"))
        for a in json.loads((folder / "adjustments.json").read_text("utf-8")):
            self.ids.update((a["adjustment_id"], a["subject_id"]))
        for e in json.loads((folder / "exceptions.json").read_text("utf-8")):
            self.ids.update((e["review_id"], e["subject_id"], e["assignee_id"]))

    def checker(self, template: bool = False) -> Checker:
        """What may stand in either language: the ids of the runs and of the rules (rule ids,
        kinds, behaviour codes, the policy's keys, the user who closed the period) and the
        quoted values. The empty template's guide (and the demo's ledger, written from it) also
        names each sheet and column by its name in the other language (either may head a
        ledger) and lists the enumerations' spellings."""
        policy = load_policy()
        ids = (self.ids | {r.rule_id for book in BOOKS for r in book.rules}
               | {k.kind for k in KINDS} | set(policy.behaviour.catalog)
               | set(SCHEMA) | {k for keys in SCHEMA.values() for k in keys}
               | {f"{s}.{k}" for s, keys in SCHEMA.items() for k in keys} | set(SYMMETRIES)
               | {f"behaviour.catalog.{c}" for c in ("LEAD", "DELAY", "NEW", "ODD", "TWIN")}
               | {getpass.getuser()})
        quoted = self.quoted
        if template:
            ids |= ({s.name for s in SHEETS} | {c.name for s in SHEETS for c in s.columns}
                    | set(ENUM_ZH["raci_role"]))
            quoted = (quoted | {s.zh for s in SHEETS} | {c.zh for s in SHEETS for c in s.columns}
                      | {w for words in ENUM_ZH.values() for w in words.values()})
        return Checker(self.lang, quoted, ids)

    def foreign_words(self) -> list[tuple[str, str, list[str]]]:
        """(where, text, its foreign words) of every line printed and every text written."""
        found = self.checker().scan((f"printed by {name}", line) for name, line in self.lines)
        for path in self.files:
            if path.suffix == ".html":
                found += self.checker().scan(texts_of_html(path))
            else:
                # the template, and the demo's ledger written from it, name the columns
                found += self.checker(template=path.name == "template.xlsx"
                                      or path.name.startswith("ledger-")).scan(
                    texts_of_xlsx(path))
        return found


def every_rule_run(tmp: Path, lang: str) -> Run:
    run = Run(lang)
    db = f"sqlite:///{tmp / 'x.db'}"
    ledger = tmp / "ledger.xlsx"
    write_ledger(ledger, every_rule().build().rows, lang)
    run.ledger(ledger)
    run.cli("template", tmp / "template.xlsx", "--lang", lang)
    run.files.append(tmp / "template.xlsx")
    run.cli("run", ledger, "--period", PERIOD, "--out", tmp / "first", "--db", db)
    run.report(tmp / "first")
    # C0 overturns the frequent-proposer item and confirms F1's extreme rating
    frequent = review_id_for(PERIOD, "BEH_FREQUENT_PROPOSER", proposer_id="F1", employee_id="F3")
    extreme = review_id_for(PERIOD, "RATING_EXTREME", sheet="InternalRatings", rating_id="R3")
    words = {"zh": ("撤销", "维持", "人情分，撤销", "已核实"),
             "en": ("overturn", "confirm", "favour points", "checked")}[lang]
    c0 = fill(tmp / "first" / "reviews" / "C0.xlsx", tmp / "C0-back.xlsx",
              {frequent: (words[0], words[2])})
    f1 = fill(tmp / "first" / "reviews" / "F1.xlsx", tmp / "F1-back.xlsx",
              {extreme: (words[1], words[3])})
    run.quoted.update(words[2:])
    run.cli("decisions", c0, "--period", PERIOD, "--db", db)
    run.cli("decisions", f1, "--period", PERIOD, "--db", db)
    # 15 days later the items still open move one level up (SPEC §11.4); C0 then decides one
    # that moved to it, which stays with C0 at the evaluation 30 days after, when the others
    # have reached HR: every sentence of the deadlines, in the trace and in both people's
    # review workbooks
    with pytest.MonkeyPatch.context() as clock:
        started = datetime.now(timezone.utc)
        clock.setattr(evaluator.runs, "utcnow", lambda: started + timedelta(days=15))
        run.cli("evaluate", "--period", PERIOD, "--db", db)
        run.cli("report", "--period", PERIOD, "--out", tmp / "second", "--db", db)
        run.report(tmp / "second")
        moved = next(f["outcome"]["outcomes"][1]["moved"]
                     for f in json.loads((tmp / "second" / "trace.json").read_text("utf-8"))
                     if f["rule"] == "review.escalate"
                     and f["outcome"]["outcomes"][1]["moved"]["to"] != "HR")
        back = fill(tmp / "second" / "reviews" / f"{moved['to']}.xlsx",
                    tmp / "moved-back.xlsx", {moved["review_id"]: (words[1], words[3])})
        run.cli("decisions", back, "--period", PERIOD, "--db", db)
        clock.setattr(evaluator.runs, "utcnow", lambda: started + timedelta(days=30))
        run.cli("evaluate", "--period", PERIOD, "--db", db)
        run.cli("report", "--period", PERIOD, "--out", tmp / "third", "--db", db)
        run.report(tmp / "third")
    run.cli("verify", "--db", db)
    run.cli("verify", "--period", PERIOD, "--db", db)
    run.cli("status", "--db", db)
    run.cli("policy", "check", "--lang", lang)
    for name, text in (("warn.toml", WARN_POLICY), ("bad.toml", BAD_POLICY)):
        (tmp / name).write_text(text, "utf-8")
        run.cli("policy", "check", tmp / name, "--lang", lang, ok=False)
    # the file's own keys and values, which the findings quote
    run.quoted.update(('"loose"', '"often"', "Led", "Delayed", "New", "Twin", "奇怪", "新行为",
                       "故意拖延", "主动牵头跨部门项目并推动关键节点落地", "behaviour.bonus",
                       "extra", "x"))
    # the rules that read other months, and their commands (SPEC §11.5–§11.10)
    october = tmp / "ledger-2026-10.xlsx"
    write_ledger(october, every_rule_october().build().rows, lang)
    run.ledger(october)
    run.cli("import", october, "--period", "2026-10", "--db", db)
    for name, text, folder in (("over-time.toml", OVER_TIME_POLICY, "over-time"),
                               ("revising.toml", REVISING_POLICY, "revising")):
        (tmp / name).write_text(text, "utf-8")
        run.cli("evaluate", "--period", PERIOD, "--policy", tmp / name, "--db", db)
        run.cli("report", "--period", PERIOD, "--out", tmp / folder, "--db", db)
        run.report(tmp / folder)
    run.cli("whatif", "--policy", tmp / "over-time.toml", "--quarter", "2026-Q4",
            "--out", tmp / "whatif", "--db", db)
    run.files.append(tmp / "whatif" / "whatif.xlsx")
    run.cli("policy", "check", "--period", PERIOD, "--db", db)
    run.quoted.update(('"quarterly"', '"flat"'))
    run.cli("close", "--period", PERIOD, "--with-open-reviews", "--db", db)
    reason = {"zh": "补录复核结论", "en": "late decisions"}[lang]
    run.quoted.add(reason)
    run.cli("reopen", "--period", PERIOD, "--reason", reason, "--db", db)
    return run


def demo_run(tmp: Path, lang: str) -> Run:
    run = Run(lang)
    _, out, _ = run.cli("demo", "--out", tmp / "demo", "--lang", lang)
    run.ledger(tmp / "demo" / f"ledger-{PERIOD}.xlsx")
    run.report(tmp / "demo")
    # the desk's demo accounts it prints: role codes, usernames and new passwords, all ids
    for role, username, password in DEMO_ACCOUNT.findall(out):
        run.ids.update((role, username, password))
    return run


DEMO_ACCOUNT = re.compile(r"^  (\S+) +(?:用户名|username) (\S+) +(?:密码|password) ([A-Za-z0-9]+)", re.M)


@pytest.fixture(scope="module", params=["zh", "en"])
def runs(request, tmp_path_factory):
    lang = request.param
    tmp = tmp_path_factory.mktemp(f"one-language-{lang}")
    (tmp / "rules").mkdir()
    (tmp / "demo").mkdir()
    return {"every rule": every_rule_run(tmp / "rules", lang),
            "demo": demo_run(tmp / "demo", lang)}


def test_the_hand_made_ledger_uses_every_rule_kind_and_sentence(runs):
    run = runs["every rule"]
    fired, kinds, says, notes = set(), set(), set(), set()
    for folder in run.folders:
        for f in json.loads((folder / "trace.json").read_text("utf-8")):
            fired.add(f["rule"])
            for o in f["outcome"].get("outcomes", []):
                if "says" in o:
                    says.add(o["says"][0])
                elif "note" in o:               # a note with values is a sentence (says)
                    notes.add(o["note"])
        kinds |= {e["kind"] for e in json.loads((folder / "exceptions.json").read_text("utf-8"))}
    assert fired == {r.rule_id for book in BOOKS for r in book.rules}
    assert kinds == {k.kind for k in KINDS}
    assert says == set(TEMPLATES)
    assert notes == set(NOTES)
    assert {p.name for p in run.files} >= {"template.xlsx", "statement.xlsx", "trace.xlsx",
                                           "trace.html", "HR.xlsx", "C0.xlsx", "F1.xlsx"}
    commands = {name for name, _ in run.lines}
    assert commands == {"template", "run", "decisions", "evaluate", "report", "verify", "status",
                        "policy", "close", "reopen", "import", "whatif"}


@pytest.mark.parametrize("scenario", ["every rule", "demo"])
def test_every_word_is_in_the_output_language(runs, scenario):
    run = runs[scenario]
    found = run.foreign_words()
    assert not found, "\n".join(f"{where}: {bad} in {text!r}" for where, text, bad in found[:40])


def test_the_checker_finds_a_planted_word(runs, tmp_path):
    """The check can fail: one English word in one Chinese cell of trace.xlsx (one Chinese word
    in an English cell) is found, and nothing else is."""
    run = runs["every rule"]
    trace = next(p for p in run.files if p.name == "trace.xlsx")
    wb = openpyxl.load_workbook(trace)
    ws = wb.worksheets[1]
    planted = {"zh": "accepted", "en": "采纳"}[run.lang]
    ws["N2"] = f"{ws['N2'].value} {planted}"
    wb.save(tmp_path / "planted.xlsx")
    found = run.checker().scan(texts_of_xlsx(tmp_path / "planted.xlsx"))
    assert [(bad, where.rsplit("!", 1)[1]) for where, _, bad in found] == [([planted], "N2")]
