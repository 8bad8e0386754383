"""The signed-in pages a journey does not pass through: account pages and every admin page, checked with axe
on a phone and a desktop in both languages; and the idle warning, which only a browser can show."""

from __future__ import annotations

import re

import pytest

from ..conftest import LiveServer
from .conftest import WIDTHS

PASSWORD = "Quiet-River-Stone-8"


@pytest.fixture
def server(backend):
    from idp.accounts.service import register
    from idp.admin.service import set_role
    from idp.linking.importer import import_csv

    live = LiveServer(backend, {"session": {"idle_minutes": 1}})
    with live.app.app_context():
        person = register(username="staff", password=PASSWORD, phone="0913 222 111", email="staff@example.vn")
        person.phone_verified = True
        set_role(person, "admin", acting=None)
        import_csv("number,holder_name,phone\nQN0999,Staff,0913222111\n")
    yield live
    live.stop()


def sign_in_with_sms(page, server):
    from idp.extensions import runtime

    page.goto(f"{server.url}/admin")
    page.fill("#identifier", "staff")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button.primary")
    with page.expect_navigation():
        page.click("form:has(input[name=action][value=send_sms]) button")
    with server.app.app_context():
        body = runtime().sms.recent()[0]["body"]
    page.fill("#code", re.search(r"\b(\d{6})\b", body).group(1))
    with page.expect_navigation():
        page.click("button.primary")


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("width", list(WIDTHS))
def test_account_and_admin_pages(chromium, pages, server, lang, width):
    context = chromium.new_context(viewport={"width": WIDTHS[width], "height": 860}, locale=lang)
    context.add_cookies([{"name": "idp_lang", "value": lang, "url": server.url}])
    page = context.new_page()
    sign_in_with_sms(page, server)
    for path in ("/account", "/account/profile", "/account/password", "/account/two-step", "/account/sessions",
                 "/account/sites", "/account/contracts", "/account/sign-in-methods", "/account/delete",
                 "/admin", "/admin/accounts", "/admin/clients", "/admin/clients/new", "/admin/contracts",
                 "/admin/contracts/QN0999", "/admin/keys", "/admin/audit"):
        page.goto(server.url + path)
        assert page.url.startswith(server.url + path), page.url
        pages.check(page, f"{lang}-{width}{path.replace('/', '-')}")
    context.close()


def test_idle_warning_appears_and_stay_signed_in_keeps_the_session(chromium, pages, server):
    context = chromium.new_context(viewport={"width": 390, "height": 860}, locale="en")
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.fill("#identifier", "staff")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button.primary")
    page.goto(f"{server.url}/account")
    warning = page.locator("#idle-warning")
    warning.wait_for(state="visible", timeout=5000)  # one idle minute: inside the two-minute warning window
    pages.check(page, "idle-warning")
    with page.expect_response(lambda r: r.url.endswith("/account/keepalive")) as answer:
        page.click("#idle-stay")
    assert answer.value.json()["signed_in"] is True
    context.close()
