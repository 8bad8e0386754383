"""Facebook (OAuth 2 + Graph API /me with appsecret_proof) and Zalo (OAuth v4), against wire-format stand-ins."""

from __future__ import annotations

import re

import pytest

from ..conftest import LiveServer, csrf_token
from ..fakes.facebook import FakeFacebook
from ..fakes.zalo import FakeZalo
from ..oidc.flows import Browser


@pytest.fixture
def facebook():
    fake = FakeFacebook()
    yield fake
    fake.stop()


@pytest.fixture
def zalo():
    fake = FakeZalo()
    yield fake
    fake.stop()


@pytest.fixture
def idp(backend, facebook, zalo):
    server = LiveServer(backend, {"federation": {"providers": [
        {"name": "facebook", "kind": "facebook", "client_id": facebook.app_id, "client_secret": facebook.app_secret,
         "authorize_url": facebook.authorize_url, "token_url": facebook.token_url, "graph_url": facebook.graph_url},
        {"name": "zalo", "kind": "zalo", "client_id": zalo.app_id, "client_secret": zalo.secret_key,
         "authorize_url": zalo.authorize_url, "token_url": zalo.token_url, "graph_url": zalo.graph_url},
    ]}})
    yield server
    server.stop()


def start(idp, name):
    browser = Browser(idp.url)
    browser.http.cookies.set("idp_lang", "en")
    callback = browser.follow_to(f"{idp.url}/federation/{name}/start", f"{idp.url}/federation/{name}/callback")
    return browser, browser.get(callback.headers["Location"])


def complete(browser, idp, phone_local, phone_e164):
    from idp.extensions import runtime

    page = browser.get("/federation/complete")
    sent = browser.post("/federation/complete", {"csrf_token": csrf_token(page.text), "action": "send", "phone": phone_local})
    with idp.app.app_context():
        body = next(m["body"] for m in runtime().sms.recent() if m["to"] == phone_e164)
    return browser.post("/federation/complete", {"csrf_token": csrf_token(sent.text), "action": "confirm",
                                                 "code": re.search(r"\b(\d{6})\b", body).group(1)})


def account_of(idp, phone):
    from idp.accounts.service import find_account
    from idp.federation.models import Identity
    from idp.extensions import db

    with idp.app.app_context():
        user = find_account(phone)
        identities = db.session.scalars(db.select(Identity).where(Identity.user_id == user.id)).all()
        return user.email, user.email_verified, user.name, [(i.provider, i.subject) for i in identities]


def test_facebook_sign_in_reads_the_graph_with_appsecret_proof(idp, facebook):
    browser, landed = start(idp, "facebook")
    assert landed.headers["Location"] == "/federation/complete"
    assert complete(browser, idp, "0912 300 400", "+84912300400").status_code == 302
    (me,) = facebook.me_requests
    assert me["appsecret_proof"] == facebook.appsecret_proof(next(iter(facebook.tokens)))
    assert set(me["fields"].split(",")) == {"id", "name", "email"}
    assert account_of(idp, "+84912300400") == ("hoa.fb@example.com", True, "Nguyễn Thị Hoa",
                                               [("facebook", "10220000000000001")])
    again, landed = start(idp, "facebook")
    assert landed.headers["Location"] == "/"  # found by (provider, subject)


def test_facebook_account_without_email_is_completed_by_phone(idp, facebook):
    facebook.profile = {**facebook.profile, "email": None}
    browser, landed = start(idp, "facebook")
    assert landed.headers["Location"] == "/federation/complete"
    complete(browser, idp, "0912 300 401", "+84912300401")
    email, verified, _, identities = account_of(idp, "+84912300401")
    assert email is None and not verified and identities == [("facebook", "10220000000000001")]


@pytest.mark.parametrize("mode, status, message", [
    ("deny", 400, "You cancelled signing in with Facebook"),
    ("token_error", 400, "Signing in with Facebook did not work"),
    ("down", 502, "Facebook is not answering right now"),
])
def test_facebook_failures_are_clear_pages(idp, facebook, mode, status, message):
    facebook.mode = mode
    _, page = start(idp, "facebook")
    assert page.status_code == status and message in page.text


def test_zalo_sign_in_with_pkce_and_the_secret_key_header(idp, zalo):
    browser, landed = start(idp, "zalo")
    assert landed.headers["Location"] == "/federation/complete"
    (token_request,) = zalo.token_requests
    headers = dict(token_request["headers"])
    assert headers["secret_key"] == zalo.secret_key
    assert token_request["form"]["app_id"] == zalo.app_id and token_request["form"]["code_verifier"]
    assert "Authorization" not in headers  # the secret never travels as Basic auth to Zalo
    complete(browser, idp, "0912 300 402", "+84912300402")
    email, _, name, identities = account_of(idp, "+84912300402")
    assert email is None and name == "Trần Văn Zalo" and identities == [("zalo", "8712000000000000001")]


@pytest.mark.parametrize("mode, message", [
    ("deny", "You cancelled signing in with Zalo"),
    ("token_error", "Signing in with Zalo did not work"),
])
def test_zalo_failures_are_clear_pages(idp, zalo, mode, message):
    zalo.mode = mode
    _, page = start(idp, "zalo")
    assert page.status_code == 400 and message in page.text


def test_zalo_down_is_a_clear_page(idp, zalo):
    zalo.mode = "down"
    _, page = start(idp, "zalo")
    assert page.status_code == 502 and "Zalo is not answering right now" in page.text
