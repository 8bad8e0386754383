"""A customer's and an operator's whole journey in a real browser, across idp and the three example sites.

register -> confirm the phone (outbox) -> sign in at self-care -> wallet already signed in -> pay at paygate
with a second step -> link a contract -> end the other session from the account page -> sign out at wallet,
and self-care is signed out through back-channel logout -> an admin creates a client and locks the account,
which then cannot sign in. On a phone and a desktop, in Vietnamese and English, every page screenshotted and
checked with axe-core.
"""

from __future__ import annotations

import re

import pytest

from ..examples.test_examples import demo  # noqa: F401  (the idp + three sites fixture)
from .conftest import WIDTHS

PASSWORD = "Quiet-River-Stone-8"
ADMIN_PASSWORD = "Operator-Desk-Password-9"


def latest_code(idp, phone: str) -> str:
    from idp.extensions import runtime

    with idp.app.app_context():
        body = next(m["body"] for m in runtime().sms.recent() if m["to"] == phone)
    return re.search(r"\b(\d{6})\b", body).group(1)


def submit(page, selector="button.primary"):
    with page.expect_navigation():
        page.click(selector)


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("width", list(WIDTHS))
def test_customer_and_operator_journey(chromium, pages, demo, lang, width):  # noqa: F811
    idp = demo.idp
    viewport = {"width": WIDTHS[width], "height": 860}

    def context():
        made = chromium.new_context(viewport=viewport, locale=lang)
        made.add_cookies([{"name": "idp_lang", "value": lang, "url": idp.url}])
        return made

    def shot(page, label):
        pages.check(page, f"{lang}-{width}-{label}")

    # 1. Register at idp and confirm the phone with the code from the outbox (this browser stays signed in).
    first = context().new_page()
    first.goto(f"{idp.url}/register")
    shot(first, "register")
    first.fill("#username", "minh.anh")
    first.fill("#name", "Phạm Minh Anh")
    first.fill("#phone", "0913 456 789")
    first.fill("#password", PASSWORD)
    submit(first)
    assert "/account/phone" in first.url
    shot(first, "confirm-phone")
    submit(first, "form:has(input[name=action][value=send]) button")
    first.fill("#code", latest_code(idp, "+84913456789"))
    submit(first, "form:has(input[name=action][value=confirm]) button")
    assert first.url.endswith("/account")
    shot(first, "account")

    # 2. Sign in at self-care in another browser, with the sign-in form.
    customer = context().new_page()
    customer.goto(demo.url("selfcare") + "/login")
    assert "/login" in customer.url and idp.url in customer.url
    shot(customer, "sign-in")
    customer.fill("#identifier", "0913456789")
    customer.fill("#password", PASSWORD)
    submit(customer)
    assert customer.url.startswith(demo.url("selfcare"))
    assert "Phạm Minh Anh" in customer.content()
    shot(customer, "selfcare")

    # 3. Wallet: signed in without any form.
    customer.goto(demo.url("wallet") + "/login")
    assert customer.url.startswith(demo.url("wallet")) and "Phạm Minh Anh" in customer.content()
    shot(customer, "wallet")

    # 4. Paygate: consent, then Pay asks for a second step (an SMS code), then the payment goes through.
    customer.goto(demo.url("paygate") + "/login")
    shot(customer, "consent")
    submit(customer, "button[name=decision][value=allow]")
    assert customer.url.startswith(demo.url("paygate"))
    shot(customer, "paygate")
    submit(customer, "form[action='/pay'] button")
    assert "/login/verify" in customer.url
    shot(customer, "second-step")
    submit(customer, "form:has(input[name=action][value=send_sms]) button")
    customer.fill("#code", latest_code(idp, "+84913456789"))
    submit(customer)
    assert customer.url.startswith(demo.url("paygate")) and "Payment done" in customer.content()
    shot(customer, "paid")

    # 5. Link a contract: found by number, proven by a code to the phone on the contract.
    with idp.app.app_context():
        from idp.linking.importer import import_csv

        import_csv("number,holder_name,phone,services\nQN-555666,Phạm Minh Anh,0913 456 789,K+|K+ Premium|active|2027-05-31\n")
    customer.goto(f"{idp.url}/account/contracts")
    shot(customer, "contracts")
    customer.select_option("#kind", "number")
    customer.fill("#value", "QN-555666")
    submit(customer, "form:has(input[name=action][value=find]) button")
    shot(customer, "contract-found")
    submit(customer, "form.candidate button")
    customer.fill("#code", latest_code(idp, "+84913456789"))
    shot(customer, "contract-code")
    submit(customer)
    assert "QN555666" in customer.content() and "K+ Premium" in customer.content()
    customer.goto(demo.url("selfcare") + "/refresh")
    assert "K+ Premium" in customer.content()
    shot(customer, "selfcare-contract")

    # 6. End the first browser's session from the account page.
    customer.goto(f"{idp.url}/account/sessions")
    shot(customer, "sessions")
    submit(customer, "button[name=sid]")
    first.goto(f"{idp.url}/account")
    assert "/login" in first.url

    # 7. Sign out at wallet: self-care hears of it through back-channel logout.
    customer.goto(demo.url("wallet"))
    submit(customer, "form.account button")
    shot(customer, "signed-out")
    # The logout token travels off the request path: give it a few seconds to arrive.
    for _ in range(40):
        customer.goto(demo.url("selfcare"))
        if "Phạm Minh Anh" not in customer.content():
            break
        customer.wait_for_timeout(250)
    assert "Phạm Minh Anh" not in customer.content()
    shot(customer, "selfcare-signed-out")

    # 8. An admin (second factor by SMS) creates a client and locks the customer, who then cannot sign in.
    from idp.accounts.service import find_account, register
    from idp.admin.service import set_role

    with idp.app.app_context():
        operator = register(username="operator", password=ADMIN_PASSWORD, phone="0913 000 999")
        operator.phone_verified = True
        set_role(operator, "admin", acting=None)
    admin = context().new_page()
    admin.goto(f"{idp.url}/admin")
    admin.fill("#identifier", "operator")
    admin.fill("#password", ADMIN_PASSWORD)
    submit(admin)
    assert "/login/verify" in admin.url
    submit(admin, "form:has(input[name=action][value=send_sms]) button")
    admin.fill("#code", latest_code(idp, "+84913000999"))
    submit(admin)
    assert admin.url.endswith("/admin")
    shot(admin, "admin")
    admin.goto(f"{idp.url}/admin/clients/new")
    admin.fill("#name", "Streaming")
    admin.fill("#redirect_uris", "https://tv.example.vn/callback")
    shot(admin, "admin-new-client")
    submit(admin)
    assert re.search(r'<code class="secret">[\w-]{40,}</code>', admin.content())
    shot(admin, "admin-client-secret")
    admin.goto(f"{idp.url}/admin/accounts?q=0913456789")
    shot(admin, "admin-accounts")
    submit(admin, "td a")
    shot(admin, "admin-account")
    submit(admin, "button[value=lock]")
    with idp.app.app_context():
        assert find_account("minh.anh").locked

    locked_out = context().new_page()
    locked_out.goto(f"{idp.url}/login")
    locked_out.fill("#identifier", "minh.anh")
    locked_out.fill("#password", PASSWORD)
    submit(locked_out)
    assert locked_out.url.startswith(f"{idp.url}/login") and locked_out.locator("[role=alert]").count() == 1
    shot(locked_out, "locked")
