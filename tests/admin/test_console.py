"""The admin console: who may enter, what staff can do, and that every action is audited."""

from __future__ import annotations

import re

import pyotp
import pytest

from idp import clock

from ..accounts.test_two_step import enroll, second_step
from ..conftest import csrf_token
from ..oidc.helpers import sign_in


def staff_member(app, make_user, role, username):
    from idp.accounts.service import find_account
    from idp.admin.service import set_role

    user = make_user(username=username)
    with app.app_context():
        set_role(find_account(username), role, acting=None)
    return user


@pytest.fixture
def admin(app, client, make_user):
    """An admin signed in with a second factor, in `client`."""
    user = staff_member(app, make_user, "admin", "boss")
    sign_in(client, "boss", user["password"])
    secret, _ = enroll(client)
    clock.travel(60)
    sign_in(client, "boss", user["password"])
    second_step(client, "totp", pyotp.TOTP(secret).at(clock.now()))
    user["totp"] = secret
    return user


def post(client, path, **fields):
    page = client.get("/account?lang=en")  # any signed-in page carries the session's CSRF token
    return client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True)), **fields})


def last_event(app, name):
    from idp import audit

    with app.app_context():
        return audit.recent(1, event=name)[0]


def test_only_staff_with_a_second_factor_enter(app, client, make_user):
    customer = make_user(username="customer")
    assert client.get("/admin").headers["Location"].startswith("/login?next=/admin")
    sign_in(client, "customer", customer["password"])
    assert client.get("/admin").status_code == 403
    client.delete_cookie("idp_session")
    support = staff_member(app, make_user, "support", "helper")
    sign_in(client, "helper", support["password"])
    assert client.get("/admin").headers["Location"].startswith("/login/step-up?next=/admin")


def test_overview_and_account_search(app, client, admin, make_user):
    make_user(username="hoang", phone="0915 222 333")
    html = client.get("/admin?lang=en").get_data(as_text=True)
    assert "Accounts" in html and "SMS sent today" in html
    for query in ("hoang", "0915222333", "+84 915 222 333"):
        found = client.get(f"/admin/accounts?q={query}&lang=en").get_data(as_text=True)
        assert ">hoang</a>" in found


def test_lock_an_account_which_then_cannot_sign_in(app, client, admin, make_user):
    target = make_user(username="victim")
    post(client, f"/admin/accounts/{target['sub']}", action="lock")
    assert sign_in(app.test_client(), "victim", target["password"]).status_code == 401
    event = last_event(app, "admin.account_locked")
    assert event.account == target["sub"] and event.details["admin"] == admin["sub"]


def test_support_cannot_do_admin_things(app, client, make_user):
    support = staff_member(app, make_user, "support", "helper")
    target = make_user(username="someone")
    sign_in(client, "helper", support["password"])
    secret, _ = enroll(client)
    clock.travel(60)
    sign_in(client, "helper", support["password"])
    second_step(client, "totp", pyotp.TOTP(secret).at(clock.now()))
    assert client.get("/admin/accounts?lang=en").status_code == 200
    assert post(client, f"/admin/accounts/{target['sub']}", action="set_role", role="admin").status_code == 403
    assert client.get("/admin/clients/new").status_code == 403
    assert post(client, f"/admin/accounts/{target['sub']}", action="end_sessions").status_code == 302


def test_create_a_client_shows_its_secret_once(app, client, admin):
    created = post(client, "/admin/clients/new", name="Streaming", redirect_uris="https://tv.example/cb",
                   scopes="openid profile", first_party="1")
    html = created.get_data(as_text=True)
    client_id = re.search(r"<code>([\w-]+)</code>", html).group(1)
    secret = re.search(r'<code class="secret">([\w-]+)</code>', html).group(1)
    assert len(secret) >= 40 and secret not in client.get(f"/admin/clients/{client_id}").get_data(as_text=True)
    assert last_event(app, "admin.client_created").client_id == client_id
    bad = post(client, "/admin/clients/new", name="Bad", redirect_uris="http://evil.example/cb")
    assert bad.status_code == 400 and "must use https" in bad.get_data(as_text=True)


def test_destructive_actions_need_a_fresh_sign_in(app, client, admin, make_client):
    site = make_client(name="Old site")
    clock.travel(11 * 60)
    stale = post(client, f"/admin/clients/{site['client_id']}/delete")
    assert stale.headers["Location"].startswith("/login?next=")
    assert client.get(f"/admin/clients/{site['client_id']}").status_code == 200  # still there
    sign_in(client, "boss", admin["password"])
    second_step(client, "totp", pyotp.TOTP(admin["totp"]).at(clock.now()))
    assert post(client, f"/admin/clients/{site['client_id']}/delete").status_code == 302
    assert client.get(f"/admin/clients/{site['client_id']}").status_code == 404


def test_admin_forms_need_the_csrf_token(client, admin, make_user):
    target = make_user(username="target")
    assert client.post(f"/admin/accounts/{target['sub']}", data={"action": "lock"}).status_code == 400


def test_contract_import_preview_and_line_numbered_errors(app, client, admin):
    bad = post(client, "/admin/contracts?lang=en", action="preview",
               csv="number,holder_name,phone\nQN0001,An,0912000001\nQN0002,,0912000002\n")
    assert bad.status_code == 422 and "line 3" in bad.get_data(as_text=True)
    good_csv = "number,holder_name,phone\nQN0001,An,0912000001\n"
    preview = post(client, "/admin/contracts?lang=en", action="preview", csv=good_csv)
    assert "1 contracts are ready to import" in preview.get_data(as_text=True)
    assert "QN0001" not in client.get("/admin/contracts?q=QN&lang=en").get_data(as_text=True)
    post(client, "/admin/contracts?lang=en", action="import", csv=good_csv)
    assert "QN0001" in client.get("/admin/contracts?q=QN&lang=en").get_data(as_text=True)


def test_audit_log_filters_and_csv_export(app, client, admin, make_user):
    make_user(username="filtered")
    html = client.get("/admin/audit?event=account.registered&lang=en").get_data(as_text=True)
    assert "<td>account.registered</td>" in html and "<td>signin.ok</td>" not in html
    exported = client.get("/admin/audit?event=signin.ok&format=csv")
    assert exported.mimetype == "text/csv" and exported.get_data(as_text=True).startswith("at,event,account")
    assert last_event(app, "admin.audit_exported").details["admin"] == admin["sub"]


def test_keys_page_and_rotation(app, client, admin):
    before = client.get("/admin/keys").get_data(as_text=True).count("<tr>")
    post(client, "/admin/keys/rotate")
    assert client.get("/admin/keys").get_data(as_text=True).count("<tr>") == before + 3


def test_require_a_password_change(app, client, admin, make_user):
    target = make_user(username="forgetful")
    post(client, f"/admin/accounts/{target['sub']}", action="require_password_change")
    other = app.test_client()
    other.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert sign_in(other, "forgetful", target["password"]).headers["Location"].startswith("/account/password")


def test_set_role_from_the_cli_side(app, make_user):
    from idp.accounts.service import find_account
    from idp.admin.service import UnknownRole, set_role

    make_user(username="plain")
    with app.app_context(), pytest.raises(UnknownRole):
        set_role(find_account("plain"), "root", acting=None)


def test_releasing_a_contract_needs_a_fresh_sign_in_and_is_audited(app, client, admin, make_user):
    from idp.extensions import db
    from idp.linking.importer import import_csv
    from idp.linking.models import ContractLink

    holder = make_user(username="holder")
    with app.app_context():
        import_csv("number,holder_name,phone\nQN0777,Holder,0912000777\n")
        db.session.add(ContractLink(contract_number="QN0777", user_id=holder["id"]))
        db.session.commit()
    assert "End the current owner" in client.get("/admin/contracts/QN0777?lang=en").get_data(as_text=True)
    clock.travel(11 * 60)
    assert post(client, "/admin/contracts/QN0777/release").headers["Location"].startswith("/login?next=")
    sign_in(client, "boss", admin["password"])
    second_step(client, "totp", pyotp.TOTP(admin["totp"]).at(clock.now()))
    post(client, "/admin/contracts/QN0777/release")
    event = last_event(app, "admin.contract_released")
    assert event.account == holder["sub"] and event.details["contract"] == "QN0777"
    with app.app_context():
        assert db.session.scalar(db.select(ContractLink.ended_reason).where(ContractLink.contract_number == "QN0777")) == "released"
