"""The person's own data: devices and sessions, sites with access, download, deletion."""

from __future__ import annotations

import json
import re

import pytest

from idp import clock

from ..conftest import csrf_token
from ..oidc.helpers import authorize, exchange, get_code, query_of, sign_in, signed_in_tokens


def post(client, path, **fields):
    page = client.get("/account?lang=en")  # any signed-in page carries the session's CSRF token
    return client.post(path + "?lang=en", data={"csrf_token": csrf_token(page.get_data(as_text=True)), **fields})


@pytest.fixture
def user(make_user):
    return make_user(username="ngoc", email="ngoc@example.com")


def test_devices_list_and_ending_another_device(app, client, user, make_client):
    rp = make_client(name="Wallet", first_party=True)
    phone = app.test_client()
    phone_tokens = signed_in_tokens(phone, rp, user)
    client.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"
    sign_in(client, "ngoc", user["password"])
    html = client.get("/account/sessions?lang=en").get_data(as_text=True)
    assert "Chrome on Windows" in html and "this device" in html and "Wallet" in html
    other_sid = re.findall(r'name="sid" value="([0-9a-f]+)"', html)
    assert len(other_sid) == 1
    post(client, "/account/sessions", sid=other_sid[0])
    silent, _ = authorize(phone, rp, prompt="none")
    assert query_of(silent)["error"] == "login_required"
    assert phone.post("/token", data={"grant_type": "refresh_token", "refresh_token": phone_tokens["refresh_token"]},
                      auth=(rp["client_id"], rp["client_secret"])).get_json()["error"] == "invalid_grant"
    assert client.get("/account").status_code == 200


def test_sign_out_all_other_devices(app, client, user):
    others = [app.test_client() for _ in range(2)]
    for other in others:
        sign_in(other, "ngoc", user["password"])
    sign_in(client, "ngoc", user["password"])
    post(client, "/account/sessions", action="end_others")
    assert [o.get("/account").status_code for o in others] == [302, 302]
    assert client.get("/account").status_code == 200


def test_cannot_end_someone_elses_session(app, client, user, make_user):
    stranger = make_user(username="stranger")
    victim = app.test_client()
    sign_in(victim, "stranger", stranger["password"])
    with app.app_context():
        from idp.extensions import runtime

        (victim_session,) = runtime().sessions.for_user(stranger["id"])
    sign_in(client, "ngoc", user["password"])
    post(client, "/account/sessions", sid=victim_session.sid)
    assert victim.get("/account").status_code == 200


def test_revoking_a_site_revokes_its_tokens_and_asks_consent_again(client, user, make_client):
    shop = make_client(name="Partner Shop", first_party=False)
    sign_in(client, "ngoc", user["password"])
    page, verifier = authorize(client, shop)
    client.post(page.request.full_path, data={"csrf_token": csrf_token(page.get_data(as_text=True)), "decision": "allow"})
    code, verifier = get_code(client, shop)
    tokens = exchange(client, shop, code, verifier).get_json()
    assert "Partner Shop" in client.get("/account/sites?lang=en").get_data(as_text=True)
    post(client, "/account/sites", client_id=shop["client_id"])
    assert "Partner Shop" not in client.get("/account/sites?lang=en").get_data(as_text=True)
    again, _ = authorize(client, shop, prompt="none")
    assert query_of(again)["error"] == "consent_required"
    assert client.post("/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                       auth=(shop["client_id"], shop["client_secret"])).get_json()["error"] == "invalid_grant"


def test_download_my_data(client, user):
    sign_in(client, "ngoc", user["password"])
    response = client.get("/account/data")
    assert response.headers["Content-Disposition"].startswith("attachment")
    data = json.loads(response.get_data(as_text=True))
    assert data["account"]["username"] == "ngoc" and data["account"]["email"] == "ngoc@example.com"
    assert data["sessions"] and {e["event"] for e in data["security_events"]} >= {"signin.ok", "account.registered"}
    assert "password_hash" not in json.dumps(data) and "$argon2" not in json.dumps(data)


def test_deleting_the_account_needs_a_fresh_sign_in_and_removes_everything(app, client, user, make_client):
    from idp import audit
    from idp.accounts.service import find_account

    rp = make_client(first_party=True)
    tokens = signed_in_tokens(client, rp, user)
    clock.travel(11 * 60)
    stale = client.get("/account/delete?lang=en").get_data(as_text=True)
    assert "sign in again first" in stale and 'value="delete"' not in stale
    refused = post(client, "/account/delete", confirm="delete")
    assert "sign in again first" in refused.get_data(as_text=True)
    sign_in(client, "ngoc", user["password"])
    done = post(client, "/account/delete", confirm="delete")
    assert done.status_code == 302 and client.get("/account").status_code == 302
    with app.app_context():
        assert find_account("ngoc") is None
        events = audit.recent(200, account=user["sub"])
        assert events[0].event == "account.deleted" and all(e.account == user["sub"] for e in events)
        # Only the opaque sub stays: no address, browser or details from the deleted person's trail.
        assert len(events) > 2 and all(e.ip is None and e.user_agent is None and not e.details for e in events)
    assert client.post("/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                       auth=(rp["client_id"], rp["client_secret"])).get_json()["error"] == "invalid_grant"
    assert sign_in(client, "ngoc", user["password"]).status_code == 401


def test_my_data_leaves_out_who_else_acted_on_my_account(app, make_user, sms_codes):
    # Bob proves the contract's phone and takes Alice's contract: Alice's download shows the event,
    # not Bob's address, browser or account id.
    from idp.linking.importer import import_csv

    from ..linking.test_contract_linking import CONTRACTS_CSV, confirm, find, link, send

    with app.app_context():
        import_csv(CONTRACTS_CSV)
    a, b = make_user(username="alice"), make_user(username="bob")
    alice, bob = app.test_client(), app.test_client()
    sign_in(alice, "alice", a["password"])
    assert link(alice, sms_codes).status_code == 302
    bob.environ_base.update(REMOTE_ADDR="198.51.100.77", HTTP_USER_AGENT="Bob-Private-Browser/1.0")
    sign_in(bob, "bob", b["password"])
    clock.travel(61)
    assert find(bob, "number", "HD-000123", ip="198.51.100.77").status_code == 200
    assert send(bob, "HD000123").status_code == 302
    assert confirm(bob, "HD000123", sms_codes("+84912345678")[0]).status_code == 302
    data = alice.get("/account/data").get_json()
    assert any(e["event"].startswith("contract.") and e["ip"] is None for e in data["security_events"])
    export = json.dumps(data)
    assert "198.51.100.77" not in export and "Bob-Private-Browser" not in export and b["sub"] not in export
