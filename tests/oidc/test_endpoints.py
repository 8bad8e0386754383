"""Discovery, JWKS, userinfo, introspection and revocation."""

from __future__ import annotations

import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oauth2.rfc9207 import AuthorizationServerMetadata as IssMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata

from .helpers import ISSUER, signed_in_tokens


@pytest.fixture
def rp(make_client):
    return make_client(first_party=True)


@pytest.fixture
def user(make_user):
    return make_user(email="mai@example.com")


def test_discovery_document_is_valid_and_cached(client):
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    metadata = response.get_json()
    OpenIDProviderMetadata(metadata).validate()
    AuthorizationServerMetadata(metadata).validate(metadata_classes=[IssMetadata])
    assert metadata["issuer"] == ISSUER
    assert metadata["token_endpoint"] == ISSUER + "/token"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    again = client.get("/.well-known/openid-configuration", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_jwks_publishes_public_keys_only(client):
    response = client.get("/jwks.json")
    keys = response.get_json()["keys"]
    assert {k["alg"] for k in keys} == {"RS256", "ES256", "EdDSA"}
    for key in keys:
        assert key["use"] == "sig" and key["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
    assert "max-age" in response.headers["Cache-Control"]
    assert client.get("/jwks.json", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


class TestUserinfo:
    def test_claims_follow_scopes(self, client, make_client, user):
        narrow = make_client(first_party=True, scopes=["openid", "email"])
        tokens = signed_in_tokens(client, narrow, user)
        info = client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).get_json()
        assert info == {"sub": user["sub"], "email": "mai@example.com", "email_verified": False}

    def test_post_with_bearer_header_works(self, client, rp, user):
        tokens = signed_in_tokens(client, rp, user)
        response = client.post("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert response.get_json()["sub"] == user["sub"]

    @pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer " + "x" * 600])
    def test_bad_token_is_401_invalid_token(self, client, header):
        response = client.get("/userinfo", headers={"Authorization": header})
        assert response.status_code == 401 and response.get_json()["error"] == "invalid_token"
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="http://localhost", error="invalid_token"'

    @pytest.mark.parametrize("header", [None, "Basic abc"])
    def test_no_bearer_token_is_a_bare_challenge(self, client, header):
        """RFC 6750 §3.1: a request without bearer credentials gets no error code."""
        response = client.get("/userinfo", headers={"Authorization": header} if header else {})
        assert response.status_code == 401 and "error" not in response.get_json()
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="http://localhost"'

    def test_a_malformed_bearer_header_is_invalid_request(self, client):
        response = client.get("/userinfo", headers={"Authorization": "Bearer"})
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"

    def test_a_token_without_openid_is_403_insufficient_scope(self, client, make_client):
        service = make_client(redirect_uris=(), client_credentials=True, scopes=["admin"])
        token = client.post("/token", data={"grant_type": "client_credentials", "scope": "admin"},
                            auth=(service["client_id"], service["client_secret"])).get_json()["access_token"]
        response = client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403 and response.get_json()["error"] == "insufficient_scope"
        assert response.headers["WWW-Authenticate"].endswith('error="insufficient_scope", scope="openid"')

    def test_expired_access_token_is_401(self, client, rp, user):
        from idp import clock

        tokens = signed_in_tokens(client, rp, user)
        clock.travel(601)
        response = client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert response.status_code == 401

    def test_token_without_openid_scope_is_403(self, client, make_client):
        service = make_client(redirect_uris=(), client_credentials=True, scopes=["profile"])
        token = client.post(
            "/token", data={"grant_type": "client_credentials"}, auth=(service["client_id"], service["client_secret"])
        ).get_json()["access_token"]
        response = client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403 and response.get_json()["error"] == "insufficient_scope"


class TestIntrospection:
    def test_own_access_and_refresh_tokens(self, client, rp, user):
        tokens = signed_in_tokens(client, rp, user)
        auth = (rp["client_id"], rp["client_secret"])
        access = client.post("/introspect", data={"token": tokens["access_token"]}, auth=auth).get_json()
        assert access["active"] is True and access["sub"] == user["sub"] and access["client_id"] == rp["client_id"]
        assert access["token_type"] == "Bearer" and access["iss"] == ISSUER and access["exp"] > access["iat"]
        assert "openid" in access["scope"].split()
        refresh = client.post(
            "/introspect", data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}, auth=auth
        ).get_json()
        assert refresh["active"] is True and refresh["token_type"] == "refresh_token"

    def test_unknown_token_is_inactive(self, client, rp):
        response = client.post("/introspect", data={"token": "nope"}, auth=(rp["client_id"], rp["client_secret"]))
        assert response.status_code == 200 and response.get_json() == {"active": False}

    def test_other_clients_tokens_are_inactive_without_the_introspection_scope(self, client, rp, make_client, user):
        tokens = signed_in_tokens(client, rp, user)
        stranger = make_client(first_party=True)
        resource_server = make_client(redirect_uris=(), client_credentials=True, scopes=["introspection"])
        as_stranger = client.post(
            "/introspect", data={"token": tokens["access_token"]}, auth=(stranger["client_id"], stranger["client_secret"])
        )
        assert as_stranger.get_json() == {"active": False}
        as_resource_server = client.post(
            "/introspect",
            data={"token": tokens["access_token"]},
            auth=(resource_server["client_id"], resource_server["client_secret"]),
        )
        assert as_resource_server.get_json()["active"] is True

    def test_needs_client_authentication(self, client, rp, user):
        tokens = signed_in_tokens(client, rp, user)
        response = client.post("/introspect", data={"token": tokens["access_token"]})
        assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"

    def test_missing_token_parameter_is_invalid_request(self, client, rp):
        response = client.post("/introspect", data={}, auth=(rp["client_id"], rp["client_secret"]))
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


class TestRevocation:
    def test_revoking_an_access_token(self, client, rp, user):
        tokens = signed_in_tokens(client, rp, user)
        response = client.post("/revoke", data={"token": tokens["access_token"]}, auth=(rp["client_id"], rp["client_secret"]))
        assert response.status_code == 200
        assert client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401

    def test_revoking_a_refresh_token_revokes_its_family(self, client, rp, user):
        tokens = signed_in_tokens(client, rp, user)
        auth = (rp["client_id"], rp["client_secret"])
        assert client.post("/revoke", data={"token": tokens["refresh_token"]}, auth=auth).status_code == 200
        again = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, auth=auth)
        assert again.get_json()["error"] == "invalid_grant"
        assert client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401

    def test_unknown_token_is_200_per_rfc_7009(self, client, rp):
        response = client.post("/revoke", data={"token": "unknown"}, auth=(rp["client_id"], rp["client_secret"]))
        assert response.status_code == 200

    def test_another_clients_token_is_refused_and_stays_valid(self, client, rp, make_client, user):
        tokens = signed_in_tokens(client, rp, user)
        other = make_client(first_party=True)
        response = client.post("/revoke", data={"token": tokens["access_token"]}, auth=(other["client_id"], other["client_secret"]))
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"
        assert client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 200

    def test_unknown_token_type_hint_is_ignored(self, client, rp, user):
        # RFC 7009 §2.1: an invalid hint does not influence the response.
        tokens = signed_in_tokens(client, rp, user)
        response = client.post(
            "/revoke",
            data={"token": tokens["access_token"], "token_type_hint": "id_token"},
            auth=(rp["client_id"], rp["client_secret"]),
        )
        assert response.status_code == 200
        assert client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ok"}
