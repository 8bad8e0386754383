"""The account page: confirming the phone, changing the password, staying signed in, the dev outbox."""

from __future__ import annotations

import re

import pytest

from idp import clock

from ..conftest import csrf_token
from ..oidc.helpers import authorize, query_of, sign_in, signed_in_tokens


def post_action(client, path, action, prefix="", **fields):
    page = client.get(path + "?lang=en")
    key = f"{prefix}-csrf_token" if prefix else "csrf_token"
    return client.post(path + "?lang=en", data={key: csrf_token(page.get_data(as_text=True)), "action": action, **fields})


def test_registration_leads_to_phone_confirmation_and_the_claim_follows(app, client, make_client, sms_codes):
    page = client.get("/register?lang=en")
    registered = client.post("/register?lang=en", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "username": "vyvy", "phone": "0977 123 456",
        "password": "Quiet-River-Stone-8"})
    assert registered.headers["Location"].startswith("/account/phone")
    sent = post_action(client, "/account/phone", "send", prefix="send")
    assert "+84 ••• ••• 456" in sent.get_data(as_text=True)
    (code,) = sms_codes("+84977123456")
    assert post_action(client, "/account/phone", "confirm", code=code).status_code == 302
    rp = make_client(first_party=True)
    tokens = signed_in_tokens(client, rp, {"username": "vyvy", "password": "Quiet-River-Stone-8"})
    info = client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).get_json()
    assert info["phone_number"] == "+84977123456" and info["phone_number_verified"] is True


def test_wrong_phone_code_keeps_the_phone_unconfirmed(app, client, make_user, sms_codes):
    user = make_user(username="vy2", phone="0977 000 111")
    sign_in(client, "vy2", user["password"])
    post_action(client, "/account/phone", "send", prefix="send")
    wrong = post_action(client, "/account/phone", "confirm", code="000000")
    assert wrong.status_code == 400 and "wrong or has expired" in wrong.get_data(as_text=True)
    too_soon = post_action(client, "/account/phone", "send", prefix="send")
    assert too_soon.status_code == 400 and "You can ask for another in" in too_soon.get_data(as_text=True)


class TestPasswordChange:
    @pytest.fixture
    def user(self, app, make_user):
        from idp.accounts.service import find_account
        from idp.extensions import db

        user = make_user(username="son", phone="0966 555 444")
        with app.app_context():
            find_account("son").phone_verified = True
            db.session.commit()
        return user

    def test_needs_the_current_password_and_an_sms_code_and_signs_out_other_devices(
        self, app, client, make_client, user, sms_codes
    ):
        rp = make_client(first_party=True)
        phone = app.test_client()
        phone_tokens = signed_in_tokens(phone, rp, user)
        sign_in(client, "son", user["password"])
        asked = post_action(client, "/account/password", "change", current_password=user["password"],
                            new_password="Another-Long-Secret-9")
        assert "We sent a 6-digit code" in asked.get_data(as_text=True)
        (code,) = sms_codes("+84966555444")
        done = post_action(client, "/account/password", "confirm", code=code)
        assert done.status_code == 200 and "Other devices were signed out" in done.get_data(as_text=True)
        assert client.get("/account").status_code == 200  # this device stays signed in
        silent, _ = authorize(phone, rp, prompt="none")
        assert query_of(silent)["error"] == "login_required"
        assert phone.post("/token", data={"grant_type": "refresh_token", "refresh_token": phone_tokens["refresh_token"]},
                          auth=(rp["client_id"], rp["client_secret"])).get_json()["error"] == "invalid_grant"
        client.delete_cookie("idp_session")
        assert sign_in(client, "son", "Another-Long-Secret-9").status_code == 302

    def test_wrong_current_password_changes_nothing(self, client, user):
        sign_in(client, "son", user["password"])
        wrong = post_action(client, "/account/password", "change", current_password="not-it-at-all",
                            new_password="Another-Long-Secret-9")
        assert wrong.status_code == 400 and "not your current password" in wrong.get_data(as_text=True)
        client.delete_cookie("idp_session")
        assert sign_in(client, "son", user["password"]).status_code == 302

    def test_without_a_verified_phone_no_code_is_needed(self, client, make_user):
        other = make_user(username="tam")
        sign_in(client, "tam", other["password"])
        done = post_action(client, "/account/password", "change", current_password=other["password"],
                           new_password="Another-Long-Secret-9")
        assert "Your password is changed" in done.get_data(as_text=True)

    def test_code_for_another_purpose_is_refused(self, app, client, user, sms_codes):
        other = app.test_client()
        page = other.get("/password/forgot")
        other.post("/password/forgot", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "identifier": "son"})
        (reset_code,) = sms_codes("+84966555444")  # a password-reset code
        sign_in(client, "son", user["password"])
        post_action(client, "/account/password", "change", current_password=user["password"],
                    new_password="Another-Long-Secret-9")
        refused = post_action(client, "/account/password", "confirm", code=reset_code)
        assert refused.status_code == 400 and "wrong or has expired" in refused.get_data(as_text=True)


def test_account_pages_need_a_signed_in_person(client):
    for path in ("/account", "/account/phone", "/account/password", "/account/two-step"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


def test_idle_warning_and_keepalive(app, client, make_user):
    user = make_user()
    sign_in(client, user["username"], user["password"])
    html = client.get("/account?lang=en").get_data(as_text=True)
    assert 'id="idle-warning"' in html and re.search(r'data-seconds="(1800|179\d)"', html)
    clock.travel(25 * 60)
    response = client.post("/account/keepalive", headers={"X-CSRFToken": csrf_token(html)})
    assert response.get_json() == {"signed_in": True, "idle_seconds": 1800}
    clock.travel(25 * 60)
    assert client.get("/account").status_code == 200  # kept alive: 50 minutes, never 30 idle
    clock.travel(31 * 60)
    assert client.post("/account/keepalive", headers={"X-CSRFToken": csrf_token(html)}).status_code == 401


def test_keepalive_needs_the_csrf_token(client, make_user):
    user = make_user()
    sign_in(client, user["username"], user["password"])
    assert client.post("/account/keepalive").status_code == 400


def test_remembered_sessions_get_no_idle_warning(client, make_user):
    user = make_user()
    sign_in(client, user["username"], user["password"], remember=True)
    assert 'id="idle-warning"' not in client.get("/account").get_data(as_text=True)


def test_dev_outbox_only_in_development(backend, app, client, make_user, sms_codes):
    user = make_user(phone="0955 444 333")
    sign_in(client, user["username"], user["password"])
    post_action(client, "/account/phone", "send", prefix="send")
    assert "+84955444333" in client.get("/dev/outbox").get_data(as_text=True)
    from idp import create_app

    production = create_app(backend.fresh_settings(server={"dev": False}, mail={"sender": "none"}, sms={"sender": "none"}), testing=True)
    assert production.test_client().get("/dev/outbox").status_code == 404


def test_outbox_sender_is_refused_outside_development():
    from idp.config import ConfigError

    from ..conftest import make_settings

    with pytest.raises(ConfigError, match="sms.sender"):
        make_settings("sqlite://", server={"dev": False}, mail={"sender": "none"}, sms={"sender": "outbox"})
