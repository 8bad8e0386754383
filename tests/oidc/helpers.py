"""Protocol steps through Flask's test client (issuer http://localhost)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

from ..conftest import csrf_token

ISSUER = "http://localhost"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def sign_in(client, identifier: str, password: str, remember: bool = False, next_url: str | None = None):
    path = "/login" + (f"?{urlencode({'next': next_url})}" if next_url else "")
    page = client.get(path)
    form = {"csrf_token": csrf_token(page.get_data(as_text=True)), "identifier": identifier, "password": password}
    if remember:
        form["remember"] = "y"
    return client.post(path, data=form)


def query_of(response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def authorize(client, rp: dict, verifier_challenge: tuple[str, str] | None = None, **params):
    """GET /authorize for a test client; returns (response, pkce verifier)."""
    verifier, challenge = verifier_challenge or pkce_pair()
    query = {
        "response_type": "code",
        "client_id": rp["client_id"],
        "redirect_uri": rp["redirect_uri"],
        "scope": "openid profile email phone",
        "state": "st-" + secrets.token_hex(4),
        "nonce": "n-" + secrets.token_hex(4),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    query.update({k: v for k, v in params.items() if v is not None})
    for key in [k for k, v in params.items() if v is None]:
        query.pop(key, None)
    return client.get("/authorize?" + urlencode(query)), verifier


def get_code(client, rp: dict, **params) -> tuple[str, str]:
    """A code for a signed-in test client; returns (code, verifier)."""
    response, verifier = authorize(client, rp, **params)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    query = query_of(response)
    assert "code" in query, query
    return query["code"], verifier


def exchange(client, rp: dict, code: str, verifier: str | None, **extra):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp["redirect_uri"], **extra}
    if verifier is not None:
        data["code_verifier"] = verifier
    auth = (rp["client_id"], rp["client_secret"]) if rp.get("client_secret") else None
    if auth is None:
        data["client_id"] = rp["client_id"]
    return client.post("/token", data=data, auth=auth)


def refresh(client, rp: dict, refresh_token: str):
    return client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(rp["client_id"], rp["client_secret"]),
    )


def signed_in_tokens(client, rp: dict, user: dict) -> dict:
    sign_in(client, user["username"], user["password"])
    code, verifier = get_code(client, rp)
    response = exchange(client, rp, code, verifier)
    assert response.status_code == 200, response.get_json()
    return response.get_json()
