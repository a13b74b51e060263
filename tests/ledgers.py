"""Ledgers written in code for tests: a small builder, SPEC §9's worked example, and random
ledgers for differential and property tests — seeded (`random_ledger`) or drawn by hypothesis
(`ledgers()`, which shrinks a failing ledger to a small one).

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
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterable, Sequence

from hypothesis import strategies as st

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

    def __repr__(self) -> str:
        """The rows of every sheet that has some: what a failing hypothesis example shows."""
        def row(r):
            return "{" + ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}"
                                   for k, v in r.items() if v is not None) + "}"
        sheets = "".join(f"\n  {name}:" + "".join(f"\n    {row(r)}" for r in rows)
                         for name, rows in self.rows.items() if rows)
        return f"LedgerBuilder({self.file_name!r}){sheets}"

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


def spooled(rows: dict[str, list[dict]]) -> dict:
    """The rows as evaluator.runs.evaluate_period hands them to the evaluation: the sheets it
    reads from files (evaluator.runs.SPOOLED_SHEETS) as importers.spooled.SpooledRows, in Excel-row
    order, every column present (as the database gives them); the others as they are."""
    from evaluator.runs import SPOOLED_SHEETS
    from importers.spooled import SpooledRows
    out: dict = {}
    for sheet, lst in rows.items():
        if sheet not in SPOOLED_SHEETS:
            out[sheet] = lst
            continue
        keys = ("row", *(c.name for c in SHEET_BY_NAME[sheet].columns))
        out[sheet] = SpooledRows(keys)
        out[sheet].extend(tuple(r.get(k) for k in keys)
                          for r in sorted(lst, key=lambda r: r["row"]))
        out[sheet].flush()                  # on the file, as load_rows leaves them
    return out


def held(ledger: Ledger) -> Ledger:
    """An imported ledger with its transaction sheets read back from their files into lists
    (the files then closed): for tests that look rows up by position or compare ledgers."""
    rows = {sheet: list(lst) for sheet, lst in ledger.rows.items()}
    ledger.close()
    ledger.rows = rows
    return ledger


@contextmanager
def results_on_files(chunk: int = 3):
    """The evaluation's adjustments and exceptions kept on their files a few at a time
    (evaluator.evaluate.RESULTS_CHUNK), as at scale: a test ledger's would all stay in the
    chunk being filled."""
    import evaluator.evaluate as evaluate
    saved, evaluate.RESULTS_CHUNK = evaluate.RESULTS_CHUNK, chunk
    try:
        yield
    finally:
        evaluate.RESULTS_CHUNK = saved


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
# rules must sort out). One description (`_random_ledger`), two sources of choices:
#
# * `random_ledger(seed, size)`: a seeded random.Random — the same ledger for the same seed,
#   for tests that pin a few seeds;
# * `ledgers()`: a hypothesis strategy — the choices come from bytes hypothesis draws, so a
#   failing ledger shrinks: fewer departments, employees and rows, the first option of every
#   choice, and at every coin the likelier side (known employees, a manager, evidence...).

class _Choices:
    """The choices a random ledger is made of."""

    def choice(self, options: Sequence[Any]) -> Any: ...
    def randint(self, low: int, high: int) -> int: ...
    def chance(self, p: float) -> bool: ...       # True with probability p
    def shuffled(self, items: Sequence[Any]) -> list: ...
    def sample(self, items: Sequence[Any], k: int) -> list: ...
    def rows(self, low: int, high: int) -> Iterable[int]: ...   # 0, 1, … for low..high rows


class _Seeded(_Choices):
    """random.Random's own calls, in the order the description makes them."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def choice(self, options):
        return self.rng.choice(options)

    def randint(self, low, high):
        return self.rng.randint(low, high)

    def chance(self, p):
        return self.rng.random() < p

    def shuffled(self, items):
        out = list(items)
        self.rng.shuffle(out)
        return out

    def sample(self, items, k):
        return self.rng.sample(items, k=k)

    def rows(self, low, high):
        return range(self.rng.randint(low, high))


class _Drawn(_Choices):
    """Choices read from bytes that hypothesis draws: one byte per choice (two for a choice
    among more than 256 options), option i of n for a byte b with i = b·n // 256. A ledger takes
    hundreds of choices and a hypothesis draw costs ~30 µs: a draw per choice made a ledger
    cost ~20 ms, twenty times a seeded one; bytes drawn a row at a time cost ~2 ms.

    Hypothesis shrinks bytes towards zero, and a zero byte is the simplest choice: the first
    option, the low end of a range, no swap in a shuffle, the likelier side of a coin. Each row
    of a list reads its choices from bytes of its own, whose first byte says whether the row is
    there (zero: the list ends), so hypothesis drops a row by deleting its bytes and the rows
    after it keep theirs. A failing ledger thus shrinks to the few rows that matter, each of
    simple values. (The number of rows beyond `low` is geometric, with about the mean of the
    uniform count a seeded ledger has.)"""

    _ROW = st.binary(min_size=16, max_size=16)       # a row takes at most 14 choices
    _MORE = st.binary(min_size=64, max_size=64)

    def __init__(self, draw):
        self.draw = draw
        self.tape = b""
        self.pos = 0

    def _byte(self) -> int:
        if self.pos == len(self.tape):
            self.tape, self.pos = self.draw(self._MORE), 0
        self.pos += 1
        return self.tape[self.pos - 1]

    def _below(self, n: int) -> int:
        """0 <= i < n, nearly uniform; 0 for zero bytes."""
        if n <= 256:
            return self._byte() * n >> 8
        return ((self._byte() << 8) | self._byte()) * n >> 16

    def choice(self, options):
        return options[self._below(len(options))]

    def randint(self, low, high):
        return low + self._below(high - low + 1)

    def chance(self, p):
        b, cut = self._byte(), round(p * 256)
        return b < cut if p > 0.5 else b >= 256 - cut

    def shuffled(self, items):
        out = list(items)
        for i in range(len(out) - 1, 0, -1):          # Fisher-Yates; a zero byte: no swap
            j = i - self._below(i + 1)
            out[i], out[j] = out[j], out[i]
        return out

    def sample(self, items, k):
        return self.shuffled(items)[:k]

    def rows(self, low, high):
        more = (high - low) / 2                       # mean number of rows beyond low
        go_on = round(256 * more / (1 + more))
        for i in range(high):
            self.tape, self.pos = self.draw(self._ROW), 0
            if i >= low and self._byte() < 256 - go_on:
                return
            yield i


_DIMENSIONS = ("响应速度", " 响应速度 ", "专业能力", "Speed", "speed", "SPEED  ", "沟通 配合", "沟通  配合")
_SCORES = ("1", "2", "3", "4", "5", "3.5", "4.5", "1.5", "2.5")
# The shipped catalog's shape (code → min, max, zh), to make in-range and out-of-range points.
_CATALOG = {
    "LEAD": (1, 3, "主动牵头跨部门项目并推动关键节点落地"),
    "RESCUE": (1, 3, "他部门遇到紧急问题时主动投入资源支援"),
    "SHARE": (1, 2, "跨部门分享经验、数据、工具，明显提升整体效率"),
    "IMPROVE": (1, 3, "发现流程漏洞并推动改进建议被采纳"),
    "DELAY": (-3, -1, "故意拖延对他部门的必要配合"),
    "BLAME": (-2, -1, "跨部门会议中反复翻旧账、推诿责任"),
    "WITHHOLD": (-5, -2, "明知信息重要却长期不共享，导致重大损失"),
}


def random_ledger(seed: int, size: int = 1, catalog: dict | None = None,
                  period: str = PERIOD) -> LedgerBuilder:
    """A random ledger for `period` (its behaviours' dates), the same for the same seed. `size`
    scales the row counts; `catalog` maps code → (min, max, zh) (default: the shipped catalog's
    shape)."""
    return _random_ledger(_Seeded(seed), size, catalog or _CATALOG, f"random-{seed}.xlsx",
                          period)


def random_decisions(exceptions: list[dict], seed: int) -> dict[str, str]:
    """Random decisions on the review items of a result's `exceptions` (review_id → decision)."""
    return _decisions(_Seeded(seed), exceptions)


@st.composite
def ledgers(draw, min_size: int = 1, max_size: int = 4, period: str = PERIOD) -> LedgerBuilder:
    """Hypothesis strategy: the builder of a random ledger for `period`, of a size between
    min_size and max_size (as random_ledger's `size`); its repr lists the rows."""
    size = draw(st.integers(min_size, max_size))
    return _random_ledger(_Drawn(draw), size, _CATALOG, "drawn.xlsx", period)


@st.composite
def decisions(draw, exceptions: list[dict]) -> dict[str, str]:
    """Hypothesis strategy: decisions on some review items of `exceptions` (review_id →
    decision), drawn as random_decisions makes them."""
    return _decisions(_Drawn(draw), exceptions)


def _decisions(c: _Choices, exceptions: list[dict]) -> dict[str, str]:
    out = {}
    for e in exceptions:
        if e["type"] == "review" and c.chance(0.6):
            out[e["review_id"]] = c.choice(("confirm", "overturn"))
    return out


def _days(period: str) -> tuple[str, str, str, str, str]:
    """Dates a random Behaviours row of `period` takes: three in the month (the 3rd, its last
    day, the 1st), the day before it and the day after it."""
    first = date.fromisoformat(f"{period}-01")
    after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    last = after.toordinal() - 1
    return (f"{period}-03", date.fromordinal(last).isoformat(), first.isoformat(),
            date.fromordinal(first.toordinal() - 1).isoformat(), after.isoformat())


# Where review items stood before an evaluation (SPEC §11.4): review id → (first raised, the
# assignee in the latest earlier run). Times open straddle the deadline's multiples to the
# second (14 days exactly stays, one second more moves); earlier assignees are the item's own,
# anybody else, HR or nobody.
CLOCK = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)
_DAY = 86_400
_OPEN_FOR = (0, 1, 13 * _DAY, 14 * _DAY, 14 * _DAY + 1, 20 * _DAY, 28 * _DAY, 28 * _DAY + 1,
             42 * _DAY + 1, 57 * _DAY, 200 * _DAY, 7 * _DAY + 3_600)


def random_standing(exceptions: list[dict], employee_ids: Sequence[str], seed: int
                    ) -> dict[str, tuple[datetime, str | None]]:
    """Random standings of some review items of `exceptions`, as of CLOCK."""
    return _standing(_Seeded(seed), exceptions, employee_ids)


@st.composite
def standings(draw, exceptions: list[dict], employee_ids: Sequence[str]
              ) -> dict[str, tuple[datetime, str | None]]:
    """Hypothesis strategy: random_standing's standings, drawn."""
    return _standing(_Drawn(draw), exceptions, employee_ids)


def _standing(c: _Choices, exceptions, employee_ids):
    out = {}
    for e in exceptions:
        if e["type"] == "review" and c.chance(0.7):
            raised = CLOCK - timedelta(seconds=c.choice(_OPEN_FOR))
            last = c.choice((None, e["assignee_id"], e["assignee_id"], "HR",
                             *list(employee_ids)[:6]))
            out[e["review_id"]] = (raised, last)
    return out


def _random_ledger(c: _Choices, size: int, catalog: dict, file_name: str,
                   period: str = PERIOD) -> LedgerBuilder:
    b = LedgerBuilder(file_name)
    days = _days(period)

    def gap(sheet):                     # blank rows are skipped by the importer: rows may jump
        rows = b.rows[sheet]
        return (rows[-1]["row"] if rows else 1) + c.choice((1, 1, 1, 2, 5))

    n_depts = c.randint(2, 3 + 2 * size)
    # ids out of row order: output order is by id
    depts = c.shuffled([f"D{i}" for i in range(1, n_depts + 1)])
    tiers = {d: c.choice(("front", "front", "middle", "back")) for d in depts}
    tiers[depts[0]], tiers[depts[-1]] = "front", c.choice(("middle", "back"))

    emps, emp_dept, emp_manager = [], {}, {}
    for i in c.rows(n_depts + 1, 3 * n_depts + 3 * size):
        e = f"E{i + 1:02d}"
        emps.append(e)
        emp_dept[e] = depts[i] if i < n_depts else c.choice(depts)
        # a manager among earlier employees keeps the chain acyclic (the import refuses cycles)
        emp_manager[e] = c.choice(emps[:i]) if i and c.chance(0.8) else None
    dept_manager = {}
    for d in depts:
        members = [e for e in emps if emp_dept[e] == d]
        dept_manager[d] = c.choice(members + [None]) if c.chance(0.9) else None
        b.add("Departments", row=gap("Departments"), dept_id=d, name=f"部门{d}", tier=tiers[d],
              manager_id=dept_manager[d],
              base_score=c.choice(("60", "70", "85.5", "100", "0", "123.45")))
    for e in emps:
        b.add("Employees", row=gap("Employees"), employee_id=e, name=f"员工{e}", dept_id=emp_dept[e],
              manager_id=emp_manager[e],
              base_score=c.choice((None, "60", "75", "88.88", "100")))

    projects, leads = [], {}
    for i in c.rows(0, 2 + size):
        p = f"P{i + 1}"
        projects.append(p)
        leads[p] = c.choice(emps)
        b.add("Projects", row=gap("Projects"), project_id=p, name=f"项目{p}", lead_id=leads[p])

    kpis = []
    for i in c.rows(0, 3):
        k = f"K{i + 1}"
        kpis.append(k)
        b.add("CompanyKPIs", row=gap("CompanyKPIs"), kpi_id=k, name=f"指标{k}",
              target=c.choice(("50", "100", "120", "0.875")),
              actual=c.choice(("0", "40", "75", "100", "110", "0.7", "500")),
              direction=c.choice((None, "higher", "lower")))
    for d in depts:
        for k in kpis:
            if c.chance(0.5):
                b.add("Linkage", row=gap("Linkage"), dept_id=d, kpi_id=k,
                      level=c.choice(("high", "medium", "low")))

    def some_emp():
        return c.choice(emps) if c.chance(0.93) else c.choice(("X99", "HR", "e01"))

    def some_dept():
        return c.choice(depts) if c.chance(0.93) else "D99"

    for i in c.rows(0, 8 * size + 4):
        b.add("InternalRatings", row=gap("InternalRatings"), rating_id=f"R{i}", rater_id=some_emp(),
              ratee_dept_id=some_dept(), dimension=c.choice(_DIMENSIONS),
              score=c.choice(_SCORES), comment=c.choice((None, None, "说明", "   ")))
    for d in depts:
        for metric in ("ticket_sla", "milestone"):
            if c.chance(0.35):
                b.add("ServiceMetrics", row=gap("ServiceMetrics"), dept_id=d, metric=metric,
                      value=c.choice(("0.9", "0.75", "1", "0", "0.925")))
    for i in c.rows(0, 4 * size + 2):
        b.add("RaciRatings", row=gap("RaciRatings"), rating_id=f"Q{i}",
              project_id=c.choice(projects + ["P99"]) if projects else "P99",
              rater_id=some_emp(), ratee_dept_id=some_dept(), raci_role=c.choice("RACI"),
              dimension=c.choice(_DIMENSIONS), score=c.choice(_SCORES),
              comment=c.choice((None, "说明")))

    for i in c.rows(0, 2 + size):
        metric = f"M{i}"
        bonus = c.choice(("0", "4", "6", "6"))
        b.add("Interlocks", row=gap("Interlocks"), metric_id=metric, name=f"互锁{metric}",
              target=c.choice(("100", "0.875", "80")),
              actual=c.choice(("0", "75", "0.7", "79.99999999999", "100", "120", "85")),
              direction=c.choice((None, "lower")),
              bonus_points=bonus, penalty_points=bonus if c.chance(0.8) else "3",
              severe_miss_ratio=c.choice((None, None, "0.8", "0.9", "1")))
        parties = c.sample(depts, k=min(len(depts), c.choice((1, 2, 2, 3, 4))))
        weights = c.choice((("0.5", "0.3", "0.2", "0"), ("0.7", "0.3", "0", "0"),
                            ("0.333", "0.333", "0.333", "0"), ("0.6", "0.6", "0", "0"),
                            ("1", "0", "0", "0")))
        for d, w in zip(parties, weights):
            b.add("InterlockParties", row=gap("InterlockParties"), metric_id=metric, dept_id=d,
                  weight=w)

    codes = list(catalog)
    for i in c.rows(0, 10 * size + 4):
        employee = some_emp()
        code = c.choice(codes)
        lo, hi, zh = catalog[code]
        points = c.choice((lo, hi, (lo + hi) / 2, hi + 1, 0, lo - 1, 2.5 if hi > 0 else -2.5))
        spelled = c.choice((code, code, zh, code.lower(), f" {code} ", "FLY"))
        chain = []
        cur = emp_manager.get(employee)
        while cur:
            chain.append(cur)
            cur = emp_manager[cur]
        project = c.choice([None, None] + projects + ["P99"])
        candidates = chain + ([leads[project]] if project in leads else []) + [employee] + emps
        proposer = c.choice(candidates[:3] if c.chance(0.7) else candidates)
        day = c.choice(days)
        b.add("Behaviours", row=gap("Behaviours"), event_id=f"B{i}", date=day,
              employee_id=employee, behaviour_code=spelled, points=str(points),
              proposer_id=proposer if c.chance(0.95) else "X98", project_id=project,
              evidence=c.choice(("纪要-1", "纪要-2", None, "https://example.org/x")))
    # Same proposer, same employee, many bonus rows: the frequent-proposer review.
    if c.chance(0.5) and emps:
        employee = c.choice(emps)
        proposer = emp_manager[employee] or c.choice(emps)
        for j in c.rows(2, 5):
            b.add("Behaviours", row=gap("Behaviours"), event_id=f"F{j}", date=days[0],
                  employee_id=employee, behaviour_code=c.choice(("LEAD", "RESCUE", "IMPROVE")),
                  points=c.choice(("1", "2", "3", "2.505")), proposer_id=proposer,
                  project_id=None, evidence="纪要")
    # Two support departments rating each other low: the mutual-low review.
    support = [d for d in depts if tiers[d] != "front"]
    if c.chance(0.3) and len(support) >= 2:
        one, other = c.sample(support, 2)
        for k, (rater_dept, ratee) in enumerate(((one, other), (other, one))):
            b.add("InternalRatings", row=gap("InternalRatings"), rating_id=f"L{k}",
                  rater_id=c.choice([e for e in emps if emp_dept[e] == rater_dept]),
                  ratee_dept_id=ratee, dimension=c.choice(_DIMENSIONS),
                  score=c.choice(("2", "1", "1.5")), comment=c.choice((None, "说明")))
    return b


# ---------------------------------------------------------------------------------------------
# Other months (SPEC §11.5–§11.9): the ledgers of the months before a ledger's, for the rules
# that read them — quarterly ratings, LINKAGE_CHANGED, the frequent-proposer window. Each month
# keeps the ledger's company (a few employees gone, so that a rating of theirs is an unknown
# reference at the quarter's end), a matrix that may differ, and transactions of its own:
# ratings reusing the ledger's rating ids (two months' R3 are two review items) and
# behaviours, many from the ledger's own frequent pairs.

def random_history(seed: int, builder: LedgerBuilder, months: Sequence[str],
                   size: int = 1) -> dict[str, LedgerBuilder]:
    """The ledgers of `months` (each its own draw) for `builder`'s company, the same for the
    same seed."""
    c = _Seeded(seed)
    return {m: _random_month(c, builder, m, size) for m in months}


@st.composite
def histories(draw, builder: LedgerBuilder, months: Sequence[str], max_size: int = 2
              ) -> dict[str, LedgerBuilder]:
    """Hypothesis strategy: random_history's months, drawn (a month may be missing: no
    import)."""
    c = _Drawn(draw)
    out = {}
    for m in months:
        if c.chance(0.9):
            out[m] = _random_month(c, builder, m, c.randint(1, max_size))
    return out


def history_rows(history: dict[str, LedgerBuilder]) -> dict[str, dict[str, list[dict]]]:
    """period → sheet → rows, as an evaluation takes them."""
    return {m: {k: [dict(r) for r in v] for k, v in b.rows.items()} for m, b in history.items()}


def _random_month(c: _Choices, base: LedgerBuilder, period: str, size: int) -> LedgerBuilder:
    b = LedgerBuilder(f"history-{period}.xlsx")
    days = _days(period)

    def gap(sheet):
        rows = b.rows[sheet]
        return (rows[-1]["row"] if rows else 1) + c.choice((1, 1, 2))

    def copy(sheet, row=None, **changes):
        values = {k: v for k, v in (row or {}).items() if k != "row"}
        values.update(changes)
        b.add(sheet, row=gap(sheet), **values)

    depts = [d["dept_id"] for d in base.rows["Departments"]]
    gone = set()
    for e in base.rows["Employees"]:
        if c.chance(0.1) and e["employee_id"] not in gone:
            gone.add(e["employee_id"])
    emps = [e["employee_id"] for e in base.rows["Employees"] if e["employee_id"] not in gone]
    for d in base.rows["Departments"]:
        copy("Departments", d, manager_id=None if d["manager_id"] in gone else d["manager_id"])
    for e in base.rows["Employees"]:
        if e["employee_id"] not in gone:
            copy("Employees", e, manager_id=None if e["manager_id"] in gone else e["manager_id"])
    projects = []
    for p in base.rows["Projects"]:
        if p["lead_id"] not in gone:
            projects.append(p["project_id"])
            copy("Projects", p)
    kpis = [k["kpi_id"] for k in base.rows["CompanyKPIs"]]
    for k in base.rows["CompanyKPIs"]:
        copy("CompanyKPIs", k)
    pairs = set()
    for link in base.rows["Linkage"]:
        if c.chance(0.8):
            level = link["level"] if c.chance(0.8) else c.choice(("high", "medium", "low"))
            copy("Linkage", link, level=level)
            pairs.add((link["dept_id"], link["kpi_id"]))
    for d in depts:
        for k in kpis:
            if (d, k) not in pairs and c.chance(0.1):
                b.add("Linkage", row=gap("Linkage"), dept_id=d, kpi_id=k,
                      level=c.choice(("high", "medium", "low")))
    if not emps:
        return b

    def some_emp():
        return c.choice(emps) if c.chance(0.93) else c.choice(sorted(gone) or ["X99"])

    for i in c.rows(0, 6 * size + 3):
        b.add("InternalRatings", row=gap("InternalRatings"), rating_id=f"R{i}",
              rater_id=some_emp(), ratee_dept_id=c.choice(depts),
              dimension=c.choice(_DIMENSIONS), score=c.choice(_SCORES),
              comment=c.choice((None, None, "说明")))
    for i in c.rows(0, 3 * size + 1):
        b.add("RaciRatings", row=gap("RaciRatings"), rating_id=f"Q{i}",
              project_id=c.choice(projects + ["P99"]) if projects else "P99",
              rater_id=some_emp(), ratee_dept_id=c.choice(depts), raci_role=c.choice("RACI"),
              dimension=c.choice(_DIMENSIONS), score=c.choice(_SCORES),
              comment=c.choice((None, "说明")))
    # behaviours: many repeat one of the ledger's own (proposer, employee) bonus pairs
    known = [(r["proposer_id"], r["employee_id"]) for r in base.rows["Behaviours"]
             if r["points"] > 0] or [(c.choice(emps), c.choice(emps))]
    for i in c.rows(0, 4 * size + 2):
        proposer, employee = c.choice(known) if c.chance(0.7) else (some_emp(), some_emp())
        code = c.choice(("LEAD", "RESCUE", "IMPROVE", "SHARE", "DELAY"))
        lo, hi, _ = _CATALOG[code]
        b.add("Behaviours", row=gap("Behaviours"), event_id=f"B{i}",
              date=c.choice((days[0], days[0], days[1], days[3])), employee_id=employee,
              behaviour_code=code, points=str(c.choice((lo, hi, hi + 1))),
              proposer_id=proposer, project_id=None,
              evidence=c.choice(("纪要", "纪要", None)))
    return b
