"""The catalog of exception kinds (SPEC §5), their review ids (SPEC §6) and who they go to.

An exception is either a **rejection** (the row is not applied, or a metric or notice needs HR to
fix the ledger; read-only, no decision, always assigned to `HR`) or a **review** (a person must
decide: `confirm` 维持 / `overturn` 撤销). The review ids are short stable hashes of
(period, kind, review key), so the same finding in a corrected ledger keeps its id and a
manager's decision still finds its item:

    >>> review_id("2026-11", "RATING_EXTREME", ("InternalRatings", "R7"))
    '0d80f0717616'
    >>> review_id_for("2026-11", "INTERLOCK_MISSED", metric_id="M1", dept_id="D3")
    'c18bb1fc1e3e'

Who decides (SPEC §5): a rating review goes to the rater's manager, a behaviour review to the
proposer's manager, an interlock post-mortem to the party department's manager; where that
person is missing, or is the one the item is about, one more level up the chain, and `HR` at the
top. 原文：「可以设置“异常评分复核机制”——出现极端高低分时，由HR或上级复核实际情况。」

Everything here is pure: no database, no engine. The rules evaluator and the reference
implementation (tests/reference.py) both read it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Iterable, Mapping

HR = "HR"
REJECTION, REVIEW = "rejection", "review"

# The order of the mechanisms in every output (SPEC §5.7).
MECHANISMS = ("linkage", "peripheral", "raci", "interlock", "behaviour")

RATING_SHEETS = ("InternalRatings", "RaciRatings")
_SHEET_MECHANISM = {"InternalRatings": "peripheral", "RaciRatings": "raci"}


@dataclass(frozen=True)
class ExceptionKind:
    kind: str
    type: str                       # "rejection" | "review"
    mechanisms: tuple[str, ...]     # the mechanisms whose rows it concerns (rating kinds: both)
    subject: str                    # "employee" | "department" | "metric"
    key: tuple[str, ...]            # the review key's fields, in order (SPEC §5 table)
    zh: str
    en: str
    notice: bool = False            # a rejection-type notice about a subject, not about one row

    @property
    def mechanism(self) -> str:
        """The kind's mechanism; for a rating kind of both sheets, 'peripheral' (use
        mechanism_for(kind, sheet) when the sheet is known)."""
        return self.mechanisms[0]


def _k(kind, type_, mechanisms, subject, key, zh, en, notice=False) -> ExceptionKind:
    return ExceptionKind(kind, type_, tuple(mechanisms), subject, tuple(key), zh, en, notice)


_BOTH = ("peripheral", "raci")
_RATING_KEY = ("sheet", "rating_id")

# In SPEC order; this order also breaks ties between exceptions on the same source row.
KINDS: tuple[ExceptionKind, ...] = (
    # §5.1 Behaviours — 协同行为加减分
    _k("BEH_UNKNOWN_REF", REJECTION, ["behaviour"], "employee", ["event_id"],
       "工号、提议人工号或项目编号不存在",
       "The employee, proposer or project does not exist"),
    _k("BEH_OUT_OF_PERIOD", REJECTION, ["behaviour"], "employee", ["event_id"],
       "日期不在考核月内", "The date is not in the evaluated month"),
    _k("BEH_UNKNOWN_CODE", REJECTION, ["behaviour"], "employee", ["event_id"],
       "行为代码既不是清单代码也不是其中文名称",
       "The behaviour code is neither a catalog code nor its Chinese name"),
    _k("BEH_POINTS_RANGE", REJECTION, ["behaviour"], "employee", ["event_id"],
       "分值超出该行为的分值区间", "The points lie outside the behaviour's range"),
    _k("BEH_NO_EVIDENCE", REJECTION, ["behaviour"], "employee", ["event_id"],
       "缺少事实依据（原文：确保加减分都有事实依据）",
       "No factual evidence (the article: every point needs factual evidence)"),
    _k("BEH_SELF_PROPOSED", REJECTION, ["behaviour"], "employee", ["event_id"],
       "提议人与被加减分员工为同一人", "The proposer is the employee who receives the points"),
    _k("BEH_UNAUTHORIZED", REJECTION, ["behaviour"], "employee", ["event_id"],
       "提议人既不是该员工的上级（任一层级），也不是该项目负责人",
       "The proposer is neither above the employee in the manager chain nor the project's lead"),
    _k("BEH_FREQUENT_PROPOSER", REVIEW, ["behaviour"], "employee", ["proposer_id", "employee_id"],
       "同一提议人对同一员工当期多次加分，须复核（避免“人情分”）",
       "One proposer gave one employee many bonus rows this period: review (no favour points)"),
    # §5.2 Ratings — 周边绩效 / 责任矩阵评分
    _k("RATING_UNKNOWN_REF", REJECTION, _BOTH, "department", _RATING_KEY,
       "评价人、被评部门或项目不存在", "The rater, rated department or project does not exist"),
    _k("RATING_SELF", REJECTION, _BOTH, "department", _RATING_KEY,
       "评价人属于被评部门（自评无效）", "The rater belongs to the rated department"),
    _k("RATING_NOT_SUPPORT", REJECTION, ["peripheral"], "department", _RATING_KEY,
       "周边评价只针对中后台部门，被评部门为前台",
       "Internal ratings are for middle/back office; the rated department is front office"),
    _k("RACI_REVERSE", REJECTION, ["raci"], "department", _RATING_KEY,
       "责任矩阵评分只能由前台评中后台，不得反向（原文：对前台则不必反向设置）",
       "RACI ratings go from front office to middle/back office only, never the reverse"),
    _k("RATING_EXTREME", REVIEW, _BOTH, "department", _RATING_KEY,
       "极端高分或低分，由上级复核（原文：异常评分复核机制）",
       "Extreme score: the rater's manager reviews it"),
    _k("RATING_LOW_NO_COMMENT", REVIEW, _BOTH, "department", _RATING_KEY,
       "低分未填写评价说明（原文：若没有标准和解释，“打低分”有时会被当成“报复”）",
       "A low score without a comment"),
    _k("RATING_OUTLIER", REVIEW, _BOTH, "department", _RATING_KEY,
       "评分明显偏离其他评价人对同一维度的均值",
       "The score is far from the other raters' mean on the same dimension"),
    _k("RATING_MUTUAL_LOW", REVIEW, ["peripheral"], "department", _RATING_KEY,
       "两个部门互打低分", "Two departments rated each other low"),
    # §5.4 Peripheral
    _k("PERIPHERAL_NO_RATINGS", REJECTION, ["peripheral"], "department", ["dept_id"],
       "中后台部门本期没有计入的周边评价，周边绩效未计算",
       "A middle/back department has no counted internal rating: no peripheral score",
       notice=True),
    # §5.6 Interlocks — 指标互锁 / 业绩双算
    _k("INTERLOCK_WEIGHTS", REJECTION, ["interlock"], "metric", ["metric_id"],
       "互锁指标各部门权重之和不为 1", "The parties' weights do not sum to 1"),
    _k("INTERLOCK_PARTIES", REJECTION, ["interlock"], "metric", ["metric_id"],
       "权重大于 0 的互锁部门少于 2 个", "Fewer than 2 parties with a weight above 0"),
    _k("INTERLOCK_ASYMMETRIC", REJECTION, ["interlock"], "metric", ["metric_id"],
       "奖惩不对等（原文：奖惩机制对等）",
       "Reward and penalty break the symmetry policy (the article: reward and penalty are equal)"),
    _k("INTERLOCK_TOO_MANY", REJECTION, ["interlock"], "department", ["dept_id"],
       "部门参与的互锁指标过多（原文：一般挑选2–3个）",
       "The department shares too many interlocked metrics (the article: 2–3)", notice=True),
    _k("INTERLOCK_MISSED", REVIEW, ["interlock"], "department", ["metric_id", "dept_id"],
       "互锁指标未达成，各方须参与复盘（原文：三方都必须参与复盘和改进）",
       "The interlocked metric was missed: every party holds a post-mortem"),
)

KIND_BY_NAME: Mapping[str, ExceptionKind] = {k.kind: k for k in KINDS}
KIND_ORDER: Mapping[str, int] = {k.kind: i for i, k in enumerate(KINDS)}


def kind_info(kind: str) -> ExceptionKind:
    try:
        return KIND_BY_NAME[kind]
    except KeyError:
        raise ValueError(f"unknown exception kind {kind!r}") from None


def mechanism_for(kind: str, sheet: str | None = None) -> str:
    """The mechanism an exception is listed under (SPEC §5.7 order): a rating kind follows its
    sheet (InternalRatings → peripheral, RaciRatings → raci)."""
    info = kind_info(kind)
    if sheet in _SHEET_MECHANISM and len(info.mechanisms) > 1:
        return _SHEET_MECHANISM[sheet]
    return info.mechanism


def review_id(period: str, kind: str, key_parts: Iterable[str]) -> str:
    """The stable id of an exception: "R" + the first 12 hex digits of SHA-256 over the canonical JSON of
    [period, kind, *key_parts] (sorted keys, UTF-8, no spaces). key_parts follow
    KIND_BY_NAME[kind].key, e.g. ("InternalRatings", "R7") for a RATING_* kind; a sheet is named
    by its canonical English name."""
    parts = [str(p) for p in key_parts]
    expected = kind_info(kind).key
    if len(parts) != len(expected):
        raise ValueError(f"{kind} is keyed by {expected}, got {parts}")
    text = json.dumps([period, kind, *parts], ensure_ascii=False, separators=(",", ":"),
                      sort_keys=True)
    # The "R" keeps a retyped id text in Excel (an all-digit or "1e5…" id would become a number).
    return "R" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def review_id_for(period: str, kind: str, **fields: str) -> str:
    """review_id with the key given by name: review_id_for(p, "BEH_NO_EVIDENCE", event_id="B1")."""
    names = kind_info(kind).key
    missing = [n for n in names if n not in fields]
    if missing or len(fields) != len(names):
        raise ValueError(f"{kind} is keyed by {names}, got {sorted(fields)}")
    return review_id(period, kind, [fields[n] for n in names])


def assignee(employees: Mapping[str, Mapping], start_id: str | None,
             excluded_ids: Iterable[str] = (), excluded_dept: str | None = None) -> str:
    """Walk up the manager chain from `start_id` to the first person who may decide; `HR` at the
    top. `employees` maps employee_id → a row with "manager_id" and "dept_id".

    A candidate is passed over (one more level up) when missing (blank or unknown id), listed in
    `excluded_ids` (the employee who received the points), or a member of `excluded_dept` (the
    rated department). Start from the rater's manager, the proposer's manager or the party
    department's manager (SPEC §5).
    """
    excluded = set(excluded_ids)
    seen: set[str] = set()
    current = start_id
    while current is not None and current not in seen:
        seen.add(current)               # the import refuses manager cycles; this is a backstop
        person = employees.get(current)
        if person is None:
            return HR                   # an unknown id has no chain to climb
        if current not in excluded and (excluded_dept is None
                                        or person.get("dept_id") != excluded_dept):
            return current
        current = person.get("manager_id")
    return HR


def rating_review_assignee(employees: Mapping[str, Mapping], rater_id: str,
                           ratee_dept_id: str) -> str:
    """A rating review: the rater's manager, passing over members of the rated department."""
    rater = employees.get(rater_id)
    start = rater.get("manager_id") if rater else None
    return assignee(employees, start, excluded_dept=ratee_dept_id)


def behaviour_review_assignee(employees: Mapping[str, Mapping], proposer_id: str,
                              employee_id: str) -> str:
    """A behaviour review: the proposer's manager, passing over the employee who got the points."""
    proposer = employees.get(proposer_id)
    start = proposer.get("manager_id") if proposer else None
    return assignee(employees, start, excluded_ids=(employee_id,))


def interlock_review_assignee(employees: Mapping[str, Mapping],
                              departments: Mapping[str, Mapping], dept_id: str) -> str:
    """An interlock post-mortem: the party department's manager (its own member, by design)."""
    dept = departments.get(dept_id)
    return assignee(employees, dept.get("manager_id") if dept else None)
