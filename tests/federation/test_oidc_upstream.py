"""Sign-in with an upstream OpenID Connect provider: a second idp plays Google over real HTTP."""

from __future__ import annotations

import re

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from ..conftest import LiveServer, csrf_token
from ..fakes.oidc import FakeOidc
from ..oidc.flows import Browser, RelyingParty

UPSTREAM_PASSWORD = "Upstream-Password-77"


@pytest.fixture
def google(backends):
    """A second idp on its own SQLite database, with a person who has an account there."""
    from idp.accounts.service import register
    from idp.extensions import db

    server = LiveServer(backends("sqlite"))
    with server.app.app_context():
        upstream_user = register(username="lan.google", password=UPSTREAM_PASSWORD, phone="0911 000 001",
                                 email="lan@gmail.example", name="Lan Google")
        upstream_user.email_verified = True  # as Google's addresses are
        db.session.commit()
    yield server
    server.stop()


@pytest.fixture
def idp(backend, google):
    """Our idp, with the upstream registered as its Google."""
    from idp.oidc.clients import create_client

    def sections(url):
        with google.app.app_context():
            client, secret = create_client("Downstream idp", [f"{url}/federation/google/callback"], first_party=True)
            client_id = client.client_id
        return {"federation": {"providers": [{
            "name": "google", "kind": "google", "client_id": client_id, "client_secret": secret,
            "discovery_url": google.url + "/.well-known/openid-configuration"}]}}

    server = LiveServer(backend, sections)
    yield server
    server.stop()


def outbox_code(server, phone):
    from idp.extensions import runtime

    with server.app.app_context():
        body = next(m["body"] for m in runtime().sms.recent() if m["to"] == phone)
    return re.search(r"\b(\d{6})\b", body).group(1)


def sign_in_upstream(browser, start_url, stop_prefix):
    """From a downstream URL, through the upstream's sign-in form, back to stop_prefix."""
    upstream_login = browser.follow_to(start_url, stop_prefix)
    assert "/login" in upstream_login.url, upstream_login.url
    after = browser.sign_in(upstream_login, "lan.google", UPSTREAM_PASSWORD)
    return browser.follow_to(after.headers["Location"] if after.headers["Location"].startswith("http")
                             else upstream_login.url.split("/login")[0] + after.headers["Location"], stop_prefix)


def complete_with_phone(browser, idp, phone_local, phone_e164):
    page = browser.get("/federation/complete?lang=en")
    assert "Finish creating your account" in page.text and "Lan Google" in page.text
    sent = browser.post("/federation/complete?lang=en", {"csrf_token": csrf_token(page.text), "action": "send", "phone": phone_local})
    assert "We sent a 6-digit code" in sent.text
    return browser.post("/federation/complete?lang=en", {"csrf_token": csrf_token(sent.text), "action": "confirm",
                                                         "code": outbox_code(idp, phone_e164)})


def test_first_sign_in_completes_an_account_later_ones_find_it(idp, google):
    from idp.accounts.service import find_account
    from idp.federation.models import Identity
    from idp.extensions import db

    rp_id, rp_secret = _relying_party(idp)
    browser = Browser(idp.url)
    selfcare = RelyingParty(idp.url, rp_id, rp_secret, "http://127.0.0.1:5001/callback")
    url, request = selfcare.authorization_url()
    login_page = browser.follow_to(url, "http://127.0.0.1:5001")
    assert "Continue with Google" in login_page.text
    start = re.search(r'href="(/federation/google/start[^"]*)"', login_page.text).group(1).replace("&amp;", "&")
    back = sign_in_upstream(browser, idp.url + start, idp.url + "/federation/complete")
    assert back.headers["Location"].endswith("/federation/complete")
    created = complete_with_phone(browser, idp, "0912 888 777", "+84912888777")
    callback = browser.follow_to(created.headers["Location"], "http://127.0.0.1:5001")
    token = selfcare.fetch_token(callback.headers["Location"], request)
    claims = jwt.decode(token["id_token"], KeySet.import_key_set(browser.get("/jwks.json").json())).claims
    assert claims["amr"] == ["fed"]
    info = selfcare.oauth.get(selfcare.metadata["userinfo_endpoint"]).json()
    assert info["email"] == "lan@gmail.example" and info["phone_number"] == "+84912888777"
    assert info["phone_number_verified"] is True and info["name"] == "Lan Google"
    with idp.app.app_context():
        user = find_account("+84912888777")
        (identity,) = db.session.scalars(db.select(Identity).where(Identity.user_id == user.id))
        assert identity.provider == "google"
        with google.app.app_context():
            assert identity.subject == find_account("lan.google").sub

    # A later sign-in in a new browser finds the account by (provider, subject): no questions asked.
    again = Browser(idp.url)
    done = sign_in_upstream(again, idp.url + "/federation/google/start", idp.url + "/account")
    assert done.headers["Location"] == "/account"  # signed in: the start page sends on to the account
    assert "Lan Google" in again.get("/account?lang=en").text


def test_matching_email_is_never_merged_without_signing_in(idp, google):
    from idp.accounts.service import register

    with idp.app.app_context():
        register(username="lan", password="Local-Password-88", phone="0912 111 222", email="LAN@gmail.example")
    browser = Browser(idp.url)
    page = sign_in_upstream(browser, idp.url + "/federation/google/start", idp.url + "/never")
    assert page.status_code == 200 and "An account with the e-mail lan@gmail.example already exists" in page.text
    assert browser.get("/account").status_code == 302  # not signed in by the e-mail match
    login = browser.get("/login?next=/federation/link")
    after = browser.sign_in(login, "lan", "Local-Password-88")
    assert after.headers["Location"] == "/federation/link"
    confirm = browser.get("/federation/link?lang=en")
    linked = browser.post("/federation/link", {"csrf_token": csrf_token(confirm.text)})
    assert linked.status_code == 302
    methods = browser.get("/account/sign-in-methods?lang=en").text
    assert "Google" in methods and "lan@gmail.example" in methods
    fresh = Browser(idp.url)
    sign_in_upstream(fresh, idp.url + "/federation/google/start", idp.url + "/account")
    assert "Hello, lan<" in fresh.get("/account?lang=en").text  # the local account, now reached through Google

    # With Google linked, the password may go; then Google is the last way in and stays.
    page = fresh.get("/account/sign-in-methods")
    removed = fresh.post("/account/sign-in-methods", {"csrf_token": csrf_token(page.text), "action": "remove_password"})
    assert removed.status_code == 200 and 'value="remove_password"' not in removed.text
    identity_id = re.search(r'name="unlink" value="(\d+)"', removed.text).group(1)
    refused = fresh.post("/account/sign-in-methods", {"csrf_token": csrf_token(removed.text), "unlink": identity_id})
    assert refused.status_code == 400 and "only way to sign in" in refused.text
    stranger = Browser(idp.url)
    assert stranger.sign_in(stranger.get("/login"), "lan", "Local-Password-88").status_code == 401


def test_unlinking_never_removes_the_last_way_in(idp, google):
    browser = Browser(idp.url)
    sign_in_upstream(browser, idp.url + "/federation/google/start", idp.url + "/federation/complete")
    complete_with_phone(browser, idp, "0912 888 555", "+84912888555")
    page = browser.get("/account/sign-in-methods?lang=en")
    identity_id = re.search(r'name="unlink" value="(\d+)"', page.text).group(1)
    refused = browser.post("/account/sign-in-methods?lang=en", {"csrf_token": csrf_token(page.text), "unlink": identity_id})
    assert refused.status_code == 400 and "only way to sign in" in refused.text


def _relying_party(server):
    from idp.oidc.clients import create_client

    with server.app.app_context():
        client, secret = create_client("Self-care", ["http://127.0.0.1:5001/callback"], first_party=True,
                                       scopes=["openid", "profile", "email", "phone"])
        return client.client_id, secret


class TestUpstreamMisbehaving:
    @pytest.fixture
    def fake(self):
        provider = FakeOidc()
        yield provider
        provider.stop()

    @pytest.fixture
    def idp(self, backend, fake):
        server = LiveServer(backend, {"federation": {"providers": [{
            "name": "partner", "kind": "oidc", "label": "Partner ID", "client_id": fake.client_id,
            "client_secret": fake.client_secret, "discovery_url": fake.url + "/.well-known/openid-configuration"}]}})
        yield server
        server.stop()

    def run(self, idp, browser=None):
        browser = browser or Browser(idp.url)
        callback = browser.follow_to(idp.url + "/federation/partner/start?lang=en", idp.url + "/federation/partner/callback")
        return browser, browser.get(callback.headers["Location"])

    @pytest.mark.parametrize("mode, message", [
        ("bad_signature", "sent an answer we could not verify"),
        ("wrong_nonce", "sent an answer we could not verify"),
        ("wrong_issuer", "sent an answer we could not verify"),
        ("wrong_audience", "sent an answer we could not verify"),
        ("expired", "sent an answer we could not verify"),
        ("token_error", "did not work"),
        ("deny", "You cancelled signing in with Partner ID"),
    ])
    def test_bad_answers_are_a_clear_page_and_nothing_is_written(self, idp, fake, mode, message):
        from idp.federation.models import Identity
        from idp.extensions import db

        fake.mode = mode
        browser = Browser(idp.url)
        browser.http.cookies.set("idp_lang", "en")
        _, page = self.run(idp, browser)
        assert page.status_code == 400 and message in page.text, page.text[:2000]
        with idp.app.app_context():
            assert db.session.scalar(db.select(db.func.count()).select_from(Identity)) == 0

    def complete_with_phone(self, idp, browser, phone_local, phone_e164):
        page = browser.get("/federation/complete")
        sent = browser.post("/federation/complete", {"csrf_token": csrf_token(page.text), "action": "send", "phone": phone_local})
        return browser.post("/federation/complete", {"csrf_token": csrf_token(sent.text), "action": "confirm",
                                                     "code": outbox_code(idp, phone_e164)})

    @pytest.mark.parametrize("claimed", ["false", "False", 0, "no", None])
    def test_only_a_true_email_verified_counts(self, idp, fake, claimed):
        """Some providers send "false" as a string: it is not a verified address."""
        from idp.accounts.service import find_account

        fake.email = "string.false@example.com"
        fake.extra_claims = {"email_verified": claimed}
        browser = Browser(idp.url)
        _, landed = self.run(idp, browser)
        assert landed.headers["Location"] == "/federation/complete"
        self.complete_with_phone(idp, browser, "0912 555 001", "+84912555001")
        with idp.app.app_context():
            account = find_account("+84912555001")
            assert account.email == "string.false@example.com" and account.email_verified is False

    def test_an_upstream_without_a_jwks_uri_is_a_clear_page(self, idp, fake):
        fake.omit_from_discovery = {"jwks_uri"}
        browser = Browser(idp.url)
        browser.http.cookies.set("idp_lang", "en")
        _, page = self.run(idp, browser)
        assert page.status_code == 400 and "did not work" in page.text

    def test_an_unverified_upstream_email_does_not_tell_whether_an_account_has_it(self, idp, fake):
        from idp.accounts.service import register

        with idp.app.app_context():
            register(username="holder", password="Local-Password-88", phone="0912 111 333", email="holder@example.com")
        fake.email = "holder@example.com"
        fake.extra_claims = {"email_verified": False}
        browser = Browser(idp.url)
        browser.http.cookies.set("idp_lang", "en")
        _, landed = self.run(idp, browser)
        assert landed.headers["Location"] == "/federation/complete"  # as for any new person
        assert "already exists" not in browser.get("/federation/complete").text

    def test_a_callback_with_a_forged_state_is_refused(self, idp, fake):
        browser = Browser(idp.url)
        browser.http.cookies.set("idp_lang", "en")
        callback = browser.follow_to(idp.url + "/federation/partner/start", idp.url + "/federation/partner/callback")
        forged = re.sub(r"state=[^&]+", "state=forged", callback.headers["Location"])
        page = browser.get(forged)
        assert page.status_code == 400 and "has expired or was not started here" in page.text

    def test_a_callback_in_another_browser_is_refused(self, idp, fake):
        starter = Browser(idp.url)
        callback = starter.follow_to(idp.url + "/federation/partner/start", idp.url + "/federation/partner/callback")
        victim = Browser(idp.url)
        victim.http.cookies.set("idp_lang", "en")
        page = victim.get(callback.headers["Location"])
        assert page.status_code == 400 and "has expired or was not started here" in page.text

    def test_an_unreachable_provider_is_a_clear_page(self, idp, fake):
        fake.stop()
        browser = Browser(idp.url)
        browser.http.cookies.set("idp_lang", "en")
        page = browser.get("/federation/partner/start")
        assert page.status_code == 502 and "is not answering right now" in page.text

    def test_unknown_provider_is_404(self, idp):
        assert Browser(idp.url).get("/federation/nobody/start").status_code == 404

    def test_happy_path_with_the_same_fake(self, idp, fake):
        browser, page = self.run(idp)
        assert page.status_code == 302 and page.headers["Location"] == "/federation/complete"


def test_sign_in_with_google_link_a_contract_and_read_the_contracts_claim(idp, google):
    """The issue's end-to-end run: a relying party, the Google stand-in, a contract, the claim."""
    from idp.linking.importer import import_csv
    from idp.oidc.clients import create_client

    with idp.app.app_context():
        import_csv("number,holder_name,phone,services\nQN-778899,Lan Google,0912 888 111,K+|K+ Premium|active|2027-06-30\n")
        client, secret = create_client("Self-care", ["http://127.0.0.1:5001/callback"], first_party=True,
                                       scopes=["openid", "profile", "contracts"])
        rp_id = client.client_id
    browser = Browser(idp.url)
    sign_in_upstream(browser, idp.url + "/federation/google/start", idp.url + "/federation/complete")
    complete_with_phone(browser, idp, "0912 888 111", "+84912888111")

    page = browser.get("/account/contracts?lang=en")
    found = browser.post("/account/contracts?lang=en", {"csrf_token": csrf_token(page.text), "action": "find",
                                                         "kind": "number", "value": "QN-778899"})
    assert "L** G*****" in found.text
    sent = browser.post("/account/contracts/send", {"csrf_token": csrf_token(found.text), "number": "QN778899"})
    confirm_page = browser.get(sent.headers["Location"])
    browser.post(confirm_page.url, {"csrf_token": csrf_token(confirm_page.text),
                                    "code": outbox_code(idp, "+84912888111")})

    selfcare = RelyingParty(idp.url, rp_id, secret, "http://127.0.0.1:5001/callback", scope="openid profile contracts")
    url, request = selfcare.authorization_url()
    callback = browser.follow_to(url, "http://127.0.0.1:5001")
    selfcare.fetch_token(callback.headers["Location"], request)
    info = selfcare.oauth.get(selfcare.metadata["userinfo_endpoint"]).json()
    assert info["contracts"] == [{"number": "QN778899", "role": "owner", "services": [
        {"code": "K+", "name": "K+ Premium", "status": "active", "expires_at": "2027-06-30"}]}]


def test_the_password_can_go_once_google_is_linked_but_not_the_last_way_in(idp, google):
    browser = Browser(idp.url)
    sign_in_upstream(browser, idp.url + "/federation/google/start", idp.url + "/federation/complete")
    complete_with_phone(browser, idp, "0912 888 333", "+84912888333")
    page = browser.get("/account/sign-in-methods")
    assert 'value="remove_password"' not in page.text  # an account made through Google has no password
    identity_id = re.search(r'name="unlink" value="(\d+)"', page.text).group(1)
    refused = browser.post("/account/sign-in-methods", {"csrf_token": csrf_token(page.text), "unlink": identity_id})
    assert refused.status_code == 400


def test_a_plain_oauth2_provider_with_mapped_claims(backend):
    """Any OAuth 2 provider declared in config: endpoints and claim names from the config, no code."""
    fake = FakeOidc()
    server = LiveServer(backend, {"federation": {"providers": [{
        "name": "telco-id", "kind": "oauth2", "label": "Telco ID", "client_id": fake.client_id,
        "client_secret": fake.client_secret, "authorize_url": fake.url + "/authorize", "token_url": fake.url + "/token",
        "userinfo_url": fake.url + "/me", "scopes": ["profile"], "subject_claim": "user_id", "email_claim": "mail",
        "name_claim": "display_name", "phone_claim": "mobile"}]}})
    try:
        browser = Browser(server.url)
        callback = browser.follow_to(server.url + "/federation/telco-id/start", server.url + "/federation/telco-id/callback")
        landed = browser.get(callback.headers["Location"])
        assert landed.headers["Location"] == "/federation/complete"
        page = browser.get("/federation/complete?lang=en")
        assert "You signed in with Telco ID as Fake User" in page.text
        sent = browser.post("/federation/complete", {"csrf_token": csrf_token(page.text), "action": "send",
                                                      "phone": "0912 555 666"})
        browser.post("/federation/complete", {"csrf_token": csrf_token(sent.text), "action": "confirm",
                                              "code": outbox_code(server, "+84912555666")})
        from idp.accounts.service import find_account
        from idp.federation.models import Identity
        from idp.extensions import db

        with server.app.app_context():
            user = find_account("+84912555666")
            assert (user.email, user.name) == ("fake.user@example.com", "Fake User")
            identity = db.session.scalar(db.select(Identity).where(Identity.user_id == user.id))
            assert (identity.provider, identity.subject) == ("telco-id", fake.subject)
    finally:
        server.stop()
        fake.stop()
