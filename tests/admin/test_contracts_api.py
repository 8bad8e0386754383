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
