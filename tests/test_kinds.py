"""Exception kinds are declared once, with the rule that raises it (rules/kinds.py), and the
catalog (rules/exceptions.py) is what the books declared: SPEC §5's table, pinned here by hand."""
import doctest

import pytest

import rules.exceptions
from engine import RuleBook, RuleDefinitionError, m
from evaluator.evaluate import evaluate_ledger
from rules.books import BOOKS, describe, rules_markdown
from rules.exceptions import KIND_BY_NAME, KIND_ORDER, KINDS
from rules.kinds import REJECTION, REVIEW, Kinds
from rules.policy import load_policy
from tests.ledgers import PERIOD, small_company

B, R, P, I = ("behaviour",), ("peripheral", "raci"), ("peripheral",), ("interlock",)
ROW, RATING = ("event_id",), ("sheet", "rating_id")

# SPEC §5: kind, type, notice, subject, review key, mechanisms — in the order of its tables.
SPEC_TABLE = [
    ("BEH_UNKNOWN_REF", REJECTION, False, "employee", ROW, B),
    ("BEH_OUT_OF_PERIOD", REJECTION, False, "employee", ROW, B),
    ("BEH_UNKNOWN_CODE", REJECTION, False, "employee", ROW, B),
    ("BEH_POINTS_RANGE", REJECTION, False, "employee", ROW, B),
    ("BEH_NO_EVIDENCE", REJECTION, False, "employee", ROW, B),
    ("BEH_SELF_PROPOSED", REJECTION, False, "employee", ROW, B),
    ("BEH_UNAUTHORIZED", REJECTION, False, "employee", ROW, B),
    ("BEH_FREQUENT_PROPOSER", REVIEW, False, "employee", ("proposer_id", "employee_id"), B),
    ("RATING_UNKNOWN_REF", REJECTION, False, "department", RATING, R),
    ("RATING_SELF", REJECTION, False, "department", RATING, R),
    ("RATING_NOT_SUPPORT", REJECTION, False, "department", RATING, P),
    ("RACI_REVERSE", REJECTION, False, "department", RATING, ("raci",)),
    ("RATING_EXTREME", REVIEW, False, "department", RATING, R),
    ("RATING_LOW_NO_COMMENT", REVIEW, False, "department", RATING, R),
    ("RATING_OUTLIER", REVIEW, False, "department", RATING, R),
    ("RATING_MUTUAL_LOW", REVIEW, False, "department", RATING, P),
    # SPEC §11.7, with the linkage book (§5.3 comes before §5.4)
    ("LINKAGE_CHANGED", REJECTION, True, "department", ("dept_id",), ("linkage",)),
    ("PERIPHERAL_NO_RATINGS", REJECTION, True, "department", ("dept_id",), P),
    ("INTERLOCK_WEIGHTS", REJECTION, False, "metric", ("metric_id",), I),
    ("INTERLOCK_PARTIES", REJECTION, False, "metric", ("metric_id",), I),
    ("INTERLOCK_ASYMMETRIC", REJECTION, False, "metric", ("metric_id",), I),
    ("INTERLOCK_TOO_MANY", REJECTION, True, "department", ("dept_id",), I),
    ("INTERLOCK_MISSED", REVIEW, False, "department", ("metric_id", "dept_id"), I),
]


def test_catalog_is_spec_table_in_spec_order():
    assert [(k.kind, k.type, k.notice, k.subject, k.key, k.mechanisms) for k in KINDS] == \
        SPEC_TABLE
    assert KIND_ORDER == {row[0]: i for i, row in enumerate(SPEC_TABLE)}
    assert list(KIND_BY_NAME) == [row[0] for row in SPEC_TABLE]


def test_every_rule_that_raises_a_kind_declares_it_with_its_descriptions():
    """Kind ids are upper case, other rule ids dotted lower case: every upper-case rule of the
    books is a kind of the catalog, its action raises exactly that kind, and the kind's texts
    are its rule's."""
    upper = {r.rule_id: r for b in BOOKS for r in b.rules if r.rule_id.isupper()}
    assert set(upper) == set(KIND_BY_NAME)
    for kind, rule in upper.items():
        assert rule.action({}) == [{"exception": kind}]
        assert (KIND_BY_NAME[kind].zh, KIND_BY_NAME[kind].en) == (rule.zh, rule.en) \
            == describe(kind)


def test_rejection_messages_keep_the_kind_texts():
    """exceptions.json's messages of row and metric rejections end with the kind's English
    text; these are the texts of the stored runs (the demo's exceptions.json)."""
    b = small_company()
    b.behaviour("B1", "F3", "LEAD", 1, "F1", evidence=None)
    b.rating("R1", "M2", "M", 4)
    b.raci("Q1", "P1", "M2", "B", 4)
    b.interlock("M9", 100, 100, 2, 2, name="新业务")
    b.party("M9", "F", "0.5")
    b.party("M9", "M", "0.4")
    got = evaluate_ledger(b.build().rows, load_policy(), PERIOD, {})
    assert [(e["kind"], e["subject_id"], e["message"]) for e in got.exceptions] == [
        ("PERIPHERAL_NO_RATINGS", "B", "B (IT部): no counted internal rating this period"),
        ("PERIPHERAL_NO_RATINGS", "M", "M (产品部): no counted internal rating this period"),
        ("RATING_SELF", "M", "R1 by M2: The rater belongs to the rated department"),
        ("RACI_REVERSE", "B", "Q1 by M2: RACI rating not from front to middle/back"),
        ("INTERLOCK_WEIGHTS", "M9", "M9 (新业务): The parties' weights do not sum to 1"),
        ("BEH_NO_EVIDENCE", "F3", "B1: No factual evidence"),
    ]


def test_docs_list_each_kind_with_its_key():
    doc = rules_markdown()
    assert ("| `INTERLOCK_MISSED` | review | department | metric_id + dept_id "
            "| 互锁指标未达成，各方须参与复盘 "
            "| The interlocked metric was missed: every party holds a post-mortem |") in doc
    assert ("| `PERIPHERAL_NO_RATINGS` | rejection (notice) | department | dept_id |") in doc
    assert doc.count("\n| `BEH_NO_EVIDENCE` |") == 2          # once as a rule, once as a kind


def test_catalog_doc_examples_hold():
    assert doctest.testmod(rules.exceptions).failed == 0


# -- declaring ---------------------------------------------------------------------------------

def _flag_x(x):
    return [{"exception": "X_FOUND"}]


def test_a_declaration_makes_the_rule_and_the_kind():
    book = RuleBook("t")
    kinds = Kinds(book, mechanisms=("behaviour",))
    when = m.t == "x"
    action = kinds.rejection("X_FOUND", when, subject="employee", key=("event_id",),
                             zh="发现 X", en="X found")(_flag_x)
    assert action is _flag_x
    rule = book["X_FOUND"]
    assert (rule.zh, rule.en, rule.when, rule.action, rule.pri) == \
        ("发现 X", "X found", when, _flag_x, 0)
    k = kinds["X_FOUND"]
    assert (k.kind, k.type, k.mechanisms, k.subject, k.key, k.zh, k.en, k.notice) == \
        ("X_FOUND", REJECTION, ("behaviour",), "employee", ("event_id",), "发现 X", "X found",
         False)

    def _review_y(y):
        return [{"exception": "Y_SEEN"}]
    kinds.review("Y_SEEN", m.t == "y", subject="department", key=("sheet", "rating_id"),
                 mechanisms=("peripheral", "raci"), zh="见 Y", en="Y seen", pri=3)(_review_y)
    assert book["Y_SEEN"].pri == 3
    assert [(k.kind, k.type, k.mechanisms, k.mechanism) for k in kinds] == [
        ("X_FOUND", REJECTION, ("behaviour",), "behaviour"),
        ("Y_SEEN", REVIEW, ("peripheral", "raci"), "peripheral")]
    assert "Y_SEEN" in kinds and "Z" not in kinds and len(kinds) == 2


@pytest.mark.parametrize("kind, declared, error", [
    ("x_found", {}, "upper-case"),
    ("X.FOUND", {}, "upper-case"),
    ("X_FOUND", {"subject": "team"}, "subject"),
    ("X_FOUND", {"key": ()}, "review key"),
    ("X_FOUND", {"mechanisms": ("bonus",)}, "mechanisms"),
    ("X_FOUND", {"mechanisms": ()}, "mechanisms"),
])
def test_a_bad_declaration_is_refused(kind, declared, error):
    book = RuleBook("t")
    kinds = Kinds(book, mechanisms=("interlock",))
    args = {"subject": "metric", "key": ("metric_id",), "zh": "发现 X", "en": "X found",
            **declared}
    with pytest.raises(ValueError, match=error):
        kinds.rejection(kind, m.t == "x", **args)(_flag_x)
    assert len(book) == 0 and len(kinds) == 0


def test_a_kind_is_declared_once_and_only_with_a_rule_the_engine_accepts():
    book = RuleBook("t")
    kinds = Kinds(book, mechanisms=("interlock",))
    declare = kinds.rejection("X_FOUND", m.t == "x", subject="metric", key=("metric_id",),
                              zh="发现 X", en="X found")
    with pytest.raises(RuleDefinitionError):
        declare(lambda x: [])                # the engine refuses a lambda (its source is hashed)
    assert "X_FOUND" not in kinds and "X_FOUND" not in book
    declare(_flag_x)
    with pytest.raises(ValueError, match="declared twice"):
        kinds.rejection("X_FOUND", m.t == "y", subject="metric", key=("metric_id",),
                        zh="发现 X", en="X found")(_flag_x)
    assert len(book) == 1 and len(kinds) == 1
    with pytest.raises(ValueError, match="mechanisms"):
        Kinds(RuleBook("u"), mechanisms=("bonus",))
