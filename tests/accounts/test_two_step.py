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


def test_sms_is_the_second_factor_of_a_verified_phone_without_an_app(app, client, make_user, sms_codes):
    from idp import audit
    from idp.accounts.service import find_account

    user = make_user(username="hien", phone="0912 000 111", phone_verified=True)
    sign_in(client, "hien", user["password"])
    page = client.get("/login/step-up?next=/account", follow_redirects=True)
    assert "Send me a code by SMS" in page.get_data(as_text=True)
    sent = client.post("/login/verify?lang=en", data={"send-csrf_token": csrf_token(page.get_data(as_text=True)), "action": "send_sms"})
    assert "We sent a 6-digit code" in sent.get_data(as_text=True)
    (code,) = sms_codes("+84912000111")
    assert second_step(client, "sms", code).status_code == 302
    with app.app_context():
        session = app.extensions["idp"].sessions.for_user(find_account("hien").id)[0]
        assert session.amr == ["pwd", "sms", "mfa"]
        assert audit.recent(1, event="code.verified")[0].details["purpose"] == "second_factor"


def test_an_enrolled_app_is_not_bypassed_by_an_sms_code(app, client, enrolled, sms_codes):
    """With an authenticator app, a code to the phone (a SIM swap away) is no second factor."""
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
    assert 'value="sms"' not in page.get_data(as_text=True)
    refused = client.post("/login/verify?lang=en", data={"send-csrf_token": csrf_token(page.get_data(as_text=True)), "action": "send_sms"})
    assert refused.status_code == 400 and sms_codes(phone) == []
    assert second_step(client, "sms", "123456").status_code == 400
    assert not signed_in(client)


def test_wrong_codes_across_fresh_attempts_lock_the_second_step_of_the_account(app, client, enrolled):
    """Each password sign-in starts a new attempt with its own five tries; the account counts them all."""
    from idp import audit
    from idp.accounts.second_step import ACCOUNT_WRONG_PER_HOUR

    user, secret, _ = enrolled
    wrong = 0
    while wrong < ACCOUNT_WRONG_PER_HOUR:
        sign_in(client, "khanh", user["password"])
        for _ in range(min(4, ACCOUNT_WRONG_PER_HOUR - wrong)):
            assert second_step(client, "totp", "000000").status_code == 400
            wrong += 1
    sign_in(client, "khanh", user["password"])
    locked = second_step(client, "totp", now_code(secret))  # even the right code must wait now
    assert locked.status_code == 429 and "Too many attempts" in locked.get_data(as_text=True)
    assert not signed_in(client)
    with app.app_context():
        assert len(audit.recent(50, event="second_factor.failed")) == ACCOUNT_WRONG_PER_HOUR
        assert audit.recent(1, event="account.lockout")[0].details["factor"] == "second"
    clock.travel(app.extensions["idp"].settings.signin.lockout_minutes * 60 + 1)
    sign_in(client, "khanh", user["password"])
    assert second_step(client, "totp", now_code(secret)).status_code == 302


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


def test_password_guesses_on_the_two_step_page_are_throttled_like_sign_in(app, client, enrolled):
    """A stolen session cannot try passwords here without limit to turn the app off."""
    user, secret, _ = enrolled
    sign_in(client, "khanh", user["password"])
    second_step(client, "totp", now_code(secret))
    free = app.extensions["idp"].settings.signin.free_failures_per_account
    answers = []
    for _ in range(free + 1):
        page = client.get("/account/two-step?lang=en")
        answers.append(client.post("/account/two-step?lang=en", data={
            "csrf_token": csrf_token(page.get_data(as_text=True)), "action": "remove", "password": "guess"}).status_code)
    assert answers[:free] == [400] * free and answers[free] == 429
    assert "Turn off two-step sign-in" in client.get("/account/two-step?lang=en").get_data(as_text=True)  # still on
