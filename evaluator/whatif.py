"""What-if (SPEC §11.6): a month's stored active ledger and decisions evaluated under another
policy, in memory — nothing is stored — beside what its latest run stored.

The alternative is computed exactly as `evaluate --policy ALT` would compute the run it stores
(evaluator/runs.py: the same inputs — the active import, the other months' imports the policy
reads, the decisions in force and the ledger's own Reviews rows — and the same `_compute`), so
its figures are what that run would hold; only the storing, the chain and the reports are left
out. The current side is read from the latest stored run: each subject's final and its points
per rule.

    inputs = read_month(engine, "2026-11", alt)        # None: no import for the month
    figures = month_figures(inputs, alt, "2026-11")    # pure: may run in a forked child

A month's figures are compact (per subject: final, points per rule) so that the months of a
year can be computed in parallel processes and sent back cheaply (xietong.api.whatif).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session

from evaluator.db import Adjustment, reader
from evaluator.runs import (_Inputs, _compute, decisions_in_force, latest_run,
                            read_other_months, review_standing)
from evaluator.store import active_import, load_rows
from rules.finals import finals
from rules.policy import Policy

ZERO = Decimal("0.00")


@dataclass
class Side:
    """One side of a month (current or alternative): per subject id, its final (None for an
    employee without a base) and its points per rule (rounded adjustments, summed)."""
    finals: dict[str, Decimal | None] = field(default_factory=dict)
    rules: dict[str, dict[str, Decimal]] = field(default_factory=dict)


@dataclass
class MonthInputs:
    """What a month's what-if reads: the evaluation's inputs (as evaluate reads them), the
    names of its subjects, and the current side from the latest run (None without a run)."""
    period: str
    inputs: _Inputs
    names: dict[str, dict[str, str]]          # "department" | "employee" -> id -> name
    current: dict[str, Side] | None           # "department" | "employee" -> Side
    current_run: dict | None                  # {"run_id", "policy_sha256", "stale_import"}


@dataclass
class MonthFigures:
    """The alternative of a month beside its current side; `refused`: the lines that refused the
    month's evaluation under the alternative policy (its ledger's Reviews rows), else None."""
    period: str
    names: dict[str, dict[str, str]]
    current: dict[str, Side] | None
    alternative: dict[str, Side] | None
    current_run: dict | None
    refused: list[str] | None = None


def read_month(engine, period: str, policy: Policy) -> MonthInputs | None:
    """The month's inputs, read in one snapshot; None when the period has no active import. A
    closed period is read like any other: nothing is changed."""
    with Session(reader(engine)) as session, session.begin():
        imp = active_import(session, period)
        if imp is None:
            return None
        stored = {rid: {"decision": d.decision, "source_hash": d.source_hash,
                        "file_sha256": d.file_sha256, "row": d.row, "reviewer_id": d.reviewer_id}
                  for rid, d in decisions_in_force(session, period).items()}
        rows = load_rows(session, imp.id)
        history, other_imports = read_other_months(session, policy, period)
        inputs = _Inputs(imp.id, imp.file_name, imp.sha256, rows, stored, 0, history,
                         other_imports, review_standing(session, period))
        names = {"department": {d["dept_id"]: d["name"] for d in rows["Departments"]},
                 "employee": {e["employee_id"]: e["name"] for e in rows["Employees"]}}
        current, current_run = None, None
        run = latest_run(session, period)
        if run is not None:
            current = _stored_side(session, run)
            current_run = {"run_id": run.id, "policy_sha256": run.policy_sha256,
                           "import_id": run.import_id,
                           "stale_import": run.import_id != imp.id}
            if run.import_id != imp.id:         # names of subjects only the run's ledger had
                old = load_rows(session, run.import_id, ("Departments", "Employees"))
                for d in old["Departments"]:
                    names["department"].setdefault(d["dept_id"], d["name"])
                for e in old["Employees"]:
                    names["employee"].setdefault(e["employee_id"], e["name"])
        return MonthInputs(period, inputs, names, current, current_run)


def _stored_side(session: Session, run) -> dict[str, Side]:
    """The current side: the run's finals (rules.finals over its import's bases and its stored
    adjustments) and its points per rule."""
    table = Adjustment.__table__
    q = sa.select(table.c.subject_type, table.c.subject_id, table.c.mechanism, table.c.rule,
                  table.c.points).where(table.c.run_id == run.id)
    adjustments = [{"subject_type": t, "subject_id": s, "mechanism": m, "rule": r, "points": p}
                   for t, s, m, r, p in session.connection().execute(q)]
    rows = load_rows(session, run.import_id, ("Departments", "Employees"))
    return _side(rows, adjustments)


def _side(rows: dict, adjustments: list[dict]) -> dict[str, Side]:
    st = finals(rows, adjustments)
    out = {"department": Side(), "employee": Side()}
    for d in st["departments"]:
        out["department"].finals[d["dept_id"]] = d["final"]
    for e in st["employees"]:
        out["employee"].finals[e["employee_id"]] = e["final"]
    for a in adjustments:
        by_rule = out[a["subject_type"]].rules.setdefault(a["subject_id"], {})
        by_rule[a["rule"]] = by_rule.get(a["rule"], ZERO) + a["points"]
    return out


def month_figures(month: MonthInputs, policy: Policy, lang: str = "en",
                  workers: int | None = None) -> MonthFigures:
    """The month evaluated under `policy` as evaluate would, without storing it. Pure (no
    database): xietong.api.whatif runs it in forked children, a month each."""
    outcome = _compute(month.inputs, policy, month.period, lang, workers=workers)
    if outcome[0] == "refused":
        return MonthFigures(month.period, month.names, month.current, None, month.current_run,
                            refused=list(outcome[1]))
    result = outcome[1]
    result.trace.close()            # the trace is not shown: its spool file goes at once
    return MonthFigures(month.period, month.names, month.current,
                        _side(month.inputs.rows, result.adjustments), month.current_run)


def differences(figures: MonthFigures, subject_type: str) -> list[dict]:
    """Per subject of the month (either side): {"id", "name", "current", "alternative",
    "difference", "rules": [{"rule", "current", "alternative"}]} — the rules whose points
    differ, in rule-id order, a rule a side did not fire counting 0.00. `difference` is None
    when a side has no final (no run; an employee without a base; a subject one ledger lacks)."""
    cur = figures.current[subject_type] if figures.current else Side()
    alt = figures.alternative[subject_type] if figures.alternative else Side()
    names = figures.names[subject_type]
    out = []
    for sid in sorted(set(cur.finals) | set(alt.finals)):
        c, a = cur.finals.get(sid), alt.finals.get(sid)
        c_rules, a_rules = cur.rules.get(sid, {}), alt.rules.get(sid, {})
        rules = [{"rule": r, "current": c_rules.get(r, ZERO), "alternative": a_rules.get(r, ZERO)}
                 for r in sorted(set(c_rules) | set(a_rules))
                 if c_rules.get(r, ZERO) != a_rules.get(r, ZERO)]
        out.append({"id": sid, "name": names.get(sid, ""), "current": c, "alternative": a,
                    "difference": None if c is None or a is None else a - c, "rules": rules})
    return out
