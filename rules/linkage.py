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

「每年根据战略调整,适当修订矩阵。」 (三.2): a department whose matrix — its set of (KPI, level) —
differs from the previous month's active import gets the notice LINKAGE_CHANGED for HR, old →
new (SPEC §11.7); in `[linkage] revision_month` the change is seen (`linkage.revised`) and
raises none.
"""
from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from engine import RuleBook, m
from importers.lang import Text
from importers.schema import ENUM_ZH
from rules.kinds import Kinds
from rules.months import shift
from rules.outcomes import exact, flag, fmt, note, points
from rules.sources import qualify
from rules.wording import Wording

if TYPE_CHECKING:
    from rules.context import Context

BOOK = RuleBook("linkage", zh="差异化关联矩阵", en="Differentiated linkage matrix")
KINDS = Kinds(BOOK, mechanisms=("linkage",))
WORDS = Wording(BOOK.name)
LEVELS = {level: Text(zh=zh, en=level) for level, zh in ENUM_ZH["level"].items()}
BLEND_SAYS = WORDS.template(
    "linkage.blend",
    zh="{kpi} 公司系数 {c}，关联度{level}：{w} × ({c100} − {base})",
    en="{kpi} C={c} at {level}: {w} × ({c100} − {base})",
    words={"level": LEVELS})


class _Links:
    """The words of a department's matrix in a LINKAGE_CHANGED message: an item "K1=high" is
    "K1 强" / "K1 high"; "-" (no Linkage row at all) is 无 / none."""

    NONE = "-"

    def __getitem__(self, item: str) -> Text:
        if item == self.NONE:
            return Text(zh="无", en="none")
        kpi, _, level = item.rpartition("=")
        word = LEVELS[level]                 # KeyError: shown as it is
        return Text(zh=f"{kpi} {word.zh}", en=f"{kpi} {word.en}")


CHANGED_SAYS = WORDS.template(
    "linkage.changed",
    zh="{dept}（{name}）的关联矩阵与 {previous} 不同：{old} → {new}",
    en="{dept} ({name}): the linkage matrix differs from {previous}: {old} → {new}",
    words={"old": _Links(), "new": _Links()})
REVISED = WORDS.note(en="changed in the revision month: no notice",
                     zh="修订月份内的矩阵变更，不提示")


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


# -- the matrix from month to month (SPEC §11.7) ---------------------------------------------


@KINDS.rejection("LINKAGE_CHANGED",
                 (m.t == "link_change") & (m.changed == True) & (m.revision == False),
                 subject="department", key=("dept_id",), notice=True,
                 zh="部门的关联矩阵（指标与关联度）与上月不同，且本月不是修订月份",
                 en="The department's linkage matrix (KPIs and levels) differs from the previous "
                    "month's outside the revision month")
def changed(d):
    """「每年根据战略调整,适当修订矩阵。」"""
    return [flag("LINKAGE_CHANGED")]


@BOOK.rule("linkage.revised",
           (m.t == "link_change") & (m.changed == True) & (m.revision == True),
           zh="修订月份内关联矩阵变更，不提示",
           en="The matrix changed in the revision month: no notice")
def revised(d):
    return [note(REVISED)]


@BOOK.rule("linkage.unchanged", (m.t == "link_change") & (m.changed == False),
           zh="关联矩阵与上月相同", en="The linkage matrix is the same as the previous month's")
def unchanged(d):
    return None


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
    _changes(ev, ctx)


def _changes(ev, ctx: Context) -> None:
    """LINKAGE_CHANGED (SPEC §11.7): each department of the period whose Linkage rows, as a set
    of (KPI, level), differ from the previous month's active import's. Nothing to compare when
    the previous month has no import. In the revision month a change is seen
    (`linkage.revised`) and raises no notice."""
    previous = shift(ctx.period, -1)
    if not ctx.has_month(previous):
        return
    revision = ctx.month == ctx.policy.linkage.revision_month
    now, before = defaultdict(list), defaultdict(list)
    for link in ctx.sheet("Linkage"):
        now[link["dept_id"]].append(link)
    for link in ctx.month_sheet(previous, "Linkage"):
        before[link["dept_id"]].append(link)
    qualified = qualify("Linkage", previous)
    for dept in sorted(ctx.sheet("Departments"), key=lambda d: d["dept_id"]):
        d = dept["dept_id"]
        new, old = now.get(d, []), before.get(d, [])
        if not new and not old:
            continue
        new_set, old_set = _matrix(new), _matrix(old)
        sources = [("Linkage", x["row"]) for x in new] + [(qualified, x["row"]) for x in old]
        fact = {"t": "link_change", "dept_id": d, "changed": new_set != old_set,
                "revision": revision}
        for firing in ctx.feed(ev, BOOK.name, fact, ("link_change", d)):
            entry = ctx.record(firing, d, sources)
            for o in firing.outcomes:
                if "exception" in o:
                    ctx.exception(entry, "LINKAGE_CHANGED", "linkage", d, (d,), sources, None,
                                  CHANGED_SAYS(dept=d, name=dept["name"], previous=previous,
                                               old=_items(old_set), new=_items(new_set)))


def _matrix(links: list[dict]) -> frozenset:
    return frozenset((x["kpi_id"], x["level"]) for x in links)


def _items(matrix: frozenset) -> list[str]:
    """A matrix as the message lists it: "K1=high" per KPI in KPI order; ["-"] when empty."""
    return [f"{k}={level}" for k, level in sorted(matrix)] or [_Links.NONE]
