"""What ends a token before its expiry: a client disabled, removed or losing a scope.

Also: a narrower refresh keeps the refresh token's scope (RFC 6749 §6), and an account
told to change its password gets nothing until it has.
"""

from __future__ import annotations

import dataclasses

import pytest

from .helpers import authorize, exchange, get_code, query_of, refresh, sign_in, signed_in_tokens


@pytest.fixture
def service_token(client, make_client):
    service = make_client(redirect_uris=(), client_credentials=True, scopes=["admin"])
    token = client.post("/token", data={"grant_type": "client_credentials", "scope": "admin"},
                        auth=(service["client_id"], service["client_secret"])).get_json()["access_token"]
    return service, token


def admin_api(client, token):
    return client.get("/api/admin/v1/clients", headers={"Authorization": f"Bearer {token}"})


def change(app, client_id, action):
    from idp.oidc import clients

    with app.app_context():
        if action == "disable":
            clients.set_disabled(client_id, True)
        elif action == "remove":
            clients.remove_client(client_id)
        else:  # the scope is taken away
            current = clients.settings_of(clients.find_client(client_id))
            clients.update_client(client_id, dataclasses.replace(current, scopes=[s for s in current.scopes if s != action]))


@pytest.mark.parametrize("action", ["disable", "remove", "admin"])
def test_an_admin_api_token_stops_working_when_its_client_changes(app, client, service_token, action):
    service, token = service_token
    assert admin_api(client, token).status_code == 200
    change(app, service["client_id"], action)
    answer = admin_api(client, token)
    assert answer.status_code == 401 and answer.mimetype == "application/problem+json"


@pytest.mark.parametrize("action", ["disable", "remove"])
def test_user_tokens_stop_working_when_their_client_goes(app, client, make_client, make_user, action):
    rp = make_client(first_party=True)
    resource_server = make_client(name="API", redirect_uris=(), client_credentials=True, scopes=["introspection"])
    tokens = signed_in_tokens(client, rp, make_user())
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/userinfo", headers=bearer).status_code == 200
    change(app, rp["client_id"], action)
    assert client.get("/userinfo", headers=bearer).status_code == 401
    for kind in ("access_token", "refresh_token"):
        answer = client.post("/introspect", data={"token": tokens[kind]},
                             auth=(resource_server["client_id"], resource_server["client_secret"]))
        assert answer.get_json() == {"active": False}, kind


def test_a_scope_taken_from_a_client_leaves_its_tokens_and_refreshes(app, client, make_client, make_user):
    rp = make_client(first_party=True)
    tokens = signed_in_tokens(client, rp, make_user())
    change(app, rp["client_id"], "phone")
    assert client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401
    renewed = refresh(client, rp, tokens["refresh_token"]).get_json()
    assert "phone" not in renewed["scope"].split() and "openid" in renewed["scope"].split()
    claims = client.get("/userinfo", headers={"Authorization": f"Bearer {renewed['access_token']}"}).get_json()
    assert "phone_number" not in claims


def test_a_narrower_refresh_keeps_the_refresh_tokens_scope(client, make_client, make_user):
    rp = make_client(first_party=True)
    tokens = signed_in_tokens(client, rp, make_user())
    narrow = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                                         "scope": "openid"}, auth=(rp["client_id"], rp["client_secret"])).get_json()
    assert narrow["scope"] == "openid"
    wide_again = refresh(client, rp, narrow["refresh_token"]).get_json()
    assert set(wide_again["scope"].split()) == {"openid", "profile", "email", "phone"}


def test_a_password_change_required_by_an_admin_comes_before_any_site(app, client, make_client, make_user):
    from idp.accounts.service import find_account
    from idp.admin.service import require_password_change

    rp = make_client(first_party=True)
    user = make_user(username="doi")
    sign_in(client, "doi", user["password"])
    tokens = signed_in_tokens(client, rp, user)
    with app.app_context():
        require_password_change(find_account("doi"), acting="test")
    assert client.get("/account").headers["Location"].startswith("/login")  # every session ended
    assert refresh(client, rp, tokens["refresh_token"]).status_code == 400  # and its tokens
    sign_in(client, "doi", user["password"])
    assert client.get("/account/sessions").headers["Location"].startswith("/account/password")
    response, _ = authorize(client, rp)
    assert response.headers["Location"].startswith("/account/password?next=/authorize")
    silent, _ = authorize(client, rp, prompt="none")
    assert query_of(silent)["error"] == "interaction_required"


def test_an_authorization_request_sent_as_a_form_survives_the_sign_in(client, make_client, make_user):
    """OIDC Core §3.1.2.1: POSTed requests work like GET ones, through sign-in and consent."""
    from ..conftest import csrf_token

    rp = make_client()  # third party: asks for consent
    user = make_user(username="post1")
    params = {"response_type": "code", "client_id": rp["client_id"], "redirect_uri": rp["redirect_uri"],
              "scope": "openid profile", "state": "posted-state", "nonce": "n1",
              "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"}
    to_login = client.post("/authorize", data=params)
    assert to_login.status_code == 302 and to_login.headers["Location"].startswith("/login?next=")
    back = sign_in(client, "post1", user["password"], next_url=query_of(to_login)["next"])
    consent = client.get(back.headers["Location"])
    page = consent.get_data(as_text=True)
    assert consent.status_code == 200 and "posted-state" in page
    decided = client.post(back.headers["Location"], data={"csrf_token": csrf_token(page), "decision": "allow"})
    answer = query_of(decided)
    assert answer["state"] == "posted-state" and "code" in answer
    consent_again, _ = authorize(client, rp, scope="openid profile")
    assert "code" in query_of(consent_again)  # remembered
    assert exchange(client, rp, answer["code"], "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").status_code == 200


def test_consents_saved_at_the_same_moment_all_count(app, make_client, make_user):
    """Two tabs say "Allow" at once: both scopes end up in the one consent row, and no request fails."""
    import threading

    from idp.accounts.service import find_account
    from idp.oidc import storage

    rp = make_client()
    make_user(username="tabs")
    with app.app_context():
        user_id = find_account("tabs").id
    scopes = ["openid", "openid profile", "openid email", "openid phone"] * 2
    barrier = threading.Barrier(len(scopes))
    failures = []

    def allow(scope):
        with app.app_context():
            barrier.wait()
            try:
                storage.save_consent(user_id, rp["client_id"], scope)
            except Exception as error:  # noqa: BLE001 - the test reports whatever escaped
                failures.append(error)

    threads = [threading.Thread(target=allow, args=(s,)) for s in scopes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with app.app_context():
        assert storage.has_consent(user_id, rp["client_id"], "openid profile email phone")


@pytest.mark.parametrize("offline", [False, True])
def test_a_refresh_token_outlives_the_sign_in_only_with_offline_access(app, client, make_client, make_user, offline):
    """OIDC Core §11: without offline_access, refresh works only while the SSO session lives."""
    from idp import clock

    rp = make_client(first_party=True, scopes=["openid", "profile", "offline_access"])
    user = make_user()
    sign_in(client, user["username"], user["password"])
    code, verifier = get_code(client, rp, scope="openid profile" + (" offline_access" if offline else ""))
    tokens = exchange(client, rp, code, verifier).get_json()
    clock.travel(app.extensions["idp"].settings.session.idle_minutes * 60 + 1)  # the session idles out
    later = refresh(client, rp, tokens["refresh_token"])
    if offline:
        assert later.status_code == 200
    else:
        assert later.status_code == 400 and later.get_json()["error"] == "invalid_grant"


def test_refreshing_for_a_locked_account_is_invalid_grant(app, client, make_client, make_user):
    from idp.accounts.service import find_account
    from idp.extensions import db

    rp = make_client(first_party=True)
    user = make_user(username="locked1")
    tokens = signed_in_tokens(client, rp, user)
    with app.app_context():
        find_account("locked1").locked = True  # set directly, so its tokens are not revoked first
        db.session.commit()
    answer = refresh(client, rp, tokens["refresh_token"])
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_grant"
