"""acr_values for multi-factor: a second factor is forced, and acr/amr tell the truth."""

from __future__ import annotations

import pyotp
from joserfc import jwt
from joserfc.jwk import KeySet

from idp import clock

from ..accounts.test_two_step import second_step
from ..conftest import csrf_token
from .flows import Browser, RelyingParty, callback_params
from .helpers import authorize, exchange, query_of, sign_in

MFA = "urn:idp:acr:multi-factor"


def claims_of(client, id_token):
    return jwt.decode(id_token, KeySet.import_key_set(client.get("/jwks.json").get_json())).claims


def verified_phone_user(app, make_user):
    from idp.accounts.service import find_account
    from idp.extensions import db

    user = make_user(username="quang", phone="0933 111 222")
    with app.app_context():
        find_account("quang").phone_verified = True
        db.session.commit()
    return user


def test_multi_factor_request_forces_an_sms_step_and_acr_says_so(app, client, make_client, make_user, sms_codes):
    rp = make_client(first_party=True)
    user = verified_phone_user(app, make_user)
    sign_in(client, "quang", user["password"])
    plain, verifier = authorize(client, rp)
    single = claims_of(client, exchange(client, rp, query_of(plain)["code"], verifier).get_json()["id_token"])
    assert single["acr"] == "urn:idp:acr:single-factor" and single["amr"] == ["pwd"]

    asked, verifier = authorize(client, rp, acr_values=MFA)
    assert asked.headers["Location"].startswith("/login/step-up?next=")
    to_verify = client.get(asked.headers["Location"])
    assert to_verify.headers["Location"] == "/login/verify"
    page = client.get("/login/verify?lang=en")
    assert "asks for a second step" in page.get_data(as_text=True)
    client.post("/login/verify?lang=en", data={"send-csrf_token": csrf_token(page.get_data(as_text=True)), "action": "send_sms"})
    (code,) = sms_codes("+84933111222")
    back = second_step(client, "sms", code)
    final = client.get(back.headers["Location"])
    claims = claims_of(client, exchange(client, rp, query_of(final)["code"], verifier).get_json()["id_token"])
    assert claims["acr"] == MFA and claims["amr"] == ["pwd", "sms", "mfa"]
    assert claims["sid"] == single["sid"]  # the same session, stepped up


def test_prompt_none_cannot_step_up(client, make_client, make_user):
    rp = make_client(first_party=True)
    user = make_user()
    sign_in(client, user["username"], user["password"])
    response, _ = authorize(client, rp, acr_values=MFA, prompt="none")
    assert query_of(response)["error"] == "interaction_required"


def test_without_any_second_factor_the_person_is_told_what_to_add(client, make_client, make_user):
    rp = make_client(first_party=True)
    user = make_user()
    sign_in(client, user["username"], user["password"])
    asked, _ = authorize(client, rp, acr_values=MFA)
    client.get(asked.headers["Location"])
    page = client.get("/login/verify?lang=en")
    assert "Your account has no second step yet" in page.get_data(as_text=True)


def test_end_to_end_with_an_authenticator_app(live_server):
    """The foundation's end-to-end run, with two-step sign-in: acr and amr in the ID token."""
    from idp.accounts.service import register
    from idp.oidc.clients import create_client

    issuer = live_server.url
    with live_server.app.app_context():
        client, secret = create_client("Paygate", ["http://127.0.0.1:5003/callback"], first_party=True)
        register(username="thu", password="Quiet-River-Stone-8", phone="0988 777 666")
        client_id = client.client_id
    browser = Browser(issuer)
    # Enroll an authenticator app through the account pages.
    login = browser.get("/login")
    browser.sign_in(login, "thu", "Quiet-River-Stone-8")
    page = browser.get("/account/two-step?lang=en")
    started = browser.post("/account/two-step?lang=en", {"start-csrf_token": csrf_token(page.text), "action": "start"})
    secret_key = started.text.split('<code class="secret">')[1].split("<")[0]
    browser.post("/account/two-step?lang=en", {"csrf_token": csrf_token(started.text), "action": "confirm",
                                                "code": pyotp.TOTP(secret_key).at(clock.now())})
    browser.http.cookies.clear()
    clock.travel(60)

    paygate = RelyingParty(issuer, client_id, secret, "http://127.0.0.1:5003/callback")
    url, request = paygate.authorization_url(acr_values=MFA)
    login_page = browser.follow_to(url, "http://127.0.0.1:5003")
    after_password = browser.sign_in(login_page, "thu", "Quiet-River-Stone-8")
    assert after_password.headers["Location"] == "/login/verify"
    verify_page = browser.get("/login/verify")
    done = browser.post("/login/verify", {"csrf_token": csrf_token(verify_page.text), "method": "totp",
                                          "code": pyotp.TOTP(secret_key).at(clock.now())})
    callback = browser.follow_to(done.headers["Location"], "http://127.0.0.1:5003")
    token = paygate.fetch_token(callback.headers["Location"], request)
    keys = KeySet.import_key_set(browser.get("/jwks.json").json())
    claims = jwt.decode(token["id_token"], keys).claims
    assert claims["acr"] == MFA and claims["amr"] == ["pwd", "otp", "mfa"]
    assert callback_params(callback)["iss"] == issuer
