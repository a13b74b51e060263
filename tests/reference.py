"""A plain-Python reference implementation of SPEC §5 (all of §5.1–§5.7) and of the review and
decision semantics of §5.1, §5.2 and §6 — the oracle of the differential test against the rules
engine.

It is deliberately simple: one pass per mechanism, plain loops over the ledger's rows, exact
rational arithmetic (`fractions.Fraction`) rounded half-up to the cent once, when an adjustment
is emitted. It does not use durable_rules, and it re-derives on its own everything the engine
derives (the assignee chain walk, dimension and behaviour-code matching), so that a shared
mistake cannot hide. From the rest of xietong it takes only the contracts: the ledger's shape
(`importers.schema`), the effective policy's values (`rules.policy.Policy`) and `review_id`
(`rules.exceptions`, SPEC §6: a hash of period, kind and review key).

    result = reference_evaluate(ledger, policy, "2026-11", {"3f2a…": "confirm"})
    result.adjustments   # [{subject_type, subject_id, mechanism, rule, points, sources}, …]
    result.exceptions    # [{review_id, kind, type, subject_id, assignee_id, status, sources}, …]
    result.departments   # {dept_id: {dept_id, base, by_mechanism, final}}
    result.employees     # {employee_id: {employee_id, base, behaviour, final}}

`points` are Decimals rounded half-up to 2 decimals; `sources` are (sheet, Excel row) tuples with
canonical English sheet names; `final` is base + the sum of the subject's rounded adjustments
(an employee without a base has final None).

Readings of SPEC
----------------
Where SPEC leaves a choice, this is the reading taken (the one that serves users), so the engine
can follow the same one:

1.  Order (§5.7). Adjustments: mechanism (linkage, peripheral, raci, interlock, behaviour), then
    subject id (plain string order), then the (sheet, row) of the adjustment's *primary* source
    — the row that makes it distinct: the Linkage row, the department's Departments row, the
    Interlocks row, the Behaviours row — with sheets in the workbook order of
    `importers.schema.SHEETS`. `behaviour.cap` sums all of an employee's rows and comes after
    that employee's credits.
2.  Exceptions follow the same order: mechanism (a rating kind belongs to its sheet's mechanism:
    InternalRatings → peripheral, RaciRatings → raci; PERIPHERAL_NO_RATINGS → peripheral;
    INTERLOCK_* → interlock; BEH_* → behaviour), subject id, sheet and row of the primary source,
    then the kind's position in SPEC's tables (`rules.exceptions.KINDS`) for several exceptions
    on one row. Subjects: BEH_* → employee_id as written (even when unknown), RATING_* /
    RACI_REVERSE → ratee_dept_id as written, INTERLOCK_WEIGHTS/_PARTIES/_ASYMMETRIC → metric_id,
    the other interlock kinds and PERIPHERAL_NO_RATINGS → the department.
3.  Sources list the primary source first, then the supporting rows in row order: linkage.blend
    [Linkage, CompanyKPIs, Departments]; peripheral.blend [Departments, counted InternalRatings…,
    ServiceMetrics…]; raci.blend [Departments, counted RaciRatings…]; interlock.reward/.penalty
    [Interlocks, the party's InterlockParties]; behaviour.credit [the row]; behaviour.cap [every
    applied row of the employee]; RATING_MUTUAL_LOW [the rating, then every counterpart low
    rating]; INTERLOCK_WEIGHTS/_PARTIES/_ASYMMETRIC [Interlocks, every party row];
    INTERLOCK_TOO_MANY [the department's party rows]; INTERLOCK_MISSED [Interlocks, the party
    row]; BEH_FREQUENT_PROPOSER [the counted rows]; PERIPHERAL_NO_RATINGS [Departments].
4.  A check whose inputs are partly unknown fires when the known inputs already prove it, and is
    skipped otherwise: RACI_REVERSE fires on a front-office rated department even when the rater
    is unknown (and on a non-front rater's department even when the ratee is unknown);
    RATING_SELF needs the rater; RATING_NOT_SUPPORT needs the rated department;
    BEH_UNAUTHORIZED is skipped when the employee or proposer is unknown, or when the proposer is
    not above the employee and the row's project is unknown (its lead cannot be known);
    BEH_SELF_PROPOSED compares the two ids as written, so it runs even when they are unknown.
5.  "The rater's manager" (assignee): reviews exist only on ratings that were not rejected, so
    the rater is always known; the walk starts at Employees.manager_id of the rater (of the
    proposer, for BEH_FREQUENT_PROPOSER; Departments.manager_id for INTERLOCK_MISSED) and passes
    over a blank manager, a member of the rated department (rating reviews) or the employee who
    got the points (behaviour reviews), climbing to HR at the top. A party's own manager is the
    natural assignee of its post-mortem and is never passed over for being a member. Every
    rejection and notice goes to HR.
6.  Status: a review is "open" until decided, then "confirmed" or "overturned"; rejections are
    always "open" (they carry no decision; a decision naming one is ignored here).
7.  A rating counts in the averages when it is not rejected and none of its reviews is
    overturned and — with hold_pending — none is still open (every review confirmed). Without
    hold_pending an open review does not hold the rating out. RATING_OUTLIER peers are the other
    raters' non-rejected ratings whatever their review status; RATING_MUTUAL_LOW counterparts are
    non-rejected ratings too.
8.  behaviour.cap is emitted only when the cap is exceeded (T > cap or T < −cap, exactly), never
    as a 0.00 row; T is the sum of the employee's *rounded* credits, so the employee's behaviour
    total is exactly ±cap. A BEH_FREQUENT_PROPOSER review that is overturned removes its rows:
    they emit no credit and leave T; open or confirmed, they stay applied. Decisions on
    INTERLOCK_MISSED change no score.
9.  Blends (linkage, peripheral, raci) are emitted even when they round to 0.00.
    interlock.reward/.penalty are emitted for every party row of a valid metric, a weight-0
    party included (0.00), and every party gets the post-mortem review: 「三方都必须参与复盘」.
10. Peripheral applies only to middle/back departments; a front department gets neither an
    adjustment nor a PERIPHERAL_NO_RATINGS notice. RACI applies to the departments with counted
    RaciRatings, which RACI_REVERSE already limits to middle/back.
11. Arithmetic is exact; rounding is half-up on the magnitude (−1.255 → −1.26), once per
    adjustment. Achievement ratios and the outlier distance (values computed by division) meet
    their thresholds at a tolerance of 1e-9: a ≥ t when a ≥ t − 1e-9, a < t otherwise. Ledger
    values against policy values (scores, points, T against the cap, W against total_cap) are
    compared exactly; the weights of a metric sum to 1 when |Σw − 1| ≤ 0.001 (inclusive).
12. Linkage `lower` with actual 0 → C = coefficient_cap; interlock `lower` with actual 0 →
    achieved (a = +∞). A department whose linkage weights sum to 0 gets 0.00 blends.
13. behaviour_code matches a catalog code or its Chinese name after NFKC, trimming, collapsing
    inner whitespace and case-folding (codes first). Dimensions match the same way (SPEC §5.2).
    A blank evidence or comment is None or whitespace only.
14. Decisions come only from the `decisions` argument: the caller (the evaluator) has already
    merged the Reviews sheets and returned workbooks and dropped decisions whose source rows
    changed; the ledger's own Reviews rows are not read here.
15. RATING_OUTLIER's outlier_min_peers counts *ratings* by other raters (two ratings by one
    other rater are two peers); all ratings by the same rater are excluded from the peers.
16. Membership of a department (RATING_SELF, RACI_REVERSE's rater side, RATING_MUTUAL_LOW's
    sides, the assignee walk) is Employees.dept_id; Departments.manager_id does not make its
    manager a member.
17. `HR` is not an employee: as a rater or proposer it is an unknown reference.
18. Subject ids sort as plain Python strings (code points): "E10" before "E9", "D3" before "M1".

Part II (SPEC §11.5–§11.9): other months
-----------------------------------------
`history` (period → sheet → rows) holds the other months' active rows the evaluation reads; a
month without an import is absent. A row of another month is cited as
("<Sheet>@<YYYY-MM>", Excel row), and that qualified name is also the sheet part of a rating's
review key, so a January R7 and a March R7 are two items.

19. Order with other months: a source sorts by its sheet, then its month (an earlier month
    before the period's own), then its row; so exceptions and adjustments whose primary source
    is an earlier month's row come before the period's own within one subject and sheet.
20. Quarterly cadence ([peripheral] or [raci] cadence = "quarterly", §11.5), per rating sheet.
    In a quarter's last month (03, 06, 09, 12) the sheet's rows of the quarter's two earlier
    months (oldest first), then the period's own, are screened, reviewed, held and counted as
    one set: against the period's own master data (the company as it stands at the quarter's
    end: a rater who left is an unknown reference); peers and mutual-low counterparts across
    the three months. The blend's sources list the counted ratings in that order. In the
    quarter's other months the sheet's rows are neither screened nor counted (carried to the
    quarter's end): no blend of that mechanism and, for InternalRatings, no
    PERIPHERAL_NO_RATINGS.
21. LINKAGE_CHANGED (§11.7): when the previous month (period − 1) has an import and the period
    is not in [linkage] revision_month: every department of the period whose set of (KPI,
    level) pairs differs from the previous month's (a department without rows has the empty
    set; a department absent from the period's Departments is not looked at). Sources: the
    department's Linkage rows of the period, then those of the previous month (row order);
    key dept_id; for HR.
22. Interlocks (§11.8). A valid achieved metric rewards bonus × w × min(a, reward_cap) with
    reward_scale "linear" (a = +∞ for lower with actual 0: the cap), bonus × w with "flat".
    Every party of a missed metric (a < 1 at the tolerance) gets INTERLOCK_MISSED, valid or
    not; an invalid metric applies no points.
23. Frequent proposers across months (§11.9, frequent_window_months = N). A pair (proposer,
    employee) with at least one positive accepted row in the period counts those rows plus the
    positive rows of the pair in each of the N − 1 months before (oldest first) that pass the
    behaviour checks of their own month (its date, its master data; this policy's catalog).
    The review's sources: the period's rows, then the earlier months' (row order); an overturn
    removes the period's rows only. A pair with no row in the period raises nothing.
24. Deadlines (SPEC §11.4). With `standing` (review id → (first raised, assignee in the latest
    earlier run of the period)) and `clock` (the evaluation's start): the item's levels are its
    assignee and the successive climbs from each level's manager (passing over the same people
    as the first climb: the rated department for a rating review, the employee who got the
    points for a behaviour review, nobody for a post-mortem), ending at HR. The earlier moves
    are the position of the latest run's assignee among those levels (0 when it is not one of
    them). An open item moves max(earlier moves, k) levels, k = how many whole multiples of
    deadline_days (in whole seconds) lie strictly below the time it has been open; a decided
    item moves its earlier moves only; nobody moves above HR. Items without a standing (first
    raised now) and rejections never move.
"""
from __future__ import annotations

import math
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Any

from importers.result import Ledger
from importers.schema import SHEETS
from rules.exceptions import review_id
from rules.policy import Policy

HR = "HR"
MECHANISMS = ("linkage", "peripheral", "raci", "interlock", "behaviour")
MECHANISM_ORDER = {m: i for i, m in enumerate(MECHANISMS)}
SHEET_ORDER = {s.name: i for i, s in enumerate(SHEETS)}
TOLERANCE = Fraction(1, 10**9)
WEIGHT_SUM_TOLERANCE = Fraction(1, 1000)

# Exception kinds as SPEC's tables list them: (kind, type). The position breaks ties.
KINDS = (
    ("BEH_UNKNOWN_REF", "rejection"), ("BEH_OUT_OF_PERIOD", "rejection"),
    ("BEH_UNKNOWN_CODE", "rejection"), ("BEH_POINTS_RANGE", "rejection"),
    ("BEH_NO_EVIDENCE", "rejection"), ("BEH_SELF_PROPOSED", "rejection"),
    ("BEH_UNAUTHORIZED", "rejection"), ("BEH_FREQUENT_PROPOSER", "review"),
    ("RATING_UNKNOWN_REF", "rejection"), ("RATING_SELF", "rejection"),
    ("RATING_NOT_SUPPORT", "rejection"), ("RACI_REVERSE", "rejection"),
    ("RATING_EXTREME", "review"), ("RATING_LOW_NO_COMMENT", "review"),
    ("RATING_OUTLIER", "review"), ("RATING_MUTUAL_LOW", "review"),
    ("LINKAGE_CHANGED", "rejection"), ("PERIPHERAL_NO_RATINGS", "rejection"),
    ("INTERLOCK_WEIGHTS", "rejection"), ("INTERLOCK_PARTIES", "rejection"),
    ("INTERLOCK_ASYMMETRIC", "rejection"), ("INTERLOCK_TOO_MANY", "rejection"),
    ("INTERLOCK_MISSED", "review"),
)
KIND_TYPE = dict(KINDS)
KIND_ORDER = {k: i for i, (k, _) in enumerate(KINDS)}
STATUS_OF_DECISION = {"confirm": "confirmed", "overturn": "overturned"}


@dataclass
class ReferenceResult:
    period: str
    adjustments: list[dict] = field(default_factory=list)
    exceptions: list[dict] = field(default_factory=list)
    departments: dict[str, dict] = field(default_factory=dict)
    employees: dict[str, dict] = field(default_factory=dict)

    def exceptions_of(self, kind: str) -> list[dict]:
        return [e for e in self.exceptions if e["kind"] == kind]

    def adjustments_of(self, rule: str) -> list[dict]:
        return [a for a in self.adjustments if a["rule"] == rule]

    def exception(self, review_id_: str) -> dict:
        return next(e for e in self.exceptions if e["review_id"] == review_id_)


def reference_evaluate(ledger: Ledger, policy: Policy, period: str,
                       decisions: dict[str, str] | None = None,
                       history: dict[str, dict[str, list[dict]]] | None = None,
                       standing: dict[str, tuple[datetime, str | None]] | None = None,
                       clock: datetime | None = None) -> ReferenceResult:
    """Evaluate `ledger` for `period` ("YYYY-MM") under `policy`, applying `decisions`
    (review_id → "confirm" | "overturn"); `history`: other months' active rows (period → sheet
    → rows, readings 19–23); with `standing` and `clock`, open items past their deadline move up
    (reading 24). See the module docstring for the readings of SPEC."""
    evaluation = _Evaluation(ledger, policy, period, decisions or {}, history or {})
    result = evaluation.run()
    if standing and clock is not None:
        evaluation.escalate(result, standing, clock)
    return result


def _month(period: str, k: int) -> str:
    """The month k months after `period` (before, k < 0)."""
    year, month = int(period[:4]), int(period[5:7])
    n = year * 12 + (month - 1) + k
    return f"{n // 12:04d}-{n % 12 + 1:02d}"


class _Rows:
    """Another month's rows, shaped as a ledger for an _Evaluation of that month."""

    def __init__(self, rows: dict[str, list[dict]]):
        self.rows = rows


# ---------------------------------------------------------------------------------------------
# Small exact helpers.

def _f(value: Any) -> Fraction:
    return Fraction(value)          # Decimal and int convert exactly


def _round(value: Fraction) -> Decimal:
    """Half-up (四舍五入) on the magnitude, to the cent."""
    cents = math.floor(abs(value) * 100 + Fraction(1, 2))
    if value < 0:
        cents = -cents
    return Decimal(cents).scaleb(-2)


def _at_least(value: Fraction, threshold: Fraction) -> bool:
    return value >= threshold - TOLERANCE


def _label(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def _blank(text: Any) -> bool:
    return text is None or str(text).strip() == ""


def _src(sheet: str, row: dict) -> tuple[str, int]:
    return (sheet, row["row"])


def _order(source: tuple[str, int], period: str) -> tuple:
    """Reading 19: sheet, month, row."""
    sheet, _, month = source[0].partition("@")
    return SHEET_ORDER[sheet], month or period, source[1]


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t


class _Evaluation:
    def __init__(self, ledger: Ledger, policy: Policy, period: str, decisions: dict[str, str],
                 history: dict[str, dict[str, list[dict]]] | None = None):
        year, _, month = period.partition("-")
        if len(year) != 4 or len(month) != 2 or not (year + month).isdigit():
            raise ValueError(f"period must be YYYY-MM, got {period!r}")
        self.year, self.month = int(year), int(month)
        self.period = period
        self.policy = policy
        self.decisions = decisions
        self.ledger = ledger
        self.history = history or {}
        self.depts = {d["dept_id"]: d for d in self.rows("Departments")}
        self.emps = {e["employee_id"]: e for e in self.rows("Employees")}
        self.projects = {p["project_id"]: p for p in self.rows("Projects")}
        self.kpis = {k["kpi_id"]: k for k in self.rows("CompanyKPIs")}
        self.adjustments: list[dict] = []
        self.exceptions: list[dict] = []
        # per sheet: (source sheet name, row) of each counted rating
        self.counted: dict[str, list[tuple[str, dict]]] = {"InternalRatings": [],
                                                           "RaciRatings": []}
        self.carried: set[str] = set()      # rating sheets carried to the quarter's end

    def rows(self, sheet: str) -> list[dict]:
        return sorted(self.ledger.rows.get(sheet, []), key=lambda r: r["row"])

    def month_rows(self, period: str, sheet: str) -> list[dict]:
        return sorted(self.history.get(period, {}).get(sheet, []), key=lambda r: r["row"])

    # -- outcomes ---------------------------------------------------------------------------

    def adjust(self, subject_type, subject_id, mechanism, rule, value: Fraction, sources,
               after_credits: bool = False) -> dict:
        adjustment = {"subject_type": subject_type, "subject_id": subject_id,
                      "mechanism": mechanism, "rule": rule, "points": _round(value),
                      "sources": list(sources)}
        key = (MECHANISM_ORDER[mechanism], subject_id, after_credits,
               *_order(sources[0], self.period))
        self.adjustments.append((key, adjustment))
        return adjustment

    def exception(self, kind, mechanism, subject_id, key_parts, sources, assignee) -> dict:
        rid = review_id(self.period, kind, key_parts)
        status = "open"
        if KIND_TYPE[kind] == "review" and rid in self.decisions:
            status = STATUS_OF_DECISION[self.decisions[rid]]
        exc = {"review_id": rid, "kind": kind, "type": KIND_TYPE[kind], "subject_id": subject_id,
               "assignee_id": assignee if KIND_TYPE[kind] == "review" else HR,
               "status": status, "sources": list(sources)}
        key = (MECHANISM_ORDER[mechanism], subject_id, *_order(sources[0], self.period),
               KIND_ORDER[kind], rid)
        self.exceptions.append((key, exc))
        return exc

    # -- the manager chain ------------------------------------------------------------------

    def chain_above(self, employee_id: str) -> list[str]:
        chain, seen = [], {employee_id}
        current = self.emps[employee_id].get("manager_id")
        while current is not None and current not in seen and current in self.emps:
            chain.append(current)
            seen.add(current)
            current = self.emps[current].get("manager_id")
        return chain

    def climb(self, start, excluded_ids=(), excluded_dept=None) -> str:
        """The first person from `start` upwards who may decide; HR at the top."""
        current, seen = start, set()
        while current is not None and current not in seen:
            seen.add(current)
            person = self.emps.get(current)
            if person is None:
                return HR
            if current not in excluded_ids and person["dept_id"] != excluded_dept:
                return current
            current = person.get("manager_id")
        return HR

    # -- the evaluation ---------------------------------------------------------------------

    def run(self) -> ReferenceResult:
        self.ratings()          # before peripheral and raci: they average the counted ratings
        self.linkage()
        self.linkage_changes()
        self.peripheral()
        self.raci()
        self.interlocks()
        self.behaviours()
        result = ReferenceResult(self.period)
        result.adjustments = [a for _, a in sorted(self.adjustments, key=lambda t: t[0])]
        result.exceptions = [e for _, e in sorted(self.exceptions, key=lambda t: t[0])]
        self.finals(result)
        return result

    # §5.3 差异化关联矩阵 ------------------------------------------------------------------------
    def linkage(self) -> None:
        lp = self.policy.linkage
        level_weight = {"high": _f(lp.high), "medium": _f(lp.medium), "low": _f(lp.low)}
        links_by_dept = defaultdict(list)
        for link in self.rows("Linkage"):
            links_by_dept[link["dept_id"]].append(link)
        for dept_id, links in links_by_dept.items():
            dept = self.depts[dept_id]
            base = _f(dept["base_score"])
            weights = [level_weight[link["level"]] for link in links]
            total = sum(weights, Fraction(0))
            if total > _f(lp.total_cap):
                weights = [w * _f(lp.total_cap) / total for w in weights]
            for link, w in zip(links, weights):
                kpi = self.kpis[link["kpi_id"]]
                c = self.coefficient(kpi)
                self.adjust("department", dept_id, "linkage", "linkage.blend", w * (100 * c - base),
                            [_src("Linkage", link), _src("CompanyKPIs", kpi),
                             _src("Departments", dept)])

    def linkage_changes(self) -> None:
        """Reading 21."""
        previous = _month(self.period, -1)
        if previous not in self.history or self.month == self.policy.linkage.revision_month:
            return
        for dept_id in sorted(self.depts):
            new = [x for x in self.rows("Linkage") if x["dept_id"] == dept_id]
            old = [x for x in self.month_rows(previous, "Linkage") if x["dept_id"] == dept_id]
            if {(x["kpi_id"], x["level"]) for x in new} == {(x["kpi_id"], x["level"]) for x in old}:
                continue
            sources = [_src("Linkage", x) for x in new] + [_src(f"Linkage@{previous}", x)
                                                            for x in old]
            self.exception("LINKAGE_CHANGED", "linkage", dept_id, (dept_id,), sources, HR)

    def coefficient(self, kpi: dict) -> Fraction:
        lp = self.policy.linkage
        target, actual = _f(kpi["target"]), _f(kpi["actual"])
        if kpi.get("direction", "higher") == "lower":
            c = _f(lp.coefficient_cap) if actual == 0 else target / actual
        else:
            c = actual / target
        return min(max(c, _f(lp.coefficient_floor)), _f(lp.coefficient_cap))

    # §5.2 Ratings (周边评价, 责任矩阵评分) ---------------------------------------------------------
    def ratings(self) -> None:
        rp = self.policy.review
        for sheet in ("InternalRatings", "RaciRatings"):
            mechanism = "peripheral" if sheet == "InternalRatings" else "raci"
            cadence = (self.policy.peripheral if sheet == "InternalRatings"
                       else self.policy.raci).cadence
            rows = [(sheet, r) for r in self.rows(sheet)]
            if cadence == "quarterly":                   # reading 20
                if self.month % 3:
                    self.carried.add(sheet)
                    continue
                earlier = [_month(self.period, -2), _month(self.period, -1)]
                rows = [(f"{sheet}@{m}", r) for m in earlier
                        for r in self.month_rows(m, sheet)] + rows
            kept = []
            for name, r in rows:
                kinds = self.rating_rejections(sheet, r)
                for kind in kinds:
                    self.exception(kind, mechanism, r["ratee_dept_id"], (name, r["rating_id"]),
                                   [_src(name, r)], HR)
                if not kinds:
                    kept.append((name, r))
            for name, r in kept:
                assignee = self.climb(self.emps[r["rater_id"]].get("manager_id"),
                                      excluded_dept=r["ratee_dept_id"])
                statuses = []
                for kind, sources in self.rating_reviews(sheet, name, r, kept):
                    exc = self.exception(kind, mechanism, r["ratee_dept_id"],
                                         (name, r["rating_id"]), sources, assignee)
                    statuses.append(exc["status"])
                if "overturned" in statuses:
                    continue
                if "open" in statuses and rp.hold_pending:
                    continue
                self.counted[sheet].append((name, r))

    def rating_rejections(self, sheet: str, r: dict) -> list[str]:
        rater = self.emps.get(r["rater_id"])
        ratee = self.depts.get(r["ratee_dept_id"])
        kinds = []
        project_unknown = sheet == "RaciRatings" and r.get("project_id") not in self.projects
        if rater is None or ratee is None or project_unknown:
            kinds.append("RATING_UNKNOWN_REF")
        if rater is not None and rater["dept_id"] == r["ratee_dept_id"]:
            kinds.append("RATING_SELF")
        if sheet == "InternalRatings" and ratee is not None and ratee["tier"] == "front":
            kinds.append("RATING_NOT_SUPPORT")
        if sheet == "RaciRatings":
            rater_not_front = rater is not None and self.depts[rater["dept_id"]]["tier"] != "front"
            ratee_front = ratee is not None and ratee["tier"] == "front"
            if rater_not_front or ratee_front:
                kinds.append("RACI_REVERSE")
        return kinds

    def rating_reviews(self, sheet: str, name: str, r: dict, kept: list[tuple[str, dict]]):
        """`name`: the rating's source sheet (qualified for an earlier month, reading 20);
        `kept`: every non-rejected (name, rating) evaluated with it."""
        rp = self.policy.review
        score = _f(r["score"])
        if score <= _f(rp.extreme_low) or score >= _f(rp.extreme_high):
            yield "RATING_EXTREME", [_src(name, r)]
        if score <= _f(rp.low_needs_comment) and _blank(r.get("comment")):
            yield "RATING_LOW_NO_COMMENT", [_src(name, r)]
        dimension = _label(r["dimension"])
        peers = [p for _, p in kept
                 if p["ratee_dept_id"] == r["ratee_dept_id"] and p["rater_id"] != r["rater_id"]
                 and _label(p["dimension"]) == dimension]
        if len(peers) >= rp.outlier_min_peers:
            mean = sum((_f(p["score"]) for p in peers), Fraction(0)) / len(peers)
            if _at_least(abs(score - mean), _f(rp.outlier_deviation)):
                yield "RATING_OUTLIER", [_src(name, r)]
        if sheet == "InternalRatings" and score <= _f(rp.mutual_low):
            rater_dept = self.emps[r["rater_id"]]["dept_id"]
            counterparts = [(c_name, c) for c_name, c in kept
                            if c["ratee_dept_id"] == rater_dept
                            and self.emps[c["rater_id"]]["dept_id"] == r["ratee_dept_id"]
                            and _f(c["score"]) <= _f(rp.mutual_low)]
            if counterparts:
                yield "RATING_MUTUAL_LOW", [_src(name, r)] + [_src(n, c) for n, c in counterparts]

    # §5.4 周边绩效 ------------------------------------------------------------------------------
    def peripheral(self) -> None:
        pp, scale = self.policy.peripheral, _f(self.policy.scale.rating_to_points)
        metrics_by_dept = defaultdict(list)
        for m in self.rows("ServiceMetrics"):
            metrics_by_dept[m["dept_id"]].append(m)
        if "InternalRatings" in self.carried:        # reading 20: no blend, no notice
            return
        for dept_id, dept in self.depts.items():
            if dept["tier"] == "front":
                continue
            ratings = [(n, r) for n, r in self.counted["InternalRatings"]
                       if r["ratee_dept_id"] == dept_id]
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

    # §5.5 前中后台责任矩阵联动 ---------------------------------------------------------------------
    def raci(self) -> None:
        weight, scale = _f(self.policy.raci.weight), _f(self.policy.scale.rating_to_points)
        if "RaciRatings" in self.carried:            # reading 20
            return
        for dept_id, dept in self.depts.items():
            if dept["tier"] == "front":
                continue
            ratings = [(n, r) for n, r in self.counted["RaciRatings"]
                       if r["ratee_dept_id"] == dept_id]
            if not ratings:
                continue
            q_d = scale * sum((_f(r["score"]) for _, r in ratings), Fraction(0)) / len(ratings)
            sources = [_src("Departments", dept)] + [_src(n, r) for n, r in ratings]
            self.adjust("department", dept_id, "raci", "raci.blend",
                        weight * (q_d - _f(dept["base_score"])), sources)

    # §5.6 指标互锁 / 业绩双算 -------------------------------------------------------------------
    def interlocks(self) -> None:
        ip = self.policy.interlock
        parties_of = defaultdict(list)
        named_in = defaultdict(list)
        for p in self.rows("InterlockParties"):
            parties_of[p["metric_id"]].append(p)
            named_in[p["dept_id"]].append(p)

        for m in self.rows("Interlocks"):
            parties = parties_of.get(m["metric_id"], [])
            kinds = []
            total = sum((_f(p["weight"]) for p in parties), Fraction(0))
            if abs(total - 1) > WEIGHT_SUM_TOLERANCE:
                kinds.append("INTERLOCK_WEIGHTS")
            if sum(1 for p in parties if p["weight"] > 0) < 2:
                kinds.append("INTERLOCK_PARTIES")
            bonus, penalty = _f(m["bonus_points"]), _f(m["penalty_points"])
            if ip.symmetry == "equal":
                asymmetric = bonus != penalty
            else:                                   # "both"
                asymmetric = not (bonus > 0 and penalty > 0)
            if asymmetric:
                kinds.append("INTERLOCK_ASYMMETRIC")
            metric_sources = [_src("Interlocks", m)] + [_src("InterlockParties", p) for p in parties]
            for kind in kinds:
                self.exception(kind, "interlock", m["metric_id"], (m["metric_id"],),
                               metric_sources, HR)
            valid = not kinds                       # invalid: no points, but the post-mortem

            target, actual = _f(m["target"]), _f(m["actual"])
            if m.get("direction", "higher") == "lower":
                achieved_ratio = None if actual == 0 else target / actual   # None: +∞
            else:
                achieved_ratio = actual / target
            severe = _f(m["severe_miss_ratio"] if m.get("severe_miss_ratio") is not None
                        else ip.severe_miss_ratio)
            achieved = achieved_ratio is None or _at_least(achieved_ratio, Fraction(1))
            severe_miss = achieved_ratio is not None and not _at_least(achieved_ratio, severe)
            cap = _f(ip.reward_cap)
            if ip.reward_scale == "flat":           # reading 22
                factor = Fraction(1)
            else:
                factor = cap if achieved_ratio is None else min(achieved_ratio, cap)
            for p in parties:
                sources = [_src("Interlocks", m), _src("InterlockParties", p)]
                w = _f(p["weight"])
                if valid and achieved:
                    self.adjust("department", p["dept_id"], "interlock", "interlock.reward",
                                bonus * w * factor, sources)
                if valid and severe_miss:
                    self.adjust("department", p["dept_id"], "interlock", "interlock.penalty",
                                -penalty * w, sources)
                if not achieved:
                    manager = self.depts[p["dept_id"]].get("manager_id")
                    self.exception("INTERLOCK_MISSED", "interlock", p["dept_id"],
                                   (m["metric_id"], p["dept_id"]), sources, self.climb(manager))

        for dept_id, party_rows in named_in.items():
            if len(party_rows) > ip.max_metrics_per_dept:
                self.exception("INTERLOCK_TOO_MANY", "interlock", dept_id, (dept_id,),
                               [_src("InterlockParties", p) for p in party_rows], HR)

    # §5.1 协同行为加减分 ------------------------------------------------------------------------
    def behaviours(self) -> None:
        bp = self.policy.behaviour
        accepted = []
        for r in self.rows("Behaviours"):
            kinds = self.behaviour_rejections(r)
            for kind in kinds:
                self.exception(kind, "behaviour", r["employee_id"], (r["event_id"],),
                               [_src("Behaviours", r)], HR)
            if not kinds:
                accepted.append(r)

        positive = defaultdict(list)
        for r in accepted:
            if r["points"] > 0:
                positive[(r["proposer_id"], r["employee_id"])].append(r)
        removed = set()
        earlier = [_month(self.period, -k) for k in range(bp.frequent_window_months - 1, 0, -1)]
        for (proposer_id, employee_id), rows in positive.items():
            before = []                                 # reading 23
            for month in earlier:
                if month not in self.history:
                    continue
                then = _Evaluation(_Rows(self.history[month]), self.policy, month, {})
                before += [_src(f"Behaviours@{month}", r) for r in then.rows("Behaviours")
                           if r["points"] > 0 and r["proposer_id"] == proposer_id
                           and r["employee_id"] == employee_id
                           and not then.behaviour_rejections(r)]
            if len(rows) + len(before) < bp.frequent_proposer:
                continue
            assignee = self.climb(self.emps[proposer_id].get("manager_id"),
                                  excluded_ids=(employee_id,))
            exc = self.exception("BEH_FREQUENT_PROPOSER", "behaviour", employee_id,
                                 (proposer_id, employee_id),
                                 [_src("Behaviours", r) for r in rows] + before, assignee)
            if exc["status"] == "overturned":
                removed.update(r["event_id"] for r in rows)

        applied = defaultdict(list)
        for r in accepted:
            if r["event_id"] not in removed:
                applied[r["employee_id"]].append(r)
        cap = _f(bp.cap)
        for employee_id, rows in applied.items():
            total = Fraction(0)
            for r in rows:
                credit = self.adjust("employee", employee_id, "behaviour", "behaviour.credit",
                                     _f(r["points"]), [_src("Behaviours", r)])
                total += _f(credit["points"])
            sources = [_src("Behaviours", r) for r in rows]
            if total > cap:
                self.adjust("employee", employee_id, "behaviour", "behaviour.cap", cap - total,
                            sources, after_credits=True)
            elif total < -cap:
                self.adjust("employee", employee_id, "behaviour", "behaviour.cap", -cap - total,
                            sources, after_credits=True)

    def behaviour_rejections(self, r: dict) -> list[str]:
        kinds = []
        employee_id, proposer_id, project_id = r["employee_id"], r["proposer_id"], r.get("project_id")
        known = employee_id in self.emps and proposer_id in self.emps
        project_known = _blank(project_id) or project_id in self.projects
        if not (known and project_known):
            kinds.append("BEH_UNKNOWN_REF")
        if (r["date"].year, r["date"].month) != (self.year, self.month):
            kinds.append("BEH_OUT_OF_PERIOD")
        entry = self.catalog_entry(r["behaviour_code"])
        if entry is None:
            kinds.append("BEH_UNKNOWN_CODE")
        elif not entry.min <= r["points"] <= entry.max:
            kinds.append("BEH_POINTS_RANGE")
        if _blank(r.get("evidence")):
            kinds.append("BEH_NO_EVIDENCE")
        if proposer_id == employee_id:
            kinds.append("BEH_SELF_PROPOSED")
        if known and proposer_id != employee_id and proposer_id not in self.chain_above(employee_id):
            if _blank(project_id):
                kinds.append("BEH_UNAUTHORIZED")
            elif project_id in self.projects and self.projects[project_id]["lead_id"] != proposer_id:
                kinds.append("BEH_UNAUTHORIZED")
            # an unknown project: its lead cannot be known, so the check is skipped
        return kinds

    def catalog_entry(self, text):
        if text is None:
            return None
        wanted = _label(str(text))
        entries = list(self.policy.behaviour.catalog.values())
        for entry in entries:
            if _label(entry.code) == wanted:
                return entry
        for entry in entries:
            if _label(entry.zh) == wanted:
                return entry
        return None

    # §11.4 deadlines ----------------------------------------------------------------------------
    def escalate(self, result: ReferenceResult, standing, clock: datetime) -> None:
        deadline = timedelta(days=self.policy.review.deadline_days)
        for e in result.exceptions:
            if e["type"] != "review" or e["review_id"] not in standing:
                continue
            first_raised, last_assignee = standing[e["review_id"]]
            if e["kind"] == "BEH_FREQUENT_PROPOSER":
                passed_over = {"excluded_ids": (e["subject_id"],)}
            elif e["kind"].startswith("RATING_"):
                passed_over = {"excluded_dept": e["subject_id"]}
            else:
                passed_over = {}
            levels = [e["assignee_id"]]
            while levels[-1] != HR:
                above = self.climb(self.emps[levels[-1]].get("manager_id"), **passed_over)
                levels.append(HR if above in levels else above)
            earlier = levels.index(last_assignee) if last_assignee in levels else 0
            moves = earlier
            if e["status"] == "open":
                open_for = timedelta(seconds=(_utc(clock) - _utc(first_raised))
                                     // timedelta(seconds=1))
                due = 0
                while open_for > (due + 1) * deadline:
                    due += 1
                moves = max(earlier, due)
            e["assignee_id"] = levels[min(moves, len(levels) - 1)]

    # §2 / §5.7 finals ----------------------------------------------------------------------------
    def finals(self, result: ReferenceResult) -> None:
        zero = Decimal("0.00")
        for dept_id in sorted(self.depts):
            by = {m: zero for m in ("linkage", "peripheral", "raci", "interlock")}
            for a in result.adjustments:
                if a["subject_type"] == "department" and a["subject_id"] == dept_id:
                    by[a["mechanism"]] += a["points"]
            base = self.depts[dept_id]["base_score"]
            result.departments[dept_id] = {"dept_id": dept_id, "base": base, "by_mechanism": by,
                                           "final": base + sum(by.values(), zero)}
        for employee_id in sorted(self.emps):
            behaviour = zero
            for a in result.adjustments:
                if a["subject_type"] == "employee" and a["subject_id"] == employee_id:
                    behaviour += a["points"]
            base = self.emps[employee_id].get("base_score")
            result.employees[employee_id] = {
                "employee_id": employee_id, "base": base, "behaviour": behaviour,
                "final": None if base is None else base + behaviour}
