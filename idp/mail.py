"""E-mail senders: SMTP, or the development outbox (shared with SMS at /dev/outbox)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Protocol

from .config import MailSettings
from .otp.senders import OutboxSender
from .store import EphemeralStore


class MailFailed(Exception):
    pass


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None:
        """Hand one message over for delivery; MailFailed if that did not work."""


class NoMailer:
    def send(self, to: str, subject: str, body: str) -> None:
        raise MailFailed("no mail sender is configured")


class OutboxMailer:
    def __init__(self, store: EphemeralStore):
        self.outbox = OutboxSender(store)

    def send(self, to: str, subject: str, body: str) -> None:
        self.outbox.send(to, f"{subject}\n\n{body}")


class SmtpMailer:
    def __init__(self, settings: MailSettings):
        self.settings = settings

    def send(self, to: str, subject: str, body: str) -> None:
        s = self.settings
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = s.from_address, to, subject
        message.set_content(body)
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout_seconds) as smtp:
                if s.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_username:
                    smtp.login(s.smtp_username, s.smtp_password)
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as error:
            raise MailFailed(type(error).__name__) from None


def make_mailer(settings: MailSettings, store: EphemeralStore) -> Mailer:
    if settings.sender == "smtp":
        return SmtpMailer(settings)
    if settings.sender == "outbox":
        return OutboxMailer(store)
    return NoMailer()
