"""Inputs that used to reach a 500: digits int() refuses or the database cannot hold, JSON nested
past Python's recursion limit, and admin API bodies of the wrong types. Each now gets a clear error."""

from __future__ import annotations

import pytest

from .admin.test_console import admin  # noqa: F401  (fixture)
from .conftest import csrf_token
from .oidc.helpers import authorize, query_of, sign_in

ODD_NUMBERS = ["²", "١٢", "9" * 30, "-1", "1e3", " 5"]


@pytest.fixture
def admin_token(client, make_client):
    service = make_client(redirect_uris=(), client_credentials=True, scopes=["admin"])
    return client.post("/token", data={"grant_type": "client_credentials", "scope": "admin"},
                       auth=(service["client_id"], service["client_secret"])).get_json()["access_token"]


@pytest.mark.parametrize("max_age", ODD_NUMBERS)
def test_max_age_that_is_not_a_plain_number_is_invalid_request(client, make_client, make_user, max_age):
    rp = make_client(first_party=True)
    user = make_user()
    sign_in(client, user["username"], user["password"])
    response, _ = authorize(client, rp, max_age=max_age)
    assert response.status_code == 302 and query_of(response)["error"] == "invalid_request"


def test_a_claims_parameter_nested_past_the_recursion_limit_is_invalid_request(client, make_client, make_user):
    rp = make_client(first_party=True)
    user = make_user()
    sign_in(client, user["username"], user["password"])
    response, _ = authorize(client, rp, claims="[" * 1020 + "]" * 1020)
    assert response.status_code == 302 and query_of(response)["error"] == "invalid_request"


@pytest.mark.parametrize("name", ["limit", "cursor"])
@pytest.mark.parametrize("value", ODD_NUMBERS)
def test_admin_api_pagination_ignores_odd_numbers(client, admin_token, name, value):
    answer = client.get("/api/admin/v1/audit", query_string={name: value}, headers={"Authorization": f"Bearer {admin_token}"})
    assert answer.status_code == 200


@pytest.mark.parametrize("body", [
    {"name": 123, "redirect_uris": ["https://rp.example/cb"]},
    {"name": "Site", "redirect_uris": ["https://rp.example/cb"], "id_token_alg": 5},
    {"name": "Site", "redirect_uris": ["https://rp.example/cb"], "backchannel_logout_uri": ["x"]},
])
def test_admin_api_client_bodies_of_the_wrong_types_are_422(client, admin_token, body):
    answer = client.post("/api/admin/v1/clients", json=body, headers={"Authorization": f"Bearer {admin_token}"})
    assert answer.status_code == 422 and answer.mimetype == "application/problem+json"


@pytest.mark.parametrize("body", [
    {"holder_name": "Mai", "phone": "0913444555", "smartcards": 5},
    {"holder_name": "Mai", "phone": "0913444555", "device_codes": [1, 2]},
    {"holder_name": {"first": "Mai"}, "phone": "0913444555"},
])
def test_admin_api_contract_bodies_of_the_wrong_types_are_422_and_write_nothing(client, admin_token, body):
    answer = client.put("/api/admin/v1/contracts/HP0009", json=body, headers={"Authorization": f"Bearer {admin_token}"})
    assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
    assert client.get("/api/admin/v1/contracts/HP0009", headers={"Authorization": f"Bearer {admin_token}"}).status_code == 404


@pytest.mark.parametrize("value", ODD_NUMBERS)
def test_admin_audit_page_ignores_odd_cursors(client, admin, value):  # noqa: F811
    assert client.get("/admin/audit", query_string={"before": value}).status_code == 200


@pytest.mark.parametrize("value", ODD_NUMBERS)
def test_unlinking_an_odd_identity_number_changes_nothing(client, make_user, value):
    user = make_user()
    sign_in(client, user["username"], user["password"])
    page = client.get("/account/sign-in-methods")
    answer = client.post("/account/sign-in-methods", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "unlink": value})
    assert answer.status_code == 200
