"""指标互锁 / 业绩双算 — interlocked metrics (SPEC §5.6).

The article (三.4):
    「该指标达成:三方都按照权重享受奖金或激励;」
    「指标未达成:三方都必须参与复盘和改进,而不是只有销售部挨批。」
    「真正采用互锁机制的指标不宜太多,一般挑选2–3个对战略至关重要的指标即可。」
    「奖惩机制对等」: 「奖励:达成越好,三方按权重共享;」 「约束:严重未达标时,三方绩效均有一定扣减。」
    A strategic metric shared by several departments by weight: achieved, every party shares
    the bonus; missed, every party joins the post-mortem; severely missed, every party also
    shares the penalty. Only a few metrics are interlocked.

1. Each metric is screened: INTERLOCK_WEIGHTS (weights do not sum to 1 ± 0.001),
   INTERLOCK_PARTIES (fewer than 2 parties above weight 0), INTERLOCK_ASYMMETRIC (bonus and
   penalty break the symmetry policy) make it invalid — nothing applied, HR fixes the ledger;
   `interlock.valid` admits it.
2. A department named in more than max_metrics_per_dept metrics (valid or not) gets the notice
   INTERLOCK_TOO_MANY; its valid metrics still apply.
3. For every party (weight w) of a metric with achievement a (actual/target, or target/actual
   when lower is better; lower with actual 0 counts as achieved, a = ∞):
   `INTERLOCK_MISSED` (the post-mortem, 复盘) for the party's manager whenever a < 1 — valid
   metric or not (SPEC §11.8); its decision records whether the post-mortem was held, no score
   changes. A valid metric also applies `interlock.reward` when a ≥ 1 — bonus × w ×
   min(a, reward_cap) with `reward_scale = "linear"` (the better, the more), bonus × w with
   "flat" — and `interlock.penalty` −penalty × w when a < severe_miss_ratio; an invalid
   metric's party fires `interlock.not_applied` (no points) instead.

The kinds are declared in SPEC §5's order (rules/exceptions.py takes it from here), so
INTERLOCK_TOO_MANY comes before INTERLOCK_MISSED.

Example (SPEC §9): M1 target 100, actual 75 → a = 0.75 < 0.8, penalty 6, IT's weight 0.3 →
interlock −1.80 and a post-mortem review for IT's manager.
"""
from __future__ import annotations

from collections import defaultdict
from fractions import Fraction
from typing import TYPE_CHECKING

from engine import RuleBook, m
from rules.assignees import interlock_review_assignee
from rules.kinds import Kinds
from rules.outcomes import TOLERANCE_FLOAT, exact, flag, fmt, note, points
from rules.wording import Wording

if TYPE_CHECKING:       # the context imports the kinds' catalog, which imports this book
    from rules.context import Context

BOOK = RuleBook("interlocks", zh="指标互锁", en="Interlocked metrics")
KINDS = Kinds(BOOK, mechanisms=("interlock",))
WEIGHT_TOLERANCE = Fraction(1, 1000)
ACHIEVED_WHEN_ZERO = 1e18      # "lower is better" with actual 0: achieved, a stand-in for +∞

WORDS = Wording(BOOK.name)
REWARD_SAYS = WORDS.template(
    "interlock.reward",
    zh="{metric} 已达成（达成率 {a}）：{bonus} × {w}",
    en="{metric} achieved (a={a}): {bonus} × {w}")
REWARD_AT_ZERO_SAYS = WORDS.template(
    "interlock.reward.actual_zero",
    zh="{metric} 已达成（实际值为 0，越低越好）：{bonus} × {w}",
    en="{metric} achieved (actual 0, lower is better): {bonus} × {w}")
# the linear reward (SPEC §11.8): bonus × w × min(a, reward_cap)
LINEAR_REWARD_SAYS = WORDS.template(
    "interlock.reward.linear",
    zh="{metric} 已达成（达成率 {a}）：{bonus} × {w} × {f}（达成率，封顶 {cap}）",
    en="{metric} achieved (a={a}): {bonus} × {w} × {f} (a, at most {cap})")
LINEAR_REWARD_AT_ZERO_SAYS = WORDS.template(
    "interlock.reward.linear.actual_zero",
    zh="{metric} 已达成（实际值为 0，越低越好，按封顶计）：{bonus} × {w} × {cap}",
    en="{metric} achieved (actual 0, lower is better: at the cap): {bonus} × {w} × {cap}")
PENALTY_SAYS = WORDS.template(
    "interlock.penalty",
    zh="{metric} 严重未达（达成率 {a}）：−{penalty} × {w}",
    en="{metric} severely missed (a={a}): −{penalty} × {w}")
INVALID_SAYS = WORDS.template(
    "interlock.invalid",
    zh="{metric}（{name}）：{kind}",
    en="{metric} ({name}): {kind}",
    words={"kind": KINDS})
MISSED_SAYS = WORDS.template(
    "interlock.missed",
    zh="{metric}（{name}）未达成（达成率 {a}）：{dept} 须参与复盘",
    en="{metric} ({name}) missed, a={a}: {dept} holds a post-mortem")
TOO_MANY_SAYS = WORDS.template(
    "interlock.too_many",
    zh="{dept} 参与了 {n} 个互锁指标（至多 {max} 个）",
    en="{dept} is a party to {n} interlocked metrics (at most {max})")
VALID = WORDS.note(en="valid", zh="设置有效")
NOT_APPLIED = WORDS.note(en="the metric is invalid: no points apply",
                         zh="互锁指标设置无效：不计奖惩分")


# -- 1. screening a metric ------------------------------------------------------------------


@KINDS.rejection("INTERLOCK_WEIGHTS", (m.t == "metric") & (m.weight_error > m.weight_tolerance),
                 subject="metric", key=("metric_id",),
                 zh="互锁部门权重之和不为 1", en="The parties' weights do not sum to 1")
def weights(x):
    return [flag("INTERLOCK_WEIGHTS")]


@KINDS.rejection("INTERLOCK_PARTIES", (m.t == "metric") & (m.positive_parties < 2),
                 subject="metric", key=("metric_id",),
                 zh="权重大于 0 的互锁部门少于 2 个", en="Fewer than 2 parties above weight 0")
def parties(x):
    return [flag("INTERLOCK_PARTIES")]


@KINDS.rejection("INTERLOCK_ASYMMETRIC",
                 (m.t == "metric")
                 & (((m.symmetry == "equal") & (m.bonus != m.penalty))
                    | ((m.symmetry == "both") & ((m.bonus <= 0) | (m.penalty <= 0)))),
                 subject="metric", key=("metric_id",),
                 zh="奖惩不对等", en="Reward and penalty break the symmetry policy")
def asymmetric(x):
    """「奖惩机制对等」"""
    return [flag("INTERLOCK_ASYMMETRIC")]


@BOOK.rule("interlock.valid",
           (m.t == "metric") & (m.weight_error <= m.weight_tolerance) & (m.positive_parties >= 2)
           & (((m.symmetry == "equal") & (m.bonus == m.penalty))
              | ((m.symmetry == "both") & (m.bonus > 0) & (m.penalty > 0))),
           zh="互锁指标设置有效", en="The interlocked metric is valid")
def valid(x):
    return [note(VALID)]


# -- 2. a department's number of metrics ----------------------------------------------------


@KINDS.rejection("INTERLOCK_TOO_MANY", (m.t == "dept_metrics") & (m.metrics > m.max_metrics),
                 subject="department", key=("dept_id",), notice=True,
                 zh="部门参与的互锁指标过多", en="The department shares too many interlocked metrics")
def too_many(d):
    """「真正采用互锁机制的指标不宜太多,一般挑选2–3个对战略至关重要的指标即可。」"""
    return [flag("INTERLOCK_TOO_MANY")]


@BOOK.rule("interlock.metric_count_ok", (m.t == "dept_metrics") & (m.metrics <= m.max_metrics),
           zh="部门参与的互锁指标数在限度内",
           en="The department's number of interlocked metrics is within the limit")
def count_ok(d):
    return None


# -- 3. each party of a valid metric --------------------------------------------------------


@BOOK.rule("interlock.reward", (m.t == "party") & (m.valid == True) & (m.a >= m.achieved_at),
           zh="互锁指标达成，各方按权重分享奖励", en="Achieved: the party shares the bonus by weight")
def reward(p):
    """「奖励:达成越好,三方按权重共享;」"""
    bonus, w = exact(p["bonus_exact"]), exact(p["weight_exact"])
    if p["scale"] == "flat":
        if not p["a_text"]:                 # lower is better, actual 0
            said = REWARD_AT_ZERO_SAYS(metric=p["metric_id"], bonus=fmt(bonus), w=fmt(w))
        else:
            said = REWARD_SAYS(metric=p["metric_id"], a=p["a_text"], bonus=fmt(bonus), w=fmt(w))
        return [points(bonus * w, said)]
    cap = exact(p["reward_cap"])
    if not p["a_text"]:                     # lower is better, actual 0: a is infinite
        factor = cap
        said = LINEAR_REWARD_AT_ZERO_SAYS(metric=p["metric_id"], bonus=fmt(bonus), w=fmt(w),
                                          cap=fmt(cap))
    else:
        factor = min(exact(p["a_exact"]), cap)
        said = LINEAR_REWARD_SAYS(metric=p["metric_id"], a=p["a_text"], bonus=fmt(bonus),
                                  w=fmt(w), f=fmt(factor), cap=fmt(cap))
    return [points(bonus * w * factor, said)]


@BOOK.rule("interlock.penalty", (m.t == "party") & (m.valid == True) & (m.a < m.severe_at),
           zh="互锁指标严重未达，各方按权重分摊扣减",
           en="Severely missed: the party shares the penalty by weight")
def penalty(p):
    """「约束:严重未达标时,三方绩效均有一定扣减。」"""
    pen, w = exact(p["penalty_exact"]), exact(p["weight_exact"])
    return [points(-pen * w, PENALTY_SAYS(metric=p["metric_id"], a=p["a_text"], penalty=fmt(pen),
                                          w=fmt(w)))]


@KINDS.review("INTERLOCK_MISSED", (m.t == "party") & (m.a < m.achieved_at),
              subject="department", key=("metric_id", "dept_id"),
              zh="互锁指标未达成，各方须参与复盘",
              en="The interlocked metric was missed: every party holds a post-mortem")
def missed(p):
    """「指标未达成:三方都必须参与复盘和改进,而不是只有销售部挨批。」 — every party of every missed
    metric, an invalid one's too (SPEC §11.8)."""
    return [flag("INTERLOCK_MISSED")]


@BOOK.rule("interlock.not_applied", (m.t == "party") & (m.valid == False),
           zh="互锁指标设置无效，该方不计奖惩分",
           en="The metric is invalid: no points apply to the party")
def not_applied(p):
    return [note(NOT_APPLIED)]


def run(ev, ctx: Context) -> None:
    ip = ctx.policy.interlock
    parties_of, named_in = defaultdict(list), defaultdict(list)
    for p in ctx.sheet("InterlockParties"):
        parties_of[p["metric_id"]].append(p)
        named_in[p["dept_id"]].append(p)
    for metric in ctx.sheet("Interlocks"):
        mid = metric["metric_id"]
        ps = parties_of.get(mid, [])
        total = sum((exact(p["weight"]) for p in ps), Fraction(0))
        msrc = ("Interlocks", metric["row"])
        metric_sources = [msrc] + [("InterlockParties", p["row"]) for p in ps]
        fact = {"t": "metric", "metric_id": mid, "weight_error": float(abs(total - 1)),
                "weight_tolerance": float(WEIGHT_TOLERANCE),
                "positive_parties": sum(1 for p in ps if p["weight"] > 0),
                "symmetry": ip.symmetry, "bonus": metric["bonus_points"],
                "penalty": metric["penalty_points"]}
        is_valid = False
        for firing in ctx.feed(ev, BOOK.name, fact, msrc):
            entry = ctx.record(firing, mid, metric_sources)
            for o in firing.outcomes:
                if "exception" in o:
                    ctx.exception(entry, o["exception"], "interlock", mid, (mid,), metric_sources,
                                  None, INVALID_SAYS(metric=mid, name=metric["name"],
                                                     kind=o["exception"]))
            is_valid = is_valid or firing.rule_id == "interlock.valid"
        # Every party of every metric is fed: a valid metric's parties share its reward or
        # penalty, and a missed metric's parties hold the post-mortem whether it is valid or
        # not (SPEC §11.8); an invalid metric's parties are told why no points apply.
        target, actual = exact(metric["target"]), exact(metric["actual"])
        if (metric.get("direction") or "higher") == "lower":
            a = None if actual == 0 else target / actual
        else:
            a = actual / target
        severe = exact(metric["severe_miss_ratio"] if metric.get("severe_miss_ratio") is not None
                       else ip.severe_miss_ratio)
        for p in ps:
            sources = [msrc, ("InterlockParties", p["row"])]
            d = p["dept_id"]
            fact = {"t": "party", "metric_id": mid, "dept_id": d, "valid": is_valid,
                    "a": ACHIEVED_WHEN_ZERO if a is None else float(a),
                    "a_text": "" if a is None else fmt(a),      # shown; "": actual 0
                    "a_exact": "" if a is None else f"{a.numerator}/{a.denominator}",
                    "achieved_at": 1 - TOLERANCE_FLOAT, "severe_at": float(severe) - TOLERANCE_FLOAT,
                    "bonus_exact": str(metric["bonus_points"]),
                    "penalty_exact": str(metric["penalty_points"]),
                    "weight_exact": str(p["weight"]),
                    "scale": ip.reward_scale, "reward_cap": str(ip.reward_cap)}
            for firing in ctx.feed(ev, BOOK.name, fact, ("InterlockParties", p["row"])):
                entry = ctx.record(firing, d, sources)
                for o in firing.outcomes:
                    if "points" in o:
                        ctx.adjust(entry, "department", d, "interlock", o, sources)
                    elif "exception" in o:
                        assignee = interlock_review_assignee(ctx.company.employees,
                                                             ctx.company.departments, d)
                        ctx.exception(entry, "INTERLOCK_MISSED", "interlock", d, (mid, d), sources,
                                      assignee, MISSED_SAYS(metric=mid, name=metric["name"],
                                                            a=fact["a_text"], dept=d))
    for d in sorted(named_in):
        rows = named_in[d]
        sources = [("InterlockParties", p["row"]) for p in rows]
        fact = {"t": "dept_metrics", "dept_id": d, "metrics": len(rows),
                "max_metrics": ip.max_metrics_per_dept}
        for firing in ctx.feed(ev, BOOK.name, fact, ("dept_metrics", d)):
            entry = ctx.record(firing, d, sources)
            for o in firing.outcomes:
                ctx.exception(entry, "INTERLOCK_TOO_MANY", "interlock", d, (d,), sources, None,
                              TOO_MANY_SAYS(dept=d, n=str(len(rows)),
                                            max=str(ip.max_metrics_per_dept)))
