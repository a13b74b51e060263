"""The desk's JSON API (SPEC §12), for HR systems to integrate with: the same sessions, roles,
library functions and `may` as the pages.

    POST /api/login   {"username", "password"} → 200 {"username", "role", "employee_id", "csrf_token"} | 401 | 429
    POST /api/logout
    GET  /api/periods
    POST /api/periods/{period}/imports      multipart "file" → 201 | 422 {"errors": […]} | 413
    POST /api/periods/{period}/runs         → 202 {"job_id"}
    GET  /api/jobs/{job_id}                 → {"state", "run_id", "message", "progress"}
    GET  /api/periods/{period}/scores
    GET  /api/periods/{period}/reviews[?status=open|decided&assignee=ID&kind=K&type=T&offset=&limit=]
    POST /api/periods/{period}/reviews/{review_id}/decision {"decision", "comment"} → 200 the item
    GET  /api/periods/{period}/firings?subject=&rule=&mechanism=&sheet=&result=&review=&offset=&limit=
    GET  /api/verify
and, beyond the SPEC's list: GET /api/runs, GET /api/decisions, POST /api/periods/{period}/notify.
"""
from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from xietong import api
from xietong.desk import common
from xietong.desk.common import (BadRequest, desk, item_for, language, period_of, require,
                                 reviewer_id, reviews_for, signed_in)

REVIEW_KEYS = ("review_id", "kind", "type", "subject_id", "assignee_id", "status", "decision",
               "message", "sources")


def _item(it: dict) -> dict:
    return {k: it[k] for k in REVIEW_KEYS}


async def _json_body(request: Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("expected a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("expected a JSON object")
    return body


def start_session(request: Request, actor) -> str:
    """A fresh session for `actor`: its id, the password epoch, a new CSRF token."""
    lang = request.session.get("lang")
    request.session.clear()
    token = secrets.token_urlsafe(32)
    request.session.update({"uid": actor.id, "epoch": actor.session_epoch, "csrf": token})
    if lang:
        request.session["lang"] = lang
    request.state.actor = actor
    return token


async def login(request: Request):
    body = await _json_body(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise BadRequest("expected {\"username\": …, \"password\": …}")
    _, db = desk(request)
    lang = language(request)
    try:
        actor = await run_in_threadpool(api.sign_in, db, username, password,
                                        address=request.client.host if request.client else None,
                                        lang=lang)
    except api.Locked as e:
        return JSONResponse({"error": "\n".join(e.lines)}, status_code=429)
    except api.Refused as e:
        return JSONResponse({"error": "\n".join(e.lines)}, status_code=401)
    token = start_session(request, actor)
    return JSONResponse({"username": actor.username, "role": actor.role,
                         "employee_id": actor.employee_id, "csrf_token": token})


async def logout(request: Request):
    signed_in(request)
    request.session.clear()
    return JSONResponse({"ok": True})


def periods(request: Request):
    require(request, "periods")
    _, db = desk(request)
    return JSONResponse(api.periods(db))


async def imports(request: Request):
    actor = require(request, "import")
    period = period_of(request.path_params["period"])
    settings, db = desk(request)
    lang = language(request)
    api.refuse_if_closed(db, period, lang)
    form = await request.form(max_part_size=settings.max_upload)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise BadRequest('expected a multipart field "file" holding the ledger workbook')
    force = str(form.get("force", "")).lower() in ("1", "true", "yes", "on")
    try:
        result = await run_in_threadpool(_import_upload, db, upload, period, actor.username,
                                          force)
    except api.Refused as refused:
        return JSONResponse({"errors": _errors(refused)}, status_code=422)
    finally:
        await form.close()
    return JSONResponse({"import_id": result.import_id, "sha256": result.file_sha256,
                         "rows": result.rows_per_sheet, "status": result.status,
                         "warnings": result.warnings}, status_code=201)


def _import_upload(db, upload, period: str, account: str, force: bool, lang: str | None = None):
    """Import an uploaded workbook (the same guards and messages as `xietong import`): it is
    copied to a temporary file under the upload's own name, which the import records."""
    name = Path(upload.filename or "ledger.xlsx").name or "ledger.xlsx"
    with tempfile.TemporaryDirectory(prefix="xietong-upload-") as tmp:
        path = Path(tmp) / name
        upload.file.seek(0)
        with open(path, "wb") as f:
            while chunk := upload.file.read(2**20):
                f.write(chunk)
        return api.import_ledger(db, path, period, lang=lang, force=force, account=account,
                                 file_name=name)


def _errors(refused: api.Refused) -> list[dict]:
    """422's errors: each structured problem with its message in the ledger's language; a
    refusal without problems (no file, wrong period) as lines."""
    if refused.problems:
        return [{"sheet": p.sheet, "cell": p.cell, "column": p.column, "message": str(p)}
                for p in refused.problems]
    return [{"sheet": None, "cell": None, "column": None, "message": line}
            for line in refused.lines]


def runs_start(request: Request):
    actor = require(request, "evaluate")
    period = period_of(request.path_params["period"])
    settings, db = desk(request)
    job_id = api.start_evaluation(db, period, settings.data_dir, account=actor.username,
                                  lang=language(request))
    return JSONResponse({"job_id": job_id}, status_code=202)


def job(request: Request):
    require(request, "jobs")
    settings, db = desk(request)
    try:
        job_id = int(request.path_params["job_id"])
    except ValueError:
        raise api.NotFound(["no such job"]) from None
    found = api.job(db, job_id, settings.data_dir, lang=language(request))
    return JSONResponse({k: found[k] for k in ("job_id", "period", "state", "run_id", "message",
                                               "progress", "account", "created_at",
                                               "finished_at")})


def scores(request: Request):
    require(request, "scores")
    period = period_of(request.path_params["period"])
    _, db = desk(request)
    return JSONResponse(api.scores(db, period, lang=language(request)))


def reviews(request: Request):
    actor = signed_in(request)
    period = period_of(request.path_params["period"])
    q = request.query_params
    status = q.get("status") or None
    if status not in (None, "open", "decided", "confirmed", "overturned"):
        raise BadRequest(f"status: expected open or decided, got {status!r}")
    assignee = reviews_for(request, actor, q.get("assignee"))
    _, db = desk(request)
    paged = "limit" in q or "offset" in q
    found = api.reviews(db, period, assignee=assignee, kind=q.get("kind") or None,
                        status=status, type=q.get("type") or None, lang=language(request),
                        offset=common.int_param(request, "offset", 0),
                        limit=common.int_param(request, "limit", 500, 1, 5000) if paged else None)
    # the SPEC's list; with ?offset=&limit= a page of it, the whole count in X-Total-Count
    return JSONResponse([_item(it) for it in found.items],
                        headers={"X-Total-Count": str(found.total)})


async def decision(request: Request):
    signed_in(request)
    period = period_of(request.path_params["period"])
    lang = language(request)
    actor, item = await run_in_threadpool(item_for, request, period,
                                          request.path_params["review_id"], "decide", lang)
    body = await _json_body(request)
    value, comment = body.get("decision"), body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise BadRequest("comment: expected text")
    _, db = desk(request)
    done = await run_in_threadpool(api.decide, db, period, item["review_id"], value, comment,
                                   reviewer_id=reviewer_id(actor), account=actor.username,
                                   lang=lang)
    return JSONResponse(_item(done))


def firings(request: Request):
    require(request, "trace")
    period = period_of(request.path_params["period"])
    q = request.query_params
    _, db = desk(request)
    page = api.trace_page(db, period, subject=q.get("subject") or None,
                          rule=q.get("rule") or None, mechanism=q.get("mechanism") or None,
                          sheet=q.get("sheet") or None, result=q.get("result") or None,
                          review=q.get("review") or None,
                          offset=common.int_param(request, "offset", 0),
                          limit=common.int_param(request, "limit", 50, 1, 500),
                          lang=language(request))
    items = [{"seq": f["seq"], "rule": f["rule"], "sources": f["sources"],
              "outcome": f["outcome"]} for f in page.items]
    return JSONResponse({"total": page.total, "offset": page.offset, "limit": page.limit,
                         "items": items})


def verify(request: Request):
    actor = require(request, "verify")
    _, db = desk(request)
    try:
        r = api.verify(db, lang=language(request), account=actor.username)
    except api.Refused as e:                 # nothing to verify is a result, not an error
        return JSONResponse({"ok": False, "records": 0, "head": None,
                             "problem": "\n".join(e.lines)})
    return JSONResponse({"ok": r.ok, "records": r.checked,
                         "head": {"seq": r.head_seq, "hash": r.head_hash} if r.head_seq else None,
                         "problem": r.problem})


def runs(request: Request):
    require(request, "runs")
    _, db = desk(request)
    return JSONResponse(api.runs(db, request.query_params.get("period") or None))


def decisions(request: Request):
    actor = signed_in(request)
    _, db = desk(request)
    period = request.query_params.get("period") or None
    if actor.role == "manager":
        require(request, "my_decisions")
        return JSONResponse(api.decisions(db, period, reviewer=actor.employee_id))
    require(request, "decisions")
    return JSONResponse(api.decisions(db, period))


def notify(request: Request):
    require(request, "notify")
    period = period_of(request.path_params["period"])
    settings, db = desk(request)
    done = _notify(request, db, settings, period)
    return JSONResponse({
        "sent": [_notice(n) for n in done.sent],
        "would_send": [_notice(n) for n in done.would_send],
        "without_address": [_notice(n) for n in done.without_address],
        "smtp": bool(settings.smtp_url)})


def _notify(request: Request, db, settings, period: str):
    with tempfile.TemporaryDirectory(prefix="xietong-notify-") as work:
        return api.notify(db, period, smtp_url=settings.smtp_url, mail_from=settings.mail_from,
                          desk_url=settings.desk_url or str(request.url_for("home")),
                          work_dir=work, lang=language(request))


def _notice(n) -> dict:
    return {"assignee_id": n.assignee_id, "name": n.name, "email": n.email,
            "open_items": n.open_items}


def routes() -> list[Route]:
    return [
        Route("/api/login", login, methods=["POST"]),
        Route("/api/logout", logout, methods=["POST"]),
        Route("/api/periods", periods, methods=["GET"]),
        Route("/api/periods/{period}/imports", imports, methods=["POST"]),
        Route("/api/periods/{period}/runs", runs_start, methods=["POST"]),
        Route("/api/jobs/{job_id}", job, methods=["GET"]),
        Route("/api/periods/{period}/scores", scores, methods=["GET"]),
        Route("/api/periods/{period}/reviews", reviews, methods=["GET"]),
        Route("/api/periods/{period}/reviews/{review_id}/decision", decision, methods=["POST"]),
        Route("/api/periods/{period}/firings", firings, methods=["GET"]),
        Route("/api/verify", verify, methods=["GET"]),
        Route("/api/runs", runs, methods=["GET"]),
        Route("/api/decisions", decisions, methods=["GET"]),
        Route("/api/periods/{period}/notify", notify, methods=["POST"]),
    ]

