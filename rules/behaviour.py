"""协同行为加减分 — collaboration behaviour bonus and penalty (SPEC §5.1).

The article (三.5):
    「增设一个小权重(如5%–10%)的“协同行为加减分”模块。」
    「由跨部门项目负责人或上一级管理者提出加减分建议;」
    「HR牵头建立简单台账,确保加减分都有事实依据;」
    A small module (5–10 %) of points for listed behaviours, proposed by a cross-department
    project lead or a higher manager, recorded by HR in a simple ledger, every point backed by
    facts.

The rules, in the order they chain:
1. Every Behaviours row is screened by seven checks (BEH_UNKNOWN_REF … BEH_UNAUTHORIZED); each
   failed check is a rejection for HR, and a row with any rejection is not applied. A row on
   which none of them fired fires `behaviour.accept`, the book's fallback rule: accepted means
   "no rejection fired" by construction, so a new check needs no edit of the accept rule.
2. Accepted positive rows are grouped by (proposer, employee): `BEH_FREQUENT_PROPOSER` fires when
   one proposer gave one employee `frequent_proposer` or more of them (「避免成为“人情分”」);
   the proposer's manager reviews it. Overturned, the period's rows are removed from the sum.
   With `frequent_window_months` = N > 1 (SPEC §11.9) a pair with a row in the period also
   counts its rows of the N − 1 months before that were accepted in their own month (screened
   here again against that month's dates and master data, cited as `Behaviours@YYYY-MM`).
3. Each accepted row that was not removed fires `behaviour.credit` (+/− its points); a removed row
   fires `behaviour.withdrawn`, so the trace says why its points are missing.
4. Per employee, T = the sum of the rounded credits: `behaviour.cap` brings T back to ±cap when it
   lies outside (`behaviour.within_cap` records that it did not).

Example: LEAD +3, RESCUE +3, IMPROVE +3, SHARE +2 by the employee's manager → T = 11 > cap 10 →
behaviour.cap emits −1.00, and BEH_FREQUENT_PROPOSER (4 ≥ 3 rows) goes to the manager's manager.
"""
from __future__ import annotations

from collections import defaultdict
from fractions import Fraction
from typing import TYPE_CHECKING

from engine import RuleBook, m
from importers.memory import row_maker
from rules.assignees import behaviour_review_assignee
from rules.company import is_blank
from rules.kinds import Kinds
from rules.months import months_before
from rules.outcomes import exact, flag, fmt, note, points, round_half_up
from rules.sources import qualify
from rules.wording import Wording

if TYPE_CHECKING:       # the context imports the kinds' catalog, which imports this book
    from rules.context import Context, Source

BOOK = RuleBook("behaviour", zh="协同行为加减分", en="Collaboration behaviour bonus/penalty")
SHEET = "Behaviours"
MECHANISM = "behaviour"
KINDS = Kinds(BOOK, mechanisms=(MECHANISM,))
WORDS = Wording(BOOK.name)
REJECTED_SAYS = WORDS.template(
    "behaviour.rejected",
    zh="{event}：{kind}",
    en="{event}: {kind}",
    words={"kind": KINDS})
FREQUENT_SAYS = WORDS.template(
    "behaviour.frequent_proposer",
    zh="{proposer} 本期为 {employee} 提议加分 {n} 条",
    en="{proposer} proposed {n} bonus rows for {employee}")
# with [behaviour] frequent_window_months > 1 (SPEC §11.9): the rows of the months counted
FREQUENT_WINDOW_SAYS = WORDS.template(
    "behaviour.frequent_proposer.window",
    zh="{proposer} 在 {first} 至 {last} 期间为 {employee} 提议加分 {n} 条（本期 {here} 条）",
    en="{proposer} proposed {n} bonus rows for {employee} from {first} to {last} ({here} this "
       "period)")
CREDIT_SAYS = WORDS.template(
    "behaviour.credit",
    zh="{code} {points} 分，提议人 {proposer}",
    en="{code} {points} proposed by {proposer}")
CAP_SAYS = WORDS.template(
    "behaviour.cap",
    zh="协同行为合计 {total} 分，超出 ±{cap} 分的上限：调整 {adjust}",
    en="total {total} outside ±{cap}: {adjust}")
ACCEPTED = WORDS.note(en="accepted", zh="采纳")
WITHDRAWN = WORDS.note(en="removed by an overturned BEH_FREQUENT_PROPOSER review",
                       zh="频繁提议复核（BEH_FREQUENT_PROPOSER）被撤销，本条不计分")

# -- 1. screening a row ---------------------------------------------------------------------


@KINDS.rejection("BEH_UNKNOWN_REF",
                 (m.t == "beh") & ((m.employee_known == False) | (m.proposer_known == False)
                                   | (m.project_known == False)),
                 subject="employee", key=("event_id",),
                 zh="工号、提议人工号或项目编号不存在",
                 en="Employee, proposer or project does not exist")
def unknown_ref(row):
    return [flag("BEH_UNKNOWN_REF")]


@KINDS.rejection("BEH_OUT_OF_PERIOD", (m.t == "beh") & (m.month != m.period),
                 subject="employee", key=("event_id",),
                 zh="日期不在考核月内", en="The date is not in the evaluated month")
def out_of_period(row):
    return [flag("BEH_OUT_OF_PERIOD")]


@KINDS.rejection("BEH_UNKNOWN_CODE", (m.t == "beh") & (m.code_known == False),
                 subject="employee", key=("event_id",),
                 zh="行为代码不在行为清单中", en="Behaviour code is not in the catalog")
def unknown_code(row):
    return [flag("BEH_UNKNOWN_CODE")]


@KINDS.rejection("BEH_POINTS_RANGE",
                 (m.t == "beh") & (m.code_known == True)
                 & ((m.points < m.min_points) | (m.points > m.max_points)),
                 subject="employee", key=("event_id",),
                 zh="分值超出该行为的分值区间", en="Points outside the behaviour's range")
def points_range(row):
    return [flag("BEH_POINTS_RANGE")]


@KINDS.rejection("BEH_NO_EVIDENCE", (m.t == "beh") & (m.evidence_blank == True),
                 subject="employee", key=("event_id",),
                 zh="缺少事实依据", en="No factual evidence")
def no_evidence(row):
    """「HR牵头建立简单台账,确保加减分都有事实依据;」"""
    return [flag("BEH_NO_EVIDENCE")]


@KINDS.rejection("BEH_SELF_PROPOSED", (m.t == "beh") & (m.proposer_id == m.employee_id),
                 subject="employee", key=("event_id",),
                 zh="提议人即被加减分员工本人", en="The proposer is the employee")
def self_proposed(row):
    return [flag("BEH_SELF_PROPOSED")]


@KINDS.rejection("BEH_UNAUTHORIZED",
                 (m.t == "beh") & (m.authority_known == True) & (m.proposer_id != m.employee_id)
                 & (m.proposer_above == False) & (m.proposer_leads_project == False),
                 subject="employee", key=("event_id",),
                 zh="提议人既非该员工的上级也非项目负责人",
                 en="Proposer is neither above the employee nor the project's lead")
def unauthorized(row):
    return [flag("BEH_UNAUTHORIZED")]


@BOOK.fallback("behaviour.accept", m.t == "beh",
               zh="行为记录通过全部检查，予以采纳", en="The row passed every check and is accepted")
def accept(row):
    return [note(ACCEPTED)]


# -- 2. one proposer, one employee ----------------------------------------------------------


@KINDS.review("BEH_FREQUENT_PROPOSER", (m.t == "beh_pair") & (m.count >= m.threshold),
              subject="employee", key=("proposer_id", "employee_id"),
              zh="同一提议人对同一员工当期多次加分，须复核",
              en="One proposer gave one employee many bonus rows this period: review")
def frequent_proposer(pair):
    """「避免成为“人情分”」"""
    return [flag("BEH_FREQUENT_PROPOSER")]


@BOOK.rule("behaviour.pair_ok", (m.t == "beh_pair") & (m.count < m.threshold),
           zh="同一提议人的加分次数在限度内", en="The proposer's bonus rows are within the limit")
def pair_ok(pair):
    return None


# -- 3. credits -----------------------------------------------------------------------------


@BOOK.rule("behaviour.credit", (m.t == "beh_apply") & (m.removed == False),
           zh="采纳的行为记录计入分值", en="An accepted row credits its points to the employee")
def credit(row):
    return [points(exact(row["points_exact"]),
                   CREDIT_SAYS(code=row["code"], points=row["points_exact"],
                               proposer=row["proposer_id"]))]


@BOOK.rule("behaviour.withdrawn", (m.t == "beh_apply") & (m.removed == True),
           zh="频繁提议复核被撤销，该记录不计分",
           en="The frequent-proposer review was overturned: the row is not credited")
def withdrawn(row):
    return [note(WITHDRAWN)]


# -- 4. the cap -----------------------------------------------------------------------------


@BOOK.rule("behaviour.cap",
           (m.t == "beh_total") & ((m.total > m.cap) | (m.total < m.negative_cap)),
           zh="协同行为分超出上限，按上限计", en="The behaviour total is brought back to ±cap")
def cap(total):
    t, limit = exact(total["total_exact"]), exact(total["cap_exact"])
    bound = limit if t > limit else -limit
    return [points(bound - t, CAP_SAYS(total=fmt(t), cap=fmt(limit), adjust=fmt(bound - t)))]


@BOOK.rule("behaviour.within_cap",
           (m.t == "beh_total") & (m.total <= m.cap) & (m.total >= m.negative_cap),
           zh="协同行为分在上限内", en="The behaviour total is within ±cap")
def within_cap(total):
    return None


# -- the run --------------------------------------------------------------------------------


# what the steps after screening read of an accepted row (the rest — evidence, notes — is not
# kept: the sheet is read once, from a file for a big month, and its rows are not held)
_ACCEPTED = row_maker(("row", "event_id", "employee_id", "proposer_id", "points", "code"))


def run(ev, ctx: Context) -> None:
    policy, company = ctx.policy, ctx.company
    bp = policy.behaviour
    accepted: list[dict] = []

    def fact(r):
        return _row_fact(r, SHEET, ctx.period, company, bp)

    for r, firings in ctx.feed_each(ev, BOOK.name, ctx.sheet(SHEET), fact):
        src: Source = (SHEET, r["row"])
        emp = r["employee_id"]
        entry = bp.lookup(r["behaviour_code"])
        for firing in firings:
            entry_ = ctx.record(firing, emp, [src])
            for o in firing.outcomes:
                if "exception" in o:
                    kind = o["exception"]
                    ctx.exception(entry_, kind, MECHANISM, emp, (r["event_id"],), [src], None,
                                  REJECTED_SAYS(event=r["event_id"], kind=kind))
            if firing.rule_id == "behaviour.accept":
                accepted.append(_ACCEPTED(r["row"], r["event_id"], emp, r["proposer_id"],
                                          r["points"], entry.code).__dict__)

    # 2. frequent proposers, over the period and the window's earlier months (SPEC §11.9)
    positive: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in accepted:
        if r["points"] > 0:
            positive[(r["proposer_id"], r["employee_id"])].append(r)
    earlier = _earlier_positive(ev, ctx, positive)
    months = months_before(ctx.period, bp.frequent_window_months - 1)
    removed: set[str] = set()
    for (prop, emp), rows in sorted(positive.items()):
        before = earlier.get((prop, emp), [])
        sources = [(SHEET, x["row"]) for x in rows] + before
        count = len(rows) + len(before)
        fact = {"t": "beh_pair", "proposer_id": prop, "employee_id": emp, "count": count,
                "threshold": bp.frequent_proposer}
        for firing in ctx.feed(ev, BOOK.name, fact, ("beh_pair", prop, emp)):
            entry_ = ctx.record(firing, emp, sources)
            if firing.outcomes:
                assignee = behaviour_review_assignee(company.employees, prop, emp)
                if months:
                    said = FREQUENT_WINDOW_SAYS(proposer=prop, n=str(count), employee=emp,
                                                first=months[0], last=ctx.period,
                                                here=str(len(rows)))
                else:
                    said = FREQUENT_SAYS(proposer=prop, n=str(count), employee=emp)
                exc = ctx.exception(entry_, "BEH_FREQUENT_PROPOSER", MECHANISM, emp, (prop, emp),
                                    sources, assignee, said)
                if exc["status"] == "overturned":           # this period's rows, not earlier
                    removed.update(x["event_id"] for x in rows)

    # 3. credits, 4. cap
    by_employee: dict[str, list[dict]] = defaultdict(list)
    for r in accepted:
        by_employee[r["employee_id"]].append(r)
    cap_exact = str(bp.cap)
    for emp in sorted(by_employee):
        total = Fraction(0)
        applied: list[Source] = []
        for r in by_employee[emp]:
            src = (SHEET, r["row"])
            fact = {"t": "beh_apply", "employee_id": emp, "proposer_id": r["proposer_id"],
                    "code": r["code"], "points_exact": str(r["points"]),
                    "removed": r["event_id"] in removed}
            for firing in ctx.feed(ev, BOOK.name, fact, ("beh_apply", SHEET, r["row"])):
                entry_ = ctx.record(firing, emp, [src])
                for o in firing.outcomes:
                    if "points" in o:
                        adj = ctx.adjust(entry_, "employee", emp, MECHANISM, o, [src])
                        total += Fraction(adj["points"])
                        applied.append(src)
        if not applied:
            continue
        total_dec = round_half_up(total)
        fact = {"t": "beh_total", "employee_id": emp, "total": total_dec,
                "cap": bp.cap, "negative_cap": -bp.cap,
                "total_exact": str(total_dec), "cap_exact": cap_exact}
        for firing in ctx.feed(ev, BOOK.name, fact, ("beh_total", emp)):
            entry_ = ctx.record(firing, emp, applied)
            for o in firing.outcomes:
                ctx.adjust(entry_, "employee", emp, MECHANISM, o, applied, after_credits=True)


def _row_fact(r: dict, name: str, period: str, company, bp) -> tuple[dict, Source]:
    """The screening fact of a Behaviours row of `period` (the evaluated month, or an earlier
    month of the frequent-proposer window), with its key: (`name`, Excel row)."""
    emp, prop, proj = r["employee_id"], r["proposer_id"], r.get("project_id")
    employee_known, proposer_known = emp in company.employees, prop in company.employees
    project_known = is_blank(proj) or proj in company.projects
    entry = bp.lookup(r["behaviour_code"])
    # A check that needs an unknown reference is skipped (SPEC §5): authority is known only
    # when both people are known, and either the proposer is above the employee or the
    # row's project (if any) is known so its lead can be compared.
    above = employee_known and proposer_known and company.is_above(prop, emp)
    leads = (not is_blank(proj) and proj in company.projects
             and company.projects[proj]["lead_id"] == prop)
    authority_known = employee_known and proposer_known and (above or is_blank(proj) or
                                                             proj in company.projects)
    fact = {
        "t": "beh", "employee_id": emp, "proposer_id": prop,
        "employee_known": employee_known, "proposer_known": proposer_known,
        "project_known": project_known,
        "month": f"{r['date'].year:04d}-{r['date'].month:02d}", "period": period,
        "code_known": entry is not None,
        "points": r["points"],
        "min_points": entry.min if entry else 0, "max_points": entry.max if entry else 0,
        "evidence_blank": is_blank(r.get("evidence")),
        "authority_known": authority_known, "proposer_above": above,
        "proposer_leads_project": leads,
    }
    return fact, (name, r["row"])


def _earlier_positive(ev, ctx: Context, positive: dict[tuple[str, str], list[dict]]
                      ) -> dict[tuple[str, str], list[Source]]:
    """The frequent-proposer window's earlier months (SPEC §11.9): for each (proposer,
    employee) pair with a positive accepted row this period, the sources of that pair's
    positive rows accepted in each of the N − 1 months before, oldest month first, each month's
    in row order.

    An earlier month's row counts when it passes the same checks as it did in its own month —
    its own month's date and master data (Employees, Projects), this policy's catalog — so each
    is screened again here (the firings are in this run's trace, under its month's sheet); its
    rejections were that month's exceptions and are not raised again. Decisions of earlier
    months remove nothing here: an overturned review there took those points out of that
    month's sum, and the rows still show whom the proposer favoured."""
    out: dict[tuple[str, str], list[Source]] = {}
    bp = ctx.policy.behaviour
    if bp.frequent_window_months <= 1 or not positive:
        return out
    for month in months_before(ctx.period, bp.frequent_window_months - 1):
        rows = [r for r in ctx.month_sheet(month, SHEET)
                if r["points"] > 0 and (r["proposer_id"], r["employee_id"]) in positive]
        if not rows:
            continue
        name = qualify(SHEET, month)

        def fact(r, name=name, month=month, company=ctx.company_of(month)):
            return _row_fact(r, name, month, company, bp)

        for r, firings in ctx.feed_each(ev, BOOK.name, rows, fact):
            src = (name, r["row"])
            for firing in firings:
                ctx.record(firing, r["employee_id"], [src])
                if firing.rule_id == "behaviour.accept":
                    out.setdefault((r["proposer_id"], r["employee_id"]), []).append(src)
    return out
