"""周边绩效 and 责任矩阵 blends — the peripheral (SPEC §5.4) and RACI (SPEC §5.5) adjustments of
middle/back-office departments.

The article:
    「控制权重,一般建议周边绩效在中后台绩效中占比10%–20%」 (三.1, 设计要点)
    「内部客户评价要与客观数据结合,如工单解决时效、项目里程碑达成率等,否则容易流于“好人主义”。」
        (三.1, 实践小贴士)
    「对中后台而言,责任矩阵协同评分可以占绩效的10%–20%;」
    「对前台则不必反向设置,以防相互“绑架”。」 (三.3)
    Internal-customer ratings weigh 10–20 % of a support department's score and are blended with
    objective service data; RACI ratings by the front office weigh another 10–20 %.

Per department d with base S_d:
    peripheral.blend = weight × (P_d − S_d), P_d = (1 − objective_share)·R_d + objective_share·O_d
                       (R_d = rating_to_points × mean counted InternalRatings score,
                        O_d = 100 × mean ServiceMetrics value; P_d = R_d without metrics)
    raci.blend       = weight × (Q_d − S_d), Q_d = rating_to_points × mean counted RaciRatings score
A middle/back department with no counted internal rating gets the notice PERIPHERAL_NO_RATINGS
instead; with no counted RACI rating it simply gets no RACI blend (`raci.no_ratings` says so).
Front-office departments are outside both (`*.front_office` says so, so that the trace explains
every absence). Under the quarterly cadence (SPEC §11.5) the blend of a quarter's last month
averages the ratings counted over the quarter, and in the two months before it
`peripheral.carried` / `raci.carried` take the place of the blend and of the notice.

Example (SPEC §9): IT, S = 70, ratings 4 and 4 counted → R = 80, ticket_sla 0.9 → O = 90,
P = 85 → peripheral 0.15 × (85 − 70) = 2.25; one RACI rating 3 → Q = 60 → raci −1.50.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING

from engine import RuleBook, m
from rules import ratings
from rules.kinds import Kinds
from rules.outcomes import add_exact, exact, flag, fmt, note, points
from rules.sources import chained
from rules.wording import Wording

if TYPE_CHECKING:       # the context imports the kinds' catalog, which imports this book
    from rules.context import Context

BOOK = RuleBook("blends", zh="周边绩效与责任矩阵加权", en="Peripheral and RACI blends")
KINDS = Kinds(BOOK, mechanisms=("peripheral",))
WORDS = Wording(BOOK.name)
PERIPHERAL_SAYS = WORDS.template(
    "peripheral.blend",
    zh="评价分 {r}，客观分 {o}，周边绩效分 {p}：{w} × ({p} − {base})",
    en="R={r}, O={o}, P={p}; {w} × ({p} − {base})")
PERIPHERAL_NO_METRICS_SAYS = WORDS.template(
    "peripheral.blend.no_metrics",
    zh="评价分 {r}，无客观数据，周边绩效分即评价分：{w} × ({p} − {base})",
    en="R={r}, no service metrics, P=R; {w} × ({p} − {base})")
NO_RATINGS_SAYS = WORDS.template(
    "peripheral.no_ratings",
    zh="{dept}（{name}）：本期没有计入的周边评价",
    en="{dept} ({name}): no counted internal rating this period")
RACI_SAYS = WORDS.template(
    "raci.blend",
    zh="责任矩阵评分 {q}：{w} × ({q} − {base})",
    en="Q={q}; {w} × ({q} − {base})")
FRONT_OFFICE = WORDS.note(en="not applicable: front office", zh="不适用：前台部门")
NO_RACI_RATING = WORDS.note(en="no counted RACI rating", zh="没有计入的责任矩阵评分")
CARRIED = ratings.CARRIED          # the same note as a carried rating's


@BOOK.rule("peripheral.blend",
           (m.t == "periph") & (m.tier != "front") & (m.carried == False) & (m.counted >= 1),
           zh="周边绩效按权重计入中后台部门得分",
           en="Peripheral score blended into a middle/back department's score")
def peripheral_blend(d):
    scale, base = exact(d["scale"]), exact(d["base"])
    r = scale * exact(d["score_sum"]) / d["counted"]
    weight = exact(d["weight"])
    if d["metrics"]:
        o = 100 * exact(d["metric_sum"]) / d["metrics"]
        share = exact(d["objective_share"])
        p = (1 - share) * r + share * o
        said = PERIPHERAL_SAYS(r=fmt(r), o=fmt(o), p=fmt(p), w=fmt(weight), base=fmt(base))
    else:
        p = r
        said = PERIPHERAL_NO_METRICS_SAYS(r=fmt(r), p=fmt(p), w=fmt(weight), base=fmt(base))
    return [points(weight * (p - base), said)]


@KINDS.rejection("PERIPHERAL_NO_RATINGS",
                 (m.t == "periph") & (m.tier != "front") & (m.carried == False)
                 & (m.counted == 0),
                 subject="department", key=("dept_id",), notice=True,
                 zh="中后台部门本期没有计入的周边评价，周边绩效未计算",
                 en="A middle/back department has no counted internal rating: "
                    "no peripheral score")
def peripheral_no_ratings(d):
    return [flag("PERIPHERAL_NO_RATINGS")]


@BOOK.rule("peripheral.carried", (m.t == "periph") & (m.tier != "front") & (m.carried == True),
           zh="按季度评价：本月的周边评价转入季末月统一评估，本月不计算周边绩效",
           en="Quarterly ratings: this month's internal ratings are carried to the quarter's "
              "last month; no peripheral score this month")
def peripheral_carried(d):
    return [note(CARRIED)]


@BOOK.rule("peripheral.front_office", (m.t == "periph") & (m.tier == "front"),
           zh="前台部门不参与周边绩效", en="Front office: peripheral rating does not apply")
def peripheral_front(d):
    return [note(FRONT_OFFICE)]


@BOOK.rule("raci.blend",
           (m.t == "raci") & (m.tier != "front") & (m.carried == False) & (m.counted >= 1),
           zh="责任矩阵评分按权重计入中后台部门得分",
           en="RACI score blended into a middle/back department's score")
def raci_blend(d):
    q = exact(d["scale"]) * exact(d["score_sum"]) / d["counted"]
    weight, base = exact(d["weight"]), exact(d["base"])
    return [points(weight * (q - base), RACI_SAYS(q=fmt(q), w=fmt(weight), base=fmt(base)))]


@BOOK.rule("raci.no_ratings",
           (m.t == "raci") & (m.tier != "front") & (m.carried == False) & (m.counted == 0),
           zh="没有计入的责任矩阵评分，不调整", en="No counted RACI rating: no RACI adjustment")
def raci_no_ratings(d):
    return [note(NO_RACI_RATING)]


@BOOK.rule("raci.carried", (m.t == "raci") & (m.tier != "front") & (m.carried == True),
           zh="按季度评价：本月的责任矩阵评分转入季末月统一评估，本月不调整",
           en="Quarterly ratings: this month's RACI ratings are carried to the quarter's last "
              "month; no RACI adjustment this month")
def raci_carried(d):
    return [note(CARRIED)]


@BOOK.rule("raci.front_office", (m.t == "raci") & (m.tier == "front"),
           zh="前台部门不被责任矩阵评分", en="Front office: RACI rating does not apply")
def raci_front(d):
    return [note(FRONT_OFFICE)]


def run(ev, ctx: Context, counted: dict[str, dict[str, ratings.Counted]]) -> None:
    """`counted`: per rating sheet, the counted ratings of each rated department, their
    sources in SPEC §5.7's order (an earlier month's before the period's own, a quarter's
    months in order, each month's in row order) and their exact sum (rules.ratings.run)."""
    policy = ctx.policy
    metrics = defaultdict(list)
    for mrow in ctx.sheet("ServiceMetrics"):
        metrics[mrow["dept_id"]].append(mrow)
    internal, raci = counted["InternalRatings"], counted["RaciRatings"]
    carry_internal = ratings.carried_over(ctx, "InternalRatings")
    carry_raci = ratings.carried_over(ctx, "RaciRatings")
    none = ratings.Counted()
    for dept in ctx.sheet("Departments"):
        d = dept["dept_id"]
        dsrc = ("Departments", dept["row"])
        rs, ms = internal.get(d, none), metrics.get(d, [])
        fact = {"t": "periph", "dept_id": d, "tier": dept["tier"], "counted": len(rs),
                "carried": carry_internal,
                "metrics": len(ms), "base": str(dept["base_score"]),
                "score_sum": str(rs.total),
                "metric_sum": _sum_text(x["value"] for x in ms),
                "scale": str(policy.scale.rating_to_points),
                "objective_share": str(policy.peripheral.objective_share),
                "weight": str(policy.peripheral.weight)}
        sources = chained([dsrc], rs.sources, (("ServiceMetrics", x["row"]) for x in ms))
        for firing in ctx.feed(ev, BOOK.name, fact, ("periph", d)):
            entry = ctx.record(firing, d, sources if firing.rule_id == "peripheral.blend" else [dsrc])
            for o in firing.outcomes:
                if "points" in o:
                    ctx.adjust(entry, "department", d, "peripheral", o, sources)
                elif "exception" in o:
                    ctx.exception(entry, o["exception"], "peripheral", d, (d,), [dsrc], None,
                                  NO_RATINGS_SAYS(dept=d, name=dept["name"]))
        qs = raci.get(d, none)
        fact = {"t": "raci", "dept_id": d, "tier": dept["tier"], "counted": len(qs),
                "carried": carry_raci,
                "base": str(dept["base_score"]), "score_sum": str(qs.total),
                "scale": str(policy.scale.rating_to_points), "weight": str(policy.raci.weight)}
        sources = chained([dsrc], qs.sources)
        for firing in ctx.feed(ev, BOOK.name, fact, ("raci", d)):
            entry = ctx.record(firing, d, sources)
            for o in firing.outcomes:
                if "points" in o:
                    ctx.adjust(entry, "department", d, "raci", o, sources)


def _sum_text(values) -> str:
    """An exact sum of Decimals, as text (rules.outcomes.add_exact)."""
    total = Decimal(0)
    for v in values:
        total = add_exact(total, v)
    return str(total)
