"""Accounts of the desk (SPEC §12) and the one rule of who may do what.

Three roles: **hr** does everything (uploads, evaluations, decisions on anyone's behalf,
notifications, close and reopen); an **auditor** reads everything and changes nothing; a
**manager** is bound to an employee id and sees and decides only the review items assigned to
it. Every view of the desk, page or JSON, asks `may(account, action, item)` and nothing else.

Passwords are argon2id hashes (argon2-cffi's defaults). Five failed sign-ins for one username
within 15 minutes lock it for 15 minutes from the fifth: attempts during the lock are refused
without looking at the password (and are recorded, but do not extend it). A successful
sign-in starts the count again. Unknown usernames are counted and locked alike, so the answer
never tells whether a username exists.

The command line (`xietong user …`) and the desk call these functions through xietong.api.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from evaluator.db import reader, utcnow
from evaluator.desk_tables import ROLES, Account, SignIn, ensure_tables

LOCK_AFTER = 5
LOCK_WINDOW = timedelta(minutes=15)
LOCK_FOR = timedelta(minutes=15)
MIN_PASSWORD = 8
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")

_hasher = PasswordHasher()          # argon2id, RFC 9106's second recommended parameters


class AccountProblem(Exception):
    """A refused account change or sign-in: `key` names the message (xietong.words), `values`
    fill it in."""

    def __init__(self, key: str, **values):
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True)
class Actor:
    """The signed-in account as every view sees it (no password hash)."""
    id: int
    username: str
    role: str
    employee_id: str | None
    name: str | None
    email: str | None
    lang: str | None
    session_epoch: int

    @classmethod
    def of(cls, a: Account) -> "Actor":
        return cls(a.id, a.username, a.role, a.employee_id, a.name, a.email, a.lang,
                   a.session_epoch)


# --------------------------------------------------------------------------- who may do what

READ_ALL = {"periods", "reports", "reviews", "trace", "runs", "verify", "decisions", "scores",
            "jobs", "summary", "feedback"}
CHANGES = {"import", "evaluate", "decide", "notify", "close", "reopen"}


def may(actor: Actor | None, action: str, item: dict | None = None) -> bool:
    """May `actor` do `action` (on `item`, a review item {"assignee_id": …} where it matters)?

    * hr: everything.
    * auditor: every reading action, no change.
    * manager: the review items assigned to its employee id — read them ("review"), decide
      them ("decide"), and list its own ("my_reviews", "my_decisions"); an item that moved up
      from it past its deadline (SPEC §11.4: `item["moved_from"]`) it may still read and
      decide, as its returned workbook may (the new assignee decides it too; the later
      decision stands); the feedback of the departments it heads ("feedback": `item["manager_id"]`, the
      department's head in the period's ledger; "my_feedback" lists them). No summary: the
      range's figures are everyone's scores (docs/decisions.md).
    """
    if actor is None:
        return False
    if action not in READ_ALL | CHANGES | {"review", "my_reviews", "my_decisions", "my_feedback",
                                           "language"}:
        raise ValueError(f"unknown action {action!r}")
    if action == "language":                       # one's own display language
        return True
    if actor.role == "hr":
        return True
    if actor.role == "auditor":
        return action in READ_ALL or action == "review"
    if actor.role == "manager":
        me = actor.employee_id
        if me is None:
            return False
        if action in ("my_reviews", "my_decisions", "my_feedback"):
            return True
        if item is None:
            return False
        if action in ("decide", "review"):
            return item.get("assignee_id") == me or me in (item.get("moved_from") or ())
        if action == "feedback":
            return item.get("manager_id") == me
        return False
    return False


# --------------------------------------------------------------------------- accounts

def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise AccountProblem("password_short", n=MIN_PASSWORD)


def add(engine, username: str, role: str, password: str, *, employee_id: str | None = None,
        name: str | None = None, email: str | None = None) -> Actor:
    ensure_tables(engine)
    if not username or not set(username) <= USERNAME_CHARS or len(username) > 64:
        raise AccountProblem("username_bad", username=username)
    if role not in ROLES:
        raise AccountProblem("role_bad", role=role)
    if role == "manager" and not employee_id:
        raise AccountProblem("manager_needs_employee")
    if email is not None and "@" not in email:
        raise AccountProblem("email_bad", email=email)
    _check_password(password)
    hashed = _hasher.hash(password)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        if session.exec(select(Account).where(Account.username == username)).first():
            raise AccountProblem("username_taken", username=username)
        account = Account(username=username, role=role, employee_id=employee_id or None,
                          name=name or None, email=email or None, password_hash=hashed)
        session.add(account)
        session.flush()
        return Actor.of(account)


def _change(engine, username: str, change) -> Actor:
    ensure_tables(engine)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        account = session.exec(select(Account).where(Account.username == username)).first()
        if account is None:
            raise AccountProblem("username_unknown", username=username)
        change(account)
        session.add(account)
        session.flush()
        return Actor.of(account)


def set_password(engine, username: str, password: str) -> Actor:
    """A new password; sessions signed in with the old one end."""
    _check_password(password)
    hashed = _hasher.hash(password)

    def change(a: Account):
        a.password_hash = hashed
        a.disabled = False
        a.session_epoch += 1
    return _change(engine, username, change)


def disable(engine, username: str) -> Actor:
    """No more sign-ins, and its sessions end (the account stays: the chain names it)."""
    def change(a: Account):
        a.disabled = True
        a.session_epoch += 1
    return _change(engine, username, change)


def set_language(engine, account_id: int, lang: str) -> None:
    ensure_tables(engine)
    with Session(engine) as session, session.begin():
        a = session.get(Account, account_id)
        if a is not None:
            a.lang = lang
            session.add(a)


def listing(engine) -> list[tuple[Actor, bool]]:
    """Every account with whether it is disabled, by username."""
    ensure_tables(engine)
    with Session(reader(engine)) as session, session.begin():
        return [(Actor.of(a), a.disabled)
                for a in session.exec(select(Account).order_by(Account.username))]


def actor(engine, account_id: int, epoch: int) -> Actor | None:
    """The account a session cookie names, while it is enabled and the cookie is current."""
    ensure_tables(engine)
    with Session(reader(engine)) as session, session.begin():
        a = session.get(Account, account_id)
        if a is None or a.disabled or a.session_epoch != epoch:
            return None
        return Actor.of(a)


def by_employee(engine) -> dict[str, Actor]:
    """employee id -> its enabled manager account (the first by username)."""
    ensure_tables(engine)
    out: dict[str, Actor] = {}
    with Session(reader(engine)) as session, session.begin():
        for a in session.exec(select(Account).where(Account.employee_id != None,  # noqa: E711
                                                    Account.disabled == False)  # noqa: E712
                              .order_by(Account.username)):
            out.setdefault(a.employee_id, Actor.of(a))
    return out


# --------------------------------------------------------------------------- signing in

def _aware(t: datetime) -> datetime:
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t


def locked_until(session: Session, username: str, now: datetime) -> datetime | None:
    """When the lock on `username` ends, if it is locked now: five failures within 15 minutes
    since its last successful sign-in lock it for 15 minutes from the fifth."""
    since = now - LOCK_WINDOW - LOCK_FOR
    attempts = session.exec(select(SignIn).where(SignIn.username == username, SignIn.at >= since)
                            .order_by(SignIn.at, SignIn.id)).all()
    failures: list[datetime] = []
    until = None
    for a in attempts:
        at = _aware(a.at)
        if a.ok:
            failures, until = [], None
            continue
        if until is not None and at < until:
            continue                  # refused while locked: not counted, does not extend it
        failures = [f for f in failures if at - f <= LOCK_WINDOW] + [at]
        if len(failures) >= LOCK_AFTER:
            until, failures = at + LOCK_FOR, []
    return until if until is not None and now < until else None


def sign_in(engine, username: str, password: str, address: str | None = None) -> Actor:
    """The account, or AccountProblem "locked" (until) / "sign_in_failed". Every attempt is
    recorded."""
    ensure_tables(engine)
    now = utcnow()
    with Session(reader(engine)) as session, session.begin():
        until = locked_until(session, username, now)
        account = session.exec(select(Account).where(Account.username == username)).first()
        stored = None if account is None else (account.password_hash, account.disabled)
    ok = False
    if until is None and stored is not None:
        try:
            ok = _hasher.verify(stored[0], password or "") and not stored[1]
        except (VerificationError, InvalidHashError):
            ok = False
    elif stored is None:
        try:                     # the same work for an unknown name: no timing difference
            _hasher.verify(_DUMMY, password or "")
        except (VerificationError, InvalidHashError):
            pass
    with Session(engine, expire_on_commit=False) as session, session.begin():
        session.add(SignIn(username=username[:64], ok=ok, at=now, address=address))
        found = session.exec(select(Account).where(Account.username == username)).first() \
            if ok else None
        signed_in = Actor.of(found) if found is not None else None
    if signed_in is not None:
        return signed_in
    if until is not None:
        raise AccountProblem("locked", until=until)
    raise AccountProblem("sign_in_failed")


_DUMMY = _hasher.hash("not a password of anyone")
