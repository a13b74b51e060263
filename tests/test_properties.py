"""Invariants of an evaluation that hold on any ledger (hypothesis over random ledgers, drawn
by tests/ledgers.py so that a counterexample shrinks to a small ledger): interlock shares add up
to the metric's points, behaviour totals stay within ±cap, every adjustment points at real
source rows, every transaction row ends applied or rejected, and evaluating twice gives
identical output."""
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, given, settings, strategies as st

from evaluator.evaluate import evaluate_ledger
from rules.policy import load_policy
from tests.ledgers import PERIOD, decisions, ledgers

POLICY = load_policy()
# data_too_large: hypothesis's own tries at short examples overrun a drawn ledger (it takes a
# few dozen draws); that says nothing about the code under test.
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(builder=ledgers())
def test_interlock_shares_sum_to_the_points(builder):
    ledger = builder.build()
    got = evaluate_ledger(ledger.rows, POLICY, PERIOD)
    metrics = {m["row"]: m for m in ledger.rows["Interlocks"]}
    parties = {p["row"]: p for p in ledger.rows["InterlockParties"]}
    shares = defaultdict(list)
    for a in got.adjustments:
        if a["mechanism"] == "interlock":
            (_, metric_row), (_, party_row) = a["sources"]
            shares[(metric_row, a["rule"])].append((a["points"], parties[party_row]["weight"]))
    cap = Fraction(POLICY.interlock.reward_cap)
    for (metric_row, rule), items in shares.items():
        m = metrics[metric_row]
        # SPEC §11.8: the linear reward is bonus × w × min(a, reward_cap); a = ∞ (lower is
        # better, actual 0) rewards at the cap
        target, actual = Fraction(m["target"]), Fraction(m["actual"])
        if (m["direction"] or "higher") == "lower":
            a = cap if actual == 0 else target / actual
        else:
            a = actual / target
        points = (Fraction(m["bonus_points"]) * min(a, cap) if rule == "interlock.reward"
                  else -m["penalty_points"])
        weight = sum(Fraction(w) for _, w in items)
        total = sum(p for p, _ in items)
        # each share is rounded to the cent on its own: the sum is within half a cent per party
        assert abs(Fraction(total) - Fraction(points) * weight) <= Fraction(len(items), 200)
        assert len(items) == sum(1 for p in parties.values() if p["metric_id"] == m["metric_id"])


@SETTINGS
@given(builder=ledgers(), data=st.data())
def test_behaviour_totals_within_cap(builder, data):
    ledger = builder.build()
    first = evaluate_ledger(ledger.rows, POLICY, PERIOD)
    got = evaluate_ledger(ledger.rows, POLICY, PERIOD,
                          data.draw(decisions(first.exceptions), label="decisions"))
    cap = POLICY.behaviour.cap
    totals = defaultdict(Decimal)
    for a in got.adjustments:
        if a["mechanism"] == "behaviour":
            totals[a["subject_id"]] += a["points"]
    assert all(-cap <= t <= cap for t in totals.values())
    for emp, t in totals.items():
        assert got.employees[emp]["behaviour"] == t


@SETTINGS
@given(builder=ledgers())
def test_every_adjustment_and_exception_has_real_sources(builder):
    ledger = builder.build()
    got = evaluate_ledger(ledger.rows, POLICY, PERIOD)
    rows = {(sheet, r["row"]) for sheet, lst in ledger.rows.items() for r in lst}
    for item in got.adjustments + got.exceptions:
        assert item["sources"], item
        assert all(tuple(s) in rows for s in item["sources"]), item
    for t in got.trace:
        assert all(tuple(s) in rows for s in t.sources), t


@SETTINGS
@given(builder=ledgers())
def test_every_transaction_row_ends_applied_or_rejected(builder):
    ledger = builder.build()
    got = evaluate_ledger(ledger.rows, POLICY, PERIOD)
    accepted = {tuple(t.sources[0]) for t in got.trace
                if t.rule in ("behaviour.accept", "rating.accept")}
    rejected = {tuple(e["sources"][0]) for e in got.exceptions if e["type"] == "rejection"}
    for sheet in ("Behaviours", "InternalRatings", "RaciRatings"):
        for r in ledger.rows[sheet]:
            key = (sheet, r["row"])
            assert (key in accepted) != (key in rejected), key


@SETTINGS
@given(builder=ledgers(), data=st.data())
def test_evaluating_twice_is_identical(builder, data):
    ledger = builder.build()
    first = evaluate_ledger(ledger.rows, POLICY, PERIOD)
    decided = data.draw(decisions(first.exceptions), label="decisions")
    a = evaluate_ledger(ledger.rows, POLICY, PERIOD, decided)
    b = evaluate_ledger(ledger.rows, POLICY, PERIOD, decided)
    assert a.adjustments == b.adjustments and a.exceptions == b.exceptions
    assert [(t.seq, t.rule, t.sources, t.outcome) for t in a.trace] == \
           [(t.seq, t.rule, t.sources, t.outcome) for t in b.trace]
    # the review items (ids, assignees) do not depend on decisions, so a decision always finds
    # its item (only the PERIPHERAL_NO_RATINGS notices follow the counted ratings)
    assert [(e["review_id"], e["assignee_id"]) for e in a.exceptions if e["type"] == "review"] == \
           [(e["review_id"], e["assignee_id"]) for e in first.exceptions if e["type"] == "review"]
