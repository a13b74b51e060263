"""差异化关联矩阵 — the differentiated linkage matrix (SPEC §5.3).

The article (三.2):
    「若一律乘以同一个公司系数,既削弱了主责部门的激励,也无法激发支撑部门的合理责任感。」
    「高度相关部门:公司系数占本部门绩效结果的20%–30%;」
    「中度相关部门:公司系数占10%–15%;」
    「低度相关部门:公司系数占0%–5%。」
    Instead of one company coefficient for everyone, each department is linked to each company
    KPI at a level, and that level decides how much of its result comes from the KPI.

For department d (base S_d) and each KPI k it is linked to:
    C_k = actual/target (higher is better) or target/actual (lower; actual 0 → coefficient_cap),
          clamped to [coefficient_floor, coefficient_cap];
    w_k = the policy weight of the row's level, all scaled by total_cap / W when W = Σ w_k > total_cap;
    linkage.blend = w_k × (100·C_k − S_d).

Example (SPEC §9): IT (S = 70) is linked to revenue (C = 1.1) at high and cost (lower, C = 1.25)
at medium: W = 0.37 > 0.30 → w = 0.2027, 0.0973 → 8.11 + 5.35 = 13.46.
"""
from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from engine import RuleBook, m
from importers.lang import Text
from importers.schema import ENUM_ZH
from rules.outcomes import exact, fmt, points
from rules.wording import Wording

if TYPE_CHECKING:
    from rules.context import Context

BOOK = RuleBook("linkage", zh="差异化关联矩阵", en="Differentiated linkage matrix")
WORDS = Wording(BOOK.name)
LEVELS = {level: Text(zh=zh, en=level) for level, zh in ENUM_ZH["level"].items()}
BLEND_SAYS = WORDS.template(
    "linkage.blend",
    zh="{kpi} 公司系数 {c}，关联度{level}：{w} × ({c100} − {base})",
    en="{kpi} C={c} at {level}: {w} × ({c100} − {base})",
    words={"level": LEVELS})


@BOOK.rule("linkage.blend", m.t == "link",
           zh="部门绩效按关联度与公司指标系数联动", en="A department's result is linked to a company KPI by its level")
def blend(link):
    target, actual = exact(link["target"]), exact(link["actual"])
    floor, cap = exact(link["coefficient_floor"]), exact(link["coefficient_cap"])
    if link["direction"] == "lower":
        c = cap if actual == 0 else target / actual
    else:
        c = actual / target
    c = min(max(c, floor), cap)
    w, total, total_cap = exact(link["level_weight"]), exact(link["dept_weight"]), exact(link["total_cap"])
    if total > total_cap:
        w = w * total_cap / total
    base = exact(link["base"])
    return [points(w * (100 * c - base),
                   BLEND_SAYS(kpi=link["kpi_id"], c=fmt(c), level=link["level"], w=fmt(w),
                              c100=fmt(100 * c), base=fmt(base)))]


def run(ev, ctx: Context) -> None:
    lp = ctx.policy.linkage
    kpis = {k["kpi_id"]: k for k in ctx.sheet("CompanyKPIs")}
    links = ctx.sheet("Linkage")
    dept_weight = defaultdict(lambda: exact(0))
    for link in links:
        dept_weight[link["dept_id"]] += exact(lp.weight(link["level"]))
    for link in links:
        dept = ctx.company.departments[link["dept_id"]]
        kpi = kpis[link["kpi_id"]]
        total = dept_weight[link["dept_id"]]
        fact = {"t": "link", "dept_id": link["dept_id"], "kpi_id": link["kpi_id"],
                "level": link["level"], "level_weight": str(lp.weight(link["level"])),
                "dept_weight": f"{total.numerator}/{total.denominator}",
                "total_cap": str(lp.total_cap), "target": str(kpi["target"]),
                "actual": str(kpi["actual"]), "direction": kpi.get("direction") or "higher",
                "coefficient_floor": str(lp.coefficient_floor),
                "coefficient_cap": str(lp.coefficient_cap), "base": str(dept["base_score"])}
        sources = [("Linkage", link["row"]), ("CompanyKPIs", kpi["row"]),
                   ("Departments", dept["row"])]
        for firing in ctx.feed(ev, BOOK.name, fact, ("Linkage", link["row"])):
            entry = ctx.record(firing, link["dept_id"], sources)
            for o in firing.outcomes:
                ctx.adjust(entry, "department", link["dept_id"], "linkage", o, sources)
