"""Sending e-mail for the notifications (SPEC §12) through the SMTP server named by a URL:
`smtp://[user:pass@]host[:port]` (plain; port 25 by default), `smtp+starttls://…` (STARTTLS
before logging in; port 587 by default) or `smtps://…` (TLS from the start; port 465). User and
password are URL-encoded in the URL. One connection sends every message."""
from __future__ import annotations

import mimetypes
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit


class MailError(Exception):
    """The SMTP server could not be reached or refused a message."""


@dataclass
class Message:
    to: str
    subject: str
    body: str
    attachment: Path | None = None


def _server(url: str):
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtp+starttls", "smtps") or not parts.hostname:
        raise MailError(f"expected smtp://, smtp+starttls:// or smtps://host[:port], got {scheme}://…")
    port = parts.port or {"smtp": 25, "smtp+starttls": 587, "smtps": 465}[scheme]
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return scheme, parts.hostname, port, user, password


def send_all(url: str, sender: str, messages: list[Message], timeout: float = 30) -> None:
    if not messages:
        return
    scheme, host, port, user, password = _server(url)
    try:
        if scheme == "smtps":
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            smtp.ehlo()
            if scheme == "smtp+starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if user:
                smtp.login(user, password or "")
            for m in messages:
                smtp.send_message(_build(sender, m))
    except (OSError, smtplib.SMTPException) as e:
        raise MailError(f"{host}:{port}: {e}") from None


def _build(sender: str, m: Message) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = m.to
    msg["Subject"] = m.subject
    msg.set_content(m.body)
    if m.attachment is not None:
        kind = mimetypes.guess_type(m.attachment.name)[0] or "application/octet-stream"
        main, sub = kind.split("/", 1)
        msg.add_attachment(m.attachment.read_bytes(), maintype=main, subtype=sub,
                           filename=m.attachment.name)
    return msg
