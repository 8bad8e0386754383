"""Requests that are malformed in ways the RFCs name: each gets its OAuth error, never a 500
(these run with testing=False, as in production, so an exception would be a 500 here)."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest
from werkzeug.datastructures import MultiDict

from idp import create_app

from .helpers import authorize, exchange, get_code, query_of, sign_in


@pytest.fixture
def app(backend):
    return create_app(backend.fresh_settings(), testing=False)


@pytest.fixture
def rp(make_client):
    return make_client(first_party=True)


def basic(raw: bytes) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def segment(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("override", [
    {"redirect_uri": "https://rp.example/callbäck"},
    {"redirect_uri": 'https://rp.example/cb"'},
    {"redirect_uri": "https://rp.example/cb\\x"},
    {"response_type": "cödé"},
])
def test_authorization_requests_with_unquotable_values_get_an_error_page(client, rp, override):
    response, _ = authorize(client, rp, **override)
    assert response.status_code == 400 and "This sign-in link is not valid" in response.get_data(as_text=True)


@pytest.mark.parametrize("header", [{"alg": "é"}, {"alg": "RS256", "kid": 'a"b'}])
def test_logout_with_an_id_token_hint_of_odd_headers_gets_an_error_page(client, header):
    hint = f"{segment(header)}.{segment({'sub': 'x'})}.c2ln"
    response = client.get("/logout?" + urlencode({"id_token_hint": hint}))
    assert response.status_code == 400 and "This sign-out link is not valid" in response.get_data(as_text=True)


@pytest.mark.parametrize("path, form", [
    ("/token", {"grant_type": "authorization_code", "code": "x"}),
    ("/introspect", {"token": "x"}),
    ("/revoke", {"token": "x"}),
])
def test_basic_credentials_that_are_not_utf8_are_invalid_client(client, path, form):
    response = client.post(path, data=form, headers=basic(b"\xff:\xff"))
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"
    assert response.headers["Cache-Control"] == "no-store"


def test_two_ways_of_client_authentication_at_once_are_invalid_request(client, rp, make_user):
    user = make_user()
    sign_in(client, user["username"], user["password"])
    code, verifier = get_code(client, rp)
    response = exchange(client, rp, code, verifier, client_secret=rp["client_secret"])
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


def test_a_repeated_token_request_parameter_is_invalid_request(client, rp, make_user):
    user = make_user()
    sign_in(client, user["username"], user["password"])
    code, verifier = get_code(client, rp)
    form = MultiDict([("grant_type", "authorization_code"), ("code", code), ("code", "other"),
                      ("redirect_uri", rp["redirect_uri"]), ("code_verifier", verifier)])
    response = client.post("/token", data=form, auth=(rp["client_id"], rp["client_secret"]))
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"
    assert "code" in response.get_json()["error_description"]


def test_a_repeated_prompt_cannot_slip_past_the_checked_one(client, rp, make_user):
    user = make_user()
    sign_in(client, user["username"], user["password"])
    query = urlencode([("response_type", "code"), ("client_id", rp["client_id"]), ("redirect_uri", rp["redirect_uri"]),
                       ("scope", "openid"), ("prompt", "none"), ("prompt", "login"),
                       ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"), ("code_challenge_method", "S256")])
    response = client.get("/authorize?" + query)
    assert response.status_code == 400 and "given twice" in response.get_data(as_text=True)


@pytest.mark.parametrize("mode", ["fragment", "form_post", "bogus"])
def test_only_the_advertised_response_mode_is_accepted(client, rp, make_user, mode):
    user = make_user()
    sign_in(client, user["username"], user["password"])
    response, _ = authorize(client, rp, response_mode=mode)
    assert query_of(response)["error"] == "invalid_request"
    assert client.get("/.well-known/openid-configuration").get_json()["response_modes_supported"] == ["query"]


def test_select_account_is_advertised_and_means_signing_in(client, rp, make_user):
    user = make_user()
    sign_in(client, user["username"], user["password"])
    assert "select_account" in client.get("/.well-known/openid-configuration").get_json()["prompt_values_supported"]
    response, _ = authorize(client, rp, prompt="select_account")
    assert response.headers["Location"].startswith("/login")
    back = sign_in(client, user["username"], user["password"], next_url=query_of(response)["next"])
    assert "code" in query_of(client.get(back.headers["Location"]))


def test_an_acr_asked_for_in_the_claims_parameter_forces_the_second_step(client, rp, make_user):
    """OIDC Core §5.5.1.1: a requested acr is met, like acr_values."""
    user = make_user()
    sign_in(client, user["username"], user["password"])
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": ["urn:idp:acr:multi-factor"]}}})
    response, _ = authorize(client, rp, claims=claims)
    assert response.headers["Location"].startswith("/login/step-up")
    silent, _ = authorize(client, rp, claims=claims, prompt="none")
    assert query_of(silent)["error"] == "interaction_required"


def test_a_request_too_long_to_survive_the_sign_in_is_refused_up_front(client, rp):
    """Each parameter within its limit, together too long for the `next` URL of the sign-in page."""
    response, _ = authorize(client, rp, state="s" * 1500, nonce="n" * 1500)
    assert query_of(response)["error"] == "invalid_request"
    assert query_of(response)["state"] == "s" * 1500
