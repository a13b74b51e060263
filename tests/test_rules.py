"""The rules engine pinned with exact values: every test of tests/test_reference.py (SPEC §9's
worked example, one small ledger per rule id and per exception kind, rows carrying several
rejections, the decision semantics) runs again here with the durable_rules evaluation in place
of the reference. Plus what only the engine has: the trace and the reconciliation."""
import functools
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

import tests.test_reference as reference_tests
from evaluator.evaluate import evaluate_ledger
from rules.books import BOOKS
from rules.exceptions import KINDS
from rules.policy import policy_from_mapping
from tests.ledgers import PERIOD, worked_example

REFERENCE_ADJ_KEYS = ("subject_type", "subject_id", "mechanism", "rule", "points", "sources")
REFERENCE_EXC_KEYS = ("review_id", "kind", "type", "subject_id", "assignee_id", "status", "sources")


@dataclass
class EngineResult:
    """The engine's result in the reference result's shape (tests/reference.py)."""
    period: str
    adjustments: list = field(default_factory=list)
    exceptions: list = field(default_factory=list)
    departments: dict = field(default_factory=dict)
    employees: dict = field(default_factory=dict)

    def exceptions_of(self, kind):
        return [e for e in self.exceptions if e["kind"] == kind]

    def adjustments_of(self, rule):
        return [a for a in self.adjustments if a["rule"] == rule]

    def exception(self, review_id_):
        return next(e for e in self.exceptions if e["review_id"] == review_id_)


def engine_run(builder, decisions=None, **overrides):
    policy = policy_from_mapping(overrides) if overrides else reference_tests.DEFAULT
    got = evaluate_ledger(builder.build().rows, policy, PERIOD, decisions)
    return EngineResult(
        PERIOD,
        [{k: a[k] for k in REFERENCE_ADJ_KEYS} for a in got.adjustments],
        [{k: e[k] for k in REFERENCE_EXC_KEYS} for e in got.exceptions],
        {d: {k: v for k, v in x.items()} for d, x in got.departments.items()},
        {e: {k: v for k, v in x.items()} for e, x in got.employees.items()})


def _on_engine(test):
    @functools.wraps(test)
    def variant(*args, **kwargs):
        saved = reference_tests.run
        reference_tests.run = engine_run
        try:
            return test(*args, **kwargs)
        finally:
            reference_tests.run = saved
    return variant


# Tests of the reference's own machinery, not of SPEC's outcomes.
_REFERENCE_ONLY = {"test_assignee_helpers_agree_with_reference"}

for _name, _fn in list(vars(reference_tests).items()):
    if _name.startswith("test_") and callable(_fn) and _name not in _REFERENCE_ONLY:
        globals()[f"{_name}__engine"] = _on_engine(_fn)


# -- what only the engine has ------------------------------------------------------------------

def test_every_spec_rule_and_kind_is_a_rule():
    ids = {r.rule_id for b in BOOKS for r in b.rules}
    spec_rules = {"linkage.blend", "peripheral.blend", "raci.blend", "interlock.reward",
                  "interlock.penalty", "behaviour.credit", "behaviour.cap"}
    assert spec_rules <= ids
    assert {k.kind for k in KINDS} <= ids


def test_worked_example_trace_explains_every_number():
    got = evaluate_ledger(worked_example().build().rows, reference_tests.DEFAULT, PERIOD, {})
    by_seq = {t.seq: t for t in got.trace}
    assert [t.seq for t in got.trace] == sorted(by_seq)
    for a in got.adjustments:
        firing = by_seq[a["firing_seq"]]
        assert firing.rule == a["rule"]
        assert firing.outcome["outcomes"][0]["points"] == str(a["points"])
        assert firing.sources == a["sources"]
    d3_linkage = [a["explanation"] for a in got.adjustments if a["rule"] == "linkage.blend"]
    assert d3_linkage == ["K1 C=1.1 at high: 0.2027 × (110 − 70)",
                          "K2 C=1.25 at medium: 0.0973 × (125 − 70)"]
    rules = [t.rule for t in got.trace]
    assert rules.count("rating.hold") == 1 and rules.count("rating.count") == 3
    assert got.counts["firings"] == len(got.trace)


def test_evaluating_twice_gives_identical_output():
    rows = worked_example().build().rows
    a = evaluate_ledger(rows, reference_tests.DEFAULT, PERIOD, {})
    b = evaluate_ledger(rows, reference_tests.DEFAULT, PERIOD, {})
    assert a.adjustments == b.adjustments
    assert a.exceptions == b.exceptions
    assert [(t.seq, t.rule, t.sources, t.outcome) for t in a.trace] == \
           [(t.seq, t.rule, t.sources, t.outcome) for t in b.trace]


def test_docs_rules_md_is_current():
    from pathlib import Path
    from rules.books import rules_markdown
    doc = Path(__file__).resolve().parent.parent / "docs" / "rules.md"
    assert doc.read_text("utf-8") == rules_markdown(), \
        "regenerate: python -c \"from rules.books import rules_markdown; " \
        "open('docs/rules.md','w').write(rules_markdown())\""


@settings(max_examples=300, deadline=None)
@given(st.lists(st.decimals(min_value=1, max_value=5, allow_nan=False, allow_infinity=False),
                min_size=2, max_size=40),
       st.integers(1, 39))
def test_rating_peer_arithmetic_in_units_is_exact(values, peer_count):
    """rules.ratings computes peers' means and deviations on integer units: the same floats as
    exact Fractions give."""
    from fractions import Fraction
    from rules.ratings import _units
    units, scale = _units(values)
    assert [Fraction(u, scale) for u in units] == [Fraction(v) for v in values]
    peers = sum(units[1:])
    exact_mean = Fraction(peers, scale) / peer_count
    assert peers / (peer_count * scale) == float(exact_mean)
    assert (abs(units[0] * peer_count - peers) / (peer_count * scale)
            == float(abs(Fraction(values[0]) - exact_mean)))
