"""Notifications (SPEC §12): one e-mail per assignee with open items, the review workbook
attached and a link to the desk, through a real SMTP server (aiosmtpd, started here on
127.0.0.1); assignees without an address listed for HR; without XIETONG_SMTP nothing is sent
and `xietong notify` exits 1."""
from __future__ import annotations

import email
import email.policy
import io
import socket

import pytest
from aiosmtpd.controller import Controller
from openpyxl import load_workbook

from tests import desk_support
from tests.desk_support import client
from tests.ledgers import PERIOD
from xietong.cli import main


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"


@pytest.fixture
def smtp():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", inbox
    finally:
        controller.stop()


@pytest.fixture
def desk(tmp_path):
    url = desk_support.new_url(tmp_path)
    # boss (E1) has an address; E30 has no account with one
    d = desk_support.build(tmp_path, url, accounts={"hr": ("hr", None), "boss": ("manager", "E1")})
    yield d
    d.app.state.db.close()
    desk_support.forget(url)


def test_notify_sends_one_mail_per_assignee_with_its_workbook(desk, smtp, monkeypatch, tmp_path):
    url, inbox = smtp
    monkeypatch.setenv("XIETONG_SMTP", url)
    monkeypatch.setenv("XIETONG_MAIL_FROM", "hr@example.com")
    monkeypatch.setenv("XIETONG_DESK_URL", "https://desk.example.com/xietong")
    out, err = io.StringIO(), io.StringIO()
    code = main(["notify", "--period", PERIOD, "--db", desk.url, "--lang", "en"], out, err)
    assert (code, err.getvalue()) == (0, "")
    lines = out.getvalue().splitlines()
    assert lines[1:] == [
        f"1 e-mail(s) sent for {PERIOD}:",
        "  E1 (张总) <boss@example.com>: 2 open item(s)",
        "These assignees have no e-mail address (give them an account with --email, or tell "
        "them otherwise):",
        "  E30 (IT负责人): 1 open item(s)"]
    assert len(inbox.messages) == 1
    sender, to, msg = inbox.messages[0]
    assert (sender, to, msg["Subject"]) == (
        "hr@example.com", ["boss@example.com"],
        f"Collaboration performance {PERIOD}: 2 item(s) to review")
    body = msg.get_body(("plain",)).get_content()
    assert "https://desk.example.com/xietong/reviews" in body
    attachments = list(msg.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["E1.xlsx"]
    saved = tmp_path / "E1.xlsx"
    saved.write_bytes(attachments[0].get_payload(decode=True))
    ws = load_workbook(saved)["Reviews"]
    ids = sorted(ws.cell(r, 1).value for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value)
    assert ids == sorted([desk.own, desk.boss_interlock])


def test_without_smtp_it_lists_what_it_would_send_and_exits_1(desk, monkeypatch):
    monkeypatch.delenv("XIETONG_SMTP", raising=False)
    out, err = io.StringIO(), io.StringIO()
    code = main(["notify", "--period", PERIOD, "--db", desk.url, "--lang", "en"], out, err)
    assert code == 1
    assert out.getvalue().splitlines()[1:3] == [
        f"XIETONG_SMTP is not set: nothing was sent. It would send 1 e-mail(s) for {PERIOD}:",
        "  E1 (张总) <boss@example.com>: 2 open item(s)"]


def test_hr_presses_the_button(desk, smtp):
    url, inbox = smtp
    desk.app.state.settings.smtp_url = url
    desk.app.state.settings.mail_from = "hr@example.com"
    hr, token = client(desk.app, "hr")
    r = hr.post(f"/api/periods/{PERIOD}/notify", headers={"X-CSRF-Token": token})
    body = r.json()
    assert r.status_code == 200
    assert [n["assignee_id"] for n in body["sent"]] == ["E1"]
    assert [n["assignee_id"] for n in body["without_address"]] == ["E30"]
    r = hr.post(f"/periods/{PERIOD}/notify", data={"csrf_token": token})
    assert r.status_code == 200 and "E30" in r.text
    assert len(inbox.messages) == 2
    link = inbox.messages[0][2].get_body(("plain",)).get_content()
    assert "http://testserver/reviews" in link
