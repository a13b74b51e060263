"""Desk accounts (SPEC §12): `xietong user add/disable/passwd/list`, argon2id hashes, the
lock-out after five failed sign-ins in 15 minutes, sessions that end with a new password or a
disabled account, and the account recorded in the chain for every change it makes."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session

import xietong
from evaluator.db import make_engine
from evaluator.desk_tables import SignIn
from tests import desk_support
from tests.desk_support import PASSWORD, client
from tests.ledgers import PERIOD
from xietong import accounts
from xietong.cli import main


def cli(*argv, stdin: str | None = None, monkeypatch=None):
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_user_commands(db_url, monkeypatch):
    code, out, err = cli("user", "add", "anna", "--role", "manager", "--employee", "E7",
                         "--name", "Anna", "--email", "anna@example.com", "--password-stdin",
                         "--db", db_url, "--lang", "en", stdin="s3cret-pass\n",
                         monkeypatch=monkeypatch)
    assert (code, err) == (0, "") and "Account anna (manager) created" in out
    code, out, err = cli("user", "add", "anna", "--role", "hr", "--password-stdin", "--db",
                         db_url, "--lang", "en", stdin="another-pass\n", monkeypatch=monkeypatch)
    assert code == 1 and err == "the username 'anna' is taken\n"
    code, out, err = cli("user", "add", "bob", "--role", "manager", "--password-stdin", "--db",
                         db_url, "--lang", "en", stdin="long-enough\n", monkeypatch=monkeypatch)
    assert code == 1 and err == "a manager account needs --employee ID\n"
    code, out, err = cli("user", "add", "bob", "--role", "auditor", "--password-stdin", "--db",
                         db_url, "--lang", "zh", stdin="short\n", monkeypatch=monkeypatch)
    assert code == 1 and err == "密码至少需要 8 个字符\n"
    code, out, err = cli("user", "list", "--db", db_url, "--lang", "en")
    assert out.splitlines()[1:] == ["anna              manager   E7  Anna  anna@example.com"]
    # the hash is argon2id, never the password
    engine = make_engine(db_url)
    try:
        with engine.connect() as c:
            stored = c.exec_driver_sql("SELECT password_hash FROM desk_account").scalar()
    finally:
        engine.dispose()
    assert stored.startswith("$argon2id$") and "s3cret-pass" not in stored
    with xietong.open_database(db_url) as db:
        assert xietong.api.sign_in(db, "anna", "s3cret-pass").employee_id == "E7"
    code, out, _ = cli("user", "passwd", "anna", "--password-stdin", "--db", db_url, "--lang",
                       "en", stdin="new-password\n", monkeypatch=monkeypatch)
    assert code == 0
    code, out, _ = cli("user", "disable", "anna", "--db", db_url, "--lang", "en")
    assert code == 0
    code, out, _ = cli("user", "list", "--db", db_url, "--lang", "en")
    assert out.splitlines()[1].endswith("(disabled)")
    with xietong.open_database(db_url) as db, pytest.raises(xietong.Refused):
        xietong.api.sign_in(db, "anna", "new-password")


@pytest.fixture
def desk(tmp_path):
    url = desk_support.new_url(tmp_path)
    d = desk_support.build(tmp_path, url)
    yield d
    d.app.state.db.close()
    desk_support.forget(url)


def test_five_failures_lock_a_username_for_fifteen_minutes(desk):
    c, _ = client(desk.app)
    for _ in range(5):
        r = c.post("/api/login", json={"username": "auditor", "password": "wrong password"})
        assert r.status_code == 401
    r = c.post("/api/login", json={"username": "auditor", "password": PASSWORD})
    assert r.status_code == 429 and "locked until" in r.json()["error"]
    # another username is not locked; a page sign-in is locked the same way
    assert c.post("/api/login", json={"username": "hr", "password": PASSWORD}).status_code == 200
    assert c.post("/login", data={"username": "auditor", "password": PASSWORD}).status_code == 429


def test_the_lock_rule_by_the_clock(db_url):
    """Five failures within 15 minutes lock for 15 minutes from the fifth; attempts while
    locked neither count nor extend it; a success starts the count again."""
    engine = make_engine(db_url)
    try:
        accounts.ensure_tables(engine)
        t0 = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
        minutes = [0, 1, 2, 3, 14]            # five within 15 minutes: locked 09:14 → 09:29
        with Session(engine) as s, s.begin():
            for m in minutes:
                s.add(SignIn(username="u", ok=False, at=t0 + timedelta(minutes=m)))
            s.add(SignIn(username="u", ok=False, at=t0 + timedelta(minutes=20)))   # while locked
        with Session(engine) as s, s.begin():
            assert accounts.locked_until(s, "u", t0 + timedelta(minutes=15)) == \
                t0 + timedelta(minutes=29)
            assert accounts.locked_until(s, "u", t0 + timedelta(minutes=29)) is None
            # four failures spread over more than 15 minutes lock nothing
            for m in (0, 10, 20, 30):
                s.add(SignIn(username="v", ok=False, at=t0 + timedelta(minutes=m)))
            s.flush()
            assert accounts.locked_until(s, "v", t0 + timedelta(minutes=31)) is None
            for m in (40, 41, 42, 43):            # a success between resets the count
                s.add(SignIn(username="w", ok=False, at=t0 + timedelta(minutes=m)))
            s.add(SignIn(username="w", ok=True, at=t0 + timedelta(minutes=44)))
            s.add(SignIn(username="w", ok=False, at=t0 + timedelta(minutes=45)))
            s.flush()
            assert accounts.locked_until(s, "w", t0 + timedelta(minutes=46)) is None
    finally:
        engine.dispose()


def test_a_new_password_or_a_disable_ends_the_sessions(desk):
    c, _ = client(desk.app, "boss")
    assert c.get(f"/api/periods/{PERIOD}/reviews").status_code == 200
    with xietong.open_database(desk.url) as db:
        xietong.api.set_account_password(db, "boss", "another password")
    assert c.get(f"/api/periods/{PERIOD}/reviews").status_code == 401
    c2, _ = client(desk.app, "it")
    with xietong.open_database(desk.url) as db:
        xietong.api.disable_account(db, "it")
    assert c2.get(f"/api/periods/{PERIOD}/reviews").status_code == 401
    assert c2.post("/api/login", json={"username": "it", "password": PASSWORD}).status_code == 401


def test_every_change_names_its_account_in_the_chain(desk):
    """The upload, the decision and the run a desk account makes carry its username in their
    chained content; the chain verifies."""
    c, token = client(desk.app, "boss")
    h = {"X-CSRF-Token": token}
    r = c.post(f"/api/periods/{PERIOD}/reviews/{desk.own}/decision", headers=h,
               json={"decision": "overturn", "comment": "评分有据：客户确认"})
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["decision"]["value"], body["decision"]["by"],
            body["decision"]["comment"], body["decision"]["account"]) == \
        ("overturned", "overturn", "E1", "评分有据：客户确认", "boss")
    hr, htoken = client(desk.app, "hr")
    ledger2 = desk.ledger.with_name("second.xlsx")
    from openpyxl import load_workbook
    wb = load_workbook(desk.ledger)
    wb["Departments"]["E3"] = 71                # D3's base 70 → 71: another file
    wb.save(ledger2)
    r = hr.post(f"/api/periods/{PERIOD}/imports", headers={"X-CSRF-Token": htoken},
                files={"file": ("second.xlsx", ledger2.read_bytes())})
    assert r.status_code == 201, r.text
    with xietong.open_database(desk.url) as db:
        engine = db.engine
        with engine.connect() as conn:
            imp = conn.exec_driver_sql(
                "SELECT file_name, account FROM ledger_import ORDER BY id DESC").first()
            dec = conn.exec_driver_sql(
                "SELECT reviewer_id, account, file_name, sheet, \"row\" FROM decision").all()
        assert tuple(imp) == ("second.xlsx", "hr")
        assert [tuple(x) for x in dec] == [("E1", "boss", "desk", "desk", 0)]
        from evaluator.db import Decision, LedgerImport
        from sqlmodel import select
        with Session(engine) as s:
            d = s.exec(select(Decision)).one()
            assert d.chain_content()["account"] == "boss"
            i = s.exec(select(LedgerImport).order_by(LedgerImport.id.desc())).first()
            assert i.chain_content()["account"] == "hr"
        assert xietong.verify(db).ok


def test_a_bad_ledger_shows_its_cells_in_the_page_in_its_language(desk, tmp_path):
    """The upload page shows the import's Sheet!Cell problems in the ledger's language (a
    Chinese ledger: Chinese messages), whatever the page's language; nothing is stored."""
    from openpyxl import load_workbook
    from reports.template import write_ledger
    from tests.ledgers import worked_example
    bad = tmp_path / "坏台账.xlsx"
    write_ledger(bad, worked_example().build().rows, lang="zh")
    wb = load_workbook(bad)
    wb["部门"]["E3"] = "七十"                 # D3's base score, not a number
    wb.save(bad)
    hr, token = client(desk.app, "hr")
    assert hr.post("/language", data={"lang": "en", "csrf_token": token}).status_code == 303
    r = hr.post(f"/periods/{PERIOD}/upload", data={"csrf_token": token},
                files={"file": ("坏台账.xlsx", bad.read_bytes())})
    assert r.status_code == 422
    assert "部门!E3（部门绩效得分）：应为数字" in r.text
    assert "Upload a ledger" in r.text                       # the page itself in English
    r = hr.post("/language", data={"lang": "zh", "csrf_token": token, "back": f"/periods/{PERIOD}"})
    assert r.headers["location"] == f"/periods/{PERIOD}"
    assert "上传台账" in hr.get(f"/periods/{PERIOD}").text
    with xietong.open_database(desk.url) as db:
        assert [p["active_import"]["file_name"] for p in xietong.api.periods(db)] == \
            ["worked-example.xlsx"]


def test_a_returned_workbook_ends_in_the_same_decision_record(desk, tmp_path):
    """A manager's workbook, returned through the desk, records what deciding in the page
    records (same record, its account), from its file."""
    from openpyxl import load_workbook
    boss, token = client(desk.app, "boss")
    r = boss.get(f"/periods/{PERIOD}/workbook")
    assert r.status_code == 200
    path = tmp_path / "E1.xlsx"
    path.write_bytes(r.content)
    wb = load_workbook(path)
    ws = wb["Reviews"]
    heads = [c.value for c in ws[1]]
    for row in range(2, ws.max_row + 1):
        if ws.cell(row, 1).value == desk.own:
            ws.cell(row, heads.index("decision") + 1).value = "overturn"
            ws.cell(row, heads.index("comment") + 1).value = "退回：评分无依据"
    wb.save(path)
    r = boss.post(f"/periods/{PERIOD}/decisions-file", data={"csrf_token": token},
                  files={"file": ("E1-back.xlsx", path.read_bytes())})
    assert r.status_code == 200, r.text
    api_item = boss.get(f"/api/periods/{PERIOD}/reviews").json()
    mine = next(x for x in api_item if x["review_id"] == desk.own)
    assert (mine["status"], mine["decision"]["value"], mine["decision"]["comment"],
            mine["decision"]["by"], mine["decision"]["account"]) == \
        ("overturned", "overturn", "退回：评分无依据", "E1", "boss")
    decisions = boss.get("/api/decisions").json()
    assert [(d["review_id"], d["file_name"], d["account"]) for d in decisions] == \
        [(desk.own, "E1-back.xlsx", "boss")]
    # the other manager cannot return boss's workbook, nor HR's decisions pass as boss's
    it, itoken = client(desk.app, "it")
    r = it.post(f"/periods/{PERIOD}/decisions-file", data={"csrf_token": itoken},
                files={"file": ("E1-back.xlsx", path.read_bytes())})
    assert r.status_code == 422 and "is not an item assigned to E30" in r.text
