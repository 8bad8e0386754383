"""Forgotten password by SMS: the same answer for everyone, and a reset signs the account out everywhere."""

from __future__ import annotations

import pytest

from ..conftest import csrf_token
from ..oidc.helpers import authorize, query_of, sign_in, signed_in_tokens


@pytest.fixture
def verified_user(app, make_user):
    from idp.accounts.service import find_account
    from idp.extensions import db

    user = make_user(username="lan", phone="0912 345 678", email="lan@example.com")
    with app.app_context():
        find_account("lan").phone_verified = True
        db.session.commit()
    return user


def forgot(client, identifier):
    page = client.get("/password/forgot?lang=en")
    return client.post(
        "/password/forgot?lang=en", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "identifier": identifier}
    )


def reset(client, code, password="Brand-New-Secret-42"):
    page = client.get("/password/reset?lang=en")
    return client.post(
        "/password/reset?lang=en",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "code": code, "password": password},
    )


def test_reset_by_sms_code_changes_the_password_and_ends_every_session(app, client, make_client, verified_user, sms_codes):
    rp = make_client(first_party=True)
    other_browser = app.test_client()
    tokens = signed_in_tokens(other_browser, rp, verified_user)

    assert forgot(client, "LAN@example.com").headers["Location"] == "/password/reset"
    (code,) = sms_codes("+84912345678")
    done = reset(client, code)
    assert done.status_code == 302 and done.headers["Location"] == "/login?reset=1"
    assert "Your password was changed" in client.get("/login?reset=1&lang=en").get_data(as_text=True)

    assert sign_in(client, "lan", verified_user["password"]).status_code == 401
    assert sign_in(client, "lan", "Brand-New-Secret-42").status_code == 302
    silent, _ = authorize(other_browser, rp, prompt="none")
    assert query_of(silent)["error"] == "login_required"
    refreshed = other_browser.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(rp["client_id"], rp["client_secret"]),
    )
    assert refreshed.get_json()["error"] == "invalid_grant"
    from idp import audit

    with app.app_context():
        assert audit.recent(1, event="password.reset")[0].account == verified_user["sub"]


def _page_text(response) -> str:
    html = response.get_data(as_text=True)
    return html[html.index("<main"):]


def test_the_answer_is_the_same_for_unknown_accounts_and_unverified_phones(app, make_user, verified_user, sms_codes):
    make_user(username="unverified", phone="0912 000 999")
    answers = []
    for identifier in ("lan", "nobody-at-all", "unverified", "0999999999"):
        client = app.test_client()
        response = forgot(client, identifier)
        follow = client.get(response.headers["Location"] + "?lang=en")
        wrong = reset(client, "000000")
        answers.append((response.status_code, response.headers["Location"], _page_text(follow).replace(
            csrf_token(follow.get_data(as_text=True)), ""), wrong.status_code, _page_text(wrong).split('name="csrf_token"')[0]))
    assert len(set(answers)) == 1
    assert sms_codes("+84912000999") == []  # an unverified phone gets nothing


def test_five_wrong_codes_end_the_attempt_for_real_and_unknown_accounts_alike(app, verified_user):
    for identifier in ("lan", "nobody-at-all"):
        client = app.test_client()
        forgot(client, identifier)
        statuses = [reset(client, "000000").status_code for _ in range(5)]
        assert statuses == [400] * 5
        assert client.get("/password/reset").headers["Location"] == "/password/forgot"


def test_weak_new_password_is_refused_and_the_code_stays_usable(app, client, verified_user, sms_codes):
    forgot(client, "lan")
    (code,) = sms_codes("+84912345678")
    weak = reset(client, code, password="password123")
    assert weak.status_code == 400 and "too easy to guess" in weak.get_data(as_text=True)
    assert reset(client, code).status_code == 302


def test_reset_page_without_a_ticket_goes_back_to_the_start(client):
    assert client.get("/password/reset").headers["Location"] == "/password/forgot"


def test_no_sms_sender_means_no_reset_page(backend):
    from idp import create_app

    app = create_app(backend.fresh_settings(sms={"sender": "none"}), testing=True)
    response = app.test_client().get("/password/forgot?lang=en")
    assert response.status_code == 404 and "contact customer support" in response.get_data(as_text=True)


def test_a_password_refused_for_naming_the_account_keeps_the_right_code_good(app, client, make_user, sms_codes):
    """The account-specific check can only run once the code is known to be right; failing it
    must not cost the person their code."""
    make_user(username="thuyduongtran", phone="0912 345 999", phone_verified=True)
    forgot(client, "0912 345 999")  # the identifier typed is the phone; the password below names the username
    (code,) = sms_codes("+84912345999")
    naming = reset(client, code, password="Thuyduongtran1990")
    assert naming.status_code == 400 and "too easy to guess" in naming.get_data(as_text=True)
    assert reset(client, code).status_code == 302
    assert sign_in(client, "thuyduongtran", "Brand-New-Secret-42").status_code == 302
