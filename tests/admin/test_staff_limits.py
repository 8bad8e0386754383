"""What staff may do to accounts: support never acts on staff, admins re-authenticate before taking
factors or giving roles, refusals are audited, and the audit export cannot smuggle formulas."""

from __future__ import annotations

import pyotp

from idp import clock

from ..accounts.test_two_step import enroll, second_step
from ..conftest import csrf_token
from ..oidc.helpers import sign_in
from .test_console import last_event, post, staff_member


def signed_in_staff(app, client, make_user, role, username):
    user = staff_member(app, make_user, role, username)
    sign_in(client, username, user["password"])
    secret, _ = enroll(client)
    clock.travel(60)
    sign_in(client, username, user["password"])
    second_step(client, "totp", pyotp.TOTP(secret).at(clock.now()))
    return user


def test_taking_a_factor_or_giving_a_role_needs_a_fresh_sign_in(app, client, make_user):
    from idp.accounts import mfa
    from idp.accounts.service import find_account

    signed_in_staff(app, client, make_user, "admin", "boss")
    customer = app.test_client()
    target = make_user(username="guarded")
    sign_in(customer, "guarded", target["password"])
    enroll(customer)
    clock.travel(11 * 60)  # the admin's sign-in is no longer fresh
    for fields in ({"action": "remove_factor"}, {"action": "set_role", "role": "admin"},
                   {"action": "require_password_change"}):
        answer = post(client, f"/admin/accounts/{target['sub']}", **fields)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login?"), fields
    with app.app_context():
        account = find_account("guarded")
        assert mfa.has_totp(account) and account.role is None and not account.must_change_password


def test_support_cannot_act_on_staff_accounts_and_the_attempt_is_audited(app, client, make_user):
    from idp.accounts.service import find_account

    boss = staff_member(app, make_user, "admin", "boss")
    helper = signed_in_staff(app, client, make_user, "support", "helper")
    for action in ("lock", "end_sessions"):
        assert post(client, f"/admin/accounts/{boss['sub']}", action=action).status_code == 403
    with app.app_context():
        assert not find_account("boss").locked
    refused = last_event(app, "admin.forbidden")
    assert refused.account == helper["sub"] and refused.details["attempted"] == "end_sessions on admin"
    customer = make_user(username="customer")
    assert post(client, f"/admin/accounts/{customer['sub']}", action="lock").status_code == 302  # customers: yes


def test_the_audit_export_keeps_formulas_inert(app, client, make_user):
    attacker = app.test_client()
    attacker.environ_base["HTTP_USER_AGENT"] = "=1+cmd|' /C calc'!A0"
    page = attacker.get("/login")
    attacker.post("/login", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "identifier": "nobody",
                                  "password": "whatever-password"})
    signed_in_staff(app, client, make_user, "support", "helper")
    exported = client.get("/admin/audit?event=signin.failed&format=csv").get_data(as_text=True)
    assert "'=1+cmd" in exported and ",=1+cmd" not in exported
