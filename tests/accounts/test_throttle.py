"""Brute force: the source is slowed and blocked first; the account only by a flood, and not for long."""

from __future__ import annotations

import pytest

from idp import clock

from ..conftest import csrf_token


@pytest.fixture
def user(make_user):
    return make_user(username="tuan", phone="0913 111 222")


def attempt(client, identifier, password, ip="203.0.113.7"):
    page = client.get("/login?lang=en", environ_base={"REMOTE_ADDR": ip})
    return client.post(
        "/login?lang=en",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "identifier": identifier, "password": password},
        environ_base={"REMOTE_ADDR": ip},
    )


def audit_events(app, event):
    from idp import audit

    with app.app_context():
        return [audit.describe(r) for r in audit.recent(200, event=event)]


def test_failures_from_one_source_bring_growing_delays(app, client, user):
    for _ in range(3):
        assert attempt(client, "tuan", "wrong-password!").status_code == 401
    blocked = attempt(client, "tuan", user["password"])  # even the right password must wait
    assert blocked.status_code == 429 and "Too many attempts" in blocked.get_data(as_text=True)
    clock.travel(2)
    assert attempt(client, "tuan", "wrong-password!").status_code == 401
    assert attempt(client, "tuan", "wrong-password!").status_code == 429  # now 2 s
    clock.travel(3)
    assert attempt(client, "tuan", user["password"]).status_code == 302


def test_the_same_account_under_another_name_shares_the_counter(client, user):
    for identifier in ("tuan", "0913111222", "+84913111222"):
        assert attempt(client, identifier, "wrong-password!").status_code == 401
    assert attempt(client, "TUAN", user["password"]).status_code == 429


def test_an_attacker_elsewhere_does_not_lock_the_customer_out(client, user):
    for _ in range(6):
        attempt(client, "tuan", "wrong-password!", ip="198.51.100.66")
    assert attempt(client, "tuan", user["password"], ip="203.0.113.7").status_code == 302


def test_one_source_trying_many_accounts_is_blocked(app, client, make_user):
    for n in range(30):
        attempt(client, f"someone{n}", "wrong-password!", ip="198.51.100.9")
    assert attempt(client, "someone-else", "wrong-password!", ip="198.51.100.9").status_code == 429
    assert audit_events(app, "signin.throttled")
    assert attempt(client, "someone-else", "wrong-password!", ip="203.0.113.1").status_code == 401
    clock.travel(15 * 60 + 1)
    assert attempt(client, "someone-else", "wrong-password!", ip="198.51.100.9").status_code == 401


def test_a_flood_from_many_sources_locks_the_account_for_a_while_only(app, client, user):
    for n in range(50):
        attempt(client, "tuan", "wrong-password!", ip=f"10.0.{n // 250}.{n % 250}")
    assert attempt(client, "tuan", user["password"], ip="203.0.113.7").status_code == 429
    assert audit_events(app, "account.lockout")[0]["account"] == user["sub"]
    clock.travel(30 * 60 + 1)
    assert attempt(client, "tuan", user["password"], ip="203.0.113.7").status_code == 302


def test_admin_unlock_lifts_the_lockout(app, client, user):
    from idp.accounts.service import find_account, set_locked

    for n in range(50):
        attempt(client, "tuan", "wrong-password!", ip=f"10.1.0.{n}")
    with app.app_context():
        set_locked(find_account("tuan"), False)
    assert attempt(client, "tuan", user["password"], ip="203.0.113.7").status_code == 302


def test_unknown_accounts_are_throttled_like_real_ones(client, user):
    for _ in range(3):
        attempt(client, "no-such-person", "wrong-password!")
        attempt(client, "tuan", "wrong-password!", ip="203.0.113.8")
    unknown = attempt(client, "no-such-person", "wrong-password!")
    known = attempt(client, "tuan", "wrong-password!", ip="203.0.113.8")
    assert unknown.status_code == known.status_code == 429


@pytest.mark.parametrize("exists", [True, False])
def test_the_throttle_does_not_tell_whether_a_phone_has_an_account(client, make_user, exists):
    if exists:
        make_user(username="victim", phone="0913 444 555")
    for spelling in ("+84913444555", "0913444555", "(091) 344-4555"):
        assert attempt(client, spelling, "wrong-password!", ip="198.51.100.1").status_code == 401
    assert attempt(client, "0913 444 555", "wrong-password!", ip="198.51.100.1").status_code == 429


def test_sign_ins_are_audited(app, client, user):
    attempt(client, "tuan", "wrong-password!")
    attempt(client, "tuan", user["password"])
    failed = audit_events(app, "signin.failed")[0]
    ok = audit_events(app, "signin.ok")[0]
    assert failed["account"] == ok["account"] == user["sub"]
    assert failed["ip"] == "203.0.113.7" and ok["details"]["amr"] == ["pwd"]


def test_locking_an_account_signs_it_out_everywhere(app, client, user, make_client):
    from idp.accounts.service import find_account, set_locked

    from ..oidc.helpers import signed_in_tokens

    rp = make_client(first_party=True)
    tokens = signed_in_tokens(client, rp, user)
    with app.app_context():
        set_locked(find_account("tuan"), True)
    assert client.get("/account").status_code == 302
    refreshed = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                            auth=(rp["client_id"], rp["client_secret"]))
    assert refreshed.get_json()["error"] == "invalid_grant"
    with app.app_context():
        set_locked(find_account("tuan"), False)
    # Unlocking does not bring the old session or tokens back.
    assert client.get("/account").status_code == 302
    assert client.post("/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                       auth=(rp["client_id"], rp["client_secret"])).get_json()["error"] == "invalid_grant"
