"""A desk to test (SPEC §12): SPEC §9's worked example imported and evaluated, four accounts,
and signed-in test clients.

The worked example's review items (hand-checked from SPEC §9): RATING_EXTREME on D3's rating
R3 (the 5), assigned to the rater E4's superior E1; INTERLOCK_MISSED for D1 (manager E1) and
for D3 (manager E30). So the manager "boss" (E1) has two items and "it" (E30) one.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import xietong
from reports.template import write_ledger
from tests.dbs import ON_POSTGRES, create_database, drop_database
from tests.ledgers import PERIOD, worked_example

with warnings.catch_warnings():        # Starlette asks for httpx2; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PASSWORD = "correct horse 1"
ACCOUNTS = {"hr": ("hr", None), "auditor": ("auditor", None), "boss": ("manager", "E1"),
            "it": ("manager", "E30")}


@dataclass
class Desk:
    url: str
    data_dir: Path
    ledger: Path
    app: object
    own: str              # boss's RATING_EXTREME item
    boss_interlock: str   # boss's INTERLOCK_MISSED item (D1)
    other: str            # it's INTERLOCK_MISSED item (D3)


def new_url(tmp: Path) -> str:
    return create_database() if ON_POSTGRES else f"sqlite:///{tmp / 'desk.db'}"


def forget(url: str) -> None:
    if ON_POSTGRES:
        drop_database(url)


def build(tmp: Path, url: str, accounts=ACCOUNTS, evaluate: bool = True) -> Desk:
    from xietong.desk.app import create_app
    from xietong.desk.common import Settings
    ledger = tmp / "worked-example.xlsx"
    write_ledger(ledger, worked_example().build().rows, lang="en")
    with xietong.open_database(url) as db:
        xietong.import_ledger(db, ledger, PERIOD)
        if evaluate:
            xietong.evaluate(db, PERIOD)
        for name, (role, employee) in accounts.items():
            xietong.api.add_account(db, name, role, PASSWORD, employee_id=employee,
                                    email=f"{name}@example.com" if role == "manager" else None)
        ids = {}
        if evaluate:
            for it in xietong.api.reviews(db, PERIOD).items:
                ids[(it["kind"], it["subject_id"])] = it["review_id"]
    settings = Settings(db_url=url, data_dir=tmp / "data", secret_key="test-secret",
                        max_upload=2 * 2**20)
    settings.data_dir.mkdir(exist_ok=True)
    app = create_app(settings)
    return Desk(url, settings.data_dir, ledger, app, ids.get(("RATING_EXTREME", "D3"), ""),
                ids.get(("INTERLOCK_MISSED", "D1"), ""), ids.get(("INTERLOCK_MISSED", "D3"), ""))


def client(app, username: str | None = None) -> tuple[TestClient, str]:
    """A test client, signed in as `username` (None: no session); and its CSRF token."""
    c = TestClient(app, follow_redirects=False)
    if username is None:
        return c, ""
    r = c.post("/api/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c, r.json()["csrf_token"]


def wait_for_job(app, job_id: int, timeout: float = 120) -> dict:
    """The job once it is done or failed."""
    db = app.state.db
    deadline = time.monotonic() + timeout
    while True:
        found = xietong.api.job(db, job_id, app.state.settings.data_dir)
        if found["state"] in ("done", "failed") or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def wait_for_jobs(app, timeout: float = 120) -> None:
    for j in xietong.api.jobs_of(app.state.db, None, app.state.settings.data_dir):
        if j["state"] in ("queued", "running"):
            wait_for_job(app, j["job_id"], timeout)
