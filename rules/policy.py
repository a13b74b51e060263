"""The policy: every number the rules use, read from TOML, checked, and fingerprinted (SPEC §4).

Numbers are policy, not code. The shipped default is `rules/policy.toml`; a user file
(`--policy FILE`) may set only some values, and the rest keep their defaults. Everything is read
exactly: TOML floats are parsed as `decimal.Decimal` and integers become Decimals where the value
is a quantity (counts stay `int`), so a weight of 0.15 is 0.15 and not 0.1499999….

    >>> policy = load_policy()                       # the shipped default
    >>> policy.linkage.high, policy.behaviour.cap
    (Decimal('0.25'), Decimal('10'))
    >>> policy.behaviour.catalog["LEAD"].max
    Decimal('3')
    >>> policy.behaviour.lookup("主动牵头跨部门项目并推动关键节点落地").code
    'LEAD'

Checks (`check_policy`, behind `xietong policy check [FILE] [--strict]`):

* **errors** refuse the policy (`load_policy` raises `PolicyError`): an unknown key; a value of
  the wrong type; a negative weight; `linkage.total_cap + peripheral.weight + raci.weight ≥ 1`
  (the company coefficient and the two ratings would leave the department's own result no
  share); `peripheral.objective_share` outside [0, 1]; `linkage.coefficient_floor >
  coefficient_cap`; `review.extreme_low ≥ extreme_high`; `review.outlier_min_peers < 1`; an
  unknown `interlock.symmetry`; a behaviour catalog entry that is malformed, has min > max, or has
  the wrong sign (a bonus code needs 0 < min ≤ max, a penalty code min ≤ max < 0); a `cadence`
  other than "monthly" or "quarterly", an `interlock.reward_scale` other than "linear" or "flat"
  (SPEC §11.5, §11.8). Beyond SPEC's list, a few values that would make a rule meaningless are
  errors too: a negative `behaviour.cap`, `scale.rating_to_points` or
  `review.outlier_deviation`; a `severe_miss_ratio` outside [0, 1]; an `interlock.reward_cap`
  below 1; a `linkage.revision_month` that is not a month (1–12); a count
  (`frequent_proposer`, `frequent_window_months`, `max_metrics_per_dept`) below 1; a
  `review.deadline_days` below 1 (an item would move up at every evaluation); two catalog
  codes sharing one Chinese name (a ledger row naming it would be ambiguous).
* **warnings** flag values outside the source article's bands — e.g. 原文
  「高度相关部门:公司系数占本部门绩效结果的20%–30%」 — and linkage levels out of order
  (强 ≥ 中 ≥ 弱). `strict=True` turns every warning into an error. With a period's Linkage rows
  (`effective_weight_warnings`, behind `policy check --period`), a department whose effective
  weight for a KPI after `total_cap` falls below the band of its level is warned of too
  (SPEC §11.10).

Every issue names the key, the value found and the allowed range, in English or Chinese
(`issue.message("zh")`).

The fingerprint: `policy.canonical_json()` holds every effective value (sorted keys, UTF-8, no
spaces, Decimals as plain strings in their shortest form, so `0.250` and `0.25` are the same
policy) and `policy.sha256` is its SHA-256, recorded with every run.
"""
from __future__ import annotations

import errno
import functools
import hashlib
import json
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from importers.lang import Text

DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.toml")

# ---------------------------------------------------------------------------------------------
# The policy's shape. Kinds: a quantity (Decimal), a count (int), a flag (bool), a text, the
# behaviour catalog. Defaults are *not* here: they live only in policy.toml.
NUMBER, COUNT, FLAG, TEXT, CATALOG = "number", "count", "flag", "text", "catalog"

SCHEMA: dict[str, dict[str, str]] = {
    "scale": {"rating_to_points": NUMBER},
    "linkage": {"high": NUMBER, "medium": NUMBER, "low": NUMBER, "total_cap": NUMBER,
                "coefficient_floor": NUMBER, "coefficient_cap": NUMBER, "revision_month": COUNT},
    "peripheral": {"weight": NUMBER, "objective_share": NUMBER, "cadence": TEXT},
    "raci": {"weight": NUMBER, "cadence": TEXT},
    "interlock": {"severe_miss_ratio": NUMBER, "max_metrics_per_dept": COUNT, "symmetry": TEXT,
                  "reward_scale": TEXT, "reward_cap": NUMBER},
    "behaviour": {"cap": NUMBER, "frequent_proposer": COUNT, "frequent_window_months": COUNT,
                  "catalog": CATALOG},
    "review": {"extreme_low": NUMBER, "extreme_high": NUMBER, "low_needs_comment": NUMBER,
               "outlier_deviation": NUMBER, "outlier_min_peers": COUNT, "mutual_low": NUMBER,
               "hold_pending": FLAG, "deadline_days": COUNT},
    "feedback": {"show_raters": FLAG},
}

SYMMETRIES = ("equal", "both")
CADENCES = ("monthly", "quarterly")          # how often ratings are evaluated (SPEC §11.5)
REWARD_SCALES = ("linear", "flat")           # an achieved interlock's reward (SPEC §11.8)
LEVELS = ("high", "medium", "low")
CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]*$")

# "Negative weights" (SPEC §4), plus the quantities for which a negative value has no meaning.
_NON_NEGATIVE = (
    ("linkage", "high"), ("linkage", "medium"), ("linkage", "low"), ("linkage", "total_cap"),
    ("peripheral", "weight"), ("raci", "weight"),
    ("behaviour", "cap"), ("scale", "rating_to_points"), ("review", "outlier_deviation"),
)

# The source article's bands (warnings). (section, key): (low, high, what is outside it); the
# bounds are text so that messages quote them as the article does ("0.20–0.30").
BANDS: dict[tuple[str, str], tuple[str, str, Text]] = {
    ("linkage", "high"): ("0.20", "0.30", Text(
        zh="超出原文「高度相关部门:公司系数占本部门绩效结果的20%–30%」",
        en="outside the article's band for strongly linked departments")),
    ("linkage", "medium"): ("0.10", "0.15", Text(
        zh="超出原文「中度相关部门:公司系数占10%–15%」",
        en="outside the article's band for medium linkage")),
    ("linkage", "low"): ("0", "0.05", Text(
        zh="超出原文「低度相关部门:公司系数占0%–5%」",
        en="outside the article's band for weak linkage")),
    ("linkage", "total_cap"): ("0.20", "0.30", Text(
        zh="超出原文「高度相关部门:公司系数占本部门绩效结果的20%–30%」所定的合计上限区间",
        en="outside the article's 20–30 % ceiling of the company coefficient")),
    ("peripheral", "weight"): ("0.10", "0.20", Text(
        zh="超出原文「一般建议周边绩效在中后台绩效中占比10%–20%」",
        en="outside the article's band for peripheral performance")),
    ("raci", "weight"): ("0.10", "0.20", Text(
        zh="超出原文「对中后台而言,责任矩阵协同评分可以占绩效的10%–20%」",
        en="outside the article's band for RACI ratings")),
    ("behaviour", "cap"): ("5", "10", Text(
        zh="超出原文「增设一个小权重(如5%–10%)的“协同行为加减分”模块」",
        en="outside the article's 5–10 % module weight")),
    ("interlock", "max_metrics_per_dept"): ("2", "3", Text(
        zh="超出原文「一般挑选2–3个对战略至关重要的指标即可」",
        en="outside the article's 2–3 interlocked metrics")),
}


# What a value of each kind must be, worded for a type error's "allowed".
EXPECTED: dict[str, Text] = {
    NUMBER: Text(zh="数字", en="a number"),
    COUNT: Text(zh="整数", en="a whole number"),
    FLAG: Text(zh="`true` 或 `false`", en="true or false"),
    TEXT: Text(zh="文本", en="a text"),
    "catalog": Text(zh="以行为代码为键的表", en="a table of codes"),
}
READABLE_TOML = Text(zh="可读取的 TOML 文件", en="a readable TOML file")
VALID_TOML = Text(zh="有效的 TOML 文件", en="a valid TOML file")
# Why a file cannot be read, in Chinese, for the errors a user meets (the OS words it in English).
_OS_ERRORS = {errno.ENOENT: "文件不存在", errno.EACCES: "没有读取权限", errno.EISDIR: "这是一个文件夹",
              errno.EPERM: "没有读取权限"}
_TOML_WHERE = re.compile(r"\(at line (\d+), column (\d+)\)")


def _invalid_toml(exc: Exception) -> Text:
    """What is wrong with a file that is not TOML: tomllib's own words in English; in Chinese,
    where (line and column), which is what a reader can act on."""
    where = _TOML_WHERE.search(str(exc))
    zh = (f"不是有效的 TOML：第 {where[1]} 行第 {where[2]} 列有语法错误" if where
          else "不是有效的 TOML（无法解析，或不是 UTF-8 编码）")
    return Text(zh=zh, en=f"not valid TOML ({exc})")


# ---------------------------------------------------------------------------------------------
# Issues (errors and warnings) are data: collected, never raised one by one.

@dataclass(frozen=True)
class PolicyIssue:
    """One finding of the policy check: which key, what value, what is allowed.

    `key` and `value` read the same in both languages (they are the file's own words and
    numbers); `what` says what is wrong; `allowed` is a Text where it is worded (a readable
    TOML file: 可读取的 TOML 文件), the same text in both languages where it is keys and
    numbers ("< 1", "0.20–0.30").
    """
    code: str           # unreadable | unknown_key | type | negative | weight_sum | range | order
    #                     | min_count | symmetry | choice | catalog_malformed | catalog_order
    #                     | catalog_sign | catalog_duplicate | band | band_order
    #                     | effective_band (policy check --period, SPEC §11.10)
    severity: str       # "error" | "warning"
    key: str            # dotted key, e.g. "linkage.high" or "behaviour.catalog.LEAD"
    value: str          # the value found, as written in TOML
    allowed: Text | str  # the allowed range or values
    what: Text          # what is wrong

    def message(self, lang: str = "en") -> str:
        allowed = self.allowed if isinstance(self.allowed, str) else self.allowed.pick(lang)
        if lang == "zh":
            return f"{self.key} = {self.value}：{self.what.zh}；允许：{allowed}"
        return f"{self.key} = {self.value}: {self.what.en}; allowed: {allowed}"

    def __str__(self) -> str:
        return self.message("en")


class PolicyError(Exception):
    """The policy has errors; `errors` and `warnings` are lists of PolicyIssue."""

    def __init__(self, errors: list[PolicyIssue], warnings: list[PolicyIssue] | None = None):
        self.errors = list(errors)
        self.warnings = list(warnings or [])
        super().__init__("; ".join(str(e) for e in self.errors) or "policy error")

    def messages(self, lang: str = "en") -> list[str]:
        return [e.message(lang) for e in self.errors]


# ---------------------------------------------------------------------------------------------
# The typed, frozen policy.

def decimal_text(v: Decimal) -> str:
    """A Decimal's canonical text: plain digits, never an exponent, never a negative zero
    ('1E+2' -> '100', '-0.00' -> '0.00', '2.50' stays '2.50').

    Every exact number xietong hashes is spelled by this one function: a ledger cell
    (evaluator.canonical.cell_text), an adjustment's points (evaluator.db), and here the policy,
    whose fingerprint writes each value in its shortest form, decimal_text(value.normalize()),
    so that 0.250 and 0.25 are the same policy. It lives in rules/, the lowest layer that needs
    it, below evaluator/. The spelling is also the one that survives a round trip through the
    database: PostgreSQL's NUMERIC gives 1E+2 back as 100 and -0.00 as 0.00."""
    if not isinstance(v, Decimal):
        v = Decimal(str(v))
    if v.is_zero():
        v = v.copy_abs()
    return format(v, "f")


def normalize_label(text: str) -> str:
    """How a code or name typed in a ledger is matched: NFKC, trimmed, inner spaces collapsed,
    case-folded (so 'lead', ' LEAD ' and 'ＬＥＡＤ' all name LEAD)."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


@dataclass(frozen=True)
class CatalogEntry:
    """A listed behaviour: the range its points must lie in, and its names."""
    code: str
    min: Decimal
    max: Decimal
    zh: str
    en: str

    @property
    def sign(self) -> int:
        """+1 for a bonus behaviour (加分), -1 for a penalty (减分)."""
        return 1 if self.max > 0 else -1

    def allows(self, points: Decimal) -> bool:
        return self.min <= points <= self.max

    def name(self, lang: str = "en") -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class ScalePolicy:
    rating_to_points: Decimal


@dataclass(frozen=True)
class LinkagePolicy:
    high: Decimal
    medium: Decimal
    low: Decimal
    total_cap: Decimal
    coefficient_floor: Decimal
    coefficient_cap: Decimal
    revision_month: int         # the month (1–12) the matrix is revised: no LINKAGE_CHANGED then

    def weight(self, level: str) -> Decimal:
        """The share for a Linkage row's level code ('high' | 'medium' | 'low')."""
        if level not in LEVELS:
            raise KeyError(f"unknown linkage level {level!r}")
        return getattr(self, level)


@dataclass(frozen=True)
class PeripheralPolicy:
    weight: Decimal
    objective_share: Decimal
    cadence: str                # "monthly" | "quarterly": when the ratings are evaluated

    @property
    def quarterly(self) -> bool:
        return self.cadence == "quarterly"


@dataclass(frozen=True)
class RaciPolicy:
    weight: Decimal
    cadence: str                # "monthly" | "quarterly"

    @property
    def quarterly(self) -> bool:
        return self.cadence == "quarterly"


@dataclass(frozen=True)
class InterlockPolicy:
    severe_miss_ratio: Decimal
    max_metrics_per_dept: int
    symmetry: str
    reward_scale: str           # "linear": bonus × w × min(a, reward_cap); "flat": bonus × w
    reward_cap: Decimal


@dataclass(frozen=True)
class BehaviourPolicy:
    cap: Decimal
    frequent_proposer: int
    frequent_window_months: int     # BEH_FREQUENT_PROPOSER counts this many months (SPEC §11.9)
    entries: tuple[CatalogEntry, ...]
    catalog: Mapping[str, CatalogEntry] = field(init=False, repr=False, compare=False)
    _by_label: Mapping[str, CatalogEntry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "catalog", MappingProxyType({e.code: e for e in self.entries}))
        labels: dict[str, CatalogEntry] = {}
        for e in self.entries:            # codes first: a code always wins over a name
            labels.setdefault(normalize_label(e.code), e)
        for e in self.entries:
            labels.setdefault(normalize_label(e.zh), e)
        object.__setattr__(self, "_by_label", MappingProxyType(labels))

    def lookup(self, text: str | None) -> CatalogEntry | None:
        """The entry a ledger's behaviour_code names — its code or its Chinese name, matched
        after NFKC, trimming, collapsing spaces and case-folding — or None (BEH_UNKNOWN_CODE)."""
        if text is None:
            return None
        return self._by_label.get(normalize_label(str(text)))


@dataclass(frozen=True)
class ReviewPolicy:
    extreme_low: Decimal
    extreme_high: Decimal
    low_needs_comment: Decimal
    outlier_deviation: Decimal
    outlier_min_peers: int
    mutual_low: Decimal
    hold_pending: bool
    deadline_days: int          # an item open longer moves one level up (SPEC §11.4)


@dataclass(frozen=True)
class FeedbackPolicy:
    show_raters: bool           # feedback workbooks name the rater, not only the department


@dataclass(frozen=True)
class Policy:
    """The effective policy. Attribute access is typed: `policy.linkage.high` (Decimal),
    `policy.behaviour.catalog['LEAD'].min`, `policy.review.hold_pending` (bool),
    `policy.feedback.show_raters` (bool)."""
    scale: ScalePolicy
    linkage: LinkagePolicy
    peripheral: PeripheralPolicy
    raci: RaciPolicy
    interlock: InterlockPolicy
    behaviour: BehaviourPolicy
    review: ReviewPolicy
    feedback: FeedbackPolicy
    # Not part of the policy's identity: where it came from and what the check said.
    warnings: tuple[PolicyIssue, ...] = field(default=(), compare=False)
    source: str | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Every effective value, by section, as plain Python values (Decimals kept)."""
        out: dict[str, Any] = {}
        for section, keys in SCHEMA.items():
            part = getattr(self, section)
            out[section] = {}
            for key, kind in keys.items():
                if kind == CATALOG:
                    out[section][key] = {
                        e.code: {"min": e.min, "max": e.max, "zh": e.zh, "en": e.en}
                        for e in part.entries}
                else:
                    out[section][key] = getattr(part, key)
        return out

    def canonical_json(self) -> str:
        """All effective values: sorted keys, UTF-8 (not escaped), no spaces, Decimals as text."""
        return json.dumps(_jsonable(self.to_dict()), sort_keys=True, ensure_ascii=False,
                          separators=(",", ":"))

    @functools.cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return decimal_text(value.normalize())
    return value


# ---------------------------------------------------------------------------------------------
# Loading and checking.

def load_policy(path: str | Path | None = None, *, strict: bool = False) -> Policy:
    """The default policy merged with the file at `path` (if any). Raises PolicyError when the
    check finds errors (with `strict`, warnings count as errors); the policy's remaining
    warnings are in `policy.warnings`."""
    policy, errors, warnings = _evaluate_file(path, strict)
    if errors or policy is None:
        raise PolicyError(errors, warnings)
    return policy


def check_policy(path: str | Path | None = None, strict: bool = False
                 ) -> tuple[list[PolicyIssue], list[PolicyIssue]]:
    """(errors, warnings) of the default policy merged with `path` — `xietong policy check`."""
    _, errors, warnings = _evaluate_file(path, strict)
    return errors, warnings


def policy_from_mapping(overrides: Mapping[str, Any] | None = None, *, strict: bool = False
                        ) -> Policy:
    """Like load_policy, with the overrides given as a dict shaped like the TOML file
    ({"linkage": {"high": Decimal("0.3")}}); Python floats are read through their repr."""
    policy, errors, warnings = _evaluate(dict(overrides or {}), "<mapping>", strict)
    if errors or policy is None:
        raise PolicyError(errors, warnings)
    return policy


def check_mapping(overrides: Mapping[str, Any] | None = None, strict: bool = False
                  ) -> tuple[list[PolicyIssue], list[PolicyIssue]]:
    _, errors, warnings = _evaluate(dict(overrides or {}), "<mapping>", strict)
    return errors, warnings


def _read_toml(path: Path) -> tuple[dict | None, list[PolicyIssue]]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f, parse_float=Decimal), []
    except OSError as exc:
        reason = Text(zh=_OS_ERRORS.get(exc.errno, exc.strerror or type(exc).__name__),
                      en=exc.strerror or type(exc).__name__)
        return None, [PolicyIssue("unreadable", "error", str(path), "-", READABLE_TOML,
                                  Text(zh=f"无法读取政策文件（{reason.zh}）",
                                       en=f"cannot read the policy file ({reason.en})"))]
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return None, [PolicyIssue("unreadable", "error", str(path), "-", VALID_TOML,
                                  _invalid_toml(exc))]


@functools.lru_cache(maxsize=1)
def _default_tables() -> dict:
    tables, issues = _read_toml(DEFAULT_POLICY_PATH)
    if tables is None:
        raise RuntimeError(f"the shipped policy cannot be read: {issues[0]}")   # a bug, not input
    return tables


def _evaluate_file(path: str | Path | None, strict: bool):
    if path is None:
        return _evaluate({}, str(DEFAULT_POLICY_PATH), strict)
    tables, issues = _read_toml(Path(path))
    if tables is None:
        return None, issues, []
    return _evaluate(tables, str(path), strict)


def _evaluate(user: dict, source: str, strict: bool):
    errors: list[PolicyIssue] = []
    default = _default_tables()
    merged: dict[str, dict] = {s: dict(t) for s, t in default.items()}
    merged["behaviour"]["catalog"] = dict(default["behaviour"]["catalog"])
    _merge_into(merged, user, errors)

    values: dict[str, dict[str, Any]] = {}
    for section, keys in SCHEMA.items():
        values[section] = {}
        for key, kind in keys.items():
            raw = merged.get(section, {}).get(key, _MISSING)
            values[section][key] = _convert(f"{section}.{key}", kind, raw, errors)

    default_signs = _default_catalog_signs(default)
    catalog = _check_catalog(values["behaviour"]["catalog"], default_signs, errors)
    values["behaviour"]["catalog"] = catalog
    _check_values(values, errors)
    warnings = _check_bands(values, errors)

    if strict:
        errors += [replace(w, severity="error") for w in warnings]
        warnings = []
    if errors:
        return None, errors, warnings
    return _build(values, tuple(warnings), source), errors, warnings


_MISSING = object()


def _merge_into(merged: dict, user: dict, errors: list[PolicyIssue]) -> None:
    for section, table in user.items():
        if section not in SCHEMA:
            errors.append(_unknown(section, table, ", ".join(SCHEMA)))
            continue
        if not isinstance(table, dict):
            errors.append(_type_error(section, table, Text(zh=f"表 [{section}]",
                                                           en=f"a table [{section}]")))
            continue
        for key, value in table.items():
            if key not in SCHEMA[section]:
                errors.append(_unknown(f"{section}.{key}", value, ", ".join(SCHEMA[section])))
            elif SCHEMA[section][key] == CATALOG:
                if not isinstance(value, dict):
                    errors.append(_type_error(f"{section}.{key}", value, EXPECTED["catalog"]))
                else:
                    # The catalog merges by code: a file may redefine one code or add new ones
                    # without repeating the whole list.
                    merged[section][key].update(value)
            else:
                merged[section][key] = value


def _unknown(key: str, value: Any, allowed: str) -> PolicyIssue:
    return PolicyIssue("unknown_key", "error", key, show(value), allowed,
                       Text(zh="未知的配置项", en="unknown key"))


def _type_error(key: str, value: Any, expected: Text) -> PolicyIssue:
    return PolicyIssue("type", "error", key, show(value), expected,
                       Text(zh="类型错误", en="wrong type"))


def show(value: Any) -> str:
    """A value as TOML would write it, for messages."""
    if value is _MISSING:
        return "(missing)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return decimal_text(value.normalize()) if value.is_finite() else str(value).lower()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {show(v)}" for k, v in value.items()) + "}"
    return str(value)


def _number(value: Any) -> Decimal | None:
    """A finite Decimal from a TOML number (int or Decimal; a Python float via repr), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal) and value.is_finite():
        return value
    return None


def _convert(key: str, kind: str, raw: Any, errors: list[PolicyIssue]) -> Any:
    """The typed value, or None after recording a type error."""
    if kind == CATALOG:
        if isinstance(raw, dict):
            return raw
        errors.append(_type_error(key, raw, EXPECTED["catalog"]))
        return None
    if kind == NUMBER:
        number = _number(raw)
        if number is None:
            errors.append(_type_error(key, raw, EXPECTED[NUMBER]))
        return number
    if kind == COUNT:
        number = _number(raw)
        if number is None or number != number.to_integral_value():
            errors.append(_type_error(key, raw, EXPECTED[COUNT]))
            return None
        return int(number)
    if kind == FLAG:
        if isinstance(raw, bool):
            return raw
        errors.append(_type_error(key, raw, EXPECTED[FLAG]))
        return None
    if isinstance(raw, str):      # TEXT
        return raw
    errors.append(_type_error(key, raw, EXPECTED[TEXT]))
    return None


def _default_catalog_signs(default: dict) -> dict[str, int]:
    """Bonus (+1) or penalty (-1) of each code of the shipped catalog: a user file may change a
    code's range but not turn a bonus behaviour into a penalty."""
    signs = {}
    for code, entry in default.get("behaviour", {}).get("catalog", {}).items():
        if isinstance(entry, list) and len(entry) == 4 and _number(entry[1]) is not None:
            signs[code] = 1 if _number(entry[1]) > 0 else -1
    return signs


def _check_catalog(raw: dict | None, default_signs: dict[str, int],
                   errors: list[PolicyIssue]) -> tuple[CatalogEntry, ...] | None:
    if raw is None:
        return None
    entries: list[CatalogEntry] = []
    names: dict[str, str] = {}
    ok = True
    for code, entry in raw.items():
        key = f"behaviour.catalog.{code}"
        lo = hi = None
        if isinstance(entry, list) and len(entry) == 4:
            lo, hi = _number(entry[0]), _number(entry[1])
        well_formed = (
            CODE_PATTERN.match(code) is not None
            and lo is not None and hi is not None
            and all(isinstance(t, str) and t.strip() for t in entry[2:4]))
        if not well_formed:
            errors.append(PolicyIssue(
                "catalog_malformed", "error", key, show(entry),
                Text(zh='[最低分, 最高分, "中文名称", "英文名称"]，代码为大写字母、数字或 _',
                     en='[min, max, "Chinese name", "English name"] under an upper-case code '
                        '(A–Z, 0–9, _)'),
                Text(zh="行为清单条目格式错误", en="malformed catalog entry")))
            ok = False
            continue
        if lo > hi:
            errors.append(PolicyIssue("catalog_order", "error", key, show(entry),
                                      Text(zh="最低分 ≤ 最高分", en="min ≤ max"),
                                      Text(zh="最低分大于最高分", en="min is greater than max")))
            ok = False
        expected = default_signs.get(code)
        if expected == 1 and not lo > 0:
            errors.append(PolicyIssue(
                "catalog_sign", "error", key, show(entry),
                Text(zh="0 < 最低分 ≤ 最高分", en="0 < min ≤ max"),
                Text(zh=f"{code} 是加分行为，分值区间须为正", en=f"{code} is a bonus behaviour: its range must be positive")))
            ok = False
        elif expected == -1 and not hi < 0:
            errors.append(PolicyIssue(
                "catalog_sign", "error", key, show(entry),
                Text(zh="最低分 ≤ 最高分 < 0", en="min ≤ max < 0"),
                Text(zh=f"{code} 是减分行为，分值区间须为负", en=f"{code} is a penalty behaviour: its range must be negative")))
            ok = False
        elif expected is None and not ((lo > 0 and hi > 0) or (lo < 0 and hi < 0)):
            errors.append(PolicyIssue(
                "catalog_sign", "error", key, show(entry),
                Text(zh="0 < 最低分 ≤ 最高分，或 最低分 ≤ 最高分 < 0",
                     en="0 < min ≤ max, or min ≤ max < 0"),
                Text(zh="分值区间须全为加分或全为减分", en="a range must be all bonus or all penalty")))
            ok = False
        label = normalize_label(entry[2])
        if label in names:
            errors.append(PolicyIssue(
                "catalog_duplicate", "error", key, show(entry[2]),
                Text(zh=f"{names[label]} 未使用的中文名称",
                     en=f"a Chinese name not used by {names[label]}"),
                Text(zh=f"与 {names[label]} 的中文名称重复", en=f"the same Chinese name as {names[label]}")))
            ok = False
        names.setdefault(label, code)
        entries.append(CatalogEntry(code, lo, hi, entry[2].strip(), entry[3].strip()))
    return tuple(entries) if ok else None


def _check_values(v: dict[str, dict[str, Any]], errors: list[PolicyIssue]) -> None:
    def err(code, key, value, allowed, what: Text):
        errors.append(PolicyIssue(code, "error", key, value, allowed, what))

    for section, key in _NON_NEGATIVE:
        value = v[section][key]
        if value is not None and value < 0:
            err("negative", f"{section}.{key}", show(value), "≥ 0",
                Text(zh="不能为负数", en="may not be negative"))

    cap, pw, rw = v["linkage"]["total_cap"], v["peripheral"]["weight"], v["raci"]["weight"]
    if None not in (cap, pw, rw) and cap + pw + rw >= 1:
        err("weight_sum", "linkage.total_cap + peripheral.weight + raci.weight",
            f"{show(cap)} + {show(pw)} + {show(rw)} = {show(cap + pw + rw)}", "< 1",
            Text(zh="公司系数与两项评分合计占比不得达到 100%",
                 en="the company coefficient and the ratings would leave the department's own "
                    "result no share"))

    for section, key in (("peripheral", "objective_share"), ("interlock", "severe_miss_ratio")):
        value = v[section][key]
        if value is not None and not 0 <= value <= 1:
            err("range", f"{section}.{key}", show(value), "0–1",
                Text(zh="超出 0–1 的范围", en="outside [0, 1]"))

    floor, ceiling = v["linkage"]["coefficient_floor"], v["linkage"]["coefficient_cap"]
    if floor is not None and ceiling is not None and floor > ceiling:
        err("order", "linkage.coefficient_floor", show(floor),
            f"≤ linkage.coefficient_cap ({show(ceiling)})",
            Text(zh="下限高于上限", en="the floor is above the cap"))
    low, high = v["review"]["extreme_low"], v["review"]["extreme_high"]
    if low is not None and high is not None and low >= high:
        err("order", "review.extreme_low", show(low), f"< review.extreme_high ({show(high)})",
            Text(zh="极端低分阈值不低于极端高分阈值",
                 en="the low extreme is not below the high extreme"))

    for section, key in (("review", "outlier_min_peers"), ("behaviour", "frequent_proposer"),
                         ("interlock", "max_metrics_per_dept"),
                         ("behaviour", "frequent_window_months"), ("review", "deadline_days")):
        value = v[section][key]
        if value is not None and value < 1:
            err("min_count", f"{section}.{key}", show(value), "≥ 1",
                Text(zh="至少为 1", en="must be at least 1"))

    symmetry = v["interlock"]["symmetry"]
    if symmetry is not None and symmetry not in SYMMETRIES:
        err("symmetry", "interlock.symmetry", show(symmetry), ", ".join(f'"{s}"' for s in SYMMETRIES),
            Text(zh="未知的奖惩对称规则", en="unknown symmetry rule"))

    for section in ("peripheral", "raci"):
        cadence = v[section]["cadence"]
        if cadence is not None and cadence not in CADENCES:
            err("choice", f"{section}.cadence", show(cadence),
                ", ".join(f'"{c}"' for c in CADENCES),
                Text(zh="未知的评价频次", en="unknown cadence"))
    scale = v["interlock"]["reward_scale"]
    if scale is not None and scale not in REWARD_SCALES:
        err("choice", "interlock.reward_scale", show(scale),
            ", ".join(f'"{c}"' for c in REWARD_SCALES),
            Text(zh="未知的奖励计算方式", en="unknown reward scale"))
    reward_cap = v["interlock"]["reward_cap"]
    if reward_cap is not None and reward_cap < 1:
        # below 1 an achieved metric would earn less than its bonus, and a barely achieved one
        # more than a well achieved one
        err("range", "interlock.reward_cap", show(reward_cap), "≥ 1",
            Text(zh="奖励封顶系数不得小于 1", en="the reward cap may not be below 1"))
    month = v["linkage"]["revision_month"]
    if month is not None and not 1 <= month <= 12:
        err("range", "linkage.revision_month", show(month), "1–12",
            Text(zh="应为 1 至 12 月中的一个月", en="not a month (1–12)"))


def _check_bands(v: dict[str, dict[str, Any]], errors: list[PolicyIssue]) -> list[PolicyIssue]:
    """Warnings: values outside the article's bands (skipped for keys already in error)."""
    in_error = {e.key for e in errors}
    warnings = []
    for (section, key), (lo, hi, what) in BANDS.items():
        dotted = f"{section}.{key}"
        value = v[section][key]
        if value is None or dotted in in_error:
            continue
        if not Decimal(lo) <= value <= Decimal(hi):
            warnings.append(PolicyIssue("band", "warning", dotted, show(value), f"{lo}–{hi}",
                                        what))
    high, medium, low = (v["linkage"][k] for k in LEVELS)
    if None not in (high, medium, low) and not high >= medium >= low:
        warnings.append(PolicyIssue(
            "band_order", "warning", "linkage.high/medium/low",
            f"{show(high)}/{show(medium)}/{show(low)}", "high ≥ medium ≥ low",
            Text(zh="关联度权重未按 强 ≥ 中 ≥ 弱 排列", en="linkage levels out of order")))
    return warnings


# The article's words for each linkage level's band, quoted in the effective-weight warnings.
LEVEL_BAND_QUOTES = {
    "high": "高度相关部门:公司系数占本部门绩效结果的20%–30%",
    "medium": "中度相关部门:公司系数占10%–15%",
    "low": "低度相关部门:公司系数占0%–5%",
}
_LEVEL_WORDS = {"high": Text(zh="强", en="high"), "medium": Text(zh="中", en="medium"),
                "low": Text(zh="弱", en="low")}


def effective_weight_warnings(policy: Policy, links: list[dict]) -> list[PolicyIssue]:
    """SPEC §11.10: for a period's Linkage rows (dept_id, kpi_id, level), a warning for each
    row whose effective weight — its level's weight, scaled by total_cap / W when the
    department's weights W add up to more than total_cap (SPEC §5.3) — falls below the
    article's band for its level because of that scaling. §9's department D3 (high 0.25 +
    medium 0.12 = 0.37 > 0.30) has its medium link at 0.12 × 0.30 / 0.37 = 0.0973 < 0.10:

        D3 / K2 = 0.0973: … below the article's band …; allowed: 0.10–0.15

    In the order of the rows (department by department as the ledger lists them)."""
    from fractions import Fraction
    lp = policy.linkage
    total: dict[str, Fraction] = {}
    for link in links:
        total[link["dept_id"]] = total.get(link["dept_id"], Fraction(0)) + \
            Fraction(lp.weight(link["level"]))
    cap = Fraction(lp.total_cap)
    warnings = []
    for link in links:
        w_total = total[link["dept_id"]]
        if w_total <= cap:
            continue                            # not scaled: the band warning covers the level
        level = link["level"]
        effective = Fraction(lp.weight(level)) * cap / w_total
        lo, hi, _ = BANDS[("linkage", level)]
        if effective >= Fraction(Decimal(lo)):
            continue
        shown = f"{Decimal(effective.numerator) / Decimal(effective.denominator):.4f}"
        word = _LEVEL_WORDS[level]
        formula = (f"{show(lp.weight(level))} × {show(lp.total_cap)} / "
                   f"{show(Decimal(w_total.numerator) / Decimal(w_total.denominator))}")
        warnings.append(PolicyIssue(
            "effective_band", "warning", f"{link['dept_id']} / {link['kpi_id']}", shown,
            f"{lo}–{hi}",
            Text(zh=f"按总上限 linkage.total_cap 缩放后的有效权重（{formula}）低于原文给关联度为"
                    f"“{word.zh}”的部门的区间「{LEVEL_BAND_QUOTES[level]}」",
                 en=f"the effective weight after linkage.total_cap ({formula}) is below the "
                    f"article's band for {word.en} linkage")))
    return warnings


def _build(v: dict[str, dict[str, Any]], warnings: tuple[PolicyIssue, ...], source: str) -> Policy:
    behaviour = dict(v["behaviour"])
    behaviour["entries"] = behaviour.pop("catalog")
    return Policy(
        scale=ScalePolicy(**v["scale"]),
        linkage=LinkagePolicy(**v["linkage"]),
        peripheral=PeripheralPolicy(**v["peripheral"]),
        raci=RaciPolicy(**v["raci"]),
        interlock=InterlockPolicy(**v["interlock"]),
        behaviour=BehaviourPolicy(**behaviour),
        review=ReviewPolicy(**v["review"]),
        feedback=FeedbackPolicy(**v["feedback"]),
        warnings=warnings,
        source=source,
    )
