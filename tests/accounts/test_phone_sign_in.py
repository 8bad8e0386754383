"""Phone-first sign-in: one form, a code, and you are in (or registered if the number is new)."""

from __future__ import annotations

import pytest

from idp import create_app

from ..conftest import csrf_token


@pytest.fixture
def phone_app(backend):
    app = create_app(backend.fresh_settings(accounts={"phone_sign_in": True}), testing=True)
    yield app


def codes_for(app, phone):
    from idp.extensions import runtime

    with app.app_context():
        return [m["body"].split(": ")[1][:6] for m in runtime().sms.recent() if m["to"] == phone]


def start(client, phone):
    page = client.get("/login/phone?lang=en")
    return client.post("/login/phone?lang=en", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "phone": phone})


def enter(client, code):
    page = client.get("/login/phone/code?lang=en")
    return client.post("/login/phone/code?lang=en", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "code": code})


def test_a_new_number_gets_an_account_with_a_verified_phone(phone_app):
    client = phone_app.test_client()
    assert "Sign in with a code sent to your phone" in client.get("/login?lang=en").get_data(as_text=True)
    assert start(client, "0944 222 111").headers["Location"].startswith("/login/phone/code")
    (code,) = codes_for(phone_app, "+84944222111")
    assert enter(client, code).status_code == 302
    from idp.accounts.service import find_account

    with phone_app.app_context():
        user = find_account("0944222111")
        assert user.phone_verified and user.password_hash is None
    assert client.get("/account").status_code == 200


def test_a_known_number_signs_into_its_account(phone_app):
    from idp.accounts.service import register

    with phone_app.app_context():
        register(username="loan", password="Quiet-River-Stone-8", phone="0944 222 333")
    client = phone_app.test_client()
    start(client, "+84944222333")
    (code,) = codes_for(phone_app, "+84944222333")
    enter(client, code)
    assert "loan" in client.get("/account?lang=en").get_data(as_text=True)


def test_wrong_code_and_bad_number(phone_app):
    client = phone_app.test_client()
    bad = start(client, "12")
    assert bad.status_code == 400 and "not a valid mobile phone number" in bad.get_data(as_text=True)
    start(client, "0944 222 444")
    wrong = enter(client, "000000")
    assert wrong.status_code == 400 and client.get("/account").status_code == 302


def test_switched_off_by_default(app):
    client = app.test_client()
    assert client.get("/login/phone").status_code == 404
    assert "Sign in with a code sent to your phone" not in client.get("/login?lang=en").get_data(as_text=True)


def test_an_account_made_by_phone_can_set_a_password_with_an_sms_code(phone_app):
    client = phone_app.test_client()
    start(client, "0944 222 555")
    enter(client, codes_for(phone_app, "+84944222555")[0])
    page = client.get("/account/password?lang=en")
    assert 'name="current_password"' not in page.get_data(as_text=True)
    asked = client.post("/account/password?lang=en", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "action": "change", "new_password": "Quiet-River-Stone-8"})
    assert "We sent a 6-digit code" in asked.get_data(as_text=True)
    page = client.get("/account/password?lang=en")
    done = client.post("/account/password?lang=en", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "action": "confirm",
        "code": codes_for(phone_app, "+84944222555")[0]})
    assert "Your password is changed" in done.get_data(as_text=True)
    other = phone_app.test_client()
    page = other.get("/login")
    signed = other.post("/login", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                        "identifier": "0944222555", "password": "Quiet-River-Stone-8"})
    assert signed.status_code == 302
