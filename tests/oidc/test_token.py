"""The token endpoint: codes, PKCE, client authentication, refresh rotation, client credentials."""

from __future__ import annotations

import base64
import json

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idp import clock

from .helpers import ISSUER, exchange, get_code, refresh, sign_in, signed_in_tokens


@pytest.fixture
def rp(make_client):
    return make_client(first_party=True, scopes=["openid", "profile", "email", "phone", "offline_access"])


@pytest.fixture
def user(make_user):
    return make_user(email="an@example.com", name="Lê An")


def userinfo(client, access_token):
    return client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})


def decode(client, id_token: str):
    keys = KeySet.import_key_set(client.get("/jwks.json").get_json())
    return jwt.decode(id_token, keys, algorithms=["RS256", "ES256", "EdDSA"])


def test_code_exchange_returns_tokens_and_a_valid_id_token(client, rp, user):
    sign_in(client, user["username"], user["password"])
    code, verifier = get_code(client, rp, nonce="nonce-42")
    response = exchange(client, rp, code, verifier)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    assert set(body["scope"].split()) == {"openid", "profile", "email", "phone"}
    token = decode(client, body["id_token"])
    assert token.header["alg"] == "RS256" and token.header["kid"]
    claims = token.claims
    assert claims["iss"] == ISSUER and claims["aud"] == rp["client_id"] and claims["sub"] == user["sub"]
    assert claims["nonce"] == "nonce-42" and claims["amr"] == ["pwd"] and claims["at_hash"]
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["email"] == "an@example.com" and claims["name"] == "Lê An"


def test_replayed_code_is_rejected_and_revokes_its_tokens(client, rp, user):
    sign_in(client, user["username"], user["password"])
    code, verifier = get_code(client, rp)
    first = exchange(client, rp, code, verifier).get_json()
    assert userinfo(client, first["access_token"]).status_code == 200
    replay = exchange(client, rp, code, verifier)
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    assert userinfo(client, first["access_token"]).status_code == 401
    assert refresh(client, rp, first["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_wrong_pkce_verifier_is_invalid_grant_and_burns_the_code(client, rp, user):
    sign_in(client, user["username"], user["password"])
    code, verifier = get_code(client, rp)
    wrong = exchange(client, rp, code, "w" * 50)
    assert wrong.status_code == 400 and wrong.get_json()["error"] == "invalid_grant"
    assert exchange(client, rp, code, verifier).get_json()["error"] == "invalid_grant"


def test_missing_pkce_verifier_is_refused(client, rp, user):
    sign_in(client, user["username"], user["password"])
    code, _ = get_code(client, rp)
    response = exchange(client, rp, code, None)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


def test_wrong_client_secret_is_401_invalid_client(client, rp, user):
    sign_in(client, user["username"], user["password"])
    code, verifier = get_code(client, rp)
    response = exchange(client, {**rp, "client_secret": "not-the-secret"}, code, verifier)
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"
    assert "Basic" in response.headers.get("WWW-Authenticate", "")


def test_unknown_client_is_401_invalid_client(client, rp):
    response = client.post("/token", data={"grant_type": "authorization_code", "code": "x"}, auth=("ghost", "secret"))
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"


def test_expired_code_is_invalid_grant(client, rp, user):
    sign_in(client, user["username"], user["password"])
    code, verifier = get_code(client, rp)
    clock.travel(61)
    response = exchange(client, rp, code, verifier)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


def test_code_of_another_client_is_invalid_grant(client, rp, make_client, user):
    other = make_client(first_party=True)
    sign_in(client, user["username"], user["password"])
    code, verifier = get_code(client, rp)
    stolen = exchange(client, {**other, "redirect_uri": rp["redirect_uri"]}, code, verifier)
    assert stolen.status_code == 400 and stolen.get_json()["error"] == "invalid_grant"


def test_redirect_uri_must_match_the_authorization_request(client, rp, user):
    sign_in(client, user["username"], user["password"])
    code, verifier = get_code(client, rp)
    response = exchange(client, {**rp, "redirect_uri": "https://rp.example/other"}, code, verifier)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "body, content_type, error",
    [
        ("", "application/x-www-form-urlencoded", "unsupported_grant_type"),
        ("grant_type=password&username=a&password=b", "application/x-www-form-urlencoded", "unsupported_grant_type"),
        ('{"grant_type": "authorization_code", "code": "x"}', "application/json", "unsupported_grant_type"),
        ("{not json", "application/json", "unsupported_grant_type"),
        ("grant_type=authorization_code", "application/x-www-form-urlencoded", "invalid_request"),
    ],
)
def test_malformed_token_requests_get_oauth_errors(client, rp, body, content_type, error):
    response = client.post("/token", data=body, content_type=content_type, auth=(rp["client_id"], rp["client_secret"]))
    assert response.status_code == 400
    assert response.get_json()["error"] == error


def test_oversized_token_request_is_413_json(client, rp):
    response = client.post("/token", data={"grant_type": "authorization_code", "code": "x" * 70000})
    assert response.status_code == 413 and response.get_json()["error"] == "invalid_request"


def test_token_endpoint_refuses_get(client):
    response = client.get("/token")
    assert response.status_code == 405 and response.get_json()["error"] == "invalid_request"


class TestRefresh:
    def test_rotation_gives_new_tokens_and_the_old_ones_stop(self, client, rp, user):
        tokens = signed_in_tokens(client, rp, user)
        first = refresh(client, rp, tokens["refresh_token"])
        assert first.status_code == 200
        new = first.get_json()
        assert new["refresh_token"] != tokens["refresh_token"] and new["id_token"]
        assert userinfo(client, new["access_token"]).get_json()["sub"] == user["sub"]
        assert refresh(client, rp, new["refresh_token"]).status_code == 200

    def test_reuse_revokes_the_whole_family(self, client, rp, user):
        tokens = signed_in_tokens(client, rp, user)
        second = refresh(client, rp, tokens["refresh_token"]).get_json()
        reuse = refresh(client, rp, tokens["refresh_token"])
        assert reuse.status_code == 400 and reuse.get_json()["error"] == "invalid_grant"
        # The thief's reuse also kills the legitimate successor and its access token.
        assert refresh(client, rp, second["refresh_token"]).get_json()["error"] == "invalid_grant"
        assert userinfo(client, second["access_token"]).status_code == 401

    def test_another_client_cannot_use_it(self, client, rp, make_client, user):
        other = make_client(first_party=True)
        tokens = signed_in_tokens(client, rp, user)
        response = refresh(client, other, tokens["refresh_token"])
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"
        assert refresh(client, rp, tokens["refresh_token"]).status_code == 200

    def test_narrower_scope_is_allowed_wider_is_not(self, client, rp, user):
        tokens = signed_in_tokens(client, rp, user)
        auth = (rp["client_id"], rp["client_secret"])
        wider = client.post(
            "/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "scope": "openid admin"}, auth=auth
        )
        assert wider.get_json()["error"] == "invalid_scope"
        narrow = client.post(
            "/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "scope": "openid"}, auth=auth
        )
        assert narrow.status_code == 200 and narrow.get_json()["scope"] == "openid"
        assert "email" not in userinfo(client, narrow.get_json()["access_token"]).get_json()

    def test_expired_refresh_token_is_invalid_grant(self, client, rp, user):
        tokens = signed_in_tokens(client, rp, user)
        clock.travel(31 * 86400)
        assert refresh(client, rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"

    def test_locked_account_cannot_refresh(self, app, client, rp, user):
        from idp.accounts.service import find_account, set_locked

        tokens = signed_in_tokens(client, rp, user)
        with app.app_context():
            set_locked(find_account(user["username"]), True)
        assert refresh(client, rp, tokens["refresh_token"]).status_code == 400
        assert userinfo(client, tokens["access_token"]).status_code == 401


def test_client_credentials_grant(client, make_client):
    service = make_client(redirect_uris=(), client_credentials=True, scopes=["openid"])
    response = client.post("/token", data={"grant_type": "client_credentials"}, auth=(service["client_id"], service["client_secret"]))
    assert response.status_code == 200
    body = response.get_json()
    assert "refresh_token" not in body and "id_token" not in body
    introspected = client.post(
        "/introspect", data={"token": body["access_token"]}, auth=(service["client_id"], service["client_secret"])
    ).get_json()
    assert introspected["active"] is True and introspected["client_id"] == service["client_id"]
    assert "sub" not in introspected


def test_client_credentials_needs_the_grant(client, rp):
    response = client.post("/token", data={"grant_type": "client_credentials"}, auth=(rp["client_id"], rp["client_secret"]))
    assert response.status_code == 400 and response.get_json()["error"] == "unauthorized_client"


@pytest.mark.parametrize("alg, kty", [("ES256", "EC"), ("EdDSA", "OKP")])
def test_client_may_register_another_id_token_algorithm(client, make_client, user, alg, kty):
    rp = make_client(first_party=True, id_token_alg=alg)
    tokens = signed_in_tokens(client, rp, user)
    header = json.loads(base64.urlsafe_b64decode(tokens["id_token"].split(".")[0] + "=="))
    assert header["alg"] == alg
    keys = {k["kid"]: k for k in client.get("/jwks.json").get_json()["keys"]}
    assert keys[header["kid"]]["kty"] == kty
    assert decode(client, tokens["id_token"]).claims["sub"] == user["sub"]
