"""The sample company (xietong/sample.py): believable, deterministic, clean master data, and
every rule and exception kind of SPEC §5 present even in a 40-person company.

The trigger checks are simple predicates written from SPEC's tables, on the generated rows
directly, so they do not depend on the rules engine; a second test runs the plain-Python
reference evaluator (tests/reference.py) on the same rows as a cross-check.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from importers.result import Ledger
from xietong.sample import Planted, generate_company, planted_cases
from importers.schema import ENUMS, REFERENCES, RESERVED_EMPLOYEE_IDS, SHEETS
from rules.policy import load_policy

PERIOD = "2026-11"
POLICY = load_policy()
EVERY_KIND = [
    "BEH_UNKNOWN_REF", "BEH_OUT_OF_PERIOD", "BEH_UNKNOWN_CODE", "BEH_POINTS_RANGE",
    "BEH_NO_EVIDENCE", "BEH_SELF_PROPOSED", "BEH_UNAUTHORIZED", "BEH_FREQUENT_PROPOSER",
    "RATING_UNKNOWN_REF", "RATING_SELF", "RATING_NOT_SUPPORT", "RACI_REVERSE", "RATING_EXTREME",
    "RATING_LOW_NO_COMMENT", "RATING_OUTLIER", "RATING_MUTUAL_LOW", "PERIPHERAL_NO_RATINGS",
    "INTERLOCK_WEIGHTS", "INTERLOCK_PARTIES", "INTERLOCK_ASYMMETRIC", "INTERLOCK_TOO_MANY",
    "INTERLOCK_MISSED",
]
EVERY_RULE = ["linkage.blend", "peripheral.blend", "raci.blend", "interlock.reward",
              "interlock.penalty", "behaviour.credit", "behaviour.cap"]


@pytest.fixture(scope="module")
def small():
    return generate_company(40, PERIOD, seed=0)


@pytest.fixture(scope="module")
def medium():
    return generate_company(3000, PERIOD, seed=7)


# ----------------------------------------------------------------------------- shape and data

def test_deterministic_for_a_seed(small):
    assert generate_company(40, PERIOD, seed=0) == small
    assert generate_company(40, PERIOD, seed=1) != small
    assert planted_cases(40, PERIOD, seed=0) == planted_cases(40, PERIOD, seed=0)


@pytest.mark.parametrize("company", ["small", "medium"])
def test_rows_are_typed_as_the_importer_produces_them(company, request):
    rows = request.getfixturevalue(company)
    assert list(rows) == [s.name for s in SHEETS]
    kinds = {"id": str, "text": str, "number": Decimal, "ratio": Decimal, "date": dt.date,
             "enum": str}
    for sheet in SHEETS:
        names = [c.name for c in sheet.columns]
        for row in rows[sheet.name]:
            assert list(row) == names, sheet.name
            for col in sheet.columns:
                v = row[col.name]
                if v is None:
                    assert col.optional, (sheet.name, col.name)
                    continue
                assert type(v) is kinds[col.kind], (sheet.name, col.name, v)
                if col.kind == "enum":
                    assert v in ENUMS[col.enum]
                if col.kind in ("id", "text"):
                    assert v == v.strip() and v
                if col.kind in ("number", "ratio"):
                    assert col.min is None or (v > col.min if col.min_exclusive else v >= col.min)
                    assert col.max is None or v <= col.max


@pytest.mark.parametrize("company", ["small", "medium"])
def test_master_data_imports_cleanly(company, request):
    rows = request.getfixturevalue(company)
    for sheet in SHEETS:
        keys = [tuple(r[k] for k in sheet.key) for r in rows[sheet.name]]
        assert len(keys) == len(set(keys)), f"duplicate key in {sheet.name}"
    for sheet, column, target, target_col in REFERENCES:
        known = {r[target_col] for r in rows[target]}
        for r in rows[sheet]:
            assert r[column] is None or r[column] in known, (sheet, column, r[column])
    employees = {r["employee_id"]: r for r in rows["Employees"]}
    assert not set(employees) & RESERVED_EMPLOYEE_IDS
    for start in employees:                  # no cycles; chains 3–5 deep at most
        seen, e = [], start
        while e is not None:
            assert e not in seen, f"manager cycle through {start}"
            seen.append(e)
            e = employees[e]["manager_id"]
        assert len(seen) <= 5
    assert max(_depth(employees, e) for e in employees) >= 3
    assert sum(1 for r in employees.values() if r["manager_id"] is None) == 1     # one CEO


def _depth(employees, e):
    d = 0
    while e is not None:
        d, e = d + 1, employees[e]["manager_id"]
    return d


def test_a_believable_company(small, medium):
    tiers = {r["name"]: r["tier"] for r in small["Departments"]}
    assert tiers["销售部"] == tiers["市场部"] == "front"
    assert tiers["产品部"] == tiers["数据部"] == "middle"
    assert {tiers[n] for n in ("供应链部", "IT部", "人力资源部", "财务部", "法务部")} == {"back"}
    names = [r["name"] for r in medium["Departments"]]
    assert len(names) > 20 and any(n.endswith("销售部") and n != "销售部" for n in names)
    assert all(2 <= len(r["name"]) <= 4 for r in medium["Employees"])        # 张伟, 欧阳子涵
    per_employee = sum(len(v) for v in medium.values()) / len(medium["Employees"])
    assert 8.5 <= per_employee <= 11.5
    kpis = {r["name"]: r["direction"] for r in small["CompanyKPIs"]}
    assert any(n.startswith("成本费用率") and d == "lower" for n, d in kpis.items())
    for r in small["Behaviours"]:            # evidence looks like evidence
        assert r["evidence"] is None or any(
            m in r["evidence"] for m in ("OA-", "会议纪要", "https://", "项目周报", "邮件"))
    # Linkage: the front office is linked strongly, the back office weakly, on the whole.
    tier_of = {r["dept_id"]: r["tier"] for r in medium["Departments"]}
    levels = defaultdict(Counter)
    for r in medium["Linkage"]:
        levels[tier_of[r["dept_id"]]][r["level"]] += 1
    assert levels["front"]["high"] > levels["front"]["low"]
    assert levels["back"]["low"] > levels["back"]["high"]


# ----------------------------------------------------------------------------- every trigger

class _Facts:
    """The ledger's reference data, for predicates written straight from SPEC §5."""

    def __init__(self, rows):
        self.rows = rows
        self.emp = {r["employee_id"]: r for r in rows["Employees"]}
        self.tier = {r["dept_id"]: r["tier"] for r in rows["Departments"]}
        self.lead = {r["project_id"]: r["lead_id"] for r in rows["Projects"]}

    def dept(self, e):
        return self.emp[e]["dept_id"]

    def above(self, e):
        out, m = [], self.emp[e]["manager_id"]
        while m is not None:
            out.append(m)
            m = self.emp[m]["manager_id"]
        return out

    def behaviour_rejections(self, r):
        kinds = set()
        refs_known = r["employee_id"] in self.emp and r["proposer_id"] in self.emp and \
            (r["project_id"] is None or r["project_id"] in self.lead)
        if not refs_known:
            kinds.add("BEH_UNKNOWN_REF")
        if (r["date"].year, r["date"].month) != (2026, 11):
            kinds.add("BEH_OUT_OF_PERIOD")
        entry = POLICY.behaviour.lookup(r["behaviour_code"])
        if entry is None:
            kinds.add("BEH_UNKNOWN_CODE")
        elif not entry.allows(r["points"]):
            kinds.add("BEH_POINTS_RANGE")
        if r["evidence"] is None:
            kinds.add("BEH_NO_EVIDENCE")
        if r["proposer_id"] == r["employee_id"]:
            kinds.add("BEH_SELF_PROPOSED")
        elif refs_known and r["proposer_id"] not in self.above(r["employee_id"]) and \
                self.lead.get(r["project_id"]) != r["proposer_id"]:
            kinds.add("BEH_UNAUTHORIZED")
        return kinds

    def rating_rejections(self, sheet, r):
        if r["rater_id"] not in self.emp or r["ratee_dept_id"] not in self.tier or \
                (sheet == "RaciRatings" and r["project_id"] not in self.lead):
            return {"RATING_UNKNOWN_REF"}
        kinds = set()
        if self.dept(r["rater_id"]) == r["ratee_dept_id"]:
            kinds.add("RATING_SELF")
        if sheet == "InternalRatings" and self.tier[r["ratee_dept_id"]] == "front":
            kinds.add("RATING_NOT_SUPPORT")
        if sheet == "RaciRatings" and (self.tier[self.dept(r["rater_id"])] != "front"
                                       or self.tier[r["ratee_dept_id"]] == "front"):
            kinds.add("RACI_REVERSE")
        return kinds


def found_kinds(rows) -> dict[str, list[str]]:
    """kind (or rule id) -> keys of the rows that trigger it, by SPEC's definitions."""
    f, review, found = _Facts(rows), POLICY.review, defaultdict(list)
    # §5.1 behaviours
    accepted = []
    for r in rows["Behaviours"]:
        kinds = f.behaviour_rejections(r)
        for k in kinds:
            found[k].append(r["event_id"])
        if not kinds:
            accepted.append(r)
            found["behaviour.credit"].append(r["event_id"])
    pairs = Counter((r["proposer_id"], r["employee_id"]) for r in accepted if r["points"] > 0)
    found["BEH_FREQUENT_PROPOSER"] = [f"{p}->{e}" for (p, e), n in pairs.items()
                                      if n >= POLICY.behaviour.frequent_proposer]
    totals = Counter()
    for r in accepted:
        totals[r["employee_id"]] += r["points"]
    found["cap above"] = [e for e, t in totals.items() if t > POLICY.behaviour.cap]
    found["cap below"] = [e for e, t in totals.items() if t < -POLICY.behaviour.cap]
    found["behaviour.cap"] = found["cap above"] + found["cap below"]
    # §5.2 ratings
    kept = defaultdict(list)
    for sheet in ("InternalRatings", "RaciRatings"):
        for r in rows[sheet]:
            kinds = f.rating_rejections(sheet, r)
            for k in kinds:
                found[k].append(r["rating_id"])
            if not kinds:
                kept[sheet].append(r)
                if r["score"] <= review.extreme_low or r["score"] >= review.extreme_high:
                    found["RATING_EXTREME"].append(r["rating_id"])
                if r["score"] <= review.low_needs_comment and r["comment"] is None:
                    found["RATING_LOW_NO_COMMENT"].append(r["rating_id"])
    for sheet, ratings in kept.items():
        groups = defaultdict(list)
        for r in ratings:
            groups[(r["ratee_dept_id"], r["dimension"])].append(r)
        for group in groups.values():
            for r in group:
                others = [o["score"] for o in group if o["rater_id"] != r["rater_id"]]
                if len(others) >= review.outlier_min_peers and \
                        abs(r["score"] - sum(others) / len(others)) >= review.outlier_deviation:
                    found["RATING_OUTLIER"].append(r["rating_id"])
    low = defaultdict(list)
    for r in kept["InternalRatings"]:
        if r["score"] <= review.mutual_low:
            low[(f.dept(r["rater_id"]), r["ratee_dept_id"])].append(r["rating_id"])
    for (a, b), ids in low.items():
        if (b, a) in low:
            found["RATING_MUTUAL_LOW"].extend(ids)
    # §5.4 / §5.5 peripheral and RACI
    rated = {r["ratee_dept_id"] for r in kept["InternalRatings"]}
    for d, tier in f.tier.items():
        if tier != "front":
            (found["peripheral.blend"] if d in rated else found["PERIPHERAL_NO_RATINGS"]).append(d)
    found["raci.blend"] = sorted({r["ratee_dept_id"] for r in kept["RaciRatings"]})
    # §5.3 linkage
    found["linkage.blend"] = sorted({r["dept_id"] for r in rows["Linkage"]})
    # §5.6 interlocks
    parties = defaultdict(list)
    for p in rows["InterlockParties"]:
        parties[p["metric_id"]].append(p)
    per_dept = Counter(p["dept_id"] for p in rows["InterlockParties"])
    found["INTERLOCK_TOO_MANY"] = [d for d, n in per_dept.items()
                                   if n > POLICY.interlock.max_metrics_per_dept]
    for m in rows["Interlocks"]:
        ps = parties[m["metric_id"]]
        invalid = False
        if abs(sum(p["weight"] for p in ps) - 1) > Decimal("0.001"):
            found["INTERLOCK_WEIGHTS"].append(m["metric_id"])
            invalid = True
        if sum(1 for p in ps if p["weight"] > 0) < 2:
            found["INTERLOCK_PARTIES"].append(m["metric_id"])
            invalid = True
        if m["bonus_points"] != m["penalty_points"]:        # symmetry = "equal"
            found["INTERLOCK_ASYMMETRIC"].append(m["metric_id"])
            invalid = True
        if invalid:
            continue
        a = m["actual"] / m["target"] if m["direction"] == "higher" else m["target"] / m["actual"]
        severe = m["severe_miss_ratio"] or POLICY.interlock.severe_miss_ratio
        if a >= 1:
            found["interlock.reward"].append(m["metric_id"])
        else:
            found["INTERLOCK_MISSED"].append(m["metric_id"])
            if a < severe:
                found["interlock.penalty"].append(m["metric_id"])
    return found


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_forty_employees_trigger_every_kind_and_rule(seed):
    rows = generate_company(40, PERIOD, seed)
    found = found_kinds(rows)
    missing = [k for k in EVERY_KIND + EVERY_RULE + ["cap above", "cap below"] if not found[k]]
    assert not missing


def test_planted_cases_point_at_rows_that_trigger_their_kind(small):
    found = found_kinds(small)
    planted = planted_cases(40, PERIOD, seed=0)
    assert {p.kind for p in planted} >= set(EVERY_KIND) | {
        "behaviour.cap", "interlock.reward", "interlock.penalty"}
    keys = {s.name: {r[s.key[0]] for r in small[s.name]} for s in SHEETS if len(s.key) == 1}
    rows = {r["event_id"]: r for r in small["Behaviours"]}
    for p in planted:
        assert isinstance(p, Planted) and p.key in keys[p.sheet], p
        if p.kind == "behaviour.cap":                        # found by employee
            assert rows[p.key]["employee_id"] in found[p.kind], p
        elif p.kind != "BEH_FREQUENT_PROPOSER":
            assert p.key in found[p.kind], p
    # The planted frequent proposer: one (proposer, employee) pair with `frequent_proposer` rows.
    pairs = {(rows[p.key]["proposer_id"], rows[p.key]["employee_id"])
             for p in planted if p.kind == "BEH_FREQUENT_PROPOSER"}
    assert len(pairs) == 1 and f"{pairs.pop()[0]}->" in " ".join(found["BEH_FREQUENT_PROPOSER"])


def test_mistakes_are_rare_in_a_big_company(medium):
    found = found_kinds(medium)
    n_beh, n_int = len(medium["Behaviours"]), len(medium["InternalRatings"])
    rejected = {e for k, v in found.items() if k.startswith("BEH_") and k != "BEH_FREQUENT_PROPOSER"
                for e in v}
    assert 0 < len(rejected) < 0.05 * n_beh
    assert 0 < len(found["RATING_EXTREME"]) < 0.06 * n_int
    assert all(found[k] for k in EVERY_KIND + EVERY_RULE)


def test_reference_evaluator_agrees(small):
    """Cross-check with the plain-Python oracle of SPEC §5 (no rules engine involved)."""
    from tests.reference import reference_evaluate
    typed = {s: [dict(r, row=i) for i, r in enumerate(v, 2)] for s, v in small.items()}
    result = reference_evaluate(Ledger("sample.xlsx", "0" * 64, typed), POLICY, PERIOD)
    kinds = {e["kind"] for e in result.exceptions}
    rules = Counter(a["rule"] for a in result.adjustments)
    assert set(EVERY_KIND) <= kinds
    assert set(EVERY_RULE) <= set(rules)
    caps = [a["points"] for a in result.adjustments if a["rule"] == "behaviour.cap"]
    assert min(caps) < 0 < max(caps)                         # capped both ways


def test_bad_arguments():
    with pytest.raises(ValueError):
        generate_company(10, PERIOD)
    with pytest.raises(ValueError):
        generate_company(40, "2026/11")
