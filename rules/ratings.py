"""Ratings and their review triggers: 周边评价 (InternalRatings) and 责任矩阵评分 (RaciRatings),
SPEC §5.2.

The article:
    「若没有标准和解释,“打低分”有时会被当成“报复”;」
    「可以设置“异常评分复核机制”——出现极端高低分时,由HR或上级复核实际情况。」
        (三.1 周边绩效机制, 风险提示)
    「对前台则不必反向设置,以防相互“绑架”。」 (三.3 前中后台责任矩阵联动)
    Without standards a low score can be taken for retaliation: extreme scores are reviewed by HR
    or the rater's superior. The front office rates the middle/back office, never the reverse.

The rules chain in two steps, each over every rating of a sheet:
1. Screening: RATING_UNKNOWN_REF, RATING_SELF, RATING_NOT_SUPPORT (InternalRatings rating a front
   office), RACI_REVERSE (RaciRatings not from front to middle/back) reject a rating for HR;
   a rating on which none of them fired fires `rating.accept`, the book's fallback rule
   (accepted = no rejection fired, by construction).
2. Review and counting, on one fact per accepted rating: the review triggers RATING_EXTREME,
   RATING_LOW_NO_COMMENT, RATING_OUTLIER (far from the other raters' mean on the same
   dimension), RATING_MUTUAL_LOW (two departments rating each other low) each raise a review
   for the rater's manager; then `rating.hold` holds the rating out of its department's
   averages when a trigger fired whose review is overturned, or still open while hold_pending
   — the fact carries each trigger's review status (the decision in force for the review that
   trigger raises) — and otherwise `rating.count`, the fallback of `rating.hold`, admits it
   (counted = not held, by construction). A rating's review items follow from its own fact, so
   the triggers and the count are decided on that fact: one engine fact per accepted rating
   where there used to be two (triggers, then a count fact with the number of open and
   overturned reviews) and a `rating.screened` firing on each.

Quarterly cadence (SPEC §11.5, `[peripheral]`/`[raci] cadence = "quarterly"`, per sheet): in a
quarter's last month the two steps run over the rows of all three months' active imports —
an earlier month's rating cited and keyed under its qualified sheet (`InternalRatings@2026-10`,
rules/sources.py), screened against the last month's company — and in the two months before
each rating fires `rating.carried` instead (「评价频次不宜太低,至少季度一次」).

Example (SPEC §9): IT is rated 4, 4 and 5 on 响应速度; the 5 is RATING_EXTREME, held while
open, so IT's peripheral mean is 4 → R = 80.
"""
from __future__ import annotations

from array import array
from collections import defaultdict
from decimal import Decimal
from heapq import merge
from typing import TYPE_CHECKING, Callable

from engine import RuleBook, m
from rules.assignees import rating_review_assignee
from rules.company import is_blank, norm_dimension
from rules.kinds import Kinds
from rules.months import is_quarter_end, quarter_months
from rules.outcomes import TOLERANCE_FLOAT, add_exact, flag, note
from rules.sources import RowSources, qualify
from rules.wording import Wording

if TYPE_CHECKING:       # the context imports the kinds' catalog, which imports this book
    from rules.context import Context

BOOK = RuleBook("ratings", zh="周边评价与责任矩阵评分", en="Internal and RACI ratings")
SHEETS = ("InternalRatings", "RaciRatings")
# A rating kind concerns the mechanism of the sheet it is raised on (SPEC §5.7): the run passes
# the sheet's mechanism with each exception.
KINDS = Kinds(BOOK, mechanisms=("peripheral", "raci"))
RATING_KEY = ("sheet", "rating_id")

WORDS = Wording(BOOK.name)
REJECTED_SAYS = WORDS.template(
    "rating.rejected",
    zh="{rating}（评价人 {rater}）：{kind}",
    en="{rating} by {rater}: {kind}",
    words={"kind": KINDS})
# A review's message says who rated what, then why it is reviewed.
REVIEW_SAYS = {
    "RATING_EXTREME": WORDS.template(
        "rating.extreme",
        zh="{rating}：{rater} 对 {dept} 的“{dimension}”评分 {score}，为极端分",
        en="{rating}: {rater} rated {dept} {score} on {dimension} (extreme)"),
    "RATING_LOW_NO_COMMENT": WORDS.template(
        "rating.low_no_comment",
        zh="{rating}：{rater} 对 {dept} 的“{dimension}”评分 {score}，未填写评价说明",
        en="{rating}: {rater} rated {dept} {score} on {dimension} without a comment"),
    "RATING_OUTLIER": WORDS.template(
        "rating.outlier",
        zh="{rating}：{rater} 对 {dept} 的“{dimension}”评分 {score}；其他评价人的均值为 {mean}"
           "（{n} 条评价）",
        en="{rating}: {rater} rated {dept} {score} on {dimension}; the other raters' mean is "
           "{mean} ({n} ratings)"),
    "RATING_MUTUAL_LOW": WORDS.template(
        "rating.mutual_low",
        zh="{rating}：{rater} 对 {dept} 的“{dimension}”评分 {score}；{dept} 也在 {counterparts} "
           "中给出低分",
        en="{rating}: {rater} rated {dept} {score} on {dimension}; {dept} rated back low in "
           "{counterparts}"),
}
ACCEPTED = WORDS.note(en="accepted", zh="采纳")
COUNTED = WORDS.note(en="counted", zh="计入均值")
HELD = WORDS.note(en="held", zh="暂不计入均值")
CARRIED = WORDS.note(en="carried to the quarter's last month", zh="转入季末月统一评估")

# -- 1. screening ---------------------------------------------------------------------------


@KINDS.rejection("RATING_UNKNOWN_REF",
                 (m.t == "rating") & ((m.rater_known == False) | (m.ratee_known == False)
                                      | (m.project_known == False)),
                 subject="department", key=RATING_KEY,
                 zh="评价人、被评部门或项目不存在", en="Rater, rated department or project unknown")
def unknown_ref(r):
    return [flag("RATING_UNKNOWN_REF")]


@KINDS.rejection("RATING_SELF",
                 (m.t == "rating") & (m.rater_known == True) & (m.rater_dept == m.ratee_dept_id),
                 subject="department", key=RATING_KEY,
                 zh="评价人属于被评部门", en="The rater belongs to the rated department")
def self_rating(r):
    return [flag("RATING_SELF")]


@KINDS.rejection("RATING_NOT_SUPPORT",
                 (m.t == "rating") & (m.sheet == "InternalRatings") & (m.ratee_tier == "front"),
                 subject="department", key=RATING_KEY, mechanisms=("peripheral",),
                 zh="周边评价的被评部门为前台", en="An internal rating of a front-office department")
def not_support(r):
    return [flag("RATING_NOT_SUPPORT")]


@KINDS.rejection("RACI_REVERSE",
                 (m.t == "rating") & (m.sheet == "RaciRatings")
                 & (((m.rater_known == True) & (m.rater_tier != "front"))
                    | (m.ratee_tier == "front")),
                 subject="department", key=RATING_KEY, mechanisms=("raci",),
                 zh="责任矩阵评分须由前台评中后台，不得反向",
                 en="RACI rating not from front to middle/back")
def raci_reverse(r):
    """「对前台则不必反向设置,以防相互“绑架”。」"""
    return [flag("RACI_REVERSE")]


@BOOK.fallback("rating.accept", m.t == "rating",
               zh="评价通过全部检查，予以采纳", en="The rating passed every check and is accepted")
def accept(r):
    return [note(ACCEPTED)]


# -- 2. review triggers and counting, on one fact per accepted rating ------------------------

REVIEW = m.t == "rating_review"
# Each trigger's condition, used by its own rule and by rating.hold.
EXTREME_WHEN = (m.score <= m.extreme_low) | (m.score >= m.extreme_high)
LOW_NO_COMMENT_WHEN = (m.score <= m.low_needs_comment) & (m.comment_blank == True)
OUTLIER_WHEN = (m.peer_count >= m.min_peers) & (m.deviation >= m.outlier_at)
MUTUAL_LOW_WHEN = ((m.sheet == "InternalRatings") & (m.score <= m.mutual_low)
                   & (m.counterparts >= 1))
# kind -> the fact's field holding the status of the review that kind raises on the rating:
# "open" (no decision in force), "confirmed" or "overturned".
STATUS_FIELDS = {"RATING_EXTREME": "extreme_status",
                 "RATING_LOW_NO_COMMENT": "low_no_comment_status",
                 "RATING_OUTLIER": "outlier_status",
                 "RATING_MUTUAL_LOW": "mutual_low_status"}


@KINDS.review("RATING_EXTREME", REVIEW & EXTREME_WHEN,
              subject="department", key=RATING_KEY,
              zh="极端高分或低分，须复核", en="Extreme score: review")
def extreme(r):
    """「可以设置“异常评分复核机制”——出现极端高低分时,由HR或上级复核实际情况。」"""
    return [flag("RATING_EXTREME")]


@KINDS.review("RATING_LOW_NO_COMMENT", REVIEW & LOW_NO_COMMENT_WHEN,
              subject="department", key=RATING_KEY,
              zh="低分未填写评价说明，须复核", en="Low score without a comment: review")
def low_no_comment(r):
    """「若没有标准和解释,“打低分”有时会被当成“报复”;」"""
    return [flag("RATING_LOW_NO_COMMENT")]


@KINDS.review("RATING_OUTLIER", REVIEW & OUTLIER_WHEN,
              subject="department", key=RATING_KEY,
              zh="评分明显偏离其他评价人对同一维度的均值，须复核",
              en="Far from the other raters' mean on the same dimension: review")
def outlier(r):
    return [flag("RATING_OUTLIER")]


@KINDS.review("RATING_MUTUAL_LOW", REVIEW & MUTUAL_LOW_WHEN,
              subject="department", key=RATING_KEY, mechanisms=("peripheral",),
              zh="两个部门互打低分，须复核", en="Two departments rated each other low: review")
def mutual_low(r):
    return [flag("RATING_MUTUAL_LOW")]


def _holds(trigger, status):
    """The trigger fired and its review holds the rating out: overturned, or open while
    hold_pending."""
    return trigger & ((status == "overturned") | ((status == "open") & (m.hold_pending == True)))


@BOOK.rule("rating.hold",
           REVIEW & (_holds(EXTREME_WHEN, m.extreme_status)
                     | _holds(LOW_NO_COMMENT_WHEN, m.low_no_comment_status)
                     | _holds(OUTLIER_WHEN, m.outlier_status)
                     | _holds(MUTUAL_LOW_WHEN, m.mutual_low_status)),
           pri=1,
           zh="评价待复核或复核撤销，暂不计入均值",
           en="The rating is held out of the averages (review open or overturned)")
def hold(r):
    return [note(HELD)]


@BOOK.fallback("rating.count", REVIEW, unless=("rating.hold",),
               zh="评价计入部门均值", en="The rating counts in its department's average")
def count(r):
    return [note(COUNTED)]


# -- quarterly cadence: the months before the quarter's end ----------------------------------


@BOOK.rule("rating.carried", m.t == "rating_carried",
           zh="按季度评价：本评价在季末月与本季度其他评价一并评估",
           en="Quarterly ratings: the rating is evaluated with its quarter, in the quarter's last "
              "month")
def carried(r):
    return [note(CARRIED)]


# -- the run --------------------------------------------------------------------------------


class Counted:
    """The ratings of one sheet counted for one rated department (rules.blends averages them):
    their sources in order, and the exact sum of their scores (rules.outcomes.add_exact)."""

    __slots__ = ("sources", "total")

    def __init__(self):
        self.sources = RowSources()      # compact: every rating counted cites its row
        self.total = Decimal(0)

    def __len__(self) -> int:
        return len(self.sources)


def run(ev, ctx: Context) -> dict[str, dict[str, Counted]]:
    """Screen, review and count every rating; returns per sheet the counted ratings of each
    rated department (Counted). A rating of an earlier month of the quarter is counted at the
    quarter's end under its qualified sheet (rules.sources)."""
    counted: dict[str, dict[str, Counted]] = {}
    for sheet in SHEETS:
        if not quarterly(ctx, sheet):
            ratings = _ratings(ctx, sheet, ())
        elif is_quarter_end(ctx.period):
            ratings = _ratings(ctx, sheet, quarter_months(ctx.period)[:2])
        else:
            _carry(ev, ctx, sheet)
            counted[sheet] = {}
            continue
        counted[sheet] = _run_sheet(ev, ctx, sheet, ratings)
    return counted


def _ratings(ctx: Context, sheet: str, months):
    """The ratings evaluated now, as a function giving them anew, in order, each time it is
    called: (source sheet name, row) of the earlier `months`' ratings (under their qualified
    sheet), then the period's own. A big sheet is read from its file on each call (the
    evaluation's SpooledRows), never held."""
    def ratings():
        for month in months:
            name = qualify(sheet, month)
            for r in ctx.month_sheet(month, sheet):
                yield name, r
        for r in ctx.sheet(sheet):
            yield sheet, r
    return ratings


def quarterly(ctx: Context, sheet: str) -> bool:
    """Whether the ratings of `sheet` are evaluated by quarter (SPEC §11.5)."""
    cadence = ctx.policy.peripheral if sheet == "InternalRatings" else ctx.policy.raci
    return cadence.quarterly


def carried_over(ctx: Context, sheet: str) -> bool:
    """Whether this month's ratings of `sheet` wait for the quarter's end."""
    return quarterly(ctx, sheet) and not is_quarter_end(ctx.period)


def _carry(ev, ctx: Context, sheet: str) -> None:
    """A month before its quarter's end under the quarterly cadence: each rating says where it
    went (`rating.carried`); nothing is screened, reviewed or counted here."""
    def fact(r):
        return {"t": "rating_carried", "sheet": sheet}, (sheet, r["row"])

    for r, firings in ctx.feed_each(ev, BOOK.name, ctx.sheet(sheet), fact):
        for firing in firings:
            ctx.record(firing, r["ratee_dept_id"], [(sheet, r["row"])])


GROUP_BITS = 32           # a (rater, group) key: the rater's number above a group's index


def _run_sheet(ev, ctx: Context, sheet: str, ratings) -> dict[str, Counted]:
    """`ratings()`: (source sheet name, row) of every rating evaluated now — the month's, or
    the quarter's three months' at its end — anew, in the same order, on each call. It is
    called twice: step 1 screens every rating, step 2 reviews and counts the accepted ones. In
    between, nothing is held per rating but what step 2's figures need (below)."""
    company, rp = ctx.company, ctx.policy.review
    mechanism = "peripheral" if sheet == "InternalRatings" else "raci"
    counted: dict[str, Counted] = {}

    # Aggregates the triggers compare against (SPEC §5.2): peers on the same dimension, and the
    # counterpart department's low ratings. A rating's peers are its (department, dimension)
    # group less the ratings of its own rater, so exact sums and counts per group and per
    # (group, rater) give their mean in O(1): O(n) per sheet, not O(n²). Exact in integers:
    # every score as a whole number of units of 1/scale (Fractions cost a tenth of the
    # evaluation's own Python time), and a quotient of two ints is the correctly rounded float,
    # the same one float() of the exact Fraction gives — whatever the scale, so it grows (and
    # the units kept so far with it) when a score has more decimal places than those before.
    # Kept per accepted rating, in order, until step 2: its (rater, group) as one integer in
    # an array, and its score in units — at 100,000 employees 14 MB, where the accepted rows
    # themselves (and tuples of their figures) were 250 MB and more. A rater's number is its
    # row's place in the Employees sheet (_numbering: a dict of the 90,200 raters' ids was
    # ≈ 10 MB of the step's peak). Almost every rater rates a group once: the (rater, group)
    # pairs with more ratings are found by sorting the keys, and only theirs are summed.
    accepted = bytearray()          # per rating of ratings(), in order: 1 if accepted
    keys = array("q")               # per accepted rating: rater number << GROUP_BITS | group
    scores: list[int] = []          # per accepted rating: its score in units of 1/scale
    group_of: dict[tuple[str, str], int] = {}
    group_total: list[int] = []
    group_count: list[int] = []
    to_units = Units(scores, group_total)
    rater_no = _numbering(company.employees)
    low_by_pair: dict[tuple[str, str], list[tuple[str, int, str]]] = defaultdict(list)
    low_pairs = sheet == "InternalRatings"

    def screening_fact(pair):
        name, r = pair
        rater_known = r["rater_id"] in company.employees
        # the rater's department read alone (a rating's only need of its rater's row)
        rater_dept = company.dept_of(r["rater_id"]) if rater_known else ""
        ratee = company.departments.get(r["ratee_dept_id"])
        rater_tier = company.tier_of_dept(rater_dept) if rater_known else ""
        return ({"t": "rating", "sheet": sheet, "ratee_dept_id": r["ratee_dept_id"],
                 "rater_known": rater_known, "ratee_known": ratee is not None,
                 "project_known": (sheet == "InternalRatings"
                                   or r.get("project_id") in company.projects),
                 "rater_dept": rater_dept,
                 "rater_tier": rater_tier or "", "ratee_tier": ratee["tier"] if ratee else ""},
                (name, r["row"]))

    # Step 1 feeds every rating once: a rejection fires, or rating.accept.
    for (name, r), firings in ctx.feed_each(ev, BOOK.name, ratings(), screening_fact):
        src = (name, r["row"])
        ok = 0
        for firing in firings:
            entry = ctx.record(firing, r["ratee_dept_id"], [src])
            for o in firing.outcomes:
                if "exception" in o:
                    kind = o["exception"]
                    ctx.exception(entry, kind, mechanism, r["ratee_dept_id"],
                                  (name, r["rating_id"]), [src], None,
                                  REJECTED_SAYS(rating=r["rating_id"], rater=r["rater_id"],
                                                kind=kind))
            if firing.rule_id == "rating.accept":
                ok = 1
        accepted.append(ok)
        if not ok:
            continue
        units = to_units.of(r["score"])
        g = group_of.setdefault((r["ratee_dept_id"], norm_dimension(r["dimension"])),
                                len(group_of))
        if g == len(group_total):
            group_total.append(0)
            group_count.append(0)
        group_total[g] += units
        group_count[g] += 1
        rater = rater_no(r["rater_id"])
        if rater is None:
            raise RatingsInconsistent(f"{name} row {r['row']} was accepted, but its rater "
                                      f"{r['rater_id']!r} is not among the employees")
        keys.append(rater << GROUP_BITS | g)
        scores.append(units)
        if low_pairs and r["score"] <= rp.mutual_low:
            low_by_pair[(company.dept_of(r["rater_id"]), r["ratee_dept_id"])].append(
                (name, r["row"], r["rating_id"]))
    del rater_no
    own = _repeated_sums(keys, scores)      # (rater, group) with two ratings or more -> sum, n
    scale = to_units.scale

    def reviewed():
        """Per accepted rating, in order: (its pair, its figures) — its peers' mean and count,
        its deviation from that mean, and the counterpart department's low ratings."""
        i = j = 0
        for i, pair in enumerate(ratings(), 1):
            if not accepted[i - 1]:
                continue
            key, score = keys[j], scores[j]
            j += 1
            g = key & GROUP_MASK
            own_total, own_n = own.get(key) or (score, 1)
            peer_count = group_count[g] - own_n
            deviation = 0.0
            peer_mean = None
            if peer_count:
                peer_units = group_total[g] - own_total
                peer_mean = peer_units / (peer_count * scale)    # only shown, to 2 places
                deviation = abs(score * peer_count - peer_units) / (peer_count * scale)
            r = pair[1]
            counterparts = (low_by_pair.get((r["ratee_dept_id"], company.dept_of(r["rater_id"])),
                                            ()) if low_pairs else ())
            yield pair, (peer_mean, peer_count, deviation, counterparts)
        if j != len(keys) or i != len(accepted):
            raise RatingsInconsistent(f"{sheet}: the ratings read again were not those screened "
                                      f"({i} of {len(accepted)} read, {j} of {len(keys)} "
                                      "accepted)")

    hold_pending = bool(rp.hold_pending)
    outlier_at = float(rp.outlier_deviation) - TOLERANCE_FLOAT
    all_open = {f: "open" for f in STATUS_FIELDS.values()}

    def review_fact(item):
        (name, r), (_, peer_count, deviation, counterparts) = item
        fact = {"t": "rating_review", "sheet": sheet, "score": r["score"],
                "extreme_low": rp.extreme_low, "extreme_high": rp.extreme_high,
                "low_needs_comment": rp.low_needs_comment,
                "comment_blank": is_blank(r.get("comment")),
                "peer_count": peer_count, "min_peers": rp.outlier_min_peers,
                "deviation": deviation, "outlier_at": outlier_at,
                "mutual_low": rp.mutual_low, "counterparts": len(counterparts),
                "hold_pending": hold_pending}
        if ctx.decisions:     # else every review a trigger raises is open (no hashing)
            key = (name, r["rating_id"])
            fact.update((f, ctx.review_status(kind, key)) for kind, f in STATUS_FIELDS.items())
        else:
            fact.update(all_open)
        return fact, ("rating_review", name, r["row"])

    # Step 2 feeds every accepted rating once: its review triggers fire, then rating.hold or
    # rating.count. All acceptances of the sheet fired before (step 1).
    assignees: dict[tuple[str, str], str] = {}     # (rater, rated department) -> assignee
    for item, firings in ctx.feed_each(ev, BOOK.name, reviewed(), review_fact):
        (name, r), (peer_mean, peer_count, _, counterparts) = item
        src = (name, r["row"])
        dept = r["ratee_dept_id"]
        holding = 0                 # reviews that hold the rating out, by their status
        for firing in firings:
            rule = firing.rule_id
            if rule == "rating.count":
                ctx.record(firing, dept, [src])
                c = counted.get(dept)
                if c is None:
                    c = counted[dept] = Counted()
                c.sources.add(name, r["row"])
                c.total = add_exact(c.total, r["score"])
                continue
            if rule == "rating.hold":
                ctx.record(firing, dept, [src])
                if not holding:
                    raise RatingsInconsistent(f"{name} row {r['row']} was held, but none of its "
                                              "reviews is overturned or open while hold_pending")
                holding = -1
                continue
            who = (r["rater_id"], dept)
            assignee = assignees.get(who)
            if assignee is None:
                assignee = assignees[who] = rating_review_assignee(company.employees, *who)
            sources = [src]
            if rule == "RATING_MUTUAL_LOW":
                sources += [(c_name, c_row) for c_name, c_row, _ in counterparts]
            entry = ctx.record(firing, dept, sources)
            for o in firing.outcomes:
                kind = o["exception"]
                exc = ctx.exception(entry, kind, mechanism, dept, (name, r["rating_id"]), sources,
                                    assignee, _review_message(kind, r, peer_mean, peer_count,
                                                              counterparts))
                status = exc["status"]
                if status == "overturned" or (status == "open" and hold_pending):
                    holding += 1
        if holding > 0:
            raise RatingsInconsistent(f"{name} row {r['row']} was counted although one of its "
                                      "reviews holds it out")
    return counted


GROUP_MASK = (1 << GROUP_BITS) - 1


class Units:
    """Exact decimal values as whole numbers of 1/scale, the scale a power of ten that grows
    when a value has more decimal places than those before; every list in `kept` (values
    already in units, and sums of them) grows with it. (4.5 → 45 at scale 10; then 3.25 → 325,
    and the 45 becomes 450, at scale 100.)"""

    __slots__ = ("scale", "kept")

    def __init__(self, *kept: list[int]):
        self.scale = 1
        self.kept = kept

    def of(self, value) -> int:
        num, den = (Decimal(value) if type(value) is not Decimal else value).as_integer_ratio()
        if self.scale % den:         # a decimal's denominator is 2**a * 5**b: divides 10**k
            grow = 1
            while (self.scale * grow) % den:
                grow *= 10
            self.scale *= grow
            for values in self.kept:
                values[:] = [v * grow for v in values]
        return num * (self.scale // den)


def _numbering(employees) -> Callable[[str], int | None]:
    """A number for each known employee id, the same each time: its row's place among the
    Employees rows held by column (importers.columns.RowsByKey.position: nothing more held;
    None for an id that is not there); else (rows given as a dict) numbers given as ids are
    first met."""
    position = getattr(employees, "position", None)
    if position is not None:
        return position
    numbers: dict[str, int] = {}
    return lambda who: numbers.setdefault(who, len(numbers))


# keys per sorted run of _repeated_sums: what it holds as Python ints at once (sorting every
# key at once made 693,000 ints, 12 MB on the peak of the evaluation at 100,000 employees)
SORT_RUN = 65_536


def _repeated_sums(keys: array, scores: list[int]) -> dict[int, tuple[int, int]]:
    """For each key that occurs more than once: (the sum of its scores, how many). The keys
    are sorted in runs of SORT_RUN, each kept as an array, and the runs merged."""
    runs = [array("q", sorted(keys[i:i + SORT_RUN])) for i in range(0, len(keys), SORT_RUN)]
    repeated, previous = set(), None
    for k in merge(*runs):
        if k == previous:
            repeated.add(k)
        previous = k
    del runs
    sums: dict[int, tuple[int, int]] = {}
    if repeated:
        for k, s in zip(keys, scores):
            if k in repeated:
                total, n = sums.get(k, (0, 0))
                sums[k] = (total + s, n + 1)
    return sums


class RatingsInconsistent(RuntimeError):
    """rating.hold or rating.count disagrees with the statuses of the reviews the rating's
    triggers raised (the statuses on the fact came from the same decisions): a bug, never a
    user error. The evaluation fails; nothing is stored."""


def _review_message(kind: str, r: dict, peer_mean: float | None, peer_count: int,
                    counterparts: list[tuple[str, int, str]]):
    """The message of a rating review: who rated what, and why it is reviewed."""
    says = dict(rating=r["rating_id"], rater=r["rater_id"], dept=r["ratee_dept_id"],
                score=str(r["score"]), dimension=r["dimension"])
    if kind == "RATING_OUTLIER":
        says.update(mean=f"{peer_mean:.2f}", n=str(peer_count))
    elif kind == "RATING_MUTUAL_LOW":
        says["counterparts"] = [rating_id for _, _, rating_id in counterparts]
    return REVIEW_SAYS[kind](**says)
