"""Linking contracts: found by number, smartcard, device or phone; proven by the phone on the contract."""

from __future__ import annotations

import re
import time

import pytest

from idp import clock, create_app
from idp.accounts.service import find_account

from ..conftest import csrf_token
from ..fakes.billing import TOKEN, FakeBilling
from ..oidc.helpers import sign_in

CONTRACTS_CSV = """number,holder_name,phone,branch,smartcards,device_codes,services
HD-000123,Nguyễn Văn An,0912 345 678,Quảng Ninh,8401 2345 6789,STB-AB12,K+|K+ Premium|active|2027-01-31;HD|HD package|suspended|2026-12-31
HD000124,Trần Thị Bình,0987 654 321,Hà Nội,,STB-9999,
HD000125,Trần Thị Bình,0987 654 321,Hà Nội,,,VOD|Phim truyện|active|
"""


@pytest.fixture
def contracts(app):
    from idp.linking.importer import import_csv

    with app.app_context():
        assert import_csv(CONTRACTS_CSV) == {"created": 3, "updated": 0}


def find(client, kind, value, ip="203.0.113.20"):
    page = client.get("/account/contracts?lang=en", environ_base={"REMOTE_ADDR": ip})
    return client.post("/account/contracts?lang=en", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "action": "find", "kind": kind, "value": value},
        environ_base={"REMOTE_ADDR": ip})


def send(client, number):
    page = client.get("/account/contracts?lang=en")
    return client.post("/account/contracts/send?lang=en", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "number": number})


def confirm(client, number, code):
    page = client.get(f"/account/contracts/confirm?number={number}&lang=en")
    if page.status_code != 200:
        return page
    return client.post(f"/account/contracts/confirm?number={number}&lang=en", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "code": code})


def link(client, sms_codes, kind="number", value="HD-000123", number="HD000123", phone="+84912345678"):
    assert find(client, kind, value).status_code == 200
    assert send(client, number).status_code == 302
    return confirm(client, number, sms_codes(phone)[0])


@pytest.fixture
def customer(client, make_user):
    user = make_user(username="an.nguyen", phone="0900 111 222")
    sign_in(client, "an.nguyen", user["password"])
    return user


@pytest.mark.parametrize("kind, value", [
    ("number", "hd-000123"), ("smartcard", "8401 2345 6789"), ("device", "stb-ab12"), ("phone", "0912345678")])
def test_find_shows_masked_holder_and_phone(client, contracts, customer, kind, value):
    response = find(client, kind, value)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "HD000123" in html and "N***** V** A*" in html and "+84 ••• ••• 678" in html
    assert "Nguyễn Văn An" not in html and "+84912345678" not in html


def test_the_code_goes_to_the_phone_on_the_contract_and_links_it(app, client, contracts, customer, sms_codes):
    assert link(client, sms_codes).status_code == 302
    assert sms_codes("+84900111222") == []  # never to the customer's own number
    page = client.get("/account/contracts?lang=en").get_data(as_text=True)
    assert "HD000123" in page and "K+ Premium" in page
    from idp import audit

    with app.app_context():
        assert audit.recent(1, event="contract.linked")[0].details["contract"] == "HD000123"


def test_a_phone_with_several_contracts_shows_them_all(client, contracts, customer):
    html = find(client, "phone", "+84 987 654 321").get_data(as_text=True)
    assert "HD000124" in html and "HD000125" in html and html.count("T*** T** B***") == 2


def test_unknown_contract_is_a_clear_answer(client, contracts, customer):
    for kind, value in (("number", "HD999999"), ("smartcard", "0000 0000"), ("phone", "0999 999 999"), ("phone", "12")):
        response = find(client, kind, value)
        assert response.status_code == 404 and "We found no contract" in response.get_data(as_text=True)


def test_lookups_are_rate_limited(client, contracts, customer):
    for n in range(10):
        find(client, "number", f"HD99990{n}")
    limited = find(client, "number", "HD-000123")
    assert limited.status_code == 429 and "Too many attempts" in limited.get_data(as_text=True)


def test_cannot_ask_a_code_for_a_contract_not_found_first(client, contracts, customer, sms_codes):
    response = send(client, "HD000124")
    assert response.status_code == 400 and sms_codes("+84987654321") == []


def test_someone_else_without_the_phone_cannot_link(client, contracts, customer, sms_codes):
    find(client, "number", "HD000123")
    send(client, "HD000123")
    for _ in range(4):
        assert confirm(client, "HD000123", "000000").status_code == 400
    last = confirm(client, "HD000123", "000000")
    assert "Too many wrong codes" in last.get_data(as_text=True)
    assert confirm(client, "HD000123", sms_codes("+84912345678")[0]).status_code == 400
    assert "HD000123" not in _linked(client)


def _linked(client) -> str:
    """The linked-contracts list of the page, nothing else."""
    html = client.get("/account/contracts?lang=en").get_data(as_text=True)
    match = re.search(r'<ul class="contracts">(.*?)</ul>\s*(?:{%|<p|<h2)', html, re.S)
    return match.group(1) if match else ""


def test_expired_code_and_expired_pending_link(client, contracts, make_user, sms_codes):
    user = make_user(username="an.nguyen")
    sign_in(client, "an.nguyen", user["password"], remember=True)  # a session outliving the 12 hours
    find(client, "number", "HD000123")
    send(client, "HD000123")
    code = sms_codes("+84912345678")[0]
    clock.travel(6 * 60 + 1)
    assert "wrong or has expired" in confirm(client, "HD000123", code).get_data(as_text=True)
    clock.travel(12 * 3600)
    expired = confirm(client, "HD000123", code)
    assert expired.status_code == 400 and "no longer waiting for a code" in expired.get_data(as_text=True)


def test_whoever_proves_the_phone_takes_the_contract_over(app, contracts, make_user, sms_codes):
    first, second = app.test_client(), app.test_client()
    a, b = make_user(username="first"), make_user(username="second")
    sign_in(first, "first", a["password"])
    sign_in(second, "second", b["password"])
    link(first, sms_codes)
    clock.travel(61)
    link(second, sms_codes)
    assert "HD000123" not in _linked(first) and "HD000123" in _linked(second)
    from idp import audit

    with app.app_context():
        taken = audit.recent(1, event="contract.taken_over")[0]
        assert taken.account == a["sub"] and taken.details["by"] == b["sub"]


def test_unlink(client, contracts, customer, sms_codes):
    link(client, sms_codes)
    page = client.get("/account/contracts?lang=en")
    client.post("/account/contracts", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                            "action": "unlink", "number": "HD000123"})
    assert "HD000123" not in _linked(client)


def test_contracts_claim_in_userinfo_and_on_request_in_the_id_token(app, client, contracts, customer, make_client, sms_codes):
    from joserfc import jwt
    from joserfc.jwk import KeySet

    from ..oidc.helpers import exchange, get_code

    link(client, sms_codes)
    rp = make_client(first_party=True, scopes=["openid", "contracts"])
    code, verifier = get_code(client, rp, scope="openid contracts")
    tokens = exchange(client, rp, code, verifier).get_json()
    info = client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).get_json()
    assert info["contracts"] == [{"number": "HD000123", "role": "owner", "services": [
        {"code": "K+", "name": "K+ Premium", "status": "active", "expires_at": "2027-01-31"},
        {"code": "HD", "name": "HD package", "status": "suspended", "expires_at": "2026-12-31"}]}]
    keys = KeySet.import_key_set(client.get("/jwks.json").get_json())
    assert "contracts" not in jwt.decode(tokens["id_token"], keys).claims
    code, verifier = get_code(client, rp, scope="openid contracts", claims='{"id_token": {"contracts": null}}')
    id_token = exchange(client, rp, code, verifier).get_json()["id_token"]
    assert jwt.decode(id_token, keys).claims["contracts"][0]["number"] == "HD000123"
    metadata = client.get("/.well-known/openid-configuration").get_json()
    assert "contracts" in metadata["scopes_supported"] and "contracts" in metadata["claims_supported"]


def test_malformed_claims_parameter_is_invalid_request(client, customer, make_client):
    from ..oidc.helpers import authorize, query_of

    rp = make_client(first_party=True)
    response, _ = authorize(client, rp, claims="{not json")
    assert query_of(response)["error"] == "invalid_request"


class TestBillingDirectory:
    @pytest.fixture
    def billing(self):
        fake = FakeBilling([{
            "number": "EVN0001", "holder_name": "Phạm Minh Châu", "phone": "+84911222333", "branch": "Đà Nẵng",
            "smartcards": [], "device_codes": ["MTR77"],
            "services": [{"code": "POWER", "name": "Điện sinh hoạt", "status": "active", "expires_at": None}],
        }])
        yield fake
        fake.stop()

    @pytest.fixture
    def billing_app(self, backend, billing):
        return create_app(backend.fresh_settings(linking={
            "directory": "billing", "billing_url": billing.url, "billing_token": TOKEN, "timeout_seconds": 1}), testing=True)

    @pytest.fixture
    def signed_in(self, billing_app):
        from idp.accounts.service import register

        with billing_app.app_context():
            register(username="chau", password="Quiet-River-Stone-8", phone="0900 555 666")
        client = billing_app.test_client()
        sign_in(client, "chau", "Quiet-River-Stone-8")
        return client

    def test_linking_through_the_billing_system(self, billing_app, billing, signed_in):
        assert "EVN0001" in find(signed_in, "device", "mtr-77").get_data(as_text=True)
        assert billing.requests[-1] == {"device": ["MTR77"]}
        send(signed_in, "EVN0001")
        from idp.extensions import runtime

        with billing_app.app_context():
            body = next(m["body"] for m in runtime().sms.recent() if m["to"] == "+84911222333")
        assert confirm(signed_in, "EVN0001", re.search(r"\b(\d{6})\b", body).group(1)).status_code == 302
        assert "Điện sinh hoạt" in signed_in.get("/account/contracts?lang=en").get_data(as_text=True)

    @pytest.mark.parametrize("mode", ["down", "slow", "garbage"])
    def test_billing_down_or_slow_is_a_clear_message_and_nothing_is_written(self, billing_app, billing, signed_in, mode):
        from idp.extensions import runtime

        billing.mode = mode
        started = time.monotonic()
        response = find(signed_in, "number", "EVN0001")
        assert time.monotonic() - started < 2.5
        assert response.status_code == 503 and "cannot look up contracts right now" in response.get_data(as_text=True)
        with billing_app.app_context():
            user_id = find_account("chau").id
            assert runtime().store.get(f"contract-candidates:{user_id}") is None
