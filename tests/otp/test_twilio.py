"""The Twilio sender, end to end against a stand-in speaking Twilio's REST wire format over HTTP."""

from __future__ import annotations

import re
import time

import pytest

from idp import audit, create_app
from idp.accounts.service import find_account
from idp.extensions import runtime

from ..conftest import csrf_token
from ..fakes.twilio import ACCOUNT_SID, API_KEY_SECRET, API_KEY_SID, AUTH_TOKEN, FakeTwilio
from ..oidc.helpers import sign_in


@pytest.fixture
def twilio():
    fake = FakeTwilio()
    yield fake
    fake.stop()


def twilio_app(backend, twilio, **sms):
    settings = {
        "sender": "twilio",
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_from": "+15005550006",
        "twilio_base_url": twilio.url,
        "timeout_seconds": 1,
        **sms,
    }
    return create_app(backend.fresh_settings(server={"dev": False}, mail={"sender": "none"}, sms=settings), testing=True)


def signed_in_client(app):
    from idp.accounts.service import register

    with app.app_context():
        register(username="minh", password="Quiet-River-Stone-8", phone="0912 345 678")
    client = app.test_client()
    sign_in(client, "minh", "Quiet-River-Stone-8")
    return client


def ask_for_code(client):
    page = client.get("/account/phone?lang=en")
    return client.post(
        "/account/phone?lang=en",
        data={"send-csrf_token": csrf_token(page.get_data(as_text=True)), "action": "send"},
    )


def confirm(client, code):
    page = client.get("/account/phone?lang=en")
    return client.post(
        "/account/phone?lang=en",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "action": "confirm", "code": code},
    )


def phone_verified(app) -> bool:
    with app.app_context():
        return find_account("minh").phone_verified


def test_code_travels_through_twilio_and_verifies_the_phone(backend, twilio):
    app = twilio_app(backend, twilio)
    client = signed_in_client(app)
    response = ask_for_code(client)
    assert response.status_code == 200 and "We sent a 6-digit code to +84 ••• ••• 678" in response.get_data(as_text=True)
    (message,) = twilio.messages
    assert message["To"] == "+84912345678" and message["From"] == "+15005550006"
    code = re.search(r"\b(\d{6})\b", message["Body"]).group(1)
    assert confirm(client, code).status_code == 302
    assert phone_verified(app)


def test_api_key_and_messaging_service(backend, twilio):
    app = twilio_app(
        backend, twilio, twilio_auth_token="", twilio_api_key_sid=API_KEY_SID, twilio_api_key_secret=API_KEY_SECRET,
        twilio_from="", twilio_messaging_service_sid="MG" + "2" * 32,
    )
    client = signed_in_client(app)
    assert ask_for_code(client).status_code == 200
    assert twilio.messages[0]["MessagingServiceSid"] == "MG" + "2" * 32 and not twilio.messages[0]["From"]


@pytest.mark.parametrize("mode", ["invalid_number", "server_error", "slow", "bad_credentials"])
def test_twilio_failures_are_a_clear_message_an_audit_event_and_no_code(backend, twilio, mode):
    app = twilio_app(backend, twilio, **({"twilio_auth_token": "wrong"} if mode == "bad_credentials" else {}))
    twilio.mode, twilio.delay = (mode, 3.0) if mode != "bad_credentials" else ("ok", 0)
    client = signed_in_client(app)
    started = time.monotonic()
    response = ask_for_code(client)
    assert time.monotonic() - started < 2.5  # the timeout, not Twilio, decides how long a person waits
    assert response.status_code == 400
    assert "We could not send the code" in response.get_data(as_text=True)
    with app.app_context():
        failure = audit.recent(1, event="code.send_failed")[0]
        assert failure.details["reason"].startswith("twilio")
        user_id = find_account("minh").id
        assert runtime().store.get(f"otp:verify_phone:user:{user_id}:+84912345678") is None
    assert confirm(client, "123456").status_code == 400
    assert not phone_verified(app)
