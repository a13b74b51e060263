"""Deadlines of review items (SPEC §11.4), end to end with a controlled clock: an item still
open at an evaluation more than `review.deadline_days` after it was first raised moves one level
up per elapsed deadline, as `review.escalate` firings citing the item's sources; it shows in
both people's review workbooks; the earlier assignee's decision is still accepted and the
decided item stays where it stood.

The company (tests/ledgers.py small_company): C0 at the top, F1 ← C0, F2/F3/F4 ← F1, M1 ← C0.
F3 rates M 5 → RATING_EXTREME for the rater's manager F1 (levels: F1, C0, HR). F1 proposes three
bonus rows for F2 → BEH_FREQUENT_PROPOSER for the proposer's manager C0 (levels: C0, HR).
Every clock below is hand-picked around the 14-day deadline: T0 is the first run's start.
"""
import io
import json
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest

import evaluator.runs
import reports.reviews
from reports.template import write_ledger
from rules.exceptions import review_id_for, review_id
from rules.policy import check_mapping
from tests.dbs import db_state
from tests.ledgers import small_company
from xietong import api
from xietong.cli import main

PERIOD = "2026-11"
T0 = datetime(2026, 11, 3, 9, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
EXTREME = review_id("2026-11", "RATING_EXTREME", ("InternalRatings", "R2"))
FREQUENT = review_id_for("2026-11", "BEH_FREQUENT_PROPOSER", proposer_id="F1", employee_id="F2")


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


class Clock:
    """evaluator.runs' clock (a run's start, a decision's time), set by the test."""

    def __init__(self, monkeypatch):
        self.now = T0
        monkeypatch.setattr(evaluator.runs, "utcnow", lambda: self.now)

    def at(self, t: datetime) -> "Clock":
        self.now = t
        return self


@pytest.fixture
def company(tmp_path, db_url, monkeypatch):
    b = small_company()
    b.rating("R1", "F2", "M", 4)
    b.rating("R2", "F3", "M", 5, dimension="专业能力")
    b.behaviour("B1", "F2", "LEAD", 2, "F1")
    b.behaviour("B2", "F2", "SHARE", 1, "F1")
    b.behaviour("B3", "F2", "IMPROVE", 3, "F1")
    ledger = tmp_path / "ledger.xlsx"
    write_ledger(ledger, b.build().rows, "en")
    clock = Clock(monkeypatch)
    db = api.open_database(db_url)
    api.import_ledger(db, ledger, PERIOD)
    api.evaluate(db, PERIOD)                       # run 1 at T0: both items first raised
    yield tmp_path, db, clock
    db.close()


def assignees(db) -> dict[str, str]:
    return {it["review_id"]: it["assignee_id"]
            for it in api.reviews(db, PERIOD, type="review").items}


def deadline_firings(db) -> list[dict]:
    return [f for f in api.firings(db, PERIOD) if f["rule"].startswith("review.")]


def notes(f: dict) -> list[str]:
    return [o["note"] for o in f["outcome"]["outcomes"] if "note" in o]


def test_first_run_raises_without_deadline_facts(company):
    tmp, db, clock = company
    assert assignees(db) == {EXTREME: "F1", FREQUENT: "C0"}
    assert deadline_firings(db) == []


def test_exactly_the_deadline_stays_one_second_more_moves(company):
    tmp, db, clock = company
    clock.at(T0 + 14 * DAY)
    api.evaluate(db, PERIOD)
    assert assignees(db) == {EXTREME: "F1", FREQUENT: "C0"}
    assert [(f["rule"], notes(f)) for f in deadline_firings(db)] == [
        ("review.stays", ["open, not past the next deadline"]),         # the rating (peripheral)
        ("review.stays", ["open, not past the next deadline"])]         # then the behaviour

    clock.at(T0 + 14 * DAY + timedelta(seconds=1))
    api.evaluate(db, PERIOD)
    assert assignees(db) == {EXTREME: "C0", FREQUENT: "HR"}
    fired = deadline_firings(db)
    assert [f["rule"] for f in fired] == ["review.escalate", "review.stays",
                                          "review.escalate", "review.stays"]
    rating, _, behaviour, top = fired
    assert rating["sources"] == [{"sheet": "InternalRatings", "row": 3}]   # R2's row
    assert notes(rating) == [f"{EXTREME}: F1 → C0 (raised 2026-11-03 09:00:00 UTC, still open "
                             "at 2026-11-17 09:00:01 UTC: more than 1 × 14 days)"]
    assert rating["outcome"]["outcomes"][1] == {"moved": {"review_id": EXTREME, "from": "F1",
                                                          "to": "C0", "step": 1}}
    assert behaviour["sources"] == [{"sheet": "Behaviours", "row": r} for r in (2, 3, 4)]
    assert notes(top) == ["with HR: there is no level above"]


def test_one_move_per_elapsed_deadline(company):
    tmp, db, clock = company
    clock.at(T0 + 28 * DAY + timedelta(seconds=1))
    api.evaluate(db, PERIOD)
    assert assignees(db) == {EXTREME: "HR", FREQUENT: "HR"}
    moves = [f["outcome"]["outcomes"][1]["moved"] for f in deadline_firings(db)
             if f["rule"] == "review.escalate"]
    assert [(m["review_id"], m["from"], m["to"], m["step"]) for m in moves] == [
        (EXTREME, "F1", "C0", 1), (EXTREME, "C0", "HR", 2), (FREQUENT, "C0", "HR", 1)]


def test_both_workbooks_show_the_move_and_the_earlier_assignee_may_still_decide(company,
                                                                              monkeypatch):
    tmp, db, clock = company
    # each assignee's workbook written from a pass of its own (reports.reviews.GROUP_ITEMS):
    # a moved item is found for each workbook that lists it
    monkeypatch.setattr(reports.reviews, "GROUP_ITEMS", 1)
    clock.at(T0 + 15 * DAY)
    api.evaluate(db, PERIOD)
    api.report(db, PERIOD, tmp / "out", formats={"xlsx"})

    def items(who):
        ws = openpyxl.load_workbook(tmp / "out" / "reviews" / f"{who}.xlsx").worksheets[0]
        return {r[0]: r for r in ws.iter_rows(min_row=2, values_only=True)}

    # the auditor's trace: each move under the item's mechanism and subject
    trace = openpyxl.load_workbook(tmp / "out" / "trace.xlsx", read_only=True)["Firings"]
    assert [(r[1], r[3], r[4]) for r in trace.iter_rows(min_row=2, values_only=True)
            if r[1] == "review.escalate"] == [("review.escalate", "Peripheral", "M"),
                                              ("review.escalate", "Behaviour", "F2")]

    f1, c0 = items("F1"), items("C0")
    assert f1[EXTREME][8] == "F1"          # pre-filled with the workbook's own person
    assert f1[EXTREME][9] == "open; moved up to C0 past its deadline (you may still decide it)"
    assert c0[EXTREME][8] == "C0"
    assert c0[EXTREME][9] == "open; moved up from F1 past its deadline"
    assert c0[FREQUENT][9] == "open; moved up to HR past its deadline (you may still decide it)"
    assert items("HR")[FREQUENT][9] == "open; moved up from C0 past its deadline"

    # F1 returns the workbook it holds: a decision made by the earlier assignee stays
    wb = openpyxl.load_workbook(tmp / "out" / "reviews" / "F1.xlsx")
    wb.worksheets[0].cell(row=2, column=7).value = "confirm"
    wb.save(tmp / "F1-back.xlsx")
    clock.at(T0 + 16 * DAY)
    done = api.record_decisions(db, tmp / "F1-back.xlsx", PERIOD)
    assert [(c.review_id, c.new, c.reviewer_id) for c in done.changes] == [
        (EXTREME, "confirm", "F1")]

    # someone the item never was with is refused, the whole file, nothing recorded
    wb = openpyxl.load_workbook(tmp / "out" / "reviews" / "C0.xlsx")
    ws = wb.worksheets[0]
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(row=r, column=1).value == FREQUENT)
    ws.cell(row=row, column=7).value = "overturn"
    ws.cell(row=row, column=9).value = "F4"
    wb.save(tmp / "F4-back.xlsx")
    before = db_state(db.url)
    with pytest.raises(api.Refused) as refused:
        api.record_decisions(db, tmp / "F4-back.xlsx", PERIOD)
    assert any("expected the item's assignee 'HR' or HR, got 'F4'" in line
               for line in refused.value.lines)
    assert db_state(db.url) == before

    # decided: it stays where it stood (C0), however many deadlines pass, and the rating counts
    clock.at(T0 + 60 * DAY)
    api.evaluate(db, PERIOD)
    items_now = {it["review_id"]: it for it in api.reviews(db, PERIOD, type="review").items}
    assert (items_now[EXTREME]["assignee_id"], items_now[EXTREME]["status"]) == ("C0", "confirmed")
    assert items_now[FREQUENT]["assignee_id"] == "HR"
    rating = [f for f in deadline_firings(db) if f["sources"][0]["sheet"] == "InternalRatings"]
    assert [(f["rule"], notes(f)) for f in rating] == [
        ("review.escalate", [f"{EXTREME}: F1 → C0 (moved at an earlier evaluation of the "
                             "period)"]),
        ("review.stays", ["decided: it stays where it stood"])]
    scores = api.scores(db, PERIOD)
    m = next(d for d in scores["departments"] if d["dept_id"] == "M")
    # R1 4 and R2 5 count: R = 20 × 4.5 = 90 → 0.15 × (90 − 70) = 3.00
    assert m["by_mechanism"]["peripheral"] == 3.0


def test_decided_before_its_deadline_never_moves(company):
    tmp, db, clock = company
    api.report(db, PERIOD, tmp / "out", formats={"xlsx"})
    wb = openpyxl.load_workbook(tmp / "out" / "reviews" / "F1.xlsx")
    wb.worksheets[0].cell(row=2, column=7).value = "overturn"
    wb.save(tmp / "F1-back.xlsx")
    clock.at(T0 + DAY)
    api.record_decisions(db, tmp / "F1-back.xlsx", PERIOD)
    clock.at(T0 + 40 * DAY)
    api.evaluate(db, PERIOD)
    assert assignees(db) == {EXTREME: "F1", FREQUENT: "HR"}
    assert all(f["sources"][0]["sheet"] == "Behaviours" for f in deadline_firings(db))


def test_deadline_days_is_policy(company):
    tmp, db, clock = company
    policy = tmp / "policy.toml"
    policy.write_text("[review]\ndeadline_days = 7\n", encoding="utf-8")
    clock.at(T0 + 8 * DAY)
    assert cli("evaluate", "--period", PERIOD, "--db", db.url, "--policy", policy)[0] == 0
    assert assignees(db) == {EXTREME: "C0", FREQUENT: "HR"}
    clock.at(T0 + 8 * DAY + timedelta(hours=1))
    assert cli("evaluate", "--period", PERIOD, "--db", db.url)[0] == 0        # 14 days again
    # a move made under the shorter deadline is never undone
    assert assignees(db) == {EXTREME: "C0", FREQUENT: "HR"}
    assert [notes(f)[0].split(" (")[1] for f in deadline_firings(db)
            if f["rule"] == "review.escalate"] == ["moved at an earlier evaluation of the "
                                                   "period)"] * 2


def test_policy_checks_the_new_values():
    def found(overrides):
        return [e.message("en") for e in check_mapping(overrides)[0]]
    assert found({"review": {"deadline_days": 0}}) == [
        "review.deadline_days = 0: must be at least 1; allowed: ≥ 1"]
    assert found({"review": {"deadline_days": 1.5}}) == [
        "review.deadline_days = 1.5: wrong type; allowed: a whole number"]
    assert found({"feedback": {"show_raters": "yes"}}) == [
        'feedback.show_raters = "yes": wrong type; allowed: true or false']
    assert [e.code for e in check_mapping({"feedback": {"show_names": True}})[0]] == [
        "unknown_key"]
