"""Every customer page renders, in Vietnamese and English, on a phone and a desktop, with no serious
accessibility problem."""

from __future__ import annotations

import pytest

from ..conftest import LiveServer
from .conftest import WIDTHS


@pytest.fixture
def server(backend):
    live = LiveServer(backend, {"branding": {"operator_name": "Cáp Demo", "support_phone": "1900 1515"},
                                "accounts": {"phone_sign_in": True}})
    yield live
    live.stop()


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("width", list(WIDTHS))
def test_public_pages(chromium, pages, server, lang, width):
    context = chromium.new_context(viewport={"width": WIDTHS[width], "height": 800}, locale=lang)
    page = context.new_page()
    for path in ("/", "/login", "/register", "/password/forgot", "/login/phone", "/no-such-page"):
        page.goto(f"{server.url}{path}?lang={lang}")
        assert page.locator("html").get_attribute("lang") == lang
        pages.check(page, f"{lang}-{width}-{path.strip('/').replace('/', '-') or 'home'}")
    overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert not overflow, "the page scrolls sideways"
    context.close()
