"""A relying party signs a person in over real HTTP, then SSO, refresh and logout."""

from __future__ import annotations

import time

import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from .flows import Browser, RelyingParty, callback_params


def _register_client(server, name, port, first_party=True):
    from idp.oidc.clients import create_client

    with server.app.app_context():
        client, secret = create_client(
            name,
            [f"http://127.0.0.1:{port}/callback"],
            [f"http://127.0.0.1:{port}/"],
            first_party=first_party,
            scopes=["openid", "profile", "email", "phone", "offline_access"],
        )
        return client.client_id, secret


def _register_user(server):
    from idp.accounts.service import register

    with server.app.app_context():
        user = register(
            username="lan", password="Cable-Subscriber-77", phone="0912 345 678", email="lan@example.com", name="Trần Thị Lan"
        )
        return user.sub


def verify_id_token(id_token: str, issuer: str, client_id: str, nonce: str) -> dict:
    keys = KeySet.import_key_set(requests.get(issuer + "/jwks.json", timeout=10).json())
    token = jwt.decode(id_token, keys, algorithms=["RS256", "ES256", "EdDSA"])
    claims = token.claims
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
        nonce={"essential": True, "value": nonce},
    ).validate(claims)
    assert token.header["kid"] in {k["kid"] for k in requests.get(issuer + "/jwks.json", timeout=10).json()["keys"]}
    return claims


def test_sign_in_sso_refresh_and_logout(live_server):
    issuer = live_server.url
    selfcare_id, selfcare_secret = _register_client(live_server, "Self-care", 5001)
    wallet_id, wallet_secret = _register_client(live_server, "Wallet", 5002)
    sub = _register_user(live_server)
    browser = Browser(issuer)

    # 1. Self-care sends the person to idp; idp asks them to sign in.
    selfcare = RelyingParty(issuer, selfcare_id, selfcare_secret, "http://127.0.0.1:5001/callback")
    assert selfcare.metadata["issuer"] == issuer
    url, request = selfcare.authorization_url()
    login_page = browser.follow_to(url, "http://127.0.0.1:5001")
    assert "/login" in login_page.url
    after_login = browser.sign_in(login_page, "+84912345678", "Cable-Subscriber-77")
    callback = browser.follow_to(after_login.headers["Location"], "http://127.0.0.1:5001")
    params = callback_params(callback)
    assert params["state"] == request["state"]
    assert params["iss"] == issuer  # RFC 9207

    # 2. Code for tokens; the ID token verifies against the published keys.
    token = selfcare.fetch_token(callback.headers["Location"], request)
    assert token["token_type"].lower() == "bearer" and token["refresh_token"]
    claims = verify_id_token(token["id_token"], issuer, selfcare_id, request["nonce"])
    assert claims["sub"] == sub
    assert claims["amr"] == ["pwd"]
    assert abs(claims["auth_time"] - time.time()) < 30
    assert claims["sid"]
    assert claims["acr"] == "urn:idp:acr:single-factor"

    # 3. Userinfo gives the standard claims of the granted scopes.
    info = selfcare.oauth.get(selfcare.metadata["userinfo_endpoint"]).json()
    assert info == {
        "sub": sub,
        "preferred_username": "lan",
        "name": "Trần Thị Lan",
        "updated_at": info["updated_at"],
        "email": "lan@example.com",
        "email_verified": False,
        "phone_number": "+84912345678",
        "phone_number_verified": False,
    }

    # 4. Refresh: a new access token and a new refresh token; the ID token keeps sid and auth_time.
    refreshed = selfcare.oauth.refresh_token(selfcare.metadata["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != token["refresh_token"]
    refreshed_claims = jwt.decode(refreshed["id_token"], KeySet.import_key_set(requests.get(issuer + "/jwks.json").json())).claims
    assert refreshed_claims["sid"] == claims["sid"] and refreshed_claims["auth_time"] == claims["auth_time"]
    assert selfcare.oauth.get(selfcare.metadata["userinfo_endpoint"]).json()["sub"] == sub

    # 5. Wallet, in the same browser, gets a code silently: single sign-on.
    wallet = RelyingParty(issuer, wallet_id, wallet_secret, "http://127.0.0.1:5002/callback")
    url, wallet_request = wallet.authorization_url(prompt="none")
    silent = browser.follow_to(url, "http://127.0.0.1:5002")
    assert "code" in callback_params(silent), callback_params(silent)
    wallet_token = wallet.fetch_token(silent.headers["Location"], wallet_request)
    wallet_claims = verify_id_token(wallet_token["id_token"], issuer, wallet_id, wallet_request["nonce"])
    assert wallet_claims["sub"] == sub and wallet_claims["sid"] == claims["sid"]

    # 6. RP-initiated logout: back to the registered URI with state; the session is over.
    logout = browser.get(
        selfcare.metadata["end_session_endpoint"],
        params={
            "id_token_hint": token["id_token"],
            "post_logout_redirect_uri": "http://127.0.0.1:5001/",
            "state": "bye-123",
        },
    )
    assert logout.status_code == 302, logout.text[:300]
    assert logout.headers["Location"] == "http://127.0.0.1:5001/?state=bye-123"

    url, _ = wallet.authorization_url(prompt="none")
    after_logout = browser.follow_to(url, "http://127.0.0.1:5002")
    assert callback_params(after_logout)["error"] == "login_required"

    # Tokens issued in the ended session no longer work.
    assert selfcare.oauth.get(selfcare.metadata["userinfo_endpoint"]).status_code == 401
    stale = requests.post(
        selfcare.metadata["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
        auth=(selfcare_id, selfcare_secret),
        timeout=10,
    )
    assert stale.status_code == 400 and stale.json()["error"] == "invalid_grant"
