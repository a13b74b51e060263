"""The desk's pages (SPEC §12): Jinja2 templates rendered on the server (autoescape on), one
view per page, each asking `common.require` (→ xietong.api.may) first and calling the same
library functions as the JSON API. Forms post with the session's CSRF token in a hidden
field; the only script (static/desk.js) polls an evaluation's progress."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import jinja2
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from rules.sentences import outcome_text
from xietong import api
from xietong.desk import common
from xietong.desk.common import (BadRequest, Forbidden, desk, item_for, language, period_of,
                                 require, reviewer_id, reviews_for, signed_in)
from xietong.desk.ui import u

HERE = Path(__file__).resolve().parent
_env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                          autoescape=True, trim_blocks=True, lstrip_blocks=True)
templates = Jinja2Templates(env=_env)
PAGE = 50


def word(request: Request, key: str, **values) -> str:
    return u(language(request), key, **values)


def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    lang = language(request)
    actor = common.current_actor(request)
    context.update(request=request, lang=lang, actor=actor,
                   t=lambda key, **kw: u(lang, key, **kw),
                   said=lambda item: outcome_text(item, lang),
                   csrf=request.session.get("csrf", ""),
                   may=lambda action, item=None: api.may(actor, action, item),
                   query=lambda **kw: _query(request, **kw),
                   here=common.route_path(request) + (
                       "?" + request.url.query if request.url.query else ""))
    return templates.TemplateResponse(request, name, context, status_code=status)


def _query(request: Request, **changes) -> str:
    """The current query string with some parameters changed (for paging links)."""
    params = dict(request.query_params)
    params.update({k: v for k, v in changes.items()})
    return "?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})


def error_page(request: Request, status: int, lines: list[str]) -> HTMLResponse:
    return render(request, "error.html", status=status, status_code=status, lines=lines)


def redirect(request: Request, name: str, **params) -> RedirectResponse:
    return RedirectResponse(request.url_for(name, **params), status_code=303)


# --------------------------------------------------------------------------- signing in

def home(request: Request):
    actor = common.current_actor(request)
    if actor is None:
        return redirect(request, "login_page")
    if actor.role == "manager":
        return redirect(request, "reviews_page")
    return redirect(request, "periods_page")


def login_page(request: Request):
    return render(request, "login.html", next=request.query_params.get("next", ""))


async def login_submit(request: Request):
    from xietong.desk.json_api import start_session
    form = await request.form()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    _, db = desk(request)
    lang = language(request)
    try:
        actor = await run_in_threadpool(api.sign_in, db, username, password,
                                        address=request.client.host if request.client else None,
                                        lang=lang)
    except api.Locked as e:
        return render(request, "login.html", status=429, lines=e.lines, username=username)
    except api.Refused as e:
        return render(request, "login.html", status=401, lines=e.lines, username=username)
    start_session(request, actor)
    target = str(form.get("next", ""))
    if target.startswith("/") and not target.startswith("//"):
        return RedirectResponse(str(request.scope.get("root_path", "")) + target, status_code=303)
    return redirect(request, "home")


def logout(request: Request):
    signed_in(request)
    request.session.clear()
    return redirect(request, "login_page")


async def set_language(request: Request):
    form = await request.form()
    lang = str(form.get("lang", ""))
    if lang not in ("zh", "en"):
        raise BadRequest("lang: expected zh or en")
    request.session["lang"] = lang
    actor = common.current_actor(request)
    if actor is not None:
        _, db = desk(request)
        await run_in_threadpool(api.set_account_language, db, actor.id, lang)
    target = str(form.get("back", ""))
    if target.startswith("/") and not target.startswith("//"):
        return RedirectResponse(str(request.scope.get("root_path", "")) + target, status_code=303)
    return redirect(request, "home")


# --------------------------------------------------------------------------- periods, uploads, jobs

def periods_page(request: Request):
    require(request, "periods")
    _, db = desk(request)
    return render(request, "periods.html", periods=api.periods(db))


def _reports(settings, period: str) -> list[dict]:
    manifest = settings.data_dir / "reports" / period / api.MANIFEST
    try:
        return json.loads(manifest.read_text("utf-8"))["files"]
    except (OSError, ValueError, KeyError):
        return []


def period_page(request: Request, **extra):
    require(request, "periods")
    period = period_of(request.path_params["period"])
    settings, db = desk(request)
    found = [p for p in api.periods(db) if p["period"] == period]
    lang = language(request)
    status = extra.pop("status_code", 200)
    return render(request, "period.html", status=status, period=period,
                  info=found[0] if found else None,
                  jobs=api.jobs_of(db, period, settings.data_dir, lang=lang),
                  files=_reports(settings, period), smtp=bool(settings.smtp_url), **extra)


async def upload(request: Request):
    from xietong.desk.json_api import _import_upload
    actor = require(request, "import")
    period = period_of(request.path_params["period"])
    settings, db = desk(request)
    api.refuse_if_closed(db, period, language(request))
    form = await request.form()
    upload_file = form.get("file")
    try:
        if upload_file is None or isinstance(upload_file, str) or not upload_file.filename:
            raise BadRequest(word(request, "upload"))
        force = form.get("force") == "on"
        result = await run_in_threadpool(_import_upload, db, upload_file, period,
                                         actor.username, force)
    except api.Refused as refused:
        # the problems by Sheet!Cell, in the ledger's language, in the page
        return period_page(request, refused=refused.lines, status_code=422)
    finally:
        await form.close()
    message = word(request, "uploaded", file=Path(upload_file.filename).name,
                   id=result.import_id, status=result.status, sha=result.file_sha256[:16])
    return period_page(request, uploaded=[message, *result.warnings])


def evaluate(request: Request):
    actor = require(request, "evaluate")
    period = period_of(request.path_params["period"])
    settings, db = desk(request)
    job_id = api.start_evaluation(db, period, settings.data_dir, account=actor.username,
                                  lang=language(request))
    return redirect(request, "job_page", job_id=str(job_id))


def job_page(request: Request):
    require(request, "jobs")
    settings, db = desk(request)
    try:
        job_id = int(request.path_params["job_id"])
    except ValueError:
        raise api.NotFound([]) from None
    found = api.job(db, job_id, settings.data_dir, lang=language(request))
    return render(request, "job.html", job=found)


def report_file(request: Request):
    require(request, "reports")
    period = period_of(request.path_params["period"])
    settings, _ = desk(request)
    wanted = request.path_params["path"]
    # only a file the period's manifest lists: no other path can be asked for
    if wanted not in {f["path"] for f in _reports(settings, period)}:
        raise api.NotFound([])
    path = settings.data_dir / "reports" / period / wanted
    if not path.is_file():
        raise api.NotFound([])
    return FileResponse(path, filename=Path(wanted).name)


def scores_page(request: Request):
    require(request, "scores")
    period = period_of(request.path_params["period"])
    _, db = desk(request)
    found = api.scores(db, period, lang=language(request))
    offset = common.int_param(request, "offset", 0)
    employees = found["employees"]
    return render(request, "scores.html", period=period, departments=found["departments"],
                  employees=employees[offset:offset + PAGE * 4], total=len(employees),
                  offset=offset, page=PAGE * 4)


# --------------------------------------------------------------------------- reviews and decisions

def reviews_page(request: Request):
    """All reviews (HR, auditors: filtered by assignee, kind, status, period) or a manager's
    own across periods."""
    actor = signed_in(request)
    q = request.query_params
    assignee = reviews_for(request, actor, q.get("assignee"))
    period = q.get("period") or None
    if period is not None:
        period = period_of(period)
    status = q.get("status") or None
    if status not in (None, "open", "decided"):
        raise BadRequest("status: expected open or decided")
    offset = common.int_param(request, "offset", 0)
    _, db = desk(request)
    lang = language(request)
    found = api.reviews(db, period, assignee=assignee, kind=q.get("kind") or None,
                        status=status, type=q.get("type") or None, context=True, lang=lang,
                        offset=offset, limit=PAGE)
    mine = actor.role == "manager"
    earlier = api.decisions(db, reviewer=actor.employee_id, limit=20) if mine else []
    # SPEC §11.4: what moved up from this manager past its deadline, to read, not to decide
    moved = api.moved_reviews(db, actor.employee_id, period, lang=lang) if mine else []
    return render(request, "reviews.html", items=found.items, total=found.total, offset=offset,
                  page=PAGE, mine=mine, period=period, earlier=earlier, moved=moved,
                  periods=api.period_names(db) if not mine else
                  sorted({it["period"] for it in found.items}, reverse=True))


def period_reviews(request: Request):
    signed_in(request)
    period = period_of(request.path_params["period"])
    params = dict(request.query_params, period=period)
    return RedirectResponse(str(request.url_for("reviews_page")) + "?" + urlencode(params),
                            status_code=303)


def review_page(request: Request, **extra):
    signed_in(request)
    period = period_of(request.path_params["period"])
    lang = language(request)
    actor, item = item_for(request, period, request.path_params["review_id"], "review", lang)
    _, db = desk(request)
    history = api.decisions(db, period)
    history = [d for d in history if d["review_id"] == item["review_id"]]
    status = extra.pop("status_code", 200)
    return render(request, "review.html", status=status, period=period, item=item,
                  history=history,
                  can_decide=api.may(actor, "decide", item) and item["type"] == "review", **extra)


async def decide(request: Request):
    signed_in(request)
    period = period_of(request.path_params["period"])
    lang = language(request)
    actor, item = await run_in_threadpool(item_for, request, period,
                                          request.path_params["review_id"], "decide", lang)
    form = await request.form()
    _, db = desk(request)
    try:
        done = await run_in_threadpool(api.decide, db, period, item["review_id"],
                                       str(form.get("decision", "")),
                                       str(form.get("comment", "")) or None,
                                       reviewer_id=reviewer_id(actor), account=actor.username,
                                       lang=lang)
    except api.Conflict:
        raise
    except api.Refused as e:
        return await run_in_threadpool(review_page, request, refused=e.lines, status_code=422)
    message = word(request, "decision_recorded", rid=done["review_id"],
                   value=word(request, done["decision"]["value"]) if done["decision"] else "")
    return await run_in_threadpool(review_page, request, recorded=message)


def workbook(request: Request):
    """A review workbook to fill in: a manager's own; HR's for any assignee (?assignee=)."""
    actor = signed_in(request)
    period = period_of(request.path_params["period"])
    who = request.query_params.get("assignee") or (
        actor.employee_id if actor.role == "manager" else "HR")
    if actor.role == "manager":
        if who != actor.employee_id:
            raise Forbidden()
    elif not api.may(actor, "reports"):
        raise Forbidden()
    _, db = desk(request)
    tmp = tempfile.TemporaryDirectory(prefix="xietong-workbook-")
    try:
        path = api.review_workbook(db, period, who, tmp.name, lang=language(request))
    except BaseException:
        tmp.cleanup()
        raise
    return FileResponse(path, filename=path.name, background=BackgroundTask(tmp.cleanup))


async def decisions_file(request: Request):
    """A returned review workbook, uploaded: the same road as `xietong decisions`. A manager's
    file may hold only its own items, decided as itself."""
    actor = signed_in(request)
    period = period_of(request.path_params["period"])
    if actor.role == "manager":
        require(request, "my_reviews")
    else:
        require(request, "decide")
    settings, db = desk(request)
    lang = language(request)
    api.refuse_if_closed(db, period, lang)
    form = await request.form()
    upload_file = form.get("file")
    if upload_file is None or isinstance(upload_file, str) or not upload_file.filename:
        raise BadRequest(word(request, "return_workbook"))
    try:
        done = await run_in_threadpool(_record_file, db, upload_file, period, actor, lang)
    except api.Refused as e:
        return await run_in_threadpool(_back_to_reviews, request, period, e.lines, None)
    finally:
        await form.close()
    return await run_in_threadpool(_back_to_reviews, request, period, None,
                                   word(request, "recorded", n=len(done.changes),
                                        same=done.unchanged))


def _record_file(db, upload_file, period: str, actor, lang: str):
    name = Path(upload_file.filename).name or "reviews.xlsx"
    with tempfile.TemporaryDirectory(prefix="xietong-return-") as tmp:
        path = Path(tmp) / name
        upload_file.file.seek(0)
        path.write_bytes(upload_file.file.read())
        return api.record_decisions(db, path, period, lang=lang, account=actor.username,
                                    file_name=name,
                                    only_assignee=actor.employee_id
                                    if actor.role == "manager" else None)


def _back_to_reviews(request: Request, period: str, refused, recorded):
    actor = signed_in(request)
    _, db = desk(request)
    lang = language(request)
    assignee = actor.employee_id if actor.role == "manager" else None
    found = api.reviews(db, period, assignee=assignee, context=True, lang=lang, limit=PAGE)
    earlier = api.decisions(db, reviewer=actor.employee_id, limit=20) \
        if actor.role == "manager" else []
    return render(request, "reviews.html", status=422 if refused else 200, items=found.items,
                  total=found.total, offset=0, page=PAGE, mine=actor.role == "manager",
                  period=period, earlier=earlier, periods=[period], refused=refused,
                  recorded=recorded)


def decisions_page(request: Request):
    actor = signed_in(request)
    _, db = desk(request)
    if actor.role == "manager":
        require(request, "my_decisions")
        found = api.decisions(db, reviewer=actor.employee_id, limit=500)
    else:
        require(request, "decisions")
        found = api.decisions(db, request.query_params.get("period") or None, limit=500)
    return render(request, "decisions.html", decisions=found)


# --------------------------------------------------------------------------- auditors

def trace_page(request: Request):
    require(request, "trace")
    period = period_of(request.path_params["period"])
    q = request.query_params
    _, db = desk(request)
    lang = language(request)
    filters = {k: (q.get(k) or None) for k in ("subject", "rule", "mechanism", "sheet",
                                                "result", "review")}
    offset = common.int_param(request, "offset", 0)
    page = api.trace_page(db, period, offset=offset, limit=PAGE, lang=lang, **filters)
    from xietong.trace_index import choices
    runs = api.runs(db, period)
    run = runs[0] if runs else None
    counts = {"by_rule": run["by_rule"] if run else {}}
    # the decisions on the items this page's firings raised (the trace's link to them)
    rids = {r for f in page.items for r in f["outcome"].get("exceptions", [])}
    decided = {}
    if rids:
        for d in api.decisions(db, period):
            if d["review_id"] in rids and d["in_force"]:
                decided[d["review_id"]] = d
    return render(request, "trace.html", period=period, page=page, filters=filters,
                  choices=choices(counts), run=run, offset=offset, size=PAGE, decided=decided)


def runs_page(request: Request):
    require(request, "runs")
    _, db = desk(request)
    return render(request, "runs.html", runs=api.runs(db))


def verify_page(request: Request):
    actor = require(request, "verify")
    _, db = desk(request)
    try:
        result = api.verify(db, lang=language(request), account=actor.username)
        problem = None
    except api.Refused as e:
        result, problem = None, "\n".join(e.lines)
    return render(request, "verify.html", result=result, problem=problem)


async def close(request: Request):
    """HR closes the period (SPEC §11.1), as its account; with open reviews only when asked."""
    actor = require(request, "close")
    period = period_of(request.path_params["period"])
    form = await request.form()
    _, db = desk(request)
    lang = language(request)
    try:
        await run_in_threadpool(api.close_period, db, period,
                                reason=str(form.get("reason", "")).strip() or None,
                                by=actor.username, lang=lang,
                                with_open_reviews=form.get("with_open_reviews") == "on")
    except api.Refused as e:
        return await run_in_threadpool(period_page, request, refused_state=e.lines,
                                       status_code=409)
    return redirect(request, "period_page", period=period)


async def reopen(request: Request):
    """HR reopens a closed period, saying why."""
    actor = require(request, "reopen")
    period = period_of(request.path_params["period"])
    form = await request.form()
    _, db = desk(request)
    reason = str(form.get("reason", "")).strip()
    if not reason:
        raise BadRequest(word(request, "reopen_reason"))
    try:
        await run_in_threadpool(api.reopen_period, db, period, reason=reason,
                                by=actor.username, lang=language(request))
    except api.Refused as e:
        return await run_in_threadpool(period_page, request, refused_state=e.lines,
                                       status_code=409)
    return redirect(request, "period_page", period=period)


def notify(request: Request):
    from xietong.desk.json_api import _notify
    require(request, "notify")
    period = period_of(request.path_params["period"])
    settings, db = desk(request)
    done = _notify(request, db, settings, period)
    return period_page(request, notified=done)


def routes() -> list[Route]:
    return [
        Route("/", home, name="home", methods=["GET"]),
        Route("/login", login_page, name="login_page", methods=["GET"]),
        Route("/login", login_submit, name="login_submit", methods=["POST"]),
        Route("/logout", logout, name="logout", methods=["POST"]),
        Route("/language", set_language, name="set_language", methods=["POST"]),
        Route("/periods", periods_page, name="periods_page", methods=["GET"]),
        Route("/periods/{period}", period_page, name="period_page", methods=["GET"]),
        Route("/periods/{period}/upload", upload, name="upload", methods=["POST"]),
        Route("/periods/{period}/evaluate", evaluate, name="evaluate", methods=["POST"]),
        Route("/jobs/{job_id}", job_page, name="job_page", methods=["GET"]),
        Route("/periods/{period}/files/{path:path}", report_file, name="report_file",
              methods=["GET"]),
        Route("/periods/{period}/scores", scores_page, name="scores_page", methods=["GET"]),
        Route("/reviews", reviews_page, name="reviews_page", methods=["GET"]),
        Route("/periods/{period}/reviews", period_reviews, name="period_reviews",
              methods=["GET"]),
        Route("/periods/{period}/reviews/{review_id}", review_page, name="review_page",
              methods=["GET"]),
        Route("/periods/{period}/reviews/{review_id}/decision", decide, name="decide",
              methods=["POST"]),
        Route("/periods/{period}/workbook", workbook, name="workbook", methods=["GET"]),
        Route("/periods/{period}/decisions-file", decisions_file, name="decisions_file",
              methods=["POST"]),
        Route("/decisions", decisions_page, name="decisions_page", methods=["GET"]),
        Route("/periods/{period}/trace", trace_page, name="trace_page", methods=["GET"]),
        Route("/runs", runs_page, name="runs_page", methods=["GET"]),
        Route("/verify", verify_page, name="verify_page", methods=["GET"]),
        Route("/periods/{period}/notify", notify, name="notify", methods=["POST"]),
        Route("/periods/{period}/close", close, name="close", methods=["POST"]),
        Route("/periods/{period}/reopen", reopen, name="reopen", methods=["POST"]),
    ]
