"""Why a mechanism did not change a score: for every department and every mechanism without an
adjustment, the reason, read from the stored firings and exceptions — never recomputed.

    周边绩效未计入：没有计入的周边评价（3 条评价待复核）
    peripheral not applied: no counted internal rating (3 ratings held for review)

Where each reason comes from (the run's own record of what the rules did):

| mechanism | reason | evidence in the run |
|---|---|---|
| linkage | no Linkage rows | no `linkage.blend` firing for the department |
| peripheral / raci | front office | `peripheral.front_office` / `raci.front_office` |
| peripheral / raci | carried to the quarter's end (quarterly cadence, SPEC §11.5) | `peripheral.carried` / `raci.carried` |
| peripheral / raci | no counted rating | `PERIPHERAL_NO_RATINGS` / `raci.no_ratings`, with the department's `rating.hold` firings (held for review, or overturned) and rejected rating rows |
| interlock | not a party | no interlock firing names the department |
| interlock | invalid metric | `INTERLOCK_WEIGHTS` / `_PARTIES` / `_ASYMMETRIC` on a metric whose party rows name the department |
| interlock | missed, not severely | an `INTERLOCK_MISSED` review without an `interlock.penalty` |

A rating of an earlier month of the quarter (`InternalRatings@2026-10`, rules/sources.py) held
or rejected at the quarter's end counts with its sheet's.

A mechanism that did apply can still have ratings held out of its average; that is reported too
(`applied` True), so a reader sees why the number is what it is. `applied` always answers for
what the reason describes: a metric that did not count is `applied` False even where another
metric of the department counted. Employees get the same kind of
notes for the behaviour module (rejected rows, withdrawn rows, the cap, an open review).

The firings of the rules read here come from one pass over the run's firings that every report
shares (reports/facts.py, whose WHY_NOT_* name these rules); the run's firings are never
held.

The metric a party firing concerns is read from the cited ledger rows (the Interlocks /
InterlockParties row in its sources): that is looking up a source, not recomputing.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from importers.lang import Text
from reports import facts as firing_facts
from reports.labels import label
from reports.view import RowIndex
from rules.books import describe
from rules.finals import DEPT_MECHANISMS
from rules.exceptions import KIND_BY_NAME
from rules.sources import base as base_sheet

_INVALID = ("INTERLOCK_WEIGHTS", "INTERLOCK_PARTIES", "INTERLOCK_ASYMMETRIC")
_RATING_SHEET = {"peripheral": "InternalRatings", "raci": "RaciRatings"}


@dataclass
class Reason:
    subject_id: str
    mechanism: str
    applied: bool
    code: str
    params: dict = field(default_factory=dict)

    def render(self, lang: str) -> str:
        return render(lang, self)


_TEXT: dict[str, Text] = {  # code -> the sentence; {mech} is the mechanism's name
    "no_linkage_rows": Text(zh="{mech}未计入：该部门没有关联矩阵行",
                            en="{mech} not applied: the department has no Linkage rows"),
    "front_office": Text(zh="{mech}不适用：前台部门", en="{mech} not applicable: front office"),
    "carried": Text(zh="{mech}本月不计算：按季度评价，本月评分结转至季末月",
                    en="{mech} not computed this month: rated quarterly, this month's ratings "
                       "are carried to the quarter's last month"),
    "no_counted": Text(zh="{mech}未计入：{detail}", en="{mech} not applied: {detail}"),
    "held_some": Text(zh="{mech}已计入，{detail}，未计入均值",
                      en="{mech} applied, leaving out {detail}"),
    "not_a_party": Text(zh="{mech}不适用：未参与互锁指标",
                        en="{mech} not applicable: not a party to an interlocked metric"),
    "invalid_metric": Text(zh="{mech}未计入：{metric} 设置无效（{kinds}），HR 须修正台账",
                           en="{mech} not applied: {metric} is invalid ({kinds}), HR fixes the ledger"),
    "mild_miss": Text(zh="{mech}未扣分：{metric} 未达成但未严重未达，须复盘（{status}）",
                      en="{mech}: no penalty, {metric} missed but not severely, post-mortem {status}"),
    "unexplained": Text(zh="{mech}未计入：本次运行没有相关规则触发",
                        en="{mech} not applied: no rule fired for it in this run"),
    # employees
    "beh_rejected": Text(zh="{n} 条协同行为记录被驳回（{kinds}）",
                         en="{n} behaviour row(s) rejected ({kinds})"),
    "beh_withdrawn": Text(zh="{n} 条记录因频繁提议复核被撤销而不计分",
                          en="{n} row(s) not credited: frequent-proposer review overturned"),
    "beh_capped": Text(zh="协同行为分超出上限，已调整 {points}",
                       en="behaviour total outside the cap: adjusted by {points}"),
    "beh_review_open": Text(zh="频繁提议待复核（{n} 条加分暂计入）",
                            en="frequent-proposer review open ({n} bonus rows count meanwhile)"),
}

# The parts of a "no counted rating" detail, and what they say when there is none.
_DETAIL: dict[str, Text] = {
    "pending": Text(zh="{n} 条评价待复核", en="{n} rating{s} held for review"),
    "overturned": Text(zh="{n} 条评价复核撤销", en="{n} overturned on review"),
    "rejected": Text(zh="{n} 条评价被驳回", en="{n} rejected"),
    "none": Text(zh="本期没有对该部门的评价", en="no ratings of this department this period"),
}
_SEPARATOR = Text(zh="，", en=", ")      # between the parts of a detail, between kinds


def _detail(lang: str, pending: int, overturned: int, rejected: int) -> str:
    parts = [_DETAIL[key].format(lang, n=n, s="s" if n != 1 else "")
             for key, n in (("pending", pending), ("overturned", overturned),
                            ("rejected", rejected)) if n]
    return _SEPARATOR.pick(lang).join(parts) or _DETAIL["none"].pick(lang)


def render(lang: str, r: Reason) -> str:
    p = dict(r.params)
    p["mech"] = label(lang, r.mechanism)
    if r.code in ("no_counted", "held_some"):
        p["detail"] = _detail(lang, p.get("pending", 0), p.get("overturned", 0),
                              p.get("rejected", 0) if r.code == "no_counted" else 0)
    if "kinds" in p:
        p["kinds"] = _SEPARATOR.pick(lang).join(
            (describe(k)[0] if lang == "zh" else k) for k in p["kinds"])
    if "status" in p:
        p["status"] = label(lang, p["status"])
    if "points" in p:
        p["points"] = f"{p['points']:+.2f}"
    return _TEXT[r.code].format(lang, **p)


# ------------------------------------------------------------------------------ departments

def department_reasons(rows: dict[str, list[dict]], stored: dict) -> dict[str, list[Reason]]:
    """dept_id -> its reasons, in mechanism order (SPEC §5.7)."""
    index = RowIndex(rows)
    applied = defaultdict(set)                       # dept -> mechanisms with an adjustment
    for a in stored["adjustments"]:
        if a["subject_type"] == "department":
            applied[a["subject_id"]].add(a["mechanism"])

    facts = firing_facts.of(stored)         # one pass over the firings, shared by the reports
    by_rule_subject: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for f in facts.firings_of(*firing_facts.WHY_NOT_BY_SUBJECT):
        by_rule_subject[(f["rule"], f["subject_id"])].append(f)

    # Ratings held out of the averages, per (dept, sheet): pending vs overturned, from the
    # reviews on the held row; rejected rating rows, from the rejections.
    status_of_row: dict[tuple[str, int], set[str]] = defaultdict(set)
    rejected_rows: dict[tuple[str, str], set[tuple[str, int]]] = defaultdict(set)
    missed: dict[str, dict[str, str]] = defaultdict(dict)     # dept -> metric -> status
    invalid: dict[str, list[str]] = defaultdict(list)          # metric -> kinds
    for e in stored["exceptions"]:
        sheet, row = e["sources"][0]
        if e["type"] == "review":
            status_of_row[(sheet, row)].add(e["status"])
        elif base_sheet(sheet) in ("InternalRatings", "RaciRatings"):
            rejected_rows[(e["subject_id"], base_sheet(sheet))].add((sheet, row))
        if e["kind"] in _INVALID:
            invalid[e["subject_id"]].append(e["kind"])
        if e["kind"] == "INTERLOCK_MISSED":
            metric = _metric_of(index, e["sources"])
            if metric is not None:
                missed[e["subject_id"]][metric] = e["status"]
    held: dict[tuple[str, str], list[str]] = defaultdict(list)
    party_of: dict[str, set[str]] = defaultdict(set)          # dept -> metrics named with it
    scored: dict[str, set[str]] = defaultdict(set)            # dept -> metrics with points
    for (dept, sheet), held_rows in facts.held.items():
        reasons_held = held[(dept, base_sheet(sheet))]
        for row in held_rows:
            reasons_held.append("overturned" if "overturned" in status_of_row.get((sheet, row), ())
                                else "pending")
    for f in facts.firings_of(*firing_facts.WHY_NOT_BY_SOURCES):
        rule = f["rule"]
        if rule in ("interlock.reward", "interlock.penalty"):
            metric = _metric_of(index, f["sources"])
            if metric is not None:
                scored[f["subject_id"]].add(metric)
        elif rule in ("interlock.metric_count_ok", "INTERLOCK_TOO_MANY"):
            for sheet, row in f["sources"]:
                r = index.get((sheet, row))
                if sheet == "InterlockParties" and r is not None:
                    party_of[f["subject_id"]].add(r["metric_id"])

    out: dict[str, list[Reason]] = {}
    for d in sorted(rows.get("Departments", []), key=lambda r: r["dept_id"]):
        dept = d["dept_id"]
        reasons: list[Reason] = []
        done = applied.get(dept, set())
        # linkage
        if "linkage" not in done:
            reasons.append(Reason(dept, "linkage", False, "no_linkage_rows"
                                  if not by_rule_subject.get(("linkage.blend", dept))
                                  else "unexplained"))
        # peripheral and raci
        for mech, none_rule in (("peripheral", "PERIPHERAL_NO_RATINGS"), ("raci", "raci.no_ratings")):
            sheet = _RATING_SHEET[mech]
            h = held.get((dept, sheet), [])
            counts = {"pending": h.count("pending"), "overturned": h.count("overturned"),
                      "rejected": len(rejected_rows.get((dept, sheet), ()))}
            if mech in done:
                if h:
                    reasons.append(Reason(dept, mech, True, "held_some", counts))
            elif by_rule_subject.get((f"{mech}.front_office", dept)):
                reasons.append(Reason(dept, mech, False, "front_office"))
            elif by_rule_subject.get((f"{mech}.carried", dept)):
                reasons.append(Reason(dept, mech, False, "carried"))
            elif by_rule_subject.get((none_rule, dept)):
                reasons.append(Reason(dept, mech, False, "no_counted", counts))
            else:
                reasons.append(Reason(dept, mech, False, "unexplained"))
        # interlock
        metrics = sorted(party_of.get(dept, ()))
        if not metrics:
            if "interlock" not in done:
                reasons.append(Reason(dept, "interlock", False, "not_a_party"))
        else:
            for metric in metrics:
                if metric in scored.get(dept, ()):
                    continue
                # `applied` is about what the reason says — this metric, which did not count —
                # not about the department's other metrics: one reason, one answer everywhere
                if metric in invalid:
                    reasons.append(Reason(dept, "interlock", False, "invalid_metric",
                                          {"metric": metric, "kinds": invalid[metric]}))
                elif metric in missed.get(dept, {}):
                    reasons.append(Reason(dept, "interlock", False, "mild_miss",
                                          {"metric": metric, "status": missed[dept][metric]}))
            if "interlock" not in done and not any(r.mechanism == "interlock" for r in reasons):
                reasons.append(Reason(dept, "interlock", False, "unexplained"))
        out[dept] = reasons
    return out


def _metric_of(index, sources) -> str | None:
    for sheet, row in sources:
        if sheet in ("Interlocks", "InterlockParties"):
            r = index.get((sheet, row))
            if r is not None:
                return r["metric_id"]
    return None


# ------------------------------------------------------------------------------ employees

def employee_reasons(stored: dict) -> dict[str, list[Reason]]:
    """employee_id -> notes on the behaviour module (only employees with something to say)."""
    rejected: dict[str, dict[int, list[str]]] = defaultdict(dict)
    open_reviews: dict[str, int] = defaultdict(int)
    for e in stored["exceptions"]:
        if not e["kind"].startswith("BEH_"):
            continue
        if e["type"] == "rejection":
            rejected[e["subject_id"]].setdefault(e["sources"][0][1], []).append(e["kind"])
        elif e["status"] == "open":
            open_reviews[e["subject_id"]] += len(e["sources"])
    withdrawn: dict[str, int] = defaultdict(int)
    for f in firing_facts.of(stored).firings_of(firing_facts.WHY_NOT_WITHDRAWN):
        withdrawn[f["subject_id"]] += 1
    capped = {a["subject_id"]: a["points"] for a in stored["adjustments"]
              if a["rule"] == "behaviour.cap"}
    out: dict[str, list[Reason]] = defaultdict(list)
    for emp, by_row in rejected.items():
        kinds = sorted({k for ks in by_row.values() for k in ks}, key=list(KIND_BY_NAME).index)
        out[emp].append(Reason(emp, "behaviour", False, "beh_rejected",
                               {"n": len(by_row), "kinds": kinds}))
    for emp, n in withdrawn.items():
        out[emp].append(Reason(emp, "behaviour", False, "beh_withdrawn", {"n": n}))
    for emp, pts in capped.items():
        out[emp].append(Reason(emp, "behaviour", True, "beh_capped", {"points": pts}))
    for emp, n in open_reviews.items():
        out[emp].append(Reason(emp, "behaviour", True, "beh_review_open", {"n": n}))
    return dict(out)


_REASONS_SEPARATOR = Text(zh="；", en="; ")


def join(lang: str, reasons: list[Reason]) -> str:
    return _REASONS_SEPARATOR.pick(lang).join(r.render(lang) for r in reasons)


# ------------------------------------------------------------------------------ the table

TABLE_KEYS = ("dept_id", "dept_name", "mechanism", "applied", "reason")


def table(lang: str, reasons: dict[str, list[Reason]], names: dict[str, str]) -> list[list[str]]:
    """The rows of a why-not table (columns TABLE_KEYS): every reason of every department,
    departments in id order. `names`: dept_id -> name."""
    return [[dept, names.get(dept, ""), label(lang, r.mechanism),
             label(lang, "yes" if r.applied else "no"), r.render(lang)]
            for dept in sorted(reasons) for r in reasons[dept]]
