"""The desk end to end in a real browser (SPEC §12): Debian's chromium and chromium-driver driven
by selenium, against `xietong serve` running as its own process on 127.0.0.1.

HR signs in, uploads the sample company's ledger and evaluates it (the page follows the
background job); a manager signs in, finds its item among "my reviews" and confirms it with a
comment; HR evaluates again and sees the statement change; an auditor finds the decision, its
comment and author in the trace, then the quarter's summary and trends (with October added and
closed beside it) and the feedback the item's department received. Each role's main page, the
summary and the feedback are photographed by the browser: into
$XIETONG_SCREENSHOTS when set (`XIETONG_SCREENSHOTS=docs/img` refreshes the README's), else into
the test's temporary folder.

Skipped, saying why, only where the browser or its driver is missing — never when
XIETONG_REQUIRE_BROWSER=1 (CI installs both).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import xietong
from tests import desk_support

PERIOD = "2026-11"
PASSWORD = "browser-pass-1"


def _browser() -> tuple[str, str] | None:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (exe, driver) if exe and driver else None


@pytest.fixture(scope="module")
def browser():
    found = _browser()
    if found is None:
        if os.environ.get("XIETONG_REQUIRE_BROWSER") == "1":
            pytest.fail("XIETONG_REQUIRE_BROWSER=1 but chromium or chromedriver is missing "
                        "(apt-get install chromium chromium-driver)")
        pytest.skip("chromium and chromium-driver are not installed "
                    "(apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1000", "--disable-extensions", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def server(tmp_path):
    url = desk_support.new_url(tmp_path)
    with xietong.open_database(url) as db:
        xietong.api.add_account(db, "hr", "hr", PASSWORD, name="人力资源")
        xietong.api.add_account(db, "auditor", "auditor", PASSWORD, name="审计员")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, XIETONG_SECRET_KEY="browser-test", XIETONG_LOG_LEVEL="warning")
    env.pop("XIETONG_FAULT", None)
    proc = subprocess.Popen([sys.executable, "-m", "xietong.cli", "serve", "--db", url,
                             "--port", str(port), "--data", str(tmp_path / "desk")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(proc.stdout.read().decode())
            time.sleep(0.2)
    yield base, url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    desk_support.forget(url)


def _shots(tmp_path) -> Path:
    where = os.environ.get("XIETONG_SCREENSHOTS")
    path = Path(where) if where else tmp_path / "shots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_hr_manager_and_auditor_in_a_browser(browser, server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    base, url = server
    shots = _shots(tmp_path)
    b = browser
    wait = WebDriverWait(b, 180)

    def sign_in(username):
        b.delete_all_cookies()
        b.get(base + "/login")
        b.find_element(By.ID, "username").send_keys(username)
        b.find_element(By.ID, "password").send_keys(PASSWORD)
        b.find_element(By.ID, "sign-in").click()
        wait.until(EC.presence_of_element_located((By.ID, "whoami")))

    def evaluate():
        b.get(f"{base}/periods/{PERIOD}")
        b.find_element(By.ID, "evaluate-button").click()
        wait.until(EC.text_to_be_present_in_element_attribute((By.ID, "job"), "data-state", "done"))

    def final_of(dept):
        b.get(f"{base}/periods/{PERIOD}/scores")
        return b.find_element(By.CSS_SELECTOR, f"#dept-{dept} td.final").text

    # --- HR: upload the sample company's ledger, evaluate
    ledger = xietong.write_sample_ledger(tmp_path / "ledger-2026-11.xlsx", period=PERIOD)
    sign_in("hr")
    assert b.current_url.endswith("/periods")
    b.find_element(By.ID, "new-period").send_keys(PERIOD)
    b.find_element(By.ID, "go-period").click()
    wait.until(EC.presence_of_element_located((By.ID, "ledger-file")))
    b.find_element(By.ID, "ledger-file").send_keys(str(ledger))
    b.find_element(By.ID, "upload-button").click()
    uploaded = wait.until(EC.presence_of_element_located((By.ID, "uploaded"))).text
    assert "ledger-2026-11.xlsx" in uploaded
    evaluate()

    # the item the manager will decide: a held extreme rating whose row has no other item, so
    # that confirming it counts the rating and moves its department's peripheral points
    with xietong.open_database(url) as db:
        items = xietong.api.reviews(db, PERIOD, type="review").items
        rows = {}
        for it in items:
            for s in it["sources"]:
                rows.setdefault((s["sheet"], s["row"]), []).append(it)
        item = next(it for it in items if it["kind"] == "RATING_EXTREME"
                    and all(len(rows[(s["sheet"], s["row"])]) == 1 for s in it["sources"]))
        xietong.api.add_account(db, "manager", "manager", PASSWORD,
                                employee_id=item["assignee_id"], name="部门经理")
    before = final_of(item["subject_id"])
    b.get(f"{base}/periods/{PERIOD}")
    b.save_screenshot(str(shots / "desk-hr.png"))

    # --- the manager: my reviews, decide with a comment
    sign_in("manager")
    assert b.current_url.endswith("/reviews")
    assert b.find_element(By.ID, f"item-{item['review_id']}")
    b.save_screenshot(str(shots / "desk-manager.png"))
    b.find_element(By.LINK_TEXT, item["review_id"]).click()
    wait.until(EC.presence_of_element_located((By.ID, "decide-form")))
    comment = "评分属实：客户书面确认 (confirmed in writing)"
    b.find_element(By.ID, "decision-confirm").click()
    b.find_element(By.ID, "comment").send_keys(comment)
    b.find_element(By.ID, "decide-button").click()
    recorded = wait.until(EC.presence_of_element_located((By.ID, "recorded"))).text
    assert item["review_id"] in recorded
    assert comment in b.find_element(By.ID, "item-decision").text

    # --- HR: evaluate again, the statement changes
    sign_in("hr")
    evaluate()
    after = final_of(item["subject_id"])
    assert after != before, (before, after)

    # --- the auditor: the decision in the trace
    sign_in("auditor")
    b.get(f"{base}/periods/{PERIOD}/trace")
    b.find_element(By.ID, "f-review").send_keys(item["review_id"])
    b.find_element(By.ID, "filter-button").click()
    found = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".decision-in-trace"))).text
    assert comment in found and item["assignee_id"] in found and "manager" in found
    b.save_screenshot(str(shots / "desk-auditor.png"))

    # --- the auditor: the quarter's summary and trends (SPEC §11.2), with October evaluated and
    # closed beside it (final), November open (provisional) and December missing
    october = xietong.write_sample_ledger(tmp_path / "ledger-2026-10.xlsx", period="2026-10",
                                          seed=10)
    with xietong.open_database(url) as db:
        xietong.import_ledger(db, october, "2026-10")
        xietong.evaluate(db, "2026-10")
        xietong.api.close_period(db, "2026-10", reason="month end", by="hr",
                                 with_open_reviews=True)
    b.get(f"{base}/summary?quarter=2026-Q4")
    states = [b.find_element(By.CSS_SELECTOR, f"#month-{p} .state").get_attribute("class")
              for p in ("2026-10", "2026-11", "2026-12")]
    assert states == ["state final", "state provisional", "state missing"]
    assert b.find_elements(By.CSS_SELECTOR, "#summary-chart svg polyline")
    dept = item["subject_id"]
    cells = b.find_elements(By.CSS_SELECTOR, f"#dept-{dept} td")
    assert cells[0].text == dept and cells[3].text == after      # November's final
    assert b.find_elements(By.CSS_SELECTOR, f"#dept-{dept} svg.spark polyline")
    b.save_screenshot(str(shots / "desk-summary.png"))

    # --- the feedback its department received (SPEC §11.3): the confirmed rating counts now
    b.get(f"{base}/periods/{PERIOD}/feedback/{dept}")
    assert b.find_elements(By.CSS_SELECTOR, "#feedback-ratings tr.fb-fb_counted_confirmed")
    assert b.find_elements(By.CSS_SELECTOR, "#feedback-dimensions tr")
    b.save_screenshot(str(shots / "desk-feedback.png"))
    for name in ("desk-hr.png", "desk-manager.png", "desk-auditor.png", "desk-summary.png",
                 "desk-feedback.png"):
        assert (shots / name).stat().st_size > 10_000
