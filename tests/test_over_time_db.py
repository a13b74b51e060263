"""Policy over time through the database and the faces (SPEC §11.5–§11.10): a run reads the
other months' active imports and records which; a quarter's months are evaluated under one
cadence or refused; reports cite another month's rows; what-if stores nothing and its figures
are what `evaluate --policy` stores; `policy check --period` warns of effective weights below
the article's band. The rules themselves are pinned in tests/test_over_time.py."""
from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal

import pytest
from sqlmodel import Session

import xietong
from evaluator.chain import verify
from evaluator.db import make_engine
from evaluator.runs import latest_run, load_run
from evaluator.store import store_import
from rules.policy import load_policy, policy_from_mapping
from tests.dbs import clone_database, db_state
from tests.ledgers import random_ledger, worked_example
from tests.test_over_time import QUARTERLY, quarter

D = Decimal


def _store(url, months: dict):
    engine = make_engine(url)
    for period, builder in sorted(months.items()):
        store_import(engine, builder.build(), period)
    engine.dispose()


def _quarter_db(url):
    december, months = quarter()
    _store(url, dict(months, **{"2026-12": december}))


def _policy_file(tmp_path, text, name="alt.toml"):
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


QUARTERLY_TOML = '[peripheral]\ncadence = "quarterly"\n[raci]\ncadence = "quarterly"\n'


# -- §11.5 through the database ---------------------------------------------------------------------

def test_a_quarter_end_run_reads_and_records_the_other_months_imports(db_url, tmp_path):
    _quarter_db(db_url)
    policy = _policy_file(tmp_path, QUARTERLY_TOML)
    with xietong.open_database(db_url) as db:
        for period in ("2026-10", "2026-11", "2026-12"):
            xietong.evaluate(db, period, policy=policy)
        engine = db.engine
        with Session(engine) as s:
            run = latest_run(s, "2026-12")
            imports = {i.period: (i.id, i.sha256) for i in
                       s.exec(__import__("sqlmodel").select(
                           __import__("evaluator.db", fromlist=["LedgerImport"]).LedgerImport))}
            assert json.loads(run.other_imports) == {
                m: {"import_id": imports[m][0], "file_sha256": imports[m][1]}
                for m in ("2026-10", "2026-11")}
            november = latest_run(s, "2026-11")
            # November reads October's Linkage only (LINKAGE_CHANGED): recorded too
            assert list(json.loads(november.other_imports)) == ["2026-10"]
            assert verify(s).ok
        # the report cites the other months' rows, and the JSON names their month
        out = tmp_path / "out"
        written = xietong.report(db, "2026-12", out, lang="en")
        assert not written.stale
    adjustments = json.loads((out / "adjustments.json").read_text("utf-8"))
    blend = next(a for a in adjustments if a["rule"] == "peripheral.blend")
    assert blend["points"] == 2.25
    assert blend["sources"] == [
        {"sheet": "Departments", "row": 4},
        {"sheet": "InternalRatings", "row": 2, "period": "2026-10"},
        {"sheet": "InternalRatings", "row": 2, "period": "2026-11"},
        {"sheet": "InternalRatings", "row": 2}, {"sheet": "ServiceMetrics", "row": 2}]
    trace = json.loads((out / "trace.json").read_text("utf-8"))
    assert {"sheet": "InternalRatings", "row": 3, "period": "2026-10"} in \
        [s for f in trace for s in f["sources"]]
    html = (out / "trace.html").read_text("utf-8")
    assert "InternalRatings@2026-11" in html
    # the review workbook of F1 cites November's R2 with its values
    from openpyxl import load_workbook
    wb = load_workbook(out / "reviews" / "F1.xlsx", read_only=True)
    cells = [str(c) for row in wb.worksheets[0].iter_rows(values_only=True) for c in row if c]
    assert any("InternalRatings@2026-11!3" in c and "R2" in c for c in cells)


def test_the_statement_says_why_a_month_has_no_ratings_and_counts_the_quarters_held(db_url,
                                                                                     tmp_path):
    """reports/why_not.py under the quarterly cadence: October's and November's middle and back
    offices carry their ratings (no blend, no notice, and not "no rule fired"); December's
    held ratings include the earlier months'."""
    from reports.why_not import department_reasons, join
    from evaluator.store import load_rows
    _quarter_db(db_url)
    policy = _policy_file(tmp_path, QUARTERLY_TOML)
    said = {}
    with xietong.open_database(db_url) as db:
        for period in ("2026-10", "2026-11", "2026-12"):
            xietong.evaluate(db, period, policy=policy)
        with Session(db.engine) as s:
            for period in ("2026-10", "2026-12"):
                run = latest_run(s, period)
                reasons = department_reasons(load_rows(s, run.import_id), load_run(s, run))
                said[period] = {d: join("en", [x for x in r if x.mechanism in ("peripheral",
                                                                                "raci")])
                                for d, r in reasons.items()}
    carried = ("{m} not computed this month: rated quarterly, this month's ratings are carried "
               "to the quarter's last month")
    both = "; ".join(carried.format(m=m) for m in ("Peripheral", "RACI"))
    assert said["2026-10"]["B"] == said["2026-10"]["M"] == both
    # December (tests/test_over_time.quarter): B's counted ratings are October's R1, November's
    # R1 and December's R1; November's R2 (a 5: extreme) is held for review, October's R2 (F9
    # left) rejected — an applied blend names only the held one. RACI: October's Q1 counted,
    # December's Q1 (a 5) held.
    assert said["2026-12"]["B"] == ("Peripheral applied, leaving out 1 rating held for review; "
                                    "RACI applied, leaving out 1 rating held for review")


def test_feedback_at_the_quarters_end_is_the_quarters_ratings(db_url, tmp_path):
    """SPEC §11.3 under §11.5: December's feedback to B lists the quarter's ratings the blend
    was computed from (the report's rows include the earlier months' under Sheet@YYYY-MM);
    October's says its ratings count in December."""
    from evaluator.history import read_feedback
    from importers.spooled import close_spooled
    from reports import feedback
    _quarter_db(db_url)
    policy = _policy_file(tmp_path, QUARTERLY_TOML)
    got = {}
    with xietong.open_database(db_url) as db:
        for period in ("2026-10", "2026-11", "2026-12"):
            xietong.evaluate(db, period, policy=policy)
        with Session(db.engine) as s:
            for period in ("2026-10", "2026-11", "2026-12"):
                run = latest_run(s, period)
                stored = load_run(s, run)
                rows, _ = xietong.api._run_rows(s, run)
                b = feedback.build(rows, stored)["B"]
                close_spooled(rows)               # its rating sheets' files
                got[period] = (b, dict(feedback.overview(b, period, stored, "en", False)))
                # the desk reads one department's feedback by itself: the same
                desk_rows, desk_stored = read_feedback(s, run, "B")
                desk = feedback.build(desk_rows, desk_stored)["B"]
                assert (desk.received, desk.statuses, desk.ratings) == \
                    (b.received, b.statuses, b.ratings)
    december, lines = got["2026-12"]
    # tests/test_over_time.quarter: internal ratings of B — October R1 (4), November R1 (3)
    # and R2 (5, extreme: held), December R1 (2); October's R2 (F9 left) is rejected, so not
    # received. RACI: October's Q1 (3) counted, December's Q1 (5, extreme) held.
    assert december.received == {"InternalRatings": 4, "RaciRatings": 2}
    assert [(r["sheet"], r["rating_id"], r["score"], r["status"]) for r in december.ratings] == [
        ("InternalRatings", "R1", D(4), feedback.COUNTED),
        ("InternalRatings", "R1", D(3), feedback.COUNTED),
        ("InternalRatings", "R2", D(5), feedback.HELD),
        ("InternalRatings", "R1", D(2), feedback.COUNTED),
        ("RaciRatings", "Q1", D(3), feedback.COUNTED),
        ("RaciRatings", "Q1", D(5), feedback.HELD)]
    # mean of the counted internal ratings (4 + 3 + 2) / 3 = 3
    internal = next(d for d in december.dimensions if d.sheet == "InternalRatings")
    assert (internal.count, internal.total, internal.low, internal.high, internal.held) == \
        (3, D(9), D(2), D(4), 1)
    assert lines["peripheral points"] == "+2.25"
    october, lines = got["2026-10"]
    assert lines["peripheral points"] == lines["RACI points"] == (
        "rated quarterly: this month's ratings count in 2026-12, no points this month")
    assert october.received == {"InternalRatings": 2, "RaciRatings": 1}
    # November's report also holds October's rows (read for LINKAGE_CHANGED): not its ratings
    november, _ = got["2026-11"]
    assert november.received == {"InternalRatings": 2, "RaciRatings": 0}


def test_a_reimported_earlier_month_makes_the_quarter_end_report_stale(db_url, tmp_path):
    _quarter_db(db_url)
    policy = _policy_file(tmp_path, QUARTERLY_TOML)
    with xietong.open_database(db_url) as db:
        for period in ("2026-10", "2026-11", "2026-12"):
            xietong.evaluate(db, period, policy=policy)
        engine = db.engine
        october = quarter()[1]["2026-10"]
        october.rating("R3", "F3", "B", 5)
        store_import(engine, october.build(), "2026-10")
        assert xietong.report(db, "2026-12", tmp_path / "out", formats={"json"}).stale


def test_a_month_is_refused_under_another_cadence_than_its_quarters_earlier_months(db_url,
                                                                                     tmp_path):
    _quarter_db(db_url)
    policy = _policy_file(tmp_path, '[peripheral]\ncadence = "quarterly"\n')
    with xietong.open_database(db_url) as db:
        xietong.evaluate(db, "2026-10")                   # monthly
        before = db_state(db_url)
        with pytest.raises(xietong.Refused) as refused:
            xietong.evaluate(db, "2026-11", policy=policy)
        assert refused.value.lines == [
            '2026-11 is not evaluated with peripheral.cadence = "quarterly": 2026-10 of the same '
            'quarter were last evaluated with "monthly", and a quarter\'s ratings are evaluated '
            'under one cadence (monthly ratings counted in their month, quarterly ones at the '
            'quarter\'s end). Evaluate 2026-10 again under this policy first, or keep "monthly"']
        with pytest.raises(xietong.Refused) as refused:
            xietong.evaluate(db, "2026-11", policy=policy, lang="zh")
        assert refused.value.lines[0].startswith(
            '2026-11 拒绝按 peripheral.cadence = "quarterly" 评估：同一季度的 2026-10 最近一次评估用的是 '
            '"monthly"')
        assert db_state(db_url) == before                 # nothing stored
        # October again under the quarterly policy: then November and December follow it
        xietong.evaluate(db, "2026-10", policy=policy)
        xietong.evaluate(db, "2026-11", policy=policy)
        result = xietong.evaluate(db, "2026-12", policy=policy)
        assert result.run_id
        # December monthly after two quarterly months: refused, naming both
        with pytest.raises(xietong.Refused) as refused:
            xietong.evaluate(db, "2026-12")
        assert "2026-10, 2026-11 of the same quarter" in refused.value.lines[0]


def test_a_decision_on_an_earlier_months_rating_counts_at_the_quarters_end(db_url, tmp_path):
    _quarter_db(db_url)
    policy = load_policy(_policy_file(tmp_path, QUARTERLY_TOML))
    with xietong.open_database(db_url) as db:
        for period in ("2026-10", "2026-11", "2026-12"):
            xietong.evaluate(db, period, policy=policy)
        extreme = next(it for it in xietong.api.reviews(db, "2026-12", kind="RATING_EXTREME",
                                                        context=True).items
                       if it["sources"][0].get("period") == "2026-11")
        # the desk's item cites November's row, with its values
        assert extreme["sources"][0]["ref"] == "InternalRatings@2026-11!3"
        assert "R2" in extreme["sources"][0]["cited"]
        xietong.api.decide(db, "2026-12", extreme["review_id"], "confirm", "ok", reviewer_id="F1",
                           account=None)
        xietong.evaluate(db, "2026-12", policy=policy)
        scores = xietong.api.scores(db, "2026-12")
    b = next(d for d in scores["departments"] if d["dept_id"] == "B")
    # tests/test_over_time.py: with November's 5 counted, peripheral 3.00 and B = 63.00
    assert (b["by_mechanism"]["peripheral"], b["final"]) == (3.0, 63.0)


# -- §11.6 what-if ------------------------------------------------------------------------------------

ALT_TOML = (QUARTERLY_TOML + '[interlock]\nreward_scale = "flat"\n'
            '[behaviour]\nfrequent_window_months = 3\ncap = 8\n'
            '[linkage]\nhigh = 0.3\n')


def _year_db(url):
    """Three months of random ledgers (Q4) and a month without one (September), evaluated under
    the default policy, with decisions on some review items."""
    months = {m: random_ledger(seed, 3, period=m)
              for seed, m in ((11, "2026-10"), (12, "2026-11"), (13, "2026-12"))}
    _store(url, months)
    with xietong.open_database(url) as db:
        for period in sorted(months):
            xietong.evaluate(db, period)
            items = xietong.api.reviews(db, period, type="review").items
            for i, it in enumerate(items[:6]):
                xietong.api.decide(db, period, it["review_id"], ("confirm", "overturn")[i % 2],
                                   None, reviewer_id="HR", account=None)
            xietong.evaluate(db, period)


def _figures(db, period) -> dict:
    """What a stored run holds, summed by the test itself: per (subject type, id) the final and
    the points per rule."""
    scores = xietong.api.scores(db, period)
    finals = {("department", d["dept_id"]): d["final"] for d in scores["departments"]}
    finals.update({("employee", e["employee_id"]): e["final"] for e in scores["employees"]})
    with Session(db.engine) as s:
        stored = load_run(s, latest_run(s, period))
    rules: dict = defaultdict(lambda: defaultdict(Decimal))
    for a in stored["adjustments"]:
        rules[(a["subject_type"], a["subject_id"])][a["rule"]] += a["points"]
    return {"finals": finals, "rules": {k: dict(v) for k, v in rules.items()}}


def test_whatif_stores_nothing_and_equals_what_evaluate_would_store(new_db, tmp_path):
    url = new_db("a")
    _year_db(url)
    alt = _policy_file(tmp_path, ALT_TOML)
    with xietong.open_database(url) as db:
        current = {p: _figures(db, p) for p in ("2026-10", "2026-11", "2026-12")}
    before = db_state(url)
    with xietong.open_database(url) as db:
        name, months = xietong.api.whatif_months(quarter="2026-Q4")
        done = xietong.api.whatif(db, alt, ["2026-09"] + months, tmp_path / "w", range_name=name)
    assert db_state(url) == before                         # nothing stored, the chain unchanged
    assert done.months == ["2026-10", "2026-11", "2026-12"]
    assert [(s["period"], s["reason"]) for s in done.skipped] == [("2026-09", "no_import")]

    # the same months evaluated under ALT on a copy, in order (one cadence per quarter)
    copy = clone_database(url, tmp_path / "copy.db")
    with xietong.open_database(copy) as db:
        for period in months:
            xietong.evaluate(db, period, policy=alt)
        stored = {p: _figures(db, p) for p in months}
    data = done.data
    compared = 0
    for kind, key, subject_type in (("departments", "dept_id", "department"),
                                    ("employees", "employee_id", "employee")):
        for s in data[kind]:
            for period, m in s["months"].items():
                k = (subject_type, s[key])
                alt_final = stored[period]["finals"][k]
                cur_final = current[period]["finals"][k]
                assert (None if m["alternative"] is None else float(m["alternative"])) == alt_final
                assert (None if m["current"] is None else float(m["current"])) == cur_final
                assert m["difference"] == (None if m["current"] is None
                                           else m["alternative"] - m["current"])
                alt_rules = stored[period]["rules"].get(k, {})
                cur_rules = current[period]["rules"].get(k, {})
                differing = {r for r in set(alt_rules) | set(cur_rules)
                             if alt_rules.get(r, 0) != cur_rules.get(r, 0)}
                assert [r["rule"] for r in m["rules"]] == sorted(differing)
                for r in m["rules"]:
                    assert r["alternative"] == alt_rules.get(r["rule"], D("0.00"))
                    assert r["current"] == cur_rules.get(r["rule"], D("0.00"))
                compared += 1
    assert compared == sum(len(stored[p]["finals"]) for p in months)
    assert any(m["rules"] for s in data["departments"] for m in s["months"].values())
    # the files: every number of whatif.json is the data's, rounded to the cent
    written = json.loads((tmp_path / "w" / "whatif.json").read_text("utf-8"))
    assert written["range"] == "2026-Q4" and written["months"] == months
    assert written["skipped"] == [{"period": "2026-09", "reason": "no_import", "lines": []}]
    first = written["departments"][0]
    dept = data["departments"][0]
    assert first["dept_id"] == dept["dept_id"]
    for period, m in first["months"].items():
        assert m["alternative"] == float(dept["months"][period]["alternative"])
    # the largest changes first
    diffs = [abs(c.difference) for c in done.largest]
    assert diffs == sorted(diffs, reverse=True) and diffs


def test_whatif_refuses_a_policy_with_errors_before_anything_is_read(tmp_path):
    bad = _policy_file(tmp_path, "[linkage]\nstrong = 0.25\n[raci]\nweight = -1\n")
    nowhere = xietong.open_database(f"sqlite:///{tmp_path / 'none.db'}")
    with pytest.raises(xietong.Refused) as refused:
        xietong.api.whatif(nowhere, bad, ["2026-11"], tmp_path / "w")
    checked = xietong.api.check_policy(bad)
    assert refused.value.lines == [f"error: {e.message('en')}" for e in checked.errors]
    assert len(refused.value.lines) == 2
    assert not (tmp_path / "none.db").exists() and not (tmp_path / "w").exists()


def test_whatif_over_the_cli_prints_the_largest_changes(db_url, tmp_path):
    from xietong.cli import main
    import io
    _store(db_url, {"2026-11": worked_example()})
    with xietong.open_database(db_url) as db:
        xietong.evaluate(db, "2026-11")
    alt = _policy_file(tmp_path, "[interlock]\nsevere_miss_ratio = 0.7\n")
    out, err = io.StringIO(), io.StringIO()
    code = main(["whatif", "--db", db_url, "--policy", str(alt), "--quarter", "2026-Q4",
                 "--out", str(tmp_path / "w"), "--lang", "en"], out, err)
    assert code == 0, err.getvalue()
    lines = out.getvalue().splitlines()
    # SPEC §9 with a severe miss below 0.7: a = 0.75 is a mild miss, so no penalty. D1 (front,
    # base 80) had only M1's −6 × 0.7 = −4.20: 75.80 → 80.00 (+4.20); D3: 82.41 without its
    # −1.80 (6 × 0.3) = 70 + 13.46 + 2.25 − 1.50 = 84.21 (+1.80). Employees have no base.
    assert lines[1].startswith("What-if of 2026-Q4 under ")
    assert lines[2:4] == ["2026-10: no ledger imported, skipped",
                          "2026-12: no ledger imported, skipped"]
    assert lines[-3:] == ["The 2 largest changes of a final:",
                          "  2026-11 department D1 销售部: 75.80 → 80.00 (+4.20)",
                          "  2026-11 department D3 IT部: 82.41 → 84.21 (+1.80)"]


# -- §11.10 policy check --period -----------------------------------------------------------------------

def test_policy_check_warns_of_effective_weights_below_the_band(db_url, tmp_path):
    from xietong.cli import main
    import io
    _store(db_url, {"2026-11": worked_example()})
    out, err = io.StringIO(), io.StringIO()
    code = main(["policy", "check", "--period", "2026-11", "--db", db_url, "--lang", "en"],
                out, err)
    assert code == 0, err.getvalue()
    # SPEC §9: D3 high 0.25 + medium 0.12 = 0.37 > 0.30: K2 at 0.12 × 0.30 / 0.37 = 0.0973
    # < 0.10 (K1 at 0.2027 stays inside 0.20–0.30)
    assert out.getvalue().splitlines()[1:] == [
        "warning: D3 / K2 = 0.0973: the effective weight after linkage.total_cap "
        "(0.12 × 0.3 / 0.37) is below the article's band for medium linkage; allowed: 0.10–0.15",
        "Policy rules/policy.toml: no errors, 1 warning(s)."]
    # a cap that leaves room: no warning; --strict: an error
    roomy = _policy_file(tmp_path, "[linkage]\ntotal_cap = 0.37\n[peripheral]\nweight = 0.1\n"
                                   "[raci]\nweight = 0.1\n", "roomy.toml")
    assert xietong.api.check_policy(roomy, db=xietong.open_database(db_url),
                                    period="2026-11").warnings == [
        w for w in xietong.api.check_policy(roomy).warnings]
    code = main(["policy", "check", "--strict", "--period", "2026-11", "--db", db_url,
                 "--lang", "zh"], out, err)
    assert code == 1
    assert err.getvalue().splitlines()[-1] == (
        "错误：D3 / K2 = 0.0973：按总上限 linkage.total_cap 缩放后的有效权重（0.12 × 0.3 / "
        "0.37）低于原文给关联度为“中”的部门的区间「中度相关部门:公司系数占10%–15%」；允许：0.10–0.15")
    code = main(["policy", "check", "--period", "2026-10", "--db", db_url, "--lang", "en"],
                out, err)
    assert code == 1 and "no ledger imported for 2026-10" in err.getvalue()
