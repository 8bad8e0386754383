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
    taken = post(client, action="phone", **{"phone-phone": "0911 222 222"})
    assert taken.status_code == 400 and "belongs to another account" in taken.get_data(as_text=True)
    post(client, action="phone", **{"phone-phone": "0911 333 333"})
    with app.app_context():
        assert find_account("xuan2").phone == "+84911111111"  # not before the code
    assert post(client, action="confirm_phone", **{"code-code": "000000"}).status_code == 400
    (code,) = sms_codes("+84911333333")
    done = post(client, action="confirm_phone", **{"code-code": code})
    assert "Your new phone number is confirmed." in done.get_data(as_text=True)
    with app.app_context():
        account = find_account("xuan2")
        assert (account.phone, account.phone_verified) == ("+84911333333", True)
