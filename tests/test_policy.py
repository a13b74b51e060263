"""The policy (SPEC §4): the shipped defaults, partial overrides, every error and warning kind,
the bilingual messages, the fingerprint, and the behaviour catalog lookup."""
import dataclasses
import hashlib
import json
from decimal import Decimal
from fractions import Fraction

import pytest

from rules.policy import (
    DEFAULT_POLICY_PATH,
    PolicyError,
    check_mapping,
    check_policy,
    load_policy,
    policy_from_mapping,
)
from rules.outcomes import round_half_up

D = Decimal


def write(tmp_path, text: str):
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def codes(issues):
    return [(i.code, i.key) for i in issues]


# -- the shipped default ------------------------------------------------------------------------

SPEC_DEFAULTS = {
    "scale": {"rating_to_points": D(20)},
    "linkage": {"high": D("0.25"), "medium": D("0.12"), "low": D("0.03"), "total_cap": D("0.30"),
                "coefficient_floor": D("0.0"), "coefficient_cap": D("1.5"),
                "revision_month": 1},                                    # SPEC §11.7
    "peripheral": {"weight": D("0.15"), "objective_share": D("0.5"),
                   "cadence": "monthly"},                                # SPEC §11.5
    "raci": {"weight": D("0.15"), "cadence": "monthly"},
    "interlock": {"severe_miss_ratio": D("0.8"), "max_metrics_per_dept": 3, "symmetry": "equal",
                  "reward_scale": "linear", "reward_cap": D("1.2")},     # SPEC §11.8
    "behaviour": {"cap": D(10), "frequent_proposer": 3,
                  "frequent_window_months": 1, "catalog": {              # SPEC §11.9
        "LEAD": {"min": D(1), "max": D(3), "zh": "主动牵头跨部门项目并推动关键节点落地",
                 "en": "Led a cross-department project through a key milestone"},
        "RESCUE": {"min": D(1), "max": D(3), "zh": "他部门遇到紧急问题时主动投入资源支援",
                   "en": "Committed resources to another department's emergency"},
        "SHARE": {"min": D(1), "max": D(2), "zh": "跨部门分享经验、数据、工具，明显提升整体效率",
                  "en": "Shared experience, data or tools across departments"},
        "IMPROVE": {"min": D(1), "max": D(3), "zh": "发现流程漏洞并推动改进建议被采纳",
                    "en": "Found a process gap and got the improvement adopted"},
        "DELAY": {"min": D(-3), "max": D(-1), "zh": "故意拖延对他部门的必要配合",
                  "en": "Deliberately delayed support another department needed"},
        "BLAME": {"min": D(-2), "max": D(-1), "zh": "跨部门会议中反复翻旧账、推诿责任",
                  "en": "Reopened old disputes and shifted blame in meetings"},
        "WITHHOLD": {"min": D(-5), "max": D(-2), "zh": "明知信息重要却长期不共享，导致重大损失",
                     "en": "Withheld important information, causing serious loss"},
    }},
    "review": {"extreme_low": D(1), "extreme_high": D(5), "low_needs_comment": D(2),
               "outlier_deviation": D("2.0"), "outlier_min_peers": 2, "mutual_low": D(2),
               "hold_pending": True, "deadline_days": 14},
    "feedback": {"show_raters": False},
}


def test_default_is_spec_section_4_exactly():
    policy = load_policy()
    assert policy.to_dict() == SPEC_DEFAULTS
    assert policy.warnings == ()
    assert check_policy() == ([], [])


def test_types_are_exact_decimals_counts_and_flags():
    policy = load_policy()
    assert type(policy.linkage.high) is Decimal and policy.linkage.high == D("0.25")
    assert type(policy.behaviour.cap) is Decimal                # an int in TOML, a quantity here
    assert type(policy.behaviour.frequent_proposer) is int
    assert type(policy.review.outlier_min_peers) is int
    assert policy.review.hold_pending is True
    assert policy.linkage.weight("medium") == D("0.12")
    with pytest.raises(KeyError):
        policy.linkage.weight("strong")
    lead = policy.behaviour.catalog["LEAD"]
    assert (lead.min, lead.max, lead.sign) == (D(1), D(3), 1)
    assert lead.zh == "主动牵头跨部门项目并推动关键节点落地"
    assert policy.behaviour.catalog["WITHHOLD"].sign == -1
    assert list(policy.behaviour.catalog) == ["LEAD", "RESCUE", "SHARE", "IMPROVE", "DELAY",
                                              "BLAME", "WITHHOLD"]


def test_policy_is_frozen():
    policy = load_policy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.linkage.high = D("0.3")
    with pytest.raises(TypeError):
        policy.behaviour.catalog["NEW"] = policy.behaviour.catalog["LEAD"]
    hash(policy)                                                # usable as a cache key


def test_the_shipped_file_quotes_the_article():
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    for quote in ("公司系数占本部门绩效结果的20%–30%", "10%–20%", "5%–10%", "2–3个", "奖惩机制对等",
                  "异常评分复核机制"):
        assert quote in text


# -- overrides -----------------------------------------------------------------------------------

def test_partial_override_keeps_every_other_default(tmp_path):
    path = write(tmp_path, "[linkage]\nhigh = 0.28\n\n[review]\nhold_pending = false\n")
    policy = load_policy(path)
    assert policy.linkage.high == D("0.28")
    assert policy.review.hold_pending is False
    expected = json.loads(json.dumps(SPEC_DEFAULTS, default=str))
    got = json.loads(json.dumps(policy.to_dict(), default=str))
    expected["linkage"]["high"] = "0.28"
    expected["review"]["hold_pending"] = False
    assert got == expected
    assert policy.source == str(path)


def test_catalog_merges_by_code(tmp_path):
    path = write(tmp_path, '[behaviour.catalog]\nLEAD = [1, 4, "牵头", "Led"]\n'
                           'MENTOR = [0.5, 1.5, "跨部门带教", "Mentored another department"]\n')
    catalog = load_policy(path).behaviour.catalog
    assert (catalog["LEAD"].max, catalog["LEAD"].zh) == (D(4), "牵头")
    assert catalog["MENTOR"].min == D("0.5")
    assert catalog["WITHHOLD"].min == D(-5)                     # untouched codes stay
    assert len(catalog) == 8


def test_policy_from_mapping_reads_floats_exactly():
    policy = policy_from_mapping({"peripheral": {"weight": 0.1}, "raci": {"weight": D("0.2")}})
    assert policy.peripheral.weight == D("0.1")
    assert policy.raci.weight == D("0.2")


# -- the fingerprint -----------------------------------------------------------------------------

def test_canonical_json_is_sorted_compact_utf8_with_decimal_strings():
    text = load_policy().canonical_json()
    assert text.startswith('{"behaviour":{"cap":"10","catalog":{"BLAME":{"en":"Reopened old '
                           'disputes and shifted blame in meetings","max":"-1","min":"-2","zh":'
                           '"跨部门会议中反复翻旧账、推诿责任"}')
    assert text.endswith('"review":{"deadline_days":14,"extreme_high":"5","extreme_low":"1",'
                         '"hold_pending":true,'
                         '"low_needs_comment":"2","mutual_low":"2","outlier_deviation":"2",'
                         '"outlier_min_peers":2},"scale":{"rating_to_points":"20"}}')
    assert '"linkage":{"coefficient_cap":"1.5","coefficient_floor":"0","high":"0.25","low":"0.03",' \
           '"medium":"0.12","revision_month":1,"total_cap":"0.3"}' in text
    # canonical: re-serialising with sorted keys, no spaces and unescaped UTF-8 changes nothing
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False)


# The shipped default policy (rules/policy.toml = SPEC §4) as canonical JSON, written out by
# hand section by section: keys sorted, no spaces, UTF-8 unescaped, policy numbers as their
# shortest decimal text (0.30 → "0.3", 0.0 → "0", 2.0 → "2"), counts as JSON integers.
DEFAULT_CANONICAL_JSON = (
    '{"behaviour":{"cap":"10","catalog":{'
    '"BLAME":{"en":"Reopened old disputes and shifted blame in meetings",'
    '"max":"-1","min":"-2","zh":"跨部门会议中反复翻旧账、推诿责任"},'
    '"DELAY":{"en":"Deliberately delayed support another department needed",'
    '"max":"-1","min":"-3","zh":"故意拖延对他部门的必要配合"},'
    '"IMPROVE":{"en":"Found a process gap and got the improvement adopted",'
    '"max":"3","min":"1","zh":"发现流程漏洞并推动改进建议被采纳"},'
    '"LEAD":{"en":"Led a cross-department project through a key milestone",'
    '"max":"3","min":"1","zh":"主动牵头跨部门项目并推动关键节点落地"},'
    '"RESCUE":{"en":"Committed resources to another department\'s emergency",'
    '"max":"3","min":"1","zh":"他部门遇到紧急问题时主动投入资源支援"},'
    '"SHARE":{"en":"Shared experience, data or tools across departments",'
    '"max":"2","min":"1","zh":"跨部门分享经验、数据、工具，明显提升整体效率"},'
    '"WITHHOLD":{"en":"Withheld important information, causing serious loss",'
    '"max":"-2","min":"-5","zh":"明知信息重要却长期不共享，导致重大损失"}},'
    '"frequent_proposer":3,"frequent_window_months":1},'
    '"feedback":{"show_raters":false},'
    '"interlock":{"max_metrics_per_dept":3,"reward_cap":"1.2","reward_scale":"linear",'
    '"severe_miss_ratio":"0.8","symmetry":"equal"},'
    '"linkage":{"coefficient_cap":"1.5","coefficient_floor":"0","high":"0.25","low":"0.03",'
    '"medium":"0.12","revision_month":1,"total_cap":"0.3"},'
    '"peripheral":{"cadence":"monthly","objective_share":"0.5","weight":"0.15"},'
    '"raci":{"cadence":"monthly","weight":"0.15"},'
    '"review":{"deadline_days":14,"extreme_high":"5","extreme_low":"1","hold_pending":true,'
    '"low_needs_comment":"2","mutual_low":"2","outlier_deviation":"2","outlier_min_peers":2},'
    '"scale":{"rating_to_points":"20"}}'
)
# Its SHA-256. Every stored run records the effective policy's hash, and the demo prints it
# ("policy sha256 1e83e5f3f087"): if the default's canonical text ever changes, runs stored
# before can no longer be matched with a re-evaluation under the same defaults. The literal is
# the hash of the hand-written text above (checked below with hashlib alone), so neither side
# is computed by the code under test. (It changed on purpose when the default gained
# `review.deadline_days` and `[feedback] show_raters` (SPEC §11.3, §11.4) and the cadences,
# revision_month, reward_scale/reward_cap and frequent_window_months (SPEC §11.5–§11.9); before
# both: d8cb78d8c3ec….)
DEFAULT_SHA256 = "1e83e5f3f087dfb8b2f07530e7903d6f7f9621a64230dca9753d946a915f12df"


def test_default_policy_fingerprint_is_pinned():
    assert hashlib.sha256(DEFAULT_CANONICAL_JSON.encode("utf-8")).hexdigest() == DEFAULT_SHA256
    default = load_policy()
    assert default.canonical_json() == DEFAULT_CANONICAL_JSON
    assert default.sha256 == DEFAULT_SHA256


def test_sha256_is_stable_and_follows_every_value(tmp_path):
    default = load_policy()
    assert load_policy().sha256 == default.sha256 == DEFAULT_SHA256
    # the same effective value, spelled differently, is the same policy
    same = load_policy(write(tmp_path, "[linkage]\nhigh = 0.250\n[behaviour]\ncap = 10.0\n"))
    assert same.sha256 == default.sha256
    changed = load_policy(write(tmp_path, "[linkage]\nhigh = 0.26\n"))
    assert changed.sha256 != default.sha256
    renamed = load_policy(write(tmp_path, '[behaviour.catalog]\nLEAD = [1, 3, "牵头", "Led"]\n'))
    assert renamed.sha256 != default.sha256


# -- errors --------------------------------------------------------------------------------------

ERRORS = [
    ("[bogus]\nx = 1\n", [("unknown_key", "bogus")]),
    ("[linkage]\nstrong = 0.25\n", [("unknown_key", "linkage.strong")]),
    ("linkage = 3\n", [("type", "linkage")]),
    ('[linkage]\nhigh = "0.25"\n', [("type", "linkage.high")]),
    ("[linkage]\nhigh = nan\n", [("type", "linkage.high")]),
    ("[review]\nhold_pending = 1\n", [("type", "review.hold_pending")]),
    ("[behaviour]\nfrequent_proposer = 2.5\n", [("type", "behaviour.frequent_proposer")]),
    ("[behaviour]\ncap = true\n", [("type", "behaviour.cap")]),
    ("[interlock]\nsymmetry = 1\n", [("type", "interlock.symmetry")]),
    ("[behaviour]\ncatalog = 1\n", [("type", "behaviour.catalog")]),
    ("[linkage]\nlow = -0.01\n", [("negative", "linkage.low")]),
    ("[peripheral]\nweight = -0.1\n", [("negative", "peripheral.weight")]),
    ("[raci]\nweight = -0.1\n", [("negative", "raci.weight")]),
    ("[behaviour]\ncap = -5\n", [("negative", "behaviour.cap")]),
    ("[linkage]\ntotal_cap = 0.30\n[peripheral]\nweight = 0.20\n[raci]\nweight = 0.50\n",
     [("weight_sum", "linkage.total_cap + peripheral.weight + raci.weight")]),
    ("[peripheral]\nobjective_share = 1.5\n", [("range", "peripheral.objective_share")]),
    ("[peripheral]\nobjective_share = -0.1\n", [("range", "peripheral.objective_share")]),
    ("[interlock]\nsevere_miss_ratio = 1.2\n", [("range", "interlock.severe_miss_ratio")]),
    ("[linkage]\ncoefficient_floor = 2\n", [("order", "linkage.coefficient_floor")]),
    ("[review]\nextreme_low = 5\n", [("order", "review.extreme_low")]),
    ("[review]\noutlier_min_peers = 0\n", [("min_count", "review.outlier_min_peers")]),
    ("[behaviour]\nfrequent_proposer = 0\n", [("min_count", "behaviour.frequent_proposer")]),
    ('[interlock]\nsymmetry = "mirror"\n', [("symmetry", "interlock.symmetry")]),
    ('[behaviour.catalog]\nLEAD = [-3, -1, "牵头", "Led"]\n',
     [("catalog_sign", "behaviour.catalog.LEAD")]),
    ('[behaviour.catalog]\nDELAY = [1, 3, "拖延", "Delay"]\n',
     [("catalog_sign", "behaviour.catalog.DELAY")]),
    ('[behaviour.catalog]\nMIXED = [-1, 1, "混合", "Mixed"]\n',
     [("catalog_sign", "behaviour.catalog.MIXED")]),
    ('[behaviour.catalog]\nZERO = [0, 2, "零起", "From zero"]\n',
     [("catalog_sign", "behaviour.catalog.ZERO")]),
    ('[behaviour.catalog]\nLEAD = [3, 1, "牵头", "Led"]\n',
     [("catalog_order", "behaviour.catalog.LEAD")]),
    ('[behaviour.catalog]\nLEAD = [1, 3, "牵头"]\n', [("catalog_malformed", "behaviour.catalog.LEAD")]),
    ('[behaviour.catalog]\nLEAD = ["1", 3, "牵头", "Led"]\n',
     [("catalog_malformed", "behaviour.catalog.LEAD")]),
    ('[behaviour.catalog]\nLEAD = 5\n', [("catalog_malformed", "behaviour.catalog.LEAD")]),
    ('[behaviour.catalog]\nLEAD = [1, 3, " ", "Led"]\n',
     [("catalog_malformed", "behaviour.catalog.LEAD")]),
    ('[behaviour.catalog]\nmentor = [1, 2, "带教", "Mentor"]\n',
     [("catalog_malformed", "behaviour.catalog.mentor")]),
    ('[behaviour.catalog]\nMENTOR = [1, 2, "主动牵头跨部门项目并推动关键节点落地", "Mentor"]\n',
     [("catalog_duplicate", "behaviour.catalog.MENTOR")]),
    ("[linkage\nhigh = 0.25\n", [("unreadable", "<file>")]),
]


@pytest.mark.parametrize("text, expected", ERRORS, ids=[e[1][0][0] + ":" + e[1][0][1] for e in ERRORS])
def test_every_error_kind(tmp_path, text, expected):
    path = write(tmp_path, text)
    errors, _ = check_policy(path)
    got = [(c, "<file>" if k == str(path) else k) for c, k in codes(errors)]
    assert got == expected
    assert all(e.severity == "error" for e in errors)
    with pytest.raises(PolicyError) as refused:
        load_policy(path)
    assert codes(refused.value.errors) == codes(errors)


def test_several_errors_are_all_reported(tmp_path):
    path = write(tmp_path, "[linkage]\nhigh = -1\nstrong = 1\n[review]\noutlier_min_peers = 0\n"
                           "[interlock]\nsymmetry = \"none\"\n")
    errors, _ = check_policy(path)
    assert codes(errors) == [("unknown_key", "linkage.strong"), ("negative", "linkage.high"),
                             ("min_count", "review.outlier_min_peers"),
                             ("symmetry", "interlock.symmetry")]


def test_a_missing_file_is_an_error_not_a_crash(tmp_path):
    errors, warnings = check_policy(tmp_path / "nope.toml")
    assert [e.code for e in errors] == ["unreadable"] and warnings == []
    assert str(tmp_path / "nope.toml") in errors[0].message("en")


def test_error_messages_name_key_value_and_range_in_both_languages(tmp_path):
    errors, _ = check_policy(write(tmp_path, "[peripheral]\nobjective_share = 1.5\n"))
    assert errors[0].message("en") == "peripheral.objective_share = 1.5: outside [0, 1]; allowed: 0–1"
    assert errors[0].message("zh") == "peripheral.objective_share = 1.5：超出 0–1 的范围；允许：0–1"
    assert str(errors[0]) == errors[0].message("en")
    errors, _ = check_policy(write(tmp_path, "[linkage]\ntotal_cap = 0.5\n[peripheral]\n"
                                             "weight = 0.3\n[raci]\nweight = 0.2\n"))
    sum_error = [e for e in errors if e.code == "weight_sum"][0]
    assert sum_error.value == "0.5 + 0.3 + 0.2 = 1"
    assert sum_error.allowed == "< 1"
    errors, _ = check_policy(write(tmp_path, '[behaviour.catalog]\nLEAD = [-3, -1, "牵头", "Led"]\n'))
    assert errors[0].message("en") == ('behaviour.catalog.LEAD = [-3, -1, "牵头", "Led"]: LEAD is a '
                                       'bonus behaviour: its range must be positive; allowed: '
                                       '0 < min ≤ max')
    assert errors[0].message("zh").startswith('behaviour.catalog.LEAD = [-3, -1, "牵头", "Led"]：'
                                              'LEAD 是加分行为')


# -- warnings ------------------------------------------------------------------------------------

WARNINGS = [
    ("[linkage]\nhigh = 0.35\n", [("band", "linkage.high")]),
    ("[linkage]\nhigh = 0.19\n", [("band", "linkage.high")]),
    ("[linkage]\nmedium = 0.16\n", [("band", "linkage.medium")]),
    ("[linkage]\nlow = 0.06\n", [("band", "linkage.low")]),
    ("[linkage]\ntotal_cap = 0.35\n", [("band", "linkage.total_cap")]),
    ("[peripheral]\nweight = 0.25\n", [("band", "peripheral.weight")]),
    ("[raci]\nweight = 0.05\n", [("band", "raci.weight")]),
    ("[behaviour]\ncap = 12\n", [("band", "behaviour.cap")]),
    ("[behaviour]\ncap = 4\n", [("band", "behaviour.cap")]),
    ("[interlock]\nmax_metrics_per_dept = 4\n", [("band", "interlock.max_metrics_per_dept")]),
    ("[linkage]\nmedium = 0.02\nlow = 0.05\n",
     [("band", "linkage.medium"), ("band_order", "linkage.high/medium/low")]),
]


@pytest.mark.parametrize("text, expected", WARNINGS, ids=[w[0].split("\n")[1] for w in WARNINGS])
def test_every_warning_kind(tmp_path, text, expected):
    path = write(tmp_path, text)
    errors, warnings = check_policy(path)
    assert errors == []
    assert codes(warnings) == expected
    assert all(w.severity == "warning" for w in warnings)
    policy = load_policy(path)                                  # warnings do not refuse …
    assert codes(policy.warnings) == expected
    strict_errors, strict_warnings = check_policy(path, strict=True)   # … unless strict
    assert codes(strict_errors) == expected and strict_warnings == []
    assert all(e.severity == "error" for e in strict_errors)
    with pytest.raises(PolicyError):
        load_policy(path, strict=True)


def test_band_edges_are_inside(tmp_path):
    path = write(tmp_path, "[linkage]\nhigh = 0.30\nmedium = 0.10\nlow = 0\ntotal_cap = 0.20\n"
                           "[peripheral]\nweight = 0.20\n[raci]\nweight = 0.10\n"
                           "[behaviour]\ncap = 5\n[interlock]\nmax_metrics_per_dept = 2\n")
    assert check_policy(path) == ([], [])


def test_warning_messages_quote_the_article(tmp_path):
    _, warnings = check_policy(write(tmp_path, "[linkage]\nhigh = 0.35\n"))
    assert warnings[0].message("en") == ("linkage.high = 0.35: outside the article's band for "
                                         "strongly linked departments; allowed: 0.20–0.30")
    # verbatim, with the article's own ASCII colon (「高度相关部门:公司系数占本部门绩效结果的20%–30%;」)
    assert warnings[0].message("zh") == ("linkage.high = 0.35：超出原文「高度相关部门:公司系数占本部门"
                                         "绩效结果的20%–30%」；允许：0.20–0.30")


def test_a_key_in_error_gets_no_band_warning_too():
    errors, warnings = check_mapping({"peripheral": {"weight": D("-0.1")}})
    assert codes(errors) == [("negative", "peripheral.weight")]
    assert warnings == []


def test_policy_error_carries_errors_and_warnings(tmp_path):
    path = write(tmp_path, "[linkage]\nhigh = 0.35\n[review]\nextreme_low = 6\n")
    with pytest.raises(PolicyError) as refused:
        load_policy(path)
    assert codes(refused.value.errors) == [("order", "review.extreme_low")]
    assert codes(refused.value.warnings) == [("band", "linkage.high")]
    assert refused.value.messages("zh")[0].startswith("review.extreme_low = 6：")


# -- the catalog lookup and the rounding rule --------------------------------------------------------

@pytest.mark.parametrize("typed, code", [
    ("LEAD", "LEAD"), ("lead", "LEAD"), ("  Lead ", "LEAD"), ("ＬＥＡＤ", "LEAD"),
    ("主动牵头跨部门项目并推动关键节点落地", "LEAD"), (" 故意拖延对他部门的必要配合 ", "DELAY"),
    ("跨部门分享经验、数据、工具,明显提升整体效率", "SHARE"),      # NFKC: ， and , are one comma
    ("FLY", None), ("", None), (None, None), ("主动牵头", None),
])
def test_catalog_lookup_by_code_or_chinese_name(typed, code):
    entry = load_policy().behaviour.lookup(typed)
    assert (entry.code if entry else None) == code


def test_round_points_is_half_up_away_from_zero():
    """SPEC §5.7's rounding, as the rules emit points (rules.outcomes.round_half_up)."""
    def round_points(d):
        return round_half_up(Fraction(d))
    assert round_points(D("1.255")) == D("1.26")
    assert round_points(D("-1.255")) == D("-1.26")
    assert round_points(D("1.254999")) == D("1.25")
    assert str(round_points(D("2.5"))) == "2.50"
