"""The rules' sentences (rules/wording.py, rules/sentences.py): each declared once in both
languages, said with the values of one case, stored with the run inside the chained firing
outcome, and worded by each report in its own language — and a run stored before the sentences
were templates still verifies and still reports, in its stored English words.

Expected sentences are written out by hand from SPEC §9's worked example.
"""
from __future__ import annotations

import io
import json
import tomllib
from decimal import Decimal

import openpyxl
import pytest
import sqlalchemy as sa

import evaluator.runs
from evaluator.evaluate import evaluate_ledger
from importers.lang import Text
from rules.context import results_of
from rules.policy import load_policy, policy_from_mapping
from rules.sentences import NOTES, TEMPLATES, explanation, message, note_text, render
from rules.wording import Template, Wording
from reports.template import write_ledger
from tests.ledgers import PERIOD, small_company, worked_example
from tests.test_one_language import OVER_TIME_POLICY, every_rule, every_rule_october
from xietong.cli import main


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def worked():
    return evaluate_ledger(worked_example().build().rows, load_policy(), PERIOD, {})


# ----------------------------------------------------------------------------- the templates

def test_a_sentence_names_the_same_values_in_both_languages():
    words = Wording("test")
    with pytest.raises(ValueError, match="the Chinese names"):
        words.template("t.x", zh="{a} 与 {b}", en="{a} and {c}")
    words.template("t.y", zh="{a}", en="{a}")
    with pytest.raises(ValueError, match="declared twice"):
        words.template("t.y", zh="{a}", en="{a}")
    assert words.note(en="done", zh="完成") == "done"
    with pytest.raises(ValueError, match="differently"):
        words.note(en="done", zh="已完成")


def test_a_template_fills_lists_and_codes_in_each_language():
    t = Template("t", Text(zh="{ids} 属于 {level} 关联", en="{ids} at {level}"),
                 words={"level": {"high": Text(zh="强", en="high")}})
    said = t(ids=["R1", "R2", "R3"], level="high")
    assert said.text == "R1, R2, R3 at high"
    assert said.says == ["t", {"ids": ["R1", "R2", "R3"], "level": "high"}]
    assert t.render("zh", said.says[1]) == "R1、R2、R3 属于 强 关联"
    assert t.render("zh", {"ids": [], "level": "odd"}) == " 属于 odd 关联"


def test_the_worked_example_in_chinese_and_english(worked):
    """SPEC §9, D3: each adjustment's and exception's words, as a report shows them."""
    by_rule = {}
    for a in worked.adjustments:
        by_rule.setdefault(a["rule"], []).append(a)
    assert [explanation(a, "zh") for a in by_rule["linkage.blend"]] == [
        "K1 公司系数 1.1，关联度强：0.2027 × (110 − 70)",
        "K2 公司系数 1.25，关联度中：0.0973 × (125 − 70)"]
    assert [explanation(a, "en") for a in by_rule["linkage.blend"]] == [
        "K1 C=1.1 at high: 0.2027 × (110 − 70)", "K2 C=1.25 at medium: 0.0973 × (125 − 70)"]
    (peripheral,) = by_rule["peripheral.blend"]
    assert explanation(peripheral, "zh") == "评价分 80，客观分 90，周边绩效分 85：0.15 × (85 − 70)"
    assert explanation(peripheral, "en") == "R=80, O=90, P=85; 0.15 × (85 − 70)"
    (raci,) = by_rule["raci.blend"]
    assert explanation(raci, "zh") == "责任矩阵评分 60：0.15 × (60 − 70)"
    assert [explanation(a, "zh") for a in by_rule["interlock.penalty"]] == [
        "M1 严重未达（达成率 0.75）：−6 × 0.7", "M1 严重未达（达成率 0.75）：−6 × 0.3"]
    assert [explanation(a, "en") for a in by_rule["interlock.penalty"]] == [
        "M1 severely missed (a=0.75): −6 × 0.7", "M1 severely missed (a=0.75): −6 × 0.3"]
    by_kind = {e["kind"]: e for e in worked.exceptions}
    assert message(by_kind["RATING_EXTREME"], "zh") == "R3：E4 对 D3 的“响应速度”评分 5，为极端分"
    assert message(by_kind["RATING_EXTREME"], "en") == "R3: E4 rated D3 5 on 响应速度 (extreme)"
    missed = [e for e in worked.exceptions if e["kind"] == "INTERLOCK_MISSED"]
    assert [message(e, "zh") for e in missed] == [
        "M1（新业务收入）未达成（达成率 0.75）：D1 须参与复盘",
        "M1（新业务收入）未达成（达成率 0.75）：D3 须参与复盘"]
    assert [e["message"] for e in missed] == [
        "M1 (新业务收入) missed, a=0.75: D1 holds a post-mortem",
        "M1 (新业务收入) missed, a=0.75: D3 holds a post-mortem"]


def test_rejections_say_their_kind_and_lists_join_in_each_language():
    b = small_company()
    b.behaviour("B1", "F3", "LEAD", 1, "F1", evidence=None)
    b.rating("R1", "M2", "B", 2, comment="慢")          # M and B rate each other low, twice
    b.rating("R2", "B2", "M", 1, comment="差")
    b.rating("R3", "B2", "M", 2, comment="差")
    got = evaluate_ledger(b.build().rows, load_policy(), PERIOD, {})
    words = {(e["kind"], e["sources"][0][1]): (message(e, "zh"), e["message"])
             for e in got.exceptions}
    assert words[("BEH_NO_EVIDENCE", 2)] == ("B1：缺少事实依据", "B1: No factual evidence")
    assert words[("RATING_MUTUAL_LOW", 2)] == (
        "R1：M2 对 B 的“响应速度”评分 2；B 也在 R2、R3 中给出低分",
        "R1: M2 rated B 2 on 响应速度; B rated back low in R2, R3")


def test_every_stored_english_text_is_its_template_in_english():
    """What a run stores as text is what its `says` renders in English: English reports (the
    stored text) and Chinese ones (the template) say the same thing."""
    said = []
    # every_rule()'s month under the default policy, and with its month before under the
    # policy that reads other months (the flat reward's, the window's and the matrix's
    # sentences: tests/test_one_language.py)
    rows = every_rule().build().rows
    october = {s: [dict(r) for r in sheet_rows]
               for s, sheet_rows in every_rule_october().rows.items()}
    for policy, history in ((load_policy(), None),
                            (policy_from_mapping(tomllib.loads(OVER_TIME_POLICY,
                                                               parse_float=Decimal)),
                             {"2026-10": october})):
        got = evaluate_ledger(rows, policy, PERIOD, {}, history=history)
        said += [(a["says"], a["explanation"]) for a in got.adjustments] + \
                [(e["says"], e["message"]) for e in got.exceptions]
    # the deadlines' moves (a note each), under the default policy
    got = evaluate_ledger(rows, load_policy(), PERIOD, {})
    said += [(o["says"], o["note"]) for t in _moved(rows, got.exceptions).trace
             for o in t.outcome.get("outcomes", ()) if "says" in o and "note" in o]
    assert {s[0] for s, _ in said} == set(TEMPLATES)
    for says, text in said:
        assert render(says, "en") == text
        assert render(says, "zh") != text


def _moved(rows, exceptions):
    """The same ledger evaluated again as if its items had been raised 15 days before (SPEC
    §11.4): every open item moves up, and one item, decided since it moved, stays where it was
    moved — the deadline book's two sentences (rules/deadlines.py)."""
    from datetime import datetime, timedelta, timezone
    from rules.deadlines import Standing
    clock = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)
    reviews = [e["review_id"] for e in exceptions if e["type"] == "review"]
    late = {rid: Standing(clock - timedelta(days=15), None) for rid in reviews}
    first = evaluate_ledger(rows, load_policy(), PERIOD, {}, standing=late, clock=clock)
    moved = next(e for e, before in zip(first.exceptions, exceptions)
                 if e["type"] == "review" and e["assignee_id"] != before["assignee_id"])
    late[moved["review_id"]] = Standing(clock - timedelta(days=1), moved["assignee_id"])
    return evaluate_ledger(rows, load_policy(), PERIOD, {moved["review_id"]: "confirm"},
                           standing=late, clock=clock)


def test_notes_are_worded_by_their_stored_text():
    assert note_text("accepted", "zh") == "采纳" and note_text("accepted", "en") == "accepted"
    assert note_text("held", "zh") == "暂不计入均值"
    assert note_text("something new", "zh") == "something new"
    assert all(text.en == en for en, text in NOTES.items())


def test_a_stored_text_without_a_template_is_shown_as_it_is():
    old = {"message": "R1 by E2: The rater belongs to the rated department"}
    assert message(old, "zh") == old["message"]
    assert message({**old, "says": None}, "zh") == old["message"]
    for broken in (["no.such.template", {}], ["rating.rejected", {"rating": "R1"}], ["x"], 7):
        assert message({**old, "says": broken}, "zh") == old["message"]
    assert explanation({"explanation": "x", "says": ["linkage.blend", "not a dict"]}, "zh") == "x"


# ----------------------------------------------------------------------------- stored runs

@pytest.fixture
def stored(tmp_path):
    ledger = tmp_path / "ledger.xlsx"
    write_ledger(ledger, worked_example().build().rows, "zh")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    return ledger, url


def test_a_run_stores_each_sentence_in_its_chained_firing(stored, tmp_path):
    """The sentence of an exception is in its firing's outcome, which the chain covers: a score
    changed in it is found by verify. (A score read from a workbook is the Decimal of the
    reader's float: 5.0.)"""
    ledger, url = stored
    assert cli("run", ledger, "--period", PERIOD, "--out", tmp_path / "o", "--db", url)[0] == 0
    trace = json.loads((tmp_path / "o" / "trace.json").read_text("utf-8"))
    extreme = next(f for f in trace if f["rule"] == "RATING_EXTREME")
    assert extreme["outcome"]["outcomes"] == [{
        "exception": "RATING_EXTREME",
        "says": ["rating.extreme", {"dept": "D3", "dimension": "响应速度", "rater": "E4",
                                    "rating": "R3", "score": "5.0"}]}]
    engine = sa.create_engine(url)
    with engine.begin() as c:
        text = c.execute(sa.text("SELECT outcome FROM firing WHERE rule = 'RATING_EXTREME'")
                         ).scalar()
        c.execute(sa.text("UPDATE firing SET outcome = :t WHERE rule = 'RATING_EXTREME'"),
                  {"t": text.replace('"score":"5.0"', '"score":"1.0"')})
    engine.dispose()
    code, out, err = cli("verify", "--db", url, "--lang", "en")     # the ledger's is Chinese
    assert code == 1 and "was changed" in err


def test_a_run_stored_before_the_templates_verifies_and_reports_its_words(stored, tmp_path,
                                                                         monkeypatch):
    """A run whose outcomes carry no `says` (as every run stored before them): verify passes,
    JSON is its stored text, a Chinese trace shows its stored English sentences, its notes in
    Chinese."""
    ledger, url = stored
    real = evaluator.runs.evaluate_ledger

    def as_before(*args, **kw):
        result = real(*args, **kw)
        for t in result.trace:
            for o in t.outcome.get("outcomes", ()):
                o.pop("says", None)
        # in a run, spools of records (item,): changed as they are read (results_of)
        for x in results_of(result.exceptions, changing=True):
            x.pop("says", None)
        for adjustment in results_of(result.adjustments, changing=True):
            adjustment.pop("says", None)
        return result

    monkeypatch.setattr(evaluator.runs, "evaluate_ledger", as_before)
    assert cli("run", ledger, "--period", PERIOD, "--out", tmp_path / "o", "--db", url)[0] == 0
    trace = json.loads((tmp_path / "o" / "trace.json").read_text("utf-8"))
    assert not any("says" in o for f in trace for o in f["outcome"].get("outcomes", []))
    code, out, err = cli("verify", "--db", url)
    assert code == 0, err
    rows = list(openpyxl.load_workbook(tmp_path / "o" / "trace.xlsx").worksheets[1]
                .iter_rows(min_row=2, values_only=True))
    words = {r[1]: r[13] for r in rows}
    assert words["linkage.blend"] == "K2 C=1.25 at medium: 0.0973 × (125 − 70)"
    assert words["RATING_EXTREME"] == "R3: E4 rated D3 5.0 on 响应速度 (extreme)"
    assert words["rating.accept"] == "采纳"
    adjustments = json.loads((tmp_path / "o" / "adjustments.json").read_text("utf-8"))
    assert adjustments[0]["explanation"] == "K1 C=1.1 at high: 0.2027 × (110 − 70)"


# ----------------------------------------------------------------------------- the desk

def test_the_desk_words_the_rules_sentences_in_the_readers_language(tmp_path):
    """The desk's trace and review pages show the run's notes, explanations and messages in the
    reader's language (SPEC §10.5); the JSON API keeps the stored text."""
    pytest.importorskip("starlette")
    from tests import desk_support
    url = desk_support.new_url(tmp_path)
    desk = desk_support.build(tmp_path, url)
    try:
        c, csrf = desk_support.client(desk.app, "hr")
        pages = {}
        for lang in ("zh", "en"):
            assert c.post("/language", data={"lang": lang, "csrf_token": csrf}).status_code == 303
            pages[lang] = (
                c.get(f"/periods/{PERIOD}/trace", params={"rule": "linkage.blend"}).text,
                c.get(f"/periods/{PERIOD}/trace", params={"rule": "rating.accept"}).text,
                c.get(f"/periods/{PERIOD}/reviews/{desk.own}").text,
                c.get("/reviews", params={"period": PERIOD}).text)
        zh, en = pages["zh"], pages["en"]
        assert "8.11 · K1 公司系数 1.1，关联度强：0.2027 × (110 − 70)" in zh[0]
        assert "8.11 · K1 C=1.1 at high: 0.2027 × (110 − 70)" in en[0]
        assert "says" not in zh[0] and "says" not in en[0]
        assert "<div>采纳</div>" in zh[1] and "<div>accepted</div>" in en[1]
        for page in (zh[2], zh[3]):
            assert "R3：E4 对 D3 的“响应速度”评分 5.0，为极端分" in page
        for page in (en[2], en[3]):
            assert "R3: E4 rated D3 5.0 on 响应速度 (extreme)" in page
        items = c.get(f"/api/periods/{PERIOD}/reviews").json()
        (item,) = [it for it in items if it["review_id"] == desk.own]
        assert item["message"] == "R3: E4 rated D3 5.0 on 响应速度 (extreme)"
    finally:
        desk.app.state.db.close()
        desk_support.forget(url)
