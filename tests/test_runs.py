"""Runs through the database (evaluator/runs.py): stored results equal the evaluation, decisions
recorded from a file apply to the next run, a decision whose source rows changed no longer
applies, and the chain verifies after every step."""
import pytest
from sqlmodel import Session

from evaluator.chain import verify
from evaluator.db import make_engine
from evaluator.runs import DecisionRow, evaluate_period, latest_run, load_run, record_decisions
from evaluator.store import store_import
from rules.finals import finals
from rules.policy import load_policy
from tests.ledgers import PERIOD, random_ledger, worked_example
from tests.reference import reference_evaluate

POLICY = load_policy()


@pytest.mark.parametrize("seed", [3, 10, 12, 18])
def test_decide_everything_then_reevaluate(db_url, seed):
    engine = make_engine(db_url)
    ledger = random_ledger(seed, 3).build()
    store_import(engine, ledger, PERIOD)
    first = evaluate_period(engine, PERIOD, POLICY)
    reviews = [e for e in stored_run(engine)["exceptions"] if e["type"] == "review"]
    assert reviews, "the seed must produce review items"
    assert (first.reviews, first.open_reviews) == (len(reviews), len(reviews))
    decisions = {e["review_id"]: ("overturn" if i % 2 else "confirm") for i, e in enumerate(reviews)}
    rows = [DecisionRow(rid, d, "HR", None, "Reviews", i + 2) for i, (rid, d) in enumerate(decisions.items())]
    changes, unchanged = record_decisions(engine, PERIOD, "d.xlsx", "0" * 64, rows)
    assert unchanged == 0
    assert [(c.review_id, c.old, c.new, c.reviewer_id) for c in changes] == \
        [(rid, None, d, "HR") for rid, d in decisions.items()]
    second = evaluate_period(engine, PERIOD, POLICY)
    expected = reference_evaluate(ledger, POLICY, PERIOD, decisions)
    stored = stored_run(engine)
    assert [(a["rule"], a["subject_id"], a["points"]) for a in stored["adjustments"]] == \
           [(a["rule"], a["subject_id"], a["points"]) for a in expected.adjustments]
    assert [(e["review_id"], e["status"]) for e in stored["exceptions"]] == \
           [(e["review_id"], e["status"]) for e in expected.exceptions]
    now = [e["status"] for e in stored["exceptions"] if e["type"] == "review"]
    assert (second.reviews, second.open_reviews) == (len(now), now.count("open"))
    assert second.reviews >= len(reviews) and second.open_reviews < len(reviews)
    # the evaluation's own results were stored from its files, closed since: lengths only
    assert len(second.evaluated.adjustments) == len(expected.adjustments)
    assert len(second.evaluated.exceptions) == len(expected.exceptions)
    assert second.evaluated.adjustments.closed and second.evaluated.exceptions.closed
    assert len(stored["firings"]) == len(second.evaluated.trace)
    with Session(engine) as s:
        assert verify(s).ok


def stored_run(engine) -> dict:
    """The period's latest run as stored (load_run): what evaluate_period hands back of its
    adjustments and exceptions is their closed files (their lengths only)."""
    with Session(engine) as s:
        return load_run(s, latest_run(s, PERIOD))


def dept_final(builder, stored: dict, dept_id: str) -> dict:
    """A department's finals as every report sums them (rules.finals) from a stored run's
    adjustments: the run's own evaluation leaves its finals to them."""
    st = finals(builder.rows, stored["adjustments"])
    return next(d for d in st["departments"] if d["dept_id"] == dept_id)


def test_decision_lapses_when_its_rows_change(db_url):
    engine = make_engine(db_url)
    builder = worked_example()
    store_import(engine, builder.build(), PERIOD)
    evaluate_period(engine, PERIOD, POLICY)
    extreme = next(e for e in stored_run(engine)["exceptions"] if e["kind"] == "RATING_EXTREME")
    record_decisions(engine, PERIOD, "E1.xlsx", "1" * 64,
                     [DecisionRow(extreme["review_id"], "confirm", "E1", None, "Reviews", 2)])
    evaluate_period(engine, PERIOD, POLICY)
    confirmed = stored_run(engine)
    # SPEC §9 with the 5 counted: R = 20 × (4 + 4 + 5) / 3 = 86.666…, O = 90,
    # P = (86.666… + 90) / 2 = 88.333…, peripheral = 0.15 × (88.333… − 70) = 0.15 × 55/3 = 2.75
    # (was 2.25 with the 5 held); final = 70 + 13.46 + 2.75 − 1.50 − 1.80 = 82.91.
    d3 = dept_final(builder, confirmed, "D3")
    assert (str(d3["by_mechanism"]["peripheral"]), str(d3["final"])) == ("2.75", "82.91")
    # HR corrects the rated row's comment: the item is the same (same review id) but open again
    rating = next(r for r in builder.rows["InternalRatings"] if r["rating_id"] == "R3")
    rating["comment"] = "已更正"
    store_import(engine, builder.build(), PERIOD)
    evaluate_period(engine, PERIOD, POLICY)
    again = stored_run(engine)
    item = next(e for e in again["exceptions"] if e["kind"] == "RATING_EXTREME")
    assert item["review_id"] == extreme["review_id"] and item["status"] == "open"
    assert str(dept_final(builder, again, "D3")["final"]) == "82.41"
    with Session(engine) as s:
        assert verify(s).ok
