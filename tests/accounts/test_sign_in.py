"""Sign-in pages, SSO session cookies and their lifetimes."""

from __future__ import annotations

import pytest

from idp import clock

from ..conftest import csrf_token
from ..oidc.helpers import sign_in


@pytest.fixture
def user(make_user):
    return make_user(username="hoa", phone="0912 000 111", email="Hoa@Example.com")


def signed_in(client) -> bool:
    return "Hello" in client.get("/account?lang=en").get_data(as_text=True)


@pytest.mark.parametrize("identifier", ["hoa", "HOA", "hoa@example.com", "0912000111", "+84 912 000 111", "84912000111"])
def test_sign_in_by_username_email_or_phone_in_any_format(client, user, identifier):
    response = sign_in(client, identifier, user["password"])
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert signed_in(client)


def test_session_cookie_is_httponly_lax_and_not_persistent_by_default(client, user):
    response = sign_in(client, "hoa", user["password"])
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("idp_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Max-Age" not in cookie and "Expires" not in cookie
    assert "Secure" not in cookie  # http://localhost; https issuers get Secure


def test_keep_me_signed_in_makes_a_persistent_cookie(client, user):
    response = sign_in(client, "hoa", user["password"], remember=True)
    assert "Max-Age=2592000" in response.headers["Set-Cookie"] or "Max-Age=259199" in response.headers["Set-Cookie"]
    clock.travel(3 * 86400)  # days without activity: a remembered session survives
    assert signed_in(client)


def test_wrong_password_gets_the_same_answer_as_an_unknown_account(client, user):
    wrong = sign_in(client, "hoa", "wrong-password-1")
    unknown = sign_in(client, "nobody-here", "whatever-password")
    assert wrong.status_code == unknown.status_code == 401
    assert _error(wrong) == _error(unknown)
    assert not signed_in(client)


def test_empty_password_is_a_form_error(client, user):
    response = sign_in(client, "hoa", "")
    assert response.status_code == 400 and 'aria-invalid="true"' in response.get_data(as_text=True)
    assert not signed_in(client)


def _error(response) -> str:
    html = response.get_data(as_text=True)
    start = html.index('role="alert">') + len('role="alert">')
    return html[start : html.index("</div>", start)]


def test_locked_account_cannot_sign_in(app, client, user):
    from idp.accounts.service import find_account, set_locked

    with app.app_context():
        set_locked(find_account("hoa"), True)
    response = sign_in(client, "hoa", user["password"])
    assert response.status_code == 401 and "locked" in _error(response)
    assert not signed_in(client)


def test_missing_csrf_token_is_refused(client, user):
    response = client.post("/login?lang=en", data={"identifier": "hoa", "password": user["password"]})
    assert response.status_code == 400
    assert "The form has expired" in response.get_data(as_text=True)
    assert not signed_in(client)


@pytest.mark.parametrize("cookie", ["garbage", "x" * 5000, "", "a.b.c"])
def test_tampered_session_cookie_is_simply_signed_out(client, user, cookie):
    sign_in(client, "hoa", user["password"])
    client.set_cookie("idp_session", cookie)
    response = client.get("/account?lang=en")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=/account")


def test_idle_session_ends(client, user):
    sign_in(client, "hoa", user["password"])
    clock.travel(29 * 60)
    assert signed_in(client)  # activity resets the idle timer
    clock.travel(29 * 60)
    assert signed_in(client)
    clock.travel(31 * 60)
    assert not signed_in(client)


def test_session_ends_at_its_absolute_lifetime_despite_activity(client, user):
    sign_in(client, "hoa", user["password"])
    for _ in range(12 * 3):
        clock.travel(20 * 60)
        signed_in(client)
    assert not signed_in(client)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"])
def test_next_never_leaves_the_site(client, user, target):
    page = client.get("/login")
    response = client.post(
        "/login?next=" + target,
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "identifier": "hoa", "password": user["password"]},
    )
    assert response.headers["Location"] == "/"


def test_oversized_inputs_are_a_form_error_not_a_crash(client, user):
    page = client.get("/login?lang=en")
    response = client.post(
        "/login?lang=en",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "identifier": "h" * 300, "password": "p" * 300},
    )
    assert response.status_code == 400 and 'aria-invalid="true"' in response.get_data(as_text=True)


def test_oversized_body_is_413(client):
    response = client.post("/login", data={"identifier": "x" * 70000})
    assert response.status_code == 413


def test_hash_is_upgraded_when_parameters_change(app, client, user):
    from idp.accounts.models import User
    from idp.accounts.passwords import Passwords
    from idp.extensions import db, runtime

    with app.app_context():
        old_hash = db.session.scalar(db.select(User.password_hash).where(User.username == "hoa"))
        settings = runtime().settings.passwords
        runtime().passwords = Passwords(type(settings)(**{**settings.__dict__, "argon2_time_cost": 2}))
    sign_in(client, "hoa", user["password"])
    with app.app_context():
        new_hash = db.session.scalar(db.select(User.password_hash).where(User.username == "hoa"))
    assert new_hash != old_hash and "t=2" in new_hash and "t=1" in old_hash


def test_language_switch_and_accept_language(client):
    assert 'lang="en"' in client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    vietnamese = client.get("/login?lang=vi")
    assert '<html lang="vi">' in vietnamese.get_data(as_text=True)
    assert "idp_lang=vi" in vietnamese.headers["Set-Cookie"]
    assert '<html lang="vi">' in client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
