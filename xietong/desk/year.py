"""The desk's pages of the performance year (SPEC §12 over §11.2 and §11.3): summary and trends
of a year or a quarter, and the feedback each rated department received — with their JSON
routes and downloads. Every figure comes from the library (`api.summary_page`, `api.summary`'s
files, `api.feedback_of`, `api.feedback_workbook`); this module only lays them out, and draws
the trends (inline SVG, no script).

Who sees what (xietong.accounts.may): HR and auditors every range and every department; a
manager no summary (the range's figures are everyone's scores) and the feedback of the
departments it heads in that period's ledger (Departments.manager_id).
"""
from __future__ import annotations

import tempfile
from decimal import Decimal

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Route

from reports.summary import DEPT_MECHANISMS, range_text, svg_chart
from xietong import api
from xietong.desk import common
from xietong.desk.common import BadRequest, Forbidden, desk, language, period_of, require, signed_in

PAGE = 50
RATINGS_PAGE = 200          # ratings on a feedback page (the workbook lists them all)
SUMMARY_FILES = {"summary.xlsx": "xlsx", "summary.html": "html", "summary.json": "json"}


# --------------------------------------------------------------------------- the range

def _range(request: Request, page: bool = False) -> dict:
    """{"year": …} or {"quarter": …} from the query; without either, the year of the newest
    period; BadRequest for anything else. Both given: the page's form sends its two choices,
    and a chosen quarter is the narrower one; the API and the downloads refuse it."""
    q = request.query_params
    year, quarter = q.get("year") or None, q.get("quarter") or None
    if year and quarter:
        if not page:
            raise BadRequest(common_word(request, "bad_range", value=f"{year} / {quarter}"))
        year = None
    if not year and not quarter:
        _, db = desk(request)
        names = api.period_names(db)
        if not names:
            raise api.NotFound([common_word(request, "no_summary_range")])
        year = names[0][:4]
    try:
        api.summary_range(year=year, quarter=quarter)
    except ValueError:
        raise BadRequest(common_word(request, "bad_range", value=quarter or year)) from None
    return {"year": year} if year else {"quarter": quarter}


def common_word(request: Request, key: str, **kw) -> str:
    from xietong.desk.ui import UI
    from xietong.words import w
    lang = language(request)
    return UI[key].format(lang, **kw) if key in UI else w(lang, key, **kw)


def sparkline(values: list, width: int = 120, height: int = 28) -> str:
    """A month-by-month line of `values` (None: a missing month breaks the line) as inline SVG;
    empty for fewer than one value. Presentation only: the values are the library's finals."""
    shown = [(i, float(v)) for i, v in enumerate(values) if v is not None]
    if not shown:
        return ""
    lo = min(v for _, v in shown)
    hi = max(v for _, v in shown)
    span = (hi - lo) or 1.0
    step = (width - 6) / max(len(values) - 1, 1)

    def at(i: int, v: float) -> tuple[float, float]:
        return 3 + i * step, 3 + (height - 6) * (1 - (v - lo) / span) if hi != lo else height / 2

    parts = [f'<svg class="spark" xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" aria-hidden="true">']
    segments: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None:                        # a missing month breaks the line
            segments.append([])
            continue
        x, y = at(i, float(v))
        segments[-1].append(f"{x:.1f},{y:.1f}")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.8" fill="#305496"/>')
    for seg in segments:
        if len(seg) > 1:
            parts.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="#305496" '
                         'stroke-width="1.5"/>')
    parts.append("</svg>")
    return "".join(parts)


def _page(request: Request, page: bool = False) -> tuple[dict, api.SummaryPage]:
    require(request, "summary")
    which = _range(request, page)
    q = request.query_params
    _, db = desk(request)
    try:
        page = api.summary_page(db, **which, dept=q.get("dept") or None,
                                search=(q.get("q") or "").strip() or None,
                                offset=common.int_param(request, "offset", 0),
                                limit=common.int_param(request, "limit", PAGE, 1, 500),
                                lang=language(request))
    except api.Refused as e:
        raise api.NotFound(e.lines) from None
    return which, page


def summary_page(request: Request):
    from xietong.desk.pages import render
    which, page = _page(request, page=True)
    periods = [m["period"] for m in page.months]
    lang = language(request)
    return render(
        request, "summary.html", which=which, page=page, periods=periods,
        mechanisms=DEPT_MECHANISMS, chart=svg_chart(page.summary, lang),
        range_text=lambda r: range_text(lang, r),
        spark=lambda months: sparkline([months[p]["final"] for p in periods]),
        number=_number, offset=page.offset, total=page.employees_total, size=page.limit,
        page_size=page.limit, years=sorted({p[:4] for p in api.period_names(desk(request)[1])},
                                           reverse=True))


def _number(value) -> str:
    return "" if value is None else f"{Decimal(value):.2f}"


def summary_api(request: Request):
    _, page = _page(request)
    return JSONResponse(page.as_json(), headers={"X-Total-Count": str(page.employees_total)})


async def summary_download(request: Request):
    """summary.xlsx / .html / .json of the range, written by `summary` itself."""
    require(request, "summary")
    fmt = SUMMARY_FILES.get(request.path_params["name"])
    if fmt is None:
        raise api.NotFound([])
    which = _range(request)
    _, db = desk(request)
    tmp = tempfile.TemporaryDirectory(prefix="xietong-summary-")
    try:
        path = await run_in_threadpool(api.summary_file, db, fmt, tmp.name, **which,
                                       lang=language(request))
    except api.Refused as e:
        tmp.cleanup()
        raise api.NotFound(e.lines) from None
    except BaseException:
        tmp.cleanup()
        raise
    label = which.get("year") or which.get("quarter")
    return FileResponse(path, filename=f"summary-{label}.{fmt}",
                        background=BackgroundTask(tmp.cleanup))


# --------------------------------------------------------------------------- feedback

def _department(request: Request) -> tuple[object, str, dict]:
    """(actor, period, the rated department): the period has a run and the department was
    rated in it (else 404, whoever asks), and the account may see it (else 403)."""
    actor = signed_in(request)
    if actor.role == "manager":
        require(request, "my_feedback")
    else:
        require(request, "feedback")
    period = period_of(request.path_params["period"])
    dept_id = request.path_params["dept_id"]
    _, db = desk(request)
    rated = {d["dept_id"]: d for d in api.feedback_departments(db, period,
                                                                  lang=language(request))}
    found = rated.get(dept_id)
    if found is None:
        raise api.NotFound([common_word(request, "no_feedback", period=period, dept=dept_id)])
    if not api.may(actor, "feedback", found):
        raise Forbidden()
    return actor, period, found


def feedback_list(request: Request):
    """The period's rated departments: all of them for HR and auditors, a manager's own."""
    from xietong.desk.pages import render
    actor = signed_in(request)
    if actor.role == "manager":
        require(request, "my_feedback")
    else:
        require(request, "feedback")
    _, db = desk(request)
    names = api.period_names(db)
    period = request.query_params.get("period") or None
    departments = []
    if period is not None:
        period = period_of(period)
    else:
        period = next((p for p in names if api.runs(db, p)), None)
    if period is not None:
        try:
            departments = api.feedback_departments(db, period, lang=language(request))
        except api.NotFound:
            departments = []
        departments = [d for d in departments if api.may(actor, "feedback", d)]
    return render(request, "feedback_list.html", period=period, periods=names,
                  departments=departments)


def feedback_page(request: Request):
    from xietong.desk.pages import render
    _, period, found = _department(request)
    _, db = desk(request)
    offset = common.int_param(request, "offset", 0)
    fb = api.feedback_of(db, period, found["dept_id"], lang=language(request), offset=offset,
                         limit=RATINGS_PAGE)
    return render(request, "feedback.html", period=period, fb=fb, number=_number,
                  scores=(1, 2, 3, 4, 5), offset=offset, total=fb["ratings_total"],
                  page=RATINGS_PAGE)


def feedback_api(request: Request):
    """The department's feedback; its ratings all, or a page (?offset=&limit=; the whole count
    in X-Total-Count and "ratings_total")."""
    _, period, found = _department(request)
    _, db = desk(request)
    q = request.query_params
    paged = "offset" in q or "limit" in q
    fb = api.feedback_of(db, period, found["dept_id"], lang=language(request),
                         offset=common.int_param(request, "offset", 0),
                         limit=common.int_param(request, "limit", 500, 1, 5000) if paged else None)
    out = dict(fb)
    out["overview"] = [{"item": k, "value": v} for k, v in fb["overview"]]
    out["dimensions"] = [d.as_json() for d in fb["dimensions"]]
    out["ratings"] = [dict(r, score=_float(r["score"])) for r in fb["ratings"]]
    for k in ("peripheral", "raci"):
        out[k] = dict(fb[k], points=_float(fb[k]["points"]))
    return JSONResponse(out, headers={"X-Total-Count": str(fb["ratings_total"])})


def _float(value):
    return None if value is None else float(value)


async def feedback_download(request: Request):
    _, period, found = await run_in_threadpool(_department, request)
    _, db = desk(request)
    tmp = tempfile.TemporaryDirectory(prefix="xietong-feedback-")
    try:
        path = await run_in_threadpool(api.feedback_workbook, db, period, found["dept_id"],
                                       tmp.name, lang=language(request))
    except BaseException:
        tmp.cleanup()
        raise
    return FileResponse(path, filename=f"feedback-{period}-{path.name}",
                        background=BackgroundTask(tmp.cleanup))


def routes() -> list[Route]:
    return [
        Route("/summary", summary_page, name="summary_page", methods=["GET"]),
        Route("/summary/{name}", summary_download, name="summary_download", methods=["GET"]),
        Route("/feedback", feedback_list, name="feedback_list", methods=["GET"]),
        Route("/periods/{period}/feedback/{dept_id}", feedback_page, name="feedback_page",
              methods=["GET"]),
        Route("/periods/{period}/feedback/{dept_id}/workbook", feedback_download,
              name="feedback_download", methods=["GET"]),
        Route("/api/summary", summary_api, methods=["GET"]),
        Route("/api/periods/{period}/feedback/{dept_id}", feedback_api, methods=["GET"]),
    ]
