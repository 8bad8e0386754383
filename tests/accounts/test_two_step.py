"""Two-step sign-in: TOTP enrollment, drift, replay, recovery codes, SMS as a second factor."""

from __future__ import annotations

import re

import pyotp
import pytest

from idp import clock

from ..conftest import csrf_token
from ..oidc.helpers import sign_in


def enroll(client) -> tuple[str, list[str]]:
    """Set up an authenticator app through the account page; returns (secret, recovery codes)."""
    page = client.get("/account/two-step?lang=en")
    started = client.post(
        "/account/two-step?lang=en", data={"start-csrf_token": csrf_token(page.get_data(as_text=True)), "action": "start"}
    )
    html = started.get_data(as_text=True)
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', html).group(1)
    assert 'src="data:image/svg+xml;base64,' in html
    confirmed = client.post(
        "/account/two-step?lang=en",
        data={"csrf_token": csrf_token(html), "action": "confirm", "code": pyotp.TOTP(secret).at(clock.now())},
    )
    recovery = re.findall(r"<li><code>([0-9a-f]{5}-[0-9a-f]{5})</code></li>", confirmed.get_data(as_text=True))
    return secret, recovery


def second_step(client, method, code):
    page = client.get("/login/verify?lang=en")
    return client.post(
        "/login/verify?lang=en", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "method": method, "code": code}
    )


@pytest.fixture
def enrolled(app, client, make_user):
    user = make_user(username="khanh")
    sign_in(client, "khanh", user["password"])
    secret, recovery = enroll(client)
    client.delete_cookie("idp_session")
    clock.travel(90)  # the enrollment code's step is used; later steps are fresh
    return user, secret, recovery


def now_code(secret: str) -> str:
    return pyotp.TOTP(secret).at(clock.now())


def signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def test_enrollment_gives_ten_recovery_codes_and_sign_in_asks_for_the_app(app, client, enrolled):
    user, secret, recovery = enrolled
    assert len(recovery) == 10 and len(set(recovery)) == 10
    first = sign_in(client, "khanh", user["password"])
    assert first.headers["Location"] == "/login/verify"
    assert not signed_in(client)
    done = second_step(client, "totp", now_code(secret))
    assert done.status_code == 302 and signed_in(client)
    from idp import audit

    with app.app_context():
        assert audit.recent(1, event="signin.ok")[0].details["amr"] == ["pwd", "otp", "mfa"]
        assert audit.recent(1, event="factor.enrolled")


@pytest.mark.parametrize("steps, accepted", [(-1, True), (1, True), (-2, False), (2, False)])
def test_clock_drift_of_one_step_is_accepted_and_no_more(client, enrolled, steps, accepted):
    user, secret, _ = enrolled
    sign_in(client, "khanh", user["password"])
    code = pyotp.TOTP(secret).at(clock.now() + steps * 30)
    response = second_step(client, "totp", code)
    assert (response.status_code == 302) is accepted


def test_a_totp_code_is_accepted_once(app, client, enrolled):
    user, secret, _ = enrolled
    code = now_code(secret)
    sign_in(client, "khanh", user["password"])
    assert second_step(client, "totp", code).status_code == 302
    other = app.test_client()
    sign_in(other, "khanh", user["password"])
    assert second_step(other, "totp", code).status_code == 400


def test_recovery_code_works_once(app, client, enrolled):
    user, _, recovery = enrolled
    sign_in(client, "khanh", user["password"])
    assert second_step(client, "recovery", recovery[0].upper()).status_code == 302
    other = app.test_client()
    sign_in(other, "khanh", user["password"])
    reused = second_step(other, "recovery", recovery[0])
    assert reused.status_code == 400 and "The code is not right" in reused.get_data(as_text=True)


def test_five_wrong_codes_send_the_person_back_to_the_password(client, enrolled):
    user, _, _ = enrolled
    sign_in(client, "khanh", user["password"])
    for _ in range(4):
        assert second_step(client, "totp", "000000").status_code == 400
    last = second_step(client, "totp", "000000")
    assert "Please sign in again" in last.get_data(as_text=True)
    assert client.get("/login/verify").status_code == 400


def test_second_step_without_a_first_step_is_refused(client):
    response = client.get("/login/verify?lang=en")
    assert response.status_code == 400 and "sign in again" in response.get_data(as_text=True)


def test_sms_is_offered_as_second_factor_with_a_verified_phone(app, client, enrolled, sms_codes):
    from idp.accounts.service import find_account
    from idp.extensions import db

    user, _, _ = enrolled
    with app.app_context():
        account = find_account("khanh")
        account.phone_verified = True
        db.session.commit()
        phone = account.phone
    sign_in(client, "khanh", user["password"])
    page = client.get("/login/verify?lang=en")
    assert 'value="sms"' in page.get_data(as_text=True)
    sent = client.post("/login/verify?lang=en", data={"send-csrf_token": csrf_token(page.get_data(as_text=True)), "action": "send_sms"})
    assert "We sent a 6-digit code" in sent.get_data(as_text=True)
    (code,) = sms_codes(phone)
    assert second_step(client, "sms", code).status_code == 302
    from idp import audit

    with app.app_context():
        assert audit.recent(1, event="signin.ok")[0].details["amr"] == ["pwd", "sms", "mfa"]


def test_sms_is_not_offered_without_a_verified_phone(client, enrolled):
    user, _, _ = enrolled
    sign_in(client, "khanh", user["password"])
    assert second_step(client, "sms", "123456").status_code == 400


def test_turning_it_off_needs_the_password(app, client, enrolled):
    user, secret, _ = enrolled
    sign_in(client, "khanh", user["password"])
    second_step(client, "totp", now_code(secret))
    page = client.get("/account/two-step?lang=en")
    wrong = client.post("/account/two-step?lang=en", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "action": "remove", "password": "not-my-password"})
    assert wrong.status_code == 400
    client.post("/account/two-step?lang=en", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "action": "remove", "password": user["password"]})
    client.delete_cookie("idp_session")
    assert sign_in(client, "khanh", user["password"]).headers["Location"] == "/"


def test_wrong_code_at_enrollment_is_refused(client, make_user):
    user = make_user(username="hai")
    sign_in(client, "hai", user["password"])
    page = client.get("/account/two-step?lang=en")
    started = client.post("/account/two-step?lang=en", data={
        "start-csrf_token": csrf_token(page.get_data(as_text=True)), "action": "start"})
    refused = client.post("/account/two-step?lang=en", data={
        "csrf_token": csrf_token(started.get_data(as_text=True)), "action": "confirm", "code": "000000"})
    assert refused.status_code == 400 and "The code is not right" in refused.get_data(as_text=True)
