"""The performance year (SPEC §11.2): the quarter's and the year's figures read from each
month's latest run (nothing is evaluated again), written as summary.xlsx/html/json
(`summary`) or read a page at a time for the desk (`summary_page`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session

from xietong import i18n
from xietong.api.base import Database, database_language, FORMATS, Refused, _engine, _existing


@dataclass
class SummaryResult:
    range: str                     # "2026" | "2026-Q4"
    months: list[dict]             # {"period", "state": missing|provisional|final, "run_id",
    #                                "open_reviews", "closed"}
    departments: list[dict]        # reports.summary.Summary's: per month base, by_mechanism,
    employees: list[dict]          # final, state; mean_final (and behaviour_total)
    feedback: list[dict]           # by department and month (SPEC §11.3)
    lang: str
    out_dir: Path | None = None
    files: dict[str, list[Path]] = field(default_factory=dict)   # "xlsx" | "html" | "json"
    summary: object = None         # the reports.summary.Summary (as_json() is summary.json)

    @property
    def written(self) -> list[Path]:
        return [p for paths in self.files.values() for p in paths]


def summary(db: Database, *, year: int | str | None = None, quarter: str | None = None,
            out_dir=None, formats=FORMATS, lang: str | None = None) -> SummaryResult:
    """The figures of a year (`year=2026`) or a quarter (`quarter="2026-Q4"`), per department and
    employee and month, with the range's means, from each month's latest run (SPEC §11.2); with
    `out_dir`, also summary.xlsx, summary.html and summary.json there (`formats`). A month
    without a run is "missing", an open one "provisional", a closed one "final". ValueError for
    a range that is not one (`2026-Q5`); Refused when no month of the range has a run."""
    from evaluator.history import months_of
    from reports import summary as sheets
    label_, periods = months_of(year, quarter)
    formats = frozenset(formats)
    _existing(db, lang)
    lang = lang or database_language(db) or "en"
    want_feedback = out_dir is not None and bool(formats & {"xlsx", "html"})
    built = _summary_of(db, label_, periods, lang, feedback=want_feedback)
    result = SummaryResult(label_, built.months, built.departments, built.employees,
                           built.feedback, lang, None if out_dir is None else Path(out_dir),
                           summary=built)
    if out_dir is None:
        return result
    from evaluator.evaluate import default_workers
    from engine.isolation import ChildError, EvaluationCrashed, Forked
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # summary.xlsx is the longest to write: on a multi-core machine a forked child writes it
    # while this process writes the page and the JSON (as `report` does with its files)
    xlsx = None
    if "xlsx" in formats:
        path = out / "summary.xlsx"
        if default_workers() > 1 and formats & {"html", "json"}:
            xlsx = Forked(sheets.write_xlsx, path, built, lang, point="summary")
        else:
            result.files["xlsx"] = [sheets.write_xlsx(path, built, lang)]
    try:
        if "html" in formats:
            result.files["html"] = [sheets.write_html(out / "summary.html", built, lang)]
        if "json" in formats:
            result.files["json"] = [sheets.write_json(out / "summary.json", built)]
        if xlsx is not None:
            try:
                result.files["xlsx"] = [xlsx.result()]
            except (ChildError, EvaluationCrashed) as e:
                raise Refused([i18n.t(lang, "report_failed", dir=out,
                                      error=f"{getattr(e, 'kind', 'crash')}: {e}")]) from None
    except BaseException:
        if xlsx is not None:
            xlsx.cancel()
        raise
    return result


def _summary_of(db: Database, label_: str, periods: list[str], lang: str, *, feedback: bool,
                employees=None, session=None):
    """reports.summary.Summary of the range's stored months (evaluator.history.read_months, then
    reports.summary.build): what `summary` writes and the desk's summary page shows. Refused
    when no month of the range has a run."""
    from evaluator.db import reader
    from evaluator.history import read_months
    from reports import summary as sheets
    if session is None:
        with Session(reader(db.engine)) as session, session.begin():
            months = read_months(session, periods, feedback=feedback, employees=employees)
    else:
        months = read_months(session, periods, feedback=feedback, employees=employees)
    if all(m.state == "missing" for m in months):
        raise Refused([i18n.t(lang, "summary_no_run", range=sheets.range_text(lang, label_),
                              first=periods[0], last=periods[-1])])
    return sheets.build(label_, [m.__dict__ for m in months], with_feedback=feedback)


def summary_range(*, year: int | str | None = None, quarter: str | None = None
                  ) -> tuple[str, list[str]]:
    """("2026-Q4", ["2026-10", "2026-11", "2026-12"]) for a year or a quarter; ValueError for
    anything else (`2026-Q5`, both or neither)."""
    from evaluator.history import months_of
    return months_of(year, quarter)


@dataclass
class SummaryPage:
    """One page of the summary of a range (the desk's summary and trends, SPEC §12): every
    month with its state, every department, and a page of the employees."""
    range: str                     # "2026" | "2026-Q4"
    range_text: str                # as people read it (2026 年第 4 季度)
    months: list[dict]             # {"period", "state", "run_id", "open_reviews", "closed"}
    departments: list[dict]        # reports.summary.build's, with "total_by_mechanism"
    employees: list[dict]          # the page's, by id
    employees_total: int           # the employees that match the filters
    offset: int
    limit: int
    lang: str
    summary: object = None         # the reports.summary.Summary of the page

    def as_json(self) -> dict:
        """summary.json's shape (SPEC §11.2) with the page's employees, and how many match."""
        out = self.summary.as_json()
        out.update(employees_total=self.employees_total, offset=self.offset, limit=self.limit)
        return out


def summary_page(db: Database, *, year: int | str | None = None, quarter: str | None = None,
                 dept: str | None = None, search: str | None = None, offset: int = 0,
                 limit: int = 50, lang: str | None = None) -> SummaryPage:
    """The figures of `summary` (the same stored months, the same sums: reports.summary.build)
    for every department and one page of the employees — those ever in `dept`, whose id or
    name contains `search` — read for that page only, so that it answers quickly at 100,000
    employees. ValueError for a range that is not one; Refused when no month has a run."""
    from evaluator.db import reader
    from evaluator.history import employee_page, months_of
    from reports import summary as sheets
    label_, periods = months_of(year, quarter)
    _existing(db, lang)
    lang = lang or database_language(db) or "en"
    offset, limit = max(0, offset), max(1, min(limit, 500))
    with Session(reader(_engine(db))) as session, session.begin():    # the desk's indexes
        total, ids = employee_page(session, periods, dept=dept or None, search=search or None,
                                   offset=offset, limit=limit, walk_ids=True)
        built = _summary_of(db, label_, periods, lang, feedback=False, employees=ids,
                            session=session)
    return SummaryPage(label_, sheets.range_text(lang, label_), built.months, built.departments,
                       built.employees, total, offset, limit, lang, built)


def summary_file(db: Database, fmt: str, out_dir, *, year: int | str | None = None,
                 quarter: str | None = None, lang: str | None = None) -> Path:
    """One of summary.xlsx, summary.html, summary.json (`fmt`) of a range, written into
    `out_dir` by `summary` itself."""
    if fmt not in FORMATS:
        raise ValueError(f"expected one of {', '.join(FORMATS)}, got {fmt!r}")
    done = summary(db, year=year, quarter=quarter, out_dir=out_dir, formats={fmt}, lang=lang)
    return done.files[fmt][0]
