"""SPEC §5 pinned with exact values: the worked example of §9, one small ledger per rule id and
per exception kind, rows carrying several rejections, the review and decision semantics — each
test run twice through the `run` fixture, on the plain-Python reference (tests/reference.py) and
on the durable_rules evaluation (evaluator.evaluate). Then properties that must hold on any
ledger (statements add up, order, ids), on the reference."""
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from evaluator.evaluate import evaluate_ledger
from importers.spooled import close_spooled
from rules import exceptions as rx
from rules.policy import load_policy, policy_from_mapping
from tests.ledgers import (PERIOD, random_decisions, random_ledger, results_on_files,
                           small_company, spooled, worked_example)
from tests.reference import MECHANISM_ORDER, SHEET_ORDER, reference_evaluate

D = Decimal
DEFAULT = load_policy()


def reference_run(builder, decisions=None, **overrides):
    """The reference's result for the builder's ledger (policy overrides as TOML sections)."""
    policy = policy_from_mapping(overrides) if overrides else DEFAULT
    return reference_evaluate(builder.build(), policy, PERIOD, decisions)


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


REFERENCE_ADJ_KEYS = ("subject_type", "subject_id", "mechanism", "rule", "points", "sources")
REFERENCE_EXC_KEYS = ("review_id", "kind", "type", "subject_id", "assignee_id", "status", "sources")


def engine_run(builder, decisions=None, **overrides):
    """The durable_rules evaluation (evaluator.evaluate) of the same ledger, in that shape."""
    policy = policy_from_mapping(overrides) if overrides else DEFAULT
    return _shaped(evaluate_ledger(builder.build().rows, policy, PERIOD, decisions))


def _shaped(got) -> EngineResult:
    return EngineResult(
        PERIOD,
        [{k: a[k] for k in REFERENCE_ADJ_KEYS} for a in got.adjustments],
        [{k: e[k] for k in REFERENCE_EXC_KEYS} for e in got.exceptions],
        {d: dict(x) for d, x in got.departments.items()},
        {e: dict(x) for e, x in got.employees.items()})


def spooled_run(builder, decisions=None, **overrides):
    """The engine again, its transaction sheets read from files as evaluate_period hands them
    (tests.ledgers.spooled): each rating sheet read twice, in order, never held; its results
    kept on files two at a time (tests.ledgers.results_on_files)."""
    policy = policy_from_mapping(overrides) if overrides else DEFAULT
    rows = spooled(builder.build().rows)
    try:
        with results_on_files(2):
            return _shaped(evaluate_ledger(rows, policy, PERIOD, decisions))
    finally:
        close_spooled(rows)


@pytest.fixture(params=[reference_run, engine_run, spooled_run],
                ids=["reference", "engine", "spooled"])
def run(request):
    """The evaluation a test pins: every test that takes `run` runs three times, on the
    reference, on the engine, and on the engine reading its big sheets from files; each must
    give its exact values."""
    return request.param


def rid(kind, *parts):
    return rx.review_id(PERIOD, kind, parts)


def adj(result, mechanism=None):
    return [(a["subject_id"], a["rule"], str(a["points"])) for a in result.adjustments
            if mechanism is None or a["mechanism"] == mechanism]


def exc(result, *kinds, notices=False):
    """(kind, subject, assignee, status, sources) — without the PERIPHERAL_NO_RATINGS notices of
    the small company's unrated departments, unless asked."""
    return [(e["kind"], e["subject_id"], e["assignee_id"], e["status"], e["sources"])
            for e in result.exceptions
            if (not kinds or e["kind"] in kinds)
            and (notices or e["kind"] != "PERIPHERAL_NO_RATINGS")]


# -- SPEC §9 ----------------------------------------------------------------------------------------

def test_worked_example_gives_82_41(run):
    result = run(worked_example())
    d3 = result.departments["D3"]
    assert d3["final"] == D("82.41")
    assert d3["by_mechanism"] == {"linkage": D("13.46"), "peripheral": D("2.25"),
                                  "raci": D("-1.50"), "interlock": D("-1.80")}
    assert adj(result) == [
        ("D3", "linkage.blend", "8.11"), ("D3", "linkage.blend", "5.35"),
        ("D3", "peripheral.blend", "2.25"), ("D3", "raci.blend", "-1.50"),
        ("D1", "interlock.penalty", "-4.20"), ("D3", "interlock.penalty", "-1.80")]
    assert result.adjustments[2]["sources"] == [("Departments", 3), ("InternalRatings", 2),
                                                ("InternalRatings", 3), ("ServiceMetrics", 2)]
    assert result.exceptions == [
        {"review_id": rid("RATING_EXTREME", "InternalRatings", "R3"), "kind": "RATING_EXTREME",
         "type": "review", "subject_id": "D3", "assignee_id": "E1", "status": "open",
         "sources": [("InternalRatings", 4)]},
        {"review_id": rid("INTERLOCK_MISSED", "M1", "D1"), "kind": "INTERLOCK_MISSED",
         "type": "review", "subject_id": "D1", "assignee_id": "E1", "status": "open",
         "sources": [("Interlocks", 2), ("InterlockParties", 2)]},
        {"review_id": rid("INTERLOCK_MISSED", "M1", "D3"), "kind": "INTERLOCK_MISSED",
         "type": "review", "subject_id": "D3", "assignee_id": "E30", "status": "open",
         "sources": [("Interlocks", 2), ("InterlockParties", 3)]},
    ]
    assert result.departments["D1"]["final"] == D("75.80")


def test_worked_example_confirmed_extreme_rating_counts_again(run):
    extreme = rid("RATING_EXTREME", "InternalRatings", "R3")
    confirmed = run(worked_example(), {extreme: "confirm"})
    # ratings 4, 4, 5 → R = 86.67; P = (86.67 + 90) / 2 = 88.33; 0.15 × 18.33 = 2.75
    assert confirmed.departments["D3"]["by_mechanism"]["peripheral"] == D("2.75")
    assert confirmed.departments["D3"]["final"] == D("82.91")
    assert confirmed.exception(extreme)["status"] == "confirmed"
    overturned = run(worked_example(), {extreme: "overturn"})
    assert overturned.departments["D3"]["final"] == D("82.41")
    assert overturned.exception(extreme)["status"] == "overturned"


def test_worked_example_without_hold_pending_counts_the_open_review(run):
    result = run(worked_example(), review={"hold_pending": False})
    assert result.departments["D3"]["by_mechanism"]["peripheral"] == D("2.75")
    assert exc(result, "RATING_EXTREME")[0][3] == "open"


# -- §5.3 linkage -----------------------------------------------------------------------------------

@pytest.mark.parametrize("target, actual, direction, points", [
    (100, 200, None, "22.50"),         # C = 2 clamped to coefficient_cap 1.5: 0.25 × (150 − 60)
    (100, 0, "lower", "22.50"),        # lower, actual 0 → coefficient_cap
    (50, 40, "lower", "16.25"),        # C = 1.25: 0.25 × (125 − 60)
    (100, 10, None, "-12.50"),         # C = 0.1 (floor 0): 0.25 × (10 − 60)
    (100, 60, None, "0.00"),           # a blend is emitted even at 0.00
])
def test_linkage_blend_coefficient(run, target, actual, direction, points):
    b = small_company()
    b.kpi("K1", target, actual, direction=direction)
    b.link("B", "K1", "high")
    assert adj(run(b), "linkage") == [("B", "linkage.blend", points)]


def test_linkage_coefficient_floor_from_policy(run):
    b = small_company()
    b.kpi("K1", 100, 10)
    b.link("B", "K1", "high")
    result = run(b, linkage={"coefficient_floor": D("0.5")})
    assert adj(result, "linkage") == [("B", "linkage.blend", "-2.50")]    # 0.25 × (50 − 60)


def test_linkage_weights_are_scaled_only_above_total_cap(run):
    b = small_company()
    b.kpi("K1", 100, 110)
    b.kpi("K2", 100, 90)
    b.kpi("K3", 100, 100)
    b.link("B", "K1", "high")           # 0.25 + 0.03 = 0.28 ≤ 0.30: unscaled
    b.link("B", "K2", "low")
    b.link("M", "K1", "high")           # 3 × 0.25 = 0.75 > 0.30: each scaled to 0.10
    b.link("M", "K2", "high")
    b.link("M", "K3", "high")
    assert adj(run(b), "linkage") == [
        ("B", "linkage.blend", "12.50"),    # 0.25 × (110 − 60)
        ("B", "linkage.blend", "0.90"),     # 0.03 × (90 − 60)
        ("M", "linkage.blend", "4.00"),     # 0.10 × (110 − 70)
        ("M", "linkage.blend", "2.00"),
        ("M", "linkage.blend", "3.00")]
    assert run(b).adjustments[0]["sources"] == [("Linkage", 2), ("CompanyKPIs", 2),
                                                ("Departments", 4)]


# -- §5.4 peripheral, §5.5 RACI -----------------------------------------------------------------------

def test_peripheral_blend_with_service_metrics_rounds_half_up(run):
    b = small_company()
    b.rating("R1", "F2", "M", 4)
    b.rating("R2", "F3", "M", 4, dimension="专业能力")
    b.metric("M", "ticket_sla", "0.9")
    b.metric("M", "milestone", "0.8")       # "80%" in the workbook
    result = run(b)
    # R = 80, O = 85, P = 82.5; 0.15 × (82.5 − 70) = 1.875 → 1.88
    assert adj(result, "peripheral") == [("M", "peripheral.blend", "1.88")]
    assert result.adjustments[0]["sources"] == [("Departments", 3), ("InternalRatings", 2),
                                                ("InternalRatings", 3), ("ServiceMetrics", 2),
                                                ("ServiceMetrics", 3)]


def test_peripheral_without_service_metrics_is_the_rating_alone_and_zero_is_emitted(run):
    b = small_company()
    b.rating("R1", "F2", "M", 4)
    b.rating("R2", "F3", "M", 3)
    result = run(b)
    assert adj(result, "peripheral") == [("M", "peripheral.blend", "0.00")]   # R = 70 = base
    result = run(b, peripheral={"objective_share": D("0.2")})
    assert adj(result, "peripheral") == [("M", "peripheral.blend", "0.00")]   # no metrics: P = R


def test_peripheral_no_ratings_notice_for_middle_and_back_only(run):
    b = small_company()
    b.rating("R1", "F2", "M", 4)
    b.rating("R2", "F3", "B", 5)            # held (RATING_EXTREME): B has no counted rating
    result = run(b)
    assert exc(result, "PERIPHERAL_NO_RATINGS", notices=True) == [
        ("PERIPHERAL_NO_RATINGS", "B", "HR", "open", [("Departments", 4)])]
    assert result.exceptions_of("PERIPHERAL_NO_RATINGS")[0]["type"] == "rejection"
    assert result.exceptions_of("PERIPHERAL_NO_RATINGS")[0]["review_id"] == \
        rid("PERIPHERAL_NO_RATINGS", "B")
    assert adj(result, "peripheral") == [("M", "peripheral.blend", "1.50")]    # 0.15 × (80 − 70)


def test_raci_blend_and_no_notice_without_ratings(run):
    b = small_company()
    b.raci("Q1", "P1", "F2", "B", 4)
    b.raci("Q2", "P1", "F3", "B", 3, role="C")          # raci_role weights nothing
    result = run(b)
    assert adj(result, "raci") == [("B", "raci.blend", "1.50")]                # 0.15 × (70 − 60)
    assert result.adjustments[0]["sources"] == [("Departments", 4), ("RaciRatings", 2),
                                                ("RaciRatings", 3)]
    assert [e for e in result.exceptions if e["subject_id"] == "M" and "RACI" in e["kind"]] == []


# -- §5.2 rating rejections --------------------------------------------------------------------------

@pytest.mark.parametrize("sheet, row_args, kinds", [
    ("InternalRatings", ("X9", "B"), ["RATING_UNKNOWN_REF"]),
    ("InternalRatings", ("F2", "D9"), ["RATING_UNKNOWN_REF"]),
    ("InternalRatings", ("X9", "F"), ["RATING_UNKNOWN_REF", "RATING_NOT_SUPPORT"]),
    ("InternalRatings", ("B2", "B"), ["RATING_SELF"]),
    ("InternalRatings", ("M2", "F"), ["RATING_NOT_SUPPORT"]),
    ("InternalRatings", ("F2", "F"), ["RATING_SELF", "RATING_NOT_SUPPORT"]),
    ("RaciRatings", ("F2", "B", "P9"), ["RATING_UNKNOWN_REF"]),
    ("RaciRatings", ("X9", "B", "P1"), ["RATING_UNKNOWN_REF"]),
    ("RaciRatings", ("X9", "F", "P1"), ["RATING_UNKNOWN_REF", "RACI_REVERSE"]),
    ("RaciRatings", ("M2", "B", "P1"), ["RACI_REVERSE"]),           # back office may not rate …
    ("RaciRatings", ("F2", "M", "P1"), []),
    ("RaciRatings", ("B2", "F", "P1"), ["RACI_REVERSE"]),           # … and never the front
    ("RaciRatings", ("F2", "F", "P1"), ["RATING_SELF", "RACI_REVERSE"]),
    ("RaciRatings", ("B2", "B", "P1"), ["RATING_SELF", "RACI_REVERSE"]),
])
def test_rating_rejections(run, sheet, row_args, kinds):
    b = small_company()
    if sheet == "InternalRatings":
        rater, ratee = row_args
        b.rating("R1", rater, ratee, 4)
    else:
        rater, ratee, project = row_args
        b.raci("R1", project, rater, ratee, 4)
    result = run(b)
    got = [e for e in result.exceptions if e["kind"] != "PERIPHERAL_NO_RATINGS"]
    assert [e["kind"] for e in got] == kinds
    for e in got:
        assert (e["type"], e["assignee_id"], e["status"], e["subject_id"]) == \
            ("rejection", "HR", "open", ratee)
        assert e["sources"] == [(sheet, 2)]
        assert e["review_id"] == rid(e["kind"], sheet, "R1")
    if kinds:
        assert adj(result, "peripheral") == [] and adj(result, "raci") == []


# -- §5.2 rating reviews -----------------------------------------------------------------------------

@pytest.mark.parametrize("score, comment, kinds", [
    (1, "态度差", ["RATING_EXTREME"]),
    (1, None, ["RATING_EXTREME", "RATING_LOW_NO_COMMENT"]),
    (5, None, ["RATING_EXTREME"]),
    (2, None, ["RATING_LOW_NO_COMMENT"]),
    (2, "   ", ["RATING_LOW_NO_COMMENT"]),
    (2, "多次延误", []),
    ("2.5", None, []),
    ("4.5", None, []),
])
def test_extreme_and_low_without_comment(run, score, comment, kinds):
    b = small_company()
    b.rating("R1", "F4", "B", score, comment=comment)
    result = run(b)
    assert exc(result) == [(k, "B", "F1", "open", [("InternalRatings", 2)]) for k in kinds]


def test_outlier_against_other_raters_on_the_same_dimension(run):
    b = small_company()
    b.rating("R1", "F2", "B", 4, dimension="Speed")
    b.rating("R2", "F3", "B", 4, dimension=" speed ")          # same dimension after folding
    b.rating("R3", "F4", "B", 2, dimension="SPEED", comment="慢")
    b.rating("R4", "F4", "B", 4, dimension="专业能力")           # another dimension: no peers
    b.rating("R5", "B2", "B", 5, dimension="speed")            # rejected (self): no peer
    result = run(b)
    # R3: peers R1, R2 (mean 4) → |2 − 4| = 2 ≥ 2. R1: peers R2, R3 (mean 3) → 1. R2 likewise.
    assert exc(result, "RATING_OUTLIER") == [
        ("RATING_OUTLIER", "B", "F1", "open", [("InternalRatings", 4)])]


def test_outlier_when_scores_gain_decimal_places_as_they_come(run):
    """The peers' figures are exact whatever order the decimal places come in (the engine keeps
    scores in units of a scale that grows as they come: 1, then 10 at 4.5, then 1000)."""
    b = small_company()
    b.rating("R1", "F2", "B", 4)
    b.rating("R2", "F3", "B", "4.5")
    b.rating("R3", "F4", "B", "2.25", comment="慢")
    # R3: peers 4 and 4.5, mean 4.25 → |2.25 − 4.25| = 2 ≥ 2.
    # R1: peers 4.5 and 2.25, mean 3.375 → 0.625. R2: peers 4 and 2.25, mean 3.125 → 1.375.
    assert exc(run(b), "RATING_OUTLIER") == [
        ("RATING_OUTLIER", "B", "F1", "open", [("InternalRatings", 4)])]
    b.rating("R4", "F1", "B", "4.125")
    # R3: peers 4, 4.5 and 4.125, mean 4.208333… → 1.958333… < 2: no longer an outlier.
    # R4: peers 4, 4.5 and 2.25, mean 3.583333… → 0.541666….
    assert exc(run(b), "RATING_OUTLIER") == []


def test_outlier_leaves_out_every_rating_of_its_own_rater(run):
    """A rater who rated the same department and dimension twice is not a peer of either of
    those ratings (the engine finds such repeated (rater, group) pairs by sorting)."""
    b = small_company()
    b.rating("R1", "F2", "B", "4.5")
    b.rating("R2", "F2", "B", "4.5")
    b.rating("R3", "F3", "B", "2.5")
    b.rating("R4", "F4", "B", "2.5")
    # R1, R2: peers R3, R4 (mean 2.5) → 2 ≥ 2; with R2 counted as R1's peer it would be
    # |4.5 − 3.1666…| = 1.33…. R3, R4: peers 4.5, 4.5, 2.5 (mean 3.833…) → 1.33….
    assert exc(run(b), "RATING_OUTLIER") == [
        ("RATING_OUTLIER", "B", "F1", "open", [("InternalRatings", 2)]),
        ("RATING_OUTLIER", "B", "F1", "open", [("InternalRatings", 3)])]


def test_outlier_needs_min_peers_of_other_raters(run):
    b = small_company()
    b.rating("R1", "F2", "B", 4)
    b.rating("R2", "F2", "B", 4)            # the same rater twice is one other rater's …
    b.rating("R3", "F3", "B", 2, comment="慢")
    # R3 has 2 peer ratings (both by F2): at least outlier_min_peers *ratings* by other raters
    assert [e[4] for e in exc(run(b), "RATING_OUTLIER")] == [[("InternalRatings", 4)]]
    b = small_company()
    b.rating("R1", "F2", "B", 4)
    b.rating("R3", "F3", "B", 2, comment="慢")
    assert exc(run(b), "RATING_OUTLIER") == []
    assert len(exc(run(b, review={"outlier_min_peers": 1}), "RATING_OUTLIER")) == 2


def test_mutual_low_flags_every_low_rating_on_both_sides(run):
    b = small_company()
    b.rating("R1", "M2", "B", 2, comment="响应慢")
    b.rating("R2", "B2", "M", 2, comment="需求不清")
    b.rating("R3", "B1", "M", "1.5", comment="需求反复")
    b.rating("R4", "B2", "M", 3)                       # not low: not flagged
    result = run(b)
    assert exc(result, "RATING_MUTUAL_LOW") == [
        ("RATING_MUTUAL_LOW", "B", "M1", "open",
         [("InternalRatings", 2), ("InternalRatings", 3), ("InternalRatings", 4)]),
        ("RATING_MUTUAL_LOW", "M", "B1", "open", [("InternalRatings", 3), ("InternalRatings", 2)]),
        ("RATING_MUTUAL_LOW", "M", "C0", "open", [("InternalRatings", 4), ("InternalRatings", 2)]),
    ]
    # R1's rater M2 → M1 (in B? no: M1 is outside B). R2's rater B2 → B1; R3's rater B1 → C0.


def test_mutual_low_needs_both_sides_low(run):
    b = small_company()
    b.rating("R1", "M2", "B", 2, comment="响应慢")
    b.rating("R2", "B2", "M", 3)
    assert exc(run(b), "RATING_MUTUAL_LOW") == []


def test_a_rating_counts_only_when_every_review_is_confirmed(run):
    b = small_company()
    b.rating("R1", "F2", "B", 4)
    b.rating("R2", "F4", "B", 1)            # RATING_EXTREME and RATING_LOW_NO_COMMENT
    extreme = rid("RATING_EXTREME", "InternalRatings", "R2")
    low = rid("RATING_LOW_NO_COMMENT", "InternalRatings", "R2")
    held = adj(run(b), "peripheral")
    assert held == [("B", "peripheral.blend", "3.00")]                      # 0.15 × (80 − 60)
    assert adj(run(b, {extreme: "confirm"}), "peripheral") == held          # one still open
    both = run(b, {extreme: "confirm", low: "confirm"})
    assert adj(both, "peripheral") == [("B", "peripheral.blend", "-1.50")]  # mean 2.5 → 50
    assert adj(run(b, {extreme: "confirm", low: "overturn"}), "peripheral") == held
    assert adj(run(b, {extreme: "overturn"}, review={"hold_pending": False}), "peripheral") == held
    assert adj(run(b, {}, review={"hold_pending": False}), "peripheral") == \
        [("B", "peripheral.blend", "-1.50")]


def test_decisions_on_rejections_are_ignored(run):
    b = small_company()
    b.rating("R1", "B2", "B", 4)
    self_rating = rid("RATING_SELF", "InternalRatings", "R1")
    result = run(b, {self_rating: "confirm"})
    assert result.exception(self_rating)["status"] == "open"
    assert adj(result, "peripheral") == []


# -- assignees (§5) ------------------------------------------------------------------------------------

def test_rating_review_goes_past_a_manager_in_the_rated_department(run):
    b = small_company()
    b.emp("F5", "F", manager="B2")           # a front-office rater managed from within B
    b.emp("F6", "F")                          # a rater at the top of a chain
    b.rating("R1", "F5", "B", 5)
    b.rating("R2", "F6", "B", 5)
    b.rating("R3", "F4", "B", 5)
    assert [(e[2], e[4]) for e in exc(run(b), "RATING_EXTREME")] == [
        ("C0", [("InternalRatings", 2)]),     # F5 → B2 (in B) → B1 (in B) → C0
        ("HR", [("InternalRatings", 3)]),     # F6 has no manager
        ("F1", [("InternalRatings", 4)])]


def test_post_mortem_goes_to_the_party_manager_or_hr(run):
    b = small_company()
    b.dept("N", tier="middle", base=70)      # no manager
    b.interlock("M1", 100, 85, 6, 6)
    b.party("M1", "F", "0.5")
    b.party("M1", "N", "0.5")
    assert [(e[1], e[2]) for e in exc(run(b), "INTERLOCK_MISSED")] == [("F", "F1"), ("N", "HR")]


# -- §5.6 interlocks -------------------------------------------------------------------------------------

def interlocked(target, actual, bonus=6, penalty=6, weights=("0.5", "0.5"), depts=("B", "F"),
                direction=None, severe=None):
    b = small_company()
    b.interlock("M1", target, actual, bonus, penalty, direction=direction, severe=severe)
    for dept, weight in zip(depts, weights):
        b.party("M1", dept, weight)
    return b


def test_interlock_reward_when_achieved(run):
    result = run(interlocked(100, 100, weights=("0.7", "0.3")))
    assert adj(result, "interlock") == [("B", "interlock.reward", "4.20"),
                                        ("F", "interlock.reward", "1.80")]
    assert result.adjustments[0]["sources"] == [("Interlocks", 2), ("InterlockParties", 2)]
    assert exc(result, "INTERLOCK_MISSED") == []


def test_interlock_lower_with_actual_zero_is_achieved(run):
    # a = +∞: the linear reward stops at the cap, 6 × 0.5 × 1.2 = 3.60; flat: 6 × 0.5 = 3.00
    assert adj(run(interlocked(10, 0, direction="lower")), "interlock") == [
        ("B", "interlock.reward", "3.60"), ("F", "interlock.reward", "3.60")]
    assert adj(run(interlocked(10, 0, direction="lower"), interlock={"reward_scale": "flat"}),
               "interlock") == [("B", "interlock.reward", "3.00"),
                                ("F", "interlock.reward", "3.00")]


@pytest.mark.parametrize("target, actual, direction, overrides, points", [
    # SPEC §11.8: bonus × w × min(a, reward_cap), bonus 6, w 0.5
    (100, 100, None, {}, "3.00"),                        # a = 1: 6 × 0.5 × 1
    (100, 110, None, {}, "3.30"),                        # a = 1.1: 6 × 0.5 × 1.1
    (100, 150, None, {}, "3.60"),                        # a = 1.5, capped at 1.2
    (110, 100, "lower", {}, "3.30"),                     # lower: a = 110/100 = 1.1
    (100, 150, None, {"reward_cap": D("1.5")}, "4.50"),     # 6 × 0.5 × 1.5
    (100, 150, None, {"reward_cap": D("1")}, "3.00"),       # a cap of 1 is the flat reward
    (100, 150, None, {"reward_scale": "flat"}, "3.00"),
    (100, 107, None, {}, "3.21"),                        # 6 × 0.5 × 1.07 = 3.21
    (300, 301, None, {}, "3.01"),                        # 3 × 301/300 = 3.01 exactly
    (100, "99.9999999995", None, {}, "3.00"),            # a within 1e-9 of 1: achieved,
])                                                       # 3 × 0.999999999995 = 2.999… → 3.00
def test_interlock_reward_grows_with_achievement(run, target, actual, direction, overrides,
                                                 points):
    result = run(interlocked(target, actual, direction=direction),
                 **({"interlock": overrides} if overrides else {}))
    assert adj(result, "interlock") == [("B", "interlock.reward", points),
                                        ("F", "interlock.reward", points)]


def test_interlock_linear_reward_rounds_once(run):
    # bonus 5, weights 0.333/0.667, a = 107/100: 5 × 0.333 × 1.07 = 1.78155 → 1.78 and
    # 5 × 0.667 × 1.07 = 3.56845 → 3.57 (rounded once, half-up)
    result = run(interlocked(100, 107, bonus=5, penalty=5, weights=("0.333", "0.667")))
    assert adj(result, "interlock") == [("B", "interlock.reward", "1.78"),
                                        ("F", "interlock.reward", "3.57")]


def test_interlock_weight_zero_party_gets_a_zero_reward_and_the_post_mortem(run):
    # a = 1.2 = the cap: 6 × 0.5 × 1.2 = 3.60; the weight-0 party 0.00
    b = interlocked(100, 120, weights=("0.5", "0.5", "0"), depts=("B", "F", "M"))
    assert adj(run(b), "interlock") == [("B", "interlock.reward", "3.60"),
                                        ("F", "interlock.reward", "3.60"),
                                        ("M", "interlock.reward", "0.00")]
    b = interlocked(100, 50, weights=("0.5", "0.5", "0"), depts=("B", "F", "M"))
    assert [e[1] for e in exc(run(b), "INTERLOCK_MISSED")] == ["B", "F", "M"]


@pytest.mark.parametrize("target, actual, direction, severe, penalised", [
    (100, 85, None, None, False),                   # a mild miss: post-mortem only
    (100, 75, None, None, True),                    # severe: 0.75 < 0.8
    ("0.875", "0.7", None, None, False),            # 0.7/0.875 is exactly 0.8: not below it
    (100, "79.99999999999", None, None, False),     # within 1e-9 of 0.8
    (100, "79.99", None, None, True),
    (100, 85, None, "0.9", True),                   # the row's own severe_miss_ratio
    (80, 100, "lower", None, False),                # lower: 80/100 = 0.8
    (70, 100, "lower", None, True),
])
def test_interlock_miss_and_severe_miss(run, target, actual, direction, severe, penalised):
    result = run(interlocked(target, actual, direction=direction, severe=severe))
    expected = [("B", "interlock.penalty", "-3.00"), ("F", "interlock.penalty", "-3.00")]
    assert adj(result, "interlock") == (expected if penalised else [])
    assert exc(result, "INTERLOCK_MISSED") == [
        ("INTERLOCK_MISSED", "B", "B1", "open", [("Interlocks", 2), ("InterlockParties", 2)]),
        ("INTERLOCK_MISSED", "F", "F1", "open", [("Interlocks", 2), ("InterlockParties", 3)])]


def test_interlock_missed_decisions_change_no_score(run):
    b = interlocked(100, 75)
    open_ = run(b)
    ids = [e["review_id"] for e in open_.exceptions_of("INTERLOCK_MISSED")]
    for decision in ("confirm", "overturn"):
        decided = run(b, {i: decision for i in ids})
        assert decided.adjustments == open_.adjustments
        assert decided.departments == open_.departments
        assert {e["status"] for e in decided.exceptions_of("INTERLOCK_MISSED")} == \
            {decision + "ed" if decision == "confirm" else "overturned"}


@pytest.mark.parametrize("builder_args, policy, kinds", [
    (dict(weights=("0.6", "0.6")), {}, ["INTERLOCK_WEIGHTS"]),
    (dict(weights=("0.5", "0.499")), {}, []),                       # ±0.001 inclusive
    (dict(weights=("0.5", "0.498")), {}, ["INTERLOCK_WEIGHTS"]),
    (dict(weights=("1", "0")), {}, ["INTERLOCK_PARTIES"]),
    (dict(weights=("1",), depts=("B",)), {}, ["INTERLOCK_PARTIES"]),
    (dict(weights=(), depts=()), {}, ["INTERLOCK_WEIGHTS", "INTERLOCK_PARTIES"]),
    (dict(bonus=6, penalty=3), {}, ["INTERLOCK_ASYMMETRIC"]),
    (dict(bonus=0, penalty=0), {}, []),
    (dict(bonus=6, penalty=3), {"interlock": {"symmetry": "both"}}, []),
    (dict(bonus=6, penalty=0), {"interlock": {"symmetry": "both"}}, ["INTERLOCK_ASYMMETRIC"]),
    (dict(weights=("0.9", "0.9"), bonus=1, penalty=2), {},
     ["INTERLOCK_WEIGHTS", "INTERLOCK_ASYMMETRIC"]),
])
def test_invalid_interlocks(run, builder_args, policy, kinds):
    b = interlocked(100, 50, **builder_args)
    result = run(b, **policy)
    parties = [("InterlockParties", p["row"]) for p in b.rows["InterlockParties"]]
    assert exc(result, "INTERLOCK_WEIGHTS", "INTERLOCK_PARTIES", "INTERLOCK_ASYMMETRIC") == [
        (k, "M1", "HR", "open", [("Interlocks", 2)] + parties) for k in kinds]
    if kinds:          # invalid: nothing applied
        assert adj(result, "interlock") == []
    # a = 50/100 < 1: every party holds the post-mortem, valid metric or not (SPEC §11.8)
    assert [(e[1], e[4]) for e in exc(result, "INTERLOCK_MISSED")] == [
        (p["dept_id"], [("Interlocks", 2), ("InterlockParties", p["row"])])
        for p in sorted(b.rows["InterlockParties"], key=lambda p: p["dept_id"])]
    assert {e["review_id"] for e in result.exceptions_of("INTERLOCK_WEIGHTS")} <= \
        {rid("INTERLOCK_WEIGHTS", "M1")}


def test_too_many_interlocks_is_a_notice_and_valid_metrics_still_apply(run):
    b = small_company()
    for i in range(1, 5):
        b.interlock(f"M{i}", 100, 100, 2, 2 if i < 4 else 1)       # M4 is asymmetric: invalid
        b.party(f"M{i}", "B", "0.5")
        b.party(f"M{i}", "F", "0.5")
    result = run(b)
    assert exc(result, "INTERLOCK_TOO_MANY") == [
        ("INTERLOCK_TOO_MANY", "B", "HR", "open", [("InterlockParties", r) for r in (2, 4, 6, 8)]),
        ("INTERLOCK_TOO_MANY", "F", "HR", "open", [("InterlockParties", r) for r in (3, 5, 7, 9)])]
    assert adj(result, "interlock") == [("B", "interlock.reward", "1.00")] * 3 + \
        [("F", "interlock.reward", "1.00")] * 3
    assert len(exc(run(b, interlock={"max_metrics_per_dept": 4}), "INTERLOCK_TOO_MANY")) == 0


# -- §5.1 behaviours -------------------------------------------------------------------------------------

def test_behaviour_credit_by_code_chinese_name_or_folded_code(run):
    b = small_company()
    b.behaviour("B1", "F2", "LEAD", 2, "F1")
    b.behaviour("B2", "F2", "他部门遇到紧急问题时主动投入资源支援", 1, "C0")   # a level-2 manager
    b.behaviour("B3", "F3", " share ", "1.5", "F2", project="P1")            # the project's lead
    b.behaviour("B4", "F4", "WITHHOLD", "-2.505", "F1")
    result = run(b)
    assert adj(result, "behaviour") == [("F2", "behaviour.credit", "2.00"),
                                        ("F2", "behaviour.credit", "1.00"),
                                        ("F3", "behaviour.credit", "1.50"),
                                        ("F4", "behaviour.credit", "-2.51")]
    assert result.adjustments[0]["sources"] == [("Behaviours", 2)]
    assert exc(result) == []
    assert result.employees["F2"] == {"employee_id": "F2", "base": D(75),
                                      "behaviour": D("3.00"), "final": D("78.00")}
    assert result.employees["F3"]["final"] is None                  # no base, no final
    assert result.employees["F3"]["behaviour"] == D("1.50")


@pytest.mark.parametrize("args, kinds", [
    (dict(employee="X9"), ["BEH_UNKNOWN_REF"]),
    (dict(proposer="X9"), ["BEH_UNKNOWN_REF"]),
    (dict(proposer="HR"), ["BEH_UNKNOWN_REF"]),
    (dict(project="P9"), ["BEH_UNKNOWN_REF"]),
    (dict(project="P9", proposer="F3"), ["BEH_UNKNOWN_REF"]),        # lead unknown: not judged
    (dict(day="2026-10-31"), ["BEH_OUT_OF_PERIOD"]),
    (dict(day="2026-12-01"), ["BEH_OUT_OF_PERIOD"]),
    (dict(day="2026-11-30"), []),
    (dict(code="FLY"), ["BEH_UNKNOWN_CODE"]),
    (dict(points=4), ["BEH_POINTS_RANGE"]),
    (dict(points=0), ["BEH_POINTS_RANGE"]),
    (dict(points=-1), ["BEH_POINTS_RANGE"]),
    (dict(code="WITHHOLD", points=-1), ["BEH_POINTS_RANGE"]),
    (dict(code="FLY", points=99), ["BEH_UNKNOWN_CODE"]),            # no range to judge
    (dict(evidence=None), ["BEH_NO_EVIDENCE"]),
    (dict(evidence="  "), ["BEH_NO_EVIDENCE"]),
    (dict(proposer="F2"), ["BEH_SELF_PROPOSED"]),
    (dict(employee="X9", proposer="X9"), ["BEH_UNKNOWN_REF", "BEH_SELF_PROPOSED"]),
    (dict(proposer="F3"), ["BEH_UNAUTHORIZED"]),                     # a peer
    (dict(proposer="M1"), ["BEH_UNAUTHORIZED"]),                     # another branch's manager
    (dict(proposer="F3", project="P1"), ["BEH_UNAUTHORIZED"]),       # P1's lead is F2
    (dict(proposer="C0", project="P1"), []),                         # above, whatever the project
])
def test_behaviour_rejections(run, args, kinds):
    b = small_company()
    row = dict(employee="F2", code="LEAD", points=2, proposer="F1")
    row.update(args)
    b.behaviour("B1", row.pop("employee"), row.pop("code"), row.pop("points"), row.pop("proposer"),
                **row)
    result = run(b)
    subject = args.get("employee", "F2")
    assert exc(result) == [(k, subject, "HR", "open", [("Behaviours", 2)]) for k in kinds]
    assert [e["review_id"] for e in result.exceptions if e["kind"].startswith("BEH")] == \
        [rid(k, "B1") for k in kinds]
    assert adj(result, "behaviour") == ([] if kinds else [("F2", "behaviour.credit", "2.00")])


def test_a_behaviour_row_carries_every_rejection_it_earns(run):
    b = small_company()
    b.behaviour("B1", "F2", "LEAD", 5, "F3", day="2026-10-01", evidence=None)
    b.behaviour("B2", "F2", "LEAD", 1, "F1")
    result = run(b)
    behaviour_exceptions = [e for e in result.exceptions if e["kind"].startswith("BEH")]
    assert [e["kind"] for e in behaviour_exceptions] == [
        "BEH_OUT_OF_PERIOD", "BEH_POINTS_RANGE", "BEH_NO_EVIDENCE", "BEH_UNAUTHORIZED"]
    assert len({e["review_id"] for e in behaviour_exceptions}) == 4
    assert adj(result, "behaviour") == [("F2", "behaviour.credit", "1.00")]


def test_behaviour_cap_both_ways_and_not_at_the_cap(run):
    b = small_company()
    b.project("P2", "M1")
    for i, (proposer, project) in enumerate([("F1", None), ("C0", None), ("F2", "P1"),
                                             ("M1", "P2")]):
        b.behaviour(f"U{i}", "F3", "LEAD", 3, proposer, project=project)      # T = 12
    for i in range(3):
        b.behaviour(f"D{i}", "F4", "WITHHOLD", -5, "F1")                      # T = −15
    for i, proposer in enumerate(("F1", "C0")):
        b.behaviour(f"E{i}", "M2", "WITHHOLD", -5, "M1" if i == 0 else "C0")  # T = −10
    result = run(b)
    assert adj(result, "behaviour") == [
        ("F3", "behaviour.credit", "3.00")] * 4 + [("F3", "behaviour.cap", "-2.00")] + [
        ("F4", "behaviour.credit", "-5.00")] * 3 + [("F4", "behaviour.cap", "5.00")] + [
        ("M2", "behaviour.credit", "-5.00")] * 2
    cap_rows = result.adjustments_of("behaviour.cap")
    assert cap_rows[0]["sources"] == [("Behaviours", r) for r in (2, 3, 4, 5)]
    assert result.employees["F3"]["behaviour"] == D("10.00")
    assert result.employees["F4"]["behaviour"] == D("-10.00")
    assert result.employees["M2"]["final"] == D("70.00")
    smaller = run(b, behaviour={"cap": 8})
    assert [a["points"] for a in smaller.adjustments_of("behaviour.cap")] == \
        [D("-4.00"), D("7.00"), D("2.00")]


def test_behaviour_cap_sums_the_rounded_credits(run):
    b = small_company()
    b.project("P2", "M1")
    for i, (proposer, project) in enumerate([("F1", None), ("C0", None), ("F2", "P1"),
                                             ("M1", "P2")]):
        b.behaviour(f"U{i}", "F3", "LEAD", "2.505", proposer, project=project)
    result = run(b)
    # credits 2.51 × 4 = 10.04 → cap −0.04, so the statement shows exactly 10.00
    assert adj(result, "behaviour")[-1] == ("F3", "behaviour.cap", "-0.04")
    assert result.employees["F3"]["behaviour"] == D("10.00")


def test_frequent_proposer_review_keeps_rows_until_overturned(run):
    b = small_company()
    b.behaviour("B1", "F2", "LEAD", 1, "F1")
    b.behaviour("B2", "F2", "RESCUE", 1, "F1")
    b.behaviour("B3", "F2", "BLAME", -1, "F1")           # a penalty does not count
    b.behaviour("B4", "F2", "SHARE", 1, "F1")
    b.behaviour("B5", "F2", "SHARE", 2, "C0")            # another proposer
    review = rid("BEH_FREQUENT_PROPOSER", "F1", "F2")
    expected = ("BEH_FREQUENT_PROPOSER", "F2", "C0", "open",
                [("Behaviours", 2), ("Behaviours", 3), ("Behaviours", 5)])
    result = run(b)
    assert exc(result) == [expected]
    assert result.exceptions_of("BEH_FREQUENT_PROPOSER")[0]["review_id"] == review
    assert result.employees["F2"]["behaviour"] == D("4.00")
    confirmed = run(b, {review: "confirm"})
    assert confirmed.employees["F2"]["behaviour"] == D("4.00")
    assert exc(confirmed)[0][3] == "confirmed"
    overturned = run(b, {review: "overturn"})
    assert adj(overturned, "behaviour") == [("F2", "behaviour.credit", "-1.00"),
                                            ("F2", "behaviour.credit", "2.00")]
    assert overturned.employees["F2"]["final"] == D("76.00")
    assert exc(overturned)[0][3] == "overturned"


def test_frequent_proposer_threshold_and_assignee_past_the_employee(run):
    b = small_company()
    b.behaviour("B1", "F1", "LEAD", 1, "F2", project="P1")     # F2 leads P1; F2's manager is F1
    b.behaviour("B2", "F1", "LEAD", 1, "F2", project="P1")
    assert exc(run(b)) == []
    assert exc(run(b, behaviour={"frequent_proposer": 2})) == [
        ("BEH_FREQUENT_PROPOSER", "F1", "C0", "open", [("Behaviours", 2), ("Behaviours", 3)])]


# -- review ids and order -----------------------------------------------------------------------------------

def test_review_id_survives_a_corrected_ledger(run):
    first = small_company()
    first.rating("R7", "F4", "B", 5)
    corrected = small_company()
    corrected.rating("R1", "F2", "M", 4, comment="好")
    corrected.add("InternalRatings", row=9, rating_id="R7", rater_id="F4", ratee_dept_id="B",
                  dimension="响应速度", score=D(5), comment="确实很好")
    ids = [e["review_id"] for e in run(first).exceptions_of("RATING_EXTREME")]
    assert ids == [e["review_id"] for e in run(corrected).exceptions_of("RATING_EXTREME")]
    assert ids == [rid("RATING_EXTREME", "InternalRatings", "R7")]
    assert len(ids[0]) == 13 and ids[0][0] == "R" and int(ids[0][1:], 16) >= 0
    assert ids[0] != rx.review_id("2026-12", "RATING_EXTREME", ("InternalRatings", "R7"))
    assert ids[0] != rid("RATING_EXTREME", "RaciRatings", "R7")
    assert ids[0] != rid("RATING_OUTLIER", "InternalRatings", "R7")


def test_output_order_mechanism_then_subject_then_row(run):
    b = small_company()
    b.dept("A", tier="back", base=50, manager="B1")
    b.behaviour("B1", "F4", "LEAD", 1, "F1")
    b.behaviour("B2", "F2", "LEAD", 1, "F1")
    b.raci("Q1", "P1", "F2", "B", 4)
    b.rating("R1", "F2", "B", 4)
    b.kpi("K1", 100, 100)
    b.link("B", "K1", "low")
    b.link("A", "K1", "low")
    result = run(b)
    assert [(a["mechanism"], a["subject_id"]) for a in result.adjustments] == [
        ("linkage", "A"), ("linkage", "B"), ("peripheral", "B"), ("raci", "B"),
        ("behaviour", "F2"), ("behaviour", "F4")]
    assert exc(result, notices=True) == [
        ("PERIPHERAL_NO_RATINGS", "A", "HR", "open", [("Departments", 5)]),
        ("PERIPHERAL_NO_RATINGS", "M", "HR", "open", [("Departments", 3)])]


# -- rules.exceptions agrees with the reference ------------------------------------------------------------

def test_exception_catalog_matches_spec_tables():
    assert [k.kind for k in rx.KINDS] == [
        "BEH_UNKNOWN_REF", "BEH_OUT_OF_PERIOD", "BEH_UNKNOWN_CODE", "BEH_POINTS_RANGE",
        "BEH_NO_EVIDENCE", "BEH_SELF_PROPOSED", "BEH_UNAUTHORIZED", "BEH_FREQUENT_PROPOSER",
        "RATING_UNKNOWN_REF", "RATING_SELF", "RATING_NOT_SUPPORT", "RACI_REVERSE",
        "RATING_EXTREME", "RATING_LOW_NO_COMMENT", "RATING_OUTLIER", "RATING_MUTUAL_LOW",
        "LINKAGE_CHANGED", "PERIPHERAL_NO_RATINGS", "INTERLOCK_WEIGHTS", "INTERLOCK_PARTIES",
        "INTERLOCK_ASYMMETRIC", "INTERLOCK_TOO_MANY", "INTERLOCK_MISSED"]
    reviews = {k.kind for k in rx.KINDS if k.type == rx.REVIEW}
    assert reviews == {"BEH_FREQUENT_PROPOSER", "RATING_EXTREME", "RATING_LOW_NO_COMMENT",
                       "RATING_OUTLIER", "RATING_MUTUAL_LOW", "INTERLOCK_MISSED"}
    assert all(k.zh and k.en for k in rx.KINDS)
    assert rx.mechanism_for("RATING_EXTREME", "RaciRatings") == "raci"
    assert rx.mechanism_for("RATING_EXTREME", "InternalRatings") == "peripheral"
    assert rx.mechanism_for("INTERLOCK_MISSED") == "interlock"
    assert rx.review_id_for(PERIOD, "INTERLOCK_MISSED", metric_id="M1", dept_id="D3") == \
        rid("INTERLOCK_MISSED", "M1", "D3")
    with pytest.raises(ValueError):
        rx.review_id(PERIOD, "RATING_EXTREME", ("R7",))
    with pytest.raises(ValueError):
        rx.review_id(PERIOD, "NO_SUCH_KIND", ("x",))


def test_assignee_helper_walks_the_chain():
    emps = {"A": {"dept_id": "X", "manager_id": None},
            "B": {"dept_id": "Y", "manager_id": "A"},
            "C": {"dept_id": "Y", "manager_id": "B"},
            "D": {"dept_id": "Z", "manager_id": "C"}}
    assert rx.assignee(emps, "C") == "C"
    assert rx.assignee(emps, "C", excluded_dept="Y") == "A"
    assert rx.assignee(emps, "C", excluded_ids=("C",)) == "B"
    assert rx.assignee(emps, None) == rx.HR
    assert rx.assignee(emps, "A", excluded_ids=("A",)) == rx.HR
    assert rx.assignee(emps, "nobody") == rx.HR
    assert rx.rating_review_assignee(emps, "D", "Y") == "A"
    assert rx.behaviour_review_assignee(emps, "D", "C") == "B"
    assert rx.interlock_review_assignee(emps, {"Y": {"manager_id": "B"}}, "Y") == "B"


# -- properties over random ledgers -----------------------------------------------------------------------
# On the reference only: the engine gives the reference's results on random ledgers
# (tests/test_differential.py), so these promises hold for it too.

SEEDS = range(120)


def _order_key(a):
    sheet, row = a["sources"][0]
    return (MECHANISM_ORDER[a["mechanism"]], a["subject_id"], a["rule"] == "behaviour.cap",
            SHEET_ORDER[sheet], row)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_ledgers_keep_the_promises(seed):
    builder = random_ledger(seed, size=1 + seed % 3)
    ledger = builder.build()
    first = reference_evaluate(ledger, DEFAULT, PERIOD)
    decisions = random_decisions(first.exceptions, seed)
    result = reference_evaluate(ledger, DEFAULT, PERIOD, decisions)
    again = reference_evaluate(builder.build(), DEFAULT, PERIOD, decisions)
    assert (result.adjustments, result.exceptions) == (again.adjustments, again.exceptions)

    # every statement adds up, every point is cent-exact
    for dept in result.departments.values():
        assert dept["final"] == dept["base"] + sum(dept["by_mechanism"].values())
    for emp in result.employees.values():
        assert abs(emp["behaviour"]) <= DEFAULT.behaviour.cap
        assert emp["final"] == (None if emp["base"] is None else emp["base"] + emp["behaviour"])
    assert all(a["points"].as_tuple().exponent == -2 for a in result.adjustments)
    assert [_order_key(a) for a in result.adjustments] == \
        sorted(_order_key(a) for a in result.adjustments)

    # ids are unique; rejections go to HR; reviews carry their decision
    ids = [e["review_id"] for e in result.exceptions]
    assert len(ids) == len(set(ids))
    employees = {e["employee_id"]: e for e in ledger.rows["Employees"]}
    departments = {d["dept_id"]: d for d in ledger.rows["Departments"]}
    rows = {(s, r["row"]): r for s in ledger.rows for r in ledger.rows[s]}
    for e in result.exceptions:
        assert e["type"] == rx.KIND_BY_NAME[e["kind"]].type
        if e["type"] == "rejection":
            assert (e["assignee_id"], e["status"]) == ("HR", "open")
            continue
        expected_status = {"confirm": "confirmed", "overturn": "overturned"}.get(
            decisions.get(e["review_id"]), "open")
        assert e["status"] == expected_status
        source = rows[e["sources"][0]]
        if e["kind"].startswith("RATING"):
            helper = rx.rating_review_assignee(employees, source["rater_id"],
                                               source["ratee_dept_id"])
            assert e["assignee_id"] == "HR" or \
                employees[e["assignee_id"]]["dept_id"] != source["ratee_dept_id"]
        elif e["kind"] == "BEH_FREQUENT_PROPOSER":
            helper = rx.behaviour_review_assignee(employees, source["proposer_id"],
                                                  source["employee_id"])
            assert e["assignee_id"] != source["employee_id"]
        else:
            helper = rx.interlock_review_assignee(employees, departments, e["subject_id"])
        assert e["assignee_id"] == helper

    # INTERLOCK_MISSED decisions change no score
    only_missed = {e["review_id"]: "overturn" for e in first.exceptions_of("INTERLOCK_MISSED")}
    assert reference_evaluate(ledger, DEFAULT, PERIOD, only_missed).adjustments == \
        first.adjustments
