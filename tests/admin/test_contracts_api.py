"""The admin JSON API for contracts: client_credentials with the admin scope, RFC 9457 errors."""

from __future__ import annotations

import pytest


@pytest.fixture
def admin_token(client, make_client):
    service = make_client(redirect_uris=(), client_credentials=True, scopes=["admin"])
    response = client.post("/token", data={"grant_type": "client_credentials", "scope": "admin"},
                           auth=(service["client_id"], service["client_secret"]))
    return response.get_json()["access_token"]


def auth(token):
    return {"Authorization": f"Bearer {token}"}


CONTRACT = {
    "holder_name": "Lê Thị Mai", "phone": "0913 444 555", "branch": "Hải Phòng",
    "smartcards": ["8401 0000 1111"], "device_codes": ["STB-1"],
    "services": [{"code": "K+", "name": "K+ Premium", "status": "active", "expires_at": "2027-03-31"}],
}


def test_put_get_delete(client, admin_token):
    created = client.put("/api/admin/v1/contracts/hp-0001", json=CONTRACT, headers=auth(admin_token))
    assert created.status_code == 200
    body = created.get_json()
    assert body["number"] == "HP0001" and body["phone"] == "+84913444555"
    assert body["smartcards"] == ["840100001111"] and body["device_codes"] == ["STB1"] and body["linked"] is False
    assert client.get("/api/admin/v1/contracts/HP0001", headers=auth(admin_token)).get_json() == body
    assert client.delete("/api/admin/v1/contracts/HP0001", headers=auth(admin_token)).status_code == 204
    missing = client.get("/api/admin/v1/contracts/HP0001", headers=auth(admin_token))
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    assert missing.get_json()["status"] == 404


@pytest.mark.parametrize("change, detail", [
    ({"phone": "123"}, "not a valid phone number"),
    ({"holder_name": ""}, "holder_name is empty"),
    ({"services": [{"code": "X", "name": "Y", "status": "weird"}]}, "status"),
    ({"services": "nope"}, "services must be a list"),
])
def test_bad_contracts_are_422_problems_and_nothing_is_written(client, admin_token, change, detail):
    response = client.put("/api/admin/v1/contracts/HP0002", json={**CONTRACT, **change}, headers=auth(admin_token))
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert detail in response.get_json()["detail"]
    assert client.get("/api/admin/v1/contracts/HP0002", headers=auth(admin_token)).status_code == 404


def test_not_json_is_400(client, admin_token):
    response = client.put("/api/admin/v1/contracts/HP0002", data="{nope", content_type="application/json",
                          headers=auth(admin_token))
    assert response.status_code == 400 and response.get_json()["title"] == "Bad Request"


def test_csv_import_all_or_nothing(client, admin_token):
    good = "number,holder_name,phone\nHP0003,Người Một,0913000001\nHP0004,Người Hai,0913000002\n"
    assert client.post("/api/admin/v1/contracts/import", data=good.encode(), content_type="text/csv",
                       headers=auth(admin_token)).get_json() == {"imported": True, "created": 2, "updated": 0}
    bad = "number,holder_name,phone\nHP0005,Người Ba,0913000003\nHP0006,,0913000004\n"
    rejected = client.post("/api/admin/v1/contracts/import", data=bad.encode(), content_type="text/csv",
                           headers=auth(admin_token))
    assert rejected.status_code == 422 and rejected.get_json()["errors"] == [{"line": 3, "detail": "holder_name is empty"}]
    assert client.get("/api/admin/v1/contracts/HP0005", headers=auth(admin_token)).status_code == 404


def test_without_a_token_or_without_the_admin_scope(client, make_client, make_user):
    assert client.get("/api/admin/v1/contracts/X").status_code == 401
    assert client.get("/api/admin/v1/contracts/X", headers=auth("forged")).status_code == 401
    other = make_client(redirect_uris=(), client_credentials=True, scopes=["openid"])
    token = client.post("/token", data={"grant_type": "client_credentials"},
                        auth=(other["client_id"], other["client_secret"])).get_json()["access_token"]
    forbidden = client.get("/api/admin/v1/contracts/X", headers=auth(token))
    assert forbidden.status_code == 403 and forbidden.mimetype == "application/problem+json"


def test_a_person_cannot_get_the_admin_scope(client, make_client):
    rp = make_client(first_party=True, scopes=["openid"])
    refused = client.post("/token", data={"grant_type": "client_credentials", "scope": "admin"},
                          auth=(rp["client_id"], rp["client_secret"]))
    assert refused.status_code == 400


def _admin_events(app, name):
    from idp import audit

    with app.app_context():
        return audit.recent(100, event=name)


def test_contract_writes_through_the_api_are_audited(app, client, admin_token):
    assert client.put("/api/admin/v1/contracts/QN0001", json={"holder_name": "An", "phone": "0912000001"},
                      headers=auth(admin_token)).status_code == 200
    assert client.post("/api/admin/v1/contracts/import", data="number,holder_name,phone\nQN0002,Binh,0912000002\n",
                       content_type="text/csv", headers=auth(admin_token)).status_code == 200
    assert client.delete("/api/admin/v1/contracts/QN0001", headers=auth(admin_token)).status_code == 204
    assert _admin_events(app, "admin.contract_saved")[0].details["contract"] == "QN0001"
    assert _admin_events(app, "admin.contracts_imported")[0].details["created"] == 1
    assert _admin_events(app, "admin.contract_deleted")[0].details["admin"].startswith("client:")


def test_deleting_a_contract_ends_its_link_so_a_reused_number_is_not_the_old_owners(app, client, admin_token, make_user):
    from idp import clock
    from idp.accounts.service import find_account
    from idp.extensions import db
    from idp.linking.models import ContractLink
    from idp.linking.service import contracts_claim

    owner = make_user(username="former")
    client.put("/api/admin/v1/contracts/QN7001", json=CONTRACT, headers=auth(admin_token))
    with app.app_context():
        db.session.add(ContractLink(contract_number="QN7001", user_id=owner["id"], role="holder", linked_at=clock.utcnow()))
        db.session.commit()
    client.delete("/api/admin/v1/contracts/QN7001", headers=auth(admin_token))
    reused = client.put("/api/admin/v1/contracts/QN7001", json={**CONTRACT, "holder_name": "Someone Else"},
                        headers=auth(admin_token))
    assert reused.get_json()["linked"] is False
    with app.app_context():
        assert contracts_claim(find_account("former")) == []


def test_a_csv_field_past_the_csv_modules_limit_is_a_422(client, admin_token):
    body = "number,holder_name,phone\nQN0003," + "A" * 140_000 + ",0912000003\n"
    answer = client.post("/api/admin/v1/contracts/import", data=body, content_type="text/csv", headers=auth(admin_token))
    assert answer.status_code == 422 and answer.mimetype == "application/problem+json"


@pytest.mark.parametrize("query", ["since=0001-01-01T00:00:00%2B01:00", "until=9999-12-31T23:59:59-01:00"])
def test_audit_times_out_of_range_are_a_400(client, admin_token, query):
    answer = client.get("/api/admin/v1/audit?" + query, headers=auth(admin_token))
    assert answer.status_code == 400 and answer.mimetype == "application/problem+json"


def test_a_search_pages_through_all_its_matches(client, admin_token):
    for n in range(5):
        client.put(f"/api/admin/v1/contracts/PG{n:04d}", json={"holder_name": "Pager", "phone": f"091300{n:04d}"},
                   headers=auth(admin_token))
    seen, cursor = [], None
    while True:
        page = client.get("/api/admin/v1/contracts", query_string={"q": "PG", "limit": 2, **({"cursor": cursor} if cursor else {})},
                          headers=auth(admin_token)).get_json()
        seen += [c["number"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"PG{n:04d}" for n in range(5)]


@pytest.mark.parametrize("method, path, kwargs, status", [
    ("GET", "/api/admin/v1/nowhere", {}, 404),
    ("PATCH", "/api/admin/v1/contracts/QN0001", {}, 405),
    ("PUT", "/api/admin/v1/contracts/QN0001", {"data": "x" * 70_000, "content_type": "application/json"}, 413),
])
def test_framework_errors_of_the_admin_api_are_problem_documents(client, admin_token, method, path, kwargs, status):
    answer = client.open(path, method=method, headers=auth(admin_token), **kwargs)
    assert answer.status_code == status and answer.mimetype == "application/problem+json"
    assert answer.get_json()["status"] == status
