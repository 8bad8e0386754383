"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from ..conftest import csrf_token
from .helpers import authorize, query_of, signed_in_tokens


@pytest.fixture
def rp(make_client):
    return make_client(first_party=True, post_logout_redirect_uris=["https://rp.example/signed-out"])


@pytest.fixture
def user(make_user):
    return make_user()


def logout(client, **params):
    return client.get("/logout?" + urlencode(params))


def test_logout_with_id_token_hint_redirects_with_state_and_ends_the_session(client, rp, user):
    tokens = signed_in_tokens(client, rp, user)
    response = logout(
        client, id_token_hint=tokens["id_token"], post_logout_redirect_uri="https://rp.example/signed-out", state="xyz"
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "https://rp.example/signed-out?state=xyz"
    assert "idp_session=;" in response.headers["Set-Cookie"]
    silent, _ = authorize(client, rp, prompt="none")
    assert query_of(silent)["error"] == "login_required"


def test_unregistered_post_logout_uri_does_not_redirect(client, rp, user):
    tokens = signed_in_tokens(client, rp, user)
    response = logout(client, id_token_hint=tokens["id_token"], post_logout_redirect_uri="https://evil.example/")
    assert response.status_code == 200 and "Location" not in response.headers
    silent, _ = authorize(client, rp, prompt="none")
    assert query_of(silent)["error"] == "login_required"


def test_without_id_token_hint_the_person_confirms(client, rp, user):
    signed_in_tokens(client, rp, user)
    page = logout(client, client_id=rp["client_id"], post_logout_redirect_uri="https://rp.example/signed-out", state="s")
    assert page.status_code == 200 and 'name="confirm"' in page.get_data(as_text=True)
    still, _ = authorize(client, rp, prompt="none")
    assert "code" in query_of(still)  # nothing ended before the confirmation
    confirmed = client.post(
        "/logout",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "confirm": "1",
            "client_id": rp["client_id"],
            "post_logout_redirect_uri": "https://rp.example/signed-out",
            "state": "s",
        },
    )
    assert confirmed.headers["Location"] == "https://rp.example/signed-out?state=s"
    silent, _ = authorize(client, rp, prompt="none")
    assert query_of(silent)["error"] == "login_required"


def test_confirmation_without_csrf_token_ends_nothing(client, rp, user):
    signed_in_tokens(client, rp, user)
    forged = client.post("/logout", data={"confirm": "1"})
    assert forged.status_code == 400
    still, _ = authorize(client, rp, prompt="none")
    assert "code" in query_of(still)


def test_id_token_hint_of_another_client_id_is_refused(client, rp, make_client, user):
    tokens = signed_in_tokens(client, rp, user)
    other = make_client(first_party=True)
    response = logout(client, id_token_hint=tokens["id_token"], client_id=other["client_id"])
    assert response.status_code == 400 and "Location" not in response.headers


def test_garbage_id_token_hint_is_an_error_page(client):
    response = logout(client, id_token_hint="not.a.jwt")
    assert response.status_code == 400 and "Location" not in response.headers


def test_logout_revokes_refresh_tokens_of_the_session(client, rp, user):
    tokens = signed_in_tokens(client, rp, user)
    logout(client, id_token_hint=tokens["id_token"])
    again = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(rp["client_id"], rp["client_secret"]),
    )
    assert again.get_json()["error"] == "invalid_grant"


def test_logout_when_already_signed_out_still_redirects(client, rp, user):
    tokens = signed_in_tokens(client, rp, user)
    client.delete_cookie("idp_session")
    response = logout(client, id_token_hint=tokens["id_token"], post_logout_redirect_uri="https://rp.example/signed-out")
    assert response.headers["Location"] == "https://rp.example/signed-out"


def test_signing_in_again_starts_a_new_session(client, rp, user):
    first = signed_in_tokens(client, rp, user)
    old_cookie = client.get_cookie("idp_session").value
    second = signed_in_tokens(client, rp, user)
    assert client.get_cookie("idp_session").value != old_cookie
    keys = KeySet.import_key_set(client.get("/jwks.json").get_json())
    assert jwt.decode(first["id_token"], keys).claims["sid"] != jwt.decode(second["id_token"], keys).claims["sid"]
    client.set_cookie("idp_session", old_cookie)
    silent, _ = authorize(client, rp, prompt="none")
    assert query_of(silent)["error"] == "login_required"  # the old session ended at the new sign-in
