"""The desk's accounts (SPEC §12): accounts added, changed and disabled, sign-in and the
session's account, the one authorisation rule (`may`), and the demo's accounts.
"""
from __future__ import annotations

from xietong.api.base import Database, Locked, Refused, _aware, _engine, _words
from xietong.api.reviewing import reviews


# --------------------------------------------------------------------------- accounts

def _account_refused(problem, lang) -> Refused:
    values = dict(problem.values)
    if "until" in values:
        values["until"] = _aware(values["until"]).strftime("%Y-%m-%d %H:%M UTC")
    return Refused([_words(lang, "account_" + problem.key, **values)])


def add_account(db: Database, username: str, role: str, password: str, *,
                employee_id: str | None = None, name: str | None = None,
                email: str | None = None, lang: str | None = None):
    """A new desk account (role hr | auditor | manager; a manager needs its employee id)."""
    from xietong.accounts import AccountProblem, add
    try:
        return add(_engine(db), username, role, password, employee_id=employee_id, name=name,
                   email=email)
    except AccountProblem as p:
        raise _account_refused(p, lang) from None


def set_account_password(db: Database, username: str, password: str, *, lang: str | None = None):
    """A new password (and the account enabled again); its sessions end."""
    from xietong.accounts import AccountProblem, set_password
    try:
        return set_password(_engine(db), username, password)
    except AccountProblem as p:
        raise _account_refused(p, lang) from None


def disable_account(db: Database, username: str, *, lang: str | None = None):
    """No more sign-ins; its sessions end. The account stays (the chain names it)."""
    from xietong.accounts import AccountProblem, disable
    try:
        return disable(_engine(db), username)
    except AccountProblem as p:
        raise _account_refused(p, lang) from None


def accounts(db: Database) -> list:
    """[(Actor, disabled)] by username."""
    from xietong.accounts import listing
    if not db.exists():
        return []
    return listing(_engine(db))


def sign_in(db: Database, username: str, password: str, *, address: str | None = None,
            lang: str | None = None):
    """The Actor, or Refused (wrong name or password) / Locked."""
    from xietong.accounts import AccountProblem, sign_in as check
    try:
        return check(_engine(db), username, password, address)
    except AccountProblem as p:
        refused = _account_refused(p, lang)
        if p.key == "locked":
            raise Locked(refused.lines) from None
        raise refused from None


def session_actor(db: Database, account_id: int, epoch: int):
    """The account a signed session names, or None (disabled, password changed, gone)."""
    from xietong.accounts import actor
    return actor(_engine(db), account_id, epoch)


def set_account_language(db: Database, account_id: int, lang: str) -> None:
    from xietong.accounts import set_language
    set_language(_engine(db), account_id, lang)


def may(actor, action: str, item: dict | None = None) -> bool:
    """Whether `actor` may do `action` (on `item`): xietong.accounts.may, the one rule."""
    from xietong.accounts import may as rule
    return rule(actor, action, item)


# --------------------------------------------------------------------------- the demo's accounts

def demo_accounts(db: Database, period: str, *, lang: str | None = None) -> list[tuple]:
    """One account per role for the sample company, each with a new random password (an account
    that exists gets a new one): HR, an auditor, and the manager with the most open review
    items of `period`. Returns (role, username, password, employee id or None) per account.
    Passwords are letters and digits only: easy to copy from a terminal, and never taken for
    an option."""
    import secrets
    import string
    alphabet = string.ascii_letters + string.digits
    counts: dict[str, int] = {}
    for it in reviews(db, period, type="review", status="open").items:
        if it["assignee_id"] != "HR":
            counts[it["assignee_id"]] = counts.get(it["assignee_id"], 0) + 1
    manager = max(sorted(counts), key=lambda k: counts[k]) if counts else None
    existing = {a.username for a, _ in accounts(db)}
    wanted = [("hr", "hr", None), ("auditor", "auditor", None)]
    if manager is not None:
        wanted.append(("manager", "manager", manager))
    made = []
    for username, role, employee in wanted:
        password = "".join(secrets.choice(alphabet) for _ in range(12))
        if username in existing:
            set_account_password(db, username, password, lang=lang)
        else:
            add_account(db, username, role, password, employee_id=employee, lang=lang,
                        email=f"{username}@example.com" if role == "manager" else None)
        made.append((role, username, password, employee))
    return made
