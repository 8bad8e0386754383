"""A relying party and a browser, as tests need them: real HTTP against a live server."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session

from ..conftest import csrf_token


class Browser:
    """A person's browser: keeps cookies, follows only the redirects we choose."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = requests.Session()
        self.http.headers["Accept-Language"] = "en"  # tests read the English texts

    def get(self, url: str, **kwargs) -> requests.Response:
        return self.http.get(self._abs(url), allow_redirects=False, timeout=10, **kwargs)

    def post(self, url: str, data: dict, **kwargs) -> requests.Response:
        return self.http.post(self._abs(url), data=data, allow_redirects=False, timeout=10, **kwargs)

    def _abs(self, url: str) -> str:
        return url if url.startswith("http") else self.base_url + url

    def follow_to(self, url: str, stop_prefix: str, max_hops: int = 10) -> requests.Response:
        """Follow redirects (across hosts) until one leaves for stop_prefix (returned unfollowed)."""
        response = self.get(url)
        for _ in range(max_hops):
            location = response.headers.get("Location")
            if response.status_code not in (301, 302, 303) or location is None:
                return response
            target = urljoin(response.url, location)
            if target.startswith(stop_prefix):
                return response
            response = self.get(target)
        raise AssertionError("too many redirects")

    def sign_in(self, login_response: requests.Response, identifier: str, password: str, remember=False) -> requests.Response:
        """Fill in the sign-in page we were sent to; returns the response to the form post."""
        assert login_response.status_code == 200, login_response.text[:500]
        form = {"csrf_token": csrf_token(login_response.text), "identifier": identifier, "password": password}
        if remember:
            form["remember"] = "y"
        return self.post(login_response.url, form)


class RelyingParty:
    """A relying party written with Authlib's client, as an operator's site would be."""

    def __init__(self, issuer: str, client_id: str, client_secret: str | None, redirect_uri: str, scope="openid profile email phone"):
        self.metadata = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
        self.redirect_uri = redirect_uri
        self.oauth = OAuth2Session(
            client_id,
            client_secret,
            scope=scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if client_secret else "none",
        )

    def authorization_url(self, **params) -> tuple[str, dict]:
        state = secrets.token_urlsafe(16)
        nonce = secrets.token_urlsafe(16)
        verifier = secrets.token_urlsafe(48)
        url, _ = self.oauth.create_authorization_url(
            self.metadata["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier, **params
        )
        return url, {"state": state, "nonce": nonce, "code_verifier": verifier}

    def fetch_token(self, callback_url: str, request: dict) -> dict:
        return self.oauth.fetch_token(
            self.metadata["token_endpoint"],
            authorization_response=callback_url,
            state=request["state"],
            code_verifier=request["code_verifier"],
        )


def callback_params(response: requests.Response) -> dict[str, str]:
    location = response.headers["Location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
