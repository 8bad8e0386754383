"""SMS senders: Twilio's Messages API, an outbox for development, or none."""

from __future__ import annotations

import logging
from typing import Protocol

from .. import clock
from ..config import SmsSettings
from ..store import EphemeralStore

log = logging.getLogger(__name__)

OUTBOX_KEEP = 50
OUTBOX_SECONDS = 3600


class SendFailed(Exception):
    """The message could not be handed to the SMS provider; `reason` says why (for logs and audit)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class SmsUnavailable(SendFailed):
    """No SMS sender is configured."""


class SmsSender(Protocol):
    def send(self, to: str, body: str) -> None:
        """Hand one message to the provider; SendFailed if it did not take it."""


class NoSender:
    """SMS is switched off (sms.sender = none)."""

    def send(self, to: str, body: str) -> None:
        raise SmsUnavailable("no SMS sender is configured")


class OutboxSender:
    """Development only: logs each message and keeps the last ones for the /dev/outbox page."""

    def __init__(self, store: EphemeralStore):
        self.store = store

    def send(self, to: str, body: str) -> None:
        number = self.store.incr("outbox:seq", 10 * 365 * 86400)
        self.store.put(f"outbox:{number}", {"to": to, "body": body, "at": clock.now()}, OUTBOX_SECONDS)
        self.store.index_add("outbox", str(number), OUTBOX_SECONDS)
        log.warning("outbox SMS to %s: %s", to, body)

    def recent(self) -> list[dict]:
        """The newest messages first."""
        numbers = sorted((int(n) for n in self.store.index_members("outbox")), reverse=True)[:OUTBOX_KEEP]
        return [m for m in self.store.get_many([f"outbox:{n}" for n in numbers]) if m]


class TwilioSender:
    """Twilio's Messages API through the official client, with a timeout."""

    def __init__(self, settings: SmsSettings):
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        http = TwilioHttpClient(timeout=settings.timeout_seconds, max_retries=0)
        if settings.twilio_api_key_sid:
            self.client = Client(
                settings.twilio_api_key_sid,
                settings.twilio_api_key_secret,
                account_sid=settings.twilio_account_sid,
                http_client=http,
            )
        else:
            self.client = Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http)
        self.client.api.base_url = settings.twilio_base_url.rstrip("/")
        self.settings = settings

    def send(self, to: str, body: str) -> None:
        from requests import RequestException
        from twilio.base.exceptions import TwilioException, TwilioRestException

        origin = (
            {"messaging_service_sid": self.settings.twilio_messaging_service_sid}
            if self.settings.twilio_messaging_service_sid
            else {"from_": self.settings.twilio_from}
        )
        try:
            message = self.client.messages.create(to=to, body=body, **origin)
        except TwilioRestException as error:
            raise SendFailed(f"twilio {error.status} code {error.code}: {error.msg}") from None
        except (TwilioException, RequestException, OSError) as error:
            raise SendFailed(f"twilio unreachable: {type(error).__name__}") from None
        if message.status in ("failed", "undelivered"):
            raise SendFailed(f"twilio refused the message: {message.status} {message.error_code}")
        log.info("sms handed to twilio: %s", message.sid)


def make_sender(settings: SmsSettings, store: EphemeralStore) -> SmsSender:
    if settings.sender == "twilio":
        return TwilioSender(settings)
    if settings.sender == "outbox":
        return OutboxSender(store)
    return NoSender()
