"""Feedback (SPEC §11.3): one rated department's feedback of a period's latest run, as its
feedback/<dept_id>.xlsx shows it, read for that department only
(evaluator.history.read_feedback), and the workbook itself (reports.feedback.write, the
writer `report` uses).
"""
from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from xietong.api.base import (Database, database_language, NotFound, _engine, _existing,
                              _latest_run_or_404, _words)


def feedback_departments(db: Database, period: str, *, lang: str | None = None) -> list[dict]:
    """The departments of the period's latest run that received ratings (not rejected), each
    {"dept_id", "name", "manager_id" (its head in that ledger), "received"}; NotFound when the
    period has no run."""
    from evaluator.db import reader
    from evaluator.history import rated_departments
    from xietong.review_items import load_sheets
    with Session(reader(_engine(_existing(db, lang)))) as session, session.begin():
        run = _latest_run_or_404(session, period, lang)
        received = rated_departments(session, run)
        depts = {d["dept_id"]: d for d in load_sheets(session, run.import_id,
                                                        ("Departments",))["Departments"]}
    return [{"dept_id": k, "name": depts[k]["name"], "manager_id": depts[k]["manager_id"],
             "received": n} for k, n in received.items()]


def feedback_of(db: Database, period: str, dept_id: str, *, lang: str | None = None,
                offset: int = 0, limit: int | None = None) -> dict:
    """One rated department's feedback (SPEC §11.3), as its workbook shows it: {"period",
    "run_id", "dept_id", "name", "manager_id", "tier", "overview" [(item, value)], "dimensions"
    [reports.feedback.DimensionStats], "ratings" [each with its status, the rater's
    department, and the rater's id only under `[feedback] show_raters`; `offset`/`limit`: a
    page of them, "ratings_total" saying how many], "show_raters", "peripheral", "raci"
    (points, how computed), "counts"}. NotFound when the period has no run or the department
    received no rating."""
    from reports import feedback
    lang = lang or database_language(db, period) or "en"
    rows, stored, run_id = _feedback_rows(db, period, dept_id, lang)
    found = feedback.build(rows, stored).get(dept_id)
    if found is None:
        raise NotFound([_words(lang, "no_feedback", period=period, dept=dept_id)])
    raters = feedback.show_raters(stored)
    head = next((d.get("manager_id") for d in rows["Departments"] if d["dept_id"] == dept_id),
                None)
    names = {e["employee_id"]: e["name"] for e in rows["Employees"]} if raters else {}
    projects = {p["project_id"]: p["name"] for p in rows["Projects"]}
    ratings = []
    offset = max(0, offset)
    page = found.ratings[offset:] if limit is None else found.ratings[offset:offset + limit]
    for r in page:
        project = r.get("project_id")
        shown = {"sheet": r["sheet"], "dimension": r["dimension"], "score": r["score"],
                 "comment": r.get("comment"), "rater_dept_id": r["rater_dept_id"],
                 "rater_dept_name": r["rater_dept_name"], "project_id": project,
                 "project_name": projects.get(project) if project else None,
                 "raci_role": r.get("raci_role"), "status": r["status"],
                 "status_text": feedback.word(lang, r["status"])}
        if raters:               # policy [feedback] show_raters: else never in the answer
            shown.update(rater_id=r["rater_id"], rater_name=names.get(r["rater_id"]),
                         rating_id=r["rating_id"])
        ratings.append(shown)
    return {"period": period, "run_id": run_id, "dept_id": dept_id, "name": found.name,
            "tier": found.tier, "manager_id": head, "show_raters": raters,
            "overview": feedback.overview(found, period, stored, lang, raters),
            "dimensions": found.dimensions, "ratings": ratings,
            "ratings_total": len(found.ratings),
            "received": dict(found.received),
            "counts": {"counted": found.count((feedback.COUNTED, feedback.COUNTED_REVIEWED,
                                               feedback.COUNTED_OPEN)),
                       "held": found.count((feedback.HELD,)),
                       "overturned": found.count((feedback.OVERTURNED,))},
            "peripheral": {"points": found.peripheral.points,
                           "how": found.peripheral.text(lang)},
            "raci": {"points": found.raci.points, "how": found.raci.text(lang)}}


def _feedback_rows(db: Database, period: str, dept_id: str, lang):
    from evaluator.db import reader
    from evaluator.history import read_feedback
    with Session(reader(_engine(_existing(db, lang)))) as session, session.begin():
        run = _latest_run_or_404(session, period, lang)
        rows, stored = read_feedback(session, run, dept_id)
        return rows, stored, run.id


def feedback_workbook(db: Database, period: str, dept_id: str, out_dir, *,
                      lang: str | None = None) -> Path:
    """The department's feedback/<dept_id>.xlsx of the period's latest run, written into
    `out_dir` by the writer `report` uses (the same file). NotFound as feedback_of."""
    from evaluator.db import LedgerImport, Run, reader
    from reports import feedback
    rows, stored, run_id = _feedback_rows(db, period, dept_id, lang)
    with Session(reader(_engine(db))) as session, session.begin():
        imp = session.get(LedgerImport, session.get(Run, run_id).import_id)
        sheet_lang = imp.lang if imp is not None and imp.lang in ("zh", "en") else "en"
    lang = lang or sheet_lang
    written = feedback.write(Path(out_dir), period, rows, stored, lang, sheet_lang)
    if not written:
        raise NotFound([_words(lang, "no_feedback", period=period, dept=dept_id)])
    return written[0]
