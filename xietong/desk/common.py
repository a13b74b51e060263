"""What every view of the desk shares: the desk's settings, the signed-in account of a request,
the one authorisation step (`require`, which asks xietong.api.may), the refusals that become
401/403/404/409/413 in one place (app.py), and the language of a request."""
from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request

from xietong import api

PERIOD_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
SESSION_COOKIE = "xietong_session"
SESSION_MAX_AGE = 8 * 3600                   # a working day; then sign in again


class Unauthorized(Exception):
    """No signed-in account (or its session ended)."""


class Forbidden(Exception):
    """The account may not do this."""


class TooLarge(Exception):
    """The request's body is over its limit (413), found before it was read whole."""


class BadRequest(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Settings:
    db_url: str
    data_dir: Path
    secret_key: str
    secure_cookies: bool = False
    max_body: int = 1 * 2**20                 # any request but an upload
    max_upload: int = 0                        # a ledger or review workbook: importers' limit
    desk_url: str | None = None                # the address people use (links in e-mails)
    smtp_url: str | None = None
    mail_from: str | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_environment(cls, db_url: str, data_dir=None) -> "Settings":
        """XIETONG_SECRET_KEY (else a key kept in the data directory), XIETONG_SECURE_COOKIES=1
        behind HTTPS, XIETONG_DESK_URL, XIETONG_SMTP, XIETONG_MAIL_FROM; uploads are limited
        to XIETONG_MAX_FILE_MB (importers.limits) plus room for the form around the file."""
        from importers.limits import current
        data_dir = Path(data_dir or os.environ.get("XIETONG_DESK_DATA") or "xietong-desk")
        data_dir.mkdir(parents=True, exist_ok=True)
        key = os.environ.get("XIETONG_SECRET_KEY") or _kept_key(data_dir)
        return cls(db_url=db_url, data_dir=data_dir, secret_key=key,
                   secure_cookies=os.environ.get("XIETONG_SECURE_COOKIES", "") in ("1", "true", "yes"),
                   max_upload=current().max_file_bytes + 2**20,
                   desk_url=os.environ.get("XIETONG_DESK_URL") or None,
                   smtp_url=os.environ.get("XIETONG_SMTP") or None,
                   mail_from=os.environ.get("XIETONG_MAIL_FROM") or None)


def _kept_key(data_dir: Path) -> str:
    """A random secret key made once and kept (mode 0600) in the data directory, so that
    sessions survive a restart; XIETONG_SECRET_KEY overrides it (several servers share one)."""
    path = data_dir / "secret_key"
    try:
        return path.read_text("ascii").strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key


def route_path(request: Request) -> str:
    """The request's path inside the desk, without the proxy's prefix (root_path), whether the
    server passed the path with the prefix (uvicorn, per ASGI) or without it."""
    path = request.scope.get("path", "/")
    root = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):] or "/"
    return path


def desk(request: Request):
    """(settings, database) of the application serving `request`."""
    return request.app.state.settings, request.app.state.db


def current_actor(request: Request):
    """The signed-in account, or None. Looked up once per request: a disabled account or a
    changed password ends the session at once."""
    if "actor" in request.scope.get("state", {}):
        return request.state.actor
    found = None
    session = request.session
    if "uid" in session:
        _, db = desk(request)
        found = api.session_actor(db, session["uid"], session.get("epoch", -1))
        if found is None:
            session.clear()
    request.state.actor = found
    return found


def require(request: Request, action: str, item: dict | None = None):
    """The signed-in account if it may do `action` (on `item`); else Unauthorized / Forbidden.
    Every view calls this (tests/test_desk_routes.py walks every route with every role)."""
    actor = current_actor(request)
    if actor is None:
        raise Unauthorized()
    if not api.may(actor, action, item):
        raise Forbidden()
    return actor


def signed_in(request: Request):
    actor = current_actor(request)
    if actor is None:
        raise Unauthorized()
    return actor


def language(request: Request) -> str:
    """The reader's language: chosen in this session, else the account's, else the database's
    (SPEC §10.5), else English."""
    lang = request.session.get("lang")
    if lang in ("zh", "en"):
        return lang
    actor = current_actor(request)
    if actor is not None and actor.lang in ("zh", "en"):
        return actor.lang
    _, db = desk(request)
    try:
        return api.database_language(db) or "en"
    except Exception:                      # noqa: BLE001 - an unreachable database: English
        return "en"


def period_of(value: str) -> str:
    """A period from the URL; a malformed one is no period (404)."""
    if not PERIOD_RE.match(value or ""):
        raise api.NotFound([f"no period {value!r}"])
    return value


def int_param(request: Request, name: str, default: int, lo: int = 0, hi: int = 10**9) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        return max(lo, min(hi, int(raw)))
    except ValueError:
        raise BadRequest(f"{name}: expected a whole number, got {raw!r}") from None


def reviews_for(request: Request, actor, assignee: str | None) -> str | None:
    """Whose items a list shows: a manager sees its own (asking for anyone else's is
    Forbidden); HR and auditors see everyone's, or `assignee`'s."""
    if actor.role == "manager":
        if assignee not in (None, "", actor.employee_id):
            raise Forbidden()
        return actor.employee_id
    if not api.may(actor, "reviews"):
        raise Forbidden()
    return assignee or None


def item_for(request: Request, period: str, review_id: str, action: str, lang: str) -> tuple:
    """(actor, item): the item exists (else 404, whoever asks) and the account may `action` it
    (else 403)."""
    actor = signed_in(request)
    _, db = desk(request)
    item = api.review_item(db, period, review_id, lang=lang)
    if not api.may(actor, action, item):
        raise Forbidden()
    return actor, item


def reviewer_id(actor) -> str:
    """Who a decision is recorded as: the manager's employee id; HR decides as "HR"."""
    return actor.employee_id if actor.role == "manager" else "HR"
