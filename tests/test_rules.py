"""What only the rules engine has: every rule id of SPEC is a rule, the trace explains every
number, evaluating twice is identical, docs/rules.md is current, and the ratings' integer
arithmetic is exact. (The engine's exact values per rule id and exception kind — SPEC §9's worked
example, one small ledger per rule and kind, the decision semantics — are pinned in
tests/test_reference.py, whose tests run on the reference and on the engine through its `run`
fixture.)"""
from pathlib import Path

from hypothesis import given, settings, strategies as st

from evaluator.evaluate import evaluate_ledger
from rules.books import BOOKS
from rules.exceptions import KINDS
from rules.policy import load_policy
from tests.ledgers import PERIOD, worked_example

DEFAULT = load_policy()


# -- what only the engine has ------------------------------------------------------------------

def test_every_spec_rule_and_kind_is_a_rule():
    ids = {r.rule_id for b in BOOKS for r in b.rules}
    spec_rules = {"linkage.blend", "peripheral.blend", "raci.blend", "interlock.reward",
                  "interlock.penalty", "behaviour.credit", "behaviour.cap"}
    assert spec_rules <= ids
    assert {k.kind for k in KINDS} <= ids


def test_worked_example_trace_explains_every_number():
    got = evaluate_ledger(worked_example().build().rows, DEFAULT, PERIOD, {})
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
    a = evaluate_ledger(rows, DEFAULT, PERIOD, {})
    b = evaluate_ledger(rows, DEFAULT, PERIOD, {})
    assert a.adjustments == b.adjustments
    assert a.exceptions == b.exceptions
    assert [(t.seq, t.rule, t.sources, t.outcome) for t in a.trace] == \
           [(t.seq, t.rule, t.sources, t.outcome) for t in b.trace]


def test_docs_rules_md_is_current():
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
    """rules.ratings computes peers' means and deviations on integer units, its scale growing as
    values with more decimal places come: the same floats as exact Fractions give."""
    from fractions import Fraction
    from rules.ratings import Units
    units = []
    to_units = Units(units)
    for v in values:
        units.append(to_units.of(v))
    scale = to_units.scale
    assert [Fraction(u, scale) for u in units] == [Fraction(v) for v in values]
    peers = sum(units[1:])
    exact_mean = Fraction(peers, scale) / peer_count
    assert peers / (peer_count * scale) == float(exact_mean)
    assert (abs(units[0] * peer_count - peers) / (peer_count * scale)
            == float(abs(Fraction(values[0]) - exact_mean)))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3), st.integers(1, 5)), max_size=60),
       st.integers(1, 7))
def test_repeated_rater_group_sums_are_those_of_a_dict(ratings_drawn, sort_run):
    """rules.ratings._repeated_sums, its keys sorted in runs merged (any run length): for each
    (rater, group) rated more than once, the sum of its scores and how many — what a dict of
    every pair counts, less the pairs rated once."""
    from array import array
    from unittest import mock
    import rules.ratings as ratings
    keys = array("q", (rater << ratings.GROUP_BITS | group for rater, group, _ in ratings_drawn))
    scores = [score for _, _, score in ratings_drawn]
    every: dict[int, tuple[int, int]] = {}
    for k, s in zip(keys, scores):
        total, n = every.get(k, (0, 0))
        every[k] = (total + s, n + 1)
    with mock.patch.object(ratings, "SORT_RUN", sort_run):
        assert ratings._repeated_sums(keys, scores) == {k: v for k, v in every.items()
                                                         if v[1] > 1}


def test_raters_are_numbered_by_their_row_or_as_first_met():
    """A rater's number (rules.ratings._numbering): its row's place when the employees are
    held by column (nothing kept), else the order ids are first met; None for no employee."""
    from importers.columns import ColumnRows, rows_by
    from rules.ratings import _numbering
    people = [{"row": 2, "employee_id": "E2"}, {"row": 3, "employee_id": "E1"},
              {"row": 4, "employee_id": "E9"}]
    by_column = _numbering(rows_by(ColumnRows(("row", "employee_id"), people), "employee_id"))
    assert [by_column(e) for e in ("E9", "E2", "E1", "E2", "X")] == [2, 0, 1, 0, None]
    by_dict = _numbering(rows_by(people, "employee_id"))
    assert [by_dict(e) for e in ("E9", "E2", "E1", "E2")] == [0, 1, 2, 1]
