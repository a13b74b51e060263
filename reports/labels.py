"""The words of the reports in Chinese and English: sheet titles, column headers, mechanism,
tier, status and result names, and the trace page's interface.

Reports take a `lang` ("zh" or "en"); `label(lang, key)` gives the word. Ids, cell references
and quoted ledger values are never translated (SPEC §7). The Reviews sheet's decision columns
use the ledger's own column names (importers/schema.py), so a returned review workbook is read
by the same code as a ledger's Reviews sheet.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from importers.schema import ENUM_ZH, SHEET_BY_NAME, SHEETS
from rules.exceptions import MECHANISMS  # noqa: F401  (re-exported: reports' order of mechanisms)
from rules.sources import base as base_sheet, split as split_sheet

LANGS = ("zh", "en")

_WORDS: dict[str, tuple[str, str]] = {           # key: (zh, en)
    # mechanisms
    "linkage": ("关联矩阵", "Linkage"),
    "peripheral": ("周边绩效", "Peripheral"),
    "raci": ("责任矩阵", "RACI"),
    "interlock": ("指标互锁", "Interlock"),
    "behaviour": ("协同行为", "Behaviour"),
    # tiers
    "front": ("前台", "front"),
    "middle": ("中台", "middle"),
    "back": ("后台", "back"),
    # exception types and statuses
    "rejection": ("驳回", "rejection"),
    "review": ("复核", "review"),
    "notice": ("提示", "notice"),
    "open": ("待复核", "open"),
    "confirmed": ("已维持", "confirmed"),
    "overturned": ("已撤销", "overturned"),
    "to_fix": ("待 HR 修正台账", "HR to fix the ledger"),
    # firing results
    "adjustment": ("调整", "adjustment"),
    "exception": ("异常", "exception"),
    "note": ("记录", "note"),
    "none": ("无", "none"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    # statement.xlsx
    "st_departments": ("部门得分", "Departments"),
    "st_employees": ("员工得分", "Employees"),
    "st_why_not": ("未计入说明", "Why not"),
    "st_chart": ("图表", "Chart"),
    "st_run": ("运行信息", "Run"),
    "dept_id": ("部门编号", "dept_id"),
    "dept_name": ("部门名称", "name"),
    "tier": ("层级", "tier"),
    "base": ("基础分", "base"),
    "final": ("最终得分", "final"),
    "notes": ("说明", "notes"),
    "employee_id": ("工号", "employee_id"),
    "employee_name": ("姓名", "name"),
    "emp_dept": ("部门编号", "dept_id"),
    "emp_dept_name": ("部门名称", "department"),
    "behaviour_after_cap": ("协同行为分（封顶后）", "behaviour (after cap)"),
    "mechanism": ("机制", "mechanism"),
    "applied": ("是否计入", "applied"),
    "reason": ("原因", "reason"),
    "chart_title": ("各部门基础分与最终得分", "Base vs final score per department"),
    "chart_y": ("得分", "score"),
    # run information (statement and trace)
    "period": ("考核期", "period"),
    "run_id": ("运行记录", "run"),
    "ledger_file": ("台账文件", "ledger file"),
    "file_sha256": ("台账 SHA-256", "ledger SHA-256"),
    "policy_sha256": ("政策 SHA-256", "policy SHA-256"),
    "rules_version": ("规则版本", "rules version"),
    "program_version": ("程序版本", "program version"),
    "decisions_digest": ("复核结论摘要", "decisions digest"),
    "started_at": ("开始时间", "started"),
    "finished_at": ("结束时间", "finished"),
    "chain_status": ("审计链校验", "audit chain"),
    "chain_head": ("审计链最新哈希", "latest chain hash"),
    "chain_ok": ("通过：{n} 条记录，未发现篡改", "verified: {n} records, no change found"),
    "chain_ok_since": ("通过：截至第 {seq} 条已于 {at} 完整校验，其后增量校验 {n} 条后续记录及本次运行所用台账的每一行，未发现篡改",
                       "verified: full up to link {seq} at {at}, incremental since: {n} later record(s) "
                       "and every row of the run's ledger, no change found"),
    "chain_ok_since_run": ("通过：截至第 {seq} 条已于 {at} 校验（运行记录 #{run} 校验时写入的检查点），其后增量校验 {n} 条后续记录及本次运行所用台账的每一行，未发现篡改",
                           "verified: up to link {seq} at {at} (checkpoint of run {run}'s check), "
                           "incremental since: {n} later record(s) and every row of the run's "
                           "ledger, no change found"),
    "chain_bad": ("失败：{problem}", "FAILED: {problem}"),
    "chain_unchecked": ("未校验", "not checked"),
    "counts": ("数量", "counts"),
    "item": ("项目", "item"),
    "value": ("值", "value"),
    "firings_n": ("规则触发次数", "firings"),
    "adjustments_n": ("调整项", "adjustments"),
    "exceptions_n": ("异常项", "exceptions"),
    # trace
    "tr_title": ("规则触发追踪", "Rule-firing trace"),
    "tr_run": ("运行信息", "Run"),
    "tr_firings": ("规则触发", "Firings"),
    "tr_sources": ("来源行", "Sources"),
    "tr_why_not": ("未计入说明", "Why not"),
    "seq": ("序号", "seq"),
    "rule": ("规则", "rule"),
    "description": ("规则说明", "description"),
    "subject": ("对象", "subject"),
    "sources": ("来源行", "source rows"),
    "cited": ("引用值", "cited values"),
    "result": ("结果", "result"),
    "points": ("调整分", "points"),
    "kind": ("异常类型", "kind"),
    "kind_text": ("异常说明", "kind description"),
    "review_id": ("复核编号", "review_id"),
    "status": ("状态", "status"),
    "assignee": ("复核人", "assignee"),
    "explanation": ("计算说明", "explanation"),
    "message": ("异常详情", "message"),
    "sheet": ("工作表", "sheet"),
    "row": ("行号", "row"),
    "values": ("内容", "values"),
    "more": ("另有 {n} 行，见来源行", "{n} more, see Sources"),
    "firings_sheets": ("规则触发工作表", "firing sheets"),
    "sources_sheets": ("来源行工作表", "source-row sheets"),
    "sheets_split": ("共 {n} 行，超出单个工作表的行数上限，分在 {k} 个工作表：{sheets}（每个最多 {per} 行）",
                     "{n} rows, more than one sheet holds, on {k} sheets: {sheets} "
                     "(at most {per} rows each)"),
    # trace.html interface
    "ui_filter_subject": ("对象", "Subject"),
    "ui_filter_rule": ("规则", "Rule"),
    "ui_filter_mechanism": ("机制", "Mechanism"),
    "ui_filter_sheet": ("来源工作表", "Source sheet"),
    "ui_filter_result": ("结果", "Result"),
    "ui_all": ("全部", "all"),
    "ui_clear": ("清除筛选", "Clear filters"),
    "ui_prev": ("上一页", "Previous"),
    "ui_next": ("下一页", "Next"),
    "ui_page": ("第 {p} / {n} 页", "page {p} of {n}"),
    "ui_shown": ("共 {m} 次触发，筛选后 {n} 次", "{n} of {m} firings"),
    "ui_sources_shown": ("共 {n} 行被引用", "{n} cited rows"),
    "ui_cited_by": ("查看引用此行的触发", "firings citing this row"),
    "ui_no_rows": ("没有符合条件的触发", "No firing matches"),
    # reviews/<assignee>.xlsx
    "rv_guide": ("说明", "Guide"),
    "rv_rejections": ("驳回与提示", "Rejections"),
    "rv_title": ("复核清单：{who}（{period}）", "Review list: {who} ({period})"),
    "rv_howto": (
        "请在「复核结论」工作表的「结论」列选择 维持 或 撤销，可在「复核说明」列填写理由；"
        "其他列为只读背景信息。不需要决定的事项留空即可。填好后将本文件交回 HR，"
        "由 HR 运行：xietong decisions 本文件 --period {period}。",
        "In the Reviews sheet, choose confirm or overturn in the decision column and add a "
        "comment if you wish; the other columns are read-only context. Leave an item blank to "
        "decide it later. Return this file to HR, who runs: "
        "xietong decisions THIS_FILE --period {period}."),
    "rv_meaning": ("维持 = 该评分/记录有效，计入得分；撤销 = 不予采纳。",
                   "confirm = the rating or record stands and counts; overturn = it does not."),
    "rv_rejections_howto": (
        "「驳回与提示」工作表中的事项无需复核决定：请在下一期台账中修正对应的行。",
        "The items of the Rejections sheet take no decision: correct the rows in the next ledger."),
    "rv_counts": ("待复核 {r} 项，驳回与提示 {j} 项", "{r} item(s) to review, {j} rejection(s) and notice(s)"),
    "rv_dv_title": ("请从下拉列表中选择", "Choose from the list"),
    "rv_dv_error": ("可选值：{items}", "Allowed: {items}"),
    # decisions wherever an item appears (SPEC §10.3), review workbooks for people (§10.7)
    "st_reviews": ("复核事项", "Reviews"),
    "subject_name": ("对象名称", "subject name"),
    "assignee_name": ("复核人姓名", "assignee name"),
    "decision": ("结论", "decision"),
    "comment": ("复核说明", "comment"),
    "decided_by": ("决定人", "by"),
    "decided_at": ("决定时间（UTC）", "at (UTC)"),
    "hr_name": ("人力资源部", "HR"),
    "reviews_total": ("复核事项", "review items"),
    "reviews_open": ("待复核事项", "open reviews"),
    "figures": ("结果状态", "figures"),
    "figures_provisional": ("暂定：{n} 项复核待决，本期未关闭", "provisional: {n} review(s) open, "
                            "the period is open"),
    "figures_provisional_decided": ("暂定：复核均已决定，本期未关闭",
                                    "provisional: every review decided, the period is open"),
    "figures_final": ("定稿：本期已于 {at} UTC 由 {by} 关闭", "final: the period was closed at {at} "
                      "UTC by {by}"),
    "applied_rule": (
        "「是否计入」说的是该行原因所述的内容：是 = 已计入得分（该机制已计入，另有部分评价未计入均值）；"
        "否 = 该行所述未计入得分（同一部门的其他指标可能已计入）。",
        "\"applied\" is about what the row's reason describes: yes = it counts in the score (the "
        "mechanism applied, some ratings left out of its average); no = what the row describes "
        "does not count (another metric of the department may still count)."),
    "no_base": ("员工表未填个人绩效得分，最终得分留空", "no individual score in Employees: the final "
                "score is left blank"),
    "rv_found": ("发现的问题", "what was found"),
    "rv_why": ("复核原因", "why it is reviewed"),
    "rv_recorded": ("已记录的结论", "recorded decision"),
    "rv_recorded_text": ("{value}（{by}，{at} UTC）", "{value} ({by}, {at} UTC)"),
    "rv_list_title": ("复核清单：{name}（{who}），{period}", "Review list: {name} ({who}), {period}"),
    "rv_stamp": ("本清单依据运行记录 #{run} 生成，发出时间 {at} UTC。请交回最新发出的清单："
                 "会改变其后记录的结论的旧清单将被拒绝。",
                 "Written from run #{run}, issued {at} UTC. Return the latest list you received: "
                 "an older copy that would change a decision recorded after it is refused."),
    "rv_open_counts": ("共 {n} 项：待复核 {open} 项，已有结论 {decided} 项",
                       "{n} item(s): {open} open, {decided} decided"),
    "rv_open_counts_hr": ("共 {n} 项：待复核 {open} 项，已有结论 {decided} 项；驳回与提示 {j} 项",
                          "{n} item(s): {open} open, {decided} decided; {j} rejection(s) and "
                          "notice(s)"),
    "rv_howto_decided": (
        "已有结论的事项：「已记录的结论」列写明结论、决定人和时间；您本人的结论已填入「结论」和「复核说明」，"
        "可以修改。不修改或留空即保持已记录的结论。",
        "Decided items: the recorded decision column shows the decision, who made it and when; "
        "your own decisions are filled in the decision and comment cells and can be changed. "
        "Leave a row as it is to keep its recorded decision."),
    "rv_print_right": ("运行记录 #{run} · 发出 {at} UTC · 第 &P / &N 页",
                       "run #{run} · issued {at} UTC · page &P of &N"),
    "rv_hub": ("复核清单一览", "Workbooks"),
    "rv_hub_howto": (
        "「复核清单一览」工作表列出本期每位复核人的清单文件（与本文件在同一文件夹）、事项数和待复核数，"
        "便于 HR 分发和催办。",
        "The Workbooks sheet lists every assignee's review list of the period (in this file's "
        "folder), with its items and how many are open: for HR to send them out and follow up."),
    "person_id": ("工号", "id"),
    "person_name": ("姓名", "name"),
    "department": ("部门", "department"),
    "email": ("电子邮箱", "e-mail"),
    "file": ("文件", "file"),
    "items": ("事项", "items"),
    "open_items": ("待复核", "open"),
    "trace_decision": ("复核结论：{value}，{by}，{at} UTC（审计链 #{seq}）{comment}",
                       "decision: {value} by {by} at {at} UTC (chain #{seq}){comment}"),
}


def label(lang: str, key: str, **kw) -> str:
    zh, en = _WORDS[key]
    text = zh if lang == "zh" else en
    return text.format(**kw) if kw else text


def sheet_name(lang: str, sheet: str) -> str:
    """A ledger sheet's name as the ledger in `lang` spells it (its own name, SPEC §7); a sheet
    of another month's import (rules/sources.py) keeps its month: `周边评价@2026-01`."""
    s = SHEET_BY_NAME.get(sheet)
    if s is None:
        own, month = split_sheet(sheet)
        if month is None or own not in SHEET_BY_NAME:
            return sheet
        return f"{sheet_name(lang, own)}@{month}"
    return s.zh if lang == "zh" else s.name


def ref(lang: str, sheet: str, row: int) -> str:
    """`周边评价!17` / `InternalRatings!17`."""
    return f"{sheet_name(lang, sheet)}!{row}"


def show_value(lang: str, value, enum: str | None = None) -> str:
    """A ledger value as an auditor reads it: exact decimals, ISO dates, enum codes spelled in
    the ledger's language."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")      # 70.0 -> 70, 0.90 -> 0.9 (same number)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if enum and lang == "zh":
        return ENUM_ZH.get(enum, {}).get(value, str(value))
    return str(value)


def cited_values(lang: str, sheet: str, row: dict | None) -> str:
    """`评价编号=R1; 评价人工号=E2; 分数=4` — every non-blank cell of a cited ledger row."""
    if row is None:
        return ""
    parts = []
    # show_value per cell, with its per-column decisions (header word, enum spelling) made once
    # per sheet and language: a big trace cites hundreds of thousands of rows.
    for key, prefix, enum, spelled in _cited_columns(lang, sheet):
        v = row.get(key)
        if v is None or v == "":
            continue
        t = type(v)
        if t is str:
            parts.append(prefix + (v if spelled is None else spelled.get(v, v)))
        elif t is Decimal:
            cache = v and v.is_finite()              # 0 and -0 are equal, not spelled so
            text = _DECIMALS.get(v) if cache else None
            if text is None:
                text = format(v.normalize(), "f")
                if cache and len(_DECIMALS) < 10_000:
                    _DECIMALS[v] = text
            parts.append(prefix + text)
        else:
            parts.append(prefix + show_value(lang, v, enum))
    return "; ".join(parts)


_CITED_COLUMNS: dict[tuple[str, str], tuple] = {}
# show_value of the non-zero Decimals cited (scores, points, amounts repeat): equal non-zero
# Decimals (4, 4.0) normalise to the same text, so one text per value.
_DECIMALS: dict[Decimal, str] = {}


def _cited_columns(lang: str, sheet: str) -> tuple:
    """(column, "header=", enum, its Chinese spellings or None) for each column of `sheet`."""
    plan = _CITED_COLUMNS.get((lang, sheet))
    if plan is None:
        plan = tuple((c.name, f"{c.zh if lang == 'zh' else c.name}=", c.enum,
                      ENUM_ZH.get(c.enum, {}) if c.enum and lang == "zh" else None)
                     for c in SHEET_BY_NAME[base_sheet(sheet)].columns)
        _CITED_COLUMNS[(lang, sheet)] = plan
    return plan


SHEET_ORDER = {s.name: i for i, s in enumerate(SHEETS)}


# The mechanism of a review item by the sheet of its first source (a deadline firing cites them;
# another month's row, Sheet@YYYY-MM, by its sheet).
_ITEM_MECHANISM = {"Behaviours": "behaviour", "Interlocks": "interlock",
                   "InternalRatings": "peripheral", "RaciRatings": "raci"}


def firing_mechanism(rule: str, sources) -> str:
    """The mechanism a firing belongs to: by its rule id, and for the rating rules (shared by
    both rating sheets) by the sheet of its first source."""
    head = rule.split(".")[0].lower()
    if head in ("linkage", "peripheral", "raci", "interlock", "behaviour"):
        return head
    if rule.startswith("LINKAGE_"):
        return "linkage"
    if head == "review" and sources:    # review.escalate/.stays (rules/deadlines.py): the item's
        return _ITEM_MECHANISM.get(base_sheet(sources[0][0]), "peripheral")
    if rule.startswith("BEH_"):
        return "behaviour"
    if rule.startswith("INTERLOCK_"):
        return "interlock"
    if rule.startswith("PERIPHERAL_"):
        return "peripheral"
    if rule == "RACI_REVERSE":
        return "raci"
    # rating.* and RATING_*: the sheet decides
    if sources and base_sheet(sources[0][0]) == "RaciRatings":
        return "raci"
    return "peripheral"
