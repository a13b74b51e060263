"""The ledger workbook's contract (SPEC §3): sheets, columns, types, keys and references.

Everything that knows what a ledger looks like reads it from here: the reader and validator
(`importers/ledger.py`), the template writer, the sample-company generator and the database
models. A column is named by its canonical English name everywhere in the code; the Chinese
name is only for matching headers and for people.

Typed values after import:
    id, text      -> str (NFKC-normalised, trimmed); a blank optional cell -> None
    number, ratio -> decimal.Decimal (exact: "correct to the cent" needs no binary floats)
    date          -> datetime.date
    enum          -> the canonical code (first spelling listed in ENUMS)
Every typed row is a dict {column: value, ..., "row": Excel row number (header = row 1)}.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


# Enumerations: canonical code -> every accepted spelling (matched after NFKC + casefold + trim).
ENUMS: dict[str, dict[str, tuple[str, ...]]] = {
    "tier": {
        "front": ("front", "前台"),
        "middle": ("middle", "中台"),
        "back": ("back", "后台"),
    },
    "direction": {
        "higher": ("higher", "越高越好"),
        "lower": ("lower", "越低越好"),
    },
    "level": {
        "high": ("high", "强", "★★★", "3"),
        "medium": ("medium", "中", "★★", "2"),
        "low": ("low", "弱", "★", "1"),
    },
    "raci_role": {"R": ("R",), "A": ("A",), "C": ("C",), "I": ("I",)},
    "decision": {
        "confirm": ("confirm", "维持"),
        "overturn": ("overturn", "撤销"),
    },
}

# The spelling a Chinese template offers in its dropdowns (the English one offers the code).
ENUM_ZH: dict[str, dict[str, str]] = {
    "tier": {"front": "前台", "middle": "中台", "back": "后台"},
    "direction": {"higher": "越高越好", "lower": "越低越好"},
    "level": {"high": "强", "medium": "中", "low": "弱"},
    "raci_role": {"R": "R", "A": "A", "C": "C", "I": "I"},
    "decision": {"confirm": "维持", "overturn": "撤销"},
}

# Reserved: the pseudo-employee id that stands for the HR department as reviewer/assignee.
RESERVED_EMPLOYEE_IDS = frozenset({"HR"})


@dataclass(frozen=True)
class Column:
    name: str                      # canonical English name
    zh: str                        # Chinese name
    kind: str                      # id | text | number | ratio | date | enum
    optional: bool = False         # blank allowed (value None)
    enum: str | None = None        # key into ENUMS when kind == "enum"
    min: Decimal | None = None     # inclusive bounds for number/ratio
    max: Decimal | None = None
    min_exclusive: bool = False    # "> 0" rather than ">= 0"
    default: str | None = None     # enum default when blank (direction -> higher)
    as_typed: bool = False         # free text (names, dimensions, comments, evidence, notes):
    #                                stored and shown exactly as typed (SPEC §10.1), not
    #                                normalised like ids and codes
    help_en: str = ""
    help_zh: str = ""


@dataclass(frozen=True)
class Sheet:
    name: str                      # canonical English name
    zh: str                        # Chinese name
    columns: tuple[Column, ...]
    key: tuple[str, ...]           # unique key (duplicate = import error)
    required: bool = False         # missing sheet = import error
    kind: str = "master"           # master (reference data) | transaction | decision
    mechanism_en: str = ""
    mechanism_zh: str = ""

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def shared_columns(self) -> tuple[str, ...]:
        """The columns whose equal values a sheet's rows held in memory make one object (a
        100,000-employee ledger repeats a few dozen departments and each manager in its
        employees' rows: the Employees sheet's texts were 36 MB as typed, 22 MB shared; its
        base scores, 97,094 Decimal objects, 10.5 MB, are a few hundred values): every column
        but the key (unique). Numbers are one object only where written alike
        (importers.columns.same_key: Decimal("4") == Decimal("4.0"), yet each is shown as
        typed)."""
        return tuple(c.name for c in self.columns if c.name not in self.key)


D = Decimal


def _score(zh: str, en: str) -> Column:
    return Column("score", "分数", "number", min=D(1), max=D(5), help_en=en, help_zh=zh)


SHEETS: tuple[Sheet, ...] = (
    Sheet("Departments", "部门", (
        Column("dept_id", "部门编号", "id", help_en="Department id, unique", help_zh="部门编号，唯一"),
        Column("name", "部门名称", "text", as_typed=True, help_en="Department name", help_zh="部门名称"),
        Column("tier", "层级", "enum", enum="tier",
               help_en="front / middle / back office", help_zh="前台/中台/后台"),
        Column("manager_id", "负责人工号", "id", optional=True,
               help_en="Employee id of the department head", help_zh="部门负责人的工号"),
        Column("base_score", "部门绩效得分", "number", min=D(0), max=D(200),
               help_en="The department's own KPI result, 0-200", help_zh="部门自身的绩效得分，0–200"),
    ), key=("dept_id",), required=True,
        mechanism_en="Subjects of every department-level mechanism",
        mechanism_zh="所有部门级机制的对象"),
    Sheet("Employees", "员工", (
        Column("employee_id", "工号", "id", help_en="Employee id, unique; 'HR' is reserved",
               help_zh="工号，唯一；HR 为保留字"),
        Column("name", "姓名", "text", as_typed=True, help_en="Name", help_zh="姓名"),
        Column("dept_id", "部门编号", "id", help_en="Must exist in Departments",
               help_zh="必须存在于部门表"),
        Column("manager_id", "上级工号", "id", optional=True,
               help_en="Direct manager's employee id (blank = top of the chain)",
               help_zh="直接上级工号（空 = 最高层）"),
        Column("base_score", "个人绩效得分", "number", optional=True, min=D(0), max=D(200),
               help_en="Individual KPI result, 0-200", help_zh="个人绩效得分，0–200"),
    ), key=("employee_id",), required=True,
        mechanism_en="Raters, proposers, reviewers and the behaviour module's subjects",
        mechanism_zh="评价人、提议人、复核人，以及协同行为加减分的对象"),
    Sheet("Projects", "项目", (
        Column("project_id", "项目编号", "id", help_en="Project id, unique", help_zh="项目编号，唯一"),
        Column("name", "项目名称", "text", as_typed=True, help_en="Project name", help_zh="项目名称"),
        Column("lead_id", "项目负责人工号", "id", help_en="Project lead's employee id",
               help_zh="项目负责人工号"),
    ), key=("project_id",),
        mechanism_en="RACI ratings and behaviour proposals by project leads",
        mechanism_zh="责任矩阵评分，以及项目负责人提议的协同行为"),
    Sheet("CompanyKPIs", "公司指标", (
        Column("kpi_id", "指标编号", "id", help_en="Company KPI id, unique", help_zh="公司指标编号，唯一"),
        Column("name", "指标名称", "text", as_typed=True, help_en="KPI name", help_zh="指标名称"),
        Column("target", "目标值", "number", min=D(0), min_exclusive=True,
               help_en="Target, > 0", help_zh="目标值，> 0"),
        Column("actual", "实际值", "number", min=D(0), help_en="Actual, >= 0", help_zh="实际值，≥ 0"),
        Column("direction", "方向", "enum", enum="direction", optional=True, default="higher",
               help_en="higher / lower is better (default higher)", help_zh="越高越好/越低越好（默认越高越好）"),
    ), key=("kpi_id",),
        mechanism_en="Differentiated linkage matrix",
        mechanism_zh="差异化关联矩阵"),
    Sheet("Linkage", "关联矩阵", (
        Column("dept_id", "部门编号", "id", help_en="Department id", help_zh="部门编号"),
        Column("kpi_id", "指标编号", "id", help_en="Company KPI id", help_zh="公司指标编号"),
        Column("level", "关联度", "enum", enum="level",
               help_en="high / medium / low (强/中/弱, ★★★/★★/★, 3/2/1)",
               help_zh="强/中/弱（或 ★★★/★★/★、3/2/1）"),
    ), key=("dept_id", "kpi_id"),
        mechanism_en="Differentiated linkage matrix: share of the department's result taken from the company KPI",
        mechanism_zh="差异化关联矩阵：公司系数占部门绩效结果的比例"),
    Sheet("InternalRatings", "周边评价", (
        Column("rating_id", "评价编号", "id", help_en="Rating id, unique", help_zh="评价编号，唯一"),
        Column("rater_id", "评价人工号", "id", help_en="Rater's employee id", help_zh="评价人工号"),
        Column("ratee_dept_id", "被评部门编号", "id", help_en="Rated (support) department",
               help_zh="被评价的中后台部门"),
        Column("dimension", "评价维度", "text", as_typed=True, help_en="e.g. responsiveness", help_zh="如 响应速度"),
        _score("1–5 分", "1-5"),
        Column("comment", "评价说明", "text", as_typed=True, optional=True,
               help_en="Required in practice for low scores", help_zh="低分须说明理由"),
    ), key=("rating_id",), kind="transaction",
        mechanism_en="Peripheral (internal-customer) rating of middle/back office",
        mechanism_zh="周边绩效：内部客户给中后台打分"),
    Sheet("ServiceMetrics", "客观数据", (
        Column("dept_id", "部门编号", "id", help_en="Department id", help_zh="部门编号"),
        Column("metric", "指标", "text", help_en="e.g. ticket_sla", help_zh="如 工单及时率"),
        Column("value", "数值", "ratio", min=D(0), max=D(1),
               help_en="Ratio 0-1 ('92%' accepted)", help_zh="比率 0–1（可填 92%）"),
    ), key=("dept_id", "metric"),
        mechanism_en="Objective service data blended into the peripheral score",
        mechanism_zh="与周边评价结合的客观服务数据"),
    Sheet("RaciRatings", "责任矩阵评分", (
        Column("rating_id", "评价编号", "id", help_en="Rating id, unique", help_zh="评价编号，唯一"),
        Column("project_id", "项目编号", "id", help_en="Project id", help_zh="项目编号"),
        Column("rater_id", "评价人工号", "id", help_en="Front-office rater's employee id",
               help_zh="前台评价人工号"),
        Column("ratee_dept_id", "被评部门编号", "id", help_en="Rated middle/back department",
               help_zh="被评价的中后台部门"),
        Column("raci_role", "角色", "enum", enum="raci_role",
               help_en="R / A / C / I (informational)", help_zh="R/A/C/I（仅供参考）"),
        Column("dimension", "评价维度", "text", as_typed=True, help_en="e.g. executable solutions",
               help_zh="如 方案可执行性"),
        _score("1–5 分", "1-5"),
        Column("comment", "评价说明", "text", as_typed=True, optional=True,
               help_en="Required in practice for low scores", help_zh="低分须说明理由"),
    ), key=("rating_id",), kind="transaction",
        mechanism_en="RACI linkage: the front office rates the middle/back office on key projects",
        mechanism_zh="前中后台责任矩阵联动：前台给中后台打协同分"),
    Sheet("Interlocks", "指标互锁", (
        Column("metric_id", "互锁指标编号", "id", help_en="Interlocked metric id, unique",
               help_zh="互锁指标编号，唯一"),
        Column("name", "指标名称", "text", as_typed=True, help_en="Metric name", help_zh="指标名称"),
        Column("target", "目标值", "number", min=D(0), min_exclusive=True,
               help_en="Target, > 0", help_zh="目标值，> 0"),
        Column("actual", "实际值", "number", min=D(0), help_en="Actual, >= 0", help_zh="实际值，≥ 0"),
        Column("direction", "方向", "enum", enum="direction", optional=True, default="higher",
               help_en="higher / lower is better (default higher)", help_zh="越高越好/越低越好（默认越高越好）"),
        Column("bonus_points", "达成奖励分", "number", min=D(0), help_en="Points shared when achieved",
               help_zh="达成时按权重分享的奖励分"),
        Column("penalty_points", "未达扣减分", "number", min=D(0),
               help_en="Points shared when severely missed", help_zh="严重未达时按权重分摊的扣减分"),
        Column("severe_miss_ratio", "严重未达阈值", "ratio", optional=True, min=D(0), max=D(1),
               help_en="Achievement below this is a severe miss (policy default 0.8)",
               help_zh="达成率低于此值为严重未达（默认 0.8）"),
    ), key=("metric_id",),
        mechanism_en="Interlocked metrics: symmetric reward and penalty",
        mechanism_zh="指标互锁/业绩双算：奖惩对称"),
    Sheet("InterlockParties", "互锁部门", (
        Column("metric_id", "互锁指标编号", "id", help_en="Interlocked metric id", help_zh="互锁指标编号"),
        Column("dept_id", "部门编号", "id", help_en="Party department", help_zh="参与部门"),
        Column("weight", "权重", "ratio", min=D(0), max=D(1),
               help_en="Share, 0-1 ('50%' accepted); a metric's weights sum to 1",
               help_zh="权重 0–1（可填 50%），同一指标权重之和为 1"),
    ), key=("metric_id", "dept_id"),
        mechanism_en="Interlocked metrics: who shares the metric, by weight",
        mechanism_zh="指标互锁：各部门按权重分摊"),
    Sheet("Behaviours", "协同行为", (
        Column("event_id", "记录编号", "id", help_en="Record id, unique", help_zh="记录编号，唯一"),
        Column("date", "日期", "date", help_en="Date in the period (2026-11-03)",
               help_zh="日期，须在考核月内（2026-11-03）"),
        Column("employee_id", "工号", "id", help_en="Employee who receives the points",
               help_zh="被加减分的员工工号"),
        Column("behaviour_code", "行为代码", "text",
               help_en="Catalog code (LEAD, RESCUE, ...) or its Chinese name",
               help_zh="行为代码（LEAD、RESCUE…）或其中文名称"),
        Column("points", "分值", "number", help_en="Signed points within the code's range",
               help_zh="分值（带正负号），须在该行为的范围内"),
        Column("proposer_id", "提议人工号", "id",
               help_en="Project lead or a manager above the employee", help_zh="项目负责人或其上级"),
        Column("project_id", "项目编号", "id", optional=True, help_en="Project id (optional)",
               help_zh="项目编号（可选）"),
        Column("evidence", "事实依据", "text", as_typed=True, optional=True,
               help_en="Document number, link, minutes... (blank is rejected by the rules)",
               help_zh="事实依据：文件编号、链接、会议纪要等（为空将被驳回）"),
        Column("note", "说明", "text", as_typed=True, optional=True, help_en="Note", help_zh="说明"),
    ), key=("event_id",), kind="transaction",
        mechanism_en="Collaboration behaviour bonus/penalty",
        mechanism_zh="协同行为加减分"),
    Sheet("Reviews", "复核结论", (
        Column("review_id", "复核编号", "id", help_en="An id from an exception list",
               help_zh="异常清单中的复核编号"),
        Column("decision", "结论", "enum", enum="decision",
               help_en="confirm / overturn", help_zh="维持/撤销"),
        Column("reviewer_id", "复核人工号", "id", help_en="Employee id of the assignee, or HR",
               help_zh="复核人工号，或 HR"),
        Column("comment", "复核说明", "text", as_typed=True, optional=True, help_en="Comment", help_zh="复核说明"),
    ), key=(), kind="decision",   # not unique: SPEC §6 refuses only *different* decisions
        mechanism_en="Decisions on review items",
        mechanism_zh="异常评分复核结论"),
)

SHEET_BY_NAME: dict[str, Sheet] = {s.name: s for s in SHEETS}

# The sheets that grow with the company (a 100,000-employee month: 870,000 of its 980,000 rows):
# each row is one rating or behaviour, a fact the rules are fed one at a time. No process holds
# them: the import types them into files, the evaluation reads them back from files
# (importers.spooled.SpooledRows). None of them is a master-data reference's source or target.
TRANSACTION_SHEETS: tuple[str, ...] = ("Behaviours", "InternalRatings", "RaciRatings")

# Master-data references checked at import (SPEC §3.1): (sheet, column) -> (target sheet, column).
# Transaction sheets' references are *not* here: the rules turn those into exceptions.
REFERENCES: tuple[tuple[str, str, str, str], ...] = (
    ("Employees", "dept_id", "Departments", "dept_id"),
    ("Employees", "manager_id", "Employees", "employee_id"),
    ("Departments", "manager_id", "Employees", "employee_id"),
    ("Projects", "lead_id", "Employees", "employee_id"),
    ("Linkage", "dept_id", "Departments", "dept_id"),
    ("Linkage", "kpi_id", "CompanyKPIs", "kpi_id"),
    ("ServiceMetrics", "dept_id", "Departments", "dept_id"),
    ("InterlockParties", "metric_id", "Interlocks", "metric_id"),
    ("InterlockParties", "dept_id", "Departments", "dept_id"),
)
