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

    from idp.extensions import db

    with phone_app.app_context():
        register(username="loan", password="Quiet-River-Stone-8", phone="0944 222 333").phone_verified = True
        db.session.commit()
    client = phone_app.test_client()
    start(client, "+84944222333")
    (code,) = codes_for(phone_app, "+84944222333")
    enter(client, code)
    assert "loan" in client.get("/account?lang=en").get_data(as_text=True)


def test_a_number_never_proven_on_an_account_does_not_open_that_account(phone_app):
    """Someone registered with another person's number (unproven): the number's owner is not
    signed into that account, whose password the other one knows; the number moves to them."""
    from idp.accounts.service import find_account, register
    from idp.audit import recent

    with phone_app.app_context():
        squatter = register(username="squatter", password="Quiet-River-Stone-8", phone="0944 222 666").sub
    client = phone_app.test_client()
    start(client, "0944 222 666")
    enter(client, codes_for(phone_app, "+84944222666")[0])
    page = client.get("/account?lang=en").get_data(as_text=True)
    assert "squatter" not in page
    with phone_app.app_context():
        owner = find_account("+84944222666")
        assert owner.sub != squatter and owner.phone_verified
        assert find_account("squatter").phone is None
        assert recent(1, account=squatter, event="phone.released")


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


def test_a_session_opened_by_sms_cannot_step_up_with_another_sms(phone_app):
    """Multi-factor means two different factors: an SMS code after an SMS sign-in is the same one twice."""
    client = phone_app.test_client()
    start(client, "0944 222 777")
    enter(client, codes_for(phone_app, "+84944222777")[0])
    page = client.get("/login/step-up?next=/account&lang=en", follow_redirects=True).get_data(as_text=True)
    assert "Send me a code by SMS" not in page
    assert "Your account has no second step yet" in page
    token = csrf_token(client.get("/account/profile?lang=en").get_data(as_text=True))
    forced = client.post("/login/verify?lang=en", data={"send-csrf_token": token, "action": "send_sms"})
    assert forced.status_code == 400
    assert len(codes_for(phone_app, "+84944222777")) == 1
