"""The admin API: every documented operation exercised, every answer checked against the OpenAPI document."""

from __future__ import annotations

import re

import jsonschema
import pytest


@pytest.fixture
def api(client, make_client):
    """A client for the admin API that validates each answer against /api/admin/v1/openapi.json."""
    service = make_client(redirect_uris=(), client_credentials=True, scopes=["admin"])
    token = client.post("/token", data={"grant_type": "client_credentials", "scope": "admin"},
                        auth=(service["client_id"], service["client_secret"])).get_json()["access_token"]
    document = client.get("/api/admin/v1/openapi.json").get_json()
    checked: set[tuple[str, str, str]] = set()

    def call(method, path, template, expect, **kwargs):
        response = client.open("/api/admin/v1" + path, method=method, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        assert response.status_code == expect, response.get_data(as_text=True)
        spec = document["paths"][template][method.lower()]["responses"][str(expect)]
        if "content" in spec:
            media, content = next(iter(spec["content"].items()))
            assert response.mimetype == media
            schema = {**content["schema"], "components": document["components"]}
            jsonschema.Draft202012Validator(schema).validate(response.get_json())
        checked.add((method.lower(), template, str(expect)))
        return response

    call.document = document
    call.checked = checked
    return call


def test_the_document_is_openapi_3_1_and_covers_every_route(app, client):
    document = client.get("/api/admin/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0" and document["servers"] == [{"url": "http://localhost/api/admin/v1"}]
    routes = {
        (re.sub(r"<(\w+)>", r"{\1}", rule.rule.removeprefix("/api/admin/v1")), method.lower())
        for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/admin/v1/") and "openapi" not in rule.rule
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert routes == documented


def test_accounts(api, make_user):
    user = make_user(username="kiem", phone="0916 000 111")
    page = api("GET", "/accounts?limit=1", "/accounts", 200).get_json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    found = api("GET", "/accounts?q=0916000111", "/accounts", 200).get_json()
    assert [a["username"] for a in found["items"]] == ["kiem"]
    assert api("GET", f"/accounts/{user['sub']}", "/accounts/{sub}", 200).get_json()["sessions"] == 0
    locked = api("POST", f"/accounts/{user['sub']}/lock", "/accounts/{sub}/{action}", 200).get_json()
    assert locked["locked"] is True
    api("POST", f"/accounts/{user['sub']}/unlock", "/accounts/{sub}/{action}", 200)
    api("POST", f"/accounts/{user['sub']}/explode", "/accounts/{sub}/{action}", 404)
    api("GET", "/accounts/nobody", "/accounts/{sub}", 404)


def test_cursor_pagination_walks_every_account_once(api, make_user):
    for n in range(5):
        make_user(username=f"page{n}")
    seen, cursor = [], None
    while True:
        page = api("GET", "/accounts?limit=2" + (f"&cursor={cursor}" if cursor else ""), "/accounts", 200).get_json()
        seen += [a["username"] for a in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == [f"page{n}" for n in range(5)]


def test_clients(api):
    created = api("POST", "/clients", "/clients", 201, json={
        "name": "Streaming", "redirect_uris": ["https://tv.example/cb"], "scopes": ["openid", "profile"]}).get_json()
    client_id, secret = created["client_id"], created["client_secret"]
    assert secret and len(secret) > 30
    assert "client_secret" not in api("GET", f"/clients/{client_id}", "/clients/{client_id}", 200).get_json()
    changed = api("PUT", f"/clients/{client_id}", "/clients/{client_id}", 200, json={"first_party": True}).get_json()
    assert changed["first_party"] is True and changed["redirect_uris"] == ["https://tv.example/cb"]
    rotated = api("POST", f"/clients/{client_id}/secret", "/clients/{client_id}/secret", 200).get_json()
    assert rotated["client_secret"] != secret
    assert any(c["client_id"] == client_id for c in api("GET", "/clients", "/clients", 200).get_json()["items"])
    api("PUT", f"/clients/{client_id}", "/clients/{client_id}", 422, json={"redirect_uris": ["http://evil.example/cb"]})
    api("PUT", f"/clients/{client_id}", "/clients/{client_id}", 422, json={"first_party": "yes"})
    api("POST", "/clients", "/clients", 400, data="nope", content_type="application/json")
    api("DELETE", f"/clients/{client_id}", "/clients/{client_id}", 204)
    api("GET", f"/clients/{client_id}", "/clients/{client_id}", 404)


def test_contracts_keys_and_audit(api):
    api("PUT", "/contracts/HP0100", "/contracts/{number}", 200, json={"holder_name": "Mai", "phone": "0913444555"})
    api("GET", "/contracts/HP0100", "/contracts/{number}", 200)
    assert api("GET", "/contracts?q=HP01", "/contracts", 200).get_json()["items"][0]["number"] == "HP0100"
    api("POST", "/contracts/import", "/contracts/import", 200, data=b"number,holder_name,phone\nHP0101,Lan,0913000001\n",
        content_type="text/csv")
    api("POST", "/contracts/import", "/contracts/import", 422, data=b"number,holder_name,phone\nHP0102,,0913000001\n",
        content_type="text/csv")
    api("PUT", "/contracts/HP0103", "/contracts/{number}", 422, json={"holder_name": "X", "phone": "1"})
    api("DELETE", "/contracts/HP0100", "/contracts/{number}", 204)
    api("DELETE", "/contracts/HP0100", "/contracts/{number}", 404)
    before = len(api("GET", "/keys", "/keys", 200).get_json()["items"])
    assert len(api("POST", "/keys/rotate", "/keys/rotate", 200).get_json()["items"]) == 3
    assert len(api("GET", "/keys", "/keys", 200).get_json()["items"]) == before + 3
    events = api("GET", "/audit?event=admin.keys_rotated", "/audit", 200).get_json()["items"]
    assert events and events[0]["details"]["admin"].startswith("client:")
    api("GET", "/audit?since=not-a-date", "/audit", 400)
