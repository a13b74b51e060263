"""A believable Chinese sample company, as a ledger: for the demo, the tests and the benchmark.

    rows = generate_company(employees=40, period="2026-11", seed=0)     # typed rows
    write_sample_ledger("ledger.xlsx", 100_000, "2026-11", seed=1)     # and the workbook

`generate_company` returns exactly what `importers.ledger.read_ledger` produces for the written
workbook, minus the "row" keys: canonical sheet and column names, `Decimal` numbers,
`datetime.date` dates, canonical enum codes, ids as str, NFKC-normalised text, None for blank
optional cells. It is deterministic for (employees, period, seed) and fast: 100,000 employees
(≈1M ledger rows) in seconds.

The company
-----------
Departments (SPEC tiers): 销售部/市场部 front, 产品部/数据部 middle, 供应链部/IT部/人力资源部/财务部/
法务部/总裁办 back; larger companies add regional sales (华东销售部 …), city 营销中心, product lines
(… 产品线), shared-service and logistics centres, until about 0.42·√N departments (10 at 40
employees, ≈130 at 100,000). The CEO heads 总裁办; above 25 departments vice presidents (also in
总裁办) each oversee a block of department heads. Inside a department the head, team leads and
staff form a complete tree whose span keeps the whole chain 3–5 levels deep. Projects (one per 12
employees) are led by front- or middle-office leaders. Company KPIs: 营业收入, 毛利率, 客户满意度,
成本费用率 (lower is better), 新产品收入占比, 回款率; the linkage matrix links the front office
strongly, the middle office at medium, the back office weakly (财务部 and 供应链部 strongly to
成本费用率). Transactions, ≈10 rows per employee in all: 90 % of employees rate two support
departments on up to four dimensions (响应速度, 专业能力, 沟通配合, 问题解决完整性); front-office
members rate the middle/back departments of their projects (目标理解, 响应配合, 方案可执行性,
风险处理); support departments report 工单及时率 / 需求交付及时率 ratios; ≈0.5 behaviour rows per
employee proposed by a manager above the employee or by the lead of the row's project, with
evidence such as `OA-2026-11-0123` or 会议纪要.

What it exercises (SPEC §5)
---------------------------
The master data always imports cleanly. Every rule id and exception kind occurs, at a realistic
rate in a big company and at least once even at 40 employees. `planted_cases()` lists the rows
planted for each kind, with their keys. Which rows produce which kind:

| kind | planted rows (Behaviours: event_id; ratings: rating_id) |
|---|---|
| BEH_UNKNOWN_REF | a new hire's id not yet in 员工 (≈0.3 %); last year's closed project (≈0.2 %) |
| BEH_OUT_OF_PERIOD | a late entry dated in the previous month (≈0.5 %) |
| BEH_UNKNOWN_CODE | a code not in the catalog: 协助, HELP, LAED, 主动加班 (≈0.2 %) |
| BEH_POINTS_RANGE | points above the code's max, or a penalty code typed as a bonus (≈0.3 %) |
| BEH_NO_EVIDENCE | evidence left blank (≈1 %) |
| BEH_SELF_PROPOSED | a project lead proposing points for himself on his own project (≈0.1 %) |
| BEH_UNAUTHORIZED | a teammate (same manager) proposing, no project (≈0.3 %) |
| BEH_FREQUENT_PROPOSER | one manager gives one direct report `frequent_proposer` bonus rows |
| behaviour.cap (+) | one employee gets 4 bonus rows of 3 points (12 > cap) from 3 proposers |
| behaviour.cap (−) | one employee gets −5, −4, −3 (−12 < −cap) from 2 proposers |
| RATING_UNKNOWN_REF | InternalRatings by a departed employee; RaciRatings on last year's project |
| RATING_SELF | an employee of a support department rating his own department |
| RATING_NOT_SUPPORT | InternalRatings of a front-office department |
| RACI_REVERSE | a back-office rater rating a front-office department; a middle-office rater |
| RATING_EXTREME | a planted 5 and a planted 1 (plus natural 5s and 1s) |
| RATING_LOW_NO_COMMENT | a planted 2 without comment (plus natural ones) |
| RATING_OUTLIER | a 2 (or 1) where the other raters of that dept and dimension average ≥ 4 (≥ 3) |
| RATING_MUTUAL_LOW | an IT部 member rates 财务部 2 and a 财务部 member rates IT部 2 (both commented) |
| PERIPHERAL_NO_RATINGS | 总裁办 (back office): nobody rates it |
| interlock.reward | M01 新业务收入 achieved (a ≥ 1) |
| interlock.penalty, INTERLOCK_MISSED | M02 大客户满意度 severely missed (a < 0.8) |
| INTERLOCK_MISSED | M03 新品上市准时率 mildly missed (0.8 ≤ a < 1) |
| INTERLOCK_WEIGHTS | M04 回款及时率: weights sum to 0.95 |
| INTERLOCK_PARTIES | M05 库存周转天数: one party |
| INTERLOCK_ASYMMETRIC | M06 海外市场收入: bonus 8, penalty 0 |
| INTERLOCK_TOO_MANY | 销售部 is a party of M01, M03, M04 and M06 (4 > 3) |

Natural rows add more of the review kinds (extreme, low without comment, outliers, mutual lows,
the occasional frequent proposer), as a real month would. Planted mistakes are realistic typos:
they are spread through the sheets, not appended at the end.
"""
from __future__ import annotations

import calendar
import datetime as dt
import math
import random
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from importers.memory import gc_paused
from importers.schema import SHEETS
from rules.policy import CatalogEntry, load_policy

# ----------------------------------------------------------------------------- vocabulary


def _nfkc(items):
    """What the importer gives back for these texts (it NFKC-normalises every text cell)."""
    return [unicodedata.normalize("NFKC", s).strip() for s in items]


SURNAMES = _nfkc(list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
    + ["欧阳", "司马", "上官", "诸葛"])
# Common surnames are much more common: weight by rank.
_SURNAME_WEIGHTS = [1.0 / (i + 8) for i in range(len(SURNAMES) - 4)] + [0.004] * 4
GIVEN = _nfkc(list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚鹏华飞玲斌波宁凯琳悦瑶晓雪颖倩琪丹萍红建国志永春林森辉亮龙峰成"
    "东慧洁然航阳昊晗奕铭睿瑞蕾薇璐子梓浩宇轩涵欣怡佳俊思雨晨博文一诗嘉天泽可馨海婷鑫秀英兰桂芬玉梅"))

CITIES = _nfkc(["上海", "北京", "广州", "深圳", "杭州", "南京", "苏州", "成都", "重庆", "武汉", "西安",
                "天津", "长沙", "郑州", "青岛", "济南", "合肥", "福州", "厦门", "宁波", "无锡", "东莞",
                "佛山", "沈阳", "大连", "哈尔滨", "长春", "昆明", "贵阳", "南宁", "南昌", "石家庄",
                "太原", "兰州", "乌鲁木齐", "呼和浩特", "海口", "温州", "泉州", "常州"])
REGIONS = _nfkc(["华东", "华南", "华北", "华中", "西南", "西北", "东北"])
LINES = _nfkc(["智能硬件", "云服务", "企业软件", "消费电子", "物联网", "金融科技", "智慧零售", "新能源",
               "医疗健康", "智慧教育", "车联网", "工业互联网", "信息安全", "数字营销", "供应链金融"])

# (name, tier, weight): weight ∝ the department's share of the headcount.
_CORE_DEPTS = [
    ("销售部", "front", 2.0), ("市场部", "front", 1.2),
    ("产品部", "middle", 1.0), ("数据部", "middle", 0.7),
    ("供应链部", "back", 0.8), ("IT部", "back", 0.6), ("人力资源部", "back", 0.4),
    ("财务部", "back", 0.4), ("法务部", "back", 0.2), ("总裁办", "back", 0.15),
]
UNRATED_DEPT = "总裁办"          # nobody rates it: PERIPHERAL_NO_RATINGS
_FRONT_MORE = ([f"{r}销售部" for r in REGIONS]
               + ["大客户部", "渠道拓展部", "电商运营部", "海外业务部", "品牌公关部", "政企业务部"]
               + [f"{c}营销中心" for c in CITIES]
               + [f"{c}分公司" for c in CITIES] + [f"{c}大客户部" for c in CITIES])
_MIDDLE_MORE = (["研发中心", "解决方案部", "用户研究部", "质量管理部", "产品运营部", "项目管理办公室",
                 "测试中心", "架构平台部", "算法研究院", "设计中心"]
                + [f"{x}产品线" for x in LINES] + [f"{x}研发部" for x in LINES]
                + [f"{x}解决方案部" for x in LINES])
_BACK_MORE = (["行政部", "采购部", "物流部", "客服中心", "审计部", "安全合规部", "培训中心",
               "交付服务部", "品质保障部", "基建部"]
              + [f"{r}共享服务中心" for r in REGIONS] + [f"{c}仓储物流中心" for c in CITIES]
              + [f"{c}客服中心" for c in CITIES] + [f"{r}HRBP中心" for r in REGIONS])
# Support departments everybody deals with get more internal-customer ratings.
_POPULAR = {"IT部": 4.0, "人力资源部": 3.5, "财务部": 3.5, "产品部": 2.5, "数据部": 2.0,
            "供应链部": 1.5, "法务部": 1.2, "行政部": 2.0}

DIMENSIONS = _nfkc(["响应速度", "专业能力", "沟通配合", "问题解决完整性"])
RACI_DIMENSIONS = _nfkc(["目标理解", "响应配合", "方案可执行性", "风险处理"])

LOW_COMMENTS = _nfkc([
    "需求提交后三天无人响应，影响客户交付", "方案反复修改，最终仍无法落地", "审批卡在对方部门一周，错过投标节点",
    "问题只解决了一半，剩下的要我们自己跟进", "沟通态度生硬，多次推诿", "- 工单超时未处理\n- 未说明原因",
    "系统故障恢复超过8小时，期间没有主动通报进展", "报销退回三次，标准前后不一致"])
MID_COMMENTS = _nfkc(["整体还行，响应速度有待提升", "专业能力不错，但沟通不够主动", "流程偏长，希望简化",
                      "能解决问题，但需要反复催"])
HIGH_COMMENTS = _nfkc(["响应及时，专业", "+1 配合很好，方案一次通过", "@王经理 团队支持给力", "周末也能找到人，点赞",
                       "问题定位快，复盘文档清楚"])

_KPIS = [  # (name, direction, target, actual range as a share of target)
    ("营业收入(亿元)", "higher", Decimal("12.5"), (0.92, 1.08)),
    ("毛利率(%)", "higher", Decimal("35"), (0.93, 1.04)),
    ("客户满意度", "higher", Decimal("90"), (0.95, 1.05)),
    ("成本费用率(%)", "lower", Decimal("18"), (0.95, 1.08)),
    ("新产品收入占比(%)", "higher", Decimal("20"), (0.80, 1.10)),
    ("回款率(%)", "higher", Decimal("95"), (0.94, 1.02)),
]

_PROJECT_NAMES = _nfkc([
    "{line}新品上市", "{city}{client}大客户项目", "{event}运营活动", "{line}渠道拓展", "{client}集团数字化改造",
    "{city}区域旗舰店开业", "{line}交付提速专项", "{system}系统升级", "{client}续约攻坚", "{event}大促备战"])
_CLIENTS = _nfkc(["华信", "东方", "中联", "远洋", "恒通", "天合", "瑞丰", "新元", "长江", "海川", "金桥", "国泰"])
_EVENTS = _nfkc(["双十一", "618", "年货节", "开学季", "品牌周年庆", "会员日", "春季新品"])
_SYSTEMS = _nfkc(["CRM", "ERP", "OA", "数据中台", "供应链协同平台", "客服工单"])
_MEETINGS = _nfkc(["新品上市周会", "项目复盘会", "经营分析会", "跨部门协调会", "大客户交付例会"])

_NOTES = {
    "LEAD": _nfkc(["牵头推进{project}关键节点按期上线", "组织三个部门完成方案评审"]),
    "RESCUE": _nfkc(["凌晨协助处理线上故障", "抽调两人支援客户现场交付", "临时支援月底结账"]),
    "SHARE": _nfkc(["分享客户画像数据模板", "内部分享投标经验", "开放自动化报表工具给兄弟部门"]),
    "IMPROVE": _nfkc(["推动报销流程由5步简化为3步", "发现合同审批漏洞并推动修订制度"]),
    "DELAY": _nfkc(["合同审核拖延一周，影响签约", "数据需求排期一再推迟"]),
    "BLAME": _nfkc(["周会上反复推诿交付延期责任"]),
    "WITHHOLD": _nfkc(["未共享库存预警信息导致断货", "隐瞒质量问题导致客户退货"]),
}
_UNKNOWN_CODES = _nfkc(["协助", "HELP", "LAED", "主动加班"])

# Score distributions (P(1..5)) of support departments: most are fine, some are weaker.
_SCORE_PROFILES = (
    (0.002, 0.008, 0.170, 0.795, 0.025),
    (0.003, 0.017, 0.280, 0.680, 0.020),
    (0.005, 0.040, 0.430, 0.510, 0.015),
)
_SCORES = {i: Decimal(i) for i in range(1, 6)}


def _cum(weights):
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return [c / total for c in out]


_CUM_PROFILES = [_cum(p) for p in _SCORE_PROFILES]

# Planted-mistake rates, per row of the sheet they occur in (at least one each).
_RATES = {
    "BEH_UNKNOWN_REF": 0.003, "BEH_UNKNOWN_PROJECT": 0.002, "BEH_OUT_OF_PERIOD": 0.005,
    "BEH_UNKNOWN_CODE": 0.002, "BEH_POINTS_RANGE": 0.003, "BEH_NO_EVIDENCE": 0.01,
    "BEH_SELF_PROPOSED": 0.001, "BEH_UNAUTHORIZED": 0.003,
    "RATING_UNKNOWN_REF": 0.0003, "RATING_SELF": 0.0003, "RATING_NOT_SUPPORT": 0.0003,
    "RACI_UNKNOWN_REF": 0.001, "RACI_REVERSE": 0.002,
}

MIN_EMPLOYEES = 30


@dataclass(frozen=True)
class Planted:
    """One planted trigger: which kind (or rule) it is for, and where it is."""
    kind: str          # an exception kind of SPEC §5, or a rule id (behaviour.cap, …)
    sheet: str         # canonical sheet name
    key: str           # event_id, rating_id, dept_id, metric_id or employee_id
    why: str           # the realistic mistake or situation, in English


# ----------------------------------------------------------------------------- public API

def generate_company(employees: int, period: str, seed: int = 0) -> dict[str, list[dict]]:
    """Typed ledger rows of a sample company of `employees` people for `period` ("YYYY-MM")."""
    return _build(employees, period, seed).rows


def planted_cases(employees: int, period: str, seed: int = 0) -> list[Planted]:
    """The rows planted to trigger each exception kind and rule (see the module docstring)."""
    return _build(employees, period, seed).planted


def _build(employees: int, period: str, seed: int) -> "_Company":
    # A million new dicts set off the cyclic garbage collector again and again (it made 100k
    # employees 12x slower than 10k); these rows hold no cycles, so pause it while building.
    with gc_paused():
        return _Company(employees, period, seed)


def write_sample_ledger(path, employees: int, period: str, seed: int = 0,
                        lang: str = "zh") -> dict[str, list[dict]]:
    """Generate the company and write it as a ledger workbook; returns the typed rows."""
    from reports.template import write_ledger
    rows = generate_company(employees, period, seed)
    write_ledger(path, rows, lang)
    return rows


# ----------------------------------------------------------------------------- the generator

class _Company:
    """Builds the rows once; attributes are plain lists indexed by employee / department."""

    def __init__(self, employees: int, period: str, seed: int):
        if employees < MIN_EMPLOYEES:
            raise ValueError(f"a sample company needs at least {MIN_EMPLOYEES} employees")
        # The shipped policy's catalog and thresholds decide what is a mistake and what is not.
        self.policy = load_policy()
        self.n = employees
        self.year, self.month = _parse_period(period)
        self.yymm = f"{self.year % 100:02d}{self.month:02d}"
        # A str seed is hashed deterministically (not with PYTHONHASHSEED).
        self.rng = random.Random(f"xietong-sample:{seed}:{employees}:{period}")
        # (kind, sheet, row dict, key column, why): rows get their ids only once all are placed.
        self._plants: list[tuple[str, str, dict, str, str]] = []
        self._period_days()
        self._departments()
        self._employees()
        self._projects()
        kpis, linkage = self._kpis_and_linkage()
        metrics = self._service_metrics()
        internal = self._internal_ratings()
        raci = self._raci_ratings()
        interlocks, parties = self._interlocks()
        behaviours = self._behaviours()
        self.rows = {
            "Departments": self.dept_rows,
            "Employees": self.emp_rows,
            "Projects": self.project_rows,
            "CompanyKPIs": kpis,
            "Linkage": linkage,
            "InternalRatings": internal,
            "ServiceMetrics": metrics,
            "RaciRatings": raci,
            "Interlocks": interlocks,
            "InterlockParties": parties,
            "Behaviours": behaviours,
            "Reviews": [],
        }
        assert list(self.rows) == [s.name for s in SHEETS]
        self.planted = [Planted(kind, sheet, row[col], why)
                        for kind, sheet, row, col, why in self._plants]

    # -- calendar

    def _period_days(self) -> None:
        y, m = self.year, self.month
        days = calendar.monthrange(y, m)[1]
        all_days = [dt.date(y, m, d) for d in range(1, days + 1)]
        self.workdays = [d for d in all_days if d.weekday() < 5]
        prev_last = dt.date(y, m, 1) - dt.timedelta(days=1)
        self.prev_days = [prev_last - dt.timedelta(days=i) for i in range(0, 10)
                          if (prev_last - dt.timedelta(days=i)).weekday() < 5]

    # -- departments and people

    def _departments(self) -> None:
        rng = self.rng
        n_depts = max(len(_CORE_DEPTS), round(0.42 * math.sqrt(self.n)))
        depts = list(_CORE_DEPTS)
        pools = {"front": list(_FRONT_MORE), "middle": list(_MIDDLE_MORE), "back": list(_BACK_MORE)}
        weights = {"front": 1.3, "middle": 0.9, "back": 0.6}
        order = ("front", "middle", "back", "front", "back", "middle", "front", "back")
        k = 0
        while len(depts) < n_depts and any(pools.values()):
            tier = order[k % len(order)]
            k += 1
            if pools[tier]:
                depts.append((pools[tier].pop(0), tier, weights[tier] * rng.uniform(0.6, 1.4)))
        self.d_name = [d[0] for d in depts]
        self.d_tier = [d[1] for d in depts]
        self.d_id = [f"D{i + 1:03d}" for i in range(len(depts))]
        nd = len(depts)
        self.vps = 0 if nd <= 25 else math.ceil(nd / 10)
        # Headcount: everybody a head, the rest by weight (largest remainder).
        w = [d[2] for d in depts]
        ceo_dept = self.d_name.index("总裁办")
        spare = self.n - nd - self.vps - 2
        shares = [spare * x / sum(w) for x in w]
        size = [1 + int(s) for s in shares]
        size[ceo_dept] += self.vps + 2         # the CEO's office also holds the VPs and 2 aides
        rest = self.n - sum(size)
        for i in sorted(range(nd), key=lambda i: shares[i] - int(shares[i]), reverse=True)[:rest]:
            size[i] += 1
        assert sum(size) == self.n
        self.d_size = size
        self.ceo_dept = ceo_dept
        quality = [rng.choices(range(len(_CUM_PROFILES)), weights=(5, 3, 1))[0] for _ in depts]
        self.d_profile = [_CUM_PROFILES[q] for q in quality]

    def _employees(self) -> None:
        rng = self.rng
        n, nd = self.n, len(self.d_id)
        dept_of: list[int] = []
        mgr: list[int] = []
        heads = [0] * nd
        members: list[list[int]] = [[] for _ in range(nd)]
        # The CEO's office first: CEO, VPs, aides.
        ceo = 0
        for d in [self.ceo_dept] + [d for d in range(nd) if d != self.ceo_dept]:
            start = len(dept_of)
            s = self.d_size[d]
            dept_of.extend([d] * s)
            members[d] = list(range(start, start + s))
            heads[d] = start
            if d == self.ceo_dept:
                mgr.append(-1)
                mgr.extend([ceo] * (s - 1))      # VPs (and aides) report to the CEO
                continue
            # Dept head -> a VP (by block of departments) or the CEO.
            head_mgr = ceo if not self.vps else 1 + (d * self.vps) // nd
            levels = 3 if self.vps else 4        # keeps every chain at most 5 deep
            span = _span(s, levels)
            mgr.append(head_mgr)
            mgr.extend(start + (i - 1) // span for i in range(1, s))
        self.ceo = ceo
        self.dept_of, self.mgr, self.heads, self.members = dept_of, mgr, heads, members
        has_reports = [False] * n
        for m in mgr:
            if m >= 0:
                has_reports[m] = True
        self.is_leader = has_reports
        # Ids: the CEO has the first; everyone else a shuffled hire number.
        numbers = list(range(100002, 100001 + n))
        rng.shuffle(numbers)
        ids = ["XT100001"] + [f"XT{x}" for x in numbers]
        self.e_id = ids
        sur = rng.choices(SURNAMES, weights=_SURNAME_WEIGHTS, k=n)
        g = GIVEN
        ng = len(g)
        rand = rng.random
        names = [s + (g[int(rand() * ng)] if rand() < 0.35          # 1- or 2-character given name
                      else g[int(rand() * ng)] + g[int(rand() * ng)]) for s in sur]
        self.e_name = names
        scores = [None if rand() < 0.03 else _dec1(min(150.0, max(40.0, rng.gauss(88, 10))))
                  for _ in range(n)]
        self.d_head_id = [ids[h] for h in heads]
        emp_rows = [{"employee_id": ids[i], "name": names[i], "dept_id": self.d_id[dept_of[i]],
                     "manager_id": ids[mgr[i]] if mgr[i] >= 0 else None, "base_score": scores[i]}
                    for i in range(n)]
        emp_rows.sort(key=lambda r: r["employee_id"])     # HR exports are sorted by 工号
        self.emp_rows = emp_rows
        self.known_ids = set(ids)
        self.index_of = {e: i for i, e in enumerate(ids)}
        self.dept_rows = [{"dept_id": self.d_id[d], "name": self.d_name[d], "tier": self.d_tier[d],
                           "manager_id": ids[heads[d]],
                           "base_score": _dec1(rng.uniform(72, 104))} for d in range(nd)]
        self.front = [d for d in range(nd) if self.d_tier[d] == "front"]
        self.middle = [d for d in range(nd) if self.d_tier[d] == "middle"]
        self.support = [d for d in range(nd) if self.d_tier[d] != "front"]
        self.rated_support = [d for d in self.support if self.d_name[d] != UNRATED_DEPT]
        self.front_people = [i for d in self.front for i in members[d]]
        self.by_name = {name: d for d, name in enumerate(self.d_name)}

    def chain(self, i: int) -> list[int]:
        """Everyone above employee i, nearest first."""
        out = []
        m = self.mgr[i]
        while m >= 0:
            out.append(m)
            m = self.mgr[m]
        return out

    def _projects(self) -> None:
        rng = self.rng
        count = max(4, self.n // 12)
        leaders = [i for d in self.front for i in self.members[d] if self.is_leader[i]]
        mid_leaders = [i for d in self.middle for i in self.members[d] if self.is_leader[i]]
        rows, self.p_lead, self.p_ratees, self.p_id = [], [], [], []
        raci_targets = [d for d in self.rated_support]
        for k in range(count):
            lead = rng.choice(leaders if rng.random() < 0.7 or not mid_leaders else mid_leaders)
            pid = f"PJ-{self.year}-{k + 1:04d}"
            name = rng.choice(_PROJECT_NAMES).format(
                line=rng.choice(LINES), city=rng.choice(CITIES), client=rng.choice(_CLIENTS),
                event=rng.choice(_EVENTS), system=rng.choice(_SYSTEMS))
            ratees = rng.sample(raci_targets, k=min(len(raci_targets), rng.choice((1, 2, 2, 3))))
            ratees = [d for d in ratees if d != self.dept_of[lead]] or \
                [d for d in raci_targets if d != self.dept_of[lead]][:1]
            rows.append({"project_id": pid, "name": name, "lead_id": self.e_id[lead]})
            self.p_id.append(pid)
            self.p_lead.append(lead)
            self.p_ratees.append(ratees)
        self.project_rows = rows
        self.old_project = f"PJ-{self.year - 1}-{rng.randrange(1, 400):04d}"   # closed last year

    # -- master data for the department mechanisms

    def _kpis_and_linkage(self):
        rng = self.rng
        kpis = []
        for k, (name, direction, target, (lo, hi)) in enumerate(_KPIS, 1):
            ratio = Decimal(str(round(rng.uniform(lo, hi), 3)))
            actual = (target * ratio).quantize(Decimal("0.01"))
            kpis.append({"kpi_id": f"K{k:02d}", "name": _nfkc([name])[0], "target": target,
                         "actual": actual, "direction": direction})
        linkage = []
        levels = {"front": ("high", "high", "medium", "low"),
                  "middle": ("medium", "medium", "low", "high"),
                  "back": ("low", "low", "low", "medium")}
        for d, dept_id in enumerate(self.d_id):
            tier, name = self.d_tier[d], self.d_name[d]
            chosen = rng.sample(range(len(kpis)), k=rng.choice((2, 3, 3, 4)))
            for k in sorted(chosen):
                if name in ("财务部", "供应链部", "采购部") and _KPIS[k][0].startswith("成本费用率"):
                    level = "high"
                elif tier == "front" and k == 0:
                    level = "high"                # front office owns revenue
                else:
                    level = rng.choice(levels[tier])
                linkage.append({"dept_id": dept_id, "kpi_id": kpis[k]["kpi_id"], "level": level})
        return kpis, linkage

    def _service_metrics(self):
        rng, rows = self.rng, []
        for d in self.rated_support:
            metric = "需求交付及时率" if self.d_tier[d] == "middle" else "工单及时率"
            rows.append({"dept_id": self.d_id[d], "metric": metric,
                         "value": Decimal(str(round(rng.uniform(0.82, 0.99), 3)))})
            if rng.random() < 0.5:
                rows.append({"dept_id": self.d_id[d], "metric": "项目里程碑达成率",
                             "value": Decimal(str(round(rng.uniform(0.75, 0.98), 2)))})
        return rows

    # -- ratings

    def _rated(self, d: int) -> tuple[Decimal, str | None]:
        """A score from department d's profile, and the comment a rater would add to it."""
        rand = self.rng.random
        prof = self.d_profile[d]
        r = rand()
        s = (1 if r < prof[0] else 2 if r < prof[1] else 3 if r < prof[2]
             else 4 if r < prof[3] else 5)
        r = rand()
        if s <= 2:                            # most low scores are explained, not all
            comment = LOW_COMMENTS[int(rand() * len(LOW_COMMENTS))] if r < 0.88 else None
        elif s == 3:
            comment = MID_COMMENTS[int(rand() * len(MID_COMMENTS))] if r < 0.10 else None
        else:
            comment = HIGH_COMMENTS[int(rand() * len(HIGH_COMMENTS))] if r < 0.04 else None
        return _SCORES[s], comment

    def _dims(self, dims: list[str]) -> list[str] | tuple[str, ...]:
        """Usually every dimension; sometimes a rater skips one."""
        rand = self.rng.random
        if rand() < 0.85:
            return dims
        k = int(rand() * len(dims))
        return dims[:k] + dims[k + 1:]

    def _internal_ratings(self):
        rand = self.rng.random
        targets = self.rated_support
        weights = [_POPULAR.get(self.d_name[d], 1.0) * (1 + self.d_size[d] ** 0.3)
                   for d in targets]
        cum = _cum(weights)
        nt = len(targets)
        e_id, d_id, dept_of = self.e_id, self.d_id, self.dept_of
        rated, pick_dims = self._rated, self._dims
        rows = []
        append = rows.append
        for i in range(self.n):
            if rand() >= 0.9:
                continue
            own = dept_of[i]
            picked = []
            while len(picked) < 2:
                d = targets[_pick(cum, rand())]
                if d != own and d not in picked:
                    picked.append(d)
                elif nt <= 2:
                    break
            rater = e_id[i]
            for d in picked:
                dept = d_id[d]
                for dim in pick_dims(DIMENSIONS):
                    score, comment = rated(d)
                    append({"rating_id": None, "rater_id": rater, "ratee_dept_id": dept,
                            "dimension": dim, "score": score, "comment": comment})
        self._plant_internal(rows)
        for k, r in enumerate(rows, 1):
            r["rating_id"] = f"IR-{self.yymm}-{k:06d}"
        return rows

    def _member(self, d: int, exclude=()) -> int:
        ms = self.members[d]
        for _ in range(20):
            i = ms[self.rng.randrange(len(ms))]
            if i not in exclude:
                return i
        return ms[0]

    def _plant(self, rows: list, row: dict, kind: str, sheet: str, key: str, why: str) -> None:
        """Insert a planted row at a random place (a typo is not always the last row)."""
        rows.insert(self.rng.randrange(len(rows) + 1), row)
        self._plants.append((kind, sheet, row, key, why))

    def _count(self, kind: str, rows: int) -> int:
        return max(1, round(_RATES[kind] * rows))

    def _plant_internal(self, rows: list) -> None:
        rng, n = self.rng, len(rows)
        it, fin = self.by_name["IT部"], self.by_name["财务部"]
        sales = self.by_name["销售部"]
        sheet = "InternalRatings"

        def rating(rater: str, d: int, dim: str, score: int, comment=None) -> dict:
            return {"rating_id": None, "rater_id": rater, "ratee_dept_id": self.d_id[d],
                    "dimension": dim, "score": _SCORES[score], "comment": comment}

        for _ in range(self._count("RATING_UNKNOWN_REF", n)):
            gone = f"XT{rng.randrange(95000, 99999):06d}"       # left the company last month
            row = rating(gone, rng.choice(self.rated_support), rng.choice(DIMENSIONS), 4)
            self._plant(rows, row, "RATING_UNKNOWN_REF", sheet, "rating_id",
                        "rater left the company (id not in 员工)")
        for _ in range(self._count("RATING_SELF", n)):
            d = rng.choice(self.rated_support)
            self._plant(rows, rating(self.e_id[self._member(d)], d, rng.choice(DIMENSIONS), 4),
                        "RATING_SELF", sheet, "rating_id", "rater rated his own department")
        for _ in range(self._count("RATING_NOT_SUPPORT", n)):
            d = rng.choice(self.front)
            rater = self._member(rng.choice(self.rated_support))
            row = rating(self.e_id[rater], d, rng.choice(DIMENSIONS), 3, "回款资料提交不及时")
            self._plant(rows, row, "RATING_NOT_SUPPORT", sheet, "rating_id",
                        "a front-office department rated")

        # Reviews on otherwise valid ratings, by sales people (never the rated department).
        def seller() -> str:
            return self.e_id[self._member(sales)]

        self._plant(rows, rating(seller(), it, "响应速度", 5, HIGH_COMMENTS[0]),
                    "RATING_EXTREME", sheet, "rating_id", "score 5 (extreme high)")
        self._plant(rows, rating(seller(), fin, "专业能力", 1, LOW_COMMENTS[0]),
                    "RATING_EXTREME", sheet, "rating_id", "score 1 (extreme low)")
        self._plant(rows, rating(seller(), fin, "沟通配合", 2),
                    "RATING_LOW_NO_COMMENT", sheet, "rating_id", "score 2 without a comment")
        # Mutual low: IT rates 财务 low and 财务 rates IT low.
        a = self._member(it)
        b = self._member(fin)
        self._plant(rows, rating(self.e_id[a], fin, "沟通配合", 2, LOW_COMMENTS[7]),
                    "RATING_MUTUAL_LOW", sheet, "rating_id", "IT部 rates 财务部 2")
        self._plant(rows, rating(self.e_id[b], it, "响应速度", 2, LOW_COMMENTS[6]),
                    "RATING_MUTUAL_LOW", sheet, "rating_id", "财务部 rates IT部 2")
        # Outlier: on one (department, dimension), a score ≥ 2 below the other raters' mean.
        # Planted last, so every other rating of that pair is already in place.
        target, dim = self.by_name["人力资源部"], "问题解决完整性"
        tid, rater = self.d_id[target], self.e_id[self._member(self.front[-1])]
        others = [r["score"] for r in rows
                  if r["ratee_dept_id"] == tid and r["dimension"] == dim
                  and r["rater_id"] in self.known_ids and r["rater_id"] != rater
                  and self.dept_of_id(r["rater_id"]) != target]       # not rejected
        while len(others) < 3 or sum(others) / len(others) < 3:
            # A thinly rated pair: a few more colleagues rate it 4 (in a 40-person company).
            extra = rating(self.e_id[self._member(sales)], target, dim, 4)
            rows.insert(rng.randrange(len(rows) + 1), extra)
            others.append(extra["score"])
        mean = sum(others) / len(others)
        score = 2 if mean >= 4 else 1
        self._plant(rows, rating(rater, target, dim, score, LOW_COMMENTS[3]),
                    "RATING_OUTLIER", sheet, "rating_id",
                    f"score {score} where the other raters average {mean:.2f}")

    def dept_of_id(self, employee_id: str) -> int:
        return self.dept_of[self.index_of[employee_id]]

    def _raci_ratings(self):
        rng, rand = self.rng, self.rng.random
        dims, e_id, d_id = RACI_DIMENSIONS, self.e_id, self.d_id
        roles = ("C", "C", "C", "R", "R", "R", "A", "I")
        rows = []
        for p, pid in enumerate(self.p_id):
            lead = self.p_lead[p]
            lead_dept = self.dept_of[lead]
            pool_dept = lead_dept if self.d_tier[lead_dept] == "front" else rng.choice(self.front)
            raters = {lead} if self.d_tier[lead_dept] == "front" else set()
            want = rng.choice((1, 2, 2, 3))
            for _ in range(want * 2):
                if len(raters) >= want:
                    break
                raters.add(self._member(pool_dept))
            for d in self.p_ratees[p]:
                role = roles[int(rand() * len(roles))]
                for rater in sorted(raters):
                    for dim in self._dims(dims):
                        score, comment = self._rated(d)
                        rows.append({"rating_id": None, "project_id": pid, "rater_id": e_id[rater],
                                     "ratee_dept_id": d_id[d], "raci_role": role, "dimension": dim,
                                     "score": score, "comment": comment})
        n, sheet = len(rows), "RaciRatings"
        sales = self.by_name["销售部"]
        for _ in range(self._count("RACI_UNKNOWN_REF", n)):
            rater = self._member(sales)
            self._plant(rows, {"rating_id": None, "project_id": self.old_project,
                               "rater_id": e_id[rater],
                               "ratee_dept_id": d_id[rng.choice(self.rated_support)],
                               "raci_role": "C", "dimension": rng.choice(dims), "score": _SCORES[4],
                               "comment": None},
                        "RATING_UNKNOWN_REF", sheet, "rating_id", "last year's closed project id")
        for k in range(self._count("RACI_REVERSE", n)):
            p = rng.randrange(len(self.p_id))
            if k % 2 == 0:        # the back office rating the front office: the forbidden direction
                rater, ratee, why = self._member(self.by_name["供应链部"]), rng.choice(self.front), \
                    "back-office rater rates a front-office department"
            else:                 # a middle-office member rating a back-office department
                rater, ratee, why = self._member(rng.choice(self.middle)), self.by_name["IT部"], \
                    "middle-office rater (only the front office rates)"
            self._plant(rows, {"rating_id": None, "project_id": self.p_id[p],
                               "rater_id": e_id[rater],
                               "ratee_dept_id": d_id[ratee], "raci_role": "R",
                               "dimension": rng.choice(dims), "score": _SCORES[3], "comment": None},
                        "RACI_REVERSE", sheet, "rating_id", why)
        for k, r in enumerate(rows, 1):
            r["rating_id"] = f"RR-{self.yymm}-{k:06d}"
        return rows

    # -- interlocks

    def _interlocks(self):
        rng = self.rng
        dn = self.by_name
        sales, market, product, data = dn["销售部"], dn["市场部"], dn["产品部"], dn["数据部"]
        supply, it, finance = dn["供应链部"], dn["IT部"], dn["财务部"]
        D = Decimal

        def metric(mid, name, target, actual, direction, bonus, penalty, severe=None):
            return {"metric_id": mid, "name": _nfkc([name])[0], "target": D(target),
                    "actual": D(actual), "direction": direction, "bonus_points": D(bonus),
                    "penalty_points": D(penalty), "severe_miss_ratio": severe}

        achieved = D(str(round(rng.uniform(1.02, 1.12), 3))) * 5000
        metrics = [
            metric("M01", "新业务收入(万元)", "5000", str(achieved.quantize(D("1"))), "higher", 6, 6),
            metric("M02", "大客户满意度", "90", str(round(rng.uniform(60, 70), 1)), "higher", 4, 4),
            metric("M03", "新品上市准时率(%)", "95", str(round(rng.uniform(80, 90), 1)), "higher", 3, 3,
                   D("0.8")),
            metric("M04", "回款及时率(%)", "95", "96.5", "higher", 4, 4),
            metric("M05", "库存周转天数", "45", "52", "lower", 3, 3),
            metric("M06", "海外市场收入(万元)", "3000", "3150", "higher", 8, 0),
        ]
        parties = [
            ("M01", sales, "0.5"), ("M01", product, "0.3"), ("M01", supply, "0.2"),
            ("M02", market, "0.5"), ("M02", data, "0.3"), ("M02", it, "0.2"),
            ("M03", product, "0.5"), ("M03", sales, "0.3"), ("M03", supply, "0.2"),
            ("M04", sales, "0.5"), ("M04", finance, "0.3"), ("M04", market, "0.15"),  # sums to 0.95
            ("M05", supply, "1"),                                                     # one party
            ("M06", sales, "0.6"), ("M06", market, "0.4"),                            # asymmetric
        ]
        party_rows = [{"metric_id": m, "dept_id": self.d_id[d], "weight": D(x)}
                      for m, d, x in parties]
        sheet = "Interlocks"
        plan = [("interlock.reward", "M01", "achieved: every party shares the bonus by weight"),
                ("interlock.penalty", "M02", "severe miss (a < 0.8): parties share the penalty"),
                ("INTERLOCK_MISSED", "M02", "missed: a post-mortem review for each party"),
                ("INTERLOCK_MISSED", "M03", "mildly missed (0.8 ≤ a < 1): review, no penalty"),
                ("INTERLOCK_WEIGHTS", "M04", "party weights sum to 0.95"),
                ("INTERLOCK_PARTIES", "M05", "a single party"),
                ("INTERLOCK_ASYMMETRIC", "M06", "bonus 8, penalty 0")]
        by_id = {m["metric_id"]: m for m in metrics}
        for kind, mid, why in plan:
            self._plants.append((kind, sheet, by_id[mid], "metric_id", why))
        self._plants.append(("INTERLOCK_TOO_MANY", "Departments", self.dept_rows[sales], "dept_id",
                             "销售部 is a party of 4 metrics (M01, M03, M04, M06)"))
        self._plants.append(("PERIPHERAL_NO_RATINGS", "Departments",
                             self.dept_rows[dn[UNRATED_DEPT]], "dept_id",
                             "back-office department nobody rated"))
        return metrics, party_rows

    # -- behaviours

    def _entry(self, code: str) -> CatalogEntry:
        return self.policy.behaviour.catalog[code]

    def _evidence(self, day: dt.date, project: str | None) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.45:
            return f"OA-{self.year}-{self.month:02d}-{rng.randrange(1, 10000):04d}"
        if r < 0.7:
            return f"会议纪要 {day.isoformat()} {rng.choice(_MEETINGS)}"
        if r < 0.85:
            return f"https://oa.example.com/workflow/{rng.randrange(100000, 999999)}"
        if r < 0.95 and project:
            return f"项目周报 {project} 第{rng.randrange(1, 5)}周"
        return f"邮件 {day.isoformat()} 《关于{rng.choice(_MEETINGS)}的情况说明》"

    def _behaviour(self, employee: int, proposer: int, code: str, points, project: str | None,
                   day: dt.date | None = None, spell_code: bool | None = None) -> dict:
        rng = self.rng
        entry = self._entry(code)
        day = day or rng.choice(self.workdays)
        if spell_code is None:
            spell_code = rng.random() < 0.7
        note = None
        if rng.random() < 0.6:
            note = rng.choice(_NOTES[code]).format(project=project or "项目")
        return {"event_id": None, "date": day, "employee_id": self.e_id[employee],
                "behaviour_code": code if spell_code else _nfkc([entry.zh])[0],
                "points": Decimal(points), "proposer_id": self.e_id[proposer],
                "project_id": project, "evidence": self._evidence(day, project), "note": note}

    def _random_points(self, code: str):
        e = self._entry(code)
        lo, hi = int(e.min), int(e.max)
        pts = self.rng.randint(lo, hi)
        if self.rng.random() < 0.05 and pts < hi:
            return Decimal(pts) + Decimal("0.5")          # points may be fractional
        return Decimal(pts)

    def _natural(self) -> dict:
        """A valid behaviour row: proposed by a manager above, or by the lead of the project."""
        rng = self.rng
        bonus = ("LEAD", "RESCUE", "SHARE", "SHARE", "IMPROVE", "RESCUE")
        malus = ("DELAY", "DELAY", "BLAME", "WITHHOLD")
        code = rng.choice(bonus) if rng.random() < 0.82 else rng.choice(malus)
        if rng.random() < 0.3:
            p = rng.randrange(len(self.p_id))
            lead = self.p_lead[p]
            d = rng.choice(self.p_ratees[p] + [self.dept_of[lead]])
            employee = self._member(d, exclude=(lead,))
            if employee != lead:
                return self._behaviour(employee, lead, code, self._random_points(code),
                                       self.p_id[p])
        employee = rng.randrange(1, self.n)                    # anyone but the CEO
        chain = self.chain(employee)
        proposer = chain[0] if len(chain) == 1 or rng.random() < 0.8 else chain[1]
        return self._behaviour(employee, proposer, code, self._random_points(code), None)

    def _behaviours(self):
        rng = self.rng
        rows = [self._natural() for _ in range(max(20, int(self.n * 0.5)))]
        rows.sort(key=lambda r: r["date"])                     # HR keeps the ledger by date
        n, sheet = len(rows), "Behaviours"
        plant = lambda row, kind, why: self._plant(rows, row, kind, sheet, "event_id", why)  # noqa

        for k in range(self._count("BEH_UNKNOWN_REF", n)):
            row = self._natural()
            row["employee_id"] = f"XT{100002 + self.n + k}"       # joined this month, not in 员工 yet
            plant(row, "BEH_UNKNOWN_REF", "employee id of a new hire not yet in 员工")
        for _ in range(self._count("BEH_UNKNOWN_PROJECT", n)):
            row = self._natural()
            row["project_id"] = self.old_project
            employee = self.index_of[row["employee_id"]]
            row["proposer_id"] = self.e_id[self.chain(employee)[0]]   # authorised by the chain
            plant(row, "BEH_UNKNOWN_REF", "last year's closed project id")
        for _ in range(self._count("BEH_OUT_OF_PERIOD", n)):
            row = self._natural()
            row["date"] = rng.choice(self.prev_days)
            row["note"] = "上月事项补录"
            plant(row, "BEH_OUT_OF_PERIOD", "late entry dated in the previous month")
        for _ in range(self._count("BEH_UNKNOWN_CODE", n)):
            row = self._natural()
            row["behaviour_code"] = rng.choice(_UNKNOWN_CODES)
            plant(row, "BEH_UNKNOWN_CODE", f"code {row['behaviour_code']!r} is not in the catalog")
        for k in range(self._count("BEH_POINTS_RANGE", n)):
            row = self._natural()
            entry = self.policy.behaviour.lookup(row["behaviour_code"])
            if k % 2:                                   # a sign typo: DELAY typed as +2
                row["points"] = -row["points"]
            else:                                       # more than the code allows
                row["points"] = entry.max + 2 if entry.sign > 0 else entry.min - 2
            plant(row, "BEH_POINTS_RANGE", f"{entry.code} with {row['points']} points")
        for _ in range(self._count("BEH_NO_EVIDENCE", n)):
            row = self._natural()
            row["evidence"] = None
            plant(row, "BEH_NO_EVIDENCE", "evidence left blank")
        for _ in range(self._count("BEH_SELF_PROPOSED", n)):
            p = rng.randrange(len(self.p_id))
            lead = self.p_lead[p]
            plant(self._behaviour(lead, lead, "LEAD", 2, self.p_id[p]),
                  "BEH_SELF_PROPOSED", "project lead proposed points for himself")
        for _ in range(self._count("BEH_UNAUTHORIZED", n)):
            employee, peer = self._teammates()
            plant(self._behaviour(employee, peer, "SHARE", 1, None),
                  "BEH_UNAUTHORIZED", "a teammate (not above, not a project lead) proposed")
        self._plant_frequent_and_caps(rows)
        for k, r in enumerate(rows, 1):
            r["event_id"] = f"XW-{self.yymm}-{k:05d}"
        return rows

    def _teammates(self) -> tuple[int, int]:
        """Two employees with the same manager (neither above the other)."""
        rng = self.rng
        while True:
            a = rng.randrange(1, self.n)
            m = self.mgr[a]
            d = self.dept_of[a]
            siblings = [i for i in self.members[d] if self.mgr[i] == m and i != a] if m >= 0 else []
            if siblings:
                return a, rng.choice(siblings)

    def _plant_frequent_and_caps(self, rows: list) -> None:
        rng, sheet = self.rng, "Behaviours"
        sales = self.by_name["销售部"]
        cap = int(self.policy.behaviour.cap)
        # People with no other row this month, so nothing else moves their totals.
        used = {self.index_of.get(r["employee_id"], -1) for r in rows}
        # Frequent proposer: a manager gives one direct report `frequent_proposer` bonus rows.
        staff = [i for i in self.members[sales]
                 if self.mgr[i] >= 0 and not self.is_leader[i] and i not in used] \
            or [i for i in range(1, self.n) if not self.is_leader[i] and i not in used]
        fav = rng.choice(staff)
        used.add(fav)
        boss = self.mgr[fav]
        codes = ["SHARE", "IMPROVE", "SHARE", "RESCUE", "SHARE"]
        for k in range(self.policy.behaviour.frequent_proposer):
            self._plant(rows, self._behaviour(fav, boss, codes[k % 5], 1, None),
                        "BEH_FREQUENT_PROPOSER", sheet, "event_id",
                        "the same manager proposed another bonus for the same report")
        # Above the cap: 4 × 3 points (12 > cap 10) from three proposers, none more than twice.
        who = self._with_two_managers(exclude=used)
        used.add(who)
        m1, m2 = self.chain(who)[:2]
        p = next((k for k in range(len(self.p_id)) if self.p_lead[k] not in (who, m1, m2)), None)
        last = (m2, None) if p is None else (self.p_lead[p], self.p_id[p])
        top = []
        for code, prop, proj in (("LEAD", m1, None), ("IMPROVE", m1, None), ("RESCUE", m2, None),
                                 ("LEAD", *last)):
            top.append(self._behaviour(who, prop, code, int(self._entry(code).max), proj))
        assert sum(r["points"] for r in top) > cap
        for row in top:
            self._plant(rows, row, "behaviour.cap", sheet, "event_id",
                        f"{self.e_id[who]} collects {sum(r['points'] for r in top)} (> {cap})")
        # Below −cap: −5, −4, −3 from two proposers.
        bad = self._with_two_managers(exclude=used)
        b1, b2 = self.chain(bad)[:2]
        low = [self._behaviour(bad, b1, "WITHHOLD", -5, None),
               self._behaviour(bad, b2, "WITHHOLD", -4, None),
               self._behaviour(bad, b1, "DELAY", -3, None)]
        assert sum(r["points"] for r in low) < -cap
        for row in low:
            self._plant(rows, row, "behaviour.cap", sheet, "event_id",
                        f"{self.e_id[bad]} collects {sum(r['points'] for r in low)} (< -{cap})")

    def _with_two_managers(self, exclude) -> int:
        """A random employee with a manager and a skip-level manager (every dept head has)."""
        while True:
            i = self.rng.randrange(1, self.n)
            if i not in exclude and len(self.chain(i)) >= 2:
                return i


# ----------------------------------------------------------------------------- helpers

def _parse_period(period: str) -> tuple[int, int]:
    try:
        y, m = period.split("-")
        year, month = int(y), int(m)
        if len(y) != 4 or len(m) != 2 or not 1 <= month <= 12:
            raise ValueError
    except ValueError:
        raise ValueError(f"period must be YYYY-MM, got {period!r}") from None
    return year, month


def _span(size: int, levels: int) -> int:
    """The smallest span (≥ 3) whose complete tree of `levels` levels holds `size` people."""
    s = 3
    while sum(s ** k for k in range(levels)) < size:
        s += 1
    return s


def _pick(cum: list[float], r: float) -> int:
    lo, hi = 0, len(cum) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if r < cum[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


_DEC1: dict[int, Decimal] = {}


def _dec1(x: float) -> Decimal:
    """x rounded to one decimal, as a Decimal (cached: there are only a few thousand)."""
    k = round(x * 10)
    d = _DEC1.get(k)
    if d is None:
        d = _DEC1[k] = Decimal(k) / 10
    return d
