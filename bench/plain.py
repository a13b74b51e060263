"""The plain-Python lower bound of evaluation cost: the tests' reference implementation
(`tests/reference.py`, the oracle of the differential test) with its quadratic scans indexed.

The reference is written for clarity on small ledgers: every rating scans every kept rating for
its peers and counterparts (RATING_OUTLIER, RATING_MUTUAL_LOW), every department scans every
counted rating, and every subject scans every adjustment for its final. That is O(n²): hours at
10,000 employees, so as it stands it bounds nothing. This subclass answers the same questions
from indexes built once — per (department, dimension) group sums and counts, less the rater's
own — and is otherwise the reference itself. `bench/run.py` checks that its adjustments and
exceptions equal the rules engine's at every size it measures (and the reference's where that
finishes), so the lower bound is an honest one.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from fractions import Fraction

from tests import reference as ref
from tests.reference import HR, _at_least, _f, _label, _src


class PlainEvaluation(ref._Evaluation):
    def __init__(self, *args, **kwargs):
        self._sorted: dict[str, list[dict]] = {}
        self._index_of = None
        super().__init__(*args, **kwargs)

    def rows(self, sheet: str) -> list[dict]:
        got = self._sorted.get(sheet)
        if got is None:
            got = self._sorted[sheet] = super().rows(sheet)
        return got

    def _index(self, kept: list[tuple[str, dict]]):
        if self._index_of is not None and self._index_of[0] is kept:
            return self._index_of[1]
        rp = self.policy.review
        groups: dict = defaultdict(lambda: [Fraction(0), 0])
        own: dict = defaultdict(lambda: [Fraction(0), 0])
        low: dict = defaultdict(list)
        for name, p in kept:
            key = (p["ratee_dept_id"], _label(p["dimension"]))
            s = _f(p["score"])
            for acc, k in ((groups, key), (own, (key, p["rater_id"]))):
                acc[k][0] += s
                acc[k][1] += 1
            if _f(p["score"]) <= _f(rp.mutual_low):
                low[(p["ratee_dept_id"], self.emps[p["rater_id"]]["dept_id"])].append((name, p))
        index = (groups, own, low)
        self._index_of = (kept, index)
        return index

    def rating_reviews(self, sheet: str, name: str, r: dict, kept: list[tuple[str, dict]]):
        rp = self.policy.review
        groups, own, low = self._index(kept)
        score = _f(r["score"])
        if score <= _f(rp.extreme_low) or score >= _f(rp.extreme_high):
            yield "RATING_EXTREME", [_src(name, r)]
        if score <= _f(rp.low_needs_comment) and ref._blank(r.get("comment")):
            yield "RATING_LOW_NO_COMMENT", [_src(name, r)]
        key = (r["ratee_dept_id"], _label(r["dimension"]))
        total, n = groups[key]
        own_total, own_n = own[(key, r["rater_id"])]
        if n - own_n >= rp.outlier_min_peers:
            mean = (total - own_total) / (n - own_n)
            if _at_least(abs(score - mean), _f(rp.outlier_deviation)):
                yield "RATING_OUTLIER", [_src(name, r)]
        if sheet == "InternalRatings" and score <= _f(rp.mutual_low):
            rater_dept = self.emps[r["rater_id"]]["dept_id"]
            counterparts = low.get((rater_dept, r["ratee_dept_id"]), [])
            if counterparts:
                yield "RATING_MUTUAL_LOW", [_src(name, r)] + [_src(n, c) for n, c in counterparts]

    def _counted_by_dept(self, sheet: str) -> dict[str, list[tuple[str, dict]]]:
        by = defaultdict(list)
        for name, r in self.counted[sheet]:
            by[r["ratee_dept_id"]].append((name, r))
        return by

    def peripheral(self) -> None:
        pp, scale = self.policy.peripheral, _f(self.policy.scale.rating_to_points)
        metrics_by_dept = defaultdict(list)
        for m in self.rows("ServiceMetrics"):
            metrics_by_dept[m["dept_id"]].append(m)
        counted = self._counted_by_dept("InternalRatings")
        if "InternalRatings" in self.carried:
            return
        for dept_id, dept in self.depts.items():
            if dept["tier"] == "front":
                continue
            ratings = counted.get(dept_id, [])
            if not ratings:
                self.exception("PERIPHERAL_NO_RATINGS", "peripheral", dept_id, (dept_id,),
                               [_src("Departments", dept)], HR)
                continue
            r_d = scale * sum((_f(r["score"]) for _, r in ratings), Fraction(0)) / len(ratings)
            metrics = metrics_by_dept.get(dept_id, [])
            if metrics:
                o_d = 100 * sum((_f(m["value"]) for m in metrics), Fraction(0)) / len(metrics)
                share = _f(pp.objective_share)
                p_d = (1 - share) * r_d + share * o_d
            else:
                p_d = r_d
            sources = ([_src("Departments", dept)] + [_src(n, r) for n, r in ratings]
                       + [_src("ServiceMetrics", m) for m in metrics])
            self.adjust("department", dept_id, "peripheral", "peripheral.blend",
                        _f(pp.weight) * (p_d - _f(dept["base_score"])), sources)

    def raci(self) -> None:
        weight, scale = _f(self.policy.raci.weight), _f(self.policy.scale.rating_to_points)
        counted = self._counted_by_dept("RaciRatings")
        if "RaciRatings" in self.carried:
            return
        for dept_id, dept in self.depts.items():
            if dept["tier"] == "front":
                continue
            ratings = counted.get(dept_id, [])
            if not ratings:
                continue
            q_d = scale * sum((_f(r["score"]) for _, r in ratings), Fraction(0)) / len(ratings)
            sources = [_src("Departments", dept)] + [_src(n, r) for n, r in ratings]
            self.adjust("department", dept_id, "raci", "raci.blend",
                        weight * (q_d - _f(dept["base_score"])), sources)

    def finals(self, result) -> None:
        zero = Decimal("0.00")
        dept_sum = defaultdict(lambda: {m: zero for m in ("linkage", "peripheral", "raci", "interlock")})
        emp_sum = defaultdict(lambda: zero)
        for a in result.adjustments:
            if a["subject_type"] == "department":
                dept_sum[a["subject_id"]][a["mechanism"]] += a["points"]
            else:
                emp_sum[a["subject_id"]] += a["points"]
        for dept_id in sorted(self.depts):
            by = dept_sum[dept_id]
            base = self.depts[dept_id]["base_score"]
            result.departments[dept_id] = {"dept_id": dept_id, "base": base, "by_mechanism": by,
                                           "final": base + sum(by.values(), zero)}
        for employee_id in sorted(self.emps):
            behaviour = emp_sum[employee_id]
            base = self.emps[employee_id].get("base_score")
            result.employees[employee_id] = {
                "employee_id": employee_id, "base": base, "behaviour": behaviour,
                "final": None if base is None else base + behaviour}


def plain_evaluate(ledger, policy, period: str, decisions: dict | None = None):
    """reference_evaluate(), indexed (see the module docstring)."""
    return PlainEvaluation(ledger, policy, period, decisions or {}).run()
