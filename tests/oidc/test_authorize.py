"""The authorization endpoint: redirect rules, PKCE, prompt, max_age, hints, consent."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from idp import clock

from ..conftest import csrf_token
from .helpers import ISSUER, authorize, exchange, get_code, pkce_pair, query_of, sign_in


@pytest.fixture
def rp(make_client):
    return make_client(first_party=True)


@pytest.fixture
def user(make_user):
    return make_user()


def test_unknown_redirect_uri_gets_an_error_page_not_a_redirect(client, rp):
    response, _ = authorize(client, rp, redirect_uri="https://evil.example/callback")
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "evil.example" in response.get_data(as_text=True)  # the page says which URI was refused


def test_redirect_uri_must_match_exactly(client, rp):
    for near_miss in ("https://rp.example/callback/", "https://rp.example/callback?x=1", "https://RP.example/callback"):
        response, _ = authorize(client, rp, redirect_uri=near_miss)
        assert response.status_code == 400 and "Location" not in response.headers


def test_unknown_client_gets_an_error_page(client, rp):
    response, _ = authorize(client, {**rp, "client_id": "nobody"})
    assert response.status_code == 400 and "Location" not in response.headers


def test_missing_redirect_uri_is_refused(client, rp):
    response, _ = authorize(client, rp, redirect_uri=None)
    assert response.status_code == 400 and "Location" not in response.headers


def test_signed_out_person_is_sent_to_sign_in_with_login_hint(client, rp):
    response, _ = authorize(client, rp, login_hint="0912345678")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    query = parse_qs(location.query)
    assert query["login_hint"] == ["0912345678"]
    assert query["next"][0].startswith("/authorize?")
    page = client.get(response.headers["Location"])
    assert 'value="0912345678"' in page.get_data(as_text=True)


def test_errors_after_redirect_validation_go_back_with_state_and_iss(client, rp, user):
    sign_in(client, user["username"], user["password"])
    response, _ = authorize(client, rp, scope="openid unknown-scope", state="keep-me")
    assert response.status_code == 302
    query = query_of(response)
    assert query == {"error": "invalid_scope", "state": "keep-me", "iss": ISSUER, **{k: query[k] for k in query if k == "error_description"}}


def test_prompt_none_without_session_answers_login_required(client, rp):
    response, _ = authorize(client, rp, prompt="none", state="s1")
    query = query_of(response)
    assert query["error"] == "login_required" and query["state"] == "s1" and query["iss"] == ISSUER


def test_prompt_none_with_other_values_is_invalid(client, rp, user):
    sign_in(client, user["username"], user["password"])
    response, _ = authorize(client, rp, prompt="none login")
    assert query_of(response)["error"] == "invalid_request"


def test_prompt_login_forces_a_new_sign_in_then_continues(client, rp, user):
    sign_in(client, user["username"], user["password"])
    response, _ = authorize(client, rp, prompt="login")
    assert urlsplit(response.headers["Location"]).path == "/login"
    next_url = parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]
    assert "prompt" not in parse_qs(urlsplit(next_url).query)  # or it would loop
    after = sign_in(client, user["username"], user["password"], next_url=next_url)
    assert after.headers["Location"] == next_url
    final = client.get(next_url)
    assert "code" in query_of(final)


def test_max_age_exceeded_requires_sign_in(client, rp, user):
    sign_in(client, user["username"], user["password"])
    clock.travel(120)
    response, _ = authorize(client, rp, max_age="60")
    assert urlsplit(response.headers["Location"]).path == "/login"
    silent, _ = authorize(client, rp, max_age="60", prompt="none")
    assert query_of(silent)["error"] == "login_required"
    fresh, _ = authorize(client, rp, max_age="600")
    assert "code" in query_of(fresh)


@pytest.mark.parametrize("max_age", ["-1", "abc", "1e3"])
def test_bad_max_age_is_invalid_request(client, rp, user, max_age):
    sign_in(client, user["username"], user["password"])
    response, _ = authorize(client, rp, max_age=max_age)
    assert query_of(response)["error"] == "invalid_request"


def test_id_token_hint_for_another_person_requires_sign_in(client, rp, make_user):
    first, second = make_user(), make_user()
    sign_in(client, first["username"], first["password"])
    code, verifier = get_code(client, rp)
    id_token = exchange(client, rp, code, verifier).get_json()["id_token"]
    same, _ = authorize(client, rp, id_token_hint=id_token, prompt="none")
    assert "code" in query_of(same)
    client.delete_cookie("idp_session")
    sign_in(client, second["username"], second["password"])
    other, _ = authorize(client, rp, id_token_hint=id_token, prompt="none")
    assert query_of(other)["error"] == "login_required"


def test_forged_id_token_hint_is_invalid_request(client, rp, user):
    sign_in(client, user["username"], user["password"])
    response, _ = authorize(client, rp, id_token_hint="eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
    assert query_of(response)["error"] == "invalid_request"


def test_public_client_must_use_pkce_s256(client, make_client, user):
    public = make_client(public=True, first_party=True, redirect_uris=("http://127.0.0.1:7000/cb",))
    sign_in(client, user["username"], user["password"])
    missing, _ = authorize(client, public, code_challenge=None, code_challenge_method=None)
    assert query_of(missing)["error"] == "invalid_request"
    verifier, challenge = pkce_pair()
    plain, _ = authorize(client, public, verifier_challenge=(verifier, verifier), code_challenge_method="plain")
    assert query_of(plain)["error"] == "invalid_request"
    no_method, _ = authorize(client, public, code_challenge_method=None)
    assert query_of(no_method)["error"] == "invalid_request"
    code, verifier = get_code(client, public)
    assert exchange(client, public, code, verifier).status_code == 200


def test_oversized_parameter_gets_an_error_page(client, rp):
    response, _ = authorize(client, rp, state="x" * 5000)
    assert response.status_code == 400 and "Location" not in response.headers


@pytest.mark.parametrize("param, error", [("request", "request_not_supported"), ("request_uri", "request_uri_not_supported")])
def test_request_objects_are_not_supported(client, rp, user, param, error):
    sign_in(client, user["username"], user["password"])
    response, _ = authorize(client, rp, **{param: "eyJhbGciOiJub25lIn0.e30."})
    assert query_of(response)["error"] == error


def test_unsupported_response_type_goes_back_with_error(client, rp, user):
    sign_in(client, user["username"], user["password"])
    response, _ = authorize(client, rp, response_type="token")
    assert query_of(response)["error"] == "unsupported_response_type"


class TestConsent:
    @pytest.fixture
    def third_party(self, make_client):
        return make_client(name="Partner Shop", first_party=False)

    def _consent_page(self, client, third_party, user, **params):
        sign_in(client, user["username"], user["password"])
        response, verifier = authorize(client, third_party, **params)
        assert response.status_code == 200
        return response, verifier

    def test_consent_page_names_the_client_and_what_it_gets(self, client, third_party, user):
        page, _ = self._consent_page(client, third_party, user)
        html = page.get_data(as_text=True)
        assert "Partner Shop" in html and 'name="decision"' in html

    def test_allow_issues_a_code_and_is_remembered(self, client, third_party, user):
        page, _ = self._consent_page(client, third_party, user)
        action = page.request.full_path
        allowed = client.post(action, data={"csrf_token": csrf_token(page.get_data(as_text=True)), "decision": "allow"})
        assert "code" in query_of(allowed)
        again, _ = authorize(client, third_party, prompt="none")
        assert "code" in query_of(again)

    def test_deny_answers_access_denied(self, client, third_party, user):
        page, _ = self._consent_page(client, third_party, user, state="s-deny")
        denied = client.post(
            page.request.full_path, data={"csrf_token": csrf_token(page.get_data(as_text=True)), "decision": "deny"}
        )
        query = query_of(denied)
        assert query["error"] == "access_denied" and query["state"] == "s-deny" and query["iss"] == ISSUER

    def test_consent_without_csrf_token_is_refused(self, client, third_party, user):
        page, _ = self._consent_page(client, third_party, user)
        forged = client.post(page.request.full_path, data={"decision": "allow"})
        assert forged.status_code == 400 and "Location" not in forged.headers

    def test_prompt_none_without_consent_answers_consent_required(self, client, third_party, user):
        sign_in(client, user["username"], user["password"])
        response, _ = authorize(client, third_party, prompt="none")
        assert query_of(response)["error"] == "consent_required"

    def test_more_scopes_than_granted_asks_again(self, client, third_party, user):
        page, _ = self._consent_page(client, third_party, user, scope="openid")
        client.post(page.request.full_path, data={"csrf_token": csrf_token(page.get_data(as_text=True)), "decision": "allow"})
        wider, _ = authorize(client, third_party, scope="openid email")
        assert wider.status_code == 200 and 'name="decision"' in wider.get_data(as_text=True)

    def test_prompt_consent_asks_even_when_remembered(self, client, third_party, user):
        page, _ = self._consent_page(client, third_party, user)
        client.post(page.request.full_path, data={"csrf_token": csrf_token(page.get_data(as_text=True)), "decision": "allow"})
        asked, _ = authorize(client, third_party, prompt="consent")
        assert asked.status_code == 200 and 'name="decision"' in asked.get_data(as_text=True)


def test_locked_account_session_cannot_get_codes(app, client, rp, user):
    from idp.accounts.service import find_account, set_locked

    sign_in(client, user["username"], user["password"])
    with app.app_context():
        set_locked(find_account(user["username"]), True)
    response, _ = authorize(client, rp, prompt="none")
    assert query_of(response)["error"] == "login_required"
