"""Policy over time (SPEC §11.5, §11.7, §11.9) pinned with exact values: quarterly ratings,
LINKAGE_CHANGED and the frequent-proposer window, each test run twice through the `run`
fixture — on the plain-Python reference (tests/reference.py) and on the durable_rules
evaluation — with the other months' rows the evaluator would read (rules.months.other_months).
The interlock reward (§11.8) is pinned in tests/test_reference.py; the database side (which
imports a run reads, the cadence refusal, the reports) in tests/test_over_time_db.py.

The company is tests/ledgers.small_company(): F (front; F1 under C0, F2/F3/F4 under F1),
M (middle; M1, M2), B (back, base 60; B1, B2), project P1 led by F2."""
from decimal import Decimal

import pytest

from evaluator.evaluate import evaluate_ledger
from importers.spooled import close_spooled
from rules import exceptions as rx
from rules.months import other_months
from rules.policy import load_policy, policy_from_mapping
from tests.ledgers import LedgerBuilder, small_company, spooled
from tests.reference import reference_evaluate

D = Decimal


def _months(history: dict[str, LedgerBuilder], policy, period) -> dict:
    """What the evaluator reads of the other months (rules.months.other_months)."""
    return {m: {s: [dict(r) for r in history[m].rows.get(s, [])] for s in sheets}
            for m, sheets in other_months(policy, period).items() if m in history}


def reference_run(builder, period, history=None, decisions=None, **overrides):
    policy = policy_from_mapping(overrides) if overrides else load_policy()
    return reference_evaluate(builder.build(), policy, period, decisions,
                              _months(history or {}, policy, period))


def engine_run(builder, period, history=None, decisions=None, files=False, **overrides):
    """`files`: the transaction sheets of the month and of the other months read from files,
    as evaluate_period hands them (tests.ledgers.spooled)."""
    policy = policy_from_mapping(overrides) if overrides else load_policy()
    rows, months = builder.build().rows, _months(history or {}, policy, period)
    if files:
        rows, months = spooled(rows), {m: spooled(sheets) for m, sheets in months.items()}
    try:
        got = evaluate_ledger(rows, policy, period, decisions, history=months)
    finally:
        close_spooled(rows, months)
    got.trace_rules = [t.rule for t in got.trace]
    return got


def spooled_run(builder, period, history=None, decisions=None, **overrides):
    return engine_run(builder, period, history, decisions, files=True, **overrides)


@pytest.fixture(params=[reference_run, engine_run, spooled_run],
                ids=["reference", "engine", "spooled"])
def run(request):
    return request.param


def adj(result, mechanism):
    return [(a["subject_id"], a["rule"], str(a["points"]), a["sources"])
            for a in result.adjustments if a["mechanism"] == mechanism]


def exc(result, *kinds):
    return [(e["kind"], e["subject_id"], e["assignee_id"], e["status"], e["sources"])
            for e in result.exceptions if e["kind"] in kinds]


def rid(period, kind, *parts):
    return rx.review_id(period, kind, parts)


QUARTERLY = {"peripheral": {"cadence": "quarterly"}, "raci": {"cadence": "quarterly"}}


# -- §11.5 quarterly ratings ----------------------------------------------------------------------

def quarter():
    """Q4 2026. Every month B (back, base 60) is rated on 响应速度 by front-office raters:

        2026-10  R1 F2 → 4;  R2 F9 → 4 (F9 left the company before December)
                 Q1 F2 on P1 → 3
        2026-11  R1 F3 → 3;  R2 F4 → 5 (extreme)
        2026-12  R1 F4 → 2 with a comment;  ServiceMetrics B ticket_sla 0.9
                 Q1 F3 on P1 → 5 (extreme)
    Rating ids repeat from month to month, as a company numbering them monthly would."""
    months = {}
    for period in ("2026-10", "2026-11"):
        b = small_company()
        if period == "2026-10":
            b.emp("F9", "F", manager="F1")
            b.rating("R1", "F2", "B", 4)
            b.rating("R2", "F9", "B", 4)
            b.raci("Q1", "P1", "F2", "B", 3)
        else:
            b.rating("R1", "F3", "B", 3)
            b.rating("R2", "F4", "B", 5)
        months[period] = b
    december = small_company()
    december.rating("R1", "F4", "B", 2, comment="响应慢，两次升级才处理")
    december.metric("B", "ticket_sla", "0.9")
    december.raci("Q1", "P1", "F3", "B", 5)
    return december, months


def test_quarter_end_evaluates_the_three_months_ratings(run):
    december, months = quarter()
    result = run(december, "2026-12", months, **QUARTERLY)
    # Counted: October R1 (4), November R1 (3), December R1 (2); October R2 is rejected (its
    # rater F9 is not in December's company) and November R2 (5) is extreme, held while open.
    # R = 20 × (4 + 3 + 2) / 3 = 60, O = 100 × 0.9 = 90, P = 0.5 × 60 + 0.5 × 90 = 75:
    # 0.15 × (75 − 60) = 2.25. Sources: earlier months first, each in row order.
    assert adj(result, "peripheral") == [
        ("B", "peripheral.blend", "2.25",
         [("Departments", 4), ("InternalRatings@2026-10", 2), ("InternalRatings@2026-11", 2),
          ("InternalRatings", 2), ("ServiceMetrics", 2)])]
    # RACI: October Q1 (3) counts, December Q1 (5) is held: Q = 60, 0.15 × (60 − 60) = 0.00
    assert adj(result, "raci") == [
        ("B", "raci.blend", "0.00", [("Departments", 4), ("RaciRatings@2026-10", 2)])]
    assert exc(result, "RATING_UNKNOWN_REF", "RATING_EXTREME") == [
        ("RATING_UNKNOWN_REF", "B", "HR", "open", [("InternalRatings@2026-10", 3)]),
        ("RATING_EXTREME", "B", "F1", "open", [("InternalRatings@2026-11", 3)]),
        ("RATING_EXTREME", "B", "F1", "open", [("RaciRatings", 2)])]
    # review ids are keyed by the quarter's last month and the source's own sheet name
    ids = [e["review_id"] for e in result.exceptions if e["kind"] == "RATING_EXTREME"]
    assert ids == [rid("2026-12", "RATING_EXTREME", "InternalRatings@2026-11", "R2"),
                   rid("2026-12", "RATING_EXTREME", "RaciRatings", "Q1")]
    # M (middle) has no rating in any month of the quarter: the notice, at the quarter's end
    assert exc(result, "PERIPHERAL_NO_RATINGS") == [
        ("PERIPHERAL_NO_RATINGS", "M", "HR", "open", [("Departments", 3)])]


def test_a_confirmed_rating_of_an_earlier_month_counts_at_the_quarters_end(run):
    december, months = quarter()
    extreme = rid("2026-12", "RATING_EXTREME", "InternalRatings@2026-11", "R2")
    result = run(december, "2026-12", months, {extreme: "confirm"}, **QUARTERLY)
    # R = 20 × (4 + 3 + 5 + 2) / 4 = 70, P = 0.5 × 70 + 45 = 80: 0.15 × (80 − 60) = 3.00
    assert [a[:3] for a in adj(result, "peripheral")] == [("B", "peripheral.blend", "3.00")]
    assert result.departments["B"]["final"] == D("63.00")       # 60 + 3.00 + 0.00


def test_peers_and_rating_ids_span_the_quarter(run):
    """Peers of a rating are the other raters' ratings of all three months: F4's 1 in
    December is 2.5 away from the mean of F2's 4 (October) and F3's 3 (November): outlier (and
    extreme). A November R1 and a December R1 are two items."""
    december, months = quarter()
    december.rows["InternalRatings"].clear()
    december.rating("R1", "F4", "B", 1, comment="多次无响应")
    result = run(december, "2026-12", months, **QUARTERLY)
    assert [(e["kind"], e["sources"]) for e in result.exceptions
            if e["kind"] in ("RATING_EXTREME", "RATING_OUTLIER")] == [
        ("RATING_EXTREME", [("InternalRatings@2026-11", 3)]),
        ("RATING_EXTREME", [("InternalRatings", 2)]),
        ("RATING_OUTLIER", [("InternalRatings", 2)]),
        ("RATING_EXTREME", [("RaciRatings", 2)])]


def test_months_before_the_quarters_end_carry_their_ratings(run):
    _, months = quarter()
    november = months["2026-11"]
    result = run(november, "2026-11", {"2026-10": months["2026-10"]}, **QUARTERLY)
    # no blend, no PERIPHERAL_NO_RATINGS, no rating exception: the ratings wait for December
    assert result.adjustments == []
    assert result.exceptions == []
    if hasattr(result, "trace_rules"):
        rules = result.trace_rules
        assert rules.count("rating.carried") == 2           # November's R1 and R2
        assert sorted(r for r in rules if r.endswith(".carried") and r != "rating.carried") == [
            "peripheral.carried", "peripheral.carried", "raci.carried", "raci.carried"]
        assert "rating.accept" not in rules


def test_monthly_cadence_is_unchanged(run):
    december, months = quarter()
    result = run(december, "2026-12", months)
    # December alone: R1 2 → R = 40, P = 0.5 × 40 + 45 = 65: 0.15 × (65 − 60) = 0.75;
    # Q1 5 is extreme and held: no RACI blend
    assert adj(result, "peripheral") == [
        ("B", "peripheral.blend", "0.75",
         [("Departments", 4), ("InternalRatings", 2), ("ServiceMetrics", 2)])]
    assert adj(result, "raci") == []


def test_each_mechanism_has_its_own_cadence(run):
    december, months = quarter()
    result = run(december, "2026-12", months, peripheral={"cadence": "quarterly"})
    assert [a[:3] for a in adj(result, "peripheral")] == [("B", "peripheral.blend", "2.25")]
    assert adj(result, "raci") == []                 # monthly: December's Q1 alone, held


def test_a_quarter_month_without_an_import_has_no_rows(run):
    december, months = quarter()
    del months["2026-10"]
    result = run(december, "2026-12", months, **QUARTERLY)
    # November R1 (3) and December R1 (2): R = 50, P = 0.5 × 50 + 45 = 70: 0.15 × 10 = 1.50
    assert [a[:3] for a in adj(result, "peripheral")] == [("B", "peripheral.blend", "1.50")]


# -- §11.7 changes to the matrix -------------------------------------------------------------------

def matrices():
    """November: B–K1 high, F–K1 high, M–K1 low. December: B–K1 medium and B–K2 low, F has no
    link any more, M–K1 low as before."""
    november, december = small_company(), small_company()
    for b in (november, december):
        b.kpi("K1", 100, 100)
        b.kpi("K2", 100, 100)
    november.link("B", "K1", "high")
    november.link("F", "K1", "high")
    november.link("M", "K1", "low")
    december.link("M", "K1", "low")
    december.link("B", "K1", "medium")
    december.link("B", "K2", "low")
    return december, {"2026-11": november}


def test_a_changed_matrix_is_a_notice_for_hr(run):
    december, months = matrices()
    result = run(december, "2026-12", months)
    assert exc(result, "LINKAGE_CHANGED") == [
        ("LINKAGE_CHANGED", "B", "HR", "open",
         [("Linkage", 3), ("Linkage", 4), ("Linkage@2026-11", 2)]),
        ("LINKAGE_CHANGED", "F", "HR", "open", [("Linkage@2026-11", 3)])]
    b = next(e for e in result.exceptions if e["kind"] == "LINKAGE_CHANGED")
    assert b["review_id"] == rid("2026-12", "LINKAGE_CHANGED", "B")
    if "message" in b:                                   # the engine's words
        assert b["message"] == ("B (IT部): the linkage matrix differs from 2026-11: K1 high → "
                                "K1 medium, K2 low")
        from rules.sentences import message
        assert message(b, "zh") == "B（IT部）的关联矩阵与 2026-11 不同：K1 强 → K1 中、K2 弱"
        f = next(e for e in result.exceptions if e["subject_id"] == "F")
        assert message(f, "en").endswith("K1 high → none")
        assert message(f, "zh").endswith("K1 强 → 无")


def test_no_notice_in_the_revision_month_or_without_a_previous_month(run):
    december, months = matrices()
    assert exc(run(december, "2026-12", months, linkage={"revision_month": 12}),
               "LINKAGE_CHANGED") == []
    assert exc(run(december, "2026-12", {}), "LINKAGE_CHANGED") == []
    # the same matrix (rows in another order, other row numbers) is no change
    same = small_company()
    same.kpi("K1", 100, 100)
    same.kpi("K2", 100, 100)
    same.link("B", "K2", "low")
    same.link("B", "K1", "medium")
    same.link("M", "K1", "low")
    assert exc(run(december, "2026-12", {"2026-11": same}), "LINKAGE_CHANGED") == []


def test_the_revision_month_still_says_what_changed():
    december, months = matrices()
    got = engine_run(december, "2026-12", months, linkage={"revision_month": 12})
    assert got.trace_rules.count("linkage.revised") == 2           # B and F
    assert got.trace_rules.count("linkage.unchanged") == 1         # M


# -- §11.9 favour points across months -------------------------------------------------------------

def proposals():
    """F1 proposes bonus points for F2 (F1 is F2's manager): one in October, two in November
    (one without evidence: rejected there), one in December. In October F2 reported to M1, so
    F1 was not above F2 then: October's row was unauthorized in its own month."""
    october, november, december = small_company(), small_company(), small_company()
    october.rows["Employees"] = [dict(e, manager_id="M1") if e["employee_id"] == "F2" else e
                                 for e in october.rows["Employees"]]
    october.behaviour("B1", "F2", "LEAD", 2, "F1", day="2026-10-12")
    october.behaviour("B2", "F3", "LEAD", 2, "F1", day="2026-10-12")
    november.behaviour("B1", "F2", "RESCUE", 2, "F1", day="2026-11-05")
    november.behaviour("B2", "F2", "SHARE", 1, "F1", day="2026-11-06", evidence=None)
    november.behaviour("B3", "F2", "SHARE", 1, "F1", day="2026-10-30")   # not in its month
    december.behaviour("B1", "F2", "SHARE", 2, "F1", day="2026-12-03")
    december.behaviour("B2", "F2", "IMPROVE", 1, "F1", day="2026-12-04")
    return december, {"2026-10": october, "2026-11": november}


def test_the_window_counts_earlier_months_rows_accepted_in_their_own_month(run):
    december, months = proposals()
    window = {"behaviour": {"frequent_window_months": 3}}
    # December's two rows + November's B1 (B2 has no evidence, B3 is dated October) + none of
    # October (F1 was not above F2 then; B2 is for F3) = 3 ≥ frequent_proposer 3
    result = run(december, "2026-12", months, **window)
    assert exc(result, "BEH_FREQUENT_PROPOSER") == [
        ("BEH_FREQUENT_PROPOSER", "F2", "C0", "open",
         [("Behaviours", 2), ("Behaviours", 3), ("Behaviours@2026-11", 2)])]
    # the months' own rejections are not raised again in December
    assert [e["kind"] for e in result.exceptions if e["kind"].startswith("BEH_")] == [
        "BEH_FREQUENT_PROPOSER"]
    # two months (November and December) count the same rows; one month counts 2 < 3
    assert len(exc(run(december, "2026-12", months,
                       behaviour={"frequent_window_months": 2}), "BEH_FREQUENT_PROPOSER")) == 1
    assert exc(run(december, "2026-12", months), "BEH_FREQUENT_PROPOSER") == []


def test_an_overturned_window_review_removes_the_periods_rows_only(run):
    december, months = proposals()
    review = rid("2026-12", "BEH_FREQUENT_PROPOSER", "F1", "F2")
    result = run(december, "2026-12", months, {review: "overturn"},
                 behaviour={"frequent_window_months": 3})
    assert [e[3] for e in exc(result, "BEH_FREQUENT_PROPOSER")] == ["overturned"]
    assert adj(result, "behaviour") == []           # December's 2 + 1 points withdrawn
    assert result.employees["F2"]["final"] == D("75")


def test_a_pair_without_a_row_in_the_period_raises_nothing(run):
    december, months = proposals()
    december.rows["Behaviours"].clear()
    december.behaviour("B1", "F3", "LEAD", 1, "F1", day="2026-12-03")
    assert exc(run(december, "2026-12", months, behaviour={"frequent_window_months": 3}),
               "BEH_FREQUENT_PROPOSER") == []
