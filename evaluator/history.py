"""The performance year read back from storage (SPEC §11.2): for each month of a quarter or a
year, its state and the stored results of its latest run — what `summary` adds up. Nothing is
evaluated again: a month's figures are its run's adjustments on its ledger's base scores, the
same sums as its own scores.json (rules/finals.py).

A month is `missing` without a run, `final` once closed (SPEC §11.1), else `provisional` (open,
with or without open reviews: an open month's figures can still change).

What is read per month, and only that: the Departments and Employees rows (bases, names), the
rating sheets' rated department, dimension and score (the feedback by month, SPEC §11.3), the
run's adjustments, and its exceptions of the rating kinds. Twelve months of a
10,000-employee company read in a few seconds (bench/summary.py).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, select

from evaluator import periods
from evaluator.canonical import parse_sources
from evaluator.db import ROW_TABLES, Adjustment, ExceptionItem, Firing, Run
from evaluator.runs import latest_run
from rules import ratings

YEAR_RE = re.compile(r"^(\d{4})$")
QUARTER_RE = re.compile(r"^(\d{4})-Q([1-4])$")
# The columns the summary reads: scores and names, and what the feedback by month counts.
COLUMNS = {"Departments": ("dept_id", "name", "tier", "base_score"),
           "Employees": ("employee_id", "name", "dept_id", "base_score"),
           "InternalRatings": ("ratee_dept_id", "dimension", "score"),
           "RaciRatings": ("ratee_dept_id", "dimension", "score")}
RATING_KINDS = tuple(k.kind for k in ratings.KINDS)
BLENDS = ("peripheral.blend", "raci.blend")      # the adjustments whose sources feedback reads
RATING_SHEETS = ("InternalRatings", "RaciRatings")
# a blend's citations of one rating sheet in its stored sources text (canonical JSON)
_CITED = {sheet: re.compile(rf'\["{sheet}",(\d+)\]').findall for sheet in RATING_SHEETS}
IN_CHUNK = 30_000      # row numbers per IN (…) list: SQLite ≥ 3.32 takes 32,766 parameters


def months_of(year: int | str | None = None, quarter: str | None = None) -> tuple[str, list[str]]:
    """("2026", ["2026-01", …, "2026-12"]) or ("2026-Q4", ["2026-10", "2026-11", "2026-12"]).
    ValueError for anything else (`2026-Q5`, both or neither given)."""
    if (year is None) == (quarter is None):
        raise ValueError("give a year or a quarter, not both")
    if year is not None:
        found = YEAR_RE.match(str(year))
        if not found:
            raise ValueError(f"expected a year YYYY, got {year!r}")
        y = int(found.group(1))
        return str(y), [f"{y}-{m:02d}" for m in range(1, 13)]
    found = QUARTER_RE.match(str(quarter))
    if not found:
        raise ValueError(f"expected a quarter YYYY-Q1…Q4, got {quarter!r}")
    y, q = int(found.group(1)), int(found.group(2))
    return f"{y}-Q{q}", [f"{y}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]


@dataclass
class StoredMonth:
    period: str
    state: str                       # "missing" | "provisional" | "final"
    run: dict | None = None          # the latest run's record (id, started_at, policy_json, …)
    open_reviews: int = 0
    closed: dict | None = None       # {"at", "by", "reason"} while the period is closed
    rows: dict[str, list[dict]] = field(default_factory=dict)
    adjustments: list[dict] = field(default_factory=list)
    exceptions: list[dict] = field(default_factory=list)     # of the rating kinds only
    counted: set = field(default_factory=set)  # (sheet, row) of the cited ratings the blends
    #                                            averaged (what feedback.build asks of them)


def read_months(session: Session, months: list[str], *, feedback: bool = True
                ) -> list[StoredMonth]:
    """Each month's state and stored results, in order. `feedback`: also the rating sheets,
    ServiceMetrics and the rating exceptions (what the feedback by month needs)."""
    out = []
    for period in months:
        run = latest_run(session, period)
        if run is None:
            out.append(StoredMonth(period, "missing"))
            continue
        st = periods.state(session, period)
        month = StoredMonth(
            period, "final" if st.closed else "provisional", _run_record(run),
            _open_reviews(session, run.id),
            {"at": st.since, "by": st.by, "reason": st.reason} if st.closed else None)
        month.rows = _sheets(session, run.import_id, ("Departments", "Employees"))
        month.adjustments = _adjustments(session, run.id)
        if feedback:
            month.exceptions = _rating_exceptions(session, run.id)
            # Which ratings each blend averaged: a month's blends cite every counted rating
            # (80,000 at 10,000 employees), read from their stored text by sheet and row
            # number without building a tuple per citation.
            for sheet in RATING_SHEETS:
                averaged: dict[str, int] = {}          # department -> ratings its blend averaged
                numbers: set[str] = set()              # their row numbers, as written
                for a in month.adjustments:
                    if a["rule"] in BLENDS:
                        found = _CITED[sheet](a["sources_text"])
                        if found:
                            averaged[a["subject_id"]] = averaged.get(a["subject_id"], 0) + len(found)
                            numbers.update(found)
                month.rows[sheet] = _ratings(session, run.import_id, sheet, month, averaged,
                                             numbers)
        out.append(month)
    return out


def _run_record(run: Run) -> dict:
    return {"id": run.id, "period": run.period, "import_id": run.import_id,
            "started_at": run.started_at, "finished_at": run.finished_at,
            "policy_sha256": run.policy_sha256, "policy_json": run.policy_json,
            "rules_version": run.rules_version}


def _open_reviews(session: Session, run_id: int) -> int:
    return session.exec(select(sa.func.count()).select_from(ExceptionItem).where(
        ExceptionItem.run_id == run_id, ExceptionItem.type == "review",
        ExceptionItem.status == "open")).one()


def _sheets(session: Session, import_id: int, sheets) -> dict[str, list[dict]]:
    """The columns of COLUMNS of each sheet, with the Excel row, in row order."""
    conn = session.connection()
    out = {}
    for sheet in sheets:
        table = ROW_TABLES[sheet]
        names = ("row", *COLUMNS[sheet])
        q = sa.select(*(table.c[n] for n in names)).where(
            table.c.import_id == import_id).order_by(table.c.row)
        out[sheet] = [dict(zip(names, rec)) for rec in conn.execute(q)]
    return out


def _ratings(session: Session, import_id: int, sheet: str, month: StoredMonth,
             blend_counts: dict[str, int], blended: set[str]) -> list[dict]:
    """The month's ratings of `sheet` as the feedback by month reads them (reports/feedback.py
    build(ratings=False)): each row that a rating exception cites first, on its own; every
    other row, grouped by rated department, dimension and score ({"n": how many, "counted":
    True}) — a year of 10,000 employees holds a million ratings, of which a few thousand are
    cited. By the rules (SPEC §5.2) a rating that is neither rejected nor under review counts;
    that is checked against the blends' own sources (`blend_counts`: department → ratings
    averaged; `blended`: the row numbers they cite), and the month is read row by row when it
    does not hold. Adds the rows it returns one by one to `month.counted` when a blend cites
    them (the grouped ones count by construction)."""
    table = ROW_TABLES[sheet]
    names = ("row", *COLUMNS[sheet])
    cited = sorted({e["sources"][0][1] for e in month.exceptions
                    if e["sources"] and e["sources"][0][0] == sheet})
    conn = session.connection()
    singles = []
    for i in range(0, len(cited), IN_CHUNK):
        q = sa.select(*(table.c[n] for n in names)).where(
            table.c.import_id == import_id, table.c.row.in_(cited[i:i + IN_CHUNK]))
        singles += [dict(zip(names, rec)) for rec in conn.execute(q)]
    q = sa.select(table.c.ratee_dept_id, table.c.dimension, table.c.score,
                  sa.func.count(), sa.func.min(table.c.row)).where(
        table.c.import_id == import_id).group_by(
        table.c.ratee_dept_id, table.c.dimension, table.c.score)
    groups: dict[tuple, list] = {}
    for dept, dimension, score, n, first in conn.execute(q):
        key = (dept, dimension, score)
        if key in groups:              # "4" and "4.0": one score
            groups[key][0] += n
            groups[key][1] = min(groups[key][1], first)
        else:
            groups[key] = [n, first]
    for r in singles:
        groups[(r["ratee_dept_id"], r["dimension"], r["score"])][0] -= 1
    # the check: what is left, with the cited rows the blends counted, is what they counted
    ours: dict[str, int] = {}
    for (dept, _, _), (n, _) in groups.items():
        if n:
            ours[dept] = ours.get(dept, 0) + n
    for r in singles:
        if str(r["row"]) in blended:
            month.counted.add((sheet, r["row"]))
            ours[r["ratee_dept_id"]] = ours.get(r["ratee_dept_id"], 0) + 1
    if ours != blend_counts:
        rows = _sheets(session, import_id, (sheet,))[sheet]
        month.counted.update((sheet, r["row"]) for r in rows if str(r["row"]) in blended)
        return rows
    rows = singles + [{"row": first, "ratee_dept_id": dept, "dimension": dimension,
                       "score": score, "n": n, "counted": True}
                      for (dept, dimension, score), (n, first) in groups.items() if n]
    rows.sort(key=lambda r: r["row"])      # the dimension's first spelling comes first
    return rows


def _adjustments(session: Session, run_id: int) -> list[dict]:
    """The run's adjustments: subject, mechanism, rule, points; for the blends also their stored
    sources text and explanation (feedback reads which ratings they averaged). "sources" is
    left empty: the figures need none, and read_months reads the blends' citations itself."""
    t = Adjustment.__table__
    q = sa.select(t.c.subject_type, t.c.subject_id, t.c.mechanism, t.c.rule, t.c.points,
                  t.c.sources, t.c.explanation, t.c.firing_seq).where(
        t.c.run_id == run_id).order_by(t.c.ord)
    out = []
    blends = []
    for subject_type, subject_id, mechanism, rule, pts, sources, explanation, seq in \
            session.connection().execute(q):
        blend = rule in BLENDS
        out.append({"subject_type": subject_type, "subject_id": subject_id,
                    "mechanism": mechanism, "rule": rule, "points": pts, "sources": [],
                    "sources_text": sources if blend else None,
                    "explanation": explanation if blend else None, "firing_seq": seq})
        if blend:
            blends.append(out[-1])
    if blends:
        says = _points_says(session, run_id, {a["firing_seq"] for a in blends})
        for a in blends:
            a["says"] = says.get(a["firing_seq"])
    return out


def _points_says(session: Session, run_id: int, seqs: set[int]) -> dict[int, list]:
    """firing seq -> the sentence of the adjustment it emitted ("says", rules/sentences.py),
    for a few firings of a run of millions. A run's firings are stored with consecutive ids in
    seq order (evaluator/runs.py), so firing `seq` is the run's first id + seq − 1: read by
    primary key, each checked; any other is looked for by its seq."""
    t = Firing.__table__
    conn = session.connection()
    first = conn.execute(sa.select(sa.func.min(t.c.id)).where(t.c.run_id == run_id)).scalar()
    found: dict[int, str] = {}
    if first is not None:
        q = sa.select(t.c.seq, t.c.outcome).where(
            t.c.id.in_(sorted(first + s - 1 for s in seqs)), t.c.run_id == run_id)
        found = {seq: outcome for seq, outcome in conn.execute(q) if seq in seqs}
    missing = sorted(seqs - set(found))
    if missing:
        q = sa.select(t.c.seq, t.c.outcome).where(t.c.run_id == run_id, t.c.seq.in_(missing))
        found.update(conn.execute(q).all())
    out = {}
    for seq, text in found.items():
        try:
            items = json.loads(text).get("outcomes", ())
        except (ValueError, AttributeError):
            continue
        out[seq] = next((o.get("says") for o in items if isinstance(o, dict) and "points" in o),
                        None)
    return out


def _rating_exceptions(session: Session, run_id: int) -> list[dict]:
    t = ExceptionItem.__table__
    q = sa.select(t.c.kind, t.c.type, t.c.status, t.c.sources).where(
        t.c.run_id == run_id, t.c.kind.in_(RATING_KINDS))
    return [{"kind": kind, "type": type_, "status": status, "sources": parse_sources(sources)}
            for kind, type_, status, sources in session.connection().execute(q)]
