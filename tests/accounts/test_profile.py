"""Changing name, e-mail and phone; a new phone only once proven by SMS."""

from __future__ import annotations

import re

from ..conftest import csrf_token
from ..oidc.helpers import sign_in


def post(client, **fields):
    page = client.get("/account/profile?lang=en")
    return client.post("/account/profile?lang=en", data={"csrf_token": csrf_token(page.get_data(as_text=True)), **fields})


def test_name_and_email(app, client, make_user):
    from idp.accounts.service import find_account
    from idp.extensions import db

    user = make_user(username="xuan", email="old@example.com")
    with app.app_context():
        find_account("xuan").email_verified = True
        db.session.commit()
    sign_in(client, "xuan", user["password"])
    saved = post(client, action="details", name="Xuân Mai", email="New@Example.com")
    assert "We sent a link to new@example.com" in saved.get_data(as_text=True)
    with app.app_context():
        account = find_account("xuan")
        assert (account.name, account.email, account.email_verified) == ("Xuân Mai", "new@example.com", False)
        from idp.extensions import runtime

        mail = next(m for m in runtime().sms.recent() if m["to"] == "new@example.com")
    link = re.search(r"http://localhost(/account/email/[\w-]+)", mail["body"]).group(1)
    other_browser = app.test_client()
    assert "Your e-mail address is confirmed." in other_browser.get(link + "?lang=en").get_data(as_text=True)
    assert other_browser.get(link).status_code == 400  # single use
    with app.app_context():
        assert find_account("xuan").email_verified
    assert post(client, action="details", email="not-an-email").status_code == 400


def test_a_confirmation_link_for_an_old_address_is_refused(app, client, make_user):
    from idp.extensions import runtime

    user = make_user(username="xuan3")
    sign_in(client, "xuan3", user["password"])
    post(client, action="details", email="first@example.com")
    post(client, action="details", email="second@example.com")
    with app.app_context():
        first_link = next(m for m in runtime().sms.recent() if m["to"] == "first@example.com")["body"]
    path = re.search(r"http://localhost(/account/email/[\w-]+)", first_link).group(1)
    assert client.get(path).status_code == 400


def test_a_new_phone_counts_only_after_its_code(app, client, make_user, sms_codes):
    from idp.accounts.service import find_account

    user = make_user(username="xuan2", phone="0911 111 111")
    make_user(username="other", phone="0911 222 222")
    sign_in(client, "xuan2", user["password"])
    taken = post(client, action="phone", **{"phone-phone": "0911 222 222", "phone-password": user["password"]})
    assert taken.status_code == 400 and "belongs to another account" in taken.get_data(as_text=True)
    post(client, action="phone", **{"phone-phone": "0911 333 333", "phone-password": user["password"]})
    with app.app_context():
        assert find_account("xuan2").phone == "+84911111111"  # not before the code
    assert post(client, action="confirm_phone", **{"code-code": "000000"}).status_code == 400
    (code,) = sms_codes("+84911333333")
    done = post(client, action="confirm_phone", **{"code-code": code})
    assert "Your new phone number is confirmed." in done.get_data(as_text=True)
    with app.app_context():
        account = find_account("xuan2")
        assert (account.phone, account.phone_verified) == ("+84911333333", True)


def test_changing_the_phone_needs_the_current_password(app, client, make_user):
    from idp.extensions import runtime

    user = make_user(username="xuan4", phone="0911 444 444")
    sign_in(client, "xuan4", user["password"])
    for password in ("", "not-the-password"):
        refused = post(client, action="phone", **{"phone-phone": "0911 555 555", "phone-password": password})
        assert refused.status_code == 400
        assert "This is not your current password." in refused.get_data(as_text=True)
    with app.app_context():
        assert not [m for m in runtime().sms.recent() if m["to"] == "+84911555555"]  # no code went out


def test_the_old_verified_number_is_told_of_the_change(app, client, make_user, sms_codes):
    from idp.accounts.service import find_account
    from idp.audit import recent
    from idp.extensions import runtime

    user = make_user(username="xuan5", phone="0911 666 666", phone_verified=True)
    sign_in(client, "xuan5", user["password"])
    post(client, action="phone", **{"phone-phone": "0911 777 777", "phone-password": user["password"]})
    (code,) = sms_codes("+84911777777")
    post(client, action="confirm_phone", **{"code-code": code})
    with app.app_context():
        notice = [m["body"] for m in runtime().sms.recent() if m["to"] == "+84911666666"]
        assert len(notice) == 1 and "777" in notice[0] and "changed" in notice[0]
        event = recent(1, account=find_account("xuan5").sub, event="phone.verified")[0]
        assert event.details["previous_notified"] is True


def test_an_account_without_a_password_changes_its_phone_only_after_a_fresh_sign_in(app, client, make_user):
    from idp import clock
    from idp.accounts.service import find_account
    from idp.extensions import db, runtime

    make_user(username="xuan6", phone="0911 888 888")
    with app.app_context():
        find_account("xuan6").password_hash = None  # as after phone or social sign-up
        db.session.commit()
    with app.app_context():
        # A session opened eleven minutes ago: stale for sensitive changes.
        account = find_account("xuan6")
        clock.travel(-660)
        cookie, _ = runtime().sessions.start(account.id, ["sms"], "urn:idp:acr:single-factor", False)
        clock.travel(660)
    client.set_cookie(app.extensions["idp"].settings.session.cookie_name, cookie)
    stale = post(client, action="phone", **{"phone-phone": "0911 999 999"})
    assert stale.status_code == 400 and "please sign in again first" in stale.get_data(as_text=True)
    with app.app_context():
        assert not [m for m in runtime().sms.recent() if m["to"] == "+84911999999"]
    with app.app_context():
        cookie, _ = runtime().sessions.start(find_account("xuan6").id, ["sms"], "urn:idp:acr:single-factor", False)
    client.set_cookie(app.extensions["idp"].settings.session.cookie_name, cookie)
    fresh = post(client, action="phone", **{"phone-phone": "0911 999 999"})
    assert fresh.status_code == 200, fresh.get_data(as_text=True)
    with app.app_context():
        assert [m for m in runtime().sms.recent() if m["to"] == "+84911999999"]
