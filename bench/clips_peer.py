"""The peer: xietong's behaviour and rating rules (SPEC §5.1, §5.2) written for CLIPS through
clipspy, fed the same rows, so `bench/run.py` can set the durable_rules evaluation beside a
mature production-rule engine doing the same work.

Same work means: the same facts as `rules/behaviour.py` and `rules/ratings.py` build (flat, one
per row and stage, thresholds and the review statuses denormalised onto the fact), the same rules with the same
conditions (classification, rejections, review triggers, counting, credits, the cap), and the
same Python around them (review ids, assignees, statuses, messages, exact points rounded
half-up), so that the two differ only in the engine. Facts are asserted in chunks and the
engine run after each chunk; a lowest-salience rule retracts each fact once its rules have
fired (as the durable layer retracts a fed row), which keeps CLIPS's agenda short: with 20,000
pending activations its inserts turn quadratic. Every firing calls back into Python, where it
is recorded with its row, as every durable firing is.

Not included (they are a few hundred facts even at 100,000 employees): linkage, blends and
interlocks. `peer_evaluate` returns the firings per rule id, which `bench/run.py` compares with
the durable evaluation's counts for the same rules: the peer must agree to be a peer.

    python bench/clips_peer.py LEDGER.xlsx        # counts and timing on one ledger
"""
from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from fractions import Fraction

import clips

from rules.company import Company, norm_dimension
from rules.exceptions import (behaviour_review_assignee, mechanism_for, rating_review_assignee,
                              review_id)
from rules.outcomes import TOLERANCE_FLOAT, exact, round_half_up

CHUNK = 500
RATING_SHEETS = ("InternalRatings", "RaciRatings")
STATUS = {"confirm": "confirmed", "overturn": "overturned"}
STATUS_FIELDS = {"RATING_EXTREME": "extreme_status", "RATING_LOW_NO_COMMENT": "low_no_comment_status",
                 "RATING_OUTLIER": "outlier_status", "RATING_MUTUAL_LOW": "mutual_low_status"}

CONSTRUCTS = r"""
(deftemplate rating (slot i (type INTEGER)) (slot sheet) (slot ratee (type STRING))
  (slot rater_known) (slot ratee_known) (slot project_known)
  (slot rater_dept (type STRING)) (slot rater_tier (type STRING)) (slot ratee_tier (type STRING)))
(deftemplate screen (slot i (type INTEGER)) (slot sheet) (slot score (type NUMBER))
  (slot extreme_low (type NUMBER)) (slot extreme_high (type NUMBER))
  (slot low_needs_comment (type NUMBER)) (slot comment_blank)
  (slot peer_count (type INTEGER)) (slot min_peers (type INTEGER))
  (slot deviation (type FLOAT)) (slot outlier_at (type FLOAT))
  (slot mutual_low (type NUMBER)) (slot counterparts (type INTEGER))
  (slot extreme_status) (slot low_no_comment_status) (slot outlier_status)
  (slot mutual_low_status) (slot hold_pending))
(deftemplate beh (slot i (type INTEGER)) (slot employee_id (type STRING))
  (slot proposer_id (type STRING)) (slot employee_known) (slot proposer_known)
  (slot project_known) (slot month (type STRING)) (slot period (type STRING)) (slot code_known)
  (slot points (type NUMBER)) (slot min_points (type NUMBER)) (slot max_points (type NUMBER))
  (slot evidence_blank) (slot authority_known) (slot proposer_above)
  (slot proposer_leads_project))
(deftemplate pair (slot i (type INTEGER)) (slot count (type INTEGER)) (slot threshold (type INTEGER)))
(deftemplate apply (slot i (type INTEGER)) (slot removed))
(deftemplate total (slot i (type INTEGER)) (slot total (type NUMBER)) (slot cap (type NUMBER)))

; 1. screening a rating
(defrule RATING_UNKNOWN_REF (rating (i ?i) (rater_known ?a) (ratee_known ?b) (project_known ?c))
  (test (or (eq ?a FALSE) (eq ?b FALSE) (eq ?c FALSE))) => (fired RATING_UNKNOWN_REF ?i))
(defrule RATING_SELF (rating (i ?i) (rater_known TRUE) (rater_dept ?d) (ratee ?d))
  => (fired RATING_SELF ?i))
(defrule RATING_NOT_SUPPORT (rating (i ?i) (sheet InternalRatings) (ratee_tier "front"))
  => (fired RATING_NOT_SUPPORT ?i))
(defrule RACI_REVERSE (rating (i ?i) (sheet RaciRatings) (rater_known ?k) (rater_tier ?rt)
  (ratee_tier ?et)) (test (or (and (eq ?k TRUE) (neq ?rt "front")) (eq ?et "front")))
  => (fired RACI_REVERSE ?i))
(defrule rating.accept (rating (i ?i) (sheet ?s) (rater_known TRUE) (ratee_known TRUE)
  (project_known TRUE) (rater_dept ?d) (ratee ~?d) (ratee_tier ~"front") (rater_tier ?rt))
  (test (or (eq ?s InternalRatings) (eq ?rt "front"))) => (fired rating.accept ?i))

; 2. review triggers and counting, on one fact per accepted rating
(deffunction holds (?fired ?status ?hp)
  (and ?fired (or (eq ?status overturned) (and (eq ?status open) (eq ?hp TRUE)))))
(deffunction rating-held (?f)
  (bind ?s (fact-slot-value ?f score))
  (bind ?hp (fact-slot-value ?f hold_pending))
  (or (holds (or (<= ?s (fact-slot-value ?f extreme_low)) (>= ?s (fact-slot-value ?f extreme_high)))
             (fact-slot-value ?f extreme_status) ?hp)
      (holds (and (<= ?s (fact-slot-value ?f low_needs_comment))
                  (eq (fact-slot-value ?f comment_blank) TRUE))
             (fact-slot-value ?f low_no_comment_status) ?hp)
      (holds (and (>= (fact-slot-value ?f peer_count) (fact-slot-value ?f min_peers))
                  (>= (fact-slot-value ?f deviation) (fact-slot-value ?f outlier_at)))
             (fact-slot-value ?f outlier_status) ?hp)
      (holds (and (eq (fact-slot-value ?f sheet) InternalRatings)
                  (<= ?s (fact-slot-value ?f mutual_low)) (>= (fact-slot-value ?f counterparts) 1))
             (fact-slot-value ?f mutual_low_status) ?hp)))
(defrule RATING_EXTREME (screen (i ?i) (score ?s) (extreme_low ?l) (extreme_high ?h))
  (test (or (<= ?s ?l) (>= ?s ?h))) => (fired RATING_EXTREME ?i))
(defrule RATING_LOW_NO_COMMENT (screen (i ?i) (score ?s) (low_needs_comment ?l)
  (comment_blank TRUE)) (test (<= ?s ?l)) => (fired RATING_LOW_NO_COMMENT ?i))
(defrule RATING_OUTLIER (screen (i ?i) (peer_count ?n) (min_peers ?m) (deviation ?d)
  (outlier_at ?o)) (test (and (>= ?n ?m) (>= ?d ?o))) => (fired RATING_OUTLIER ?i))
(defrule RATING_MUTUAL_LOW (screen (i ?i) (sheet InternalRatings) (score ?s) (mutual_low ?l)
  (counterparts ?c)) (test (and (<= ?s ?l) (>= ?c 1))) => (fired RATING_MUTUAL_LOW ?i))
(defrule rating.hold (declare (salience -100)) ?f <- (screen (i ?i)) (test (rating-held ?f))
  => (fired rating.hold ?i))
(defrule rating.count (declare (salience -100)) ?f <- (screen (i ?i)) (test (not (rating-held ?f)))
  => (fired rating.count ?i))

; behaviours: screening
(defrule BEH_UNKNOWN_REF (beh (i ?i) (employee_known ?a) (proposer_known ?b) (project_known ?c))
  (test (or (eq ?a FALSE) (eq ?b FALSE) (eq ?c FALSE))) => (fired BEH_UNKNOWN_REF ?i))
(defrule BEH_OUT_OF_PERIOD (beh (i ?i) (month ?m) (period ~?m)) => (fired BEH_OUT_OF_PERIOD ?i))
(defrule BEH_UNKNOWN_CODE (beh (i ?i) (code_known FALSE)) => (fired BEH_UNKNOWN_CODE ?i))
(defrule BEH_POINTS_RANGE (beh (i ?i) (code_known TRUE) (points ?p) (min_points ?lo)
  (max_points ?hi)) (test (or (< ?p ?lo) (> ?p ?hi))) => (fired BEH_POINTS_RANGE ?i))
(defrule BEH_NO_EVIDENCE (beh (i ?i) (evidence_blank TRUE)) => (fired BEH_NO_EVIDENCE ?i))
(defrule BEH_SELF_PROPOSED (beh (i ?i) (proposer_id ?p) (employee_id ?p))
  => (fired BEH_SELF_PROPOSED ?i))
(defrule BEH_UNAUTHORIZED (beh (i ?i) (authority_known TRUE) (proposer_id ?p) (employee_id ~?p)
  (proposer_above FALSE) (proposer_leads_project FALSE)) => (fired BEH_UNAUTHORIZED ?i))
(defrule behaviour.accept (beh (i ?i) (employee_known TRUE) (proposer_known TRUE)
  (project_known TRUE) (month ?m) (period ?m) (code_known TRUE) (points ?p) (min_points ?lo)
  (max_points ?hi) (evidence_blank FALSE) (proposer_id ?x) (employee_id ~?x)
  (proposer_above ?a) (proposer_leads_project ?l))
  (test (and (>= ?p ?lo) (<= ?p ?hi) (or (eq ?a TRUE) (eq ?l TRUE))))
  => (fired behaviour.accept ?i))
; pairs, credits, cap
(defrule BEH_FREQUENT_PROPOSER (pair (i ?i) (count ?c) (threshold ?t)) (test (>= ?c ?t))
  => (fired BEH_FREQUENT_PROPOSER ?i))
(defrule behaviour.pair_ok (pair (i ?i) (count ?c) (threshold ?t)) (test (< ?c ?t))
  => (fired behaviour.pair_ok ?i))
(defrule behaviour.credit (apply (i ?i) (removed FALSE)) => (fired behaviour.credit ?i))
(defrule behaviour.withdrawn (apply (i ?i) (removed TRUE)) => (fired behaviour.withdrawn ?i))
(defrule behaviour.cap (total (i ?i) (total ?t) (cap ?c)) (test (or (> ?t ?c) (< ?t (- 0 ?c))))
  => (fired behaviour.cap ?i))
(defrule behaviour.within_cap (total (i ?i) (total ?t) (cap ?c))
  (test (and (<= ?t ?c) (>= ?t (- 0 ?c)))) => (fired behaviour.within_cap ?i))

; a fact whose rules have all fired is retracted (the durable layer retracts each fed row)
(defrule retract-rating (declare (salience -10000)) ?f <- (rating) => (retract ?f))
(defrule retract-screen (declare (salience -10000)) ?f <- (screen) => (retract ?f))
(defrule retract-beh (declare (salience -10000)) ?f <- (beh) => (retract ?f))
(defrule retract-pair (declare (salience -10000)) ?f <- (pair) => (retract ?f))
(defrule retract-apply (declare (salience -10000)) ?f <- (apply) => (retract ?f))
(defrule retract-total (declare (salience -10000)) ?f <- (total) => (retract ?f))
"""

T, F = clips.Symbol("TRUE"), clips.Symbol("FALSE")


def _b(v: bool):
    return T if v else F


def _blank(text) -> bool:
    return text is None or str(text).strip() == ""


class Peer:
    def __init__(self):
        self.env = clips.Environment()
        self.fired_now: list[tuple[str, int]] = []
        self.by_rule: Counter = Counter()

        def fired(rule, i):
            self.fired_now.append((str(rule), int(i)))

        self.env.define_function(fired, name="fired")
        for construct in _split(CONSTRUCTS):
            self.env.build(construct)
        self.templates = {t: self.env.find_template(t)
                          for t in ("rating", "screen", "beh", "pair", "apply", "total")}

    def run(self, template: str, facts: list[dict]) -> list[list[str]]:
        """Assert every fact (in chunks, running the engine after each), return the rule ids
        fired per fact, in fact order."""
        out: list[list[str]] = [[] for _ in facts]
        assert_fact = self.templates[template].assert_fact
        for start in range(0, len(facts), CHUNK):
            for i in range(start, min(start + CHUNK, len(facts))):
                assert_fact(i=i, **facts[i])
            self.env.run()
            for rule, i in self.fired_now:
                out[i].append(rule)
                self.by_rule[rule] += 1
            self.fired_now.clear()
        return out


def _split(text: str) -> list[str]:
    """The constructs of CONSTRUCTS one by one (env.build takes one at a time)."""
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith(";")]
    body = "\n".join(lines)
    out, depth, start = [], 0, None
    in_str = False
    for k, ch in enumerate(body):
        if ch == '"':
            in_str = not in_str
        if in_str:
            continue
        if ch == "(":
            if depth == 0:
                start = k
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                out.append(body[start:k + 1])
    return out


def peer_evaluate(rows: dict[str, list[dict]], policy, period: str,
                  decisions: dict[str, str] | None = None) -> dict:
    """The behaviour and rating rules of one ledger on CLIPS: firings per rule, exceptions and
    credits (see the module docstring)."""
    decisions = decisions or {}
    peer = Peer()
    company = Company.from_rows(rows)
    exceptions: list[dict] = []
    counted: dict[str, list[dict]] = {}

    def exception(kind, sheet_or_mech, subject, key, sources, assignee, message):
        rid = review_id(period, kind, key)
        status = STATUS[decisions[rid]] if assignee is not None and rid in decisions else "open"
        exc = {"review_id": rid, "kind": kind, "subject_id": subject, "status": status,
               "assignee_id": assignee or "HR", "sources": sources, "message": message,
               "mechanism": sheet_or_mech}
        exceptions.append(exc)
        return exc

    rp = policy.review
    for sheet in RATING_SHEETS:
        mechanism = "peripheral" if sheet == "InternalRatings" else "raci"
        ratings = sorted(rows.get(sheet, []), key=lambda r: r["row"])
        facts = []
        for r in ratings:
            rater = company.employees.get(r["rater_id"])
            ratee = company.departments.get(r["ratee_dept_id"])
            facts.append({
                "sheet": clips.Symbol(sheet), "ratee": r["ratee_dept_id"],
                "rater_known": _b(rater is not None), "ratee_known": _b(ratee is not None),
                "project_known": _b(sheet == "InternalRatings"
                                    or r.get("project_id") in company.projects),
                "rater_dept": rater["dept_id"] if rater else "",
                "rater_tier": (company.tier_of_dept(rater["dept_id"]) or "") if rater else "",
                "ratee_tier": ratee["tier"] if ratee else ""})
        accepted = []
        for r, fired in zip(ratings, peer.run("rating", facts)):
            for rule in fired:
                if rule == "rating.accept":
                    accepted.append(r)
                else:
                    exception(rule, mechanism_for(rule, sheet), r["ratee_dept_id"],
                              (sheet, r["rating_id"]), [(sheet, r["row"])], None,
                              f"{r['rating_id']} by {r['rater_id']}: {rule}")
        # the aggregates the triggers compare against, as rules/ratings.py computes them
        scores = [exact(r["score"]) for r in accepted]
        groups = [(r["ratee_dept_id"], norm_dimension(r["dimension"])) for r in accepted]
        group_sum: dict = defaultdict(lambda: [Fraction(0), 0])
        rater_sum: dict = defaultdict(lambda: [Fraction(0), 0])
        for r, s, g in zip(accepted, scores, groups):
            for acc, k in ((group_sum, g), (rater_sum, (g, r["rater_id"]))):
                acc[k][0] += s
                acc[k][1] += 1
        low_by_pair = defaultdict(list)
        if sheet == "InternalRatings":
            for r in accepted:
                if r["score"] <= rp.mutual_low:
                    low_by_pair[(company.dept_of(r["rater_id"]), r["ratee_dept_id"])].append(r)
        facts, context = [], []
        hold_pending = _b(bool(rp.hold_pending))
        for r, s, g in zip(accepted, scores, groups):
            total, n = group_sum[g]
            own_total, own_n = rater_sum[(g, r["rater_id"])]
            deviation = float(abs(s - (total - own_total) / (n - own_n))) if n - own_n else 0.0
            counterparts = (low_by_pair.get((r["ratee_dept_id"], company.dept_of(r["rater_id"])), [])
                            if sheet == "InternalRatings" else [])
            facts.append({"sheet": clips.Symbol(sheet), "score": float(r["score"]),
                          "extreme_low": float(rp.extreme_low), "extreme_high": float(rp.extreme_high),
                          "low_needs_comment": float(rp.low_needs_comment),
                          "comment_blank": _b(_blank(r.get("comment"))),
                          "peer_count": n - own_n, "min_peers": int(rp.outlier_min_peers),
                          "deviation": deviation,
                          "outlier_at": float(rp.outlier_deviation) - TOLERANCE_FLOAT,
                          "mutual_low": float(rp.mutual_low), "counterparts": len(counterparts),
                          # the status of the review each trigger raises (decision in force)
                          **{field: clips.Symbol(STATUS.get(decisions.get(
                              review_id(period, kind, (sheet, r["rating_id"]))), "open"))
                             for kind, field in STATUS_FIELDS.items()},
                          "hold_pending": hold_pending})
            context.append(counterparts)
        counted[sheet] = []
        for r, counterparts, fired in zip(accepted, context, peer.run("screen", facts)):
            assignee = rating_review_assignee(company.employees, r["rater_id"], r["ratee_dept_id"])
            for rule in fired:
                if rule == "rating.count":
                    counted[sheet].append(r)
                if rule in ("rating.count", "rating.hold"):
                    continue
                sources = [(sheet, r["row"])]
                if rule == "RATING_MUTUAL_LOW":
                    sources += [(sheet, c["row"]) for c in counterparts]
                exception(rule, mechanism, r["ratee_dept_id"], (sheet, r["rating_id"]),
                          sources, assignee, f"{r['rating_id']}: {rule}")

    # behaviours
    bp = policy.behaviour
    behaviours = sorted(rows.get("Behaviours", []), key=lambda r: r["row"])
    facts, entries = [], []
    for r in behaviours:
        emp, prop, proj = r["employee_id"], r["proposer_id"], r.get("project_id")
        ek, pk = emp in company.employees, prop in company.employees
        entry = bp.lookup(r["behaviour_code"])
        above = ek and pk and company.is_above(prop, emp)
        leads = (not _blank(proj) and proj in company.projects
                 and company.projects[proj]["lead_id"] == prop)
        facts.append({
            "employee_id": emp, "proposer_id": prop, "employee_known": _b(ek),
            "proposer_known": _b(pk), "project_known": _b(_blank(proj) or proj in company.projects),
            "month": f"{r['date'].year:04d}-{r['date'].month:02d}", "period": period,
            "code_known": _b(entry is not None), "points": float(r["points"]),
            "min_points": float(entry.min) if entry else 0.0,
            "max_points": float(entry.max) if entry else 0.0,
            "evidence_blank": _b(_blank(r.get("evidence"))),
            "authority_known": _b(ek and pk and (above or _blank(proj) or proj in company.projects)),
            "proposer_above": _b(above), "proposer_leads_project": _b(leads)})
        entries.append(entry)
    accepted = []
    for r, fired in zip(behaviours, peer.run("beh", facts)):
        for rule in fired:
            if rule == "behaviour.accept":
                accepted.append(r)
            else:
                exception(rule, "behaviour", r["employee_id"], (r["event_id"],),
                          [("Behaviours", r["row"])], None, f"{r['event_id']}: {rule}")
    positive = defaultdict(list)
    for r in accepted:
        if r["points"] > 0:
            positive[(r["proposer_id"], r["employee_id"])].append(r)
    pairs = sorted(positive.items())
    removed = set()
    fired_pairs = peer.run("pair", [{"count": len(rs), "threshold": int(bp.frequent_proposer)}
                                    for _, rs in pairs])
    for ((prop, emp), rs), fired in zip(pairs, fired_pairs):
        if "BEH_FREQUENT_PROPOSER" in fired:
            exc = exception("BEH_FREQUENT_PROPOSER", "behaviour", emp, (prop, emp),
                            [("Behaviours", x["row"]) for x in rs],
                            behaviour_review_assignee(company.employees, prop, emp),
                            f"{prop} proposed {len(rs)} bonus rows for {emp}")
            if exc["status"] == "overturned":
                removed.update(x["event_id"] for x in rs)
    by_employee = defaultdict(list)
    for r in accepted:
        by_employee[r["employee_id"]].append(r)
    employees = sorted(by_employee)
    applies = [{"removed": _b(r["event_id"] in removed)} for e in employees for r in by_employee[e]]
    fired_applies = iter(peer.run("apply", applies))
    credits, totals = [], []
    for e in employees:
        total, applied = Fraction(0), 0
        for r in by_employee[e]:
            if "behaviour.credit" in next(fired_applies):
                pts = round_half_up(exact(r["points"]))
                credits.append((e, r["row"], pts))
                total += Fraction(pts)
                applied += 1
        if applied:
            totals.append((e, round_half_up(total)))
    capped = []
    for (e, t), fired in zip(totals, peer.run("total", [{"total": float(t), "cap": float(bp.cap)}
                                                         for _, t in totals])):
        if "behaviour.cap" in fired:
            limit = exact(bp.cap)
            capped.append((e, round_half_up((limit if t > limit else -limit) - exact(t))))
    return {"by_rule": dict(peer.by_rule), "exceptions": exceptions, "counted": counted,
            "credits": credits, "caps": capped}


def main(argv: list[str]) -> int:
    from importers import read_ledger
    from rules.policy import load_policy
    ledger = read_ledger(argv[0])
    t = time.perf_counter()
    result = peer_evaluate(ledger.rows, load_policy(), argv[1] if len(argv) > 1 else "2026-11")
    print(f"{time.perf_counter() - t:.2f} s", sorted(result["by_rule"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
