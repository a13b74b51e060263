"""The rules engine against the plain-Python reference (tests/reference.py) on hundreds of random
ledgers: the same adjustments to the cent, in the same order, with the same sources, and the
same exceptions (ids, kinds, subjects, assignees, statuses, sources) — before and after random
decisions."""
from hypothesis import HealthCheck, given, settings, strategies as st

from evaluator.evaluate import evaluate_ledger
from rules.policy import load_policy, policy_from_mapping
from tests.ledgers import PERIOD, random_decisions, random_ledger
from tests.reference import reference_evaluate

POLICY = load_policy()
NO_HOLD = policy_from_mapping({"review": {"hold_pending": False},
                               "interlock": {"symmetry": "both"}})

ADJ_FIELDS = ("subject_type", "subject_id", "mechanism", "rule", "points", "sources")
EXC_FIELDS = ("review_id", "kind", "type", "subject_id", "assignee_id", "status", "sources")


def _adj(items):
    return [tuple((k, tuple(a[k]) if k == "sources" else a[k]) for k in ADJ_FIELDS) for a in items]


def _exc(items):
    return [tuple((k, tuple(e[k]) if k == "sources" else e[k]) for k in EXC_FIELDS) for e in items]


def _compare(ledger, policy, decisions):
    ref = reference_evaluate(ledger, policy, PERIOD, decisions)
    got = evaluate_ledger(ledger.rows, policy, PERIOD, decisions)
    assert _adj(got.adjustments) == _adj(ref.adjustments)
    assert _exc(got.exceptions) == _exc(ref.exceptions)
    for dept_id, d in ref.departments.items():
        assert got.departments[dept_id]["final"] == d["final"]
        assert got.departments[dept_id]["by_mechanism"] == d["by_mechanism"]
    for emp_id, e in ref.employees.items():
        assert got.employees[emp_id]["final"] == e["final"]
        assert got.employees[emp_id]["behaviour"] == e["behaviour"]
    return ref, got


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**9), size=st.integers(1, 4), decide=st.integers(0, 10**6))
def test_engine_agrees_with_reference(seed, size, decide):
    ledger = random_ledger(seed, size).build()
    ref, _ = _compare(ledger, POLICY, {})
    decisions = random_decisions(ref.exceptions, decide)
    _compare(ledger, POLICY, decisions)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**9), size=st.integers(1, 3), decide=st.integers(0, 10**6))
def test_engine_agrees_with_reference_other_policy(seed, size, decide):
    ledger = random_ledger(seed, size).build()
    ref, _ = _compare(ledger, NO_HOLD, {})
    _compare(ledger, NO_HOLD, random_decisions(ref.exceptions, decide))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**9))
def test_exception_counts_per_kind_agree(seed):
    from collections import Counter
    ledger = random_ledger(seed, 3).build()
    ref = reference_evaluate(ledger, POLICY, PERIOD, {})
    got = evaluate_ledger(ledger.rows, POLICY, PERIOD, {})
    assert Counter(e["kind"] for e in got.exceptions) == Counter(e["kind"] for e in ref.exceptions)
