"""The desk (SPEC §12): a Starlette application — Jinja2 pages rendered on the server and the
JSON API — over the library (xietong.api), served by uvicorn (`xietong serve`).

In front of every view, in this order:
1. the signed session cookie (Starlette's SessionMiddleware: itsdangerous-signed, HttpOnly,
   SameSite=Lax, Secure behind HTTPS);
2. `Guard`: the body limits (413 from Content-Length before anything is read, or as soon as a
   streamed body passes the limit) and the CSRF check of every state change of a signed-in
   session — the `X-CSRF-Token` header, or a form's `csrf_token` field — except signing in;
3. the views, each of which asks `common.require` (→ xietong.api.may) before it does
   anything; refusals are exceptions turned into 401/403/404/409/413/422 by the handlers
   below, the same way for pages (an HTML page) and for the API (JSON).
"""
from __future__ import annotations

import hmac
import sys
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from xietong import api
from xietong.desk import common, json_api, pages, year
from xietong.desk.common import (BadRequest, Forbidden, Settings, TooLarge, Unauthorized,
                                 SESSION_COOKIE, SESSION_MAX_AGE)

HERE = Path(__file__).resolve().parent
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
NO_CSRF = {"/api/login", "/login"}           # signing in starts the session the token belongs to
UPLOADS = ("/imports", "/upload", "/decisions-file")   # paths ending so take a workbook


def is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


# --------------------------------------------------------------------------- the guard

class Guard:
    """Body limits and CSRF for every request, as ASGI middleware (no view can forget them)."""

    def __init__(self, app, settings: Settings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):] or "/"
        headers = Headers(scope=scope)
        limit = self.settings.max_upload if path.endswith(UPLOADS) else self.settings.max_body
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return await _refuse(scope, send, 413, path, limit)
        receive = _counted(receive, limit)
        if scope["method"] in SAFE_METHODS or path in NO_CSRF:
            return await self.app(scope, receive, send)
        session = scope.get("session") or {}
        expected = session.get("csrf")
        if "uid" not in session or not expected:
            # no session: nothing can be changed anyway, the view answers 401
            return await self.app(scope, receive, send)
        given = headers.get("x-csrf-token")
        if given is not None:
            if hmac.compare_digest(given, expected):
                return await self.app(scope, receive, send)
            return await _refuse(scope, send, 403, path)
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return await _refuse(scope, send, 403, path)
        # a form: read it (spooled to disk past 1 MB), find its csrf_token, then hand the same
        # bytes to the view
        try:
            spool, more = await _spool(receive)
        except TooLarge:
            return await _refuse(scope, send, 413, path, limit)
        try:
            given = await _form_token(scope, spool, kind)
            if given is None or not hmac.compare_digest(given, expected):
                return await _refuse(scope, send, 403, path)
            return await self.app(scope, _replay(spool, more), send)
        finally:
            spool.close()


def _counted(receive, limit: int):
    seen = 0

    async def counted():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise TooLarge()
        return message
    return counted


async def _spool(receive):
    spool = tempfile.SpooledTemporaryFile(max_size=2**20)
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        spool.write(message.get("body", b""))
        more = message.get("more_body", False)
    spool.seek(0)
    return spool, receive


def _replay(spool, receive):
    done = False

    async def replay():
        nonlocal done
        if done:
            return await receive()
        chunk = spool.read(65536)
        if len(chunk) < 65536:
            done = True
        return {"type": "http.request", "body": chunk, "more_body": not done}
    return replay


async def _form_token(scope, spool, kind: str) -> str | None:
    if kind == "application/x-www-form-urlencoded":
        values = parse_qs(spool.read().decode("latin-1"), keep_blank_values=True)
        spool.seek(0)
        token = values.get("csrf_token")
        return token[0] if token else None
    copy = dict(scope)
    request = Request(copy, _replay(spool, _nothing))
    try:
        form = await request.form()
        token = form.get("csrf_token")
        await form.close()
    except Exception:                        # noqa: BLE001 - an unreadable form has no token
        token = None
    spool.seek(0)
    return token if isinstance(token, str) else None


async def _nothing():
    return {"type": "http.disconnect"}


async def _refuse(scope, send, status: int, path: str, limit: int | None = None):
    request = Request(scope)
    if status == 413:
        text = f"the request is larger than {limit // 2**20} MB"
    else:
        text = "a change needs the session's CSRF token (X-CSRF-Token header or csrf_token field)"
    if is_api(path):
        response = JSONResponse({"error": text}, status_code=status)
    else:
        response = pages.error_page(request, status, [text])
    # the body of a refused request is not read: say so, so that the client stops sending it
    response.headers["connection"] = "close"
    await response(scope, _nothing, send)


# --------------------------------------------------------------------------- refusals, one place

def _wants_json(request: Request) -> bool:
    return is_api(common.route_path(request))


def _respond(request: Request, status: int, lines: list[str], extra: dict | None = None):
    if _wants_json(request):
        body = {"error": "\n".join(lines)} if lines else {"error": _REASONS[status]}
        body.update(extra or {})
        return JSONResponse(body, status_code=status)
    return pages.error_page(request, status, lines or [_REASONS[status]])


_REASONS = {400: "bad request", 401: "sign in first", 403: "not allowed", 404: "not found",
            409: "conflict", 413: "too large", 422: "refused", 429: "locked"}


async def on_unauthorized(request: Request, exc):
    if _wants_json(request):
        return _respond(request, 401, [])
    return RedirectResponse(request.url_for("login_page").include_query_params(
        next=common.route_path(request)), status_code=303)


async def on_forbidden(request: Request, exc):
    return _respond(request, 403, [pages.word(request, "forbidden")])


async def on_not_found(request: Request, exc):
    return _respond(request, 404, list(getattr(exc, "lines", []) or []))


async def on_conflict(request: Request, exc):
    return _respond(request, 409, exc.lines)


async def on_too_large(request: Request, exc):
    return _respond(request, 413, [])


async def on_bad_request(request: Request, exc):
    return _respond(request, 400, [exc.message])


async def on_refused(request: Request, exc):
    return _respond(request, 422, exc.lines)


async def on_http(request: Request, exc):
    return _respond(request, exc.status_code, [str(exc.detail)] if exc.detail else [])


# --------------------------------------------------------------------------- the application

def create_app(settings: Settings) -> Starlette:
    from starlette.exceptions import HTTPException
    from xietong import jobs

    db = api.open_database(settings.db_url)

    @asynccontextmanager
    async def lifespan(app):
        engine = api._engine(db)
        jobs.reap(engine)           # jobs left running by a desk that stopped or died
        yield
        jobs.stop_all(engine)       # a job cannot outlive the desk that watches it
        db.close()

    routes = pages.routes() + json_api.routes() + year.routes() + [
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static")]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SessionMiddleware, secret_key=settings.secret_key,
                       session_cookie=SESSION_COOKIE, max_age=SESSION_MAX_AGE, same_site="lax",
                       https_only=settings.secure_cookies),
            Middleware(Guard, settings=settings),
        ],
        exception_handlers={
            Unauthorized: on_unauthorized, Forbidden: on_forbidden, api.NotFound: on_not_found,
            api.Conflict: on_conflict, TooLarge: on_too_large, BadRequest: on_bad_request,
            api.Refused: on_refused, HTTPException: on_http,
        },
        lifespan=lifespan)
    app.state.settings = settings
    app.state.db = db
    return app


def serve(db_url: str, *, host: str = "127.0.0.1", port: int = 8000, data_dir=None,
          root_path: str = "", out=None) -> int:
    """`xietong serve`: the desk on uvicorn until interrupted. Behind a reverse proxy, the
    forwarded headers of the proxies in XIETONG_FORWARDED_ALLOW_IPS (default 127.0.0.1) are
    trusted (docs/deploy.md)."""
    import os
    import uvicorn
    out = out or sys.stdout
    settings = Settings.from_environment(db_url, data_dir)
    app = create_app(settings)
    shown = api.open_database(db_url).shown_url
    out.write(f"xietong desk: http://{host}:{port}{root_path or ''}/  database {shown}  "
              f"data {settings.data_dir.resolve()}\n")
    out.flush()
    uvicorn.run(app, host=host, port=port, root_path=root_path or "", proxy_headers=True,
                forwarded_allow_ips=os.environ.get("XIETONG_FORWARDED_ALLOW_IPS", "127.0.0.1"),
                log_level=os.environ.get("XIETONG_LOG_LEVEL", "info"))
    return 0
