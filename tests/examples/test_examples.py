"""The operator's three example sites (examples/) against a live idp, over real HTTP.

idp runs as a LiveServer; each site runs its own werkzeug server on a free port,
registered in idp as the demo registers it (plus a back-channel logout URI). A
`Browser` carries one person's cookies across all four.
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
import time
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from examples.common import BACKCHANNEL_EVENT, SITES, vnd
from examples.paygate.app import create_app as create_paygate
from examples.selfcare.app import create_app as create_selfcare
from examples.wallet.app import balance_of
from examples.wallet.app import create_app as create_wallet

from ..conftest import LiveServer, csrf_token
from ..fakes.server import LocalServer
from ..oidc.flows import Browser

PASSWORD = "Cable-Subscriber-77"
FACTORIES = {"selfcare": create_selfcare, "wallet": create_wallet, "paygate": create_paygate}
SCOPES = {
    "selfcare": ["openid", "profile", "email", "phone", "contracts"],
    "wallet": ["openid", "profile"],
    "paygate": ["openid", "profile"],
}
CONTRACTS_CSV = """number,holder_name,phone,branch,smartcards,device_codes,services
HD000123,Trần Thị Lan,0912 345 678,Hà Nội,8401 2345 6789,STB-AB12,K+|K+ Premium|active|2027-01-31;VOD|Phim truyện|suspended|
"""


SiteServer = LocalServer  # one example site, on a port chosen before the app exists (it needs its own URL)


class Demo:
    def __init__(self, idp: LiveServer, servers: dict[str, SiteServer], sub: str):
        self.idp = idp
        self.servers = servers
        self.sub = sub

    def url(self, key: str) -> str:
        return self.servers[key].url

    def app_context(self):
        return self.idp.app.app_context()


@pytest.fixture
def demo(backend):
    from idp.accounts.service import register
    from idp.oidc.clients import create_client

    idp = LiveServer(backend)
    servers = {key: SiteServer() for key in SITES}
    try:
        secrets = {}
        with idp.app.app_context():
            for key, server in servers.items():
                _, secrets[key] = create_client(
                    SITES[key].title,
                    [server.url + "/callback"],
                    [server.url + "/"],
                    first_party=key != "paygate",
                    scopes=SCOPES[key],
                    client_id=key,
                    backchannel_logout_uri=server.url + "/backchannel-logout",
                )
            sub = register(username="lan", password=PASSWORD, phone="0912 345 678", name="Trần Thị Lan").sub
        urls = {key: server.url for key, server in servers.items()}
        for key, server in servers.items():
            server.start(FACTORIES[key](idp.url, key, secrets[key], server.url, sites=urls))
        yield Demo(idp, servers, sub)
    finally:
        for server in servers.values():
            server.stop()
        idp.stop()


# A person's browser ------------------------------------------------------------------------------

def browse(browser: Browser, url: str, max_hops: int = 15) -> tuple[requests.Response, list[str]]:
    """Follow every redirect, across hosts; returns the last response and every URL visited."""
    response = browser.get(url)
    visited = [response.url]
    for _ in range(max_hops):
        if response.status_code not in (301, 302, 303):
            return response, visited
        response = browser.get(urljoin(response.url, response.headers["Location"]))
        visited.append(response.url)
    raise AssertionError(f"too many redirects: {visited}")


def is_idp_sign_in_form(demo: Demo, url: str) -> bool:
    return url.startswith(demo.idp.url) and urlsplit(url).path == "/login"


def sign_in_at(demo: Demo, browser: Browser, key: str) -> requests.Response:
    """Open a site's /login, fill in idp's sign-in form; returns the page the redirects end on."""
    form, _ = browse(browser, demo.url(key) + "/login")
    assert is_idp_sign_in_form(demo, form.url), form.url
    posted = browser.sign_in(form, "lan", PASSWORD)
    assert posted.status_code == 302, posted.text[:300]
    page, _ = browse(browser, urljoin(form.url, posted.headers["Location"]))
    return page


def allow_consent(browser: Browser, page: requests.Response) -> requests.Response:
    assert "wants to use your account" in page.text, page.text[:300]
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page.text).group(1))
    answered = browser.post(urljoin(page.url, action), {"csrf_token": csrf_token(page.text), "decision": "allow"})
    assert answered.status_code == 302
    final, _ = browse(browser, urljoin(page.url, answered.headers["Location"]))
    return final


def press(browser: Browser, page: requests.Response, path: str) -> requests.Response:
    """Submit a site's form (Sign out, Pay) from the page it is on."""
    return browser.post(urljoin(page.url, path), {"csrf_token": csrf_token(page.text)})


def signed_in(page: requests.Response) -> bool:
    return "Sign out" in page.text and "Sign in with idp" not in page.text


# Sign-in, SSO, contracts ----------------------------------------------------------------------------

def link_contract(demo: Demo) -> None:
    from idp.accounts.service import find_account
    from idp.extensions import db
    from idp.linking.importer import import_csv
    from idp.linking.models import ContractLink

    with demo.app_context():
        import_csv(CONTRACTS_CSV)
        db.session.add(ContractLink(contract_number="HD000123", user_id=find_account("lan").id, role="owner"))
        db.session.commit()


def test_selfcare_shows_contracts_and_wallet_signs_in_without_a_form(demo):
    browser = Browser(demo.idp.url)
    page = sign_in_at(demo, browser, "selfcare")
    assert page.url == demo.url("selfcare") + "/" and page.status_code == 200
    assert "Self-care" in page.text and "Trần Thị Lan" in page.text and signed_in(page)
    # No contract yet: the empty state sends the person to idp to link one.
    assert "No contract yet" in page.text
    assert f'href="{demo.idp.url}/account/contracts"' in page.text
    for other in ("wallet", "paygate"):
        assert f'href="{demo.url(other)}/login"' in page.text

    link_contract(demo)
    page, visited = browse(browser, demo.url("selfcare") + "/refresh")
    assert not any(is_idp_sign_in_form(demo, url) for url in visited)
    assert "Contract HD000123" in page.text
    for text in ("K+ Premium", "Active", "2027-01-31", "Phim truyện", "Suspended", "No end date"):
        assert text in page.text

    # Wallet: signed in through idp's SSO session, no form on the way.
    page, visited = browse(browser, demo.url("wallet") + "/login")
    assert page.url == demo.url("wallet") + "/" and page.status_code == 200, visited
    assert any(url.startswith(demo.idp.url + "/authorize") for url in visited)
    assert not any(is_idp_sign_in_form(demo, url) for url in visited)
    balance = re.search(r'<p class="big" id="balance">([^<]+)</p>', page.text).group(1)
    assert balance == vnd(balance_of(demo.sub))
    assert re.fullmatch(r"\d{1,3}(\.\d{3})* ₫", balance)


def test_signing_out_at_wallet_signs_selfcare_out_by_back_channel(demo):
    browser = Browser(demo.idp.url)
    sign_in_at(demo, browser, "selfcare")
    wallet, _ = browse(browser, demo.url("wallet") + "/login")
    assert signed_in(wallet)
    assert signed_in(browse(browser, demo.url("selfcare") + "/")[0])

    # RP-initiated logout at wallet: to idp with id_token_hint, back to wallet with the state it gave.
    out = press(browser, wallet, "/logout")
    end_session = urlsplit(out.headers["Location"])
    assert out.headers["Location"].startswith(demo.idp.url + "/logout?")
    params = dict(parse_qsl(end_session.query))
    assert params["post_logout_redirect_uri"] == demo.url("wallet") + "/" and params["id_token_hint"] and params["state"]
    page, visited = browse(browser, out.headers["Location"])
    assert f"{demo.url('wallet')}/?state={params['state']}" in visited
    assert page.url == demo.url("wallet") + "/" and "You are signed out" in page.text and not signed_in(page)

    # Selfcare's session is a signed cookie the browser still holds; idp's logout token ends it.
    deadline = time.monotonic() + 5
    while True:
        page = browser.get(demo.url("selfcare") + "/")
        if not signed_in(page) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not signed_in(page), "selfcare still signed in 5 seconds after the logout"
    assert "You were signed out at idp" in page.text
    assert not signed_in(browser.get(demo.url("selfcare") + "/"))
    # And idp's session is over too: signing in again asks for the password.
    form, _ = browse(browser, demo.url("selfcare") + "/login")
    assert is_idp_sign_in_form(demo, form.url)


def test_a_logout_state_that_was_not_given_is_refused(demo):
    browser = Browser(demo.idp.url)
    page = browser.get(demo.url("wallet") + "/?state=made-up")
    assert page.status_code == 400 and "not expected" in page.text


def test_the_callback_checks_iss_before_using_the_code(demo):
    browser = Browser(demo.idp.url)
    form, _ = browse(browser, demo.url("selfcare") + "/login")
    posted = browser.sign_in(form, "lan", PASSWORD)
    callback = browser.follow_to(urljoin(form.url, posted.headers["Location"]), demo.url("selfcare") + "/callback")
    location = callback.headers["Location"]
    parts = urlsplit(location)
    params = dict(parse_qsl(parts.query))
    assert params["iss"] == demo.idp.url

    for changed in ({**params, "iss": "https://idp.attacker.example"}, {k: v for k, v in params.items() if k != "iss"}):
        refused = browser.get(urlunsplit(parts._replace(query=urlencode(changed))))
        assert refused.status_code == 400 and not signed_in(refused)
    # The code was never sent anywhere, and the genuine answer still works.
    page, _ = browse(browser, location)
    assert page.url == demo.url("selfcare") + "/" and signed_in(page)


# Payment gateway --------------------------------------------------------------------------------

def pay(demo: Demo, browser: Browser) -> str:
    """Press Pay; returns the authorization URL paygate sends the browser to."""
    home = browser.get(demo.url("paygate") + "/")
    assert "Pay 150.000 ₫" in home.text
    asked = press(browser, home, "/pay")
    assert asked.status_code == 302
    url = asked.headers["Location"]
    assert url.startswith(demo.idp.url + "/authorize?")
    assert dict(parse_qsl(urlsplit(url).query))["acr_values"] == "urn:idp:acr:multi-factor"
    return url


def test_paygate_refuses_to_pay_on_a_single_factor_sign_in(demo):
    browser = Browser(demo.idp.url)
    page = allow_consent(browser, sign_in_at(demo, browser, "paygate"))  # not first-party: idp asks
    assert page.url == demo.url("paygate") + "/" and signed_in(page)

    url = pay(demo, browser)
    step_up = browser.get(url)
    assert step_up.status_code == 302 and step_up.headers["Location"].startswith("/login/step-up?next=")
    verify, _ = browse(browser, urljoin(url, step_up.headers["Location"]))
    assert "Your account has no second step yet" in verify.text
    page = browser.get(demo.url("paygate") + "/")
    assert signed_in(page) and "Payment done" not in page.text

    # Whoever holds the browser may drop acr_values: idp then answers with a single-factor acr,
    # and paygate refuses because of what the ID token says, not what it asked for.
    url = pay(demo, browser)
    parts = urlsplit(url)
    tampered = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "acr_values"])))
    refused, visited = browse(browser, tampered)
    assert any(u.startswith(demo.url("paygate") + "/callback?code=") for u in visited)
    assert refused.status_code == 403 and "Payment refused" in refused.text and "Nothing was paid" in refused.text
    page = browser.get(demo.url("paygate") + "/")
    assert "Payment done" not in page.text and "Your payments" not in page.text


def test_paygate_pays_after_a_second_step(demo):
    from idp.accounts.service import find_account
    from idp.extensions import db, runtime

    with demo.app_context():
        find_account("lan").phone_verified = True
        db.session.commit()
    browser = Browser(demo.idp.url)
    allow_consent(browser, sign_in_at(demo, browser, "paygate"))

    verify, visited = browse(browser, pay(demo, browser))
    assert any(urlsplit(u).path == "/login/step-up" for u in visited) and urlsplit(verify.url).path == "/login/verify"
    sent = browser.post(verify.url, {"send-csrf_token": csrf_token(verify.text), "action": "send_sms"})
    assert sent.status_code == 200, sent.text[:300]
    with demo.app_context():
        (code,) = [re.search(r"\b(\d{6})\b", m["body"]).group(1) for m in runtime().sms.recent() if m["to"] == "+84912345678"]
    confirmed = browser.post(verify.url, {"csrf_token": csrf_token(sent.text), "method": "sms", "code": code})
    assert confirmed.status_code == 302, confirmed.text[:300]
    page, visited = browse(browser, urljoin(verify.url, confirmed.headers["Location"]))
    assert page.url == demo.url("paygate") + "/"
    assert "Payment done: 150.000 ₫" in page.text and "Your payments" in page.text


# Back-channel logout endpoint ------------------------------------------------------------------

def idp_signed(demo: Demo, claims: dict, header: dict | None = None) -> str:
    from idp.extensions import runtime

    with demo.app_context():
        alg = runtime().settings.keys.default_alg
        kid, key = runtime().keyring.signing_key(alg)
    return jwt.encode({"alg": alg, "kid": kid, "typ": "logout+jwt", **(header or {})}, claims, key)


def logout_claims(demo: Demo, **changes) -> dict:
    now = int(time.time())
    claims = {"iss": demo.idp.url, "aud": "selfcare", "iat": now, "exp": now + 120, "jti": "j-" + secrets.token_hex(8),
              "events": {BACKCHANNEL_EVENT: {}}, "sid": "some-session", "sub": demo.sub}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def unsigned(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'logout+jwt'})}.{part(claims)}."


BAD_TOKENS = {
    "forged with idp's kid": lambda d: jwt.encode(
        {"alg": "RS256", "kid": idp_kid(d), "typ": "logout+jwt"}, logout_claims(d), RSAKey.generate_key(2048)),
    "unknown kid": lambda d: jwt.encode(
        {"alg": "RS256", "kid": "not-one-of-idps", "typ": "logout+jwt"}, logout_claims(d), RSAKey.generate_key(2048)),
    "unsigned": lambda d: unsigned(logout_claims(d)),
    "expired": lambda d: idp_signed(d, logout_claims(d, iat=int(time.time()) - 900, exp=int(time.time()) - 600)),
    "wrong audience": lambda d: idp_signed(d, logout_claims(d, aud="wallet")),
    "wrong issuer": lambda d: idp_signed(d, logout_claims(d, iss="https://idp.attacker.example")),
    "no iat": lambda d: idp_signed(d, logout_claims(d, iat=None)),
    "no exp": lambda d: idp_signed(d, logout_claims(d, exp=None)),
    "no events": lambda d: idp_signed(d, logout_claims(d, events=None)),
    "another event": lambda d: idp_signed(d, logout_claims(d, events={"http://example.com/other": {}})),
    "neither sid nor sub": lambda d: idp_signed(d, logout_claims(d, sid=None, sub=None)),
    "with a nonce": lambda d: idp_signed(d, logout_claims(d, nonce="n-1")),
    "typ of an ID token": lambda d: idp_signed(d, logout_claims(d), {"typ": "JWT"}),
    "not a JWT": lambda d: "not-a-token",
    "issued a day ago": lambda d: idp_signed(d, logout_claims(d, iat=int(time.time()) - 86400)),
    "no jti": lambda d: idp_signed(d, logout_claims(d, jti=None)),
}


def idp_kid(demo: Demo) -> str:
    from idp.extensions import runtime

    with demo.app_context():
        return runtime().keyring.signing_key(runtime().settings.keys.default_alg)[0]


def post_logout_token(demo: Demo, token: str | None, key: str = "selfcare") -> requests.Response:
    data = {"logout_token": token} if token is not None else {}
    return requests.post(demo.url(key) + "/backchannel-logout", data=data, timeout=10)


def test_backchannel_logout_accepts_idps_logout_token(demo):
    from idp.oidc.backchannel import logout_token
    from idp.oidc.clients import find_client

    with demo.app_context():
        token = logout_token(find_client("selfcare"), demo.sub, "a-session")
    response = post_logout_token(demo, token)
    assert response.status_code == 200 and response.content == b""
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_backchannel_logout_refuses_bad_tokens(demo, case):
    response = post_logout_token(demo, BAD_TOKENS[case](demo))
    assert response.status_code == 400, case
    assert response.json() == {"error": "invalid_request"}
    assert response.headers["Cache-Control"] == "no-store"


def test_backchannel_logout_refuses_requests_without_a_token(demo):
    for response in (
        post_logout_token(demo, None),
        requests.post(demo.url("selfcare") + "/backchannel-logout", json={"logout_token": "x.y.z"}, timeout=10),
    ):
        assert response.status_code == 400 and response.json() == {"error": "invalid_request"}


def test_a_logout_token_counts_once(demo):
    token = idp_signed(demo, logout_claims(demo))
    assert post_logout_token(demo, token).status_code == 200
    assert post_logout_token(demo, token).status_code == 400  # replayed: refused


def test_a_logout_token_without_sid_signs_out_every_session_of_the_account(demo):
    browser = Browser(demo.idp.url)
    assert signed_in(sign_in_at(demo, browser, "selfcare"))
    assert post_logout_token(demo, idp_signed(demo, logout_claims(demo, sid=None))).status_code == 200
    page = browser.get(demo.url("selfcare") + "/")
    assert not signed_in(page) and "You were signed out at idp" in page.text
