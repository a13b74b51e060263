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
from typing import Collection

import sqlalchemy as sa
from sqlmodel import Session, select

from evaluator import periods
from evaluator.canonical import parse_sources
from evaluator.db import ROW_TABLES, Adjustment, ExceptionItem, Firing, Run
from evaluator.runs import latest_run
from rules import ratings
from rules.months import is_quarter_end, months_of_quarter, months_of_year, quarter_months
from rules.sources import qualify, split as split_sheet

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
        return found.group(1), list(months_of_year(found.group(1)))
    if not QUARTER_RE.match(str(quarter)):
        raise ValueError(f"expected a quarter YYYY-Q1…Q4, got {quarter!r}")
    return quarter, list(months_of_quarter(quarter))


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
    headcount: dict | None = None    # dept_id -> employees, when `rows` holds only some


def read_months(session: Session, months: list[str], *, feedback: bool = True,
                employees: Collection[str] | None = None) -> list[StoredMonth]:
    """Each month's state and stored results, in order. `feedback`: also the rating sheets,
    ServiceMetrics and the rating exceptions (what the feedback by month needs). `employees`:
    only these employees' rows and adjustments (every department's still; a page of the desk's
    summary, SPEC §12), with each month's `headcount` by department counted in the database."""
    if employees is not None:
        employees = sorted(set(employees))
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
        if employees is None:
            month.rows = _sheets(session, run.import_id, ("Departments", "Employees"))
            month.adjustments = _adjustments(session, run.id)
        else:
            month.rows = _sheets(session, run.import_id, ("Departments",))
            month.rows["Employees"] = _employee_rows(session, run.import_id, employees)
            month.adjustments = _adjustments(session, run.id, employees)
            month.headcount = {}         # counted below for the last month (the chart's)
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
    if employees is not None:
        last = next((m for m in reversed(out) if m.state != "missing"), None)
        if last is not None:
            last.headcount = _headcount(session, last.run["import_id"])
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


def _employee_rows(session: Session, import_id: int, ids: list[str]) -> list[dict]:
    """The Employees rows (COLUMNS) of these employees, in row order."""
    table = ROW_TABLES["Employees"]
    names = ("row", *COLUMNS["Employees"])
    out = []
    for i in range(0, len(ids), IN_CHUNK):
        q = sa.select(*(table.c[n] for n in names)).where(
            table.c.import_id == import_id, table.c.employee_id.in_(ids[i:i + IN_CHUNK]))
        out += [dict(zip(names, rec)) for rec in session.connection().execute(q)]
    out.sort(key=lambda r: r["row"])
    return out


def _headcount(session: Session, import_id: int) -> dict[str, int]:
    table = ROW_TABLES["Employees"]
    q = sa.select(table.c.dept_id, sa.func.count()).where(
        table.c.import_id == import_id).group_by(table.c.dept_id)
    return {d: n for d, n in session.connection().execute(q)}


def employee_page(session: Session, months: list[str], *, dept: str | None = None,
                  search: str | None = None, offset: int = 0, limit: int = 50,
                  walk_ids: bool = False) -> tuple[int, list[str]]:
    """(how many, the page of ids): the employees in the ledgers of the range's latest runs, by
    id — those ever in department `dept`, and whose id or name contains `search` (any case) —
    for the desk's summary page, which reads only a page's employees (read_months(employees=)).
    `walk_ids`: walk an index on Employees (employee_id, import_id, dept_id) (the desk's)."""
    imports = [r.import_id for r in (latest_run(session, p) for p in months) if r is not None]
    if not imports:
        return 0, []
    t = ROW_TABLES["Employees"]
    import_id = t.c.import_id
    if walk_ids and not search:          # a search reads names: the import's rows it is
        # SQLite's planner prefers the (import_id, row) index and sorts 1.2 million rows (1.0
        # s at 100,000 employees); `+import_id` (no index can serve it) leaves it the walk of
        # the (employee_id, import_id, dept_id) index in id order, 0.3 s
        import_id = sa.literal_column(f"+{t.name}.import_id")
    q = sa.select(t.c.employee_id).where(import_id.in_(imports))
    if dept:
        q = q.where(t.c.dept_id == dept)
    if search:
        like = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace(
            "_", "\\_") + "%"
        q = q.where(sa.or_(sa.func.lower(t.c.employee_id).like(like, escape="\\"),
                           sa.func.lower(t.c.name).like(like, escape="\\")))
    conn = session.connection()
    key = (str(conn.engine.url), tuple(imports), dept, search)
    ids = _ID_LISTS.get(key)
    if ids is None:
        # one pass over the (employee_id, import_id, dept_id) index (evaluator/desk_tables.py)
        # gives every match in order; kept for the next pages (imports never change once
        # stored, so the key says when the list is stale)
        ids = [r[0] for r in conn.execute(q.group_by(t.c.employee_id).order_by(t.c.employee_id))]
        _ID_LISTS[key] = ids
        while len(_ID_LISTS) > 16:
            del _ID_LISTS[next(iter(_ID_LISTS))]
    return len(ids), ids[offset:offset + limit]


_ID_LISTS: dict[tuple, list[str]] = {}     # employee_page's matches, the 16 latest asked for


def _adjustments(session: Session, run_id: int, employees: list[str] | None = None
                 ) -> list[dict]:
    """The run's adjustments: subject, mechanism, rule, points; for the blends also their stored
    sources text and explanation (feedback reads which ratings they averaged). "sources" is
    left empty: the figures need none, and read_months reads the blends' citations itself.
    `employees`: the departments' adjustments and only these employees'."""
    t = Adjustment.__table__
    # a page of the summary needs no blend's sources (its citations of every rating)
    sources = t.c.sources if employees is None else sa.null().label("sources")
    q = sa.select(t.c.subject_type, t.c.subject_id, t.c.mechanism, t.c.rule, t.c.points,
                  sources, t.c.explanation, t.c.firing_seq, t.c.ord).where(
        t.c.run_id == run_id).order_by(t.c.ord)
    conn = session.connection()
    if employees is None:
        found = conn.execute(q).all()
    else:
        # two index ranges (the desk's (run_id, subject_type, subject_id)), not the whole run
        found = conn.execute(q.where(t.c.subject_type == "department")).all()
        for i in range(0, len(employees), IN_CHUNK):
            found += conn.execute(q.where(t.c.subject_type == "employee",
                                          t.c.subject_id.in_(employees[i:i + IN_CHUNK]))).all()
        found.sort(key=lambda r: r[-1])
    out = []
    blends = []
    for subject_type, subject_id, mechanism, rule, pts, sources, explanation, seq, _ in found:
        blend = rule in BLENDS
        out.append({"subject_type": subject_type, "subject_id": subject_id,
                    "mechanism": mechanism, "rule": rule, "points": pts, "sources": [],
                    "sources_text": sources if blend else None,
                    "explanation": explanation if blend else None, "firing_seq": seq})
        if blend:
            blends.append(out[-1])
    if blends and employees is None:        # a page of the summary shows no feedback
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


def _rating_exceptions(session: Session, run_id: int, first_in: set | None = None
                       ) -> list[dict]:
    """The run's exceptions of the rating kinds; `first_in`: only those whose first source is
    one of these (sheet, row) — one department's ratings — found from the start of the stored
    sources text, so that only theirs are parsed."""
    t = ExceptionItem.__table__
    q = sa.select(t.c.kind, t.c.type, t.c.status, t.c.sources).where(
        t.c.run_id == run_id, t.c.kind.in_(RATING_KINDS))
    out = []
    for kind, type_, status, sources in session.connection().execute(q):
        if first_in is not None:
            first = _FIRST_SOURCE.match(sources)
            if first is None or (first.group(1), int(first.group(2))) not in first_in:
                continue
        out.append({"kind": kind, "type": type_, "status": status,
                    "sources": parse_sources(sources)})
    return out


# the first source of a stored sources text (canonical JSON: [["InternalRatings",17],…])
# (another month's rating at a quarter's end: its sheet qualified, InternalRatings@2026-10)
_FIRST_SOURCE = re.compile(r'\[\["((?:InternalRatings|RaciRatings)(?:@\d{4}-\d{2})?)",(\d+)\]')


# ----------------------------------------------------------------------------- one department's feedback

def rated_departments(session: Session, run: Run) -> dict[str, int]:
    """dept_id -> the ratings it received in the run's ledger that were not rejected (internal
    and RACI; SPEC §11.3): the departments that get a feedback workbook, in id order."""
    conn = session.connection()
    received: dict[str, int] = {}
    rejected: dict[str, list[int]] = {sheet: [] for sheet in RATING_SHEETS}
    for e in _rating_exceptions(session, run.id):
        if e["type"] == "rejection" and e["sources"] and e["sources"][0][0] in RATING_SHEETS:
            rejected[e["sources"][0][0]].append(e["sources"][0][1])
    for sheet in RATING_SHEETS:
        t = ROW_TABLES[sheet]
        for dept, n in conn.execute(sa.select(t.c.ratee_dept_id, sa.func.count()).where(
                t.c.import_id == run.import_id).group_by(t.c.ratee_dept_id)):
            received[dept] = received.get(dept, 0) + n
        numbers = sorted(set(rejected[sheet]))
        for i in range(0, len(numbers), IN_CHUNK):
            for (dept,) in conn.execute(sa.select(t.c.ratee_dept_id).where(
                    t.c.import_id == run.import_id, t.c.row.in_(numbers[i:i + IN_CHUNK]))):
                received[dept] -= 1
    t = ROW_TABLES["Departments"]
    known = {d for (d,) in conn.execute(sa.select(t.c.dept_id).where(
        t.c.import_id == run.import_id))}
    return {d: received[d] for d in sorted(received) if received[d] > 0 and d in known}


def read_feedback(session: Session, run: Run, dept_id: str) -> tuple[dict, dict]:
    """(rows, stored) of one department's feedback (SPEC §11.3) as reports/feedback.py's
    build() and write() take them, read for that department only: its ratings, its service
    metrics, its raters' Employees rows, every department and project (names), the run's
    rating exceptions, and its blends with their sources — so that write() gives exactly the
    workbook `report` writes for it, without reading a 100,000-employee ledger."""
    from importers.schema import SHEET_BY_NAME
    conn = session.connection()

    def sheet_rows(sheet: str, where=None, key=None, values=None, import_id=None) -> list[dict]:
        table = ROW_TABLES[sheet]
        names = [c.name for c in SHEET_BY_NAME[sheet].columns]
        base = sa.select(table.c.row, *(table.c[n] for n in names)).where(
            table.c.import_id == (import_id or run.import_id))
        if where is not None:
            base = base.where(where(table))
        out = []
        if key is None:
            out = [dict(zip(("row", *names), r)) for r in conn.execute(base)]
        else:
            values = sorted(values)
            for i in range(0, len(values), IN_CHUNK):
                q = base.where(table.c[key].in_(values[i:i + IN_CHUNK]))
                out += [dict(zip(("row", *names), r)) for r in conn.execute(q)]
        out.sort(key=lambda r: r["row"])
        return out

    rows = {"Departments": sheet_rows("Departments"), "Projects": sheet_rows("Projects"),
            "ServiceMetrics": sheet_rows("ServiceMetrics", lambda t: t.c.dept_id == dept_id)}
    raters: set[str] = set()
    for sheet in RATING_SHEETS:
        rows[sheet] = sheet_rows(sheet, lambda t: t.c.ratee_dept_id == dept_id)
        raters.update(r["rater_id"] for r in rows[sheet] if r["rater_id"])
    # rated quarterly, a quarter's last month rated the quarter's earlier months' ratings too
    # (SPEC §11.5): they are read from the imports the run read, under Sheet@YYYY-MM, as
    # `report` gives them to the feedback (reports/feedback.py picks them)
    for name, import_id in _quarter_rating_imports(run):
        rows[name] = sheet_rows(split_sheet(name)[0], lambda t: t.c.ratee_dept_id == dept_id,
                                import_id=import_id)
        raters.update(r["rater_id"] for r in rows[name] if r["rater_id"])
    rows["Employees"] = sheet_rows("Employees", key="employee_id", values=raters)
    t = Adjustment.__table__
    q = sa.select(t.c.subject_type, t.c.subject_id, t.c.mechanism, t.c.rule, t.c.points,
                  t.c.sources, t.c.explanation, t.c.firing_seq).where(
        t.c.run_id == run.id, t.c.subject_type == "department", t.c.subject_id == dept_id,
        t.c.rule.in_(BLENDS))
    blends = [{"subject_type": st, "subject_id": sid, "mechanism": mech, "rule": rule,
               "points": pts, "sources": parse_sources(src), "explanation": expl,
               "firing_seq": seq}
              for st, sid, mech, rule, pts, src, expl, seq in conn.execute(q)]
    if blends:
        says = _points_says(session, run.id, {a["firing_seq"] for a in blends})
        for a in blends:
            a["says"] = says.get(a["firing_seq"])
    stored = {"run": _run_record(run), "adjustments": blends,
              "exceptions": _rating_exceptions(session, run.id, {
                  (name, r["row"]) for name in rows if split_sheet(name)[0] in RATING_SHEETS
                  for r in rows[name]})}
    return rows, stored


def _quarter_rating_imports(run: Run) -> list[tuple[str, int]]:
    """(Sheet@YYYY-MM, import id) of the earlier months' rating sheets a quarter's last month
    rated quarterly evaluated (the imports the run recorded, Run.other_imports)."""
    if not getattr(run, "other_imports", None) or not is_quarter_end(run.period):
        return []
    others = json.loads(run.other_imports)
    policy = json.loads(run.policy_json) if run.policy_json else {}
    out = []
    for sheet, mechanism in (("InternalRatings", "peripheral"), ("RaciRatings", "raci")):
        if (policy.get(mechanism) or {}).get("cadence", "monthly") != "quarterly":
            continue
        for month in quarter_months(run.period)[:2]:
            if month in others:
                out.append((qualify(sheet, month), others[month]["import_id"]))
    return out
