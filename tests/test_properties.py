"""Invariants of an evaluation that hold on any ledger (hypothesis over random ledgers):
interlock shares add up to the metric's points, behaviour totals stay within ±cap, every
adjustment points at real source rows, every transaction row ends applied or rejected, and
evaluating twice gives identical output."""
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, given, settings, strategies as st

from evaluator.evaluate import evaluate_ledger
from rules.policy import load_policy
from tests.ledgers import PERIOD, random_decisions, random_ledger

POLICY = load_policy()
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ledgers = st.builds(lambda seed, size: random_ledger(seed, size).build(),
                    st.integers(0, 10**9), st.integers(1, 4))


@SETTINGS
@given(ledger=ledgers)
def test_interlock_shares_sum_to_the_points(ledger):
    got = evaluate_ledger(ledger.rows, POLICY, PERIOD)
    metrics = {m["row"]: m for m in ledger.rows["Interlocks"]}
    parties = {p["row"]: p for p in ledger.rows["InterlockParties"]}
    shares = defaultdict(list)
    for a in got.adjustments:
        if a["mechanism"] == "interlock":
            (_, metric_row), (_, party_row) = a["sources"]
            shares[(metric_row, a["rule"])].append((a["points"], parties[party_row]["weight"]))
    for (metric_row, rule), items in shares.items():
        m = metrics[metric_row]
        points = m["bonus_points"] if rule == "interlock.reward" else -m["penalty_points"]
        weight = sum(Fraction(w) for _, w in items)
        total = sum(p for p, _ in items)
        # each share is rounded to the cent on its own: the sum is within half a cent per party
        assert abs(Fraction(total) - Fraction(points) * weight) <= Fraction(len(items), 200)
        assert len(items) == sum(1 for p in parties.values() if p["metric_id"] == m["metric_id"])


@SETTINGS
@given(ledger=ledgers, decide=st.integers(0, 10**6))
def test_behaviour_totals_within_cap(ledger, decide):
    first = evaluate_ledger(ledger.rows, POLICY, PERIOD)
    got = evaluate_ledger(ledger.rows, POLICY, PERIOD, random_decisions(first.exceptions, decide))
    cap = POLICY.behaviour.cap
    totals = defaultdict(Decimal)
    for a in got.adjustments:
        if a["mechanism"] == "behaviour":
            totals[a["subject_id"]] += a["points"]
    assert all(-cap <= t <= cap for t in totals.values())
    for emp, t in totals.items():
        assert got.employees[emp]["behaviour"] == t


@SETTINGS
@given(ledger=ledgers)
def test_every_adjustment_and_exception_has_real_sources(ledger):
    got = evaluate_ledger(ledger.rows, POLICY, PERIOD)
    rows = {(sheet, r["row"]) for sheet, lst in ledger.rows.items() for r in lst}
    for item in got.adjustments + got.exceptions:
        assert item["sources"], item
        assert all(tuple(s) in rows for s in item["sources"]), item
    for t in got.trace:
        assert all(tuple(s) in rows for s in t.sources), t


@SETTINGS
@given(ledger=ledgers)
def test_every_transaction_row_ends_applied_or_rejected(ledger):
    got = evaluate_ledger(ledger.rows, POLICY, PERIOD)
    accepted = {tuple(t.sources[0]) for t in got.trace
                if t.rule in ("behaviour.accept", "rating.accept")}
    rejected = {tuple(e["sources"][0]) for e in got.exceptions if e["type"] == "rejection"}
    for sheet in ("Behaviours", "InternalRatings", "RaciRatings"):
        for r in ledger.rows[sheet]:
            key = (sheet, r["row"])
            assert (key in accepted) != (key in rejected), key


@SETTINGS
@given(ledger=ledgers, decide=st.integers(0, 10**6))
def test_evaluating_twice_is_identical(ledger, decide):
    first = evaluate_ledger(ledger.rows, POLICY, PERIOD)
    decisions = random_decisions(first.exceptions, decide)
    a = evaluate_ledger(ledger.rows, POLICY, PERIOD, decisions)
    b = evaluate_ledger(ledger.rows, POLICY, PERIOD, decisions)
    assert a.adjustments == b.adjustments and a.exceptions == b.exceptions
    assert [(t.seq, t.rule, t.sources, t.outcome) for t in a.trace] == \
           [(t.seq, t.rule, t.sources, t.outcome) for t in b.trace]
    # the review items (ids, assignees) do not depend on decisions, so a decision always finds
    # its item (only the PERIPHERAL_NO_RATINGS notices follow the counted ratings)
    assert [(e["review_id"], e["assignee_id"]) for e in a.exceptions if e["type"] == "review"] == \
           [(e["review_id"], e["assignee_id"]) for e in first.exceptions if e["type"] == "review"]
