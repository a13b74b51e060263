"""feedback/<dept_id>.xlsx (SPEC §11.3): what its internal customers said, for every department
that received internal (周边评价) or RACI (责任矩阵评分) ratings — the article's 显性化:

    原文「周边绩效机制的价值在于把中后台的协同服务质量显性化,让“谁真正支持了一线业务”有据可查。」
    The point of peripheral ratings is that the rated department *sees* its service quality.

One workbook per rated department (a department with at least one rating that was not
rejected: a rejected row — unknown rater, self-rating, the wrong tier — is not a rating of that
department, and HR fixes it in the ledger):

- 反馈概览 / Overview: the department, the period and run; how many ratings it received,
  counted, held and overturned; its peripheral and RACI points as the run stored them, the
  run's own explanation with this department's numbers, and the formula with the run's policy
  values; its service metrics.
- 按维度 / By dimension: per sheet and dimension (matched as the rules match them, SPEC §5.2)
  the count, mean, minimum and maximum of the **counted** ratings — those the points were
  computed from — their 1–5 distribution (a fractional score falls in the nearest whole score,
  half up: 3.5 → 4), and how many ratings of that dimension were held or overturned.
- 评价明细 / Ratings: every rating with its score and comment, the rater's department, the
  project (RACI), and whether it counted, was held while a review is open, or was overturned.
  The rater's own id, name and the rating id only when policy `[feedback] show_raters = true`
  (the run's policy; default false).

Which ratings counted is read from the run, never recomputed: the sources of the department's
`peripheral.blend` and `raci.blend` adjustments are exactly the ratings the blend averaged; held
and overturned come from the statuses of the rating's reviews. Rated quarterly (SPEC §11.5), the
quarter's last month lists the quarter's ratings (the rows of the earlier months the report is
given under `Sheet@YYYY-MM`, oldest first), and its earlier months say that their ratings count
at the quarter's end. `build()` is pure (plain dicts of a
stored run, as reports take them) and is also what `summary` reads month by month.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from itertools import chain, islice
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment

from importers.columns import lookup
from importers.spooled import SpooledRows

from reports.labels import label, sheet_name
from reports.reviews import in_groups, safe_file_stem
from reports.workbook import (NUMBER_FORMAT, RUN_REPORT_ZLIB_LEVEL, WIDTH_SAMPLE_ROWS,
                              BulkWriter, fit_columns, header, item_sheet, landscape, put_text)
from rules.company import norm_dimension
from rules.months import is_quarter_end, quarter_end, quarter_months
from rules.sources import SourceMarks, base as base_sheet, split as split_sheet
from rules.sentences import explanation

RATING_SHEETS = ("InternalRatings", "RaciRatings")
BLEND = {"InternalRatings": "peripheral.blend", "RaciRatings": "raci.blend"}
SCORES = (1, 2, 3, 4, 5)
# a rating's status in this workbook (label keys below)
COUNTED, COUNTED_REVIEWED, COUNTED_OPEN, HELD, OVERTURNED, NOT_COUNTED = (
    "fb_counted", "fb_counted_confirmed", "fb_counted_open", "fb_held", "fb_overturned",
    "fb_not_counted")
_COUNTED = frozenset((COUNTED, COUNTED_REVIEWED, COUNTED_OPEN))

WORDS: dict[str, tuple[str, str]] = {           # key: (zh, en)
    "fb_overview": ("反馈概览", "Overview"),
    "fb_dimensions": ("按维度", "By dimension"),
    "fb_ratings": ("评价明细", "Ratings"),
    "fb_title": ("{dept}（{name}）{period} 收到的内部客户评价",
                 "Internal customers' ratings of {dept} ({name}), {period}"),
    "fb_department": ("被评部门", "rated department"),
    "fb_received": ("收到的评价（周边 / 责任矩阵）", "ratings received (internal / RACI)"),
    "fb_counted_n": ("计入得分", "counted"),
    "fb_held_n": ("复核未决、暂不计入", "held while a review is open"),
    "fb_overturned_n": ("复核撤销、不计入", "overturned by a review"),
    "fb_peripheral_points": ("周边绩效调整分", "peripheral points"),
    "fb_raci_points": ("责任矩阵调整分", "RACI points"),
    "fb_how": ("本部门的计算", "how computed for this department"),
    "fb_formula": ("计算公式", "formula"),
    "fb_peripheral_formula": (
        "周边绩效调整分 = {w} × (周边绩效分 − 基础分 {base})；周边绩效分 = (1 − {share}) × 评价分 + {share} × "
        "客观分（无客观数据时即评价分）；评价分 = {scale} × 计入评价的平均分；客观分 = 100 × 客观数据平均值",
        "peripheral = {w} × (P − base {base}); P = (1 − {share}) × R + {share} × O (P = R without "
        "service metrics); R = {scale} × mean counted rating; O = 100 × mean service metric"),
    "fb_raci_formula": (
        "责任矩阵调整分 = {w} × (责任矩阵评分 − 基础分 {base})；责任矩阵评分 = {scale} × 计入评分的平均分",
        "RACI = {w} × (Q − base {base}); Q = {scale} × mean counted RACI rating"),
    "fb_no_peripheral": ("没有计入的周边评价，本期无周边绩效调整",
                         "no counted internal rating: no peripheral points this period"),
    "fb_front_office": ("前台部门不参与周边绩效与责任矩阵评分",
                        "front office: peripheral and RACI ratings do not apply"),
    "fb_no_raci": ("没有计入的责任矩阵评分，本期无责任矩阵调整",
                   "no counted RACI rating: no RACI points this period"),
    # SPEC §11.5: a month of a quarter rated quarterly, before its last month
    "fb_carried": ("按季度评价：本月评价结转至 {end} 一并计算，本月无调整",
                   "rated quarterly: this month's ratings count in {end}, no points this month"),
    "fb_metrics": ("客观数据", "service metrics"),
    "fb_raters_shown": ("评价人", "raters"),
    "fb_raters_dept": ("仅列出评价人所在部门（政策项 feedback.show_raters 未开启）",
                       "only the rater's department is shown (policy [feedback] show_raters = false)"),
    "fb_raters_id": ("列出评价人工号（政策项 feedback.show_raters 已开启）",
                     "the rater's id is shown (policy [feedback] show_raters = true)"),
    "fb_sheet": ("评价类型", "ratings"),
    "fb_dimension": ("评价维度", "dimension"),
    "fb_count": ("计入条数", "counted"),
    "fb_mean": ("平均分", "mean"),
    "fb_min": ("最低分", "min"),
    "fb_max": ("最高分", "max"),
    "fb_n": ("{s} 分", "score {s}"),
    "fb_held_col": ("暂不计入", "held"),
    "fb_overturned_col": ("已撤销", "overturned"),
    "fb_score": ("分数", "score"),
    "fb_comment": ("评价说明", "comment"),
    "fb_rater_dept": ("评价人部门编号", "rater's dept_id"),
    "fb_rater_dept_name": ("评价人部门", "rater's department"),
    "fb_project": ("项目", "project"),
    "fb_role": ("角色", "RACI role"),
    "fb_status": ("状态", "status"),
    "fb_rater": ("评价人工号", "rater_id"),
    "fb_rater_name": ("评价人姓名", "rater's name"),
    "fb_rating_id": ("评价编号", "rating_id"),
    COUNTED: ("计入", "counted"),
    COUNTED_REVIEWED: ("计入（复核维持）", "counted (review confirmed)"),
    COUNTED_OPEN: ("计入（复核未决）", "counted (review open)"),
    HELD: ("暂不计入（复核未决）", "held (review open)"),
    OVERTURNED: ("不计入（复核撤销）", "not counted (overturned by a review)"),
    NOT_COUNTED: ("未计入", "not counted"),
}


def word(lang: str, key: str, **kw) -> str:
    zh, en = WORDS[key]
    text = zh if lang == "zh" else en
    return text.format(**kw) if kw else text


# ----------------------------------------------------------------------------- the data

@dataclass
class DimensionStats:
    sheet: str                      # InternalRatings | RaciRatings
    dimension: str                  # as first typed
    count: int = 0                  # counted ratings
    total: Decimal = Decimal(0)
    low: Decimal | None = None
    high: Decimal | None = None
    by_score: dict[int, int] = field(default_factory=lambda: {s: 0 for s in SCORES})
    held: int = 0
    overturned: int = 0

    def add(self, score, status: str, n: int = 1) -> None:
        """`n` ratings of this score and status."""
        if status in _COUNTED:
            score = score if type(score) is Decimal else Decimal(str(score))
            self.count += n
            self.total += score * n
            if self.low is None or score < self.low:
                self.low = score
            if self.high is None or score > self.high:
                self.high = score
            self.by_score[_bucket(score)] += n
        elif status == HELD:
            self.held += n
        elif status == OVERTURNED:
            self.overturned += n

    @property
    def mean(self) -> Decimal | None:
        """The mean counted score, to the cent, half up."""
        if not self.count:
            return None
        return (self.total / self.count).quantize(Decimal("0.01"), ROUND_HALF_UP)

    def as_json(self) -> dict:
        return {"sheet": self.sheet, "dimension": self.dimension, "count": self.count,
                "mean": _num(self.mean), "min": _num(self.low), "max": _num(self.high),
                "distribution": {str(s): n for s, n in self.by_score.items()},
                "held": self.held, "overturned": self.overturned}


@dataclass
class Blend:
    """A department's peripheral or RACI adjustment as the run stored it (None: none): its
    points, its explanation (the stored English) and the sentence that words it (`says`)."""
    points: Decimal | None
    explanation: str | None
    says: list | None = None

    def text(self, lang: str) -> str | None:
        """The explanation in `lang` (rules/sentences.py)."""
        if self.explanation is None:
            return None
        return explanation({"explanation": self.explanation, "says": self.says}, lang)


class Rating(Mapping):
    """A rating as the feedback shows it: its ledger row's values, and "sheet", "status",
    "rater_dept_id" and "rater_dept_name" — read like the dict `dict(row, sheet=…, …)` would
    be, without copying the row: a copy per rating held every department's ratings twice over
    while the workbooks were written (+392 MB at 100,000 employees, in the report's second
    writer, which makes the run's peak)."""

    __slots__ = ("row", "sheet", "status", "rater_dept_id", "rater_dept_name")
    _OWN = frozenset(__slots__[1:])

    def __init__(self, row: dict, sheet: str, status: str, rater_dept_id: str | None,
                 rater_dept_name: str | None):
        self.row, self.sheet, self.status = row, sheet, status
        self.rater_dept_id, self.rater_dept_name = rater_dept_id, rater_dept_name

    def __getitem__(self, key):
        if key in Rating._OWN:
            return getattr(self, key)
        return self.row[key]

    def __iter__(self):
        own = Rating._OWN
        yield from (k for k in self.row if k not in own)
        yield from self.__slots__[1:]

    def __len__(self) -> int:
        return len(self.row.keys() - Rating._OWN) + len(Rating._OWN)

    def __repr__(self) -> str:
        return f"Rating({dict(self)!r})"


@dataclass
class DeptFeedback:
    dept_id: str
    name: str
    tier: str
    base: Decimal
    received: dict[str, int]                    # sheet -> ratings that were not rejected
    dimensions: list[DimensionStats]
    ratings: list[Rating]                       # the ledger row + "sheet", "status", rater's dept
    peripheral: Blend
    raci: Blend
    metrics: list[dict]                         # ServiceMetrics rows
    statuses: Counter = field(default_factory=Counter)    # status -> ratings

    def count(self, status_keys) -> int:
        return sum(self.statuses[k] for k in status_keys)


def show_raters(stored: dict) -> bool:
    """The run's policy `[feedback] show_raters` (False for runs stored before it existed)."""
    return bool(_policy(stored).get("feedback", {}).get("show_raters", False))


def _policy(stored: dict) -> dict:
    text = stored.get("run", {}).get("policy_json")
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


class RatingsSaid:
    """What the run's exceptions say of each rating row they cite first, by (sheet, Excel
    row): a byte of flags a row (REJECTED, REVIEWED — a review item — and whether one is OPEN
    or OVERTURNED), what `_status` reads. As a set and a dict of lists of statuses they were
    3.3 MB at 100,000 employees, held by the reports' second writer."""

    REJECTED, REVIEWED, OPEN, OVERTURNED = 1, 2, 4, 8
    _BY_STATUS = {"open": OPEN, "overturned": OVERTURNED}

    __slots__ = ("_flags",)

    def __init__(self):
        self._flags: dict[str, bytearray] = {}

    def add(self, sheet: str, row: int, e: dict) -> None:
        """Notes exception `e`, which cites this rating row first."""
        flags = self._flags.setdefault(sheet, bytearray())
        if row >= len(flags):
            flags.extend(bytes(row + 1 - len(flags) + 4096))
        flags[row] |= (self.REJECTED if e["type"] == "rejection" else
                       self.REVIEWED | self._BY_STATUS.get(e["status"], 0))

    def of(self, sheet: str, row: int) -> int:
        """The flags of a rating row (0: no exception cites it first)."""
        flags = self._flags.get(sheet)
        return flags[row] if flags is not None and 0 <= row < len(flags) else 0


@dataclass
class RunReading:
    """What `build` reads of the run and its ledger whichever departments it is asked for:
    read once by a caller that builds a group of departments at a time (`write`; a
    100,000-employee month's 13 groups read the exceptions and adjustments 13 times)."""
    depts: dict[str, dict]
    emp_dept: Mapping                               # employee -> department (the raters')
    said: RatingsSaid                               # what the exceptions say of rating rows
    counted: SourceMarks                            # the rating rows the blends counted
    blends: dict[tuple[str, str], Blend]            # (department, sheet) -> its blend
    metrics: dict[str, list[dict]]                  # department -> its service metrics


def read_run(rows: dict, stored: dict, ratings: bool = True) -> RunReading:
    """`build`'s reading of the whole run (its arguments as `build`'s)."""
    emp_dept = (lookup(rows.get("Employees", ()), "employee_id", "dept_id") if ratings else
                {})
    said = RatingsSaid()
    for e in stored["exceptions"]:
        if not e["sources"]:
            continue
        sheet, row = e["sources"][0]
        if base_sheet(sheet) in RATING_SHEETS:
            said.add(sheet, row, e)
    blends: dict[tuple[str, str], Blend] = {}
    for a in stored["adjustments"]:
        for sheet, rule in BLEND.items():
            if a["rule"] == rule and a["subject_type"] == "department":
                blends[(a["subject_id"], sheet)] = Blend(a["points"], a["explanation"],
                                                         a.get("says"))
    metrics: dict[str, list[dict]] = defaultdict(list)
    for m in rows.get("ServiceMetrics", []):
        metrics[m["dept_id"]].append(m)
    return RunReading({d["dept_id"]: d for d in rows.get("Departments", [])}, emp_dept,
                      said, _counted(stored), blends, metrics)


def build(rows: dict, stored: dict, ratings: bool = True, only=None,
          run: RunReading | None = None) -> dict[str, DeptFeedback]:
    """dept_id -> its feedback, for every department with a rating that was not rejected.
    `rows`: the ledger's sheets (Departments, InternalRatings, RaciRatings, and Employees and
    ServiceMetrics for the workbooks); `stored`: the run's "adjustments" and "exceptions" (the
    rating kinds' suffice). `ratings=False`: the counts, statistics and points only, without
    the list of ratings (what the summary's feedback by month needs: a year holds a million
    ratings at 10,000 employees). There a rating row may also stand for several ratings that no
    exception cites and the blend counted: {"n": how many, "counted": True}
    (evaluator/history.py reads them grouped by rated department, dimension and score).
    `only`: the departments wanted (None: all). `run`: `read_run(rows, stored, ratings)`,
    when the caller has read it already."""
    run = read_run(rows, stored, ratings) if run is None else run
    depts, emp_dept, said = run.depts, run.emp_dept, run.said
    counted, blends, metrics = run.counted, run.blends, run.metrics
    rated = depts if only is None else {k: v for k, v in depts.items() if k in only}

    found: dict[str, DeptFeedback] = {}
    stats: dict[str, dict[tuple[str, str], DimensionStats]] = defaultdict(dict)
    labels: dict[str, str] = {}                 # dimension as typed -> as matched (a few)
    for name, sheet in _rating_sheets(rows, stored):
        for r in _rated(rows.get(name, ()), rated, only is not None):
            flags = said.of(name, r["row"])
            dept_id = r["ratee_dept_id"]
            grouped = "n" in r
            if (flags & RatingsSaid.REJECTED and not grouped) or dept_id not in rated:
                continue
            fb = found.get(dept_id)
            if fb is None:
                d = depts[dept_id]
                fb = found[dept_id] = DeptFeedback(
                    dept_id, d["name"], d["tier"], d["base_score"],
                    {s: 0 for s in RATING_SHEETS}, [], [],
                    blends.get((dept_id, "InternalRatings"), Blend(None, None)),
                    blends.get((dept_id, "RaciRatings"), Blend(None, None)),
                    metrics.get(dept_id, []))
            if grouped:
                n, status = r["n"], COUNTED
            else:
                n, status = 1, _status((name, r["row"]) in counted, flags)
            fb.received[sheet] += n
            fb.statuses[status] += n
            typed = r["dimension"]
            matched = labels.get(typed)
            if matched is None:
                matched = labels[typed] = norm_dimension(typed)
            s = stats[dept_id].get((sheet, matched))
            if s is None:
                s = stats[dept_id][(sheet, matched)] = DimensionStats(sheet, typed)
            s.add(r["score"], status, n)
            if ratings:
                rater_dept = emp_dept.get(r["rater_id"])
                fb.ratings.append(Rating(
                    r, sheet, status, rater_dept,
                    depts[rater_dept]["name"] if rater_dept in depts else None))
    for dept_id, fb in found.items():
        by = stats[dept_id]
        fb.dimensions = [by[k] for k in sorted(by, key=lambda k: (RATING_SHEETS.index(k[0]),
                                                                  k[1]))]
    return {k: found[k] for k in sorted(found)}


def _counted(stored: dict) -> SourceMarks:
    """The rating rows the departments' blends counted: their sources on the rating sheets,
    kept compactly (a set of tuples of a 100,000-employee month's 795,687 was 99 MB)."""
    counted = SourceMarks()
    for a in stored["adjustments"]:
        for sheet, rule in BLEND.items():
            if a["rule"] == rule and a["subject_type"] == "department":
                for name, row in a["sources"]:
                    if base_sheet(name) == sheet:
                        counted.add(name, row)
    return counted


def _rated(ratings, rated: dict, some: bool):
    """The rating rows to look at: when only `some` departments are `rated`, a sheet kept in a
    file (importers.spooled.SpooledRows) gives theirs alone, without a dict for the others'
    rows (write() hands each group of departments its own part of the sheet; the desk's
    reading of one department has the whole sheet)."""
    if some and isinstance(ratings, SpooledRows):
        return ratings.where("ratee_dept_id", rated.__contains__)
    return ratings


_MECHANISM_OF = {"InternalRatings": "peripheral", "RaciRatings": "raci"}


def _rating_sheets(rows: dict, stored: dict) -> list[tuple[str, str]]:
    """(name in `rows`, rating sheet) of the ratings a run's feedback is about: its own sheets
    and, at a quarter's last month rated quarterly (SPEC §11.5), the quarter's earlier months'
    rows, which the report is given under their qualified names (`InternalRatings@2026-10`,
    rules/sources.py) — the ratings the quarter's blend was computed from. Other months' rows a
    report may hold (the previous month's, read for LINKAGE_CHANGED or the frequent-proposer
    window) are not ratings of this run. Per sheet, oldest month first."""
    period = stored.get("run", {}).get("period") or ""
    earlier = quarter_months(period)[:2] if period and is_quarter_end(period) else ()
    policy = _policy(stored)
    found = []
    for name in rows:
        sheet, month = split_sheet(name)
        if sheet not in RATING_SHEETS:
            continue
        if month is not None and (month not in earlier or policy.get(
                _MECHANISM_OF[sheet], {}).get("cadence", "monthly") != "quarterly"):
            continue
        found.append((RATING_SHEETS.index(sheet), month or "9999-99", name, sheet))
    return [(name, sheet) for _, _, name, sheet in sorted(found)]


def carried(stored: dict, period: str, mechanism: str) -> str | None:
    """The quarter's last month when `mechanism`'s ratings of `period` were carried there (the
    run's policy rated quarterly and `period` is not the quarter's end), else None."""
    cadence = _policy(stored).get(mechanism, {}).get("cadence", "monthly")
    if cadence == "quarterly" and not is_quarter_end(period):
        return quarter_end(period)
    return None


def _status(counted: bool, flags: int) -> str:
    """A rating's status, from whether its blend counted it and the flags of what the
    exceptions say of it (RatingsSaid)."""
    if counted:
        if flags & RatingsSaid.OPEN:
            return COUNTED_OPEN          # policy hold_pending = false
        return COUNTED_REVIEWED if flags & RatingsSaid.REVIEWED else COUNTED
    if flags & RatingsSaid.OVERTURNED:
        return OVERTURNED
    if flags & RatingsSaid.OPEN:
        return HELD
    return NOT_COUNTED


def _bucket(score: Decimal) -> int:
    """The whole score 1–5 a rating counts under: half up (3.5 → 4)."""
    return min(5, max(1, int(score.quantize(Decimal(1), ROUND_HALF_UP))))


def _num(d: Decimal | None):
    return None if d is None else float(Decimal(d).quantize(Decimal("0.01"), ROUND_HALF_UP))


def formulas(stored: dict, base: Decimal, lang: str) -> tuple[str, str]:
    """The peripheral and RACI formulas with the run's policy values and this base."""
    p = _policy(stored)
    scale = p.get("scale", {}).get("rating_to_points", "20")
    pp, rp = p.get("peripheral", {}), p.get("raci", {})
    base_text = f"{Decimal(base):.2f}"
    return (word(lang, "fb_peripheral_formula", w=pp.get("weight", "?"),
                 share=pp.get("objective_share", "?"), scale=scale, base=base_text),
            word(lang, "fb_raci_formula", w=rp.get("weight", "?"), scale=scale, base=base_text))


# ----------------------------------------------------------------------------- the workbooks

WRAP = Alignment(wrap_text=True, vertical="top")


# Ratings held at once while the workbooks are written: the departments are written a group at
# a time, each group's ratings read in one pass over the rating sheets (kept in files,
# importers.spooled.SpooledRows). All of a 100,000-employee month's were 820,000 rows. 131,072
# of them took the report's second writer from 152 to 228 MB at 100,000 employees, 65,536 to
# 194 MB, for 2.5 s more (9.2 → 11.7 s), which the writer spends while the trace is written
# (30 s): the whole run took no longer (docs/decisions.md).
HELD_RATINGS = 65_536


def write(out_dir: Path, period: str, rows: dict, stored: dict, lang: str = "zh",
          sheet_lang: str | None = None) -> list[Path]:
    """feedback/<dept_id>.xlsx for every rated department; the paths written."""
    out_dir = Path(out_dir)
    raters = show_raters(stored)
    names = lookup(rows.get("Employees", ()), "employee_id", "name") if raters else {}
    projects = {p["project_id"]: p["name"] for p in rows.get("Projects", [])}
    written = []
    run = read_run(rows, stored)            # once, for every group
    sizes = _rating_rows(rows, stored)
    # the departments in their order, in groups of at most HELD_RATINGS rating rows between
    # them (a department with more is a group of its own)
    groups = list(in_groups(sorted(sizes, key=str), sizes.__getitem__, HELD_RATINGS))
    # the rating sheets kept in files, split once by group (each group then reads its own
    # rows, not the whole sheet again)
    parted = {}
    if len(groups) > 1:
        group_of = {dept_id: k for k, group in enumerate(groups) for dept_id in group}.get
        parted = {name: rows[name].partition("ratee_dept_id", group_of)
                  for name, _ in _rating_sheets(rows, stored)
                  if isinstance(rows.get(name), SpooledRows)}
    try:
        for k, group in enumerate(groups):
            group_rows = rows
            if parted:
                group_rows = {**rows, **{name: parts.get(k, ()) for name, parts in parted.items()}}
            for dept_id, fb in build(group_rows, stored, only=set(group), run=run).items():
                out_dir.mkdir(parents=True, exist_ok=True)
                path = out_dir / f"{safe_file_stem(dept_id)}.xlsx"
                written.append(_workbook(path, period, fb, stored, lang, sheet_lang or lang,
                                         raters, names, projects))
            for parts in parted.values():
                part = parts.pop(k, None)
                if part is not None:
                    part.close()
    finally:
        for parts in parted.values():
            for part in parts.values():
                part.close()
    return written


def _rating_rows(rows: dict, stored: dict) -> Counter:
    """rated department -> its rating rows, counted from the one column (at least the
    ratings its feedback lists)."""
    count: Counter = Counter()
    for name, _ in _rating_sheets(rows, stored):
        sheet = rows.get(name, ())
        count.update(sheet.column("ratee_dept_id") if isinstance(sheet, SpooledRows)
                     else (r["ratee_dept_id"] for r in sheet))
    return count


def _workbook(path: Path, period: str, fb: DeptFeedback, stored: dict, lang: str,
              sheet_lang: str, raters: bool, names: Mapping, projects: dict) -> Path:
    wb = Workbook()
    bulk = BulkWriter(wb, compresslevel=RUN_REPORT_ZLIB_LEVEL)

    ws = wb.active
    ws.title = word(lang, "fb_overview")
    item_sheet(ws, [label(lang, "item"), label(lang, "value")], overview(fb, period, stored,
                                                                           lang, raters))
    for row in ws.iter_rows(min_row=2, min_col=2, max_col=2):
        for c in row:
            c.alignment = WRAP
    ws.column_dimensions["B"].width = 100

    ds = wb.create_sheet(word(lang, "fb_dimensions"))
    titles = [word(lang, k) for k in ("fb_sheet", "fb_dimension", "fb_count", "fb_mean",
                                      "fb_min", "fb_max")] \
        + [word(lang, "fb_n", s=s) for s in SCORES] \
        + [word(lang, "fb_held_col"), word(lang, "fb_overturned_col")]
    header(ds, titles)
    values = [[sheet_name(lang, s.sheet), s.dimension, s.count, s.mean, s.low, s.high,
               *(s.by_score[k] for k in SCORES), s.held, s.overturned] for s in fb.dimensions]
    for i, v in enumerate(values, 2):
        for j, x in enumerate(v, 1):
            c = ds.cell(row=i, column=j)
            put_text(c, x)
            if j in (4, 5, 6) and x is not None:
                c.number_format = NUMBER_FORMAT
    fit_columns(ds, titles, values, number_cols=range(2, len(titles)))
    ds.freeze_panes = "C2"
    ds.auto_filter.ref = f"A1:{_col(len(titles))}{max(len(values) + 1, 2)}"
    landscape(ds)

    rs = wb.create_sheet(word(lang, "fb_ratings"))
    keys = ["fb_sheet", "fb_dimension", "fb_score", "fb_comment", "fb_rater_dept",
            "fb_rater_dept_name", "fb_project", "fb_role", "fb_status"]
    if raters:
        keys += ["fb_rater", "fb_rater_name", "fb_rating_id"]
    rtitles = [word(lang, k) for k in keys]
    header(rs, rtitles)
    sheet_words = {s: sheet_name(lang, s) for s in RATING_SHEETS}
    status_words = {k: word(lang, k) for k in (COUNTED, COUNTED_REVIEWED, COUNTED_OPEN, HELD,
                                               OVERTURNED, NOT_COUNTED)}

    def rating_row(rating: Rating):
        r = rating.row
        project = r.get("project_id")
        row = [sheet_words[rating.sheet], r["dimension"], r["score"], r.get("comment"),
               rating.rater_dept_id, rating.rater_dept_name,
               f"{project} {projects.get(project, '')}".strip() if project else None,
               r.get("raci_role"), status_words[rating.status]]
        if raters:
            row += [r["rater_id"], names.get(r["rater_id"]), r["rating_id"]]
        return row

    # made as the sheet is saved (a department's tens of thousands of rows were held a second
    # time, as lists, beside its ratings); the widths come from the first rows
    shown = map(rating_row, fb.ratings)
    head = list(islice(shown, WIDTH_SAMPLE_ROWS))
    fit_columns(rs, rtitles, head, maximum={3: 60}, number_cols=(2,))
    rs.freeze_panes = "C2"
    rs.auto_filter.ref = f"A1:{_col(len(rtitles))}{max(len(fb.ratings) + 1, 2)}"
    landscape(rs)
    bulk.add_rows(rs, chain(head, shown), ncols=len(rtitles), count=len(fb.ratings))
    return bulk.save(path)


def overview(fb: DeptFeedback, period: str, stored: dict, lang: str,
             raters: bool) -> list[tuple[str, str]]:
    """The Overview sheet's (item, value) lines."""
    peripheral_formula, raci_formula = formulas(stored, fb.base, lang)
    lines = [(word(lang, "fb_department"), word(lang, "fb_title", dept=fb.dept_id, name=fb.name,
                                                 period=period)),
             (label(lang, "period"), period),
             (label(lang, "run_id"), str(stored.get("run", {}).get("id", ""))),
             (label(lang, "base"), f"{Decimal(fb.base):.2f}"),
             (word(lang, "fb_received"), f"{fb.received['InternalRatings']} / "
                                          f"{fb.received['RaciRatings']}"),
             (word(lang, "fb_counted_n"), str(fb.count((COUNTED, COUNTED_REVIEWED,
                                                        COUNTED_OPEN)))),
             (word(lang, "fb_held_n"), str(fb.count((HELD,)))),
             (word(lang, "fb_overturned_n"), str(fb.count((OVERTURNED,))))]
    front = fb.tier == "front"
    for blend, points_key, formula, none_key in (
            (fb.peripheral, "fb_peripheral_points", peripheral_formula, "fb_no_peripheral"),
            (fb.raci, "fb_raci_points", raci_formula, "fb_no_raci")):
        if blend.points is None:
            end = carried(stored, period, "peripheral" if points_key == "fb_peripheral_points"
                          else "raci")
            lines.append((word(lang, points_key),
                          word(lang, "fb_front_office") if front else
                          word(lang, "fb_carried", end=end) if end else word(lang, none_key)))
            continue
        lines += [(word(lang, points_key), f"{Decimal(blend.points):+.2f}"),
                  (word(lang, "fb_how"), blend.text(lang) or ""),
                  (word(lang, "fb_formula"), formula)]
    if fb.metrics:
        lines.append((word(lang, "fb_metrics"),
                      "; ".join(f"{m['metric']} = {_plain(m['value'])}" for m in fb.metrics)))
    lines.append((word(lang, "fb_raters_shown"),
                  word(lang, "fb_raters_id" if raters else "fb_raters_dept")))
    return lines


def _plain(value) -> str:
    """A ledger number as typed in its shortest form: 0.90 → 0.9, 1.0 → 1."""
    text = format(Decimal(value).normalize(), "f")
    return text


def _col(n: int) -> str:
    from openpyxl.utils import get_column_letter
    return get_column_letter(n)

