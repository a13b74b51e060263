"""The command line end to end, in-process (xietong.cli.main): import → evaluate → report →
decisions → evaluate → verify, refusals that leave the database byte-for-byte unchanged, and
tamper detection of a stored run."""
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from xietong.cli import main
from reports.template import write_ledger
from tests.dbs import db_state
from tests.ledgers import PERIOD, worked_example


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()




@pytest.fixture
def setup(tmp_path, db_url):
    ledger = tmp_path / "ledger.xlsx"
    write_ledger(ledger, worked_example().build().rows, lang="en")
    return tmp_path, db_url, db_url, ledger


def test_worked_example_end_to_end(setup):
    tmp, url, db, ledger = setup
    code, out, err = cli("run", str(ledger), "--period", PERIOD, "--out", str(tmp / "out"),
                         "--db", url, "--format", "json")
    assert code == 0, err
    scores = json.loads((tmp / "out" / "scores.json").read_text("utf-8"))
    d3 = next(d for d in scores["departments"] if d["dept_id"] == "D3")
    assert d3 == {"dept_id": "D3", "base": 70.0, "final": 82.41,
                  "by_mechanism": {"linkage": 13.46, "peripheral": 2.25, "raci": -1.5,
                                   "interlock": -1.8}}
    adjustments = json.loads((tmp / "out" / "adjustments.json").read_text("utf-8"))
    assert [(a["subject_id"], a["rule"], a["points"]) for a in adjustments] == [
        ("D3", "linkage.blend", 8.11), ("D3", "linkage.blend", 5.35),
        ("D3", "peripheral.blend", 2.25), ("D3", "raci.blend", -1.5),
        ("D1", "interlock.penalty", -4.2), ("D3", "interlock.penalty", -1.8)]
    assert adjustments[0]["sources"] == [{"sheet": "Linkage", "row": 2},
                                         {"sheet": "CompanyKPIs", "row": 2},
                                         {"sheet": "Departments", "row": 3}]
    exceptions = json.loads((tmp / "out" / "exceptions.json").read_text("utf-8"))
    assert [(e["kind"], e["subject_id"], e["assignee_id"], e["status"]) for e in exceptions] == [
        ("RATING_EXTREME", "D3", "E1", "open"), ("INTERLOCK_MISSED", "D1", "E1", "open"),
        ("INTERLOCK_MISSED", "D3", "E30", "open")]
    trace = json.loads((tmp / "out" / "trace.json").read_text("utf-8"))
    assert [t["seq"] for t in trace] == list(range(1, len(trace) + 1))
    assert "Audit chain verified" in cli("verify", "--db", url)[1]


def test_refused_import_leaves_database_unchanged(setup, tmp_path):
    tmp, url, db, ledger = setup
    assert cli("import", str(ledger), "--period", PERIOD, "--db", url)[0] == 0
    before = db_state(url)
    rows = worked_example().build().rows
    rows["Departments"][0] = dict(rows["Departments"][0], base_score=Decimal("250"))
    rows["Employees"][1] = dict(rows["Employees"][1], dept_id="NOPE")
    bad = tmp / "bad.xlsx"
    write_ledger(bad, rows, lang="en")
    code, out, err = cli("import", str(bad), "--period", PERIOD, "--db", url)
    assert code == 1 and out == ""
    assert "Departments!E2 (base_score): expected a number from 0 to 200, got 250" in err
    assert "Employees!C3 (dept_id):" in err and "'NOPE'" in err
    assert err.strip().endswith("Nothing was stored.")
    assert db_state(url) == before


def test_reimport_same_file_says_so(setup):
    tmp, url, db, ledger = setup
    assert cli("import", str(ledger), "--period", PERIOD, "--db", url)[0] == 0
    before = db_state(url)
    code, out, _ = cli("import", str(ledger), "--period", PERIOD, "--db", url)
    assert code == 0 and "already the active ledger" in out and "nothing changed" in out
    assert db_state(url) == before


def _review_file(path: Path, rows: list[dict], lang="en"):
    write_ledger(path, {"Reviews": rows}, lang=lang, guide=False)


def test_decisions_change_the_next_run(setup):
    tmp, url, db, ledger = setup
    assert cli("run", str(ledger), "--period", PERIOD, "--out", str(tmp / "o1"), "--db", url,
               "--format", "json")[0] == 0
    exceptions = json.loads((tmp / "o1" / "exceptions.json").read_text("utf-8"))
    extreme = next(e for e in exceptions if e["kind"] == "RATING_EXTREME")
    decision = tmp / "E1.xlsx"
    _review_file(decision, [{"review_id": extreme["review_id"], "decision": "confirm",
                             "reviewer_id": "E1", "comment": "属实"}])
    code, out, err = cli("decisions", str(decision), "--period", PERIOD, "--db", url)
    assert code == 0, err
    assert "1 decision(s) recorded" in out
    # the same file twice changes nothing
    before = db_state(url)
    code, out, _ = cli("decisions", str(decision), "--period", PERIOD, "--db", url)
    assert code == 0 and "0 decision(s) recorded for 2026-11, 1 unchanged" in out
    assert db_state(url) == before
    assert cli("evaluate", "--period", PERIOD, "--db", url)[0] == 0
    assert cli("report", "--period", PERIOD, "--out", str(tmp / "o2"), "--db", url,
               "--format", "json")[0] == 0
    scores = json.loads((tmp / "o2" / "scores.json").read_text("utf-8"))
    d3 = next(d for d in scores["departments"] if d["dept_id"] == "D3")
    # the confirmed 5 counts again: mean (4+4+5)/3 → R = 86.67, P = 88.33, 0.15 × 18.33 = 2.75
    assert d3["by_mechanism"]["peripheral"] == 2.75 and d3["final"] == 82.91
    status = {e["kind"]: e["status"] for e in
              json.loads((tmp / "o2" / "exceptions.json").read_text("utf-8"))}
    assert status["RATING_EXTREME"] == "confirmed"
    assert "Audit chain verified" in cli("verify", "--db", url)[1]


def test_decisions_file_refused_whole(setup):
    tmp, url, db, ledger = setup
    assert cli("run", str(ledger), "--period", PERIOD, "--out", str(tmp / "o1"), "--db", url,
               "--format", "json")[0] == 0
    exceptions = json.loads((tmp / "o1" / "exceptions.json").read_text("utf-8"))
    extreme = next(e for e in exceptions if e["kind"] == "RATING_EXTREME")
    missed = next(e for e in exceptions if e["kind"] == "INTERLOCK_MISSED" and e["subject_id"] == "D3")
    before = db_state(url)
    bad = tmp / "bad.xlsx"
    _review_file(bad, [
        {"review_id": extreme["review_id"], "decision": "confirm", "reviewer_id": "E1"},
        {"review_id": missed["review_id"], "decision": "confirm", "reviewer_id": "E1"},
        {"review_id": "Rdeadbeef0000", "decision": "overturn", "reviewer_id": "HR"},
        {"review_id": extreme["review_id"], "decision": "overturn", "reviewer_id": "E1"},
    ])
    code, out, err = cli("decisions", str(bad), "--period", PERIOD, "--db", url)
    assert code == 1 and out == f"Database: {url}\n"
    lines = err.strip().splitlines()
    assert lines[1:-1] == [
        "  Reviews!C3 (reviewer_id): expected the item's assignee 'E30' or HR, got 'E1'",
        "  Reviews!A4 (review_id): expected a review id from this period's exception lists, got 'Rdeadbeef0000'",
        f"  Reviews!B5 (decision): '{extreme['review_id']}' has a different decision on row 2 of the same file",
    ]
    assert db_state(url) == before


def test_verify_names_an_altered_adjustment(setup):
    tmp, url, db, ledger = setup
    assert cli("run", str(ledger), "--period", PERIOD, "--out", str(tmp / "o"), "--db", url,
               "--format", "json")[0] == 0
    assert cli("verify", "--db", url)[0] == 0
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.execute(sa.text("UPDATE adjustment SET points = '9.11' WHERE ord = 1"))
        aid = c.execute(sa.text("SELECT id FROM adjustment WHERE ord = 1")).scalar()
    code, out, err = cli("verify", "--db", url)
    assert code == 1
    assert err.startswith(f"Audit chain verification FAILED: adjustment {aid} (chain link ")
    assert err.rstrip().endswith("was changed")


def test_missing_file_and_bad_period(setup, capsys):
    tmp, url, db, _ = setup
    code, out, err = cli("import", str(tmp / "nope.xlsx"), "--period", PERIOD, "--db", url)
    assert code == 1 and "no such file" in err
    with pytest.raises(SystemExit) as e:
        cli("import", "x.xlsx", "--period", "2026-13")
    assert e.value.code == 2


def test_policy_check_and_a_refused_policy(setup):
    tmp, url, db, ledger = setup
    code, out, err = cli("policy", "check")
    assert code == 0 and out == "Policy rules/policy.toml: no errors, 0 warning(s).\n"
    bad = tmp / "bad.toml"
    bad.write_text("[peripheral]\nweight = 0.5\nobjective_shar = 0.5\n[raci]\nweight = 0.25\n",
                   encoding="utf-8")
    code, out, err = cli("policy", "check", str(bad))
    assert code == 1
    assert "objective_shar" in err and "peripheral.weight" in err
    assert cli("import", str(ledger), "--period", PERIOD, "--db", url)[0] == 0
    before = db_state(url)
    code, out, err = cli("evaluate", "--period", PERIOD, "--db", url, "--policy", str(bad))
    assert code == 1 and out == f"Database: {url}\n" and "objective_shar" in err
    assert db_state(url) == before
    banded = tmp / "banded.toml"
    banded.write_text("[behaviour]\ncap = 12\n", encoding="utf-8")
    code, out, err = cli("policy", "check", str(banded))
    assert code == 0 and "behaviour.cap" in out and "1 warning(s)" in out
    assert cli("policy", "check", str(banded), "--strict")[0] == 1


def test_status_lists_what_the_database_holds(setup):
    tmp, url, db, ledger = setup
    code, out, _ = cli("status", "--db", url)
    assert code == 0 and out == f"Database: {url}\nNo ledger imported yet.\n"
    assert cli("import", str(ledger), "--period", PERIOD, "--db", url)[0] == 0
    assert cli("evaluate", "--period", PERIOD, "--db", url)[0] == 0
    code, out, _ = cli("status", "--db", url, "--lang", "zh")
    lines = out.splitlines()
    assert code == 0 and lines[0] == f"数据库：{url}" and lines[1] == "2026-11："
    assert lines[2].startswith("  当前台账：导入记录 #1 ledger.xlsx（SHA-256 ")
    assert lines[3] == "  未关闭（结果为暂定）"
    assert lines[4].startswith("  最新评估：运行记录 #1，") and lines[4].endswith(
        "：调整 6 项，异常 3 项，复核 待决 3 / 已决 0")


def test_verify_in_an_empty_folder_fails_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XIETONG_DB", raising=False)
    monkeypatch.delenv("XIETONG_LANG", raising=False)
    code, out, err = cli("verify")
    assert code == 1 and out == "Database: sqlite:///xietong.db\n"
    assert err == ("there is no xietong database at sqlite:///xietong.db: import a ledger first "
                   "(xietong import LEDGER --period YYYY-MM), or name the database with --db\n")
    assert list(tmp_path.iterdir()) == []


def test_a_period_never_imported_has_nothing_to_verify(setup):
    tmp, url, db, ledger = setup
    assert cli("import", str(ledger), "--period", PERIOD, "--db", url)[0] == 0
    code, out, err = cli("verify", "--period", "2026-10", "--db", url)
    assert code == 1
    assert err == f"nothing to verify: no ledger was ever imported for 2026-10 (database {url})\n"
    assert cli("verify", "--period", PERIOD, "--db", url)[0] == 0


def test_commands_speak_the_language_of_the_imported_ledger(tmp_path, db_url, monkeypatch):
    """SPEC §10.5: after a Chinese ledger, evaluate, verify and status speak Chinese; --lang
    still wins; every command names its database."""
    monkeypatch.delenv("XIETONG_LANG", raising=False)
    ledger = tmp_path / "台账.xlsx"
    write_ledger(ledger, worked_example().build().rows, lang="zh")
    code, out, _ = cli("import", str(ledger), "--period", PERIOD, "--db", db_url)
    assert code == 0 and out.splitlines()[0].startswith("已导入 ")
    assert f"数据库：{db_url}" in out.splitlines()
    code, out, _ = cli("evaluate", "--period", PERIOD, "--db", db_url)
    lines = out.splitlines()
    assert code == 0 and lines[0] == f"数据库：{db_url}"
    assert lines[1].startswith("已评估 2026-11：运行记录 #1，规则触发 ")
    code, out, _ = cli("verify", "--db", db_url)
    assert code == 0 and out.splitlines()[1].startswith("审计链校验通过：")
    code, out, _ = cli("verify", "--db", db_url, "--lang", "en")
    assert code == 0 and out.splitlines() [0] == f"Database: {db_url}"
    assert out.splitlines()[1].startswith("Audit chain verified: ")
    # a failed verification names the changed record in the command's language too
    with sa.create_engine(db_url).begin() as c:
        c.execute(sa.text("UPDATE adjustment SET points = '9.11' WHERE ord = 1"))
        aid = c.execute(sa.text("SELECT id FROM adjustment WHERE ord = 1")).scalar()
        seq = c.execute(sa.text("SELECT seq FROM chain_link WHERE record_type = 'adjustment' "
                                f"AND record_id = {aid}")).scalar()
    code, _, err = cli("verify", "--db", db_url)
    assert code == 1 and err == f"审计链校验失败：调整 {aid}（审计链第 {seq} 条）已被改动\n"


def test_help_and_usage_errors_in_chinese(monkeypatch, capsys):
    monkeypatch.setenv("XIETONG_LANG", "zh")
    with pytest.raises(SystemExit) as e:
        main(["import", "x.xlsx", "--period", "2026-13"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0].startswith("用法：xietong import ")
    assert err.splitlines()[-1] == ("xietong import：错误：参数 --period：应为 YYYY-MM，"
                                    "实际为 '2026-13'")
    with pytest.raises(SystemExit):
        main(["evaluate"])
    assert capsys.readouterr().err.splitlines()[-1] == \
        "xietong evaluate：错误：缺少必需的参数：--period"
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    help_text = capsys.readouterr().out
    assert help_text.startswith("用法：xietong ")
    assert "把人力资源部门的台账工作簿变成可审计的协同绩效调整分" in help_text
    assert "显示此帮助并退出" in help_text and "校验并导入台账工作簿" in help_text
    assert "show this help" not in help_text and "usage:" not in help_text
    monkeypatch.setenv("XIETONG_LANG", "en")
    with pytest.raises(SystemExit):
        main(["evaluate"])
    assert capsys.readouterr().err.splitlines()[-1] == \
        "xietong evaluate: error: the following arguments are required: --period"


def test_a_ledger_is_not_a_review_workbook(setup):
    tmp, url, db, ledger = setup
    assert cli("run", str(ledger), "--period", PERIOD, "--out", str(tmp / "o"), "--db", url,
               "--format", "json")[0] == 0
    before = db_state(url)
    code, out, err = cli("decisions", str(ledger), "--period", PERIOD, "--db", url)
    assert code == 1
    assert err == (f"{ledger}: not a returned review workbook: its Reviews sheet holds no "
                   "decision (a template, or a ledger whose Reviews sheet is empty)\n"
                   "Nothing was recorded.\n")
    import openpyxl
    other = tmp / "other.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "Budget"
    book.active.append(["item", "amount"])
    book.save(other)
    code, out, err = cli("decisions", str(other), "--period", PERIOD, "--db", url)
    assert code == 1 and err.startswith(f"{other}: not a review workbook: it has no Reviews")
    assert db_state(url) == before


def _stamped(path: Path, rows, period: str, issued: str, run: int = 1):
    """A review workbook as reports/ issues it: the stamp in its custom properties."""
    import openpyxl
    from openpyxl.packaging.custom import StringProperty
    from importers import stamp
    _review_file(path, rows)
    wb = openpyxl.load_workbook(path)
    for name, value in ((stamp.RUN, str(run)), (stamp.PERIOD, period),
                        (stamp.ASSIGNEE, "E1"), (stamp.ISSUED_AT, issued)):
        wb.custom_doc_props.append(StringProperty(name=name, value=value))
    wb.save(path)
    return path


def test_an_outdated_copy_cannot_undo_a_newer_decision(setup):
    """SPEC §10.3: E01 returned 撤销, then an older copy with 维持 came back: refused, naming the
    newer decision; HR may record it anyway with --supersede."""
    tmp, url, db, ledger = setup
    assert cli("run", str(ledger), "--period", PERIOD, "--out", str(tmp / "o"), "--db", url,
               "--format", "json")[0] == 0
    exceptions = json.loads((tmp / "o" / "exceptions.json").read_text("utf-8"))
    rid = next(e["review_id"] for e in exceptions if e["kind"] == "RATING_EXTREME")
    old_copy = _stamped(tmp / "old.xlsx", [{"review_id": rid, "decision": "confirm",
                                           "reviewer_id": "E1"}], PERIOD, "2000-01-01T00:00:00Z")
    newer = _stamped(tmp / "new.xlsx", [{"review_id": rid, "decision": "overturn",
                                        "reviewer_id": "E1", "comment": "属实"}], PERIOD,
                     "2000-01-02T00:00:00Z")
    code, out, err = cli("decisions", str(newer), "--period", PERIOD, "--db", url)
    assert code == 0 and f"  {rid} (RATING_EXTREME, D3): open → overturn, by E1" in out
    before = db_state(url)
    code, out, err = cli("decisions", str(old_copy), "--period", PERIOD, "--db", url)
    lines = err.splitlines()
    assert code == 1 and lines[0] == f"{old_copy}: the review workbook was refused, 1 problem(s):"
    assert lines[1].startswith(f"  Reviews!B2 (decision): '{rid}' was decided overturn by E1 at ")
    assert lines[1].endswith(", after this review workbook was issued (2000-01-01 00:00 UTC); "
                             "this confirm comes from an outdated copy and would undo it. Return "
                             "a newer review workbook, or HR can record it anyway with "
                             "--supersede")
    assert db_state(url) == before
    code, out, err = cli("decisions", str(old_copy), "--period", PERIOD, "--db", url,
                         "--supersede")
    assert code == 0 and f"  {rid} (RATING_EXTREME, D3): overturn → confirm, by E1" in out
    # a workbook stamped for another period says so
    other = _stamped(tmp / "oct.xlsx", [{"review_id": rid, "decision": "confirm",
                                        "reviewer_id": "E1"}], "2026-10", "2026-10-05T08:00:00Z", 7)
    code, out, err = cli("decisions", str(other), "--period", PERIOD, "--db", url)
    assert code == 1 and err == (f"{other}: this is a review workbook of 2026-10 (run #7), not of "
                                 "2026-11\nNothing was recorded.\n")


def test_a_wrong_period_is_caught_at_import(tmp_path, db_url):
    """SPEC §10.2: November's file imported as May 2027 (its behaviours dated November), and
    the same file, once November's active ledger, imported for December: refused with the
    month and the period named; --force imports and the import record says so."""
    import datetime as dt
    from tests.ledgers import small_company
    b = small_company()
    for i, day in enumerate((3, 5, 8), start=1):
        b.behaviour(f"B{i}", "F2", "SHARE", 1, "F1", day=dt.date(2026, 11, day))
    b.behaviour("B4", "F3", "SHARE", 1, "F1", day=dt.date(2026, 10, 30))
    november = tmp_path / "november.xlsx"
    write_ledger(november, b.build().rows, lang="en")
    before = db_state(db_url)
    code, out, err = cli("import", str(november), "--period", "2027-05", "--db", db_url)
    assert code == 1 and err == (
        f"{november}: the ledger was refused, 1 problem(s):\n"
        "  Behaviours (date): expected dates in 2027-05, got 4 of 4 dated rows outside 2027-05, "
        "most in 2026-11 (3 rows); check --period, or import with --force\n"
        "Nothing was stored.\n")
    assert db_state(db_url) == before
    assert cli("import", str(november), "--period", "2026-11", "--db", db_url)[0] == 0
    code, out, err = cli("import", str(november), "--period", "2026-12", "--db", db_url)
    lines = err.splitlines()
    assert code == 1 and lines[0] == f"{november}: the ledger was refused, 2 problem(s):"
    assert lines[1].startswith("  expected a ledger file of this period, got the same file "
                               "(sha256 ")
    assert lines[1].endswith(") is the active ledger of 2026-11 (import #1); check --period, or "
                             "import with --force")
    code, out, err = cli("import", str(november), "--period", "2026-12", "--db", db_url, "--force")
    assert code == 0
    warned = out.split("Warnings:\n", 1)[1].splitlines()
    assert warned[0].startswith("  imported with --force: expected a ledger file of this period")
    assert warned[1] == ("  imported with --force: Behaviours (date): expected dates in 2026-12, "
                         "got 4 of 4 dated rows outside 2026-12, most in 2026-11 (3 rows); check "
                         "--period, or import with --force")
    stored = sa.create_engine(db_url).connect().execute(sa.text(
        "SELECT warnings FROM ledger_import WHERE period = '2026-12'")).scalar()
    assert "imported with --force" in stored            # the import record says so (chained)


def test_a_report_folder_holds_one_run(setup):
    """SPEC §10.4: manifest.json lists every file written with its SHA-256 and size; a later
    report of the period removes the earlier report's files it does not write (a stale
    reviews/E04.xlsx would otherwise be returned and refused), never a file it did not write;
    another period's report is refused in that folder."""
    import hashlib
    tmp, url, db, ledger = setup
    out_dir = tmp / "out"
    assert cli("run", str(ledger), "--period", PERIOD, "--out", str(out_dir), "--db", url,
               "--format", "xlsx,json")[0] == 0
    manifest = json.loads((out_dir / "manifest.json").read_text("utf-8"))
    assert (manifest["period"], manifest["run_id"]) == (PERIOD, 1)
    listed = {f["path"]: f for f in manifest["files"]}
    on_disk = sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*")
                     if p.is_file() and p.name != "manifest.json")
    assert sorted(listed) == on_disk
    # the worked example's three reviews go to E1 and E30 (HR.xlsx lists their workbooks)
    assert {"statement.xlsx", "trace.xlsx", "reviews/E1.xlsx", "reviews/E30.xlsx",
            "scores.json"} <= set(listed)
    for path, f in listed.items():
        data = (out_dir / path).read_bytes()
        assert (f["bytes"], f["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    (out_dir / "reviews" / "E1-returned.xlsx").write_bytes(b"a manager's copy")
    code, out, _ = cli("report", "--period", PERIOD, "--out", str(out_dir), "--db", url,
                       "--format", "json")
    assert code == 0
    stale = sorted(p for p in listed if not p.endswith(".json"))
    assert out.splitlines()[-1] == (
        "  manifest.json  the 4 files of this report with their SHA-256; removed "
        f"{len(stale)} file(s) of the earlier report that this one does not write: "
        + ", ".join(stale))
    left = sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file())
    assert left == ["adjustments.json", "exceptions.json", "manifest.json",
                    "reviews/E1-returned.xlsx", "scores.json", "trace.json"]
    code, out, err = cli("report", "--period", "2026-12", "--out", str(out_dir), "--db", url)
    assert code == 1 and err == (f"{out_dir} holds the report of 2026-11 (manifest.json): write "
                                 "2026-12's into another folder\n")


def test_a_closed_period_refuses_every_change_until_reopened(setup, monkeypatch):
    """SPEC §11.1: close needs a run and, with open reviews, --with-open-reviews (listing them);
    a closed period refuses import, evaluate and decisions, saying since when, by whom and how
    to reopen, and the database is untouched; reopening needs a reason."""
    import getpass
    monkeypatch.setattr(getpass, "getuser", lambda: "hr-li")
    tmp, url, db, ledger = setup
    assert cli("import", str(ledger), "--period", PERIOD, "--db", url)[0] == 0
    code, _, err = cli("close", "--period", PERIOD, "--db", url)
    assert code == 1 and err == ("2026-11 has no run yet: evaluate it before closing "
                                 "(`xietong evaluate --period 2026-11`)\n")
    assert cli("run", str(ledger), "--period", PERIOD, "--out", str(tmp / "o"), "--db", url,
               "--format", "json")[0] == 0
    before = db_state(url)
    code, _, err = cli("close", "--period", PERIOD, "--db", url)
    lines = err.splitlines()
    assert code == 1 and lines[0] == ("2026-11 still has 3 open review item(s); to close it "
                                      "anyway add --with-open-reviews:")
    assert [line.split()[1:] for line in lines[1:]] == [
        ["RATING_EXTREME", "D3", "assignee", "E1"], ["INTERLOCK_MISSED", "D1", "assignee", "E1"],
        ["INTERLOCK_MISSED", "D3", "assignee", "E30"]]
    assert db_state(url) == before
    code, out, _ = cli("close", "--period", PERIOD, "--db", url, "--with-open-reviews",
                       "--reason", "十一月定稿")
    assert code == 0 and out.splitlines()[1].startswith("Closed 2026-11 at ")
    assert out.splitlines()[1].endswith(" UTC by hr-li: its figures are final; 3 review item(s) "
                                        "were still open.")
    closed = db_state(url)
    exceptions = json.loads((tmp / "o" / "exceptions.json").read_text("utf-8"))
    decision = tmp / "E1.xlsx"
    _review_file(decision, [{"review_id": exceptions[0]["review_id"], "decision": "confirm",
                             "reviewer_id": "E1"}])
    for argv in (("import", str(ledger), "--period", PERIOD),
                 ("evaluate", "--period", PERIOD),
                 ("decisions", str(decision), "--period", PERIOD),
                 ("run", str(ledger), "--period", PERIOD, "--out", str(tmp / "o2"))):
        code, out, err = cli(*argv, "--db", url)
        assert code == 1, argv
        assert err.startswith("2026-11 was closed at ") or err.splitlines()[1].startswith(
            "  2026-11 was closed at "), (argv, err)
        assert " UTC by hr-li (十一月定稿): it takes no import, evaluation or decision any more. " \
               "To correct it, first run `xietong reopen --period 2026-11 --reason TEXT`" in err
        assert db_state(url) == closed, argv
    with pytest.raises(SystemExit) as e:
        cli("reopen", "--period", PERIOD, "--db", url)
    assert e.value.code == 2 and db_state(url) == closed
    code, out, _ = cli("status", "--db", url)
    assert "  closed at " in out and " UTC by hr-li (十一月定稿) (final)" in out
    code, out, _ = cli("reopen", "--period", PERIOD, "--db", url, "--reason", "E1 复核更正")
    assert code == 0 and out.splitlines()[1].endswith(" UTC by hr-li (E1 复核更正).")
    assert cli("decisions", str(decision), "--period", PERIOD, "--db", url)[0] == 0
    assert cli("evaluate", "--period", PERIOD, "--db", url)[0] == 0
    code, out, _ = cli("verify", "--db", url)
    assert code == 0 and "Audit chain verified" in out      # the close and reopen are chained


class _ReaderLeft(io.StringIO):
    """A stdout whose reader has gone (`xietong status | head -1`): the second line breaks."""

    def __init__(self):
        super().__init__()
        self.lines = 0

    def write(self, text):
        self.lines += 1
        if self.lines > 1:
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text)


def test_a_reader_that_leaves_ends_the_command_quietly(tmp_path):
    # issue 11 item 10: `xietong … | head` ended in a traceback (the BrokenPipe branch sat after
    # `except Exception`); now exit 0, nothing on stderr
    ledger = tmp_path / "good.xlsx"
    write_ledger(ledger, worked_example().build().rows, lang="en")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["import", str(ledger), "--period", PERIOD, "--db", url],
                io.StringIO(), io.StringIO()) == 0
    out, err = _ReaderLeft(), io.StringIO()
    assert main(["status", "--db", url], out, err) == 0
    assert out.getvalue() == "Database: sqlite:///" + str(tmp_path / "x.db") + "\n"
    assert err.getvalue() == ""
