"""Ledgers written in code for tests: a small builder, SPEC §9's worked example, and a random
ledger generator for differential and property tests.

The builder produces exactly what the importer hands on (importers/schema.py): canonical column
names, Decimals for numbers and ratios, `date` objects, canonical enum codes, None for a blank
optional cell, and "row" = the Excel row (header = row 1, so the first data row is 2).

    b = LedgerBuilder()
    b.dept("D1", tier="front", base=80, manager="E1")
    b.emp("E1", "D1")
    b.behaviour("B1", employee="E1", code="LEAD", points=2, proposer="E9")
    ledger = b.build()
"""
from __future__ import annotations

import hashlib
import json
import random
from datetime import date
from decimal import Decimal
from typing import Any

from importers.result import Ledger
from importers.schema import SHEET_BY_NAME, SHEETS

PERIOD = "2026-11"
IN_PERIOD = "2026-11-03"


def _typed(column, value: Any) -> Any:
    if value is None:
        return column.default if column.kind == "enum" else None
    if column.kind in ("number", "ratio"):
        return value if isinstance(value, Decimal) else Decimal(str(value))
    if column.kind == "date":
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    return str(value)


class LedgerBuilder:
    """Rows typed as the importer types them; every add_* returns the row dict."""

    def __init__(self, file_name: str = "ledger.xlsx"):
        self.file_name = file_name
        self.rows: dict[str, list[dict]] = {s.name: [] for s in SHEETS}

    def add(self, sheet: str, row: int | None = None, **values: Any) -> dict:
        """A row of `sheet`; `row` defaults to the next Excel row after the sheet's last one."""
        spec = SHEET_BY_NAME[sheet]
        unknown = set(values) - {c.name for c in spec.columns}
        if unknown:
            raise TypeError(f"{sheet} has no column {sorted(unknown)}")
        typed = {c.name: _typed(c, values.get(c.name)) for c in spec.columns}
        existing = self.rows[sheet]
        typed["row"] = row if row is not None else (existing[-1]["row"] + 1 if existing else 2)
        existing.append(typed)
        return typed

    # One helper per sheet, with the arguments tests care about first.
    def dept(self, dept_id, tier="back", base=70, manager=None, name=None):
        return self.add("Departments", dept_id=dept_id, name=name or dept_id, tier=tier,
                        manager_id=manager, base_score=base)

    def emp(self, employee_id, dept, manager=None, base=None, name=None):
        return self.add("Employees", employee_id=employee_id, name=name or employee_id,
                        dept_id=dept, manager_id=manager, base_score=base)

    def project(self, project_id, lead, name=None):
        return self.add("Projects", project_id=project_id, name=name or project_id, lead_id=lead)

    def kpi(self, kpi_id, target, actual, direction=None, name=None):
        return self.add("CompanyKPIs", kpi_id=kpi_id, name=name or kpi_id, target=target,
                        actual=actual, direction=direction)

    def link(self, dept, kpi, level):
        return self.add("Linkage", dept_id=dept, kpi_id=kpi, level=level)

    def rating(self, rating_id, rater, ratee, score, dimension="响应速度", comment=None):
        return self.add("InternalRatings", rating_id=rating_id, rater_id=rater,
                        ratee_dept_id=ratee, dimension=dimension, score=score, comment=comment)

    def metric(self, dept, metric, value):
        return self.add("ServiceMetrics", dept_id=dept, metric=metric, value=value)

    def raci(self, rating_id, project, rater, ratee, score, role="R", dimension="方案可执行性",
             comment=None):
        return self.add("RaciRatings", rating_id=rating_id, project_id=project, rater_id=rater,
                        ratee_dept_id=ratee, raci_role=role, dimension=dimension, score=score,
                        comment=comment)

    def interlock(self, metric_id, target, actual, bonus, penalty, direction=None, severe=None,
                  name=None):
        return self.add("Interlocks", metric_id=metric_id, name=name or metric_id, target=target,
                        actual=actual, direction=direction, bonus_points=bonus,
                        penalty_points=penalty, severe_miss_ratio=severe)

    def party(self, metric, dept, weight):
        return self.add("InterlockParties", metric_id=metric, dept_id=dept, weight=weight)

    def behaviour(self, event_id, employee, code, points, proposer, day=IN_PERIOD, project=None,
                  evidence="纪要-001", note=None):
        return self.add("Behaviours", event_id=event_id, date=day, employee_id=employee,
                        behaviour_code=code, points=points, proposer_id=proposer,
                        project_id=project, evidence=evidence, note=note)

    def review(self, review_id, decision, reviewer, comment=None):
        return self.add("Reviews", review_id=review_id, decision=decision, reviewer_id=reviewer,
                        comment=comment)

    def build(self) -> Ledger:
        """The Ledger; its sha256 is a digest of the rows, so equal ledgers have equal hashes."""
        text = json.dumps(self.rows, sort_keys=True, default=str, ensure_ascii=False)
        return Ledger(file_name=self.file_name,
                      sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                      rows={k: [dict(r) for r in v] for k, v in self.rows.items()})


# ---------------------------------------------------------------------------------------------
# SPEC §9.

def worked_example() -> LedgerBuilder:
    """SPEC §9: D3 (back office, IT), base 70 → final 82.41.

    linkage 8.11 + 5.35 = 13.46 (K1 high 110/100; K2 medium, lower, 50/40; W = 0.37 → scaled to
    0.30); peripheral 2.25 (ratings 4, 4, 5 — the 5 held as RATING_EXTREME — and ticket_sla
    0.9); raci −1.50 (one rating 3); interlock −1.80 (M1 75/100 < 0.8, penalty 6 × 0.3) and an
    INTERLOCK_MISSED review for D3's manager. D1 (front, sales) is the raters' department and
    holds the other 0.7 of M1.
    """
    b = LedgerBuilder("worked-example.xlsx")
    b.dept("D1", tier="front", base=80, manager="E1", name="销售部")
    b.dept("D3", tier="back", base=70, manager="E30", name="IT部")
    b.emp("E1", "D1", name="张总")
    b.emp("E2", "D1", manager="E1", name="王销售")
    b.emp("E3", "D1", manager="E1", name="李销售")
    b.emp("E4", "D1", manager="E1", name="赵销售")
    b.emp("E30", "D3", name="IT负责人")
    b.emp("E31", "D3", manager="E30", name="运维工程师")
    b.project("P1", "E1", name="大客户项目")
    b.kpi("K1", 100, 110, name="收入")
    b.kpi("K2", 50, 40, direction="lower", name="成本")
    b.link("D3", "K1", "high")
    b.link("D3", "K2", "medium")
    b.rating("R1", "E2", "D3", 4)
    b.rating("R2", "E3", "D3", 4)
    b.rating("R3", "E4", "D3", 5)
    b.metric("D3", "ticket_sla", "0.9")
    b.raci("Q1", "P1", "E2", "D3", 3)
    b.interlock("M1", 100, 75, 6, 6, name="新业务收入")
    b.party("M1", "D1", "0.7")
    b.party("M1", "D3", "0.3")
    return b


def small_company() -> LedgerBuilder:
    """Three departments and a two-level chain under C0, to add transactions to:

        F (front, base 80, head F1): C0 (top), F1 ← C0, F2 (base 75) / F3 / F4 ← F1
        M (middle, base 70, head M1): M1 ← C0, M2 (base 80) ← M1
        B (back, base 60, head B1):   B1 ← C0, B2 (base 90) ← B1
        P1: project led by F2

    With no ratings, M and B each get a PERIPHERAL_NO_RATINGS notice.
    """
    b = LedgerBuilder("small-company.xlsx")
    b.dept("F", tier="front", base=80, manager="F1", name="销售部")
    b.dept("M", tier="middle", base=70, manager="M1", name="产品部")
    b.dept("B", tier="back", base=60, manager="B1", name="IT部")
    b.emp("C0", "F", name="总经理")
    b.emp("F1", "F", manager="C0")
    b.emp("F2", "F", manager="F1", base=75)
    b.emp("F3", "F", manager="F1")
    b.emp("F4", "F", manager="F1")
    b.emp("M1", "M", manager="C0")
    b.emp("M2", "M", manager="M1", base=80)
    b.emp("B1", "B", manager="C0")
    b.emp("B2", "B", manager="B1", base=90)
    b.project("P1", "F2")
    return b


# ---------------------------------------------------------------------------------------------
# Random ledgers: valid master data (what the import guarantees), messy transactions (what the
# rules must sort out). Deterministic per seed.

_DIMENSIONS = ("响应速度", " 响应速度 ", "专业能力", "Speed", "speed", "SPEED  ", "沟通 配合", "沟通  配合")
_SCORES = ("1", "2", "3", "4", "5", "3.5", "4.5", "1.5", "2.5")


def random_ledger(seed: int, size: int = 1, catalog: dict | None = None) -> LedgerBuilder:
    """A random ledger for PERIOD. `size` scales the row counts; `catalog` maps code → (min, max,
    zh) (default: the shipped catalog's shape, used to make in-range and out-of-range points)."""
    rng = random.Random(seed)
    catalog = catalog or {
        "LEAD": (1, 3, "主动牵头跨部门项目并推动关键节点落地"),
        "RESCUE": (1, 3, "他部门遇到紧急问题时主动投入资源支援"),
        "SHARE": (1, 2, "跨部门分享经验、数据、工具，明显提升整体效率"),
        "IMPROVE": (1, 3, "发现流程漏洞并推动改进建议被采纳"),
        "DELAY": (-3, -1, "故意拖延对他部门的必要配合"),
        "BLAME": (-2, -1, "跨部门会议中反复翻旧账、推诿责任"),
        "WITHHOLD": (-5, -2, "明知信息重要却长期不共享，导致重大损失"),
    }
    b = LedgerBuilder(f"random-{seed}.xlsx")

    def gap(sheet):                     # blank rows are skipped by the importer: rows may jump
        rows = b.rows[sheet]
        return (rows[-1]["row"] if rows else 1) + rng.choice((1, 1, 1, 2, 5))

    n_depts = rng.randint(2, 3 + 2 * size)
    depts = [f"D{i}" for i in range(1, n_depts + 1)]
    rng.shuffle(depts)                  # ids out of row order: output order is by id
    tiers = {d: rng.choice(("front", "front", "middle", "back")) for d in depts}
    tiers[depts[0]], tiers[depts[-1]] = "front", rng.choice(("middle", "back"))

    n_emps = rng.randint(n_depts + 1, 3 * n_depts + 3 * size)
    emps = [f"E{i:02d}" for i in range(1, n_emps + 1)]
    emp_dept, emp_manager = {}, {}
    for i, e in enumerate(emps):
        emp_dept[e] = depts[i] if i < n_depts else rng.choice(depts)
        # a manager among earlier employees keeps the chain acyclic (the import refuses cycles)
        emp_manager[e] = rng.choice(emps[:i]) if i and rng.random() < 0.8 else None
    dept_manager = {}
    for d in depts:
        members = [e for e in emps if emp_dept[e] == d]
        dept_manager[d] = rng.choice(members + [None]) if rng.random() < 0.9 else None
        b.add("Departments", row=gap("Departments"), dept_id=d, name=f"部门{d}", tier=tiers[d],
              manager_id=dept_manager[d], base_score=rng.choice(("60", "70", "85.5", "100", "0", "123.45")))
    for e in emps:
        b.add("Employees", row=gap("Employees"), employee_id=e, name=f"员工{e}", dept_id=emp_dept[e],
              manager_id=emp_manager[e],
              base_score=rng.choice((None, "60", "75", "88.88", "100")))

    projects = [f"P{i}" for i in range(1, rng.randint(0, 2 + size) + 1)]
    leads = {}
    for p in projects:
        leads[p] = rng.choice(emps)
        b.add("Projects", row=gap("Projects"), project_id=p, name=f"项目{p}", lead_id=leads[p])

    kpis = [f"K{i}" for i in range(1, rng.randint(0, 3) + 1)]
    for k in kpis:
        b.add("CompanyKPIs", row=gap("CompanyKPIs"), kpi_id=k, name=f"指标{k}",
              target=rng.choice(("50", "100", "120", "0.875")),
              actual=rng.choice(("0", "40", "75", "100", "110", "0.7", "500")),
              direction=rng.choice((None, "higher", "lower")))
    for d in depts:
        for k in kpis:
            if rng.random() < 0.5:
                b.add("Linkage", row=gap("Linkage"), dept_id=d, kpi_id=k,
                      level=rng.choice(("high", "medium", "low")))

    def some_emp():
        return rng.choice(emps) if rng.random() < 0.93 else rng.choice(("X99", "HR", "e01"))

    def some_dept():
        return rng.choice(depts) if rng.random() < 0.93 else "D99"

    for i in range(rng.randint(0, 8 * size + 4)):
        b.add("InternalRatings", row=gap("InternalRatings"), rating_id=f"R{i}", rater_id=some_emp(),
              ratee_dept_id=some_dept(), dimension=rng.choice(_DIMENSIONS),
              score=rng.choice(_SCORES), comment=rng.choice((None, None, "说明", "   ")))
    for d in depts:
        for metric in ("ticket_sla", "milestone"):
            if rng.random() < 0.35:
                b.add("ServiceMetrics", row=gap("ServiceMetrics"), dept_id=d, metric=metric,
                      value=rng.choice(("0.9", "0.75", "1", "0", "0.925")))
    for i in range(rng.randint(0, 4 * size + 2)):
        b.add("RaciRatings", row=gap("RaciRatings"), rating_id=f"Q{i}",
              project_id=rng.choice(projects + ["P99"]) if projects else "P99",
              rater_id=some_emp(), ratee_dept_id=some_dept(), raci_role=rng.choice("RACI"),
              dimension=rng.choice(_DIMENSIONS), score=rng.choice(_SCORES),
              comment=rng.choice((None, "说明")))

    for i in range(rng.randint(0, 2 + size)):
        metric = f"M{i}"
        bonus = rng.choice(("0", "4", "6", "6"))
        b.add("Interlocks", row=gap("Interlocks"), metric_id=metric, name=f"互锁{metric}",
              target=rng.choice(("100", "0.875", "80")),
              actual=rng.choice(("0", "75", "0.7", "79.99999999999", "100", "120", "85")),
              direction=rng.choice((None, "lower")),
              bonus_points=bonus, penalty_points=bonus if rng.random() < 0.8 else "3",
              severe_miss_ratio=rng.choice((None, None, "0.8", "0.9", "1")))
        parties = rng.sample(depts, k=min(len(depts), rng.choice((1, 2, 2, 3, 4))))
        weights = rng.choice((("0.5", "0.3", "0.2", "0"), ("0.7", "0.3", "0", "0"),
                              ("0.333", "0.333", "0.333", "0"), ("0.6", "0.6", "0", "0"),
                              ("1", "0", "0", "0")))
        for d, w in zip(parties, weights):
            b.add("InterlockParties", row=gap("InterlockParties"), metric_id=metric, dept_id=d,
                  weight=w)

    codes = list(catalog)
    for i in range(rng.randint(0, 10 * size + 4)):
        employee = some_emp()
        code = rng.choice(codes)
        lo, hi, zh = catalog[code]
        points = rng.choice((lo, hi, (lo + hi) / 2, hi + 1, 0, lo - 1, 2.5 if hi > 0 else -2.5))
        spelled = rng.choice((code, code, zh, code.lower(), f" {code} ", "FLY"))
        chain = []
        cur = emp_manager.get(employee)
        while cur:
            chain.append(cur)
            cur = emp_manager[cur]
        project = rng.choice([None, None] + projects + ["P99"])
        candidates = chain + ([leads[project]] if project in leads else []) + [employee] + emps
        proposer = rng.choice(candidates[:3] if rng.random() < 0.7 else candidates)
        day = rng.choice((IN_PERIOD, "2026-11-30", "2026-11-01", "2026-10-31", "2026-12-01"))
        b.add("Behaviours", row=gap("Behaviours"), event_id=f"B{i}", date=day,
              employee_id=employee, behaviour_code=spelled, points=str(points),
              proposer_id=proposer if rng.random() < 0.95 else "X98", project_id=project,
              evidence=rng.choice(("纪要-1", "纪要-2", None, "https://example.org/x")))
    # Same proposer, same employee, many bonus rows: the frequent-proposer review.
    if rng.random() < 0.5 and emps:
        employee = rng.choice(emps)
        proposer = emp_manager[employee] or rng.choice(emps)
        for j in range(rng.randint(2, 5)):
            b.add("Behaviours", row=gap("Behaviours"), event_id=f"F{j}", date=IN_PERIOD,
                  employee_id=employee, behaviour_code=rng.choice(("LEAD", "RESCUE", "IMPROVE")),
                  points=rng.choice(("1", "2", "3", "2.505")), proposer_id=proposer,
                  project_id=None, evidence="纪要")
    return b


def random_decisions(exceptions: list[dict], seed: int) -> dict[str, str]:
    """Random decisions on the review items of a result's `exceptions` (review_id → decision)."""
    rng = random.Random(seed)
    decisions = {}
    for e in exceptions:
        if e["type"] == "review" and rng.random() < 0.6:
            decisions[e["review_id"]] = rng.choice(("confirm", "overturn"))
    return decisions
