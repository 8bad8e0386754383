"""Back-Channel and Front-Channel Logout: every site of an ending session hears of it."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from ..fakes.logout_receiver import LogoutReceiver
from .helpers import ISSUER, exchange, get_code, signed_in_tokens

EVENT = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture
def receivers():
    made = [LogoutReceiver(), LogoutReceiver()]
    yield made
    for receiver in made:
        receiver.stop()


@pytest.fixture
def sites(make_client, receivers):
    return [
        make_client(name=f"Site {n}", first_party=True, redirect_uris=(f"https://site{n}.example/cb",),
                    post_logout_redirect_uris=[f"https://site{n}.example/bye"], backchannel_logout_uri=receiver.url)
        for n, receiver in enumerate(receivers)
    ]


def decode(client, token):
    return jwt.decode(token, KeySet.import_key_set(client.get("/jwks.json").get_json()))


def test_logout_at_one_site_notifies_every_site_of_the_session(client, sites, receivers, make_user):
    user = make_user()
    first = signed_in_tokens(client, sites[0], user)
    code, verifier = get_code(client, sites[1], prompt="none")  # the second site, silently: same session
    exchange(client, sites[1], code, verifier)
    sid = decode(client, first["id_token"]).claims["sid"]

    response = client.get("/logout", query_string={"id_token_hint": first["id_token"],
                                                   "post_logout_redirect_uri": "https://site0.example/bye"})
    assert response.status_code == 302
    for site, receiver in zip(sites, receivers):
        (token,) = receiver.wait(1)
        decoded = decode(client, token)
        assert decoded.header["typ"] == "logout+jwt"
        claims = decoded.claims
        assert claims["iss"] == ISSUER and claims["aud"] == site["client_id"]
        assert claims["sid"] == sid and claims["sub"] == user["sub"]
        assert claims["events"] == {EVENT: {}} and claims["jti"] and "nonce" not in claims
        assert 0 < claims["exp"] - claims["iat"] <= 120


def test_a_slow_site_does_not_hold_up_the_logout_page(client, sites, receivers, make_user):
    receivers[0].delay = 2.5
    tokens = signed_in_tokens(client, sites[0], make_user())
    started = time.monotonic()
    response = client.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    assert time.monotonic() - started < 1.0 and response.status_code == 200
    assert len(receivers[0].wait(1, seconds=10)) == 1


def test_a_dead_site_is_retried_then_audited(backend, make_user):
    from idp import audit, create_app
    from idp.accounts.service import register
    from idp.oidc.clients import create_client

    app = create_app(backend.fresh_settings(logout={"backchannel_retry_seconds": 0, "backchannel_attempts": 2,
                                                    "backchannel_timeout_seconds": 1}), testing=True)
    receiver = LogoutReceiver()
    receiver.status = 500
    try:
        with app.app_context():
            site, secret = create_client("Broken", ["https://broken.example/cb"], first_party=True,
                                         backchannel_logout_uri=receiver.url)
            rp = {"client_id": site.client_id, "client_secret": secret, "redirect_uri": "https://broken.example/cb"}
            register(username="dung", password="Quiet-River-Stone-8", phone="0912 777 000")
        client = app.test_client()
        tokens = signed_in_tokens(client, rp, {"username": "dung", "password": "Quiet-River-Stone-8"})
        client.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
        receiver.wait(2)
        deadline = time.monotonic() + 10
        failures = []
        while not failures and time.monotonic() < deadline:
            time.sleep(0.1)
            with app.app_context():
                failures = audit.recent(1, event="logout.delivery_failed")
        assert len(receiver.tokens) == 2
        assert failures and failures[0].client_id == rp["client_id"] and failures[0].details["problem"] == "HTTP 500"
    finally:
        receiver.stop()


def test_password_reset_and_locking_notify_the_sites(app, client, sites, receivers, make_user):
    from idp.accounts.service import find_account, set_locked

    user = make_user()
    signed_in_tokens(client, sites[0], user)
    with app.app_context():
        set_locked(find_account(user["username"]), True)
    (token,) = receivers[0].wait(1)
    assert decode(client, token).claims["sub"] == user["sub"]


def test_front_channel_logout_loads_the_sites_in_iframes(client, make_client, make_user):
    site = make_client(first_party=True, frontchannel_logout_uri="https://front.example/logout?x=1",
                       post_logout_redirect_uris=["https://front.example/bye"])
    tokens = signed_in_tokens(client, site, make_user())
    sid = decode(client, tokens["id_token"]).claims["sid"]
    page = client.get("/logout", query_string={"id_token_hint": tokens["id_token"],
                                               "post_logout_redirect_uri": "https://front.example/bye", "state": "s"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'src="https://front.example/logout?x=1&amp;iss=http%3A%2F%2Flocalhost&amp;sid={sid}"' in html
    assert 'href="https://front.example/bye?state=s" id="continue"' in html
    assert "frame-src http: https:" in page.headers["Content-Security-Policy"]


def test_discovery_advertises_both_channels(client):
    metadata = client.get("/.well-known/openid-configuration").get_json()
    assert metadata["backchannel_logout_supported"] and metadata["backchannel_logout_session_supported"]
    assert metadata["frontchannel_logout_supported"] and metadata["frontchannel_logout_session_supported"]


def test_signing_in_again_carries_the_sites_of_the_previous_session_into_logout(client, sites, receivers, make_user):
    """prompt=login at one site gives a new session id; the other site keeps working, and a logout
    later reaches it under the sid its ID token carries, revoking its tokens too."""
    from .helpers import authorize, refresh, sign_in

    user = make_user()
    first = signed_in_tokens(client, sites[0], user)
    first_sid = decode(client, first["id_token"]).claims["sid"]
    assert authorize(client, sites[1], prompt="login")[0].headers["Location"].startswith("/login")
    sign_in(client, user["username"], user["password"])
    code, verifier = get_code(client, sites[1])
    second = exchange(client, sites[1], code, verifier).get_json()
    second_sid = decode(client, second["id_token"]).claims["sid"]
    assert second_sid != first_sid  # a new id at every sign-in
    renewed = refresh(client, sites[0], first["refresh_token"])
    assert renewed.status_code == 200  # the first site is still signed in

    client.get("/logout", query_string={"id_token_hint": second["id_token"],
                                        "post_logout_redirect_uri": "https://site1.example/bye"})
    (to_first,) = receivers[0].wait(1)
    (to_second,) = receivers[1].wait(1)
    assert decode(client, to_first).claims["sid"] == first_sid
    assert decode(client, to_second).claims["sid"] == second_sid
    assert refresh(client, sites[0], renewed.get_json()["refresh_token"]).status_code == 400


def test_someone_else_signing_in_on_the_same_browser_signs_the_first_person_out(client, sites, receivers, make_user):
    from .helpers import refresh, sign_in

    first_person, second_person = make_user(), make_user()
    tokens = signed_in_tokens(client, sites[0], first_person)
    sign_in(client, second_person["username"], second_person["password"])
    (token,) = receivers[0].wait(1)
    assert decode(client, token).claims["sub"] == first_person["sub"]
    assert refresh(client, sites[0], tokens["refresh_token"]).status_code == 400
    assert client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401


def test_a_code_redeemed_after_its_session_ended_gives_nothing(client, sites, make_user):
    from ..conftest import csrf_token

    user = make_user()
    signed_in_tokens(client, sites[0], user)
    code, verifier = get_code(client, sites[1])
    page = client.get("/logout")
    client.post("/logout", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "confirm": "1"})
    answer = exchange(client, sites[1], code, verifier)
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_grant"
