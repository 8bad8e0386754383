"""Upstream providers through Authlib's Flask client: state, nonce and PKCE towards each of them.

Each kind reads the person's profile its own way: OpenID Connect from the
validated ID token, Facebook from the Graph API's /me with appsecret_proof,
Zalo from its Graph /me with the token in an `access_token` header, a plain
OAuth 2 provider from its userinfo URL. Every failure becomes UpstreamError.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass

import requests
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from joserfc.errors import JoseError
from flask import request

from ..config import FederationSettings, ProviderSettings

log = logging.getLogger(__name__)


class UpstreamError(Exception):
    """The upstream sign-in did not succeed; `reason` is one of REASONS (shown to the person in words)."""

    REASONS = ("access_denied", "bad_state", "invalid_token", "unreachable", "bad_response", "unknown_provider")

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class UpstreamIdentity:
    provider: str
    subject: str
    email: str | None = None
    email_verified: bool = False
    name: str | None = None
    phone: str | None = None


def register_providers(app, settings: FederationSettings) -> OAuth:
    """An Authlib client registry with every configured provider."""
    oauth = OAuth(app)
    for p in settings.providers:
        client_kwargs = {"code_challenge_method": "S256", "default_timeout": settings.timeout_seconds}
        if p.scopes:
            client_kwargs["scope"] = " ".join(p.scopes)
        options = {"client_id": p.client_id, "client_secret": p.client_secret, "client_kwargs": client_kwargs}
        if p.discovery_url:
            options["server_metadata_url"] = p.discovery_url
        if p.authorize_url:
            options["authorize_url"] = p.authorize_url
        if p.token_url:
            options["access_token_url"] = p.token_url
        if p.kind == "facebook":
            client_kwargs["token_endpoint_auth_method"] = "client_secret_post"
        if p.kind == "zalo":
            options["authorize_params"] = {"app_id": p.client_id}
            options["compliance_fix"] = _zalo_token_response
            options["client_auth_methods"] = [("zalo_secret_key", _zalo_client_auth)]
            client_kwargs["token_endpoint_auth_method"] = "zalo_secret_key"
        oauth.register(p.name, **options)
    return oauth


def _zalo_client_auth(auth, method, uri, headers, body):
    """Zalo v4 token requests carry app_id in the form and the app secret in a `secret_key` header."""
    headers = {**headers, "secret_key": auth.client_secret}
    body = f"{body}&app_id={auth.client_id}" if body else f"app_id={auth.client_id}"
    return uri, headers, body


def _zalo_token_response(session):
    """Zalo answers errors with HTTP 200 and a numeric `error`, and gives expires_in as a string."""

    def token_response(response):
        data = response.json()
        if data.get("error") not in (None, 0):
            raise OAuthError(error="invalid_grant", description=f"zalo error {data.get('error')}: {data.get('error_name')}")
        if isinstance(data.get("expires_in"), str) and data["expires_in"].isdigit():
            data["expires_in"] = int(data["expires_in"])
        response.json = lambda: data
        return response

    session.register_compliance_hook("access_token_response", token_response)


def start(oauth: OAuth, provider: ProviderSettings, redirect_uri: str):
    """The redirect to the provider (state, nonce and PKCE kept in the form cookie)."""
    try:
        return oauth.create_client(provider.name).authorize_redirect(redirect_uri)
    except (requests.RequestException, ValueError) as error:
        raise UpstreamError("unreachable", str(error)) from None


def finish(oauth: OAuth, provider: ProviderSettings) -> UpstreamIdentity:
    """Handle the callback: check state, exchange the code, validate and read the identity."""
    client = oauth.create_client(provider.name)
    error = request.args.get("error")
    if error:
        raise UpstreamError("access_denied" if error == "access_denied" else "bad_response", error)
    try:
        if provider.discovery_url:
            issuer = client.load_server_metadata().get("issuer")
            # RFC 9207: an authorization response naming another issuer is a mix-up attack.
            if request.args.get("iss") and request.args["iss"] != issuer:
                raise UpstreamError("bad_state", "issuer mismatch")
        token = client.authorize_access_token()
        return _read_identity(client, provider, token)
    except MismatchingStateError:
        raise UpstreamError("bad_state", "state mismatch") from None
    except OAuthError as failed:
        raise UpstreamError("bad_response", f"{failed.error}: {failed.description}") from None
    except JoseError as failed:
        raise UpstreamError("invalid_token", str(failed)) from None
    except (requests.RequestException, ValueError, KeyError, TypeError, RuntimeError) as failed:
        # RuntimeError: Authlib's complaint about metadata it needs (e.g. no jwks_uri).
        raise UpstreamError("unreachable" if isinstance(failed, requests.RequestException) else "bad_response",
                            f"{type(failed).__name__}: {failed}") from None


def _read_identity(client, provider: ProviderSettings, token: dict) -> UpstreamIdentity:
    if provider.discovery_url:
        claims = dict(token.get("userinfo") or {})
        if not claims:
            raise UpstreamError("invalid_token", "no ID token")
    elif provider.kind == "facebook":
        proof = hmac.new(provider.client_secret.encode(), token["access_token"].encode(), hashlib.sha256).hexdigest()
        claims = _json(client.get(f"{provider.graph_url}/me", token=token,
                                  params={"fields": "id,name,email", "appsecret_proof": proof}))
        claims = {"sub": claims.get("id"), "name": claims.get("name"), "email": claims.get("email"),
                  # Facebook returns only confirmed e-mail addresses.
                  "email_verified": bool(claims.get("email"))}
        provider = _standard_claims(provider)
    elif provider.kind == "zalo":
        response = requests.get(f"{provider.graph_url}/me", params={"fields": "id,name,picture"},
                                headers={"access_token": token["access_token"]}, timeout=client.client_kwargs.get("default_timeout"))
        data = _json(response)
        if data.get("error") not in (None, 0):
            raise UpstreamError("bad_response", f"zalo graph error {data.get('error')}")
        claims = {"sub": data.get("id"), "name": data.get("name")}
        provider = _standard_claims(provider)
    else:
        claims = _json(client.get(provider.userinfo_url, token=token))
    subject = claims.get(provider.subject_claim)
    if not subject:
        raise UpstreamError("bad_response", "no subject")
    email = claims.get(provider.email_claim) or None
    return UpstreamIdentity(
        provider=provider.name,
        subject=str(subject)[:255],
        email=email.lower()[:254] if isinstance(email, str) else None,
        email_verified=_is_true(claims.get(provider.email_verified_claim)) and bool(email),
        name=(claims.get(provider.name_claim) or None) and str(claims[provider.name_claim])[:128],
        phone=claims.get(provider.phone_claim) or None,
    )


def _is_true(value) -> bool:
    """JSON true, or the string "true" some providers send; "false", 0 or anything else is not."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _standard_claims(provider: ProviderSettings) -> ProviderSettings:
    """Facebook and Zalo profiles are mapped to standard names above."""
    from dataclasses import replace

    return replace(provider, subject_claim="sub", email_claim="email", email_verified_claim="email_verified",
                   name_claim="name", phone_claim="phone_number")


def _json(response) -> dict:
    if response.status_code >= 400:
        raise UpstreamError("bad_response", f"HTTP {response.status_code}")
    data = response.json()
    if not isinstance(data, dict):
        raise UpstreamError("bad_response", "not a JSON object")
    return data
