"""The desk's pages of the performance year (SPEC §12 over §11.2–§11.4): summary and trends,
feedback per department, and review items that moved up past their deadline — their figures
checked by hand on a small history built here, and who may see what.

The history, quarter 2026-Q4 of SPEC §9's worked example (tests/ledgers.py):

* 2026-10: the example, with E31 (base 90) given LEAD +2 by his manager E30; evaluated, then
  closed with its open reviews → **final**.
* 2026-11: the same with D1's base 84 (not 80) and E31's 95 and LEAD +3; evaluated, open →
  **provisional**.
* 2026-12: nothing → **missing**.

By hand: D3's final is SPEC §9's 82.41 both months (base 70, linkage 13.46, peripheral 2.25,
RACI −1.50, interlock −1.80). D1 is front office with no linkage rows; its only adjustment is
its 0.7 share of M1's penalty, 6 × 0.7 = 4.20: 80 − 4.20 = 75.80 in October, 84 − 4.20 = 79.80
in November, mean (75.80 + 79.80) / 2 = 77.80. E31: 90 + 2 = 92.00, 95 + 3 = 98.00, mean 95.00,
behaviour total 5.00. E2 has no base: no final, no mean, behaviour total 0.00.

Feedback of D3 (SPEC §9): internal ratings 4, 4 and 5 by E2, E3, E4 of D1 on 响应速度 — the 5 is
held as RATING_EXTREME (assigned to E4's manager E1) — so 2 counted, mean 4.00, min = max = 4,
two 4s, 1 held; one RACI rating 3 (方案可执行性) by E2 on P1: 1 counted, mean 3.00. Peripheral
+2.25, RACI −1.50.
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest

import evaluator.runs
import xietong
from reports.template import write_ledger
from importers.schema import SHEETS
from rules.books import BOOKS
from rules.exceptions import KINDS, review_id
from rules.policy import SCHEMA
from tests import desk_support
from tests.desk_support import client
from tests.ledgers import small_company, worked_example
from tests.one_language import Checker

OCT, NOV, DEC = "2026-10", "2026-11", "2026-12"
ACCOUNTS = {"hr": ("hr", None), "auditor": ("auditor", None), "boss": ("manager", "E1"),
            "it": ("manager", "E30")}


def month(base_d1: int, base_e31: int, lead: int, day: str):
    b = worked_example()
    b.rows["Departments"][0]["base_score"] = Decimal(base_d1)
    e31 = next(e for e in b.rows["Employees"] if e["employee_id"] == "E31")
    e31["base_score"] = Decimal(base_e31)
    b.behaviour("B1", "E31", "LEAD", lead, "E30", day=date.fromisoformat(day))
    return b


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("year")
    url = desk_support.new_url(tmp)
    for name, period, b in (("october.xlsx", OCT, month(80, 90, 2, "2026-10-05")),
                            ("november.xlsx", NOV, month(84, 95, 3, "2026-11-03"))):
        write_ledger(tmp / name, b.build().rows, lang="en")
        with xietong.open_database(url) as db:
            xietong.import_ledger(db, tmp / name, period)
            xietong.evaluate(db, period)
    with xietong.open_database(url) as db:
        xietong.api.close_period(db, OCT, reason="month end", by="hr", with_open_reviews=True)
    d = desk_support.build(tmp, url, accounts=ACCOUNTS, evaluate=False)
    owner, _ = client(d.app)
    with owner:
        yield d, {role: client(d.app, role) for role in ACCOUNTS}
    desk_support.forget(url)


def row_cells(page: str, row_id: str) -> list[str]:
    """The texts of the cells of the table row `row_id` of a page."""
    found = re.search(rf'<tr[^>]*id="{re.escape(row_id)}"[^>]*>(.*?)</tr>', page, re.S)
    assert found, row_id
    return [re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", found.group(1), re.S)]


# --------------------------------------------------------------------------- summary and trends

def test_the_summary_page_shows_the_hand_checked_figures(year):
    d, clients = year
    # the page's form sends both choices: a chosen quarter is the narrower
    page = clients["hr"][0].get("/summary?year=2026&quarter=2026-Q4").text
    assert "2026-Q4" in page and 'id="month-2026-01"' not in page
    assert row_cells(page, f"month-{OCT}")[:2] == [OCT, "final"]
    assert row_cells(page, f"month-{NOV}")[:2] == [NOV, "provisional"]
    assert row_cells(page, f"month-{DEC}")[:2] == [DEC, "missing"]
    # department: id, name, Oct, Nov, Dec, trend, mean, linkage, peripheral, RACI, interlock
    assert row_cells(page, "dept-D1") == ["D1", "销售部", "75.80", "79.80", "", "", "77.80",
                                          "0.00", "0.00", "0.00", "-8.40"]
    assert row_cells(page, "dept-D3") == ["D3", "IT部", "82.41", "82.41", "", "", "82.41",
                                          "26.92", "4.50", "-3.00", "-3.60"]
    # employee: id, name, department, Oct, Nov, Dec, trend, mean, behaviour total
    assert row_cells(page, "emp-E31") == ["E31", "运维工程师", "D3", "92.00", "98.00", "", "",
                                          "95.00", "5.00"]
    assert row_cells(page, "emp-E2") == ["E2", "王销售", "D1", "", "", "", "", "", "0.00"]
    # the trends: the chart of the departments and a sparkline per row with finals (the two
    # departments and E31: the others have no base), drawn on the server
    assert page.count('<svg class="spark"') == 2 + 1
    assert "<polyline" in page and "<script>" not in page.split("<main>")[1]
    assert 'class="num final">75.80' in page and 'class="num provisional">79.80' in page


def test_the_summary_api_pages_and_filters_the_employees(year):
    d, clients = year
    c = clients["auditor"][0]
    body = c.get("/api/summary", params={"quarter": "2026-Q4"}).json()
    assert body["range"] == "2026-Q4"
    assert [(m["period"], m["state"]) for m in body["months"]] == [
        (OCT, "final"), (NOV, "provisional"), (DEC, "missing")]
    d1 = next(x for x in body["departments"] if x["dept_id"] == "D1")
    assert {p: x["final"] for p, x in d1["months"].items()} == {OCT: 75.8, NOV: 79.8, DEC: None}
    assert d1["mean_final"] == 77.8
    assert d1["months"][OCT]["by_mechanism"] == {"linkage": 0.0, "peripheral": 0.0,
                                                 "raci": 0.0, "interlock": -4.2}
    e31 = next(x for x in body["employees"] if x["employee_id"] == "E31")
    assert (e31["mean_final"], e31["behaviour_total"]) == (95.0, 5.0)
    assert body["employees_total"] == 6
    # by id: E1, E2, E3, E30, E31, E4
    r = c.get("/api/summary", params={"quarter": "2026-Q4", "offset": 2, "limit": 2})
    assert [e["employee_id"] for e in r.json()["employees"]] == ["E3", "E30"]
    assert r.headers["x-total-count"] == "6"
    r = c.get("/api/summary", params={"quarter": "2026-Q4", "dept": "D3"}).json()
    assert [e["employee_id"] for e in r["employees"]] == ["E30", "E31"]
    r = c.get("/api/summary", params={"year": "2026", "q": "运维"}).json()
    assert [e["employee_id"] for e in r["employees"]] == ["E31"]
    assert len(r["months"]) == 12


def test_the_page_and_the_command_share_one_library_function(year, tmp_path):
    """The page's figures are `summary`'s (the command's): its JSON download is the command's
    summary.json, and each page of employees is a slice of it."""
    d, clients = year
    c = clients["hr"][0]
    with xietong.open_database(d.url) as db:
        whole = xietong.api.summary(db, quarter="2026-Q4", out_dir=tmp_path,
                                    formats={"json"})
    written = (tmp_path / "summary.json").read_bytes()
    r = c.get("/summary/summary.json?quarter=2026-Q4")
    assert r.status_code == 200 and r.content == written
    expected = json.loads(written)
    for offset in (0, 3):
        page = c.get("/api/summary", params={"quarter": "2026-Q4", "offset": offset,
                                             "limit": 3}).json()
        assert page["employees"] == expected["employees"][offset:offset + 3]
        assert page["departments"] == expected["departments"]
    assert len(whole.employees) == 6
    r = c.get("/summary/summary.xlsx?quarter=2026-Q4")
    assert r.status_code == 200 and r.content[:2] == b"PK"


# --------------------------------------------------------------------------- feedback

def test_the_feedback_of_a_department_as_its_workbook_says(year):
    d, clients = year
    it = clients["it"][0]
    body = it.get(f"/api/periods/{NOV}/feedback/D3").json()
    dims = {(x["sheet"], x["dimension"]): x for x in body["dimensions"]}
    assert dims[("InternalRatings", "响应速度")] == {
        "sheet": "InternalRatings", "dimension": "响应速度", "count": 2, "mean": 4.0,
        "min": 4.0, "max": 4.0, "distribution": {"1": 0, "2": 0, "3": 0, "4": 2, "5": 0},
        "held": 1, "overturned": 0}
    assert dims[("RaciRatings", "方案可执行性")] == {
        "sheet": "RaciRatings", "dimension": "方案可执行性", "count": 1, "mean": 3.0,
        "min": 3.0, "max": 3.0, "distribution": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 0},
        "held": 0, "overturned": 0}
    assert (body["peripheral"]["points"], body["raci"]["points"]) == (2.25, -1.5)
    assert body["counts"] == {"counted": 3, "held": 1, "overturned": 0}
    assert sorted((r["sheet"], r["score"], r["rater_dept_id"], r["status"])
                  for r in body["ratings"]) == [
        ("InternalRatings", 4, "D1", "fb_counted"), ("InternalRatings", 4, "D1", "fb_counted"),
        ("InternalRatings", 5, "D1", "fb_held"), ("RaciRatings", 3, "D1", "fb_counted")]
    r = it.get(f"/api/periods/{NOV}/feedback/D3", params={"offset": 1, "limit": 2})
    assert r.headers["x-total-count"] == "4" and r.json()["ratings"] == body["ratings"][1:3]
    # [feedback] show_raters is false: no rater's id, no rating id, anywhere
    assert not any("rater_id" in r or "rating_id" in r for r in body["ratings"])
    page = it.get(f"/periods/{NOV}/feedback/D3").text
    for secret in ("E2", "E3", "E4", "R1", "R2", "R3", "Q1"):
        assert not re.search(rf"\b{secret}\b", page.split("<main>")[1]), secret
    assert "2.25" in page and "held (review open)" in page


def test_the_downloaded_workbook_is_the_reports_own(year, tmp_path):
    d, clients = year
    with xietong.open_database(d.url) as db:
        xietong.report(db, NOV, tmp_path / "report", formats={"xlsx"}, lang="en")
    r = clients["auditor"][0].get(f"/periods/{NOV}/feedback/D3/workbook")
    assert r.status_code == 200
    (tmp_path / "got.xlsx").write_bytes(r.content)
    assert cells(tmp_path / "got.xlsx") == cells(tmp_path / "report" / "feedback" / "D3.xlsx")


def cells(path: Path) -> dict:
    wb = openpyxl.load_workbook(path)
    return {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in wb}


def test_a_manager_lists_only_the_departments_it_heads(year):
    d, clients = year
    assert 'id="fb-D3"' in clients["it"][0].get(f"/feedback?period={NOV}").text
    boss = clients["boss"][0].get(f"/feedback?period={NOV}").text
    assert 'id="fb-D3"' not in boss and "No department you head" in boss
    assert 'id="fb-D3"' in clients["hr"][0].get("/feedback").text      # the newest period
    assert clients["boss"][0].get(f"/api/periods/{NOV}/feedback/D3").status_code == 403


def test_show_raters_shows_them_and_an_overturned_rating_is_marked(tmp_path, db_url):
    """Policy [feedback] show_raters = true: the rater's id and the rating id appear; the held
    5 overturned by its reviewer is counted out as overturned."""
    b = worked_example()
    write_ledger(tmp_path / "ledger.xlsx", b.build().rows, lang="en")
    policy = tmp_path / "policy.toml"
    policy.write_text("[feedback]\nshow_raters = true\n", encoding="utf-8")
    with xietong.open_database(db_url) as db:
        xietong.import_ledger(db, tmp_path / "ledger.xlsx", NOV)
        xietong.evaluate(db, NOV, policy=policy)
        rid = next(it["review_id"] for it in xietong.api.reviews(db, NOV).items
                   if it["kind"] == "RATING_EXTREME")
        xietong.api.decide(db, NOV, rid, "overturn", "a favour", reviewer_id="E1",
                           account=None)
        xietong.evaluate(db, NOV, policy=policy)
        fb = xietong.api.feedback_of(db, NOV, "D3", lang="en")
    raters = sorted((r["rater_id"], r["rating_id"], r["status"]) for r in fb["ratings"])
    assert raters == [("E2", "Q1", "fb_counted"), ("E2", "R1", "fb_counted"),
                      ("E3", "R2", "fb_counted"), ("E4", "R3", "fb_overturned")]
    assert fb["counts"] == {"counted": 3, "held": 0, "overturned": 1}
    internal = next(x for x in fb["dimensions"] if x.sheet == "InternalRatings")
    assert (internal.count, internal.mean, internal.overturned) == (2, Decimal("4.00"), 1)


# --------------------------------------------------------------------------- moved items (§11.4)

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=timezone.utc)
EXTREME = review_id(NOV, "RATING_EXTREME", ("InternalRatings", "R2"))


@pytest.fixture
def moved(tmp_path, monkeypatch):
    """small_company(): F3 rates M 5 → RATING_EXTREME for F3's manager F1; still open 15 days
    later, the next evaluation moves it one level up to C0 (tests/test_deadlines.py)."""
    now = {"t": T0}
    monkeypatch.setattr(evaluator.runs, "utcnow", lambda: now["t"])
    b = small_company()
    b.rating("R1", "F2", "M", 4)
    b.rating("R2", "F3", "M", 5, dimension="专业能力")
    write_ledger(tmp_path / "ledger.xlsx", b.build().rows, "en")
    url = desk_support.new_url(tmp_path)
    with xietong.open_database(url) as db:
        xietong.import_ledger(db, tmp_path / "ledger.xlsx", NOV)
        xietong.evaluate(db, NOV)                          # raised at T0, for F1
        now["t"] = T0 + timedelta(days=15)
        xietong.evaluate(db, NOV)                          # moved up to C0
    d = desk_support.build(tmp_path, url, evaluate=False,
                           accounts={"f1": ("manager", "F1"), "c0": ("manager", "C0"),
                                     "hr": ("hr", None)})
    owner, _ = client(d.app)
    with owner:
        yield d, {k: client(d.app, k) for k in ("f1", "c0", "hr")}
    desk_support.forget(url)


def test_a_moved_item_is_the_new_assignees_to_decide(moved):
    d, clients = moved
    c0, token = clients["c0"]
    assert [x["review_id"] for x in c0.get(f"/api/periods/{NOV}/reviews").json()] == [EXTREME]
    page = c0.get(f"/periods/{NOV}/reviews/{EXTREME}").text
    assert 'id="decide-form"' in page
    assert "moved up from F1 at 2026-11-18 09:00 UTC, past its deadline" in page
    r = c0.post(f"/api/periods/{NOV}/reviews/{EXTREME}/decision",
                headers={"X-CSRF-Token": token}, json={"decision": "confirm", "comment": "ok"})
    assert r.status_code == 200 and r.json()["status"] == "confirmed"


def test_the_earlier_assignee_sees_it_moved_and_may_still_decide_it(moved):
    """As a returned workbook may (tests/test_deadlines.py): both roads end in the same
    decision record."""
    d, clients = moved
    f1, token = clients["f1"]
    # not among its items, but listed as moved: to whom, when
    assert f1.get(f"/api/periods/{NOV}/reviews").json() == []
    mine = f1.get("/reviews").text
    assert row_cells(mine, f"moved-{EXTREME}")[4] == \
        "moved up to C0 总经理 at 2026-11-18 09:00 UTC, past its deadline"
    page = f1.get(f"/periods/{NOV}/reviews/{EXTREME}")
    assert page.status_code == 200
    assert 'id="moved-notice"' in page.text and 'id="decide-form"' in page.text
    r = f1.post(f"/api/periods/{NOV}/reviews/{EXTREME}/decision",
                headers={"X-CSRF-Token": token}, json={"decision": "overturn", "comment": "迟交"})
    assert r.status_code == 200 and r.json()["status"] == "overturned"
    with xietong.open_database(d.url) as db:
        assert [(x["review_id"], x["decision"], x["reviewer_id"], x["comment"])
                for x in xietong.api.decisions(db, NOV)] == [(EXTREME, "overturn", "F1", "迟交")]
    # HR sees who has it now, and where it came from
    assert "moved up from F1" in clients["hr"][0].get(f"/periods/{NOV}/reviews/{EXTREME}").text


def test_moves_are_read_from_the_runs(moved):
    """api.moved_reviews: the item moved away from F1 at the second evaluation's start; C0 has
    nothing that moved away from it."""
    d, _ = moved
    with xietong.open_database(d.url) as db:
        away = xietong.api.moved_reviews(db, "F1", lang="en")
        assert [(x["review_id"], x["moved_to"], x["moved_at"]) for x in away] == [
            (EXTREME, "C0", "2026-11-18T09:00:00+00:00")]
        assert xietong.api.moved_reviews(db, "C0") == []
        item = xietong.api.review_item(db, NOV, EXTREME, context=False)
        assert item["moved_from"] == ["F1"] and item["assignee_id"] == "C0"


# --------------------------------------------------------------------------- one language

class _Text(HTMLParser):
    """Every text node of a page but its scripts and styles, and its title and buttons."""

    def __init__(self):
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(data.strip())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_speaks_one_language(year, moved, lang):
    """SPEC §10.5 on the new pages: a Chinese page's words are Chinese, an English page's
    English — but ids, values quoted from the ledger, dates, file names and hashes; the
    language switch names each language in its own (中文, English) and the brand is 协同
    xietong."""
    d, clients = year
    m, mclients = moved
    pages = []
    for who, cs, urls in (
            ("hr", clients, ["/summary?quarter=2026-Q4", "/summary?year=2026&dept=D3",
                             "/feedback", f"/periods/{NOV}/feedback/D3"]),
            ("boss", clients, [f"/feedback?period={NOV}"]),
            ("f1", mclients, ["/reviews", f"/periods/{NOV}/reviews/{EXTREME}"]),
            ("c0", mclients, [f"/periods/{NOV}/reviews/{EXTREME}"])):
        c, token = cs[who]
        c.post("/language", data={"lang": lang, "csrf_token": token})
        for url in urls:
            r = c.get(url)
            assert r.status_code == 200, (who, url)
            parser = _Text()
            parser.feed(r.text)
            pages += [(f"{who} {url}", t) for t in parser.texts]
    quoted = set()
    for b in (month(80, 90, 2, "2026-10-05"), small_company()):
        for rows in b.rows.values():
            for row in rows:
                quoted.update(str(v) for v in row.values() if isinstance(v, str))
    quoted.update({"专业能力", "中文", "English", "协同", "xietong"})
    # the cited values name the columns as the ledger's header does (these ledgers: English)
    ids = ({r.rule_id for book in BOOKS for r in book.rules} | {k.kind for k in KINDS}
           | {c.name for s in SHEETS for c in s.columns}
           | {f"{s}.{k}" for s, keys in SCHEMA.items() for k in keys}
           | {EXTREME, "E1", "E30", "F1", "C0", "hr", "boss", "it", "f1", "c0"})
    found = Checker(lang, quoted, ids).scan(pages)
    assert found == [], sorted({w for _, _, words in found for w in words})


def test_every_rated_departments_workbook_is_the_reports_own(tmp_path, db_url):
    """The desk reads one department's feedback (its ratings, raters, blends and the rating
    items that cite its rows): on the ledger where every rating rule fires (rejections of every
    kind, held, mutual, RACI reversed; tests/test_one_language.py), each rated department's
    workbook from the desk equals the report's, cell by cell, in both languages."""
    from tests.test_one_language import every_rule
    from tests.ledgers import PERIOD
    write_ledger(tmp_path / "every-rule.xlsx", every_rule().build().rows, "en")
    with xietong.open_database(db_url) as db:
        xietong.import_ledger(db, tmp_path / "every-rule.xlsx", PERIOD)
        xietong.evaluate(db, PERIOD)
        rated = [d["dept_id"] for d in xietong.api.feedback_departments(db, PERIOD)]
        for lang in ("zh", "en"):
            report = tmp_path / f"report-{lang}"
            xietong.report(db, PERIOD, report, formats={"xlsx"}, lang=lang)
            assert sorted(p.stem for p in (report / "feedback").glob("*.xlsx")) == rated
            for dept in rated:
                got = xietong.api.feedback_workbook(db, PERIOD, dept, tmp_path / lang / dept,
                                                    lang=lang)
                assert cells(got) == cells(report / "feedback" / f"{dept}.xlsx"), (lang, dept)
    assert rated == ["B", "M"]
