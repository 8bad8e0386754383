"""Account changes that someone holding a session, but not the account, must not be able to make."""

from __future__ import annotations

from idp import clock

from ..conftest import csrf_token
from ..oidc.helpers import sign_in


def post_action(client, path, action, prefix="", **fields):
    page = client.get(path + "?lang=en")
    key = f"{prefix}-csrf_token" if prefix else "csrf_token"
    return client.post(path + "?lang=en", data={key: csrf_token(page.get_data(as_text=True)), "action": action, **fields})


def test_a_password_change_code_confirms_only_the_password_it_was_sent_for(client, make_user, sms_codes):
    user = make_user(username="son", phone="0966555444", phone_verified=True)
    sign_in(client, "son", user["password"])
    post_action(client, "/account/password", "change", current_password=user["password"],
                new_password="First-Chosen-Secret-91")
    (code,) = sms_codes("+84966555444")
    second = post_action(client, "/account/password", "change", current_password=user["password"],
                         new_password="Other-Chosen-Secret-77")
    assert second.status_code == 400 and "A code was just sent" in second.get_data(as_text=True)
    assert "Your password is changed" in post_action(client, "/account/password", "confirm", code=code).get_data(as_text=True)
    client.delete_cookie("idp_session")
    assert sign_in(client, "son", "Other-Chosen-Secret-77").status_code == 401
    assert sign_in(client, "son", "First-Chosen-Secret-91").status_code == 302


def _without_password(app, username):
    from idp.accounts.service import find_account
    from idp.extensions import db

    with app.app_context():
        find_account(username).password_hash = None  # as for a Google or Facebook account without a phone
        db.session.commit()


def test_setting_a_first_password_without_a_phone_needs_a_fresh_sign_in(app, client, make_user):
    user = make_user(username="fbuser")
    sign_in(client, "fbuser", user["password"])
    _without_password(app, "fbuser")
    for _ in range(3):  # 15 minutes on: the session is alive (active) but not fresh
        clock.travel(5 * 60)
        assert client.get("/account").status_code == 200
    stale = post_action(client, "/account/password", "change", new_password="Stolen-Session-Secret-5")
    assert stale.status_code == 400 and "sign in again" in stale.get_data(as_text=True)
    clock.travel(-15 * 60)  # back within ten minutes of the sign-in
    done = post_action(client, "/account/password", "change", new_password="Own-Chosen-Secret-52")
    assert "Your password is changed" in done.get_data(as_text=True)


def test_enrolling_an_authenticator_needs_a_fresh_sign_in(app, client, make_user):
    from idp.accounts import mfa
    from idp.accounts.service import find_account

    user = make_user(username="lien")
    sign_in(client, "lien", user["password"])
    clock.travel(11 * 60)
    assert client.get("/account").status_code == 200
    stale = post_action(client, "/account/two-step", "start", prefix="start")
    assert stale.status_code == 400 and "sign in again" in stale.get_data(as_text=True)
    with app.app_context():
        assert mfa.pending_enrollment(find_account("lien")) is None
    sign_in(client, "lien", user["password"])
    assert post_action(client, "/account/two-step", "start", prefix="start").status_code == 200
    with app.app_context():
        assert mfa.pending_enrollment(find_account("lien")) is not None


def test_a_nul_character_is_a_clear_error_everywhere(client):
    for path in ("/login?lang=en", "/password/forgot?lang=en", "/register?lang=en"):
        page = client.get(path)
        answer = client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                         "identifier": "ali\x00ce", "password": "whatever-password"})
        assert answer.status_code == 400 and "could not be understood" in answer.get_data(as_text=True)
    assert client.get("/authorize", query_string={"client_id": "a\x00b"}).status_code == 400
    token = client.post("/token", data={"grant_type": "password\x00"})
    assert token.status_code == 400 and token.get_json()["error"] == "invalid_request"
