"""Every route of the desk × every role (and no session), including guessed ids (SPEC §12).

`CASES` holds, for each (method, path) of the application's route table, requests and the
status each role gets. `test_every_route_has_cases` walks the route table: a new route without
cases here fails it. Roles: no session, hr, auditor, boss (manager E1: two items), it (manager
E30: one item) — tests/desk_support.py.

The rules behind the expectations (xietong.accounts.may): no session → 401 (pages: 303 to the
sign-in page); HR may everything; an auditor reads everything and changes nothing (403); a
manager sees and decides its own items only (another's → 403), and nothing else (403); an item
or job that does not exist → 404 for whoever may look.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from starlette.routing import Mount, Route

from tests import desk_support
from tests.desk_support import PASSWORD, client, wait_for_jobs
from tests.ledgers import PERIOD

ROLES = ("anon", "hr", "auditor", "boss", "it")
MISSING = "R000000000000"          # a review id no item has
CLOSABLE = "2026-09"               # a period the walk closes and reopens
LOGIN = 303                        # a page without a session sends to the sign-in page


def S(anon, hr, auditor, boss, it=None) -> dict:
    return dict(zip(ROLES, (anon, hr, auditor, boss, boss if it is None else it)))


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("desk")
    url = desk_support.new_url(tmp)
    d = desk_support.build(tmp, url)
    import xietong
    with xietong.open_database(url) as db:       # reports to download (what a job writes)
        xietong.report(db, PERIOD, d.data_dir / "reports" / PERIOD, formats={"json"})
        # a second period, to close and reopen (another file: one file is one period's)
        from reports.template import write_ledger
        from tests.ledgers import worked_example
        september = worked_example()
        september.rows["Departments"][0]["base_score"] = Decimal("81")
        write_ledger(tmp / "september.xlsx", september.build().rows, lang="en")
        xietong.import_ledger(db, tmp / "september.xlsx", CLOSABLE)
        xietong.evaluate(db, CLOSABLE)
    owner, _ = client(d.app)
    with owner:                                   # the application's lifespan
        clients = {"anon": (owner, "")}
        for role in ROLES[1:]:
            clients[role] = client(d.app, role)
        yield d, clients
        wait_for_jobs(d.app)
    desk_support.forget(url)


def _workbook(d, assignee: str, decision: str) -> bytes:
    """`assignee`'s review workbook with every item decided `decision`."""
    import tempfile
    from pathlib import Path
    from openpyxl import load_workbook
    import xietong
    with tempfile.TemporaryDirectory() as tmp, xietong.open_database(d.url) as db:
        path = xietong.api.review_workbook(db, PERIOD, assignee, tmp, lang="en")
        wb = load_workbook(path)
        ws = wb["Reviews"]
        heads = [c.value for c in ws[1]]
        col = heads.index("decision") + 1
        for r in range(2, ws.max_row + 1):
            if ws.cell(r, 1).value:
                ws.cell(r, col).value = decision
        out = Path(tmp) / "back.xlsx"
        wb.save(out)
        return out.read_bytes()


def _ledger(d) -> dict:
    return {"files": {"file": ("worked-example.xlsx", d.ledger.read_bytes())}}


# (method, path) -> [(url (or function of the desk), request kwargs (or function), statuses)]
CASES = {
    ("GET", "/"): [("/", {}, S(LOGIN, 303, 303, 303))],
    ("GET", "/login"): [("/login", {}, S(200, 200, 200, 200))],
    ("POST", "/login"): [("/login", {"data": {"username": "nobody-on-a-page", "password": "wrong"}},
                          S(401, 401, 401, 401))],
    ("POST", "/logout"): [],          # test_sign_out (it ends the client's session)
    ("POST", "/language"): [("/language", {"data": {"lang": "en"}}, S(303, 303, 303, 303))],
    ("GET", "/periods"): [("/periods", {}, S(LOGIN, 200, 200, 403))],
    ("GET", "/periods/{period}"): [(f"/periods/{PERIOD}", {}, S(LOGIN, 200, 200, 403)),
                                   ("/periods/2026-13", {}, S(LOGIN, 404, 404, 403))],
    ("POST", "/periods/{period}/upload"): [
        (f"/periods/{PERIOD}/upload", _ledger, S(LOGIN, 200, 403, 403))],
    ("POST", "/periods/{period}/evaluate"): [
        (f"/periods/{PERIOD}/evaluate", {}, S(LOGIN, 303, 403, 403))],
    ("GET", "/jobs/{job_id}"): [("/jobs/999999", {}, S(LOGIN, 404, 404, 403)),
                                ("/jobs/abc", {}, S(LOGIN, 404, 404, 403))],
    ("GET", "/periods/{period}/files/{path:path}"): [
        (f"/periods/{PERIOD}/files/scores.json", {}, S(LOGIN, 200, 200, 403)),
        (f"/periods/{PERIOD}/files/nothing.json", {}, S(LOGIN, 404, 404, 403)),
        (f"/periods/{PERIOD}/files/..%2Fsecret_key", {}, S(LOGIN, 404, 404, 403))],
    ("GET", "/periods/{period}/scores"): [(f"/periods/{PERIOD}/scores", {}, S(LOGIN, 200, 200, 403)),
                                          ("/periods/2026-10/scores", {}, S(LOGIN, 404, 404, 403))],
    ("GET", "/reviews"): [("/reviews", {}, S(LOGIN, 200, 200, 200)),
                          ("/reviews?assignee=E30", {}, S(LOGIN, 200, 200, 403, 200)),
                          ("/reviews?assignee=E1", {}, S(LOGIN, 200, 200, 200, 403))],
    ("GET", "/periods/{period}/reviews"): [(f"/periods/{PERIOD}/reviews", {}, S(LOGIN, 303, 303, 303))],
    ("GET", "/periods/{period}/reviews/{review_id}"): [
        (lambda d: f"/periods/{PERIOD}/reviews/{d.own}", {}, S(LOGIN, 200, 200, 200, 403)),
        (lambda d: f"/periods/{PERIOD}/reviews/{d.other}", {}, S(LOGIN, 200, 200, 403, 200)),
        (f"/periods/{PERIOD}/reviews/{MISSING}", {}, S(LOGIN, 404, 404, 404, 404)),
        (lambda d: f"/periods/2026-10/reviews/{d.own}", {}, S(LOGIN, 404, 404, 404, 404))],
    ("POST", "/periods/{period}/reviews/{review_id}/decision"): [
        (lambda d: f"/periods/{PERIOD}/reviews/{d.own}/decision",
         {"data": {"decision": "confirm", "comment": "ok"}}, S(LOGIN, 200, 403, 200, 403)),
        (lambda d: f"/periods/{PERIOD}/reviews/{d.other}/decision",
         {"data": {"decision": "confirm"}}, S(LOGIN, 200, 403, 403, 200)),
        (f"/periods/{PERIOD}/reviews/{MISSING}/decision", {"data": {"decision": "confirm"}},
         S(LOGIN, 404, 404, 404, 404))],
    ("GET", "/periods/{period}/workbook"): [
        (f"/periods/{PERIOD}/workbook", {}, S(LOGIN, 404, 404, 200, 200)),
        (f"/periods/{PERIOD}/workbook?assignee=E30", {}, S(LOGIN, 200, 200, 403, 200))],
    ("POST", "/periods/{period}/decisions-file"): [
        (f"/periods/{PERIOD}/decisions-file",
         lambda d: {"files": {"file": ("E1.xlsx", _workbook(d, "E1", "confirm"))}},
         S(LOGIN, 200, 403, 200, 422))],
    ("GET", "/decisions"): [("/decisions", {}, S(LOGIN, 200, 200, 200))],
    ("GET", "/periods/{period}/trace"): [(f"/periods/{PERIOD}/trace", {}, S(LOGIN, 200, 200, 403)),
                                         (f"/periods/{PERIOD}/trace?sheet=Interlocks&result=exception",
                                          {}, S(LOGIN, 200, 200, 403))],
    ("GET", "/runs"): [("/runs", {}, S(LOGIN, 200, 200, 403))],
    ("GET", "/verify"): [("/verify", {}, S(LOGIN, 200, 200, 403))],
    ("POST", "/periods/{period}/notify"): [(f"/periods/{PERIOD}/notify", {}, S(LOGIN, 200, 403, 403))],
    ("POST", "/periods/{period}/close"): [
        (f"/periods/{CLOSABLE}/close", {"data": {"reason": "final", "with_open_reviews": "on"}},
         S(LOGIN, 303, 403, 403))],
    ("POST", "/periods/{period}/reopen"): [
        (f"/periods/{CLOSABLE}/reopen", {"data": {"reason": "a correction"}}, S(LOGIN, 303, 403, 403)),
        (f"/periods/{CLOSABLE}/reopen", {"data": {"reason": "again"}}, S(LOGIN, 409, 403, 403))],
    # ---------------------------------------------------------------- the performance year
    # summary and trends (HR, auditors; no manager: everyone's scores), feedback per department
    # (HR, auditors; a manager the departments it heads: "it" (E30) heads D3, "boss" (E1) D1,
    # which received no rating)
    ("GET", "/summary"): [("/summary", {}, S(LOGIN, 200, 200, 403)),
                          ("/summary?year=2026", {}, S(LOGIN, 200, 200, 403)),
                          ("/summary?quarter=2026-Q4&dept=D3&q=E3&offset=1", {},
                           S(LOGIN, 200, 200, 403)),
                          ("/summary?quarter=2026-Q5", {}, S(LOGIN, 400, 400, 403)),
                          ("/summary?year=2026&quarter=2026-Q4", {}, S(LOGIN, 200, 200, 403)),
                          ("/summary?year=2019", {}, S(LOGIN, 404, 404, 403))],
    ("GET", "/summary/{name}"): [
        ("/summary/summary.json?year=2026", {}, S(LOGIN, 200, 200, 403)),
        ("/summary/summary.html?quarter=2026-Q4", {}, S(LOGIN, 200, 200, 403)),
        ("/summary/secret_key?year=2026", {}, S(LOGIN, 404, 404, 403)),
        ("/summary/summary.xlsx?year=2019", {}, S(LOGIN, 404, 404, 403))],
    ("GET", "/feedback"): [("/feedback", {}, S(LOGIN, 200, 200, 200)),
                           (f"/feedback?period={PERIOD}", {}, S(LOGIN, 200, 200, 200)),
                           ("/feedback?period=2026-13", {}, S(LOGIN, 404, 404, 404))],
    ("GET", "/periods/{period}/feedback/{dept_id}"): [
        (f"/periods/{PERIOD}/feedback/D3", {}, S(LOGIN, 200, 200, 403, 200)),
        (f"/periods/{PERIOD}/feedback/D1", {}, S(LOGIN, 404, 404, 404, 404)),
        (f"/periods/{PERIOD}/feedback/NOPE", {}, S(LOGIN, 404, 404, 404, 404)),
        ("/periods/2026-10/feedback/D3", {}, S(LOGIN, 404, 404, 404, 404))],
    ("GET", "/periods/{period}/feedback/{dept_id}/workbook"): [
        (f"/periods/{PERIOD}/feedback/D3/workbook", {}, S(LOGIN, 200, 200, 403, 200)),
        (f"/periods/{PERIOD}/feedback/NOPE/workbook", {}, S(LOGIN, 404, 404, 404, 404))],
    ("GET", "/api/summary"): [("/api/summary?year=2026", {}, S(401, 200, 200, 403)),
                              ("/api/summary?year=2026&quarter=2026-Q4", {}, S(401, 400, 400, 403)),
                              ("/api/summary?quarter=2026-Q5", {}, S(401, 400, 400, 403)),
                              ("/api/summary?year=2019", {}, S(401, 404, 404, 403))],
    ("GET", "/api/periods/{period}/feedback/{dept_id}"): [
        (f"/api/periods/{PERIOD}/feedback/D3", {}, S(401, 200, 200, 403, 200)),
        (f"/api/periods/{PERIOD}/feedback/NOPE", {}, S(401, 404, 404, 404, 404))],
    # ---------------------------------------------------------------- the JSON API
    ("POST", "/api/login"): [("/api/login", {"json": {"username": "nobody", "password": "x"}},
                              S(401, 401, 401, 401))],
    ("POST", "/api/logout"): [],      # test_sign_out
    ("GET", "/api/periods"): [("/api/periods", {}, S(401, 200, 200, 403))],
    ("POST", "/api/periods/{period}/imports"): [
        (f"/api/periods/{PERIOD}/imports", _ledger, S(401, 201, 403, 403))],
    ("POST", "/api/periods/{period}/runs"): [
        (f"/api/periods/{PERIOD}/runs", {}, S(401, 202, 403, 403)),
        ("/api/periods/2026-10/runs", {}, S(401, 404, 403, 403))],
    ("GET", "/api/jobs/{job_id}"): [("/api/jobs/999999", {}, S(401, 404, 404, 403))],
    ("GET", "/api/periods/{period}/scores"): [
        (f"/api/periods/{PERIOD}/scores", {}, S(401, 200, 200, 403)),
        ("/api/periods/2026-10/scores", {}, S(401, 404, 404, 403))],
    ("GET", "/api/periods/{period}/reviews"): [
        (f"/api/periods/{PERIOD}/reviews", {}, S(401, 200, 200, 200)),
        (f"/api/periods/{PERIOD}/reviews?assignee=E30", {}, S(401, 200, 200, 403, 200)),
        (f"/api/periods/{PERIOD}/reviews?status=wrong", {}, S(401, 400, 400, 400)),
        ("/api/periods/2026-10/reviews", {}, S(401, 404, 404, 404))],
    ("POST", "/api/periods/{period}/reviews/{review_id}/decision"): [
        (lambda d: f"/api/periods/{PERIOD}/reviews/{d.own}/decision",
         {"json": {"decision": "overturn", "comment": "API"}}, S(401, 200, 403, 200, 403)),
        (lambda d: f"/api/periods/{PERIOD}/reviews/{d.other}/decision",
         {"json": {"decision": "confirm"}}, S(401, 200, 403, 403, 200)),
        (lambda d: f"/api/periods/{PERIOD}/reviews/{d.own}/decision",
         {"json": {"decision": "maybe"}}, S(401, 422, 403, 422, 403)),
        (f"/api/periods/{PERIOD}/reviews/{MISSING}/decision", {"json": {"decision": "confirm"}},
         S(401, 404, 404, 404, 404))],
    ("GET", "/api/periods/{period}/firings"): [
        (f"/api/periods/{PERIOD}/firings", {}, S(401, 200, 200, 403)),
        (f"/api/periods/{PERIOD}/firings?offset=x", {}, S(401, 400, 400, 403))],
    ("GET", "/api/verify"): [("/api/verify", {}, S(401, 200, 200, 403))],
    ("GET", "/api/runs"): [("/api/runs", {}, S(401, 200, 200, 403))],
    ("GET", "/api/decisions"): [("/api/decisions", {}, S(401, 200, 200, 200))],
    ("POST", "/api/periods/{period}/notify"): [
        (f"/api/periods/{PERIOD}/notify", {}, S(401, 200, 403, 403))],
}


def test_every_route_has_cases(desk):
    d, _ = desk
    found = set()
    for route in d.app.routes:
        if isinstance(route, Mount):
            assert route.path == "/static"
            continue
        assert isinstance(route, Route)
        for method in route.methods - {"HEAD"}:
            found.add((method, route.path))
    assert found == set(CASES), (sorted(found - set(CASES)), sorted(set(CASES) - found))


@pytest.mark.parametrize("key", sorted(CASES), ids=lambda k: f"{k[0]} {k[1]}")
def test_route_by_role(desk, key):
    d, clients = desk
    for url, kwargs, want in CASES[key]:
        url = url(d) if callable(url) else url
        for role in ROLES:
            c, token = clients[role]
            args = kwargs(d) if callable(kwargs) else dict(kwargs)
            if key[0] == "POST" and token:
                args.setdefault("headers", {})["X-CSRF-Token"] = token
            r = getattr(c, key[0].lower())(url, **args)
            assert r.status_code == want[role], (role, url, r.status_code, r.text[:400])
            if r.status_code in (401, 403, 404) and url.startswith("/api/"):
                assert set(r.json()) == {"error"}          # never the data
            if r.status_code == 202:
                wait_for_jobs(d.app)
            if r.status_code == 303 and url.endswith("/evaluate"):
                wait_for_jobs(d.app)
    if key == ("GET", "/"):
        assert clients["anon"][0].get("/").headers["location"].endswith("/login")
        assert clients["boss"][0].get("/").headers["location"].endswith("/reviews")
        assert clients["hr"][0].get("/").headers["location"].endswith("/periods")


def test_a_manager_sees_only_its_own_items(desk):
    d, clients = desk
    boss = clients["boss"][0].get(f"/api/periods/{PERIOD}/reviews").json()
    it = clients["it"][0].get(f"/api/periods/{PERIOD}/reviews").json()
    everyone = clients["auditor"][0].get(f"/api/periods/{PERIOD}/reviews").json()
    assert sorted(x["review_id"] for x in boss) == sorted([d.own, d.boss_interlock])
    assert [x["review_id"] for x in it] == [d.other]
    assert len(everyone) == 3
    page = clients["boss"][0].get("/reviews").text
    assert d.own in page and d.other not in page


def test_sign_out(desk):
    d, _ = desk
    for path in ("/logout", "/api/logout"):
        c, token = client(d.app, "auditor")
        assert c.get("/api/periods").status_code == 200
        r = c.post(path, headers={"X-CSRF-Token": token})
        assert r.status_code == (303 if path == "/logout" else 200)
        assert c.get("/api/periods").status_code == 401
        anon, _ = client(d.app)
        assert anon.post(path).status_code == (LOGIN if path == "/logout" else 401)


def test_a_change_without_the_csrf_token_is_refused(desk):
    d, clients = desk
    c, token = clients["hr"]
    url = f"/api/periods/{PERIOD}/reviews/{d.own}/decision"
    assert c.post(url, json={"decision": "confirm"}).status_code == 403
    assert c.post(url, json={"decision": "confirm"},
                  headers={"X-CSRF-Token": token[:-1] + "x"}).status_code == 403
    page = f"/periods/{PERIOD}/reviews/{d.own}/decision"
    assert c.post(page, data={"decision": "confirm"}).status_code == 403
    assert c.post(page, data={"decision": "confirm", "csrf_token": "nope"}).status_code == 403
    assert c.post(page, data={"decision": "confirm", "csrf_token": token}).status_code == 200
    # a multipart form carries it as a field
    r = c.post(f"/periods/{PERIOD}/upload", data={"csrf_token": token},
               files={"file": ("worked-example.xlsx", d.ledger.read_bytes())})
    assert r.status_code == 200
    r = c.post(f"/periods/{PERIOD}/upload",
               files={"file": ("worked-example.xlsx", d.ledger.read_bytes())})
    assert r.status_code == 403


def test_an_upload_too_large_is_refused_before_it_is_read(desk):
    d, clients = desk
    c, token = clients["hr"]
    big = b"x" * (3 * 2**20)                    # the test desk's limit is 2 MB
    r = c.post(f"/api/periods/{PERIOD}/imports", headers={"X-CSRF-Token": token},
               files={"file": ("big.xlsx", big)})
    assert r.status_code == 413
    # without a Content-Length: counted as it streams

    def chunks():
        for _ in range(48):
            yield b"y" * 65536
    r = c.post(f"/api/periods/{PERIOD}/imports",
               headers={"X-CSRF-Token": token, "Content-Type": "multipart/form-data; boundary=b"},
               content=chunks())
    assert r.status_code == 413
    # any other request has a 1 MB limit
    r = c.post(f"/api/periods/{PERIOD}/reviews/{d.own}/decision",
               headers={"X-CSRF-Token": token}, json={"decision": "confirm", "comment": "z" * 2**21})
    assert r.status_code == 413


def test_a_bad_workbook_answers_its_cells(desk):
    d, clients = desk
    c, token = clients["hr"]
    r = c.post(f"/api/periods/{PERIOD}/imports", headers={"X-CSRF-Token": token},
               files={"file": ("notes.xlsx", b"this is not a workbook")})
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert len(errors) == 1 and errors[0]["sheet"] is None
    assert "notes.xlsx" in errors[0]["message"] or "workbook" in errors[0]["message"].lower()


def test_a_closed_period_refuses_changes(desk):
    """SPEC §11.1, §12: a closed period refuses changes with 409, saying since when and by
    whom; the closing is chained with HR's account; reopening lets changes in again."""
    import xietong
    d, clients = desk
    c, token = clients["hr"]
    h = {"X-CSRF-Token": token}
    # a period with open reviews closes only when HR says so (the command's words, listed)
    r = c.post(f"/periods/{CLOSABLE}/close", headers=h, data={"reason": "month end"})
    assert r.status_code == 409 and "--with-open-reviews" in r.text and "E30" in r.text
    r = c.post(f"/periods/{PERIOD}/close", headers=h,
               data={"reason": "month end", "with_open_reviews": "on"})
    assert r.status_code == 303
    try:
        refused = c.post(f"/api/periods/{PERIOD}/reviews/{d.own}/decision", headers=h,
                         json={"decision": "confirm"})
        assert refused.status_code == 409
        assert "hr" in refused.json()["error"] and PERIOD in refused.json()["error"]
        assert c.post(f"/api/periods/{PERIOD}/runs", headers=h).status_code == 409
        assert c.post(f"/api/periods/{PERIOD}/imports", headers=h, **_ledger(d)).status_code == 409
        state = next(p for p in c.get("/api/periods").json() if p["period"] == PERIOD)
        assert (state["state"], state["closed"]["by"], state["closed"]["reason"]) == \
            ("closed", "hr", "month end")
        boss, btoken = clients["boss"]
        assert boss.post(f"/api/periods/{PERIOD}/reviews/{d.own}/decision",
                         headers={"X-CSRF-Token": btoken},
                         json={"decision": "confirm"}).status_code == 409
    finally:
        r = c.post(f"/periods/{PERIOD}/reopen", headers=h, data={"reason": "test over"})
        assert r.status_code == 303
    assert c.post(f"/api/periods/{PERIOD}/reviews/{d.own}/decision", headers=h,
                  json={"decision": "confirm"}).status_code == 200
    with xietong.open_database(d.url) as db:
        assert xietong.verify(db).ok


def test_login_answers_as_the_spec_says(desk):
    d, _ = desk
    c, _ = client(d.app)
    r = c.post("/api/login", json={"username": "boss", "password": PASSWORD})
    body = r.json()
    assert (r.status_code, body["username"], body["role"], body["employee_id"]) == \
        (200, "boss", "manager", "E1")
    assert len(body["csrf_token"]) >= 32
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert c.post("/api/login", json=["boss"]).status_code == 400


def test_the_reviews_api_pages_on_request(desk):
    _, clients = desk
    c = clients["hr"][0]
    everything = c.get(f"/api/periods/{PERIOD}/reviews").json()
    r = c.get(f"/api/periods/{PERIOD}/reviews", params={"offset": 1, "limit": 1})
    assert r.headers["x-total-count"] == "3"
    assert r.json() == everything[1:2]


def test_behind_a_proxy_with_a_path_prefix(desk):
    """Under --root-path /xietong (docs/deploy.md) links, redirects and the sign-in's way back
    carry the prefix once."""
    d, _ = desk
    c = desk_support.TestClient(d.app, root_path="/xietong", follow_redirects=False)
    r = c.get("/periods")
    assert (r.status_code, r.headers["location"]) == (
        303, "http://testserver/xietong/login?next=%2Fperiods")
    r = c.post("/login", data={"username": "hr", "password": PASSWORD, "next": "/periods"})
    assert (r.status_code, r.headers["location"]) == (303, "/xietong/periods")
    page = c.get("/periods").text
    assert 'href="http://testserver/xietong/static/desk.css"' in page
    assert 'name="back" value="/periods"' in page
